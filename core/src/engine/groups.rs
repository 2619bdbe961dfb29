//! Group conversations: create, rename, add, remove, leave, and joining when invited.
//!
//! Every change is a signed membership operation ([`crate::membership`]): it travels in a
//! group envelope to the members, and the whole set of a group's operations travels to a new
//! member (from the adder over their contact channel, and from every other member over the
//! group's topic, so a new member also learns what the adder had not seen yet). Each device
//! resolves the set itself; `members` is the projection of that resolution. Adding a member
//! shares current sender keys with them (they read from now on); a removal makes every member
//! rotate its sender key, so the removed member cannot read anything sent afterwards.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::envelope::content::{GroupContent, PairwiseContent, MAX_CONTENT_BYTES};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{AccountId, ChatId, DeviceId, OpId, TopicId};
use crate::mailbox::access::TopicSecret;
use crate::membership::{
    self, Change, Op, Record, SignedOp, State, Verified, MAX_OPS, MAX_OPS_PER_DEVICE, MAX_PARENTS,
};

/// Operations are sent in envelopes of at most this much content, leaving room for framing.
const OPS_CHUNK_BYTES: usize = MAX_CONTENT_BYTES / 2;

impl Engine {
    fn contact_record(&self, account: &AccountId) -> Result<(Record, TopicId)> {
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
        bundles.truncate(membership::MAX_DEVICES);
        let channel =
            TopicId::from_slice(&channel).ok_or_else(|| Error::Corrupt("channel".into()))?;
        Ok((Record { name, bundles }, channel))
    }

    fn my_record(&self) -> Result<Record> {
        let me = self.me()?;
        Ok(Record {
            name: me.id.name.clone(),
            bundles: vec![me.bundle.clone()],
        })
    }

    /// Every stored operation of a group, verified.
    pub(crate) fn group_ops(&self, chat: &ChatId) -> Result<Vec<Verified>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT body FROM member_ops WHERE chat = ?1")?;
        let rows = st.query_map([chat.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for body in rows {
            let signed: SignedOp = crate::wire::decode(&body?, MAX_CONTENT_BYTES)
                .map_err(|e| Error::Corrupt(format!("membership operation: {e}")))?;
            out.push(signed.verify().map_err(|e| Error::Corrupt(e.to_string()))?);
        }
        Ok(out)
    }

    /// The group as its operations say; None for a 1:1 conversation or a group made before
    /// membership operations existed.
    pub(crate) fn group_state(&self, chat: &ChatId) -> Result<Option<State>> {
        Ok(membership::resolve(chat, &self.group_ops(chat)?))
    }

    pub(crate) fn store_op(&mut self, chat: &ChatId, v: &Verified) -> Result<()> {
        self.exec(
            "INSERT OR IGNORE INTO member_ops (chat, op, author, body) VALUES (?1, ?2, ?3, ?4)",
            params![
                chat.as_bytes(),
                v.id.as_bytes(),
                v.op.author.0,
                crate::wire::encode(&v.signed)
            ],
        )?;
        Ok(())
    }

    /// Signs a change of a group this device is a member of, sends it to the members in a group
    /// envelope, and applies it.
    fn author_op(&mut self, chat: &ChatId, change: Change) -> Result<()> {
        let state = self.group_state(chat)?.ok_or_else(|| {
            Error::NotAllowed(
                "this group was made by an older Hearth: start a new group to change its members"
                    .into(),
            )
        })?;
        let me = self.me()?.id.account_id();
        if !state.is_current(&me) {
            return Err(Error::NotAllowed(
                "you are no longer a member of this group".into(),
            ));
        }
        let mut parents = state.heads;
        parents.sort();
        parents.truncate(MAX_PARENTS);
        let at = self.hlc.now();
        let signed = self.send_member_op(chat, change, parents, at)?;
        // Our own operation must keep the rules too; if not, the job (and its envelope) rolls back.
        let verified = signed.verify().map_err(|e| Error::Invalid(e.to_string()))?;
        self.store_op(chat, &verified)?;
        self.apply_membership(chat, false)
    }

    /// Signs `change` as this device's next envelope in the group's topic and sends it to the
    /// members. A new sender key (and its key-share envelope) comes first, so the operation's
    /// seq is the seq of the envelope that carries it.
    pub(crate) fn send_member_op(
        &mut self,
        chat: &ChatId,
        change: Change,
        mut parents: Vec<OpId>,
        at: u64,
    ) -> Result<SignedOp> {
        let topic = self.chat_topic(chat)?;
        self.ensure_outbound(chat, topic)?;
        let device = self.me()?.id.device_id();
        parents.sort();
        let op = Op {
            author: device,
            seq: self.held(&topic, &device)? + 1,
            at,
            parents,
            change,
        };
        let signed = SignedOp::sign(&op, &self.me()?.id.device);
        let seq = self.send_group(chat, topic, at, GroupContent::Member { op: signed.clone() })?;
        if seq != op.seq {
            return Err(Error::Corrupt("membership operation seq".into()));
        }
        Ok(signed)
    }

    pub fn create_group(&mut self, title: &str, members: &[AccountId]) -> Result<ChatId> {
        let title = check_title(title)?;
        let me = self.me()?.id.account_id();
        let mut records = vec![(me, self.my_record()?)];
        let mut channels = Vec::new();
        for a in members.iter().filter(|a| **a != me) {
            if records.iter().any(|(r, _)| r == a) {
                continue;
            }
            let (rec, channel) = self.contact_record(a)?;
            let devices: Vec<DeviceId> = rec.bundles.iter().map(|b| b.device).collect();
            channels.push((channel, devices));
            records.push((*a, rec));
        }
        let nonce: [u8; 16] = rand::random();
        let topic_secret = TopicSecret::for_group(&nonce);
        let topic = topic_secret.topic();
        let op = Op {
            author: self.me()?.id.device_id(),
            seq: 0,
            at: self.hlc.now(),
            parents: Vec::new(),
            change: Change::Create {
                topic,
                title: title.clone(),
                members: records,
                nonce,
            },
        };
        let signed = SignedOp::sign(&op, &self.me()?.id.device);
        let verified = signed.verify().map_err(|e| Error::Invalid(e.to_string()))?;
        let chat = membership::chat_id(&signed);
        let now = self.hlc.now() as i64;
        self.exec(
            "INSERT INTO chats (chat, topic, kind, title, created_at, last_at) VALUES (?1, ?2, 'group', ?3, ?4, ?4)",
            params![chat.as_bytes(), topic.as_bytes(), title, now],
        )?;
        self.exec(
            "INSERT INTO topics (topic, kind, chat, secret) VALUES (?1, 'chat', ?2, ?3)",
            params![topic.as_bytes(), chat.as_bytes(), topic_secret.as_bytes()],
        )?;
        self.store_op(&chat, &verified)?;
        self.apply_membership(&chat, false)?;
        for (channel, devices) in channels {
            self.send_ops(channel, &devices, &chat)?;
        }
        self.emit(Event::ChatsChanged);
        Ok(chat)
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
        self.author_op(chat, Change::Rename { title })
    }

    pub fn add_member(&mut self, chat: &ChatId, account: &AccountId) -> Result<()> {
        self.require_group(chat)?;
        if self
            .group_state(chat)?
            .is_some_and(|s| s.is_current(account))
        {
            return Err(Error::Invalid("already a member of this group".into()));
        }
        let (record, channel) = self.contact_record(account)?;
        let devices: Vec<DeviceId> = record.bundles.iter().map(|b| b.device).collect();
        self.author_op(
            chat,
            Change::Add {
                account: *account,
                record,
            },
        )?;
        self.send_ops(channel, &devices, chat)
    }

    pub fn remove_member(&mut self, chat: &ChatId, account: &AccountId) -> Result<()> {
        self.require_group(chat)?;
        let me = self.me()?.id.account_id();
        if *account == me {
            return self.leave(chat);
        }
        let topic = self.chat_topic(chat)?;
        let state = self.group_state(chat)?;
        let member = state
            .as_ref()
            .and_then(|s| s.members.get(account))
            .filter(|m| m.removed.is_none())
            .ok_or_else(|| Error::NotFound("not a member of this group".into()))?;
        let mut cut = Vec::new();
        for b in &member.bundles {
            cut.push((b.device, self.held(&topic, &b.device)?));
        }
        self.author_op(
            chat,
            Change::Remove {
                account: *account,
                cut,
            },
        )
    }

    pub fn leave(&mut self, chat: &ChatId) -> Result<()> {
        self.require_group(chat)?;
        let topic = self.chat_topic(chat)?;
        self.ensure_outbound(chat, topic)?;
        let device = self.me()?.id.device_id();
        // The leave itself is the last accepted envelope of this device.
        let cut = vec![(device, self.held(&topic, &device)? + 1)];
        let account = self.me()?.id.account_id();
        self.author_op(chat, Change::Remove { account, cut })?;
        self.exec(
            "UPDATE chats SET left_chat = 1 WHERE chat = ?1",
            [chat.as_bytes()],
        )?;
        Ok(())
    }

    /// Sends every operation of a group to `to` over `topic` (a contact channel or the group's
    /// topic), the Create first, in as many envelopes as it takes.
    pub(crate) fn send_ops(
        &mut self,
        topic: TopicId,
        to: &[DeviceId],
        chat: &ChatId,
    ) -> Result<()> {
        if to.is_empty() {
            return Ok(());
        }
        let mut ops = self.group_ops(chat)?;
        ops.sort_by_key(|v| (!matches!(v.op.change, Change::Create { .. }), v.op.at, v.id));
        let mut chunk: Vec<SignedOp> = Vec::new();
        let mut size = 0;
        for v in ops {
            let n = v.signed.op.len() + v.signed.signature.len() + 8;
            if !chunk.is_empty() && size + n > OPS_CHUNK_BYTES {
                let ops = std::mem::take(&mut chunk);
                self.send_pairwise(topic, to, PairwiseContent::Ops { chat: *chat, ops })?;
                size = 0;
            }
            size += n;
            chunk.push(v.signed);
        }
        self.send_pairwise(
            topic,
            to,
            PairwiseContent::Ops {
                chat: *chat,
                ops: chunk,
            },
        )?;
        Ok(())
    }

    /// A membership operation in a group envelope.
    pub(crate) fn on_member_op(
        &mut self,
        chat: &ChatId,
        author: DeviceId,
        seq: u64,
        op: &SignedOp,
    ) -> Result<()> {
        let v = op.verify().map_err(|e| Error::Invalid(e.to_string()))?;
        if v.op.author != author || v.op.seq != seq {
            return Err(Error::Invalid(
                "a membership operation must be its envelope author's, at that seq".into(),
            ));
        }
        let ops = self.group_ops(chat)?;
        if membership::resolve(chat, &ops).is_none() {
            return Err(Error::Invalid(
                "membership operation for a conversation without operations".into(),
            ));
        }
        let authored = ops.iter().filter(|o| o.op.author == author).count();
        if authored >= MAX_OPS_PER_DEVICE || ops.len() >= MAX_OPS {
            return Err(Error::Invalid("too many membership operations".into()));
        }
        self.store_op(chat, &v)?;
        self.apply_membership(chat, true)
    }

    /// A group's operations from `sender`: an invitation over the contact channel of `peer`
    /// (`via_channel`), or a welcome over the group's own topic. Taken only when, with them,
    /// the sender is a current member — and, for an invitation to a group this device does not
    /// hold yet, only for the topic the group's Create names.
    pub(crate) fn on_ops(
        &mut self,
        chat: ChatId,
        ops: &[SignedOp],
        sender: DeviceId,
        via_channel: Option<AccountId>,
    ) -> Result<()> {
        let mut incoming = Vec::with_capacity(ops.len());
        for o in ops {
            incoming.push(o.verify().map_err(|e| Error::Invalid(e.to_string()))?);
        }
        let mut all = self.group_ops(&chat)?;
        let before = all.len();
        all.extend(incoming.iter().cloned());
        if all.len() > MAX_OPS {
            return Err(Error::Invalid("too many membership operations".into()));
        }
        let state = membership::resolve(&chat, &all).ok_or_else(|| {
            Error::Invalid("a group invitation without the group's beginning".into())
        })?;
        let sender_account = state.current_account_of(&sender);
        if sender_account.is_none() || via_channel.is_some_and(|p| Some(p) != sender_account) {
            return Err(Error::NotAllowed(
                "only a current member of a group can invite to it".into(),
            ));
        }
        let known: Option<(Vec<u8>, String)> = self
            .conn
            .query_row(
                "SELECT topic, kind FROM chats WHERE chat = ?1",
                [chat.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match known {
            Some((topic, kind)) => {
                if kind != "group" || topic != state.topic.as_bytes() {
                    return Err(Error::Invalid(
                        "a group invitation for another conversation's topic".into(),
                    ));
                }
                if before == 0 {
                    return Err(Error::NotAllowed(
                        "this group was made by an older Hearth and keeps its members".into(),
                    ));
                }
            }
            None => {
                if via_channel.is_none() {
                    return Err(Error::Invalid("welcome to an unknown group".into()));
                }
                let taken: bool = self.qrow(
                    "SELECT EXISTS (SELECT 1 FROM topics WHERE topic = ?1)",
                    [state.topic.as_bytes()],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(Error::Invalid(
                        "invitation to a topic already in use".into(),
                    ));
                }
                let now = self.hlc.now() as i64;
                self.exec(
                    "INSERT INTO chats (chat, topic, kind, title, created_at, last_at) VALUES (?1, ?2, 'group', ?3, ?4, ?4)",
                    params![chat.as_bytes(), state.topic.as_bytes(), state.title, now],
                )?;
                let secret = all.iter().find_map(|v| match &v.op.change {
                    Change::Create { nonce, .. } => {
                        super::contacts::secret_of(&state.topic, TopicSecret::for_group(nonce))
                    }
                    _ => None,
                });
                self.exec(
                    "INSERT INTO topics (topic, kind, chat, secret) VALUES (?1, 'chat', ?2, ?3)",
                    params![state.topic.as_bytes(), chat.as_bytes(), secret],
                )?;
            }
        }
        for v in &incoming {
            self.store_op(&chat, v)?;
        }
        self.apply_membership(&chat, false)?;
        self.emit(Event::ChatsChanged);
        Ok(())
    }
}

fn check_title(title: &str) -> Result<String> {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > 100 {
        return Err(Error::Invalid(
            "a group name must be 1 to 100 characters".into(),
        ));
    }
    Ok(t.to_string())
}
