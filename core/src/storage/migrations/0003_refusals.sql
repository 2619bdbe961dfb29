-- Refused contact requests: the acceptor learns why (revoked, used, expired), and the inviter
-- remembers which device to send the refusal to.

ALTER TABLE contacts ADD COLUMN refused TEXT;

CREATE TABLE refusals (
    topic  BLOB NOT NULL,
    device BLOB NOT NULL,
    PRIMARY KEY (topic, device)
) STRICT, WITHOUT ROWID;
