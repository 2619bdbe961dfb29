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

/// Own envelopes waiting to be deposited for one topic, grouped by the tag they go under.
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

    /// Every tag secret to look for mail under: each live topic's, and the session mailbox
    /// secrets of the other devices' two newest sender keys in each (a key rotated while we
    /// were away still has messages under the older one).
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
            "SELECT mailbox FROM (
                SELECT mailbox, ROW_NUMBER() OVER (PARTITION BY device ORDER BY key_no DESC) AS n
                FROM group_in WHERE topic = ?1 AND device != ?2 AND mailbox IS NOT NULL)
             WHERE n <= 2",
        )?;
        for topic in chats {
            let sealed: Vec<Vec<u8>> = st
                .query_map(params![topic, me.0], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for s in sealed {
                out.push(TagSecret::for_session(&self.open_mailbox_secret(&s)?));
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
            let mut groups: Vec<(Option<u32>, Vec<Vec<u8>>)> = Vec::new();
            for (seq, body) in rows {
                upto = upto.max(seq as u64);
                let Ok(env) = Envelope::decode(&body) else {
                    continue;
                };
                let key = (env.header.key != PAIRWISE_KEY).then_some(env.header.key);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, g)) => g.push(body),
                    None => groups.push((key, vec![body])),
                }
            }
            let mut tagged = Vec::with_capacity(groups.len());
            for (key, bodies) in groups {
                let session = match key {
                    Some(k) => self.own_session_mailbox(&topic_id, &me, k)?,
                    None => None,
                };
                let secret = match session {
                    Some(m) => TagSecret::for_session(&m),
                    None => TagSecret::for_topic(&secret),
                };
                tagged.push((secret, bodies));
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

    fn own_session_mailbox(
        &self,
        topic: &TopicId,
        me: &DeviceId,
        key_no: u32,
    ) -> Result<Option<[u8; 32]>> {
        let sealed: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT mailbox FROM group_in WHERE topic = ?1 AND device = ?2 AND key_no = ?3",
                params![topic.as_bytes(), me.0, key_no as i64],
                |r| r.get(0),
            )
            .optional()?;
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
