-- Network state: where devices were last reachable, and delivery/read receipts.

CREATE TABLE peers (
    device    BLOB    PRIMARY KEY,
    addrs     TEXT    NOT NULL DEFAULT '[]',  -- JSON list of multiaddrs, newest first
    last_seen INTEGER NOT NULL DEFAULT 0,     -- unix milliseconds
    path      TEXT    NOT NULL DEFAULT 'none'
) STRICT;

-- What each member device reported: delivered (highest seq of `author` it has applied) and
-- read (HLC of the newest message it has read). One row per (chat, reporter, author).
CREATE TABLE receipts (
    chat      BLOB    NOT NULL,
    reporter  BLOB    NOT NULL,
    author    BLOB    NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat, reporter, author)
) STRICT, WITHOUT ROWID;

CREATE TABLE read_marks (
    chat     BLOB    NOT NULL,
    reporter BLOB    NOT NULL,
    read_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat, reporter)
) STRICT, WITHOUT ROWID;
