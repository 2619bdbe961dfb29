//! What the network asks of the store: which topics a device may sync, what this device holds,
//! and the envelopes another device lacks. Read-only; ingest goes through the engine.

use rusqlite::{params, Connection, OptionalExtension};

use super::protocol::{Want, BATCH_BYTES};
use super::VersionVectors;
use crate::error::Result;
use crate::ids::{DeviceId, TopicId};
use crate::mailbox::access::{KeepProof, TopicSecret};

/// Topics this device shares with `device`: conversations it is a current member of (and we
/// have not left), and the pairwise channel with its account. Blocked contacts share nothing.
pub fn shared_topics(c: &Connection, device: &DeviceId) -> Result<Vec<TopicId>> {
    let mut st = c.prepare_cached(
        "SELECT t.topic FROM topics t
         WHERE NOT EXISTS (SELECT 1 FROM devices d JOIN contacts k ON k.account = d.account
                           WHERE d.device = ?1 AND k.blocked = 1)
           AND ((t.kind = 'chat'
                 AND EXISTS (SELECT 1 FROM members m WHERE m.chat = t.chat AND m.device = ?1 AND m.removed_after IS NULL)
                 AND EXISTS (SELECT 1 FROM chats c WHERE c.chat = t.chat AND c.left_chat = 0))
             OR (t.kind = 'channel' AND EXISTS (SELECT 1 FROM devices d WHERE d.device = ?1 AND d.account = t.peer))
             OR EXISTS (SELECT 1 FROM refusals r WHERE r.topic = t.topic AND r.device = ?1
                        AND r.created_at > ?2))",
    )?;
    let since = now_secs().saturating_sub(crate::engine::REFUSAL_SECS) as i64;
    let rows = st.query_map(params![device.0, since], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(t) = TopicId::from_slice(&r?) {
            out.push(t);
        }
    }
    Ok(out)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// True for the topic of one of our invites: anyone may deliver a contact request there (a
/// request for a used, revoked or expired invite gets a refusal with the reason).
pub fn is_invite_topic(c: &Connection, topic: &TopicId) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM invites WHERE topic = ?1)",
        [topic.as_bytes()],
        |r| r.get(0),
    )?)
}

/// True if we know this device (a contact's, a fellow member's, or an inviter's).
pub fn is_known_device(c: &Connection, device: &DeviceId) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE device = ?1)",
        [device.0],
        |r| r.get(0),
    )?)
}

/// What this device holds for the given topics (a mailbox's `heads` table has the same shape,
/// so it answers with this too).
pub fn have(c: &Connection, topics: &[TopicId]) -> Result<VersionVectors> {
    let mut st =
        c.prepare_cached("SELECT author, held FROM heads WHERE topic = ?1 AND held > 0")?;
    let mut out = VersionVectors::default();
    for t in topics {
        let rows = st.query_map([t.as_bytes()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (a, h) = row?;
            if let Some(a) = DeviceId::from_slice(&a) {
                out.0.entry(*t).or_default().insert(a, h as u64);
            }
        }
    }
    Ok(out)
}

/// Envelopes for `wants`, in seq order, up to about [`BATCH_BYTES`]; true if more remain.
pub fn envelopes(c: &Connection, wants: &[Want]) -> Result<(Vec<Vec<u8>>, bool)> {
    envelopes_in(c, "envelopes", wants, BATCH_BYTES)
}

/// [`envelopes`] up to about `budget` bytes (at least one envelope).
pub fn envelopes_within(
    c: &Connection,
    wants: &[Want],
    budget: usize,
) -> Result<(Vec<Vec<u8>>, bool)> {
    envelopes_in(c, "envelopes", wants, budget)
}

/// [`envelopes`] from `table` (`topic`, `author`, `seq`, `body`): this device's envelopes, or a
/// mailbox's mail.
pub(crate) fn envelopes_in(
    c: &Connection,
    table: &'static str,
    wants: &[Want],
    budget: usize,
) -> Result<(Vec<Vec<u8>>, bool)> {
    let mut st = c.prepare_cached(&format!(
        "SELECT body FROM {table} WHERE topic = ?1 AND author = ?2 AND seq > ?3 ORDER BY seq"
    ))?;
    let mut out = Vec::new();
    let mut bytes = 0;
    for w in wants {
        let mut rows = st.query(params![w.topic.as_bytes(), w.author.0, w.after as i64])?;
        while let Some(r) = rows.next()? {
            let body: Vec<u8> = r.get(0)?;
            if bytes + body.len() > budget && !out.is_empty() {
                return Ok((out, true));
            }
            bytes += body.len();
            out.push(body);
        }
    }
    Ok((out, false))
}

/// Addresses remembered for a device, newest first.
pub fn remembered_addrs(c: &Connection, device: &DeviceId) -> Result<Vec<String>> {
    let a: Option<String> = c
        .query_row(
            "SELECT addrs FROM peers WHERE device = ?1",
            [device.0],
            |r| r.get(0),
        )
        .optional()?;
    Ok(a.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// Every known device with remembered addresses (to dial on start).
pub fn devices_to_dial(c: &Connection) -> Result<Vec<(DeviceId, Vec<String>)>> {
    let mut st = c.prepare_cached(
        "SELECT p.device, p.addrs FROM peers p JOIN devices d ON d.device = p.device ORDER BY p.last_seen DESC",
    )?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (d, a) = row?;
        if let Some(d) = DeviceId::from_slice(&d) {
            out.push((d, serde_json::from_str(&a).unwrap_or_default()));
        }
    }
    Ok(out)
}

/// True if this device holds `topic` (a conversation, a contact channel, or an open invite's).
pub fn holds_topic(c: &Connection, topic: &TopicId) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM topics WHERE topic = ?1 AND kind IN ('chat', 'channel', 'invite'))",
        [topic.as_bytes()],
        |r| r.get(0),
    )?)
}

/// Every device of my contacts and fellow members (not mine): whom to look for beyond the LAN.
pub fn family_devices(c: &Connection) -> Result<Vec<DeviceId>> {
    let mut st = c.prepare_cached(
        "SELECT device FROM devices WHERE device != (SELECT device FROM identity WHERE id = 1)
         UNION SELECT device FROM members WHERE removed_after IS NULL
           AND device != (SELECT device FROM identity WHERE id = 1)",
    )?;
    let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(d) = DeviceId::from_slice(&r?) {
            out.push(d);
        }
    }
    Ok(out)
}

/// One topic to ask a mailbox to keep: the proof that we may, and the member devices it then
/// holds mail for (kept here: the mailbox is never told who they are).
#[derive(Clone, Debug)]
pub struct Keep {
    pub topic: TopicId,
    pub proof: KeepProof,
    pub members: Vec<DeviceId>,
}

/// What to ask a mailbox to keep: every conversation we are in and every contact channel
/// (except with blocked contacts), with their member devices, and our open invites' topics
/// (a contact request can wait there while we are away). Topics without a secret (made before
/// secrets existed) are left out.
pub fn keep_list(c: &Connection) -> Result<Vec<Keep>> {
    let me: Vec<u8> = c.query_row("SELECT device FROM identity WHERE id = 1", [], |r| r.get(0))?;
    let me = DeviceId::from_slice(&me).ok_or_else(|| crate::Error::Corrupt("identity".into()))?;
    let mut out: Vec<(Vec<u8>, Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    let mut chats = c.prepare_cached(
        "SELECT t.topic, t.secret, t.chat FROM topics t JOIN chats ch ON ch.chat = t.chat
         WHERE t.kind = 'chat' AND ch.left_chat = 0 AND t.secret IS NOT NULL",
    )?;
    let mut members =
        c.prepare_cached("SELECT device FROM members WHERE chat = ?1 AND removed_after IS NULL")?;
    let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = chats
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (topic, secret, chat) in rows {
        let devices: Vec<Vec<u8>> = members
            .query_map([chat], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        out.push((topic, secret, devices));
    }
    let mut channels = c.prepare_cached(
        "SELECT t.topic, t.secret, t.peer FROM topics t
         WHERE t.kind = 'channel' AND t.secret IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.account = t.peer AND k.blocked = 1)",
    )?;
    let mut devices = c.prepare_cached("SELECT device FROM devices WHERE account = ?1")?;
    let rows: Vec<(Vec<u8>, Vec<u8>, Option<Vec<u8>>)> = channels
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (topic, secret, peer) in rows {
        let Some(peer) = peer else { continue };
        let list: Vec<Vec<u8>> = devices
            .query_map([peer], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        out.push((topic, secret, list));
    }
    let mut invites = c.prepare_cached(
        "SELECT t.topic, t.secret FROM topics t JOIN invites i ON i.topic = t.topic
         WHERE t.kind = 'invite' AND t.secret IS NOT NULL AND i.state = 'open'
           AND i.expires_at > CAST(strftime('%s', 'now') AS INTEGER)",
    )?;
    let rows: Vec<(Vec<u8>, Vec<u8>)> = invites
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    out.extend(rows.into_iter().map(|(t, s)| (t, s, Vec::new())));
    Ok(out
        .into_iter()
        .filter_map(|(topic, secret, list)| {
            let topic = TopicId::from_slice(&topic)?;
            let secret = TopicSecret::from_slice(&secret)?;
            let mut members: Vec<DeviceId> = list
                .iter()
                .filter_map(|d| DeviceId::from_slice(d))
                .filter(|d| *d != me)
                .collect();
            members.sort();
            members.dedup();
            Some(Keep {
                topic,
                proof: secret.proof(&me),
                members,
            })
        })
        .collect())
}

/// Contacts to meet at rendezvous places (`net::rendezvous`): each contact channel's secret
/// (except with blocked contacts) and the contact's devices. The secret stays on this device.
pub fn rendezvous_contacts(c: &Connection) -> Result<Vec<([u8; 32], Vec<DeviceId>)>> {
    let mut channels = c.prepare_cached(
        "SELECT t.secret, t.peer FROM topics t JOIN contacts k ON k.account = t.peer
         WHERE t.kind = 'channel' AND t.secret IS NOT NULL AND k.blocked = 0",
    )?;
    let mut devices = c.prepare_cached("SELECT device FROM devices WHERE account = ?1")?;
    let rows: Vec<(Vec<u8>, Vec<u8>)> = channels
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (secret, peer) in rows {
        let Ok(secret) = <[u8; 32]>::try_from(secret.as_slice()) else {
            continue;
        };
        let list: Vec<DeviceId> = devices
            .query_map([peer], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .iter()
            .filter_map(|d| DeviceId::from_slice(d))
            .collect();
        out.push((secret, list));
    }
    Ok(out)
}
