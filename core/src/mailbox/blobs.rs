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
//! and nothing held is evicted. A manifest is small and its reservation large, so reservations
//! must be filled: one device may have [`MAX_UNFINISHED_PER_DEVICE`] blobs unfinished at once
//! (one network source [`MAX_UNFINISHED_PER_SOURCE`]), and an unfinished blob that gets no
//! chunk for [`STALLED_AFTER_MS`] is dropped.

use rusqlite::{params, Connection, OptionalExtension};
use serde_bytes::ByteBuf;

use super::store::is_member;
use super::{quota, Limits};
use crate::blob::crypt::{self, MAX_CHUNK_BYTES};
use crate::blob::protocol::{Part, Response};
use crate::blob::BlobId;
use crate::error::Result;
use crate::ids::{DeviceId, TopicId};

/// Unfinished blobs (manifest deposited, chunks still coming) one device may have at once.
/// A sender deposits one blob at a time per mailbox; two allow a deposit cut off and started
/// again.
pub const MAX_UNFINISHED_PER_DEVICE: i64 = 2;
/// Unfinished blobs from one network source (a household).
pub const MAX_UNFINISHED_PER_SOURCE: i64 = 8;
/// An unfinished blob that got no chunk for this long is dropped, its reservation freed.
pub const STALLED_AFTER_MS: u64 = 10 * 60 * 1000;

/// The mailbox database's blob tables (schema version 3).
pub(super) const SCHEMA: &str = "
CREATE TABLE blobs (
    blob BLOB PRIMARY KEY,
    topic BLOB NOT NULL,       -- the topic whose quota it counts in: its first deposit's
    depositor BLOB NOT NULL,
    source BLOB NOT NULL,      -- the network source of its topic, as for mail quotas
    manifest BLOB NOT NULL,
    bytes INTEGER NOT NULL,    -- reserved: the most its chunks can take, and the manifest
    stored_at INTEGER NOT NULL,
    chunks INTEGER NOT NULL,   -- how many its manifest names
    have INTEGER NOT NULL DEFAULT 0,
    progress_at INTEGER NOT NULL  -- its last new chunk (or its manifest)
) STRICT;
CREATE INDEX blobs_unfinished ON blobs(depositor) WHERE have < chunks;
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
    /// The depositor (or its network source) has too many blobs unfinished: finish those.
    Busy,
    /// Not the depositor's to put (not a member of the topic), or not what the id names.
    Refused,
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
    drop_stalled(&tx, now_ms)?;
    let exists = tx
        .prepare_cached("SELECT 1 FROM blobs WHERE blob = ?1")?
        .query_row([blob.0], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        let source: Vec<u8> = tx
            .prepare_cached("SELECT source FROM topics WHERE topic = ?1")?
            .query_row([topic.as_bytes()], |r| r.get(0))?;
        let unfinished = |column: &str, value: &[u8]| -> Result<i64> {
            Ok(tx
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM blobs WHERE have < chunks AND {column} = ?1"
                ))?
                .query_row([value], |r| r.get(0))?)
        };
        if unfinished("depositor", &depositor.0)? >= MAX_UNFINISHED_PER_DEVICE
            || (!source.is_empty() && unfinished("source", &source)? >= MAX_UNFINISHED_PER_SOURCE)
        {
            return Ok(Put::Busy);
        }
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
        tx.prepare_cached(
            "INSERT INTO blobs (blob, topic, depositor, source, manifest, bytes, stored_at,
                                chunks, progress_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7)",
        )?
        .execute(params![
            blob.0,
            topic.as_bytes(),
            depositor.0,
            source,
            manifest,
            reserve as i64,
            now_ms as i64,
            chunks as i64
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
    now_ms: u64,
) -> Result<Put> {
    let Some(manifest) = manifest_for(c, depositor, blob)? else {
        return Ok(Put::Refused);
    };
    if !crypt::chunk_fits(&manifest, index, bytes) {
        return Ok(Put::Refused);
    }
    let tx = c.transaction()?;
    let new = tx
        .prepare_cached("INSERT OR IGNORE INTO blob_chunks (blob, idx, body) VALUES (?1, ?2, ?3)")?
        .execute(params![blob.0, index, bytes])?;
    if new > 0 {
        tx.prepare_cached("UPDATE blobs SET have = have + 1, progress_at = ?2 WHERE blob = ?1")?
            .execute(params![blob.0, now_ms as i64])?;
    }
    tx.commit()?;
    Ok(Put::Stored)
}

/// Drops unfinished blobs that got no chunk for [`STALLED_AFTER_MS`]: a manifest alone must
/// not hold a reservation for the whole retention period.
fn drop_stalled(c: &Connection, now_ms: u64) -> Result<u64> {
    let cutoff = now_ms.saturating_sub(STALLED_AFTER_MS) as i64;
    Ok(
        c.prepare_cached("DELETE FROM blobs WHERE have < chunks AND progress_at < ?1")?
            .execute([cutoff])? as u64,
    )
}

/// The chunks of `blob` held here under `topic`, if `device` keeps that topic; None whether
/// the blob is unknown, not under that topic, or not the device's. (A blob a device sent in
/// two conversations is deposited under each, so members of either can fetch it.)
pub fn held(
    c: &Connection,
    device: &DeviceId,
    topic: &TopicId,
    blob: &BlobId,
) -> Result<Option<Vec<u32>>> {
    let linked = c
        .prepare_cached(
            "SELECT 1 FROM blob_topics bt JOIN members m ON m.topic = bt.topic
             WHERE bt.blob = ?1 AND bt.topic = ?2 AND m.device = ?3",
        )?
        .query_row(params![blob.0, topic.as_bytes(), device.0], |_| Ok(()))
        .optional()?
        .is_some();
    if !linked {
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
    let stalled = drop_stalled(tx, now_ms)?;
    let n = tx.execute(
        "DELETE FROM blobs WHERE stored_at < ?1
           OR NOT EXISTS (SELECT 1 FROM blob_topics bt WHERE bt.blob = blobs.blob)",
        [cutoff],
    )?;
    Ok(n as u64 + stalled)
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
                put_chunk(&mut f.c, who, id, i as u32, chunk, 1_000).unwrap(),
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
        assert_eq!(held(&f.c, &f.son, &f.topic, &id).unwrap(), None);
        let mom = f.mom;
        assert_eq!(deposit(&mut f, &mom, &blob), Put::Stored);
        assert_eq!(
            held(&f.c, &f.son, &f.topic, &id).unwrap(),
            Some(vec![0, 1, 2])
        );
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
        assert_eq!(held(&f.c, &f.stranger, &f.topic, &id).unwrap(), None);
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
            put_chunk(&mut f.c, &stranger, &id, 0, &chunks[0], 1_000).unwrap(),
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
            put_chunk(&mut f.c, &mom, &id, 0, &chunks[0], 1_000).unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_manifest(&mut f.c, &mom, &topic, &id, &manifest, 1, &l).unwrap(),
            Put::Stored
        );
        let mut flipped = chunks[0].clone();
        flipped[10] ^= 1;
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 0, &flipped, 1_000).unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 1, &chunks[0], 1_000).unwrap(),
            Put::Refused
        );
        assert_eq!(
            put_chunk(&mut f.c, &mom, &id, 9, &chunks[0], 1_000).unwrap(),
            Put::Refused
        );
        assert_eq!(held(&f.c, &mom, &topic, &id).unwrap(), Some(vec![]));
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
                put_chunk(&mut f.c, &mom, &first.0, i as u32, c, 1_000).unwrap(),
                Put::Stored
            );
        }
        assert_eq!(
            put_manifest(&mut f.c, &mom, &topic, &first.0, &first.1, 2, &l).unwrap(),
            Put::Stored
        );
        assert_eq!(
            held(&f.c, &f.son, &f.topic, &first.0).unwrap(),
            Some(vec![0, 1])
        );
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
        assert_eq!(held(&f.c, &f.son, &f.topic, &blob.0).unwrap(), None);
        let chunks: i64 =
            f.c.query_row("SELECT COUNT(*) FROM blob_chunks", [], |r| r.get(0))
                .unwrap();
        assert_eq!(chunks, 0, "its chunks went with it");
    }

    #[test]
    fn a_device_leaves_few_blobs_unfinished_and_stalled_ones_go() {
        let l = Limits::default();
        let mut f = family(&l);
        let (topic, mom) = (f.topic, f.mom);
        let blobs: Vec<_> = (1..=4).map(|n| sealed(300_000, n)).collect();
        let manifest = |f: &mut Family, b: &(BlobId, Vec<u8>, Vec<Vec<u8>>), at: u64| {
            put_manifest(&mut f.c, &mom, &topic, &b.0, &b.1, at, &l).unwrap()
        };
        assert_eq!(manifest(&mut f, &blobs[0], 1_000), Put::Stored);
        assert_eq!(manifest(&mut f, &blobs[1], 1_000), Put::Stored);
        // Two reservations unfilled: a third waits until one is finished.
        assert_eq!(manifest(&mut f, &blobs[2], 1_000), Put::Busy);
        for (i, c) in blobs[0].2.iter().enumerate() {
            assert_eq!(
                put_chunk(&mut f.c, &mom, &blobs[0].0, i as u32, c, 2_000).unwrap(),
                Put::Stored
            );
        }
        assert_eq!(manifest(&mut f, &blobs[2], 2_000), Put::Stored);
        // A chunk keeps a reservation alive; one with none for ten minutes is dropped, and
        // its reservation with it.
        let later = 2_000 + STALLED_AFTER_MS - 1;
        assert_eq!(
            put_chunk(&mut f.c, &mom, &blobs[2].0, 0, &blobs[2].2[0], later).unwrap(),
            Put::Stored
        );
        let reserved = usage(&f.c).unwrap().1;
        assert_eq!(manifest(&mut f, &blobs[3], later + 2), Put::Stored);
        let (count, bytes) = usage(&f.c).unwrap();
        assert_eq!(count, 3, "the stalled one went");
        assert_eq!(bytes, reserved, "one reservation freed, one made");
        assert_eq!(held(&f.c, &f.son, &topic, &blobs[1].0).unwrap(), None);
        assert_eq!(
            held(&f.c, &f.son, &topic, &blobs[0].0).unwrap(),
            Some(vec![0, 1]),
            "finished blobs never stall"
        );
        // The periodic purge drops stalled ones too.
        store::purge(&mut f.c, later + STALLED_AFTER_MS + 10, &l).unwrap();
        assert_eq!(usage(&f.c).unwrap().0, 1);
    }

    #[test]
    fn a_blob_sent_in_two_conversations_is_held_under_each() {
        let l = Limits::default();
        let mut f = family(&l);
        let (family_topic, mom, son) = (f.topic, f.mom, f.son);
        // Mom and her son also share a second conversation.
        let other = TopicSecret::for_group(&[8; 16]);
        for d in [&mom, &son] {
            store::keep(&mut f.c, d, HOME, &[(other.topic(), other.proof(d))], 0, &l).unwrap();
        }
        let blob = sealed(300_000, 4);
        assert_eq!(deposit(&mut f, &mom, &blob), Put::Stored);
        assert_eq!(
            held(&f.c, &son, &family_topic, &blob.0).unwrap(),
            Some(vec![0, 1])
        );
        // Not yet under the other conversation: asked there, it is unknown.
        assert_eq!(held(&f.c, &son, &other.topic(), &blob.0).unwrap(), None);
        let before = usage(&f.c).unwrap();
        assert_eq!(
            put_manifest(&mut f.c, &mom, &other.topic(), &blob.0, &blob.1, 5, &l).unwrap(),
            Put::Stored
        );
        assert_eq!(usage(&f.c).unwrap(), before, "linked, not stored again");
        assert_eq!(
            held(&f.c, &son, &other.topic(), &blob.0).unwrap(),
            Some(vec![0, 1])
        );
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
                put_chunk(&mut f.c, &mom, &named, index, &chunk, 1_000).unwrap(),
                Put::Refused
            );
            let held_chunks = held(&f.c, &mom, &topic, &named).unwrap();
            proptest::prop_assert!(held_chunks.is_none_or(|c| c.is_empty()));
        }
    }
}
