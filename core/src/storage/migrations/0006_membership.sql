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

-- A yrs client id belongs to a device within one owner's documents of a topic (an account
-- writes only its own segments), so claiming someone's client id first in a conversation they
-- have not written to yet blocks nobody.
CREATE TABLE doc_clients_by_owner (
    topic  BLOB    NOT NULL,
    owner  BLOB    NOT NULL,
    client INTEGER NOT NULL,
    device BLOB    NOT NULL,
    PRIMARY KEY (topic, owner, client)
) STRICT;
INSERT INTO doc_clients_by_owner (topic, owner, client, device)
    SELECT c.topic,
           COALESCE(d.account, (SELECT i.account FROM identity i WHERE i.device = c.device), c.device),
           c.client, c.device
    FROM doc_clients c LEFT JOIN devices d ON d.device = c.device;
DROP TABLE doc_clients;
CREATE INDEX doc_clients_by_client ON doc_clients_by_owner (client);

-- Two different envelopes under one (topic, author, seq): the device is forked or its keys are
-- copied. The first is kept; this says it happened, so the person can be told.
CREATE TABLE equivocations (
    topic   BLOB    NOT NULL,
    author  BLOB    NOT NULL,
    seq     INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (topic, author, seq)
) STRICT, WITHOUT ROWID;

-- Invite topics close: a refusal is owed for a while after an invite stops being usable, and
-- then the topic (and whatever strangers left on it) goes. Refusals given before this are
-- already past their time.
ALTER TABLE invites ADD COLUMN closed_at INTEGER;
ALTER TABLE refusals ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
