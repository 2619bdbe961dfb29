//! Projection: from documents to the tables the UI reads.
//!
//! After every applied update the observers say which messages and reactions changed; only
//! those rows are rewritten. The messages table is therefore always what the documents say,
//! which `Node::check` verifies and the crash tests rely on.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::doc::segment;
use crate::error::Result;
use crate::events::Event;
use crate::ids::{AccountId, ChatId, DeviceId};
use crate::search;

/// How far ahead of this device's clock a message's time may be (clocks of phones drift).
pub const MAX_FUTURE_MS: u64 = 10 * 60 * 1000;

/// Where an applied segment update came from.
pub struct Origin {
    pub chat: ChatId,
    pub owner: AccountId,
    pub device: DeviceId,
    pub seq: u64,
    pub segment: u32,
}

impl Engine {
    /// Rewrites the projection rows for what changed in a segment. Returns how many messages
    /// are new (for the segment's message count).
    pub(crate) fn project_segment(&mut self, doc_id: i64, origin: &Origin) -> Result<i64> {
        let changes = self.take_changes(doc_id);
        let Some(cached) = self.cached(doc_id) else {
            return Ok(0);
        };
        let doc = cached.doc.clone();
        let me = self.me()?.id.account_id();
        let future_limit = crate::clock::hlc_at_millis(self.hlc.wall_ms() + MAX_FUTURE_MS);
        let mut added = 0;
        for id in &changes.messages {
            let Some(mut f) = segment::read(&doc, id) else {
                continue;
            };
            // A time far ahead of this device's clock would sort the message above everything
            // to come and, once read, keep every later message from counting as unread: such a
            // message takes the time it arrived.
            if f.sent_at > future_limit {
                f.sent_at = self.hlc.now();
            }
            let existing: Option<(i64, Vec<u8>)> = self
                .conn
                .query_row(
                    "SELECT rowid, author FROM messages WHERE id = ?1",
                    [id.as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match existing {
                Some((_, author)) if author != origin.owner.0 => {
                    // An id already owned by someone else: not this author's message.
                    tracing::warn!(message = %id, "segment claims a message id of another author");
                }
                Some((rowid, _)) => {
                    self.exec(
                        "UPDATE messages SET body = ?2, edited_at = ?3, deleted = ?4 WHERE rowid = ?1",
                        params![rowid, f.body, f.edited_at.map(|v| v as i64), f.deleted],
                    )?;
                    if f.deleted {
                        self.drop_attachment(id)?;
                    }
                    self.conn
                        .execute("DELETE FROM messages_fts WHERE rowid = ?1", [rowid])?;
                    if !f.deleted {
                        self.exec(
                            "INSERT INTO messages_fts (rowid, terms) VALUES (?1, ?2)",
                            params![rowid, search::index_text(&f.body)],
                        )?;
                    }
                }
                None if !f.id_is_owned_by(id, &origin.owner) => {
                    tracing::warn!(message = %id, "a message whose id its author could not have made");
                }
                None => {
                    self.exec(
                        "INSERT INTO messages (id, chat, author, device, seq, sent_at, body, reply_to,
                         edited_at, deleted, segment, kind)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        params![
                            id.as_bytes(),
                            origin.chat.as_bytes(),
                            origin.owner.0,
                            origin.device.0,
                            origin.seq as i64,
                            f.sent_at as i64,
                            f.body,
                            f.reply_to.map(|r| r.0.to_vec()),
                            f.edited_at.map(|v| v as i64),
                            f.deleted,
                            origin.segment as i64,
                            f.kind.as_str()
                        ],
                    )?;
                    let rowid = self.conn.last_insert_rowid();
                    if let (Some(a), false) = (&f.attachment, f.deleted) {
                        self.project_attachment(id, a)?;
                    }
                    if !f.deleted {
                        self.exec(
                            "INSERT INTO messages_fts (rowid, terms) VALUES (?1, ?2)",
                            params![rowid, search::index_text(&f.body)],
                        )?;
                    }
                    added += 1;
                    let mine = origin.owner == me;
                    self.exec(
                        "UPDATE chats SET last_at = MAX(last_at, ?2),
                         unread = unread + CASE WHEN ?3 AND ?2 > read_at THEN 1 ELSE 0 END
                         WHERE chat = ?1",
                        params![origin.chat.as_bytes(), f.sent_at as i64, !mine],
                    )?;
                    if !mine {
                        self.emit(Event::MessageReceived {
                            chat: origin.chat,
                            message: *id,
                        });
                    }
                }
            }
        }
        for target in &changes.reactions {
            match segment::reaction(&doc, target).filter(|e| !e.is_empty()) {
                Some(emoji) => {
                    self.exec(
                        "INSERT INTO reactions (message, account, emoji) VALUES (?1, ?2, ?3)
                         ON CONFLICT (message, account) DO UPDATE SET emoji = ?3",
                        params![target.as_bytes(), origin.owner.0, emoji],
                    )?;
                }
                None => {
                    self.exec(
                        "DELETE FROM reactions WHERE message = ?1 AND account = ?2",
                        params![target.as_bytes(), origin.owner.0],
                    )?;
                }
            }
        }
        if !changes.messages.is_empty() || !changes.reactions.is_empty() {
            self.emit(Event::MessagesChanged { chat: origin.chat });
        }
        Ok(added)
    }
}
