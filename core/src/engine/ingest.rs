//! Receiving envelopes, from a bundle today and from peers later: verify, authorise, store,
//! then decrypt and apply in seq order per author.
//!
//! An envelope is stored as soon as it verifies and its author may write to the topic; the
//! version vector counts it. Applying waits for the gap before it to fill and for the sender's
//! key to arrive; when a key arrives, waiting envelopes of that sender are applied. Content
//! that verifies but breaks a rule (a foreign client id, a malformed update) is skipped, never
//! retried, and never blocks the author's later envelopes.

use rusqlite::{params, OptionalExtension};

use super::docs::DocRef;
use super::project::Origin;
use super::Engine;
use crate::crypto::Error as CryptoError;
use crate::doc;
use crate::envelope::content::{DocKey, GroupContent, PairwiseContent};
use crate::envelope::{Envelope, Error as EnvError};
use crate::error::{Error, Result};
use crate::ids::{AccountId, ChatId, DeviceId, TopicId};

/// What happened to one received envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingested {
    New,
    Duplicate,
}

enum TopicKind {
    Invite,
    Channel(AccountId),
    Chat(ChatId),
}

impl Engine {
    fn topic_kind(&self, topic: &TopicId) -> Result<Option<TopicKind>> {
        let row: Option<(String, Option<Vec<u8>>, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT kind, chat, peer FROM topics WHERE topic = ?1",
                [topic.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(kind, chat, peer)| match kind.as_str() {
            "invite" => Some(TopicKind::Invite),
            "channel" => peer
                .and_then(|p| AccountId::from_slice(&p))
                .map(TopicKind::Channel),
            "chat" => chat
                .and_then(|c| ChatId::from_slice(&c))
                .map(TopicKind::Chat),
            _ => None,
        }))
    }

    fn account_of(&self, device: &DeviceId) -> Result<Option<AccountId>> {
        let a: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT account FROM devices WHERE device = ?1",
                [device.0],
                |r| r.get(0),
            )
            .optional()?;
        Ok(a.and_then(|a| AccountId::from_slice(&a)))
    }

    /// May `author` write envelope `seq` to this topic?
    fn authorise(&self, kind: &TopicKind, env: &Envelope) -> Result<()> {
        let author = env.header.author;
        if author == self.me()?.id.device_id() {
            return Ok(());
        }
        if let Some(account) = self.account_of(&author)? {
            let blocked: bool = self
                .conn
                .query_row(
                    "SELECT blocked FROM contacts WHERE account = ?1",
                    [account.0],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            if blocked {
                return Err(EnvError::Blocked.into());
            }
        }
        match kind {
            TopicKind::Invite if env.is_pairwise() => Ok(()),
            TopicKind::Invite => Err(EnvError::NotMember.into()),
            TopicKind::Channel(peer) => match self.account_of(&author)? {
                Some(a) if a == *peer => Ok(()),
                _ => {
                    // Someone else using the invite this channel came from: a replayed code.
                    let from_invite: bool = self.qrow(
                        "SELECT EXISTS (SELECT 1 FROM invites WHERE topic = ?1)",
                        [env.header.topic.as_bytes()],
                        |r| r.get(0),
                    )?;
                    if from_invite && env.is_pairwise() {
                        Err(crate::invite::Error::AlreadyUsed.into())
                    } else {
                        Err(EnvError::NotMember.into())
                    }
                }
            },
            TopicKind::Chat(chat) => {
                let removed: Option<Option<i64>> = self
                    .conn
                    .query_row(
                        "SELECT removed_after FROM members WHERE chat = ?1 AND device = ?2",
                        params![chat.as_bytes(), author.0],
                        |r| r.get(0),
                    )
                    .optional()?;
                match removed {
                    Some(None) => Ok(()),
                    Some(Some(cut)) if env.header.seq <= cut as u64 => Ok(()),
                    _ => Err(EnvError::NotMember.into()),
                }
            }
        }
    }

    /// Verifies, stores and (when possible) applies one envelope.
    pub fn ingest(&mut self, bytes: &[u8]) -> Result<Ingested> {
        let env = Envelope::decode_verified(bytes)?;
        let h = env.header;
        let kind = self.topic_kind(&h.topic)?.ok_or(EnvError::UnknownTopic)?;
        let existing: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT body FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq = ?3",
                params![h.topic.as_bytes(), h.author.0, h.seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(stored) = existing {
            // Compare content, not bytes: the same envelope may arrive with another (valid)
            // encoding or signature; only different content under one seq is equivocation.
            let same = Envelope::decode(&stored)
                .map(|s| s.header == env.header && s.ciphertext == env.ciphertext);
            return if same.unwrap_or(false) {
                Ok(Ingested::Duplicate)
            } else {
                Err(EnvError::Equivocation.into())
            };
        }
        let held = self.held(&h.topic, &h.author)?;
        if h.seq <= held {
            // Below the contiguous head but not stored: it was dropped by a removal cut.
            return Err(EnvError::NotMember.into());
        }
        self.authorise(&kind, &env)?;
        self.exec(
            "INSERT INTO envelopes (topic, author, seq, body) VALUES (?1, ?2, ?3, ?4)",
            params![h.topic.as_bytes(), h.author.0, h.seq as i64, env.encode()],
        )?;
        let mut new_held = held;
        loop {
            let next: bool = self.qrow(
                "SELECT EXISTS (SELECT 1 FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq = ?3)",
                params![h.topic.as_bytes(), h.author.0, (new_held + 1) as i64],
                |r| r.get(0),
            )?;
            if !next {
                break;
            }
            new_held += 1;
        }
        self.exec(
            "INSERT INTO heads (topic, author, held, applied) VALUES (?1, ?2, ?3, 0)
             ON CONFLICT (topic, author) DO UPDATE SET held = ?3",
            params![h.topic.as_bytes(), h.author.0, new_held as i64],
        )?;
        self.emit(crate::Event::EnvelopesAdded { topic: h.topic });
        self.wake.push((h.topic, h.author));
        self.drain_wake()?;
        Ok(Ingested::New)
    }

    fn drain_wake(&mut self) -> Result<()> {
        while let Some((topic, author)) = self.wake.pop() {
            self.apply_waiting(topic, author)?;
        }
        Ok(())
    }

    /// Applies an author's envelopes in seq order until a gap or a missing key.
    fn apply_waiting(&mut self, topic: TopicId, author: DeviceId) -> Result<()> {
        loop {
            let row: Option<(i64, i64)> = self
                .conn
                .query_row(
                    "SELECT held, applied FROM heads WHERE topic = ?1 AND author = ?2",
                    params![topic.as_bytes(), author.0],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((held, applied)) = row else {
                return Ok(());
            };
            if applied >= held {
                return Ok(());
            }
            let seq = applied + 1;
            let body: Vec<u8> = self.qrow(
                "SELECT body FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq = ?3",
                params![topic.as_bytes(), author.0, seq],
                |r| r.get(0),
            )?;
            let env = Envelope::decode(&body)?;
            let early = self.exec(
                "DELETE FROM read_early WHERE topic = ?1 AND author = ?2 AND seq = ?3",
                params![topic.as_bytes(), author.0, seq],
            )? > 0;
            let mut result = if early { Ok(()) } else { self.apply_one(&env) };
            if matches!(result, Err(Error::Crypto(CryptoError::MissingKey)))
                && self.read_keys_ahead(topic, author, seq as u64)?
            {
                result = self.apply_one(&env);
            }
            match result {
                Ok(()) => {}
                Err(Error::Crypto(CryptoError::MissingKey)) => return Ok(()),
                Err(Error::Database(e)) => return Err(Error::Database(e)),
                // A refused contact request is refused whole: not stored, reported to the caller.
                Err(e) if matches!(self.topic_kind(&topic)?, Some(TopicKind::Invite)) => {
                    return Err(e)
                }
                Err(e) => {
                    tracing::warn!(topic = %topic, author = %author, seq, error = %e, "skipping envelope content");
                }
            }
            self.exec(
                "UPDATE heads SET applied = ?3 WHERE topic = ?1 AND author = ?2",
                params![topic.as_bytes(), author.0, seq],
            )?;
        }
    }

    /// A group envelope waits for its key. When the author sent us the key later in the same
    /// stream (a member added after the envelope was written), waiting in order would wait
    /// forever: read the author's later pairwise envelopes for keys now. Returns true if a key
    /// was found.
    fn read_keys_ahead(&mut self, topic: TopicId, author: DeviceId, after: u64) -> Result<bool> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, body FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq > ?3 ORDER BY seq",
        )?;
        let later: Vec<(i64, Vec<u8>)> = st
            .query_map(params![topic.as_bytes(), author.0, after as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        drop(st);
        let me = self.me()?.id.device_id();
        let mut found = false;
        for (seq, body) in later {
            let Ok(env) = Envelope::decode(&body) else {
                continue;
            };
            if !env.is_pairwise() || !env.pairwise_parts()?.iter().any(|p| p.to == me) {
                continue;
            }
            self.exec(
                "INSERT OR IGNORE INTO read_early (topic, author, seq) VALUES (?1, ?2, ?3)",
                params![topic.as_bytes(), author.0, seq],
            )?;
            let Ok(Some(plain)) = self.decrypt_pairwise(&env) else {
                continue;
            };
            if let PairwiseContent::RoomKey {
                chat,
                key,
                session_key,
            } = plain.content
            {
                let kind = self.topic_kind(&topic)?;
                if matches!(kind, Some(TopicKind::Chat(c)) if c == chat) {
                    let inbound = crate::crypto::group::Inbound::from_session_key(&session_key)?;
                    self.save_inbound(topic, author, key, &inbound)?;
                    found = true;
                }
            }
        }
        Ok(found)
    }

    fn apply_one(&mut self, env: &Envelope) -> Result<()> {
        if env.header.author == self.me()?.id.device_id() {
            return Ok(()); // our own, applied when we wrote it
        }
        let kind = self
            .topic_kind(&env.header.topic)?
            .ok_or(EnvError::UnknownTopic)?;
        if env.is_pairwise() {
            let Some(plain) = self.decrypt_pairwise(env)? else {
                return Ok(());
            };
            return self.on_pairwise(&kind, env, plain.content);
        }
        let TopicKind::Chat(chat) = kind else {
            return Err(EnvError::NotMember.into());
        };
        let plain = self.decrypt_group(env)?;
        self.hlc.observe(plain.at);
        match plain.content {
            GroupContent::Doc {
                doc: key,
                client,
                update,
            } => self.apply_doc(&chat, env, key, client, &update),
            GroupContent::Receipt { delivered, read_at } => {
                self.on_receipt(&chat, env.header.author, &delivered, read_at)
            }
        }
    }

    fn on_pairwise(
        &mut self,
        kind: &TopicKind,
        env: &Envelope,
        content: PairwiseContent,
    ) -> Result<()> {
        let author = env.header.author;
        match (kind, content) {
            (TopicKind::Invite, req @ PairwiseContent::ContactRequest { .. }) => {
                self.on_contact_request(env.header.topic, author, req)
            }
            (
                TopicKind::Channel(peer),
                PairwiseContent::ContactAccept {
                    name,
                    bundle,
                    session_key,
                },
            ) => self.on_contact_accept(author, *peer, name, bundle, session_key),
            (TopicKind::Channel(peer), PairwiseContent::ContactRefused { reason }) => {
                self.on_contact_refused(*peer, &reason)
            }
            (
                TopicKind::Channel(_),
                PairwiseContent::ChatInvite {
                    chat,
                    topic,
                    kind,
                    meta,
                },
            ) => self.on_chat_invite(chat, topic, kind, meta),
            (
                TopicKind::Chat(chat),
                PairwiseContent::RoomKey {
                    chat: c,
                    key,
                    session_key,
                },
            ) if c == *chat => {
                let inbound = crate::crypto::group::Inbound::from_session_key(&session_key)?;
                self.save_inbound(env.header.topic, author, key, &inbound)
            }
            _ => Err(Error::Invalid(
                "pairwise content not valid on this topic".into(),
            )),
        }
    }

    fn apply_doc(
        &mut self,
        chat: &ChatId,
        env: &Envelope,
        key: DocKey,
        client: u64,
        bytes: &[u8],
    ) -> Result<()> {
        let author = env.header.author;
        let owner = self.account_of(&author)?.ok_or(EnvError::NotMember)?;
        let topic = env.header.topic;
        let update = doc::check_update(bytes, client)?;
        self.bind_client(&topic, client, &author)?;
        let r = DocRef {
            topic,
            owner: if key == DocKey::Meta {
                None
            } else {
                Some(owner)
            },
            key,
        };
        let doc_id = self.open_doc(&r)?;
        let d = self
            .cached(doc_id)
            .map(|c| c.doc.clone())
            .ok_or(Error::Shutdown)?;
        if let Err(e) = doc::apply(&d, update) {
            self.docs.clear();
            return Err(e.into());
        }
        match key {
            DocKey::Meta => {
                self.persist_update(doc_id, bytes, 0)?;
                self.project_meta(chat, doc_id)
            }
            DocKey::Segment(n) => {
                let origin = Origin {
                    chat: *chat,
                    owner,
                    device: author,
                    seq: env.header.seq,
                    segment: n,
                };
                let added = self.project_segment(doc_id, &origin)?;
                if added > 0 {
                    self.receipts_due.insert(*chat);
                }
                self.persist_update(doc_id, bytes, added)
            }
        }
    }
}

impl Engine {
    /// [`Engine::ingest`] inside its own savepoint: a refused envelope leaves no trace, and
    /// the rest of the batch goes on.
    pub fn ingest_isolated(&mut self, bytes: &[u8]) -> Result<Ingested> {
        self.exec("SAVEPOINT envelope", [])?;
        match self.ingest(bytes) {
            Ok(v) => {
                self.exec("RELEASE envelope", [])?;
                Ok(v)
            }
            Err(e) => {
                self.conn
                    .execute_batch("ROLLBACK TO envelope; RELEASE envelope")?;
                // Refused at the door (form, signature, topic, author): nothing in memory moved.
                if !matches!(e, Error::Envelope(_)) {
                    self.invalidate();
                }
                if let Error::Invite(reason) = &e {
                    // Tell the person who tried to use the invite why it did not work.
                    let reason = reason.to_string();
                    self.exec("SAVEPOINT refusal", [])?;
                    match self.refuse_contact_request(bytes, &reason) {
                        Ok(()) => {
                            self.exec("RELEASE refusal", [])?;
                        }
                        Err(err) => {
                            tracing::debug!(error = %err, "could not send a refusal");
                            self.conn
                                .execute_batch("ROLLBACK TO refusal; RELEASE refusal")?;
                            self.invalidate();
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// Answers a refused contact request with a signed, encrypted refusal on its topic, and
    /// remembers the device so the refusal is synced to it.
    fn refuse_contact_request(&mut self, bytes: &[u8], reason: &str) -> Result<()> {
        let env = Envelope::decode_verified(bytes)?;
        if !env.is_pairwise() || self.decrypt_pairwise(&env)?.is_none() {
            return Ok(());
        }
        let (topic, device) = (env.header.topic, env.header.author);
        let first: bool = self.exec(
            "INSERT OR IGNORE INTO refusals (topic, device) VALUES (?1, ?2)",
            params![topic.as_bytes(), device.0],
        )? > 0;
        tracing::debug!(%device, first, "refusing a contact request");
        if first {
            let content = PairwiseContent::ContactRefused {
                reason: reason.to_string(),
            };
            self.send_pairwise(topic, &[device], content)?;
            // The refused device now shares this topic with us, so the refusal reaches it.
            self.emit(crate::Event::ContactsChanged);
        }
        Ok(())
    }
}
