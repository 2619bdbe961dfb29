-- Hearth schema v1. Append-only: later changes are new numbered files.

CREATE TABLE identity (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    account        BLOB    NOT NULL,  -- public key
    device         BLOB    NOT NULL,  -- public key
    account_secret BLOB    NOT NULL,  -- sealed with the store key
    device_secret  BLOB    NOT NULL,  -- sealed with the store key
    olm_account    TEXT    NOT NULL,  -- vodozemac pickle, encrypted with the store key
    name           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;

-- Devices we know, with the signed bundle that opens an Olm channel to them.
CREATE TABLE devices (
    device  BLOB PRIMARY KEY,
    account BLOB NOT NULL,
    bundle  BLOB NOT NULL
) STRICT;

CREATE TABLE contacts (
    account    BLOB    PRIMARY KEY,
    name       TEXT    NOT NULL,           -- the name they gave themselves
    nickname   TEXT,                       -- the name we gave them
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'connected')),
    verified   INTEGER NOT NULL DEFAULT 0,
    blocked    INTEGER NOT NULL DEFAULT 0,
    channel    BLOB    NOT NULL,           -- pairwise topic
    chat       BLOB,                       -- the 1:1 conversation
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE invites (
    secret     BLOB    PRIMARY KEY,
    topic      BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('open', 'used', 'revoked')),
    used_by    BLOB
) STRICT;

-- Every topic this device syncs, and what it is for.
CREATE TABLE topics (
    topic BLOB PRIMARY KEY,
    kind  TEXT NOT NULL CHECK (kind IN ('chat', 'channel', 'invite')),
    chat  BLOB,
    peer  BLOB        -- for 'channel': the contact's account
) STRICT;

CREATE TABLE chats (
    chat       BLOB    PRIMARY KEY,
    topic      BLOB    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    title      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    last_at    INTEGER NOT NULL DEFAULT 0,
    unread     INTEGER NOT NULL DEFAULT 0,
    read_at    INTEGER NOT NULL DEFAULT 0,
    left_chat  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX chats_by_last ON chats (last_at DESC);

-- Member devices of each conversation. removed_after: the last seq of that device accepted
-- before its removal (envelopes after it are refused), NULL while a member.
CREATE TABLE members (
    chat          BLOB    NOT NULL,
    device        BLOB    NOT NULL,
    account       BLOB    NOT NULL,
    removed_after INTEGER,
    PRIMARY KEY (chat, device)
) STRICT;

-- The envelope log: what is synced, relayed and bundled.
CREATE TABLE envelopes (
    topic  BLOB    NOT NULL,
    author BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    body   BLOB    NOT NULL,
    PRIMARY KEY (topic, author, seq)
) STRICT, WITHOUT ROWID;

-- held: highest contiguous seq stored (the version vector entry); applied: highest seq whose
-- content has been decrypted and applied (waits for keys and for gaps).
CREATE TABLE heads (
    topic   BLOB    NOT NULL,
    author  BLOB    NOT NULL,
    held    INTEGER NOT NULL DEFAULT 0,
    applied INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, author)
) STRICT, WITHOUT ROWID;

-- Pairwise envelopes read ahead of their turn to find a key (see engine::ingest); skipped
-- when their turn comes.
CREATE TABLE read_early (
    topic  BLOB    NOT NULL,
    author BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (topic, author, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE olm_sessions (
    device     BLOB    NOT NULL,
    session_id TEXT    NOT NULL,
    pickle     TEXT    NOT NULL,
    last_used  INTEGER NOT NULL,
    PRIMARY KEY (device, session_id)
) STRICT;

CREATE TABLE group_out (
    topic  BLOB    PRIMARY KEY,
    key_no INTEGER NOT NULL,
    pickle TEXT    NOT NULL
) STRICT;

CREATE TABLE group_in (
    topic  BLOB    NOT NULL,
    device BLOB    NOT NULL,
    key_no INTEGER NOT NULL,
    pickle TEXT    NOT NULL,
    PRIMARY KEY (topic, device, key_no)
) STRICT;

-- Which device a yrs client id belongs to, per topic. A client id claimed by one device can
-- never be used by another.
CREATE TABLE doc_clients (
    topic  BLOB    NOT NULL,
    client INTEGER NOT NULL,
    device BLOB    NOT NULL,
    PRIMARY KEY (topic, client)
) STRICT;

-- yrs documents: a snapshot plus pending updates, compacted when the updates outgrow it.
-- owner is the account whose segment it is (empty for the shared meta document).
CREATE TABLE docs (
    doc_id       INTEGER PRIMARY KEY,
    topic        BLOB    NOT NULL,
    owner        BLOB    NOT NULL,
    segment      INTEGER NOT NULL,  -- -1 for meta
    snapshot     BLOB    NOT NULL DEFAULT x'0000',
    snapshot_len INTEGER NOT NULL DEFAULT 0,
    pending_len  INTEGER NOT NULL DEFAULT 0,
    next_update  INTEGER NOT NULL DEFAULT 1,
    msg_count    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (topic, owner, segment)
) STRICT;

CREATE TABLE doc_updates (
    doc_id INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    body   BLOB    NOT NULL,
    PRIMARY KEY (doc_id, n)
) STRICT, WITHOUT ROWID;

-- Projection: one row per message, the truth for reading.
CREATE TABLE messages (
    rowid      INTEGER PRIMARY KEY,
    id         BLOB    NOT NULL UNIQUE,
    chat       BLOB    NOT NULL,
    author     BLOB    NOT NULL,   -- account
    device     BLOB    NOT NULL,   -- device that first sent it
    seq        INTEGER NOT NULL,   -- envelope seq that created it
    sent_at    INTEGER NOT NULL,   -- HLC
    body       TEXT    NOT NULL DEFAULT '',
    reply_to   BLOB,
    edited_at  INTEGER,
    deleted    INTEGER NOT NULL DEFAULT 0,
    segment    INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_by_chat ON messages (chat, sent_at, id);

CREATE TABLE reactions (
    message BLOB NOT NULL,
    account BLOB NOT NULL,
    emoji   TEXT NOT NULL,
    PRIMARY KEY (message, account)
) STRICT, WITHOUT ROWID;

-- Full-text search over message bodies. Contentless: it stores only the index; `terms` is
-- the body with Hangul and CJK runs split into overlapping bigrams (see search.rs), so a
-- two-syllable word is found inside a longer word.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
