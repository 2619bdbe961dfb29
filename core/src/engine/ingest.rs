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

/// Envelopes past its removal cut still taken from a removed device, for their membership
/// operations only: a member removed while removing someone else concurrently sent a key share
/// and the operation after the cut the other side chose, and "removals win" needs every device
/// to see that operation. Anything else past the cut is skipped; more is refused.
pub const REMOVED_WINDOW: u64 = 16;

/// Devices told why their contact request was refused, per invite: an honest person retrying
/// an old code needs one; a stranger with a thousand identities gets no more than this many.
pub const MAX_REFUSALS_PER_TOPIC: i64 = 4;
/// How long a refused device may sync the topic of its refusal, and how long a closed invite's
/// topic stays open for refusals: long enough for the person to come online, not forever.
pub const REFUSAL_SECS: u64 = 3 * 24 * 3600;

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

    pub(crate) fn account_of(&self, device: &DeviceId) -> Result<Option<AccountId>> {
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
            // A contact request for us, and nothing else: what is not addressed to this
            // device would otherwise be kept (and synced) for a stranger.
            TopicKind::Invite if env.is_pairwise() => {
                let me = self.me()?.id.device_id();
                if env.pairwise_parts()?.iter().any(|p| p.to == me) {
                    Ok(())
                } else {
                    Err(EnvError::NotMember.into())
                }
            }
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
                    Some(Some(cut))
                        if env.header.seq <= (cut as u64).saturating_add(REMOVED_WINDOW) =>
                    {
                        Ok(())
                    }
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
        self.retry_undecryptable(topic, author)?;
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
            let mut result = if early {
                Ok(())
            } else {
                self.apply_content(&env)
            };
            if matches!(result, Err(Error::Crypto(CryptoError::MissingKey)))
                && !env.is_pairwise()
                && self.read_keys_ahead(topic, author, seq as u64, env.header.key)?
            {
                result = self.apply_content(&env);
            }
            match result {
                Ok(()) => {}
                Err(Error::Crypto(CryptoError::MissingKey)) => {
                    if env.is_pairwise()
                        || !self.holds_other_key(&topic, &author, env.header.key)?
                    {
                        return Ok(()); // the first key of this sender may still be on its way
                    }
                    // The sender went on with a key we hold: this one is not coming. Skip the
                    // envelope (and try it again if the key does arrive) rather than hold every
                    // later envelope of the sender behind it.
                    tracing::info!(topic = %topic, author = %author, seq, "giving up on a missing sender key");
                    self.exec(
                        "INSERT OR IGNORE INTO undecryptable (topic, author, seq, key_no) VALUES (?1, ?2, ?3, ?4)",
                        params![topic.as_bytes(), author.0, seq, env.header.key as i64],
                    )?;
                    self.emit(crate::Event::ChatsChanged);
                }
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
    /// forever: read the author's later pairwise envelopes now (each once: it is marked read
    /// early and skipped when its turn comes). Returns whether key `need` is now held.
    ///
    /// This never loops: a key share that can be decrypted again (an Olm pre-key message to
    /// the kept fallback key) is not read twice, and a key already held wakes nobody.
    fn read_keys_ahead(
        &mut self,
        topic: TopicId,
        author: DeviceId,
        after: u64,
        need: u32,
    ) -> Result<bool> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, body FROM envelopes e WHERE topic = ?1 AND author = ?2 AND seq > ?3
             AND NOT EXISTS (SELECT 1 FROM read_early r WHERE r.topic = e.topic AND r.author = e.author AND r.seq = e.seq)
             ORDER BY seq",
        )?;
        let later: Vec<(i64, Vec<u8>)> = st
            .query_map(params![topic.as_bytes(), author.0, after as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        drop(st);
        let me = self.me()?.id.device_id();
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
            if let Err(e) = self.isolated(|eng| eng.apply_one(&env)) {
                tracing::warn!(topic = %topic, author = %author, seq, error = %e, "skipping envelope content read early");
            }
        }
        Ok(self.qrow(
            "SELECT EXISTS (SELECT 1 FROM group_in WHERE topic = ?1 AND device = ?2 AND key_no = ?3)",
            params![topic.as_bytes(), author.0, need as i64],
            |r| r.get(0),
        )?)
    }

    /// Does this device hold a sender key of `author` in `topic` other than `key`?
    fn holds_other_key(&self, topic: &TopicId, author: &DeviceId, key: u32) -> Result<bool> {
        Ok(self.qrow(
            "SELECT EXISTS (SELECT 1 FROM group_in WHERE topic = ?1 AND device = ?2 AND key_no != ?3)",
            params![topic.as_bytes(), author.0, key as i64],
            |r| r.get(0),
        )?)
    }

    /// Envelopes given up for a missing key whose key has since arrived: applied now.
    fn retry_undecryptable(&mut self, topic: TopicId, author: DeviceId) -> Result<()> {
        let mut st = self.conn.prepare_cached(
            "SELECT u.seq FROM undecryptable u JOIN group_in g
             ON g.topic = u.topic AND g.device = u.author AND g.key_no = u.key_no
             WHERE u.topic = ?1 AND u.author = ?2",
        )?;
        let seqs: Vec<i64> = st
            .query_map(params![topic.as_bytes(), author.0], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(st);
        for seq in seqs {
            self.exec(
                "DELETE FROM undecryptable WHERE topic = ?1 AND author = ?2 AND seq = ?3",
                params![topic.as_bytes(), author.0, seq],
            )?;
            let body: Option<Vec<u8>> = self
                .conn
                .query_row(
                    "SELECT body FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq = ?3",
                    params![topic.as_bytes(), author.0, seq],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(env) = body.and_then(|b| Envelope::decode(&b).ok()) else {
                continue;
            };
            if let Err(e) = self.isolated(|eng| eng.apply_one(&env)) {
                tracing::warn!(topic = %topic, author = %author, seq, error = %e, "skipping envelope content");
            }
            self.emit(crate::Event::ChatsChanged);
        }
        Ok(())
    }

    /// [`Engine::apply_one`] inside a savepoint: content that breaks a rule leaves no trace.
    fn apply_content(&mut self, env: &Envelope) -> Result<()> {
        self.isolated(|eng| eng.apply_one(env))
    }

    /// Runs `f` inside a savepoint, rolled back if it fails.
    fn isolated(&mut self, f: impl FnOnce(&mut Engine) -> Result<()>) -> Result<()> {
        self.exec("SAVEPOINT content", [])?;
        match f(self) {
            Ok(()) => {
                self.exec("RELEASE content", [])?;
                Ok(())
            }
            Err(e) => {
                self.conn
                    .execute_batch("ROLLBACK TO content; RELEASE content")?;
                Err(e)
            }
        }
    }

    fn apply_one(&mut self, env: &Envelope) -> Result<()> {
        if env.header.author == self.me()?.id.device_id() {
            return Ok(()); // our own, applied when we wrote it
        }
        let kind = self
            .topic_kind(&env.header.topic)?
            .ok_or(EnvError::UnknownTopic)?;
        let past_cut = match &kind {
            TopicKind::Chat(chat) => self.past_removal_cut(chat, env)?,
            _ => false,
        };
        if env.is_pairwise() {
            let Some(plain) = self.decrypt_pairwise(env)? else {
                return Ok(());
            };
            if past_cut
                && !matches!(
                    plain.content,
                    PairwiseContent::RoomKey { .. } | PairwiseContent::RoomKeyV2 { .. }
                )
            {
                return Ok(());
            }
            return self.on_pairwise(&kind, env, plain.content);
        }
        let TopicKind::Chat(chat) = kind else {
            return Err(EnvError::NotMember.into());
        };
        let plain = self.decrypt_group(env)?;
        if past_cut && !matches!(plain.content, GroupContent::Member { .. }) {
            return Ok(());
        }
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
            GroupContent::Member { op } => {
                self.on_member_op(&chat, env.header.author, env.header.seq, &op)
            }
        }
    }

    /// The sender's Curve25519 identity key in this device's part of a pairwise envelope, when
    /// that part is an Olm pre-key message.
    fn prekey_identity(&self, env: &Envelope) -> Result<Option<[u8; 32]>> {
        let me = self.me()?.id.device_id();
        let parts = env.pairwise_parts()?;
        let Some(part) = parts.iter().find(|p| p.to == me) else {
            return Ok(None);
        };
        Ok(
            match crate::crypto::pairwise::parse_message(part.kind, &part.body)? {
                vodozemac::olm::OlmMessage::PreKey(pre) => Some(pre.identity_key().to_bytes()),
                _ => None,
            },
        )
    }

    /// Is this envelope past its author's removal cut (inside [`REMOVED_WINDOW`])?
    fn past_removal_cut(&self, chat: &ChatId, env: &Envelope) -> Result<bool> {
        let cut: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT removed_after FROM members WHERE chat = ?1 AND device = ?2",
                params![chat.as_bytes(), env.header.author.0],
                |r| r.get(0),
            )
            .optional()?;
        Ok(matches!(cut, Some(Some(c)) if env.header.seq > c as u64))
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
                // The channel was opened with the identity key in the Olm pre-key message; the
                // bundle must name the same key, or later messages would go to another one.
                let PairwiseContent::ContactRequest { bundle, .. } = &req else {
                    return Err(Error::Invalid("not a contact request".into()));
                };
                if self.prekey_identity(env)? != Some(bundle.curve_key) {
                    return Err(Error::Invalid(
                        "contact request whose keys do not match its channel".into(),
                    ));
                }
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
            (TopicKind::Channel(peer), PairwiseContent::Ops { chat, ops }) => {
                self.on_ops(chat, &ops, author, Some(*peer))
            }
            (TopicKind::Chat(c), PairwiseContent::Ops { chat, ops }) if chat == *c => {
                self.on_ops(chat, &ops, author, None)
            }
            (_, PairwiseContent::ChatInvite { .. }) => Err(Error::NotAllowed(
                "a group invitation from an older Hearth: membership is now signed operations"
                    .into(),
            )),
            (
                TopicKind::Chat(chat),
                PairwiseContent::RoomKey {
                    chat: c,
                    key,
                    session_key,
                },
            ) if c == *chat => {
                let inbound = crate::crypto::group::Inbound::from_session_key(&session_key)?;
                self.save_inbound(env.header.topic, author, key, &inbound, None)
            }
            (
                TopicKind::Chat(chat),
                PairwiseContent::RoomKeyV2 {
                    chat: c,
                    key,
                    session_key,
                    mailbox,
                },
            ) if c == *chat => {
                let inbound = crate::crypto::group::Inbound::from_session_key(&session_key)?;
                self.save_inbound(env.header.topic, author, key, &inbound, Some(&mailbox))
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
        if key == DocKey::Meta {
            // Title and members are signed membership operations; a meta document update
            // could otherwise say anything about anyone.
            return Err(Error::NotAllowed(
                "meta document updates are not accepted".into(),
            ));
        }
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
        doc::check_continues(&d, &update)?;
        if let Err(e) = doc::apply(&d, update) {
            self.docs.clear();
            return Err(e.into());
        }
        match key {
            DocKey::Meta => Ok(()),
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
                if matches!(e, Error::Envelope(EnvError::Equivocation)) {
                    self.record_equivocation(bytes)?;
                }
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

    /// Remembers that an envelope's author equivocated, and says so (once per seq).
    fn record_equivocation(&mut self, bytes: &[u8]) -> Result<()> {
        let env = Envelope::decode_verified(bytes)?;
        let h = env.header;
        let first = self.exec(
            "INSERT OR IGNORE INTO equivocations (topic, author, seq, seen_at) VALUES (?1, ?2, ?3, ?4)",
            params![h.topic.as_bytes(), h.author.0, h.seq as i64, self.now_secs() as i64],
        )? > 0;
        if first {
            tracing::warn!(author = %h.author, seq = h.seq, "a device sent two different envelopes under one seq");
            self.emit(crate::Event::ContactsChanged);
        }
        Ok(())
    }

    /// Answers a refused contact request with a signed, encrypted refusal on its topic, and
    /// remembers the device so the refusal is synced to it.
    fn refuse_contact_request(&mut self, bytes: &[u8], reason: &str) -> Result<()> {
        let env = Envelope::decode_verified(bytes)?;
        if !env.is_pairwise() || self.decrypt_pairwise(&env)?.is_none() {
            return Ok(());
        }
        let (topic, device) = (env.header.topic, env.header.author);
        let given: i64 = self.qrow(
            "SELECT COUNT(*) FROM refusals WHERE topic = ?1",
            [topic.as_bytes()],
            |r| r.get(0),
        )?;
        if given >= MAX_REFUSALS_PER_TOPIC {
            return Ok(()); // enough strangers have been told; the rest learn nothing
        }
        let first: bool = self.exec(
            "INSERT OR IGNORE INTO refusals (topic, device, created_at) VALUES (?1, ?2, ?3)",
            params![topic.as_bytes(), device.0, self.now_secs() as i64],
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
