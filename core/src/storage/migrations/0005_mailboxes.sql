-- Beyond the LAN: how far a mailbox (on a relay) holds my own envelopes of each topic, so a
-- message can show "handed to a mailbox" until every member's device confirms it.
CREATE TABLE mailbox_held (
    topic BLOB    PRIMARY KEY,
    held  INTEGER NOT NULL
) STRICT;
