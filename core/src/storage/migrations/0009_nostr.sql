-- Public Nostr relays as blind mailboxes (core/src/nostr).
--
-- Each sender key has a session mailbox secret, made with it and shared with it
-- (RoomKeyV2): where that sender's messages wait on Nostr relays (nostr::tags). Sender keys
-- made before this have none; their messages wait under the topic's tag instead.
ALTER TABLE group_out ADD COLUMN mailbox BLOB;
ALTER TABLE group_in ADD COLUMN mailbox BLOB;

-- How far my own envelopes of each topic have been seen to: deposited on Nostr relays, or
-- skipped because every member device was connected. Existing history is not deposited.
CREATE TABLE nostr_deposited (
    topic BLOB    PRIMARY KEY,
    seq   INTEGER NOT NULL
) STRICT;
INSERT INTO nostr_deposited (topic, seq)
    SELECT h.topic, h.held FROM heads h JOIN identity i ON h.author = i.device;

-- Which Nostr relay acknowledged (OK) my own envelopes of a topic, up to which seq: shown in a
-- message's details as where it waits.
CREATE TABLE nostr_held (
    topic BLOB    NOT NULL,
    relay TEXT    NOT NULL,
    held  INTEGER NOT NULL,
    at    INTEGER NOT NULL,     -- unix seconds of the last acknowledgement
    PRIMARY KEY (topic, relay)
) STRICT;

-- When each relay was last fetched from completely (unix seconds): the next fetch asks for
-- what came since, over every epoch in between (a week away is eight epochs).
CREATE TABLE nostr_fetched (
    relay TEXT    PRIMARY KEY,
    at    INTEGER NOT NULL
) STRICT;
