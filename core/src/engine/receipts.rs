//! Delivered and read receipts: small group envelopes, so the sender learns that a message
//! reached a device even when it travelled through the mesh or a bundle.
//!
//! A delivered receipt says "I have applied your envelopes up to seq n"; a read receipt says
//! "I have read everything up to this time". Both are watermarks, so one receipt covers any
//! number of messages and a lost one is superseded by the next.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::envelope::content::GroupContent;
use crate::error::Result;
use crate::events::Event;
use crate::ids::{ChatId, DeviceId, TopicId};

impl Engine {
    /// Sends a delivered receipt to each conversation that received messages since the last
    /// call. Receipts never trigger receipts.
    pub fn send_due_receipts(&mut self) -> Result<()> {
        let due = std::mem::take(&mut self.receipts_due);
        for chat in due {
            let delivered = self.applied_watermarks(&chat)?;
            if !delivered.is_empty() {
                self.send_receipt(&chat, delivered, None)?;
            }
        }
        Ok(())
    }

    fn applied_watermarks(&self, chat: &ChatId) -> Result<Vec<(DeviceId, u64)>> {
        let topic = self.chat_topic(chat)?;
        let me = self.me()?.id.device_id();
        let mut st = self
            .conn
            .prepare_cached("SELECT author, applied FROM heads WHERE topic = ?1 AND applied > 0")?;
        let rows = st.query_map([topic.as_bytes()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (a, s) = row?;
            if let Some(a) = DeviceId::from_slice(&a).filter(|a| *a != me) {
                out.push((a, s as u64));
            }
        }
        Ok(out)
    }

    pub(crate) fn send_receipt(
        &mut self,
        chat: &ChatId,
        delivered: Vec<(DeviceId, u64)>,
        read_at: Option<u64>,
    ) -> Result<()> {
        let left: bool = self.qrow(
            "SELECT left_chat FROM chats WHERE chat = ?1",
            [chat.as_bytes()],
            |r| r.get(0),
        )?;
        if left {
            return Ok(());
        }
        let topic = self.chat_topic(chat)?;
        let at = self.hlc.now();
        self.send_group(
            chat,
            topic,
            at,
            GroupContent::Receipt { delivered, read_at },
        )?;
        Ok(())
    }

    /// Sends a read receipt up to the newest message of the conversation.
    pub(crate) fn send_read_receipt(&mut self, chat: &ChatId) -> Result<()> {
        let read_at: i64 = self.qrow(
            "SELECT read_at FROM chats WHERE chat = ?1",
            [chat.as_bytes()],
            |r| r.get(0),
        )?;
        let delivered = self.applied_watermarks(chat)?;
        self.send_receipt(chat, delivered, Some(read_at as u64))
    }

    pub(crate) fn on_receipt(
        &mut self,
        chat: &ChatId,
        reporter: DeviceId,
        delivered: &[(DeviceId, u64)],
        read_at: Option<u64>,
    ) -> Result<()> {
        for (author, seq) in delivered.iter().take(1024) {
            self.exec(
                "INSERT INTO receipts (chat, reporter, author, delivered) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (chat, reporter, author) DO UPDATE SET delivered = MAX(delivered, ?4)",
                params![chat.as_bytes(), reporter.0, author.0, *seq as i64],
            )?;
        }
        if let Some(r) = read_at {
            self.exec(
                "INSERT INTO read_marks (chat, reporter, read_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (chat, reporter) DO UPDATE SET read_at = MAX(read_at, ?3)",
                params![chat.as_bytes(), reporter.0, r as i64],
            )?;
        }
        self.emit(Event::DeliveryChanged { chat: *chat });
        Ok(())
    }

    /// A mailbox confirmed it holds my envelopes of `topic` up to `held`: messages that not
    /// every member has yet show "handed to a mailbox".
    pub(crate) fn note_in_mailbox(&mut self, topic: &TopicId, held: u64) -> Result<()> {
        let changed = self.exec(
            "INSERT INTO mailbox_held (topic, held) VALUES (?1, ?2)
             ON CONFLICT (topic) DO UPDATE SET held = excluded.held WHERE excluded.held > held",
            params![topic.as_bytes(), held as i64],
        )?;
        if changed > 0 {
            let chat: Option<Vec<u8>> = self
                .conn
                .query_row(
                    "SELECT chat FROM topics WHERE topic = ?1 AND kind = 'chat'",
                    [topic.as_bytes()],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(chat) = chat.and_then(|c| ChatId::from_slice(&c)) {
                self.emit(Event::DeliveryChanged { chat });
            }
        }
        Ok(())
    }
}
