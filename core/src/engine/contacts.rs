//! Invites and the contact handshake.
//!
//! 1. Alice makes an invite: a one-time secret and a fresh random topic, remembered as open.
//! 2. Bob accepts the code: he opens the 1:1 conversation (its topic and his sender key) and
//!    sends a contact request, Olm-encrypted to Alice's device, on the invite topic.
//! 3. Alice's device checks the secret (open, not expired, not revoked, not used), marks it
//!    used, and answers with a confirmation carrying her sender key. Both show "connected".
//!
//! The invite topic then stays the pair's channel: invitations to new conversations use it.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::crypto::group::Inbound;
use crate::envelope::content::PairwiseContent;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::identity::DeviceBundle;
use crate::ids::{AccountId, ChatId, DeviceId, TopicId};
use crate::invite::{self, Invite};
use crate::mailbox::access::TopicSecret;

impl Engine {
    pub fn create_invite(&mut self, ttl_secs: u64, addrs: Vec<String>) -> Result<String> {
        let me = self.me()?;
        let secret: [u8; 16] = rand::random();
        let topic_secret = TopicSecret::for_invite(&secret);
        let inv = Invite {
            bundle: me.bundle.clone(),
            name: me.id.name.clone(),
            secret,
            topic: topic_secret.topic(),
            expires_at: self.now_secs() + ttl_secs,
            addrs,
        };
        let code = inv.encode(&me.id.account);
        self.exec(
            "INSERT INTO invites (secret, topic, created_at, expires_at, state) VALUES (?1, ?2, ?3, ?4, 'open')",
            params![inv.secret, inv.topic.as_bytes(), self.now_secs() as i64, inv.expires_at as i64],
        )?;
        self.exec(
            "INSERT INTO topics (topic, kind, secret) VALUES (?1, 'invite', ?2)",
            params![inv.topic.as_bytes(), topic_secret.as_bytes()],
        )?;
        // The network asks our mailboxes to keep the new topic, so a request can wait there.
        self.emit(Event::ContactsChanged);
        Ok(code)
    }

    /// Revokes one of this device's invites (by its code).
    /// Closes the topics of invites that stopped being usable (revoked or expired) more than
    /// [`super::ingest::REFUSAL_SECS`] ago — with whatever strangers left there — and forgets
    /// refused devices after the same time, so no refusal is a lasting way in.
    pub(crate) fn purge_closed_invites(&mut self) -> Result<()> {
        let now = self.now_secs() as i64;
        let grace = super::ingest::REFUSAL_SECS as i64;
        let mut st = self.conn.prepare_cached(
            "SELECT i.topic FROM invites i JOIN topics t ON t.topic = i.topic AND t.kind = 'invite'
             WHERE MIN(COALESCE(i.closed_at, i.expires_at), i.expires_at) + ?1 <= ?2",
        )?;
        let topics: Vec<Vec<u8>> = st
            .query_map(rusqlite::params![grace, now], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(st);
        for t in &topics {
            for sql in [
                "DELETE FROM envelopes WHERE topic = ?1",
                "DELETE FROM heads WHERE topic = ?1",
                "DELETE FROM read_early WHERE topic = ?1",
                "DELETE FROM refusals WHERE topic = ?1",
                "DELETE FROM invites WHERE topic = ?1",
                "DELETE FROM topics WHERE topic = ?1",
            ] {
                self.exec(sql, [t])?;
            }
        }
        self.exec(
            "DELETE FROM refusals WHERE created_at + ?1 <= ?2",
            rusqlite::params![grace, now],
        )?;
        if !topics.is_empty() {
            tracing::debug!(closed = topics.len(), "closed the topics of old invites");
            self.emit(crate::Event::ContactsChanged);
        }
        Ok(())
    }

    pub fn revoke_invite(&mut self, code: &str) -> Result<()> {
        // Our own code may have expired; parse it without the expiry check.
        let inv = Invite::decode(code, 0)?;
        let n = self.exec(
            "UPDATE invites SET state = 'revoked', closed_at = ?2 WHERE secret = ?1 AND state = 'open'",
            rusqlite::params![inv.secret, self.now_secs() as i64],
        )?;
        if n == 0 {
            return Err(Error::NotFound(
                "no open invite of yours matches this code".into(),
            ));
        }
        Ok(())
    }

    pub fn accept_invite(&mut self, code: &str) -> Result<AccountId> {
        let inv = Invite::decode(code, self.now_secs())?;
        let me_account = self.me()?.id.account_id();
        let their = inv.bundle.account;
        if their == me_account {
            return Err(invite::Error::OwnInvite.into());
        }
        let state: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM contacts WHERE account = ?1",
                [their.0],
                |r| r.get(0),
            )
            .optional()?;
        match state.as_deref() {
            Some("connected") => return Err(invite::Error::AlreadyContact.into()),
            Some(_) => return Err(invite::Error::AlreadyUsed.into()),
            None => {}
        }
        self.remember_device(&inv.bundle)?;
        let chat = ChatId::random();
        let chat_topic = TopicSecret::for_direct_chat(&chat).topic();
        self.exec(
            "INSERT INTO contacts (account, name, state, channel, chat, created_at)
             VALUES (?1, ?2, 'pending', ?3, ?4, ?5)",
            params![
                their.0,
                inv.name,
                inv.topic.as_bytes(),
                chat.as_bytes(),
                self.now_secs() as i64
            ],
        )?;
        self.exec(
            "INSERT INTO topics (topic, kind, peer, secret) VALUES (?1, 'channel', ?2, ?3)",
            params![
                inv.topic.as_bytes(),
                their.0,
                secret_of(&inv.topic, TopicSecret::for_invite(&inv.secret))
            ],
        )?;
        self.create_direct_chat(chat, chat_topic, &inv.bundle)?;
        self.ensure_outbound(&chat, chat_topic)?;
        let session_key = self.current_session_key(&chat_topic)?;
        let me = self.me()?;
        let content = PairwiseContent::ContactRequest {
            secret: inv.secret,
            bundle: me.bundle.clone(),
            name: me.id.name.clone(),
            chat,
            chat_topic,
            session_key,
        };
        self.send_pairwise(inv.topic, &[inv.bundle.device], content)?;
        self.emit(Event::ContactsChanged);
        self.emit(Event::ChatsChanged);
        Ok(their)
    }

    fn current_session_key(&self, topic: &TopicId) -> Result<Vec<u8>> {
        self.out_sessions
            .get(topic)
            .map(|(_, out, _)| out.session_key())
            .ok_or_else(|| crate::crypto::Error::MissingKey.into())
    }

    fn create_direct_chat(
        &mut self,
        chat: ChatId,
        topic: TopicId,
        peer: &DeviceBundle,
    ) -> Result<()> {
        let now = self.hlc.now() as i64;
        self.exec(
            "INSERT INTO chats (chat, topic, kind, created_at, last_at) VALUES (?1, ?2, 'direct', ?3, ?3)",
            params![chat.as_bytes(), topic.as_bytes(), now],
        )?;
        self.exec(
            "INSERT INTO topics (topic, kind, chat, secret) VALUES (?1, 'chat', ?2, ?3)",
            params![
                topic.as_bytes(),
                chat.as_bytes(),
                secret_of(&topic, TopicSecret::for_direct_chat(&chat))
            ],
        )?;
        let me = self.me()?;
        let (my_dev, my_acc) = (me.id.device_id(), me.id.account_id());
        for (dev, acc) in [(my_dev, my_acc), (peer.device, peer.account)] {
            self.exec(
                "INSERT INTO members (chat, device, account) VALUES (?1, ?2, ?3)",
                params![chat.as_bytes(), dev.0, acc.0],
            )?;
        }
        Ok(())
    }

    /// A contact request arrived on one of our invite topics.
    pub(crate) fn on_contact_request(
        &mut self,
        topic: TopicId,
        author: DeviceId,
        request: PairwiseContent,
    ) -> Result<()> {
        let PairwiseContent::ContactRequest {
            secret,
            bundle,
            name,
            chat,
            chat_topic,
            session_key,
        } = request
        else {
            return Err(Error::Invalid("not a contact request".into()));
        };
        if bundle.device != author || !bundle.verify() {
            return Err(Error::Invalid(
                "contact request with a bundle that is not the sender's".into(),
            ));
        }
        let name = super::clean_name(&name)?;
        let row: Option<(String, i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT state, expires_at, topic FROM invites WHERE secret = ?1",
                [secret],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((state, expires_at, inv_topic)) = row else {
            return Err(invite::Error::Tampered.into());
        };
        if inv_topic != topic.as_bytes() {
            return Err(invite::Error::Tampered.into());
        }
        match state.as_str() {
            "revoked" => return Err(invite::Error::Revoked.into()),
            "used" => return Err(invite::Error::AlreadyUsed.into()),
            _ => {}
        }
        if expires_at as u64 <= self.now_secs() {
            return Err(invite::Error::Expired.into());
        }
        let their = bundle.account;
        let known: bool = self.qrow(
            "SELECT EXISTS (SELECT 1 FROM contacts WHERE account = ?1)",
            [their.0],
            |r| r.get(0),
        )?;
        if known {
            return Err(invite::Error::AlreadyContact.into());
        }
        self.exec(
            "UPDATE invites SET state = 'used', used_by = ?2 WHERE secret = ?1",
            params![secret, their.0],
        )?;
        self.remember_device(&bundle)?;
        self.exec(
            "UPDATE topics SET kind = 'channel', peer = ?2 WHERE topic = ?1",
            params![topic.as_bytes(), their.0],
        )?;
        self.exec(
            "INSERT INTO contacts (account, name, state, channel, chat, created_at)
             VALUES (?1, ?2, 'connected', ?3, ?4, ?5)",
            params![
                their.0,
                name,
                topic.as_bytes(),
                chat.as_bytes(),
                self.now_secs() as i64
            ],
        )?;
        self.create_direct_chat(chat, chat_topic, &bundle)?;
        let inbound = Inbound::from_session_key(&session_key)?;
        self.save_inbound(chat_topic, author, 1, &inbound, None)?;
        self.ensure_outbound(&chat, chat_topic)?;
        let my_key = self.current_session_key(&chat_topic)?;
        let me = self.me()?;
        let content = PairwiseContent::ContactAccept {
            name: me.id.name.clone(),
            bundle: me.bundle.clone(),
            session_key: my_key,
        };
        self.send_pairwise(topic, &[author], content)?;
        self.emit(Event::ContactsChanged);
        self.emit(Event::ChatsChanged);
        Ok(())
    }

    pub(crate) fn on_contact_accept(
        &mut self,
        author: DeviceId,
        peer: AccountId,
        name: String,
        bundle: DeviceBundle,
        session_key: Vec<u8>,
    ) -> Result<()> {
        if bundle.device != author || bundle.account != peer || !bundle.verify() {
            return Err(Error::Invalid(
                "contact confirmation with a foreign bundle".into(),
            ));
        }
        let name = super::clean_name(&name)?;
        let chat: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT chat FROM contacts WHERE account = ?1",
                [peer.0],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let chat = chat
            .and_then(|c| ChatId::from_slice(&c))
            .ok_or_else(|| Error::NotFound("contact".into()))?;
        let chat_topic = self.chat_topic(&chat)?;
        self.remember_device(&bundle)?;
        self.exec(
            "UPDATE contacts SET state = 'connected', name = ?2 WHERE account = ?1",
            params![peer.0, name],
        )?;
        let inbound = Inbound::from_session_key(&session_key)?;
        self.save_inbound(chat_topic, author, 1, &inbound, None)?;
        self.emit(Event::ContactsChanged);
        Ok(())
    }

    /// The inviter refused our request (the code was revoked, used or expired).
    pub(crate) fn on_contact_refused(&mut self, peer: AccountId, reason: &str) -> Result<()> {
        let reason: String = reason.chars().take(200).collect();
        self.exec(
            "UPDATE contacts SET refused = ?2 WHERE account = ?1 AND state = 'pending'",
            params![peer.0, reason],
        )?;
        self.emit(Event::ContactsChanged);
        Ok(())
    }

    pub fn rename_contact(&mut self, account: &AccountId, nickname: Option<&str>) -> Result<()> {
        let nick = match nickname {
            Some(n) => Some(super::clean_name(n)?),
            None => None,
        };
        self.update_contact(
            "UPDATE contacts SET nickname = ?2 WHERE account = ?1",
            account,
            nick,
        )
    }

    pub fn set_verified(&mut self, account: &AccountId, verified: bool) -> Result<()> {
        self.update_contact(
            "UPDATE contacts SET verified = ?2 WHERE account = ?1",
            account,
            verified,
        )
    }

    pub fn set_blocked(&mut self, account: &AccountId, blocked: bool) -> Result<()> {
        self.update_contact(
            "UPDATE contacts SET blocked = ?2 WHERE account = ?1",
            account,
            blocked,
        )
    }

    fn update_contact(
        &mut self,
        sql: &str,
        account: &AccountId,
        v: impl rusqlite::ToSql,
    ) -> Result<()> {
        let n = self.exec(sql, params![account.0, v])?;
        if n == 0 {
            return Err(Error::NotFound("no such contact".into()));
        }
        self.emit(Event::ContactsChanged);
        Ok(())
    }
}

/// Addresses remembered per device.
const MAX_REMEMBERED_ADDRS: usize = 8;

impl Engine {
    /// Records where and when a device was seen.
    pub fn remember_peer(
        &mut self,
        device: &DeviceId,
        addr: Option<String>,
        seen: bool,
    ) -> Result<()> {
        // Addresses are kept for family devices only: strangers connect with a new id each
        // time and would fill the table.
        let known: bool = self.qrow(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE device = ?1)",
            [device.0],
            |r| r.get(0),
        )?;
        if !known {
            return Ok(());
        }
        let old: Option<String> = self
            .conn
            .query_row(
                "SELECT addrs FROM peers WHERE device = ?1",
                [device.0],
                |r| r.get(0),
            )
            .optional()?;
        let mut addrs: Vec<String> = old
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        if let Some(a) = addr {
            addrs.retain(|x| *x != a);
            addrs.insert(0, a);
            addrs.truncate(MAX_REMEMBERED_ADDRS);
        }
        let now = if seen { self.hlc.wall_ms() as i64 } else { 0 };
        self.exec(
            "INSERT INTO peers (device, addrs, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (device) DO UPDATE SET addrs = ?2, last_seen = MAX(last_seen, ?3)",
            params![
                device.0,
                serde_json::to_string(&addrs).unwrap_or_else(|_| "[]".into()),
                now
            ],
        )?;
        Ok(())
    }
}

/// A topic's secret as stored, if it is the one that opens the topic (an older or hostile
/// client may have made the topic id some other way: then no mailbox keeps it).
pub(super) fn secret_of(topic: &TopicId, secret: TopicSecret) -> Option<Vec<u8>> {
    (secret.topic() == *topic).then(|| secret.as_bytes().to_vec())
}
