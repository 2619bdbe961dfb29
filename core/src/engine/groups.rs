//! Group conversations: create, rename, add, remove, leave, and joining when invited.
//!
//! Membership lives in the conversation's meta document, so every member converges on the
//! same list. Adding a member shares current sender keys with them (they read from now on);
//! removing one records a cut (its last accepted seq per device) and makes every member rotate
//! its sender key, so the removed member cannot read anything sent afterwards.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::docs::DocRef;
use super::Engine;
use crate::doc::{self, meta};
use crate::envelope::content::{ChatKind, DocKey, GroupContent, PairwiseContent};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{AccountId, ChatId, DeviceId, TopicId};

const MAX_TITLE_CHARS: usize = 100;

impl Engine {
    fn contact_record(&self, account: &AccountId) -> Result<(meta::MemberRecord, TopicId)> {
        let row: Option<(String, String, i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT name, state, blocked, channel FROM contacts WHERE account = ?1",
                [account.0],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((name, state, blocked, channel)) = row else {
            return Err(Error::NotFound(format!(
                "{account} is not one of your contacts"
            )));
        };
        if state != "connected" || blocked != 0 {
            return Err(Error::NotAllowed(format!(
                "{name} is not a connected contact"
            )));
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT device FROM devices WHERE account = ?1")?;
        let devices: Vec<Vec<u8>> = st
            .query_map([account.0], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut bundles = Vec::new();
        for d in devices {
            if let Some(b) =
                DeviceId::from_slice(&d).and_then(|d| self.bundle_of(&d).ok().flatten())
            {
                bundles.push(b);
            }
        }
        let channel =
            TopicId::from_slice(&channel).ok_or_else(|| Error::Corrupt("channel".into()))?;
        Ok((
            meta::MemberRecord {
                name,
                bundles,
                removed: None,
            },
            channel,
        ))
    }

    fn my_record(&self) -> Result<meta::MemberRecord> {
        let me = self.me()?;
        Ok(meta::MemberRecord {
            name: me.id.name.clone(),
            bundles: vec![me.bundle.clone()],
            removed: None,
        })
    }

    fn meta_ref(topic: TopicId) -> DocRef {
        DocRef {
            topic,
            owner: None,
            key: DocKey::Meta,
        }
    }

    /// Changes the meta document, sends the update, and re-projects it.
    fn write_meta(
        &mut self,
        chat: &ChatId,
        write: impl FnOnce(&yrs::Doc) -> Vec<u8>,
    ) -> Result<()> {
        let topic = self.chat_topic(chat)?;
        let doc_id = self.open_doc(&Self::meta_ref(topic))?;
        let d = self
            .cached(doc_id)
            .map(|c| c.doc.clone())
            .ok_or(Error::Shutdown)?;
        let update = write(&d);
        let device = self.me()?.id.device_id();
        self.bind_client(&topic, self.client, &device)?;
        let at = self.hlc.now();
        self.send_group(
            chat,
            topic,
            at,
            GroupContent::Doc {
                doc: DocKey::Meta,
                client: self.client,
                update: update.clone(),
            },
        )?;
        self.persist_update(doc_id, &update, 0)?;
        self.project_meta(chat, doc_id)
    }

    pub fn create_group(&mut self, title: &str, members: &[AccountId]) -> Result<ChatId> {
        let title = check_title(title)?;
        let me = self.me()?.id.account_id();
        let mut records = BTreeMap::new();
        let mut channels = Vec::new();
        for a in members.iter().filter(|a| **a != me) {
            let (rec, channel) = self.contact_record(a)?;
            channels.push((
                channel,
                rec.bundles.iter().map(|b| b.device).collect::<Vec<_>>(),
            ));
            records.insert(*a, rec);
        }
        records.insert(me, self.my_record()?);
        let chat = ChatId::random();
        let topic = TopicId::random();
        let now = self.hlc.now() as i64;
        self.exec(
            "INSERT INTO chats (chat, topic, kind, title, created_at, last_at) VALUES (?1, ?2, 'group', ?3, ?4, ?4)",
            params![chat.as_bytes(), topic.as_bytes(), title, now],
        )?;
        self.exec(
            "INSERT INTO topics (topic, kind, chat) VALUES (?1, 'chat', ?2)",
            params![topic.as_bytes(), chat.as_bytes()],
        )?;
        for (a, rec) in &records {
            for b in &rec.bundles {
                self.exec(
                    "INSERT INTO members (chat, device, account) VALUES (?1, ?2, ?3)",
                    params![chat.as_bytes(), b.device.0, a.0],
                )?;
            }
        }
        self.write_meta(&chat, |d| {
            let mut u = vec![meta::set_title(d, &title)];
            for (a, rec) in &records {
                u.push(meta::set_member(d, a, rec));
            }
            merge(u)
        })?;
        let snapshot = self.meta_snapshot(&topic)?;
        for (channel, devices) in channels {
            self.send_pairwise(
                channel,
                &devices,
                PairwiseContent::ChatInvite {
                    chat,
                    topic,
                    kind: ChatKind::Group,
                    meta: snapshot.clone(),
                },
            )?;
        }
        self.emit(Event::ChatsChanged);
        Ok(chat)
    }

    fn meta_snapshot(&mut self, topic: &TopicId) -> Result<Vec<u8>> {
        let doc_id = self.open_doc(&Self::meta_ref(*topic))?;
        Ok(self
            .cached(doc_id)
            .map(|c| doc::snapshot(&c.doc))
            .unwrap_or_default())
    }

    fn require_group(&self, chat: &ChatId) -> Result<()> {
        let kind: Option<String> = self
            .conn
            .query_row(
                "SELECT kind FROM chats WHERE chat = ?1",
                [chat.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        match kind.as_deref() {
            Some("group") => Ok(()),
            Some(_) => Err(Error::NotAllowed(
                "this is a 1:1 conversation, not a group".into(),
            )),
            None => Err(Error::NotFound("no such conversation".into())),
        }
    }

    pub fn rename_group(&mut self, chat: &ChatId, title: &str) -> Result<()> {
        let title = check_title(title)?;
        self.require_group(chat)?;
        self.write_meta(chat, |d| meta::set_title(d, &title))
    }

    pub fn add_member(&mut self, chat: &ChatId, account: &AccountId) -> Result<()> {
        self.require_group(chat)?;
        let (rec, channel) = self.contact_record(account)?;
        let topic = self.chat_topic(chat)?;
        let devices: Vec<DeviceId> = rec.bundles.iter().map(|b| b.device).collect();
        self.write_meta(chat, |d| meta::set_member(d, account, &rec))?;
        let snapshot = self.meta_snapshot(&topic)?;
        self.send_pairwise(
            channel,
            &devices,
            PairwiseContent::ChatInvite {
                chat: *chat,
                topic,
                kind: ChatKind::Group,
                meta: snapshot,
            },
        )?;
        Ok(())
    }

    pub fn remove_member(&mut self, chat: &ChatId, account: &AccountId) -> Result<()> {
        self.require_group(chat)?;
        let topic = self.chat_topic(chat)?;
        let me = self.me()?.id.account_id();
        if *account == me {
            return self.leave(chat);
        }
        let doc_id = self.open_doc(&Self::meta_ref(topic))?;
        let state = self
            .cached(doc_id)
            .map(|c| meta::read(&c.doc))
            .unwrap_or_default();
        let mut rec = state
            .members
            .get(account)
            .cloned()
            .filter(|r| r.removed.is_none())
            .ok_or_else(|| Error::NotFound("not a member of this group".into()))?;
        let mut cut = BTreeMap::new();
        for b in &rec.bundles {
            cut.insert(b.device, self.held(&topic, &b.device)?);
        }
        rec.removed = Some(cut);
        self.write_meta(chat, |d| meta::set_member(d, account, &rec))
    }

    pub fn leave(&mut self, chat: &ChatId) -> Result<()> {
        self.require_group(chat)?;
        let topic = self.chat_topic(chat)?;
        self.ensure_outbound(chat, topic)?;
        let device = self.me()?.id.device_id();
        // The leave update itself is the last accepted envelope of this device.
        let cut = self.held(&topic, &device)? + 1;
        let mut rec = self.my_record()?;
        rec.removed = Some(BTreeMap::from([(device, cut)]));
        let account = self.me()?.id.account_id();
        self.write_meta(chat, |d| meta::set_member(d, &account, &rec))?;
        self.exec(
            "UPDATE chats SET left_chat = 1 WHERE chat = ?1",
            [chat.as_bytes()],
        )?;
        Ok(())
    }

    /// "You were added to this conversation", from a contact on our channel.
    pub(crate) fn on_chat_invite(
        &mut self,
        chat: ChatId,
        topic: TopicId,
        kind: ChatKind,
        meta_state: Vec<u8>,
    ) -> Result<()> {
        let known: bool = self.qrow(
            "SELECT EXISTS (SELECT 1 FROM chats WHERE chat = ?1)",
            [chat.as_bytes()],
            |r| r.get(0),
        )?;
        if known {
            self.exec(
                "UPDATE chats SET left_chat = 0 WHERE chat = ?1 AND topic = ?2",
                params![chat.as_bytes(), topic.as_bytes()],
            )?;
        } else {
            let topic_taken: bool = self.qrow(
                "SELECT EXISTS (SELECT 1 FROM topics WHERE topic = ?1)",
                [topic.as_bytes()],
                |r| r.get(0),
            )?;
            if topic_taken {
                return Err(Error::Invalid(
                    "invitation to a topic already in use".into(),
                ));
            }
            let now = self.hlc.now() as i64;
            self.exec(
                "INSERT INTO chats (chat, topic, kind, created_at, last_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![chat.as_bytes(), topic.as_bytes(), kind.as_str(), now],
            )?;
            self.exec(
                "INSERT INTO topics (topic, kind, chat) VALUES (?1, 'chat', ?2)",
                params![topic.as_bytes(), chat.as_bytes()],
            )?;
        }
        // The snapshot is the inviter's view of the meta document; its content also arrives
        // in the topic's envelopes, and yrs ignores what it already has.
        let doc_id = self.open_doc(&Self::meta_ref(topic))?;
        if let Some(c) = self.cached(doc_id) {
            let update = doc::check_any(&meta_state)?;
            doc::apply(&c.doc, update)?;
        }
        self.persist_update(doc_id, &meta_state, 0)?;
        self.project_meta(&chat, doc_id)?;
        self.emit(Event::ChatsChanged);
        Ok(())
    }
}

fn check_title(title: &str) -> Result<String> {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::Invalid(format!(
            "a group name must be 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(t.to_string())
}

fn merge(updates: Vec<Vec<u8>>) -> Vec<u8> {
    yrs::merge_updates_v1(updates.iter().map(Vec::as_slice)).unwrap_or_default()
}
