//! What a membership change does on this device: after a group's operations are resolved
//! again (`crate::membership`), the `chats` and `members` rows take the new state, new member
//! devices get this device's current sender key (and, when the change came from someone
//! else, a welcome with every operation), and a removal rotates the sender key so the
//! removed devices read nothing sent after it. Nothing already received is deleted: a
//! removal's cut only refuses what comes after it.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::error::Result;
use crate::events::Event;
use crate::ids::ChatId;

impl Engine {
    /// Re-resolves a group's membership operations into `chats` and `members`, and acts on
    /// what changed: keys for new member devices (and, when the change came from someone
    /// else, a welcome with every operation), rotation after a removal. Nothing already
    /// received is deleted by a removal: its cut only refuses what comes after it.
    pub(crate) fn apply_membership(&mut self, chat: &ChatId, welcome: bool) -> Result<()> {
        let Some(state) = self.group_state(chat)? else {
            return Ok(());
        };
        let topic = self.chat_topic(chat)?;
        self.exec(
            "UPDATE chats SET title = ?2 WHERE chat = ?1 AND kind = 'group'",
            params![chat.as_bytes(), state.title],
        )?;
        let me = self.me()?.id.account_id();
        let my_device = self.me()?.id.device_id();
        let mut added = Vec::new();
        let mut removed_any = false;
        for (account, m) in &state.members {
            for b in &m.bundles {
                let cut = m
                    .removed
                    .as_ref()
                    .map(|c| c.get(&b.device).copied().unwrap_or(0));
                let prev: Option<Option<i64>> = self
                    .conn
                    .query_row(
                        "SELECT removed_after FROM members WHERE chat = ?1 AND device = ?2",
                        params![chat.as_bytes(), b.device.0],
                        |r| r.get(0),
                    )
                    .optional()?;
                if b.device != my_device {
                    self.remember_device(b)?;
                }
                match (prev, cut) {
                    (None, None) | (Some(Some(_)), None) => added.push(b.device),
                    (Some(None), Some(_)) => removed_any = true,
                    _ => {}
                }
                self.exec(
                    "INSERT INTO members (chat, device, account, removed_after, name)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (chat, device) DO UPDATE SET account = ?3, removed_after = ?4, name = ?5",
                    params![
                        chat.as_bytes(),
                        b.device.0,
                        account.0,
                        cut.map(|c| c.min(i64::MAX as u64) as i64),
                        m.name
                    ],
                )?;
            }
        }
        self.exec(
            "UPDATE chats SET left_chat = ?2 WHERE chat = ?1",
            params![chat.as_bytes(), !state.is_current(&me)],
        )?;
        added.retain(|d| *d != my_device);
        if removed_any {
            self.rotate_outbound(&topic)?;
        } else {
            self.share_current_key(chat, topic, &added)?;
        }
        if welcome && state.is_current(&me) {
            self.send_ops(topic, &added, chat)?;
        }
        self.emit(Event::ChatsChanged);
        Ok(())
    }
}
