//! What a modified client can do that this one never does: sign any membership operation,
//! send any group's operations to anyone, write under a key it never shares. Only the tests
//! that perform attacks call these (through `Node::modified_client`), to show the attack
//! changes nothing on honest devices.
#![doc(hidden)]

use super::Engine;
use crate::crypto::group::Outbound;
use crate::envelope::content::{ChatKind, GroupContent, GroupPlain, PairwiseContent};
use crate::envelope::{Envelope, Header, VERSION};
use crate::error::{Error, Result};
use crate::ids::{AccountId, ChatId, DeviceId, MessageId, OpId};
use crate::membership::{Change, SignedOp};
use crate::wire;

impl Engine {
    /// Signs `change` with this device and sends it in a group envelope, without any check.
    /// `parents` defaults to this device's current heads.
    pub fn forge_member_op(
        &mut self,
        chat: &ChatId,
        change: Change,
        parents: Option<Vec<OpId>>,
        at: Option<u64>,
    ) -> Result<SignedOp> {
        let heads = self.group_state(chat)?.map(|s| s.heads).unwrap_or_default();
        let at = at.unwrap_or_else(|| self.hlc.now());
        let signed = self.send_member_op(chat, change, parents.unwrap_or(heads), at)?;
        // Applied here too, as the author would: where it breaks the rules, not even here.
        if let Ok(v) = signed.verify() {
            self.store_op(chat, &v)?;
            self.apply_membership(chat, false)?;
        }
        Ok(signed)
    }

    /// Encrypts any group content and sends it as this device; returns the envelope.
    pub fn send_raw_group_content(
        &mut self,
        chat: &ChatId,
        content: GroupContent,
    ) -> Result<Vec<u8>> {
        let topic = self.chat_topic(chat)?;
        let at = self.hlc.now();
        let seq = self.send_group(chat, topic, at, content)?;
        let device = self.me()?.id.device_id();
        Ok(self.qrow(
            "SELECT body FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq = ?3",
            rusqlite::params![topic.as_bytes(), device.0, seq as i64],
            |r| r.get(0),
        )?)
    }

    /// The operations of a group as this device holds them.
    pub fn member_ops(&self, chat: &ChatId) -> Result<Vec<SignedOp>> {
        Ok(self
            .group_ops(chat)?
            .into_iter()
            .map(|v| v.signed)
            .collect())
    }

    /// Sends `ops` as an invitation to `chat` over the contact channel with `account`.
    pub fn send_ops_to(
        &mut self,
        account: &AccountId,
        chat: &ChatId,
        ops: Vec<SignedOp>,
    ) -> Result<()> {
        let (channel, devices) = self.channel_of(account)?;
        self.send_pairwise(channel, &devices, PairwiseContent::Ops { chat: *chat, ops })?;
        Ok(())
    }

    /// Sends an invitation in the format from before membership operations.
    pub fn send_legacy_invite(&mut self, account: &AccountId, chat: &ChatId) -> Result<()> {
        let (channel, devices) = self.channel_of(account)?;
        let topic = self.chat_topic(chat)?;
        let content = PairwiseContent::ChatInvite {
            chat: *chat,
            topic,
            kind: ChatKind::Group,
            meta: Vec::new(),
        };
        self.send_pairwise(channel, &devices, content)?;
        Ok(())
    }

    /// Sends a message under a sender key number that is never shared with anyone.
    pub fn send_under_unshared_key(&mut self, chat: &ChatId, key_no: u32) -> Result<()> {
        let topic = self.chat_topic(chat)?;
        let device = self.me()?.id.device_id();
        let header = Header {
            version: VERSION,
            topic,
            author: device,
            seq: self.held(&topic, &device)? + 1,
            key: key_no,
        };
        let plain = wire::encode(&GroupPlain {
            topic,
            seq: header.seq,
            at: self.hlc.now(),
            content: GroupContent::Receipt {
                delivered: Vec::new(),
                read_at: None,
            },
        });
        let mut out = Outbound::generate();
        let env = Envelope::seal(header, out.encrypt(&plain), &self.me()?.id.device);
        self.store_own(&env)?;
        Ok(())
    }

    /// Presents a device bundle naming another Curve25519 key than this device's Olm identity
    /// key (until the engine reloads its identity).
    pub fn present_curve_key(&mut self, curve: [u8; 32]) -> Result<()> {
        let me = self.me_mut()?;
        me.bundle = crate::identity::DeviceBundle::new(&me.id, curve, me.olm.fallback_key());
        Ok(())
    }

    /// Forgets this device's sender key for a group so the next send shares a new one.
    pub fn drop_sender_key(&mut self, chat: &ChatId) -> Result<()> {
        let topic = self.chat_topic(chat)?;
        self.rotate_outbound(&topic)
    }

    fn channel_of(&self, account: &AccountId) -> Result<(crate::ids::TopicId, Vec<DeviceId>)> {
        let channel: Vec<u8> = self
            .qrow(
                "SELECT channel FROM contacts WHERE account = ?1",
                [account.0],
                |r| r.get(0),
            )
            .map_err(|_| Error::NotFound("not a contact".into()))?;
        let channel = crate::ids::TopicId::from_slice(&channel)
            .ok_or_else(|| Error::Corrupt("channel".into()))?;
        let mut st = self
            .conn
            .prepare_cached("SELECT device FROM devices WHERE account = ?1")?;
        let devices = st
            .query_map([account.0], |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|d| d.ok().and_then(|d| DeviceId::from_slice(&d)))
            .collect();
        Ok((channel, devices))
    }
}

impl Engine {
    /// Every mailbox tag secret this device ever knew: every topic's secret (chats it left or
    /// was removed from included) and every sender key's session mailbox secret, old and new.
    /// What an ex-member watching the public mailboxes with everything it kept would compute.
    pub fn every_mailbox_secret(&self) -> Result<Vec<crate::nostr::tags::TagSecret>> {
        use crate::nostr::tags::TagSecret;
        let mut out = Vec::new();
        let mut st = self
            .conn
            .prepare("SELECT secret FROM topics WHERE secret IS NOT NULL")?;
        for s in st.query_map([], |r| r.get::<_, Vec<u8>>(0))? {
            if let Ok(s) = <[u8; 32]>::try_from(s?.as_slice()) {
                out.push(TagSecret::for_topic(&s));
            }
        }
        let mut st = self
            .conn
            .prepare("SELECT mailbox FROM group_in WHERE mailbox IS NOT NULL")?;
        let sealed: Vec<Vec<u8>> = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for s in sealed {
            let m = self.open_mailbox_secret(&s)?;
            out.push(TagSecret::for_session(&m));
            out.push(TagSecret::for_inbox(&m));
        }
        Ok(out)
    }
}

impl Engine {
    /// My envelopes waiting to be deposited on public mailboxes, with the secret of the tag
    /// each goes under: for a test that deposits them as if at another time (a week ago).
    pub fn pending_mailbox_deposits(
        &self,
    ) -> Result<Vec<(crate::nostr::tags::TagSecret, Vec<Vec<u8>>)>> {
        Ok(self
            .nostr_pending(&Default::default(), 10_000)?
            .into_iter()
            .flat_map(|p| p.groups)
            .collect())
    }

    /// Sets when this device last fetched from a mailbox relay (unix seconds), as if it had
    /// been away since.
    pub fn set_mailbox_fetched(&mut self, relay: &str, at: u64) -> Result<()> {
        self.exec(
            "INSERT INTO nostr_fetched (relay, at) VALUES (?1, ?2)
             ON CONFLICT (relay) DO UPDATE SET at = ?2",
            rusqlite::params![relay, at as i64],
        )?;
        Ok(())
    }

    /// A modified client that wants a blob it was never given: it files `r` under one of its
    /// own old messages, so its fetcher asks members for it.
    pub fn plant_attachment(
        &mut self,
        message: &MessageId,
        r: &crate::blob::BlobRef,
    ) -> Result<()> {
        self.exec(
            "INSERT OR REPLACE INTO attachments (message, blob, ref) VALUES (?1, ?2, ?3)",
            rusqlite::params![message.as_bytes(), r.id.0, r.encode()],
        )?;
        self.exec(
            "INSERT OR REPLACE INTO blobs (id, size, chunks, wanted, added_at) VALUES (?1, ?2, ?3, 1, 0)",
            rusqlite::params![r.id.0, r.size as i64, r.chunks()],
        )?;
        Ok(())
    }
}
