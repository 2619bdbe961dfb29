//! The store side of blobs (`crate::blob`): which messages name which blob, and how much of
//! each is here. The chunks themselves are files (`blob::files`), written before these rows
//! say they are there.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::blob::{BlobId, BlobRef};
use crate::doc::segment;
use crate::error::Result;
use crate::events::Event;
use crate::ids::{ChatId, MessageId};

impl Engine {
    /// Sends a message with an attachment whose chunks and manifest are already on disk
    /// (sealed and written by `Node::send_attachment`): the blob is whole here.
    pub(crate) fn send_attachment(
        &mut self,
        chat: &ChatId,
        caption: &str,
        reply_to: Option<MessageId>,
        r: &BlobRef,
    ) -> Result<MessageId> {
        self.note_blob(r, true)?;
        let chunks = r.chunks();
        self.exec(
            "UPDATE blobs SET manifest = 1, have = ?2, damaged = NULL WHERE id = ?1",
            params![r.id.0, chunks],
        )?;
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO blob_chunks (blob, idx) VALUES (?1, ?2)")?;
        for i in 0..chunks {
            st.execute(params![r.id.0, i])?;
        }
        drop(st);
        self.send_message(chat, caption, reply_to, segment::Kind::Text, Some(r))
    }

    fn note_blob(&self, r: &BlobRef, wanted: bool) -> Result<()> {
        self.exec(
            "INSERT INTO blobs (id, size, chunks, wanted, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET wanted = MAX(wanted, ?4)",
            params![
                r.id.0,
                r.size as i64,
                r.chunks(),
                wanted,
                self.now_secs() as i64
            ],
        )?;
        Ok(())
    }

    /// Projection: a new message names `r`. Fetched by itself over the LAN, or everywhere
    /// when the setting says so (`net::blob_io` decides per path).
    pub(crate) fn project_attachment(&mut self, message: &MessageId, r: &BlobRef) -> Result<()> {
        let everywhere = crate::settings::read(&self.conn)?.fetch_media_everywhere;
        self.note_blob(r, everywhere)?;
        self.exec(
            "INSERT OR IGNORE INTO attachments (message, blob, ref) VALUES (?1, ?2, ?3)",
            params![message.as_bytes(), r.id.0, r.encode()],
        )?;
        Ok(())
    }

    /// Projection: a message deleted for everyone takes its attachment with it. The blob's
    /// rows go when no other message names it; its files go with the next sweep
    /// ([`crate::blob::files::Files::sweep`]).
    pub(crate) fn drop_attachment(&mut self, message: &MessageId) -> Result<()> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "DELETE FROM attachments WHERE message = ?1 RETURNING blob",
                [message.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(b) = blob {
            self.exec(
                "DELETE FROM blobs WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM attachments WHERE blob = ?1)",
                [&b],
            )?;
            self.exec(
                "DELETE FROM blob_chunks WHERE blob = ?1
                 AND NOT EXISTS (SELECT 1 FROM blobs WHERE id = ?1)",
                [&b],
            )?;
        }
        Ok(())
    }

    /// The manifest of a blob is on disk (checked against its id). Its length says how many
    /// chunks the blob has, whatever size the first message naming it gave.
    pub(crate) fn blob_manifest_stored(&mut self, id: &BlobId, chunks: u32) -> Result<()> {
        self.exec(
            "UPDATE blobs SET manifest = 1, chunks = ?2 WHERE id = ?1",
            params![id.0, chunks],
        )?;
        Ok(())
    }

    /// Chunks of a blob are on disk (checked against its manifest, synced). Emits progress,
    /// and `MessagesChanged` for each conversation showing it once it is whole.
    pub(crate) fn blob_chunks_stored(&mut self, id: &BlobId, chunks: &[u32]) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO blob_chunks (blob, idx) VALUES (?1, ?2)")?;
        for i in chunks {
            st.execute(params![id.0, i])?;
        }
        drop(st);
        let row: Option<(u32, u32)> = self
            .conn
            .query_row(
                "UPDATE blobs SET have = (SELECT COUNT(*) FROM blob_chunks WHERE blob = ?1)
                 WHERE id = ?1 RETURNING have, chunks",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((have, of)) = row else {
            return Ok(());
        };
        self.emit(Event::BlobProgress {
            blob: *id,
            have,
            of,
        });
        if have >= of {
            self.blob_changed(id)?;
        }
        Ok(())
    }

    /// A chunk (or with `None` the manifest and every chunk) recorded as here is not whole on
    /// disk: fetch it again.
    pub(crate) fn blob_chunk_lost(&mut self, id: &BlobId, chunk: Option<u32>) -> Result<()> {
        match chunk {
            Some(i) => self.exec(
                "DELETE FROM blob_chunks WHERE blob = ?1 AND idx = ?2",
                params![id.0, i],
            )?,
            None => {
                self.exec("UPDATE blobs SET manifest = 0 WHERE id = ?1", [id.0])?;
                self.exec("DELETE FROM blob_chunks WHERE blob = ?1", [id.0])?
            }
        };
        self.exec(
            "UPDATE blobs SET wanted = 1,
             have = (SELECT COUNT(*) FROM blob_chunks WHERE blob = ?1) WHERE id = ?1",
            [id.0],
        )?;
        self.blob_changed(id)
    }

    pub(crate) fn set_fetch_media_everywhere(&mut self, on: bool) -> Result<()> {
        self.set_setting(crate::settings::FETCH_MEDIA_EVERYWHERE, &on.into())?;
        if on {
            self.exec("UPDATE blobs SET wanted = 1 WHERE have < chunks", [])?;
        }
        // The fetcher re-reads what it may fetch.
        self.emit(Event::ChatsChanged);
        Ok(())
    }

    /// Someone asked for a blob (tapped its preview): fetch it over any path.
    pub(crate) fn want_blob(&mut self, id: &BlobId) -> Result<()> {
        let n = self.exec("UPDATE blobs SET wanted = 1 WHERE id = ?1", [id.0])?;
        if n == 0 {
            return Err(crate::Error::NotFound("no such photo or file".into()));
        }
        self.blob_changed(id)
    }

    /// A blob whose author sealed something that does not open: shown as damaged, never
    /// fetched again.
    pub(crate) fn blob_damaged(&mut self, id: &BlobId, reason: &str) -> Result<()> {
        self.exec(
            "UPDATE blobs SET damaged = ?2 WHERE id = ?1",
            params![id.0, reason],
        )?;
        self.blob_changed(id)
    }

    fn blob_changed(&mut self, id: &BlobId) -> Result<()> {
        let chats: Vec<Vec<u8>> = {
            let mut st = self.conn.prepare_cached(
                "SELECT DISTINCT m.chat FROM attachments a JOIN messages m ON m.id = a.message
                 WHERE a.blob = ?1",
            )?;
            let rows = st.query_map([id.0], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for c in chats.iter().filter_map(|c| ChatId::from_slice(c)) {
            self.emit(Event::MessagesChanged { chat: c });
        }
        Ok(())
    }
}
