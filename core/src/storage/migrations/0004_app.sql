-- What the app needs: message kinds (an "I'm safe" check-in is a message of its own kind, so it
-- syncs, is delivered and is kept like any other), and the node's settings.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
-- The family board asks for each member's latest check-in.
CREATE INDEX messages_check_ins ON messages (author, sent_at) WHERE kind = 'check_in';
-- ... and how many of my messages in a chat are past what a member's device confirmed.
CREATE INDEX messages_by_device ON messages (chat, device, seq);

-- Settings chosen by the person using this device (LAN-only, relays, ...), as JSON values.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- The name each member gave themselves in the group, so members who are not my contacts are
-- shown by name too.
ALTER TABLE members ADD COLUMN name TEXT NOT NULL DEFAULT '';
