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
use super::Limits;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, TopicId};
use crate::sync::protocol::{Want, BATCH_BYTES};
use crate::sync::VersionVectors;

const SCHEMA_VERSION: i64 = 2;

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

fn is_member(c: &Connection, topic: &TopicId, device: &DeviceId) -> Result<bool> {
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
            if !is_member(&tx, topic, requester)? && count >= limits.members_per_topic {
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
            let source_full = !source.is_empty() && from_source >= limits.topics_per_source;
            if created >= limits.topics_per_device || source_full || total >= limits.total_topics {
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
    let mut st = c.prepare_cached(
        "SELECT body FROM mail WHERE topic = ?1 AND author = ?2 AND seq > ?3 ORDER BY seq",
    )?;
    let mut out = Vec::new();
    let mut bytes = 0;
    for w in wants {
        let mut rows = st.query(params![w.topic.as_bytes(), w.author.0, w.after as i64])?;
        while let Some(r) = rows.next()? {
            let body: Vec<u8> = r.get(0)?;
            if bytes + body.len() > BATCH_BYTES && !out.is_empty() {
                return Ok((out, true));
            }
            bytes += body.len();
            out.push(body);
        }
    }
    Ok((out, false))
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
                if authors as usize >= limits.authors_per_topic {
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
        if topic_bytes + len > limits.topic_bytes
            || mine + len > limits.device_bytes
            || (!source.is_empty() && from_source + len > limits.source_bytes)
            || total + len > limits.total_bytes
        {
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
    tx.commit()?;
    Ok(n as u64)
}

/// What a mailbox holds, for its status line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub topics: u64,
    pub envelopes: u64,
    pub bytes: u64,
}

pub fn usage(c: &Connection) -> Result<Usage> {
    Ok(Usage {
        topics: c.query_row("SELECT COUNT(*) FROM topics", [], |r| r.get::<_, i64>(0))? as u64,
        envelopes: c.query_row("SELECT COUNT(*) FROM mail", [], |r| r.get::<_, i64>(0))? as u64,
        bytes: c.query_row("SELECT COALESCE(SUM(bytes), 0) FROM topics", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Header;
    use crate::mailbox::access::TopicSecret;
    use libp2p_identity::ed25519;

    struct Device {
        key: ed25519::Keypair,
    }

    impl Device {
        fn new() -> Device {
            Device {
                key: ed25519::Keypair::generate(),
            }
        }
        fn id(&self) -> DeviceId {
            DeviceId(self.key.public().to_bytes())
        }
        fn envelope(&self, topic: TopicId, seq: u64, len: usize) -> Vec<u8> {
            let header = Header {
                version: crate::envelope::VERSION,
                topic,
                author: self.id(),
                seq,
                key: 1,
            };
            Envelope::seal(header, vec![0xAB; len], &self.key).encode()
        }
    }

    /// One household's network source.
    const HOME: &[u8] = &[198, 51, 100, 7];

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let c = open(&dir.path().join("mailbox.db")).unwrap();
        (dir, c)
    }

    fn secret(n: u8) -> TopicSecret {
        TopicSecret::for_group(&[n; 16])
    }

    /// The family's topic in most tests.
    fn t() -> TopicId {
        secret(7).topic()
    }

    /// What `d` sends to keep the topic of `s`.
    fn asks(d: &Device, s: &TopicSecret) -> (TopicId, KeepProof) {
        (s.topic(), s.proof(&d.id()))
    }

    #[test]
    fn members_deposit_and_fetch_strangers_get_nothing() {
        let (_d, mut c) = db();
        let (mom, son, stranger) = (Device::new(), Device::new(), Device::new());
        let l = Limits::default();
        let kept = keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
        assert_eq!(kept, vec![t()]);
        let kept = keep(&mut c, &son.id(), HOME, &[asks(&son, &secret(7))], 1, &l).unwrap();
        assert_eq!(kept, vec![t()]);
        let envs: Vec<Vec<u8>> = (1..=3).map(|s| mom.envelope(t(), s, 100)).collect();
        let r = deposit(&mut c, &mom.id(), &envs, 2, &l).unwrap();
        assert_eq!((r.new, r.duplicate, r.refused), (3, 0, 0));
        // Again: nothing new.
        let r = deposit(&mut c, &son.id(), &envs, 3, &l).unwrap();
        assert_eq!((r.new, r.duplicate, r.refused), (0, 3, 0));

        assert_eq!(topics_for(&c, &son.id()).unwrap(), vec![t()]);
        assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 3);
        let wants = [Want {
            topic: t(),
            author: mom.id(),
            after: 1,
        }];
        let (got, more) = envelopes(&c, &wants).unwrap();
        assert_eq!(got, envs[1..].to_vec());
        assert!(!more);

        // A stranger: no topics, cannot deposit (even its own envelopes), cannot join.
        assert!(topics_for(&c, &stranger.id()).unwrap().is_empty());
        let r = deposit(
            &mut c,
            &stranger.id(),
            &[stranger.envelope(t(), 1, 10)],
            4,
            &l,
        )
        .unwrap();
        assert_eq!(r.refused, 1);
        let r = deposit(&mut c, &stranger.id(), &[mom.envelope(t(), 4, 10)], 4, &l).unwrap();
        assert_eq!(r.refused, 1);
        // Without the secret: its own topic key, or Mom's proof replayed, opens nothing.
        let own = (t(), secret(9).proof(&stranger.id()));
        let replayed = asks(&mom, &secret(7));
        for ask in [own, replayed] {
            let kept = keep(&mut c, &stranger.id(), HOME, &[ask], 5, &l).unwrap();
            assert!(kept.is_empty());
        }
        assert!(!is_member(&c, &t(), &stranger.id()).unwrap());
        // A member may forward what others wrote (the mailbox does not know who the members
        // are); it counts against the member's own quota.
        let r = deposit(&mut c, &son.id(), &[stranger.envelope(t(), 1, 10)], 6, &l).unwrap();
        assert_eq!(r.new, 1);
    }

    #[test]
    fn a_stranger_cannot_tell_an_existing_topic_from_a_missing_one() {
        let (_d, mut c) = db();
        let (mom, stranger) = (Device::new(), Device::new());
        let l = Limits::default();
        keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
        let other = TopicId([8; 16]);
        // Deposits into the family's topic and into a topic nobody keeps look the same.
        let a = deposit(&mut c, &stranger.id(), &[mom.envelope(t(), 1, 10)], 2, &l).unwrap();
        let b = deposit(&mut c, &stranger.id(), &[mom.envelope(other, 1, 10)], 2, &l).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            have(&c, &topics_for(&c, &stranger.id()).unwrap()).unwrap(),
            VersionVectors::default()
        );
    }

    #[test]
    fn forged_and_damaged_envelopes_are_refused() {
        let (_d, mut c) = db();
        let mom = Device::new();
        let l = Limits::default();
        keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
        let mut forged = mom.envelope(t(), 1, 50);
        let n = forged.len();
        forged[n - 70] ^= 1;
        let r = deposit(&mut c, &mom.id(), &[forged, vec![1, 2, 3], vec![]], 2, &l).unwrap();
        assert_eq!(r.refused, 3);
        assert_eq!(usage(&c).unwrap().envelopes, 0);
    }

    #[test]
    fn out_of_order_deposits_advance_the_head_when_the_gap_fills() {
        let (_d, mut c) = db();
        let mom = Device::new();
        let l = Limits::default();
        keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
        let e: Vec<Vec<u8>> = (1..=4).map(|s| mom.envelope(t(), s, 10)).collect();
        deposit(&mut c, &mom.id(), &[e[2].clone(), e[3].clone()], 2, &l).unwrap();
        assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 0);
        deposit(&mut c, &mom.id(), &[e[1].clone()], 2, &l).unwrap();
        assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 0);
        deposit(&mut c, &mom.id(), &[e[0].clone()], 2, &l).unwrap();
        assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 4);
    }

    #[test]
    fn limits_refuse_rather_than_evict() {
        let (_d, mut c) = db();
        let (mom, dad) = (Device::new(), Device::new());
        let l = Limits {
            topic_bytes: 1000,
            device_bytes: 1500,
            topics_per_device: 2,
            ..Limits::default()
        };
        let t2 = secret(2).topic();
        let kept = keep(
            &mut c,
            &mom.id(),
            HOME,
            &[
                asks(&mom, &secret(7)),
                asks(&mom, &secret(2)),
                asks(&mom, &secret(3)),
            ],
            1,
            &l,
        )
        .unwrap();
        assert_eq!(
            kept,
            vec![t(), t2],
            "a third topic is over the per-device bound"
        );
        // Per topic: the first ~1000 bytes fit, the rest is refused and nothing is evicted.
        let envs: Vec<Vec<u8>> = (1..=10).map(|s| mom.envelope(t(), s, 150)).collect();
        let r = deposit(&mut c, &mom.id(), &envs, 2, &l).unwrap();
        assert!(r.new >= 3 && r.refused >= 1, "{r:?}");
        let first = have(&c, &[t()]).unwrap().get(&t(), &mom.id());
        assert_eq!(first as u32, r.new);
        // Per depositor: the same device cannot spill into its other topic past its bound.
        let envs: Vec<Vec<u8>> = (1..=10).map(|s| mom.envelope(t2, s, 150)).collect();
        let r2 = deposit(&mut c, &mom.id(), &envs, 3, &l).unwrap();
        assert!(r2.refused > 0);
        assert!(usage(&c).unwrap().bytes <= 1500);
        // Dad, a member, still has his own allowance.
        keep(&mut c, &dad.id(), HOME, &[asks(&dad, &secret(2))], 4, &l).unwrap();
        let before = usage(&c).unwrap().bytes;
        let envs = vec![dad.envelope(t2, 1, 10)];
        assert_eq!(deposit(&mut c, &dad.id(), &envs, 4, &l).unwrap().new, 1);
        assert!(usage(&c).unwrap().bytes > before);
    }

    #[test]
    fn member_lists_stay_bounded_however_many_devices_ask() {
        let (_d, mut c) = db();
        let l = Limits {
            members_per_topic: 5,
            ..Limits::default()
        };
        let devices: Vec<Device> = (0..10).map(|_| Device::new()).collect();
        let mut kept = 0;
        for d in &devices {
            kept += keep(&mut c, &d.id(), HOME, &[asks(d, &secret(7))], 1, &l)
                .unwrap()
                .len();
        }
        assert_eq!(kept, 5);
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM members WHERE topic = ?1",
                [t().as_bytes()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 5);
        // A member asking again (every hour) is still kept.
        assert_eq!(
            keep(
                &mut c,
                &devices[0].id(),
                HOME,
                &[asks(&devices[0], &secret(7))],
                2,
                &l
            )
            .unwrap(),
            vec![t()]
        );
    }

    /// A member signing with ever new keys cannot grow the topic's version vector (sent in
    /// every answer) past its bound; authors already held go on.
    #[test]
    fn authors_per_topic_stay_bounded() {
        let (_d, mut c) = db();
        let mom = Device::new();
        let l = Limits {
            authors_per_topic: 3,
            ..Limits::default()
        };
        keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
        let keys: Vec<Device> = (0..6).map(|_| Device::new()).collect();
        let envs: Vec<Vec<u8>> = keys.iter().map(|k| k.envelope(t(), 1, 10)).collect();
        let r = deposit(&mut c, &mom.id(), &envs, 2, &l).unwrap();
        assert_eq!((r.new, r.refused), (3, 3));
        assert_eq!(have(&c, &[t()]).unwrap().0[&t()].len(), 3);
        let r = deposit(&mut c, &mom.id(), &[keys[0].envelope(t(), 2, 10)], 3, &l).unwrap();
        assert_eq!(r.new, 1);
    }

    #[test]
    fn retention_drops_old_mail_but_not_the_heads() {
        let (_d, mut c) = db();
        let mom = Device::new();
        let l = Limits {
            retention: std::time::Duration::from_secs(60),
            ..Limits::default()
        };
        keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 0, &l).unwrap();
        deposit(&mut c, &mom.id(), &[mom.envelope(t(), 1, 10)], 1_000, &l).unwrap();
        deposit(&mut c, &mom.id(), &[mom.envelope(t(), 2, 10)], 50_000, &l).unwrap();
        assert_eq!(purge(&mut c, 70_000, &l).unwrap(), 1);
        assert_eq!(usage(&c).unwrap().envelopes, 1);
        assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 2);
        // Re-depositing the expired one is a duplicate, not a new copy.
        let r = deposit(&mut c, &mom.id(), &[mom.envelope(t(), 1, 10)], 70_001, &l).unwrap();
        assert_eq!(r.duplicate, 1);
        // Later, with nothing left and nobody keeping it, the topic itself goes.
        assert_eq!(purge(&mut c, 200_000, &l).unwrap(), 1);
        assert_eq!(usage(&c).unwrap(), Usage::default());
    }

    /// Fresh device keys from one household's address get no more room than the household:
    /// topics and bytes are bounded per network source, so one machine cannot fill the
    /// mailbox (or lock families out of it) by making up identities.
    #[test]
    fn many_identities_from_one_source_share_its_quota() {
        let (_d, mut c) = db();
        let l = Limits {
            topics_per_source: 3,
            source_bytes: 2_000,
            ..Limits::default()
        };
        let mut kept = 0;
        let sybils: Vec<Device> = (0..6).map(|_| Device::new()).collect();
        for (i, d) in sybils.iter().enumerate() {
            kept += keep(
                &mut c,
                &d.id(),
                HOME,
                &[asks(d, &secret(100 + i as u8))],
                1,
                &l,
            )
            .unwrap()
            .len();
        }
        assert_eq!(kept, 3, "only three topics from one source");
        let mut stored = 0u32;
        for (i, d) in sybils.iter().enumerate().take(3) {
            let t = secret(100 + i as u8).topic();
            for seq in 1..=4 {
                stored += deposit(&mut c, &d.id(), &[d.envelope(t, seq, 300)], 2, &l)
                    .unwrap()
                    .new;
            }
        }
        let held = usage(&c).unwrap().bytes;
        assert!(
            held <= 2_000,
            "the source's bytes stay in its bound: {held}"
        );
        assert!(
            (3..12).contains(&stored),
            "some stored, the rest refused: {stored}"
        );
        // Another household still gets in.
        let family = Device::new();
        let elsewhere: &[u8] = &[203, 0, 113, 9];
        let t = secret(42).topic();
        assert_eq!(
            keep(
                &mut c,
                &family.id(),
                elsewhere,
                &[asks(&family, &secret(42))],
                3,
                &l
            )
            .unwrap(),
            vec![t]
        );
        assert_eq!(
            deposit(&mut c, &family.id(), &[family.envelope(t, 1, 300)], 3, &l)
                .unwrap()
                .new,
            1
        );
    }

    /// Topics from before sources were kept (an upgraded mailbox) are bounded by no source's
    /// quota, and take the source of the first member who keeps them again.
    #[test]
    fn topics_of_unknown_source_are_not_one_shared_bucket() {
        let (_d, mut c) = db();
        let l = Limits {
            topics_per_source: 1,
            ..Limits::default()
        };
        let mom = Device::new();
        let old: Vec<(TopicId, KeepProof)> = (0..3).map(|i| asks(&mom, &secret(50 + i))).collect();
        assert_eq!(keep(&mut c, &mom.id(), b"", &old, 1, &l).unwrap().len(), 3);
        let source_of = |c: &Connection, t: &TopicId| -> Vec<u8> {
            c.query_row(
                "SELECT source FROM topics WHERE topic = ?1",
                [t.as_bytes()],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(source_of(&c, &old[0].0), Vec::<u8>::new());
        keep(&mut c, &mom.id(), HOME, &old[..1], 2, &l).unwrap();
        assert_eq!(
            source_of(&c, &old[0].0),
            HOME.to_vec(),
            "the topic took its keeper's source"
        );
        let fresh = asks(&mom, &secret(60));
        assert!(
            keep(&mut c, &mom.id(), HOME, &[fresh], 3, &l)
                .unwrap()
                .is_empty(),
            "that source's one topic is used"
        );
    }

    /// A database made by the first schema and upgraded is the same as a fresh one.
    #[test]
    fn an_upgraded_mailbox_has_the_fresh_schema() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.db");
        {
            let c = crate::storage::open(&old, false).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
        }
        let schema = |c: &Connection| -> Vec<String> {
            let mut st = c
                .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let upgraded = open(&old).unwrap();
        let fresh = open(&dir.path().join("fresh.db")).unwrap();
        assert_eq!(schema(&upgraded), schema(&fresh));
        let v: i64 = upgraded
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }
}
