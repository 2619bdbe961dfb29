//! Blobs held by a mailbox: the encrypted chunks of photos, voice messages and files, kept
//! for family members who are offline, beside the envelopes that name them.
//!
//! A blob is deposited under a topic the depositor keeps here (it proved the topic's secret,
//! [`super::access`]): first its manifest, which must hash to the blob id, then its chunks,
//! each checked against the manifest. So the mailbox holds only what the id names, whoever
//! sends it, and never learns what it is (it has no key; the id and key travel in envelopes
//! it cannot read). A device that keeps any topic a blob was deposited under may ask for its
//! parts (`/hearth/blob/1`, as from a peer); anyone else hears `Refused`, whether the blob is
//! here or not. Depositing an existing blob under another topic needs its manifest, which only
//! those who had the blob can give.
//!
//! Blobs have their own bounds ([`Limits`]: per topic, per depositor, per network source, in
//! total, and a shorter retention than mail). A blob's whole size is reserved when its manifest
//! arrives, so a blob accepted is never refused half way; over a bound, the new blob is refused
//! and nothing held is evicted.

use rusqlite::{params, Connection, OptionalExtension};
use serde_bytes::ByteBuf;

use super::{quota, Limits};
use crate::blob::crypt::{self, MAX_CHUNK_BYTES};
use crate::blob::protocol::{Part, Response};
use crate::blob::BlobId;
use crate::error::Result;
use crate::ids::{DeviceId, TopicId};

/// The mailbox database's blob tables (schema version 3).
pub(super) const SCHEMA: &str = "
CREATE TABLE blobs (
    blob BLOB PRIMARY KEY,
    topic BLOB NOT NULL,       -- the topic whose quota it counts in: its first deposit's
    depositor BLOB NOT NULL,
    source BLOB NOT NULL,      -- the network source of its topic, as for mail quotas
    manifest BLOB NOT NULL,
    bytes INTEGER NOT NULL,    -- reserved: the most its chunks can take, and the manifest
    stored_at INTEGER NOT NULL
) STRICT;
CREATE INDEX blobs_by_age ON blobs(stored_at);
CREATE INDEX blobs_by_topic ON blobs(topic);
CREATE INDEX blobs_by_depositor ON blobs(depositor);
CREATE INDEX blobs_by_source ON blobs(source);
CREATE TABLE blob_topics (
    blob BLOB NOT NULL REFERENCES blobs(blob) ON DELETE CASCADE,
    topic BLOB NOT NULL REFERENCES topics(topic) ON DELETE CASCADE,
    PRIMARY KEY (blob, topic)
) WITHOUT ROWID, STRICT;
CREATE INDEX blob_topics_by_topic ON blob_topics(topic);
CREATE TABLE blob_chunks (
    blob BLOB NOT NULL REFERENCES blobs(blob) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (blob, idx)
) STRICT;
";

/// What one deposit of a blob part did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// Held (now, or already).
    Stored,
    /// A bound on blobs is reached: nothing was stored, nothing held was dropped.
    Full,
    /// Not the depositor's to put (not a member of the topic), or not what the id names.
    Refused,
}

fn is_member(c: &Connection, topic: &TopicId, device: &DeviceId) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM members WHERE topic = ?1 AND device = ?2")?
            .query_row(params![topic.as_bytes(), device.0], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// The manifest of `blob`, if `device` keeps a topic it was deposited under.
fn manifest_for(c: &Connection, device: &DeviceId, blob: &BlobId) -> Result<Option<Vec<u8>>> {
    Ok(c.prepare_cached(
        "SELECT b.manifest FROM blobs b WHERE b.blob = ?1 AND EXISTS (
                SELECT 1 FROM blob_topics bt JOIN members m ON m.topic = bt.topic
                WHERE bt.blob = ?1 AND m.device = ?2)",
    )?
    .query_row(params![blob.0, device.0], |r| r.get(0))
    .optional()?)
}

fn sum(c: &Connection, column: &str, value: &[u8]) -> Result<u64> {
    Ok(c.prepare_cached(&format!(
        "SELECT COALESCE(SUM(bytes), 0) FROM blobs WHERE {column} = ?1"
    ))?
    .query_row([value], |r| r.get::<_, i64>(0))? as u64)
}

/// Deposits the manifest of `blob` under `topic`, for `depositor`: the first part of every
/// blob. Reserves the blob's whole size against every bound.
pub fn put_manifest(
    c: &mut Connection,
    depositor: &DeviceId,
    topic: &TopicId,
    blob: &BlobId,
    manifest: &[u8],
    now_ms: u64,
    limits: &Limits,
) -> Result<Put> {
    let Some(chunks) = crypt::manifest_chunks(blob, manifest) else {
        return Ok(Put::Refused);
    };
    let chunks = chunks as usize;
    let tx = c.transaction()?;
    if !is_member(&tx, topic, depositor)? {
        return Ok(Put::Refused);
    }
    let exists = tx
        .prepare_cached("SELECT 1 FROM blobs WHERE blob = ?1")?
        .query_row([blob.0], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        let source: Vec<u8> = tx
            .prepare_cached("SELECT source FROM topics WHERE topic = ?1")?
            .query_row([topic.as_bytes()], |r| r.get(0))?;
        let held = quota::Held {
            topic: sum(&tx, "topic", topic.as_bytes())?,
            device: sum(&tx, "depositor", &depositor.0)?,
            source: if source.is_empty() {
                None
            } else {
                Some(sum(&tx, "source", &source)?)
            },
            total: tx.query_row("SELECT COALESCE(SUM(bytes), 0) FROM blobs", [], |r| {
                r.get::<_, i64>(0)
            })? as u64,
        };
        let reserve = (chunks * MAX_CHUNK_BYTES + manifest.len()) as u64;
        if !quota::blob_fits(limits, &held, reserve) {
            return Ok(Put::Full);
        }
        tx.prepare_cached("INSERT INTO blobs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![
                blob.0,
                topic.as_bytes(),
                depositor.0,
                source,
                manifest,
                reserve as i64,
                now_ms as i64
            ])?;
    }
    tx.prepare_cached("INSERT OR IGNORE INTO blob_topics VALUES (?1, ?2)")?
        .execute(params![blob.0, topic.as_bytes()])?;
    tx.commit()?;
    Ok(Put::Stored)
}

/// Deposits chunk `index` of `blob`: the depositor must keep a topic the blob was deposited
/// under, and the chunk must be the one its manifest names.
pub fn put_chunk(
    c: &mut Connection,
    depositor: &DeviceId,
    blob: &BlobId,
    index: u32,
    bytes: &[u8],
) -> Result<Put> {
    let Some(manifest) = manifest_for(c, depositor, blob)? else {
        return Ok(Put::Refused);
    };
    if !crypt::chunk_fits(&manifest, index, bytes) {
        return Ok(Put::Refused);
    }
    c.prepare_cached("INSERT OR IGNORE INTO blob_chunks (blob, idx, body) VALUES (?1, ?2, ?3)")?
        .execute(params![blob.0, index, bytes])?;
    Ok(Put::Stored)
}

/// The chunks of `blob` held here, if `device` may have them (it keeps a topic the blob was
/// deposited under); None whether the blob is unknown or not the device's.
pub fn held(c: &Connection, device: &DeviceId, blob: &BlobId) -> Result<Option<Vec<u32>>> {
    if manifest_for(c, device, blob)?.is_none() {
        return Ok(None);
    }
    let mut st = c.prepare_cached("SELECT idx FROM blob_chunks WHERE blob = ?1 ORDER BY idx")?;
    let rows = st.query_map([blob.0], |r| r.get::<_, u32>(0))?;
    Ok(Some(rows.collect::<rusqlite::Result<_>>()?))
}

/// The answer to a member asking for a part of `blob` (`/hearth/blob/1`).
pub fn part(c: &Connection, device: &DeviceId, blob: &BlobId, part: Part) -> Result<Response> {
    let Some(manifest) = manifest_for(c, device, blob)? else {
        return Ok(Response::Refused);
    };
    let bytes = match part {
        Part::Manifest => Some(manifest),
        Part::Chunk(i) => c
            .prepare_cached("SELECT body FROM blob_chunks WHERE blob = ?1 AND idx = ?2")?
            .query_row(params![blob.0, i], |r| r.get(0))
            .optional()?,
    };
    Ok(bytes.map_or(Response::Missing, |b| Response::Bytes(ByteBuf::from(b))))
}

/// Drops blobs older than the blob retention, and those no kept topic names any more (their
/// topics expired). Returns how many were dropped.
pub(super) fn purge(tx: &Connection, now_ms: u64, limits: &Limits) -> Result<u64> {
    let cutoff = now_ms.saturating_sub(limits.blob_retention.as_millis() as u64) as i64;
    let n = tx.execute(
        "DELETE FROM blobs WHERE stored_at < ?1
           OR NOT EXISTS (SELECT 1 FROM blob_topics bt WHERE bt.blob = blobs.blob)",
        [cutoff],
    )?;
    Ok(n as u64)
}

/// Blobs held, and the bytes reserved for them.
pub(super) fn usage(c: &Connection) -> Result<(u64, u64)> {
    Ok(c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM blobs",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::crypt::Sealer;
    use crate::mailbox::access::TopicSecret;
    use crate::mailbox::store;

    const HOME: &[u8] = &[198, 51, 100, 7];

    /// A sealed blob: id, manifest, chunks.
    fn sealed(size: usize, fill: u8) -> (BlobId, Vec<u8>, Vec<Vec<u8>>) {
        let key = [fill; 32];
        let mut s = Sealer::new(&key, size as u64);
        let plain = vec![fill; size];
        let chunks: Vec<Vec<u8>> = plain
            .chunks(crate::blob::CHUNK_BYTES)
            .map(|c| s.seal(c))
            .collect();
        let (id, manifest) = s.finish();
        (id, manifest, chunks)
    }

    struct Family {
        _dir: tempfile::TempDir,
        c: Connection,
        topic: TopicId,
        mom: DeviceId,
        son: DeviceId,
        stranger: DeviceId,
    }

    /// A mailbox keeping the family's topic for Mom and her son; a stranger keeps one of its
    /// own, so it is a member of something here.
    fn family(limits: &Limits) -> Family {
        let dir = tempfile::tempdir().unwrap();
        let mut c = store::open(&dir.path().join("mailbox.db")).unwrap();
        let secret = TopicSecret::for_group(&[7; 16]);
        let (mom, son, stranger) = (DeviceId([1; 32]), DeviceId([2; 32]), DeviceId([3; 32]));
        for d in [&mom, &son] {
            let kept = store::keep(
                &mut c,
                d,
                HOME,
                &[(secret.topic(), secret.proof(d))],
                0,
                limits,
            )
            .unwrap();
            assert_eq!(kept.len(), 1);
        }
        let own = TopicSecret::for_group(&[9; 16]);
        store::keep(
            &mut c,
            &stranger,
            &[203, 0, 113, 9],
            &[(own.topic(), own.proof(&stranger))],
            0,
            limits,
        )
        .unwrap();
        Family {
            _dir: dir,
            c,
            topic: secret.topic(),
            mom,
            son,
            stranger,
        }
    }

    fn deposit(f: &mut Family, who: &DeviceId, blob: &(BlobId, Vec<u8>, Vec<Vec<u8>>)) -> Put {
        let (id, manifest, chunks) = blob;
        let topic = f.topic;
        let put = put_manifest(
            &mut f.c,
            who,
            &topic,
            id,
            manifest,
            1_000,
            &Limits::default(),
        )
        .unwrap();
        if put != Put::Stored {
            return put;
        }
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(
                put_chunk(&mut f.c, who, id, i as u32, chunk).unwrap(),
                Put::Stored
            );
        }
        Put::Stored
    }

    #[test]
    fn members_deposit_and_fetch_blobs_and_strangers_get_nothing() {
        let mut f = family(&Limits::default());
        let blob = sealed(600_000, 5);
        let (id, manifest, chunks) = blob.clone();
        assert_eq!(chunks.len(), 3);
        // Nothing held yet: a member hears the same as a stranger.
        assert_eq!(held(&f.c, &f.son, &id).unwrap(), None);
        let mom = f.mom;
        assert_eq!(deposit(&mut f, &mom, &blob), Put::Stored);
        assert_eq!(held(&f.c, &f.son, &id).unwrap(), Some(vec![0, 1, 2]));
        match part(&f.c, &f.son, &id, Part::Chunk(2)).unwrap() {
            Response::Bytes(b) => assert_eq!(b.into_vec(), chunks[2]),
            other => panic!("{other:?}"),
        }
        match part(&f.c, &f.son, &id, Part::Manifest).unwrap() {
            Response::Bytes(b) => assert_eq!(b.into_vec(), manifest),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            part(&f.c, &f.son, &id, Part::Chunk(3)).unwrap(),
            Response::Missing
        ));
        // A stranger who knows the blob id and the topic reads nothing, learns nothing…
        assert_eq!(held(&f.c, &f.stranger, &id).unwrap(), None);
        for p in [Part::Manifest, Part::Chunk(0)] {
            assert!(matches!(
                part(&f.c, &f.stranger, &id, p).unwrap(),
                Response::Refused
            ));
        }
        // …and puts nothing, not even a good chunk of a blob it saw.
        let topic = f.topic;
        let stranger = f.stranger;
        let other = sealed(1000, 6);
        assert_eq!(
            put_manifest(
                &mut f.c,
                &stranger,
                &topic,
                &other.0,
                &other.1,
                1,
                &Limits::default()
            )
            .unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_chunk(&mut f.c, &stranger, &id, 0, &chunks[0]).unwrap(),
            Put::Refused
        );
        assert_eq!(usage(&f.c).unwrap().0, 1);
    }

    #[test]
    fn only_what_the_blob_id_names_is_kept() {
        let mut f = family(&Limits::default());
        let (id, manifest, chunks) = sealed(300_000, 5);
        let (topic, mom) = (f.topic, f.mom);
        let l = Limits::default();
        // A manifest that is not the blob's, cut short, or empty.
        let mut wrong = manifest.clone();
        wrong[0] ^= 1;
        for m in [&wrong[..], &manifest[..31], &[][..]] {
            assert_eq!(
                put_manifest(&mut f.c, &mom, &topic, &id, m, 1, &l).unwrap(),
                Put::Refused
            );
        }
        // Chunks before their manifest, flipped, or in another's place.
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 0, &chunks[0]).unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_manifest(&mut f.c, &mom, &topic, &id, &manifest, 1, &l).unwrap(),
            Put::Stored
        );
        let mut flipped = chunks[0].clone();
        flipped[10] ^= 1;
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 0, &flipped).unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 1, &chunks[0]).unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 9, &chunks[0]).unwrap(),
            Put::Refused
        );
        assert_eq!(held(&f.c, &mom, &id).unwrap(), Some(vec![]));
    }

    #[test]
    fn blob_bounds_refuse_new_blobs_and_keep_the_old() {
        let one = (2 * MAX_CHUNK_BYTES + 64) as u64;
        let l = Limits {
            blob_topic_bytes: one + 10,
            ..Limits::default()
        };
        let mut f = family(&l);
        let (topic, mom) = (f.topic, f.mom);
        let first = sealed(300_000, 1);
        let second = sealed(300_000, 2);
        assert_eq!(
            put_manifest(&mut f.c, &mom, &topic, &first.0, &first.1, 1, &l).unwrap(),
            Put::Stored
        );
        assert_eq!(
            put_manifest(&mut f.c, &mom, &topic, &second.0, &second.1, 1, &l).unwrap(),
            Put::Full,
            "the topic's blob bound"
        );
        // The first is whole and still served; the same blob again is no new bytes.
        for (i, c) in first.2.iter().enumerate() {
            assert_eq!(
                put_chunk(&mut f.c, &mom, &first.0, i as u32, c).unwrap(),
                Put::Stored
            );
        }
        assert_eq!(
            put_manifest(&mut f.c, &mom, &topic, &first.0, &first.1, 2, &l).unwrap(),
            Put::Stored
        );
        assert_eq!(held(&f.c, &f.son, &first.0).unwrap(), Some(vec![0, 1]));
        for (name, limits) in [
            (
                "device",
                Limits {
                    blob_device_bytes: one - 1,
                    ..Limits::default()
                },
            ),
            (
                "source",
                Limits {
                    blob_source_bytes: one - 1,
                    ..Limits::default()
                },
            ),
            (
                "mailbox",
                Limits {
                    blob_total_bytes: one - 1,
                    ..Limits::default()
                },
            ),
        ] {
            let mut f = family(&limits);
            let (topic, mom) = (f.topic, f.mom);
            assert_eq!(
                put_manifest(&mut f.c, &mom, &topic, &first.0, &first.1, 1, &limits).unwrap(),
                Put::Full,
                "the {name}'s bound"
            );
        }
    }

    #[test]
    fn blobs_expire_after_their_retention_and_mail_stays() {
        let l = Limits::default();
        let mut f = family(&l);
        let blob = sealed(1000, 3);
        let mom = f.mom;
        assert_eq!(deposit(&mut f, &mom, &blob), Put::Stored);
        let day = 24 * 3600 * 1000;
        store::purge(
            &mut f.c,
            1_000 + l.blob_retention.as_millis() as u64 - day,
            &l,
        )
        .unwrap();
        assert_eq!(usage(&f.c).unwrap().0, 1, "kept within its retention");
        store::purge(
            &mut f.c,
            1_000 + l.blob_retention.as_millis() as u64 + 1,
            &l,
        )
        .unwrap();
        assert_eq!(usage(&f.c).unwrap(), (0, 0));
        assert_eq!(held(&f.c, &f.son, &blob.0).unwrap(), None);
        let chunks: i64 =
            f.c.query_row("SELECT COUNT(*) FROM blob_chunks", [], |r| r.get(0))
                .unwrap();
        assert_eq!(chunks, 0, "its chunks went with it");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever a member sends as a blob's parts, nothing it did not seal is kept, and
        /// nothing panics.
        #[test]
        fn random_parts_are_refused(
            manifest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            chunk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            index in proptest::prelude::any::<u32>(),
            id in proptest::prelude::any::<[u8; 32]>(),
        ) {
            let mut f = family(&Limits::default());
            let (topic, mom) = (f.topic, f.mom);
            let l = Limits::default();
            let named = crypt::id_of(&manifest);
            // Under a random id: never a manifest. Under its own hash: only a whole number
            // of hashes is one.
            proptest::prop_assert_eq!(
                put_manifest(&mut f.c, &mom, &topic, &BlobId(id), &manifest, 1, &l).unwrap(),
                Put::Refused
            );
            let own = put_manifest(&mut f.c, &mom, &topic, &named, &manifest, 1, &l).unwrap();
            let whole = !manifest.is_empty() && manifest.len().is_multiple_of(32);
            proptest::prop_assert_eq!(own == Put::Stored, whole);
            proptest::prop_assert_eq!(
                put_chunk(&mut f.c, &mom, &named, index, &chunk).unwrap(),
                Put::Refused
            );
            let held_chunks = held(&f.c, &mom, &named).unwrap();
            proptest::prop_assert!(held_chunks.is_none_or(|c| c.is_empty()));
        }
    }
}
