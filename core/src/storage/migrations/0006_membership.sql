-- Group membership as signed operations (core/src/membership): each row is one operation as
-- its author signed it; a group's members are resolved from all of its rows. Groups made
-- before this have no Create operation and keep the members they had.
CREATE TABLE member_ops (
    chat   BLOB NOT NULL,
    op     BLOB NOT NULL,
    author BLOB NOT NULL,
    body   BLOB NOT NULL,
    PRIMARY KEY (chat, op)
) STRICT, WITHOUT ROWID;
CREATE INDEX member_ops_by_author ON member_ops (chat, author);

-- Group envelopes whose key never came while the author's later keys did: skipped so the
-- author's later envelopes are not blocked behind them, and tried again if the key arrives.
CREATE TABLE undecryptable (
    topic  BLOB    NOT NULL,
    author BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    key_no INTEGER NOT NULL,
    PRIMARY KEY (topic, author, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX undecryptable_by_key ON undecryptable (topic, author, key_no);
