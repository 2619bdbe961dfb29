-- Each topic's secret (mailbox::access), known to its members only: a mailbox keeps a topic
-- for a device that proves it knows it. Topics made before this have none (their ids were
-- random) and are not kept by mailboxes.
ALTER TABLE topics ADD COLUMN secret BLOB;
