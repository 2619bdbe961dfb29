//! Sending: sequence numbers, Olm channels, Megolm sessions, and storing our own envelopes.
//!
//! Outbound Megolm sessions are cached and their pickles written once per batch, just before
//! the commit ([`Engine::flush_sessions`]): inside one transaction that is the same as writing
//! after every encryption, and a crash before the commit loses the envelopes too, so no
//! message index is ever used twice for different content that anyone has seen.

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::crypto::group::{Inbound, Outbound};
use crate::crypto::pairwise::{parse_message, Channel};
use crate::crypto::Error as CryptoError;
use crate::envelope::content::{GroupContent, GroupPlain, PairwiseContent, PairwisePlain};
use crate::envelope::{Envelope, Header, PairwisePart, PAIRWISE_KEY, VERSION};
use crate::error::{Error, Result};
use crate::identity::DeviceBundle;
use crate::ids::{ChatId, DeviceId, TopicId};
use crate::wire;

/// Room for the parts of one pairwise envelope, leaving the rest of
/// [`crate::envelope::MAX_ENVELOPE_BYTES`] to the header, signature and framing.
pub const PAIRWISE_BUDGET: usize = crate::envelope::MAX_ENVELOPE_BYTES - 1024;

fn pairwise_plain(topic: TopicId, seq: u64, content: &PairwiseContent) -> Vec<u8> {
    wire::encode(&PairwisePlain {
        topic,
        seq,
        content: content.clone(),
    })
}

/// A part's encoded size, with room for its framing.
fn part_size(p: &PairwisePart) -> usize {
    p.body.len() + 48
}

impl Engine {
    pub(crate) fn held(&self, topic: &TopicId, author: &DeviceId) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT held FROM heads WHERE topic = ?1 AND author = ?2",
                params![topic.as_bytes(), author.0],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Stores an envelope this device just authored (seq = held + 1) as held and applied.
    pub(crate) fn store_own(&mut self, env: &Envelope) -> Result<()> {
        let h = &env.header;
        self.exec(
            "INSERT INTO envelopes (topic, author, seq, body) VALUES (?1, ?2, ?3, ?4)",
            params![h.topic.as_bytes(), h.author.0, h.seq as i64, env.encode()],
        )?;
        self.exec(
            "INSERT INTO heads (topic, author, held, applied) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (topic, author) DO UPDATE SET held = ?3, applied = ?3",
            params![h.topic.as_bytes(), h.author.0, h.seq as i64],
        )?;
        self.emit(crate::Event::EnvelopesAdded { topic: h.topic });
        Ok(())
    }

    fn next_header(&self, topic: TopicId, key: u32) -> Result<Header> {
        let author = self.me()?.id.device_id();
        Ok(Header {
            version: VERSION,
            topic,
            author,
            seq: self.held(&topic, &author)? + 1,
            key,
        })
    }

    /// Sends pairwise content to each of `to` on `topic`: one envelope, or as many as it takes
    /// for each to stay under [`PAIRWISE_BUDGET`] (a key share to a large group). Returns the
    /// seq of the last.
    pub(crate) fn send_pairwise(
        &mut self,
        topic: TopicId,
        to: &[DeviceId],
        content: PairwiseContent,
    ) -> Result<u64> {
        let mut header = self.next_header(topic, PAIRWISE_KEY)?;
        let mut plain = pairwise_plain(topic, header.seq, &content);
        let mut parts: Vec<PairwisePart> = Vec::with_capacity(to.len());
        let mut size = 0;
        for dev in to {
            let mut part = self.encrypt_part(dev, &plain)?;
            if !parts.is_empty() && size + part_size(&part) > PAIRWISE_BUDGET {
                self.seal_pairwise(header, std::mem::take(&mut parts))?;
                header = self.next_header(topic, PAIRWISE_KEY)?;
                plain = pairwise_plain(topic, header.seq, &content);
                // The part was made for the previous envelope's seq: make it again.
                part = self.encrypt_part(dev, &plain)?;
                size = 0;
            }
            size += part_size(&part);
            parts.push(part);
        }
        self.seal_pairwise(header, parts)?;
        Ok(header.seq)
    }

    fn encrypt_part(&mut self, dev: &DeviceId, plain: &[u8]) -> Result<PairwisePart> {
        let mut ch = self.channel_for(dev)?;
        let (kind, body) = ch.encrypt(plain)?;
        self.save_channel(dev, &ch)?;
        Ok(PairwisePart {
            to: *dev,
            kind,
            body,
        })
    }

    fn seal_pairwise(&mut self, header: Header, parts: Vec<PairwisePart>) -> Result<()> {
        let env = Envelope::seal(header, wire::encode(&parts), &self.me()?.id.device);
        self.store_own(&env)
    }

    /// Encrypts group content with this device's sender key for the topic.
    pub(crate) fn send_group(
        &mut self,
        chat: &ChatId,
        topic: TopicId,
        at: u64,
        content: GroupContent,
    ) -> Result<u64> {
        self.ensure_outbound(chat, topic)?;
        let key_no = self.out_sessions.get(&topic).map(|s| s.0).unwrap_or(1);
        let header = self.next_header(topic, key_no)?;
        let plain = wire::encode(&GroupPlain {
            topic,
            seq: header.seq,
            at,
            content,
        });
        let ciphertext = match self.out_sessions.get_mut(&topic) {
            Some((_, out, dirty)) => {
                *dirty = true;
                out.encrypt(&plain)
            }
            None => return Err(CryptoError::MissingKey.into()),
        };
        let env = Envelope::seal(header, ciphertext, &self.me()?.id.device);
        self.store_own(&env)?;
        Ok(header.seq)
    }

    /// Loads or creates this device's outbound session for a conversation. A new session's
    /// key goes to every current member device first, in a pairwise envelope on the topic.
    pub(crate) fn ensure_outbound(&mut self, chat: &ChatId, topic: TopicId) -> Result<()> {
        if self.out_sessions.contains_key(&topic) {
            return Ok(());
        }
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT key_no, pickle FROM group_out WHERE topic = ?1",
                [topic.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((key_no, pickle)) = row {
            let out = Outbound::from_pickle(&pickle, self.key.pickle_key())?;
            self.out_sessions.insert(topic, (key_no as u32, out, false));
            return Ok(());
        }
        let last: i64 = self.qrow(
            "SELECT COALESCE(MAX(key_no), 0) FROM group_in WHERE topic = ?1 AND device = ?2",
            params![topic.as_bytes(), self.me()?.id.device_id().0],
            |r| r.get(0),
        )?;
        let key_no = last as u32 + 1;
        let out = Outbound::generate();
        let session_key = out.session_key();
        // Keep an inbound copy: our own envelopes must stay readable for re-projection.
        let inbound = Inbound::from_session_key(&session_key)?;
        let me = self.me()?.id.device_id();
        let recipients = self.other_member_devices(chat)?;
        // The session mailbox secret (nostr::tags) goes with the key in a RoomKeyV2. A key
        // handed over in the contact handshake (no recipients yet) has none, and its messages
        // wait on Nostr relays under the topic's tag: every holder of the key must know where.
        let mailbox: Option<[u8; 32]> = (!recipients.is_empty()).then(rand::random);
        self.save_inbound(topic, me, key_no, &inbound, mailbox.as_ref())?;
        self.exec(
            "INSERT INTO group_out (topic, key_no, pickle, mailbox) VALUES (?1, ?2, ?3, ?4)",
            params![
                topic.as_bytes(),
                key_no as i64,
                out.pickle(self.key.pickle_key()),
                mailbox.map(|m| self.key.seal(&m)),
            ],
        )?;
        self.out_sessions.insert(topic, (key_no, out, false));
        if let Some(mailbox) = mailbox {
            self.send_pairwise(
                topic,
                &recipients,
                PairwiseContent::RoomKeyV2 {
                    chat: *chat,
                    key: key_no,
                    session_key,
                    mailbox,
                },
            )?;
        }
        Ok(())
    }

    /// Shares this device's current sender key for a conversation with new member devices.
    pub(crate) fn share_current_key(
        &mut self,
        chat: &ChatId,
        topic: TopicId,
        to: &[DeviceId],
    ) -> Result<()> {
        if to.is_empty() {
            return Ok(());
        }
        let has: bool = self.out_sessions.contains_key(&topic)
            || self.qrow(
                "SELECT EXISTS (SELECT 1 FROM group_out WHERE topic = ?1)",
                [topic.as_bytes()],
                |r| r.get(0),
            )?;
        if !has {
            return Ok(()); // the key goes to everyone when the session is created
        }
        self.ensure_outbound(chat, topic)?;
        let Some((key_no, out, _)) = self.out_sessions.get(&topic) else {
            return Ok(());
        };
        let (key_no, session_key) = (*key_no, out.session_key());
        let content = match self.session_mailbox(&topic)? {
            Some(mailbox) => PairwiseContent::RoomKeyV2 {
                chat: *chat,
                key: key_no,
                session_key,
                mailbox,
            },
            None => PairwiseContent::RoomKey {
                chat: *chat,
                key: key_no,
                session_key,
            },
        };
        self.send_pairwise(topic, to, content)?;
        Ok(())
    }

    /// The mailbox secret of this device's current sender key for a topic, if it has one.
    pub(crate) fn session_mailbox(&self, topic: &TopicId) -> Result<Option<[u8; 32]>> {
        let sealed: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT mailbox FROM group_out WHERE topic = ?1",
                [topic.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        match sealed.flatten() {
            Some(b) => Ok(Some(self.open_mailbox_secret(&b)?)),
            None => Ok(None),
        }
    }

    /// A stored session mailbox secret, opened with the store key.
    pub(crate) fn open_mailbox_secret(&self, sealed: &[u8]) -> Result<[u8; 32]> {
        let plain = self.key.open(sealed)?;
        plain
            .as_slice()
            .try_into()
            .map_err(|_| crate::Error::Corrupt("session mailbox secret".into()))
    }

    /// Forgets this device's sender key for a topic; the next send creates and shares a new one
    /// with the current members only.
    pub(crate) fn rotate_outbound(&mut self, topic: &TopicId) -> Result<()> {
        self.out_sessions.remove(topic);
        self.conn
            .execute("DELETE FROM group_out WHERE topic = ?1", [topic.as_bytes()])?;
        Ok(())
    }

    pub(crate) fn flush_sessions(&mut self) -> Result<()> {
        let key = *self.key.pickle_key();
        for (topic, (key_no, out, dirty)) in self.out_sessions.iter_mut() {
            if *dirty {
                self.conn
                    .prepare_cached(
                        "UPDATE group_out SET pickle = ?3 WHERE topic = ?1 AND key_no = ?2",
                    )?
                    .execute(params![topic.as_bytes(), *key_no as i64, out.pickle(&key)])?;
                *dirty = false;
            }
        }
        Ok(())
    }

    pub(crate) fn save_inbound(
        &mut self,
        topic: TopicId,
        device: DeviceId,
        key_no: u32,
        s: &Inbound,
        mailbox: Option<&[u8; 32]>,
    ) -> Result<()> {
        let mailbox = mailbox.map(|m| self.key.seal(m));
        let inserted = self.exec(
            "INSERT INTO group_in (topic, device, key_no, pickle, mailbox) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (topic, device, key_no) DO NOTHING",
            params![
                topic.as_bytes(),
                device.0,
                key_no as i64,
                s.pickle(self.key.pickle_key()),
                mailbox,
            ],
        )? > 0;
        if !inserted {
            if let Some(m) = mailbox {
                // The same key came first without its mailbox secret (in the contact
                // handshake): only its author's own signed share can add it.
                self.exec(
                    "UPDATE group_in SET mailbox = ?4
                     WHERE topic = ?1 AND device = ?2 AND key_no = ?3 AND mailbox IS NULL",
                    params![topic.as_bytes(), device.0, key_no as i64, m],
                )?;
            }
        }
        // Only a key we did not have can unblock anything; waking on a repeated share would
        // let a replayable one keep the writer busy forever.
        if inserted {
            self.wake.push((topic, device));
        }
        Ok(())
    }

    /// Decrypts a group envelope with the author's inbound session.
    pub(crate) fn decrypt_group(&mut self, env: &Envelope) -> Result<GroupPlain> {
        let h = env.header;
        let k = (h.topic, h.author, h.key);
        if !self.in_sessions.contains_key(&k) {
            let pickle: Option<String> = self
                .conn
                .query_row(
                    "SELECT pickle FROM group_in WHERE topic = ?1 AND device = ?2 AND key_no = ?3",
                    params![h.topic.as_bytes(), h.author.0, h.key as i64],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(p) = pickle else {
                return Err(CryptoError::MissingKey.into());
            };
            self.in_sessions
                .insert(k, Inbound::from_pickle(&p, self.key.pickle_key())?);
        }
        let Some(s) = self.in_sessions.get_mut(&k) else {
            return Err(CryptoError::MissingKey.into());
        };
        let plain = s.decrypt(&env.ciphertext)?;
        let g: GroupPlain = wire::decode(&plain, crate::envelope::content::MAX_CONTENT_BYTES)
            .map_err(crate::envelope::Error::from)?;
        if g.topic != h.topic || g.seq != h.seq {
            return Err(crate::envelope::Error::HeaderMismatch.into());
        }
        Ok(g)
    }

    /// Decrypts this device's part of a pairwise envelope; None if it has no part for us.
    pub(crate) fn decrypt_pairwise(&mut self, env: &Envelope) -> Result<Option<PairwisePlain>> {
        let me = self.me()?.id.device_id();
        let parts = env.pairwise_parts()?;
        let Some(part) = parts.into_iter().find(|p| p.to == me) else {
            return Ok(None);
        };
        let msg = parse_message(part.kind, &part.body)?;
        let author = env.header.author;
        let mut plain = None;
        for (sid, mut ch) in self.channels(&author)? {
            if let Ok(p) = ch.decrypt(&msg) {
                self.save_channel(&author, &ch)?;
                let _ = sid;
                plain = Some(p);
                break;
            }
        }
        let plain = match plain {
            Some(p) => p,
            None => {
                let curve = self.curve_key_of(&author, env)?;
                let (ch, p) = self.me_mut()?.olm.open_inbound(&curve, &msg)?;
                self.save_olm_account()?;
                self.save_channel(&author, &ch)?;
                p
            }
        };
        let pw: PairwisePlain = wire::decode(&plain, crate::envelope::content::MAX_CONTENT_BYTES)
            .map_err(crate::envelope::Error::from)?;
        if pw.topic != env.header.topic || pw.seq != env.header.seq {
            return Err(crate::envelope::Error::HeaderMismatch.into());
        }
        Ok(Some(pw))
    }

    /// The Curve25519 key of a device: from its known bundle. A device we have never heard of
    /// can only open a channel with a contact request, whose bundle is inside the encrypted
    /// content; Olm's pre-key message carries the sender's identity key for exactly this case.
    fn curve_key_of(&self, device: &DeviceId, env: &Envelope) -> Result<[u8; 32]> {
        if let Some(b) = self.bundle_of(device)? {
            return Ok(b.curve_key);
        }
        let me = self.me()?.id.device_id();
        let parts = env.pairwise_parts()?;
        let part = parts
            .iter()
            .find(|p| p.to == me)
            .ok_or(CryptoError::MissingKey)?;
        match parse_message(part.kind, &part.body)? {
            vodozemac::olm::OlmMessage::PreKey(pre) => Ok(pre.identity_key().to_bytes()),
            _ => Err(CryptoError::Channel("no channel with this device".into()).into()),
        }
    }

    pub(crate) fn bundle_of(&self, device: &DeviceId) -> Result<Option<DeviceBundle>> {
        let b: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT bundle FROM devices WHERE device = ?1",
                [device.0],
                |r| r.get(0),
            )
            .optional()?;
        Ok(b.and_then(|b| wire::decode(&b, 4096).ok()))
    }

    pub(crate) fn remember_device(&mut self, b: &DeviceBundle) -> Result<()> {
        if !b.verify() {
            return Err(Error::Invalid("a device bundle does not verify".into()));
        }
        self.exec(
            "INSERT INTO devices (device, account, bundle) VALUES (?1, ?2, ?3)
             ON CONFLICT (device) DO UPDATE SET bundle = ?3 WHERE account = ?2",
            params![b.device.0, b.account.0, wire::encode(b)],
        )?;
        Ok(())
    }

    fn channels(&self, device: &DeviceId) -> Result<Vec<(String, Channel)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT session_id, pickle FROM olm_sessions WHERE device = ?1 ORDER BY last_used DESC",
        )?;
        let rows = st.query_map([device.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (sid, p) = row?;
            out.push((sid, Channel::from_pickle(&p, self.key.pickle_key())?));
        }
        Ok(out)
    }

    fn channel_for(&mut self, device: &DeviceId) -> Result<Channel> {
        if let Some((_, ch)) = self.channels(device)?.into_iter().next() {
            return Ok(ch);
        }
        let b = self
            .bundle_of(device)?
            .ok_or_else(|| Error::NotFound("no keys for this device".into()))?;
        Ok(self
            .me()?
            .olm
            .open_outbound(&b.curve_key, &b.fallback_key)?)
    }

    fn save_channel(&mut self, device: &DeviceId, ch: &Channel) -> Result<()> {
        let now = self.hlc.now() as i64;
        self.exec(
            "INSERT INTO olm_sessions (device, session_id, pickle, last_used) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, session_id) DO UPDATE SET pickle = ?3, last_used = ?4",
            params![device.0, ch.id(), ch.pickle(self.key.pickle_key()), now],
        )?;
        Ok(())
    }

    /// Current member devices of a conversation other than this one.
    pub(crate) fn other_member_devices(&self, chat: &ChatId) -> Result<Vec<DeviceId>> {
        let me = self.me()?.id.device_id();
        let mut st = self.conn.prepare_cached(
            "SELECT device FROM members WHERE chat = ?1 AND removed_after IS NULL AND device != ?2",
        )?;
        let rows = st.query_map(params![chat.as_bytes(), me.0], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(d) = DeviceId::from_slice(&r?) {
                out.push(d);
            }
        }
        Ok(out)
    }
}
