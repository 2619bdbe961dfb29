//! What the Nostr mailbox task ([`crate::nostr`]) asks of the store: where to look for mail
//! (every tag secret this device knows), which of my own envelopes still wait to be deposited
//! and under which tag, and what the relays acknowledged.
//!
//! These run on the engine because session mailbox secrets are sealed with the store key.

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension};

use super::Engine;
use crate::envelope::{Envelope, PAIRWISE_KEY};
use crate::error::Result;
use crate::ids::{DeviceId, TopicId};
use crate::nostr::tags::TagSecret;

/// Own envelopes waiting to be deposited for one topic, grouped by the tag they go under (a
/// pairwise envelope for several recipients is in each one's inbox).
pub struct Pending {
    pub topic: TopicId,
    /// The highest seq this covers.
    pub upto: u64,
    /// Every member device is connected: nothing to deposit, the mark only moves on.
    pub skip: bool,
    pub groups: Vec<(TagSecret, Vec<Vec<u8>>)>,
}

/// Live topics with secrets: chats not left, channels with unblocked contacts, open invites.
const LIVE_TOPICS: &str = "
    SELECT t.topic, t.secret, t.kind, t.chat, t.peer FROM topics t
    LEFT JOIN chats ch ON ch.chat = t.chat
    LEFT JOIN invites i ON i.topic = t.topic
    WHERE t.secret IS NOT NULL AND (
        (t.kind = 'chat' AND ch.left_chat = 0)
     OR (t.kind = 'channel' AND NOT EXISTS
            (SELECT 1 FROM contacts k WHERE k.account = t.peer AND k.blocked = 1))
     OR (t.kind = 'invite' AND i.state = 'open'
            AND i.expires_at > CAST(strftime('%s', 'now') AS INTEGER)))";

type LiveTopic = (Vec<u8>, Vec<u8>, String, Option<Vec<u8>>, Option<Vec<u8>>);

impl Engine {
    fn live_topics(&self) -> Result<Vec<LiveTopic>> {
        let mut st = self.conn.prepare_cached(LIVE_TOPICS)?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every tag secret to look for mail under: each live topic's; the session tags of every
    /// other device's three newest sender keys in each (a key rotated while we were away still
    /// has messages under the older ones); and my inbox under my own three newest (a sender
    /// may not have learnt my newest yet).
    pub(crate) fn nostr_watch(&self) -> Result<Vec<TagSecret>> {
        let me = self.me()?.id.device_id();
        let mut out = Vec::new();
        let mut chats = Vec::new();
        for (topic, secret, kind, _, _) in self.live_topics()? {
            if let Ok(s) = <[u8; 32]>::try_from(secret.as_slice()) {
                out.push(TagSecret::for_topic(&s));
            }
            if kind == "chat" {
                chats.push(topic);
            }
        }
        let mut st = self.conn.prepare_cached(
            "SELECT device, mailbox FROM (
                SELECT device, mailbox,
                       ROW_NUMBER() OVER (PARTITION BY device ORDER BY key_no DESC) AS n
                FROM group_in WHERE topic = ?1 AND mailbox IS NOT NULL)
             WHERE n <= 3",
        )?;
        for topic in chats {
            let rows: Vec<(Vec<u8>, Vec<u8>)> = st
                .query_map([topic], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (device, sealed) in rows {
                let m = self.open_mailbox_secret(&sealed)?;
                if device == me.0 {
                    // My own keys: where pairwise envelopes for me wait (my inbox).
                    out.push(TagSecret::for_inbox(&m));
                } else {
                    out.push(TagSecret::for_session(&m));
                }
            }
        }
        Ok(out)
    }

    /// My own envelopes not yet deposited (at most `max` per topic), for the topics where some
    /// member device is not among `connected`.
    pub(crate) fn nostr_pending(
        &self,
        connected: &HashSet<DeviceId>,
        max: usize,
    ) -> Result<Vec<Pending>> {
        let me = self.me()?.id.device_id();
        let mut out = Vec::new();
        let mut members = self.conn.prepare_cached(
            "SELECT device FROM members WHERE chat = ?1 AND removed_after IS NULL AND device != ?2",
        )?;
        let mut devices = self
            .conn
            .prepare_cached("SELECT device FROM devices WHERE account = ?1")?;
        let mut envs = self.conn.prepare_cached(
            "SELECT seq, body FROM envelopes WHERE topic = ?1 AND author = ?2 AND seq > ?3
             ORDER BY seq LIMIT ?4",
        )?;
        for (topic, secret, kind, chat, peer) in self.live_topics()? {
            let (Some(topic_id), Ok(secret)) = (
                TopicId::from_slice(&topic),
                <[u8; 32]>::try_from(secret.as_slice()),
            ) else {
                continue;
            };
            let held: u64 = self
                .conn
                .query_row(
                    "SELECT held FROM heads WHERE topic = ?1 AND author = ?2",
                    params![topic, me.0],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .unwrap_or(0) as u64;
            let done: u64 = self
                .conn
                .query_row(
                    "SELECT seq FROM nostr_deposited WHERE topic = ?1",
                    [&topic],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .unwrap_or(0) as u64;
            if held <= done {
                continue;
            }
            let targets: Vec<Vec<u8>> = match (kind.as_str(), chat, peer) {
                ("chat", Some(chat), _) => members
                    .query_map(params![chat, me.0], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?,
                ("channel", _, Some(peer)) => devices
                    .query_map([peer], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?,
                _ => Vec::new(), // an invite: who will answer is not known yet
            };
            let all_connected = !targets.is_empty()
                && targets
                    .iter()
                    .all(|d| DeviceId::from_slice(d).is_some_and(|d| connected.contains(&d)));
            if all_connected {
                out.push(Pending {
                    topic: topic_id,
                    upto: held,
                    skip: true,
                    groups: Vec::new(),
                });
                continue;
            }
            let rows: Vec<(i64, Vec<u8>)> = envs
                .query_map(params![topic, me.0, done as i64, max as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut upto = done;
            let mut tagged: Vec<(TagSecret, Vec<Vec<u8>>)> = Vec::new();
            let mut put = |secret: TagSecret, body: &Vec<u8>| match tagged
                .iter_mut()
                .find(|(s, _)| *s == secret)
            {
                Some((_, g)) => g.push(body.clone()),
                None => tagged.push((secret, vec![body.clone()])),
            };
            for (seq, body) in rows {
                upto = upto.max(seq as u64);
                let Ok(env) = Envelope::decode(&body) else {
                    continue;
                };
                if env.header.key != PAIRWISE_KEY {
                    // Group content: under my sender key's session tag.
                    let secret =
                        match self.session_mailbox_of(&topic_id, &me, Some(env.header.key))? {
                            Some(m) => TagSecret::for_session(&m),
                            None => TagSecret::for_topic(&secret),
                        };
                    put(secret, &body);
                    continue;
                }
                // Pairwise content (sender-key shares, membership): in each recipient's inbox,
                // from the secret of its own newest sender key here, which a member removed
                // before that key was made never learns. A recipient with no key of its own
                // here yet (a new member) finds it under the topic's tag.
                let mut recipients: Vec<DeviceId> = env
                    .pairwise_parts()
                    .map(|ps| ps.into_iter().map(|p| p.to).collect())
                    .unwrap_or_default();
                recipients.dedup();
                for to in recipients {
                    let secret = match self.session_mailbox_of(&topic_id, &to, None)? {
                        Some(m) => TagSecret::for_inbox(&m),
                        None => TagSecret::for_topic(&secret),
                    };
                    put(secret, &body);
                }
            }
            out.push(Pending {
                topic: topic_id,
                upto,
                skip: false,
                groups: tagged,
            });
        }
        Ok(out)
    }

    /// The mailbox secret of `device`'s sender key `key_no` in a topic (its newest if None).
    fn session_mailbox_of(
        &self,
        topic: &TopicId,
        device: &DeviceId,
        key_no: Option<u32>,
    ) -> Result<Option<[u8; 32]>> {
        let sealed: Option<Option<Vec<u8>>> = match key_no {
            Some(k) => self
                .conn
                .query_row(
                    "SELECT mailbox FROM group_in WHERE topic = ?1 AND device = ?2 AND key_no = ?3",
                    params![topic.as_bytes(), device.0, k as i64],
                    |r| r.get(0),
                )
                .optional()?,
            None => self
                .conn
                .query_row(
                    "SELECT mailbox FROM group_in WHERE topic = ?1 AND device = ?2
                       AND mailbox IS NOT NULL ORDER BY key_no DESC LIMIT 1",
                    params![topic.as_bytes(), device.0],
                    |r| r.get(0),
                )
                .optional()?,
        };
        match sealed.flatten() {
            Some(s) => Ok(Some(self.open_mailbox_secret(&s)?)),
            None => Ok(None),
        }
    }

    /// My envelopes of `topic` up to `upto` are seen to: `handed` to mailbox relays (each event
    /// acknowledged by at least one; `relays` acknowledged them all), or not deposited because
    /// every member device was connected.
    pub(crate) fn nostr_deposited(
        &mut self,
        topic: &TopicId,
        upto: u64,
        relays: &[String],
        handed: bool,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO nostr_deposited (topic, seq) VALUES (?1, ?2)
             ON CONFLICT (topic) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            params![topic.as_bytes(), upto as i64],
        )?;
        if !handed {
            return Ok(());
        }
        let now = self.hlc.wall_ms() as i64 / 1000;
        for r in relays {
            self.exec(
                "INSERT INTO nostr_held (topic, relay, held, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (topic, relay) DO UPDATE SET held = MAX(held, excluded.held), at = ?4",
                params![topic.as_bytes(), r, upto as i64, now],
            )?;
        }
        self.note_in_mailbox(topic, upto)
    }

    /// A relay acknowledged more of what was already deposited (a retry).
    pub(crate) fn nostr_held(&mut self, topic: &TopicId, upto: u64, relay: &str) -> Result<()> {
        let now = self.hlc.wall_ms() as i64 / 1000;
        self.exec(
            "INSERT INTO nostr_held (topic, relay, held, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (topic, relay) DO UPDATE SET held = MAX(held, excluded.held), at = ?4",
            params![topic.as_bytes(), relay, upto as i64, now],
        )?;
        Ok(())
    }
}
