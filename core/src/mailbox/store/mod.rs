//! The mailbox's own SQLite file: kept topics, the devices that keep each, and the envelopes
//! held.
//!
//! Plain functions over a connection, so the relay's net task and the tests call the same code.
//! Byte counts per topic and per depositor are kept in their rows (updated in the same
//! transaction as the mail), so a quota check is one lookup, not a scan.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::access::{self, KeepProof};
use super::{quota, Limits};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, TopicId};
use crate::sync::protocol::Want;
use crate::sync::VersionVectors;

const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE topics (
    topic BLOB PRIMARY KEY,
    creator BLOB NOT NULL,
    kept_at INTEGER NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX topics_by_creator ON topics(creator);
CREATE TABLE members (
    topic BLOB NOT NULL REFERENCES topics(topic) ON DELETE CASCADE,
    device BLOB NOT NULL,
    PRIMARY KEY (topic, device)
) WITHOUT ROWID, STRICT;
CREATE INDEX members_by_device ON members(device);
CREATE TABLE mail (
    topic BLOB NOT NULL REFERENCES topics(topic) ON DELETE CASCADE,
    author BLOB NOT NULL,
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    depositor BLOB NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (topic, author, seq)
) STRICT;
CREATE INDEX mail_by_age ON mail(stored_at);
CREATE TABLE heads (
    topic BLOB NOT NULL REFERENCES topics(topic) ON DELETE CASCADE,
    author BLOB NOT NULL,
    held INTEGER NOT NULL,
    PRIMARY KEY (topic, author)
) WITHOUT ROWID, STRICT;
CREATE TABLE depositors (
    device BLOB PRIMARY KEY,
    bytes INTEGER NOT NULL
) WITHOUT ROWID, STRICT;
";

/// Upgrades, in order: entry `i` takes the schema from version `i + 1` to `i + 2`. A fresh
/// database is made by the first schema and every upgrade, so both paths give one schema.
const UPGRADES: &[&str] = &[
    // 2: each topic remembers the network source that created it; quotas per source.
    "ALTER TABLE topics ADD COLUMN source BLOB NOT NULL DEFAULT x'';
     CREATE INDEX topics_by_source ON topics(source);",
    // 3: blobs (photos, voice messages, files) held beside the mail.
    super::blobs::SCHEMA,
];

/// Opens (creating or upgrading if needed) the mailbox database at `path`.
pub fn open(path: &Path) -> Result<Connection> {
    crate::storage::private::database(path).map_err(|e| Error::OpenDatabase {
        path: path.into(),
        cause: e.to_string(),
    })?;
    let c = crate::storage::open(path, false)?;
    let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v > SCHEMA_VERSION {
        return Err(Error::OpenDatabase {
            path: path.into(),
            cause: format!("mailbox schema {v} is newer than this relay"),
        });
    }
    if v < SCHEMA_VERSION {
        let tx = c.unchecked_transaction()?;
        if v == 0 {
            tx.execute_batch(SCHEMA)?;
        }
        for up in &UPGRADES[(v.max(1) - 1) as usize..] {
            tx.execute_batch(up)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    Ok(c)
}

/// Does `device` keep `topic` here?
pub(super) fn is_member(c: &Connection, topic: &TopicId, device: &DeviceId) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM members WHERE topic = ?1 AND device = ?2")?
            .query_row(params![topic.as_bytes(), device.0], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// Keeps `topics` for `requester` (connected from `source`, an IPv4 address or IPv6 /64, see
/// `relay::per_ip`), each with the proof that it knows the topic's secret. Returns the topics
/// now kept for it: existing ones it proved (it joins their members, up to the bound), and new
/// ones within its limits. Any other topic is silently left alone.
///
/// Members are the devices that asked for themselves: the mailbox never learns the rest of a
/// conversation. Member lists only grow until the topic expires; a removed member who still
/// knows the secret could join again anyway, and reads nothing (keys rotate on removal).
pub fn keep(
    c: &mut Connection,
    requester: &DeviceId,
    source: &[u8],
    topics: &[(TopicId, KeepProof)],
    now_ms: u64,
    limits: &Limits,
) -> Result<Vec<TopicId>> {
    let tx = c.transaction()?;
    // Device keys are free to make: what one network source may create is bounded too.
    let mut from_source: u64 = tx.query_row(
        "SELECT COUNT(*) FROM topics WHERE source = ?1",
        [source],
        |r| r.get::<_, i64>(0),
    )? as u64;
    let mut created: u64 = tx.query_row(
        "SELECT COUNT(*) FROM topics WHERE creator = ?1",
        [requester.0],
        |r| r.get::<_, i64>(0),
    )? as u64;
    let mut total: u64 =
        tx.query_row("SELECT COUNT(*) FROM topics", [], |r| r.get::<_, i64>(0))? as u64;
    let mut out = Vec::new();
    for (topic, proof) in topics {
        if !access::verify(topic, requester, proof) {
            continue;
        }
        let exists = tx
            .prepare_cached("SELECT 1 FROM topics WHERE topic = ?1")?
            .query_row([topic.as_bytes()], |_| Ok(()))
            .optional()?
            .is_some();
        if exists {
            let count: usize = tx
                .prepare_cached("SELECT COUNT(*) FROM members WHERE topic = ?1")?
                .query_row([topic.as_bytes()], |r| r.get::<_, i64>(0))?
                as usize;
            if !is_member(&tx, topic, requester)? && !quota::may_join(limits, count) {
                continue;
            }
            // A topic from before sources were kept takes its first member's source now.
            tx.execute(
                "UPDATE topics SET kept_at = ?2,
                   source = CASE WHEN source = x'' THEN ?3 ELSE source END
                 WHERE topic = ?1",
                params![topic.as_bytes(), now_ms as i64, source],
            )?;
        } else {
            // An unknown source (empty) has no per-source bound; the other bounds hold.
            let made = quota::Made {
                by_device: created,
                from_source: (!source.is_empty()).then_some(from_source),
                total,
            };
            if !quota::may_create(limits, &made) {
                continue;
            }
            tx.execute(
                "INSERT INTO topics (topic, creator, kept_at, source) VALUES (?1, ?2, ?3, ?4)",
                params![topic.as_bytes(), requester.0, now_ms as i64, source],
            )?;
            created += 1;
            from_source += 1;
            total += 1;
        }
        tx.prepare_cached("INSERT OR IGNORE INTO members VALUES (?1, ?2)")?
            .execute(params![topic.as_bytes(), requester.0])?;
        out.push(*topic);
    }
    tx.commit()?;
    Ok(out)
}

/// Topics `device` is a member of.
pub fn topics_for(c: &Connection, device: &DeviceId) -> Result<Vec<TopicId>> {
    let mut st = c.prepare_cached("SELECT topic FROM members WHERE device = ?1")?;
    let rows = st.query_map([device.0], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(t) = TopicId::from_slice(&r?) {
            out.push(t);
        }
    }
    Ok(out)
}

/// What the mailbox holds for these topics: per author, the highest contiguous seq it has
/// ever held (retention does not lower it, so a member never re-deposits expired mail).
pub fn have(c: &Connection, topics: &[TopicId]) -> Result<VersionVectors> {
    crate::sync::store::have(c, topics)
}

/// Mail for `wants`, in seq order, up to about
/// [`BATCH_BYTES`](crate::sync::protocol::BATCH_BYTES); true if more remain.
pub fn envelopes(c: &Connection, wants: &[Want]) -> Result<(Vec<Vec<u8>>, bool)> {
    crate::sync::store::envelopes_in(c, "mail", wants, crate::sync::protocol::BATCH_BYTES)
}

/// What one deposit did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Deposit {
    pub new: u32,
    pub duplicate: u32,
    /// Not verifiable, not a member's, or over a limit.
    pub refused: u32,
}

/// Stores envelopes deposited by `depositor`: each must carry a valid signature, be for a
/// topic the depositor is a member of (it proved the topic's secret), and fit every limit.
/// Authors need not have asked this mailbox themselves: a member forwards what others wrote
/// (the mailbox never learns the membership, so it could not tell a member's from a
/// stranger's signature; only a member can deposit, and quotas bound what it puts there).
pub fn deposit(
    c: &mut Connection,
    depositor: &DeviceId,
    envelopes: &[Vec<u8>],
    now_ms: u64,
    limits: &Limits,
) -> Result<Deposit> {
    let tx = c.transaction()?;
    let mut report = Deposit::default();
    let mut total: u64 = tx.query_row("SELECT COALESCE(SUM(bytes), 0) FROM topics", [], |r| {
        r.get::<_, i64>(0)
    })? as u64;
    let mut mine: u64 = tx
        .query_row(
            "SELECT bytes FROM depositors WHERE device = ?1",
            [depositor.0],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64;
    let mut allowed: HashMap<TopicId, bool> = HashMap::new();
    // Bytes held in the topics each network source created, and each topic's source.
    let mut source_of: HashMap<TopicId, Vec<u8>> = HashMap::new();
    let mut source_bytes: HashMap<Vec<u8>, u64> = HashMap::new();
    for bytes in envelopes {
        let Ok(env) = Envelope::decode_verified(bytes) else {
            report.refused += 1;
            continue;
        };
        let (t, a, s) = (env.header.topic, env.header.author, env.header.seq);
        let ok = match allowed.get(&t) {
            Some(ok) => *ok,
            None => {
                let ok = is_member(&tx, &t, depositor)?;
                allowed.insert(t, ok);
                ok
            }
        };
        if !ok {
            report.refused += 1;
            continue;
        }
        let held: Option<i64> = tx
            .prepare_cached("SELECT held FROM heads WHERE topic = ?1 AND author = ?2")?
            .query_row(params![t.as_bytes(), a.0], |r| r.get(0))
            .optional()?;
        let held = match held {
            Some(h) => h as u64,
            None => {
                // A new author: the topic's version vector (sent in every answer) stays
                // bounded however many keys a member signs with.
                let authors: i64 = tx
                    .prepare_cached("SELECT COUNT(*) FROM heads WHERE topic = ?1")?
                    .query_row([t.as_bytes()], |r| r.get(0))?;
                if !quota::may_add_author(limits, authors as usize) {
                    report.refused += 1;
                    continue;
                }
                tx.prepare_cached("INSERT INTO heads VALUES (?1, ?2, 0)")?
                    .execute(params![t.as_bytes(), a.0])?;
                0
            }
        };
        let stored = tx
            .prepare_cached("SELECT 1 FROM mail WHERE topic = ?1 AND author = ?2 AND seq = ?3")?
            .query_row(params![t.as_bytes(), a.0, s as i64], |_| Ok(()))
            .optional()?
            .is_some();
        if s <= held || stored {
            report.duplicate += 1;
            continue;
        }
        let len = bytes.len() as u64;
        let topic_bytes: u64 =
            tx.prepare_cached("SELECT bytes FROM topics WHERE topic = ?1")?
                .query_row([t.as_bytes()], |r| r.get::<_, i64>(0))? as u64;
        let source = match source_of.get(&t) {
            Some(s) => s.clone(),
            None => {
                let s: Vec<u8> = tx
                    .prepare_cached("SELECT source FROM topics WHERE topic = ?1")?
                    .query_row([t.as_bytes()], |r| r.get(0))?;
                source_of.insert(t, s.clone());
                s
            }
        };
        let from_source = match source_bytes.get(&source) {
            Some(b) => *b,
            None => {
                let b = tx
                    .prepare_cached("SELECT COALESCE(SUM(bytes), 0) FROM topics WHERE source = ?1")?
                    .query_row([&source], |r| r.get::<_, i64>(0))? as u64;
                source_bytes.insert(source.clone(), b);
                b
            }
        };
        let in_place = quota::Held {
            topic: topic_bytes,
            device: mine,
            source: (!source.is_empty()).then_some(from_source),
            total,
        };
        if !quota::deposit_fits(limits, &in_place, len) {
            report.refused += 1;
            continue;
        }
        // A seq SQLite cannot hold as an integer is not a real one.
        let Ok(seq) = i64::try_from(s) else {
            report.refused += 1;
            continue;
        };
        tx.prepare_cached("INSERT INTO mail VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![
                t.as_bytes(),
                a.0,
                seq,
                bytes,
                depositor.0,
                now_ms as i64
            ])?;
        tx.prepare_cached("UPDATE topics SET bytes = bytes + ?2 WHERE topic = ?1")?
            .execute(params![t.as_bytes(), len as i64])?;
        total += len;
        mine += len;
        source_bytes.insert(source, from_source + len);
        if s == held + 1 {
            let mut h = s;
            let mut next = tx.prepare_cached(
                "SELECT 1 FROM mail WHERE topic = ?1 AND author = ?2 AND seq = ?3",
            )?;
            while next
                .query_row(params![t.as_bytes(), a.0, (h + 1) as i64], |_| Ok(()))
                .optional()?
                .is_some()
            {
                h += 1;
            }
            tx.prepare_cached(
                "INSERT INTO heads VALUES (?1, ?2, ?3)
                 ON CONFLICT (topic, author) DO UPDATE SET held = excluded.held",
            )?
            .execute(params![t.as_bytes(), a.0, h as i64])?;
        }
        report.new += 1;
    }
    tx.execute(
        "INSERT INTO depositors VALUES (?1, ?2)
         ON CONFLICT (device) DO UPDATE SET bytes = excluded.bytes",
        params![depositor.0, mine as i64],
    )?;
    tx.commit()?;
    Ok(report)
}

/// Drops mail older than the retention period, and topics nobody has kept or written to
/// since then. Returns how many envelopes were dropped.
pub fn purge(c: &mut Connection, now_ms: u64, limits: &Limits) -> Result<u64> {
    let cutoff = now_ms.saturating_sub(limits.retention.as_millis() as u64) as i64;
    let tx = c.transaction()?;
    // What expires, per topic and per depositor, in one pass over the age index.
    let expiring = |group: &str| -> Result<Vec<(Vec<u8>, i64)>> {
        let mut st = tx.prepare(&format!(
            "SELECT {group}, SUM(length(body)) FROM mail WHERE stored_at < ?1 GROUP BY {group}"
        ))?;
        let rows = st.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    for (topic, bytes) in expiring("topic")? {
        tx.execute(
            "UPDATE topics SET bytes = bytes - ?2 WHERE topic = ?1",
            params![topic, bytes],
        )?;
    }
    for (device, bytes) in expiring("depositor")? {
        tx.execute(
            "UPDATE depositors SET bytes = bytes - ?2 WHERE device = ?1",
            params![device, bytes],
        )?;
    }
    let n = tx.execute("DELETE FROM mail WHERE stored_at < ?1", [cutoff])?;
    tx.execute(
        "DELETE FROM topics WHERE kept_at < ?1
           AND NOT EXISTS (SELECT 1 FROM mail WHERE mail.topic = topics.topic)",
        [cutoff],
    )?;
    tx.execute("DELETE FROM depositors WHERE bytes <= 0", [])?;
    let blobs = super::blobs::purge(&tx, now_ms, limits)?;
    if blobs > 0 {
        tracing::info!(blobs, "expired blobs dropped");
    }
    tx.commit()?;
    Ok(n as u64)
}

/// What a mailbox holds, for its status line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub topics: u64,
    pub envelopes: u64,
    pub bytes: u64,
    /// Blobs held (photos, voice messages, files), and the bytes reserved for them.
    pub blobs: u64,
    pub blob_bytes: u64,
}

pub fn usage(c: &Connection) -> Result<Usage> {
    let (blobs, blob_bytes) = super::blobs::usage(c)?;
    Ok(Usage {
        blobs,
        blob_bytes,
        topics: c.query_row("SELECT COUNT(*) FROM topics", [], |r| r.get::<_, i64>(0))? as u64,
        envelopes: c.query_row("SELECT COUNT(*) FROM mail", [], |r| r.get::<_, i64>(0))? as u64,
        bytes: c.query_row("SELECT COALESCE(SUM(bytes), 0) FROM topics", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    })
}

#[cfg(test)]
mod tests;
