-- Blobs (core/src/blob): photos, voice messages and files that messages name. Their chunks are
-- files under blobs/<id>/ in the data directory; these tables say which messages name which
-- blob, and how much of each is here.

-- A message's attachment, as its author's document has it (blob::BlobRef, encoded): the id,
-- key, size, kind, name and preview. Rewritten only by the projection.
CREATE TABLE attachments (
    message BLOB PRIMARY KEY,   -- messages.id
    blob    BLOB NOT NULL,
    ref     BLOB NOT NULL
) STRICT;
CREATE INDEX attachments_by_blob ON attachments (blob);

CREATE TABLE blobs (
    id       BLOB    PRIMARY KEY,
    size     INTEGER NOT NULL,
    chunks   INTEGER NOT NULL,
    manifest INTEGER NOT NULL DEFAULT 0,  -- 1 once the manifest is on disk
    have     INTEGER NOT NULL DEFAULT 0,  -- chunks on disk, checked
    -- 1: fetch over any path (asked for, or the setting says always); 0: by itself only on
    -- the LAN, otherwise the preview until someone taps it.
    wanted   INTEGER NOT NULL DEFAULT 0,
    damaged  TEXT,                        -- why it cannot be opened (its author sealed it wrong)
    added_at INTEGER NOT NULL             -- unix seconds
) STRICT;

-- The chunks of each blob on disk, checked against its manifest.
CREATE TABLE blob_chunks (
    blob  BLOB    NOT NULL,
    idx   INTEGER NOT NULL,
    PRIMARY KEY (blob, idx)
) STRICT, WITHOUT ROWID;
