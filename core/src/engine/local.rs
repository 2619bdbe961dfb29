//! Local actions on messages: each commits to the documents, the envelope log and the
//! projection in the current transaction, and is visible at once.

use rusqlite::{params, OptionalExtension};

use super::docs::DocRef;
use super::project::Origin;
use super::Engine;
use crate::doc::segment;
use crate::envelope::content::{DocKey, GroupContent};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{ChatId, MessageId};

/// Longest message body: a long letter, well inside one envelope.
pub const MAX_BODY_CHARS: usize = 16_000;
const MAX_EMOJI_CHARS: usize = 16;

impl Engine {
    fn check_can_send(&self, chat: &ChatId) -> Result<()> {
        let left: Option<i64> = self
            .conn
            .query_row(
                "SELECT left_chat FROM chats WHERE chat = ?1",
                [chat.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        match left {
            None => Err(Error::NotFound("no such conversation".into())),
            Some(1) => Err(Error::NotAllowed(
                "you are no longer a member of this conversation".into(),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Applies a change made by `write` to this account's current (or given) segment and sends it.
    fn write_segment(
        &mut self,
        chat: &ChatId,
        segment_no: Option<u32>,
        write: impl FnOnce(&yrs::Doc) -> Result<Vec<u8>>,
    ) -> Result<()> {
        self.check_can_send(chat)?;
        let topic = self.chat_topic(chat)?;
        let owner = self.me()?.id.account_id();
        let device = self.me()?.id.device_id();
        let seg = match segment_no {
            Some(s) => s,
            None => self.current_segment(&topic, &owner)?,
        };
        let r = DocRef {
            topic,
            owner: Some(owner),
            key: DocKey::Segment(seg),
        };
        let doc_id = self.open_doc(&r)?;
        let doc = self
            .cached(doc_id)
            .map(|c| c.doc.clone())
            .ok_or(Error::Shutdown)?;
        let update = write(&doc)?;
        self.bind_client(&topic, self.client, &device)?;
        let at = self.hlc.now();
        let seq = self.send_group(
            chat,
            topic,
            at,
            GroupContent::Doc {
                doc: DocKey::Segment(seg),
                client: self.client,
                update: update.clone(),
            },
        )?;
        let origin = Origin {
            chat: *chat,
            owner,
            device,
            seq,
            segment: seg,
        };
        let added = self.project_segment(doc_id, &origin)?;
        self.persist_update(doc_id, &update, added)?;
        Ok(())
    }

    pub fn send_text(
        &mut self,
        chat: &ChatId,
        body: &str,
        reply_to: Option<MessageId>,
    ) -> Result<MessageId> {
        self.send_message(chat, body, reply_to, segment::Kind::Text, None)
    }

    /// "I'm safe": a check-in message in every conversation this device is still part of, so
    /// every family member sees it at the top of their board. Returns how many were sent.
    pub fn check_in(&mut self, body: &str) -> Result<usize> {
        let chats: Vec<Vec<u8>> = {
            let mut st = self
                .conn
                .prepare_cached("SELECT chat FROM chats WHERE left_chat = 0")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut sent = 0;
        for chat in chats.iter().filter_map(|c| ChatId::from_slice(c)) {
            self.send_message(&chat, body, None, segment::Kind::CheckIn, None)?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Sends a message; with an attachment (`engine::blobs`), the body is its caption and may
    /// be empty.
    pub(crate) fn send_message(
        &mut self,
        chat: &ChatId,
        body: &str,
        reply_to: Option<MessageId>,
        kind: segment::Kind,
        attachment: Option<&crate::blob::BlobRef>,
    ) -> Result<MessageId> {
        let body = match attachment {
            Some(_) if body.trim().is_empty() => String::new(),
            _ => check_body(body)?,
        };
        if let Some(r) = reply_to {
            let same_chat: bool = self.qrow(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND chat = ?2)",
                params![r.as_bytes(), chat.as_bytes()],
                |row| row.get(0),
            )?;
            if !same_chat {
                return Err(Error::NotFound(
                    "the message you reply to is not in this conversation".into(),
                ));
            }
        }
        let nonce: [u8; 16] = rand::random();
        let id = MessageId::derive(&self.me()?.id.account_id(), &nonce);
        let at = self.hlc.now();
        self.write_segment(chat, None, |doc| {
            Ok(segment::add_message(
                doc, id, nonce, at, &body, reply_to, kind, attachment,
            ))
        })?;
        Ok(id)
    }

    /// The conversation and segment of one of this account's own messages.
    fn own_message(&self, id: &MessageId, action: &str) -> Result<(ChatId, u32)> {
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT chat, author, segment FROM messages WHERE id = ?1",
                [id.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (chat, author, seg) = row.ok_or_else(|| Error::NotFound("no such message".into()))?;
        if author != self.me()?.id.account_id().0 {
            return Err(Error::NotAllowed(format!(
                "you can only {action} your own messages"
            )));
        }
        let chat =
            ChatId::from_slice(&chat).ok_or_else(|| Error::Corrupt("message chat id".into()))?;
        Ok((chat, seg as u32))
    }

    pub fn edit(&mut self, id: &MessageId, body: &str) -> Result<()> {
        let body = check_body(body)?;
        let (chat, seg) = self.own_message(id, "edit")?;
        let at = self.hlc.now();
        self.write_segment(&chat, Some(seg), |doc| {
            Ok(segment::edit(doc, *id, &body, at)?)
        })
    }

    pub fn delete(&mut self, id: &MessageId) -> Result<()> {
        let (chat, seg) = self.own_message(id, "delete")?;
        let at = self.hlc.now();
        self.write_segment(&chat, Some(seg), |doc| Ok(segment::delete(doc, *id, at)?))
    }

    /// Sets this account's reaction (or with `None`, removes it). Written to the current
    /// segment; the latest write in seq order wins, the same on every device.
    pub fn react(&mut self, id: &MessageId, emoji: Option<&str>) -> Result<()> {
        if let Some(e) = emoji {
            if e.trim().is_empty() || e.chars().count() > MAX_EMOJI_CHARS {
                return Err(Error::Invalid("a reaction is one emoji".into()));
            }
        }
        let chat: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT chat FROM messages WHERE id = ?1",
                [id.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        let chat = chat
            .and_then(|c| ChatId::from_slice(&c))
            .ok_or_else(|| Error::NotFound("no such message".into()))?;
        let value = emoji.map(str::trim).unwrap_or("");
        self.write_segment(&chat, None, |doc| Ok(segment::react(doc, *id, Some(value))))
    }

    /// Marks everything in a conversation as read on this device and tells the other members.
    pub fn mark_read(&mut self, chat: &ChatId) -> Result<()> {
        let before: Option<i64> = self
            .conn
            .query_row(
                "SELECT read_at FROM chats WHERE chat = ?1",
                [chat.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(before) = before else {
            return Err(Error::NotFound("no such conversation".into()));
        };
        self.exec(
            "UPDATE chats SET unread = 0,
             read_at = MAX(read_at, (SELECT COALESCE(MAX(sent_at), 0) FROM messages WHERE chat = ?1))
             WHERE chat = ?1",
            [chat.as_bytes()],
        )?;
        let after: i64 = self.qrow(
            "SELECT read_at FROM chats WHERE chat = ?1",
            [chat.as_bytes()],
            |r| r.get(0),
        )?;
        if after > before {
            self.send_read_receipt(chat)?;
        }
        self.emit(Event::ChatsChanged);
        Ok(())
    }

    /// Records that a yrs client id belongs to a device in a topic; refuses a taken one.
    pub(crate) fn bind_client(
        &mut self,
        topic: &crate::ids::TopicId,
        client: u64,
        device: &crate::ids::DeviceId,
    ) -> Result<()> {
        let me = self.me()?;
        let owner = if *device == me.id.device_id() {
            me.id.account_id()
        } else {
            self.account_of(device)?
                .ok_or(crate::envelope::Error::NotMember)?
        };
        let bound: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT device FROM doc_clients_by_owner WHERE topic = ?1 AND owner = ?2 AND client = ?3",
                params![topic.as_bytes(), owner.0, client as i64],
                |r| r.get(0),
            )
            .optional()?;
        match bound {
            Some(d) if d == device.0 => Ok(()),
            Some(_) => Err(crate::doc::Error::ForeignClient.into()),
            None => {
                self.exec(
                    "INSERT INTO doc_clients_by_owner (topic, owner, client, device) VALUES (?1, ?2, ?3, ?4)",
                    params![topic.as_bytes(), owner.0, client as i64, device.0],
                )?;
                Ok(())
            }
        }
    }
}

fn check_body(body: &str) -> Result<String> {
    let b = body.trim_end();
    if b.trim().is_empty() {
        return Err(Error::Invalid("a message cannot be empty".into()));
    }
    if b.chars().count() > MAX_BODY_CHARS {
        return Err(Error::Invalid(format!(
            "a message can be at most {MAX_BODY_CHARS} characters"
        )));
    }
    Ok(b.to_string())
}

/// Hooks for adversarial tests: what a hostile member could put on the wire.
impl Engine {
    /// Sends an arbitrary document update, as a modified client would.
    #[doc(hidden)]
    pub fn send_raw_doc_update(
        &mut self,
        chat: &ChatId,
        doc: DocKey,
        client: u64,
        update: Vec<u8>,
    ) -> Result<u64> {
        let topic = self.chat_topic(chat)?;
        let at = self.hlc.now();
        self.send_group(
            chat,
            topic,
            at,
            GroupContent::Doc {
                doc,
                client,
                update,
            },
        )
    }

    /// A replica of someone's segment as this device holds it.
    #[doc(hidden)]
    pub fn segment_state(
        &mut self,
        chat: &ChatId,
        owner: &crate::ids::AccountId,
        seg: u32,
    ) -> Result<Vec<u8>> {
        let topic = self.chat_topic(chat)?;
        let doc_id = self.open_doc(&DocRef {
            topic,
            owner: Some(*owner),
            key: DocKey::Segment(seg),
        })?;
        Ok(self
            .cached(doc_id)
            .map(|c| crate::doc::snapshot(&c.doc))
            .unwrap_or_default())
    }
}
