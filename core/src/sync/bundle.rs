//! Bundles: envelope sync through a file, for a USB stick when there is no network.
//!
//! ```text
//! bundle = "HEARTHB2" record*
//! record = 0x00 (u32 length, envelope bytes)
//!        | 0x01 (blob id [32], part u32 (u32::MAX: the manifest), u32 length, bytes)
//! ```
//!
//! (`HEARTHB1` files, envelopes without the tag byte, are still read.)
//!
//! A bundle holds the envelopes the other device lacks (given its version vectors) or all of
//! them, then the photos, voice messages and files their messages name (`crate::blob`): each
//! blob's manifest and chunks, checked on import like chunks from any peer, and kept only for a
//! blob some message names. Each envelope verifies on its own, so a damaged or truncated file imports everything
//! before the damage and reports the rest. Import order does not matter: envelopes for topics
//! not known yet (a group whose invitation comes later in the file) are retried after each pass.

use std::io::{Read, Write};

use rusqlite::Connection;
use serde::Serialize;

use super::VersionVectors;
use crate::envelope::MAX_ENVELOPE_BYTES;
use crate::ids::{DeviceId, TopicId};

pub const MAGIC: &[u8; 8] = b"HEARTHB2";
/// The first format: envelopes only, untagged.
pub const MAGIC_V1: &[u8; 8] = b"HEARTHB1";
const ENVELOPE: u8 = 0;
const BLOB: u8 = 1;
const MANIFEST_PART: u32 = u32::MAX;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("this file is not a Hearth bundle")]
    NotABundle,
    #[error("the bundle is damaged after {0} envelopes: {1}")]
    Damaged(usize, String),
    #[error("bundle i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub new: usize,
    pub duplicate: usize,
    /// Envelopes refused, with the reason, e.g. "envelope for a topic this device does not hold".
    pub rejected: Vec<String>,
    /// Set if the file was damaged part-way; everything before the damage was imported.
    pub damaged: Option<String>,
    /// Blob manifests and chunks kept (photos, voice messages, files).
    pub blob_parts: usize,
}

/// Writes the envelopes `since` lacks (all, if None). Returns how many were written.
pub fn write(
    conn: &Connection,
    files: &crate::blob::files::Files,
    since: Option<&VersionVectors>,
    out: &mut impl Write,
) -> crate::Result<usize> {
    out.write_all(MAGIC).map_err(Error::from)?;
    let mut st = conn.prepare_cached(
        "SELECT e.topic, e.author, e.seq, e.body FROM envelopes e
         
         ORDER BY e.topic, e.author, e.seq",
    )?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let topic = TopicId::from_slice(&r.get::<_, Vec<u8>>(0)?);
        let author = DeviceId::from_slice(&r.get::<_, Vec<u8>>(1)?);
        let seq = r.get::<_, i64>(2)? as u64;
        if let (Some(since), Some(t), Some(a)) = (since, topic, author) {
            if seq <= since.get(&t, &a) {
                continue;
            }
        }
        let body: Vec<u8> = r.get(3)?;
        out.write_all(&[ENVELOPE]).map_err(Error::from)?;
        out.write_all(&(body.len() as u32).to_le_bytes())
            .map_err(Error::from)?;
        out.write_all(&body).map_err(Error::from)?;
        n += 1;
    }
    drop(rows);
    drop(st);
    write_blobs(conn, files, since, out)?;
    out.flush().map_err(Error::from)?;
    Ok(n)
}

/// Writes every whole blob named by a message `since` lacks (all, if None): its manifest,
/// then its chunks.
fn write_blobs(
    conn: &Connection,
    files: &crate::blob::files::Files,
    since: Option<&VersionVectors>,
    out: &mut impl Write,
) -> crate::Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT a.blob, b.chunks, m.device, m.seq, t.topic FROM attachments a
         JOIN blobs b ON b.id = a.blob AND b.have >= b.chunks AND b.damaged IS NULL
         JOIN messages m ON m.id = a.message
         JOIN topics t ON t.chat = m.chat AND t.kind = 'chat'",
    )?;
    let rows: Vec<(Vec<u8>, u32, Vec<u8>, i64, Vec<u8>)> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut done = std::collections::HashSet::new();
    for (blob, chunks, device, seq, topic) in rows {
        let (Some(id), Some(d), Some(t)) = (
            crate::blob::BlobId::from_slice(&blob),
            DeviceId::from_slice(&device),
            TopicId::from_slice(&topic),
        ) else {
            continue;
        };
        if since.is_some_and(|v| seq as u64 <= v.get(&t, &d)) || !done.insert(id) {
            continue;
        }
        let Some(manifest) = files.manifest(&id, chunks)? else {
            continue;
        };
        write_part(out, &id, MANIFEST_PART, &manifest)?;
        for i in 0..chunks {
            match files.chunk(&id, i)? {
                Some(c) if crate::blob::crypt::chunk_fits(&manifest, i, &c) => {
                    write_part(out, &id, i, &c)?
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn write_part(
    out: &mut impl Write,
    id: &crate::blob::BlobId,
    part: u32,
    bytes: &[u8],
) -> Result<(), Error> {
    out.write_all(&[BLOB])?;
    out.write_all(&id.0)?;
    out.write_all(&part.to_le_bytes())?;
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(bytes)?;
    Ok(())
}

/// A blob part read from a bundle, unchecked.
pub struct BlobPart {
    pub blob: crate::blob::BlobId,
    pub part: crate::blob::protocol::Part,
    pub bytes: Vec<u8>,
}

/// One record of a bundle.
enum Record {
    Envelope(Vec<u8>),
    Blob(BlobPart),
}

/// Reads the next record; None at the end. `v1`: untagged envelopes.
fn next(input: &mut impl Read, v1: bool) -> Result<Option<Record>, String> {
    let mut tag = [0u8; 1];
    match input.read(&mut tag) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(e.to_string()),
    }
    let u32_of = |input: &mut dyn Read, what: &str| -> Result<u32, String> {
        let mut b = [0u8; 4];
        input
            .read_exact(&mut b)
            .map_err(|e| format!("truncated {what}: {e}"))?;
        Ok(u32::from_le_bytes(b))
    };
    let bytes_of = |input: &mut dyn Read, n: usize, what: &str| -> Result<Vec<u8>, String> {
        let mut body = vec![0u8; n];
        input
            .read_exact(&mut body)
            .map_err(|e| format!("truncated {what}: {e}"))?;
        Ok(body)
    };
    if v1 {
        let mut rest = [0u8; 3];
        input
            .read_exact(&mut rest)
            .map_err(|e| format!("truncated length: {e}"))?;
        let n = u32::from_le_bytes([tag[0], rest[0], rest[1], rest[2]]) as usize;
        if n > MAX_ENVELOPE_BYTES {
            return Err(format!("envelope length {n} exceeds the limit"));
        }
        return Ok(Some(Record::Envelope(bytes_of(input, n, "envelope")?)));
    }
    match tag[0] {
        ENVELOPE => {
            let n = u32_of(input, "length")? as usize;
            if n > MAX_ENVELOPE_BYTES {
                return Err(format!("envelope length {n} exceeds the limit"));
            }
            Ok(Some(Record::Envelope(bytes_of(input, n, "envelope")?)))
        }
        BLOB => {
            let mut id = [0u8; 32];
            input
                .read_exact(&mut id)
                .map_err(|e| format!("truncated blob id: {e}"))?;
            let part = u32_of(input, "blob part")?;
            let n = u32_of(input, "length")? as usize;
            let max = if part == MANIFEST_PART {
                (crate::blob::crypt::chunk_count(crate::blob::MAX_BLOB_BYTES) * 32) as usize
            } else {
                crate::blob::crypt::MAX_CHUNK_BYTES
            };
            if n > max {
                return Err(format!("blob part length {n} exceeds the limit"));
            }
            Ok(Some(Record::Blob(BlobPart {
                blob: crate::blob::BlobId(id),
                part: if part == MANIFEST_PART {
                    crate::blob::protocol::Part::Manifest
                } else {
                    crate::blob::protocol::Part::Chunk(part)
                },
                bytes: bytes_of(input, n, "blob part")?,
            })))
        }
        t => Err(format!("unknown record {t}")),
    }
}

fn magic(input: &mut impl Read) -> Result<bool, Error> {
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| Error::NotABundle)?;
    match &magic {
        m if m == MAGIC => Ok(false),
        m if m == MAGIC_V1 => Ok(true),
        _ => Err(Error::NotABundle),
    }
}

/// Reads the blob parts of a bundle one at a time (they may be large: never all in memory);
/// stops at damage and says where.
pub fn read_blobs(
    input: &mut impl Read,
    mut each: impl FnMut(BlobPart) -> crate::Result<()>,
) -> crate::Result<Option<String>> {
    let v1 = magic(input)?;
    loop {
        match next(input, v1) {
            Ok(None) => return Ok(None),
            Ok(Some(Record::Envelope(_))) => {}
            Ok(Some(Record::Blob(p))) => each(p)?,
            Err(e) => return Ok(Some(e)),
        }
    }
}

/// Reads every envelope of a bundle (skipping its blob parts); stops at damage and says where.
pub fn read(input: &mut impl Read) -> Result<(Vec<Vec<u8>>, Option<String>), Error> {
    let v1 = magic(input)?;
    let mut out = Vec::new();
    loop {
        match next(input, v1) {
            Ok(None) => return Ok((out, None)),
            Ok(Some(Record::Envelope(e))) => out.push(e),
            Ok(Some(Record::Blob(_))) => {}
            Err(e) => return Ok((out, Some(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = read(&mut bytes.as_slice());
            let _ = read(&mut with_magic.as_slice());
            let _ = read_blobs(&mut with_magic.as_slice(), |_| Ok(()));
        }
    }

    #[test]
    fn damage_is_reported_with_what_came_before() {
        let mut f = MAGIC_V1.to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(b"abc");
        f.extend_from_slice(&10u32.to_le_bytes());
        f.extend_from_slice(b"short");
        let (envs, damage) = read(&mut f.as_slice()).unwrap();
        assert_eq!(envs, vec![b"abc".to_vec()]);
        assert!(damage.unwrap().contains("truncated"));
        assert!(matches!(read(&mut &b"NOPE"[..]), Err(Error::NotABundle)));
        let mut v2 = MAGIC.to_vec();
        v2.push(ENVELOPE);
        v2.extend_from_slice(&3u32.to_le_bytes());
        v2.extend_from_slice(b"abc");
        v2.push(BLOB);
        v2.extend_from_slice(&[5; 32]);
        v2.extend_from_slice(&0u32.to_le_bytes());
        v2.extend_from_slice(&u32::MAX.to_le_bytes());
        let (envs, damage) = read(&mut v2.as_slice()).unwrap();
        assert_eq!(envs, vec![b"abc".to_vec()]);
        assert!(
            damage.unwrap().contains("exceeds"),
            "an oversized part is refused unread"
        );
        v2.push(9);
        assert!(read_blobs(&mut &v2[..], |_| Ok(())).unwrap().is_some());
    }
}
