//! Bundles: envelope sync through a file, for a USB stick when there is no network.
//!
//! ```text
//! bundle = "HEARTHB1" (u32 length, envelope bytes)*
//! ```
//!
//! A bundle holds the envelopes the other device lacks (given its version vectors) or all of
//! them. Each envelope verifies on its own, so a damaged or truncated file imports everything
//! before the damage and reports the rest. Import order does not matter: envelopes for topics
//! not known yet (a group whose invitation comes later in the file) are retried after each pass.

use std::io::{Read, Write};

use rusqlite::Connection;
use serde::Serialize;

use super::VersionVectors;
use crate::envelope::MAX_ENVELOPE_BYTES;
use crate::ids::{DeviceId, TopicId};

pub const MAGIC: &[u8; 8] = b"HEARTHB1";

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
}

/// Writes the envelopes `since` lacks (all, if None). Returns how many were written.
pub fn write(
    conn: &Connection,
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
        out.write_all(&(body.len() as u32).to_le_bytes())
            .map_err(Error::from)?;
        out.write_all(&body).map_err(Error::from)?;
        n += 1;
    }
    out.flush().map_err(Error::from)?;
    Ok(n)
}

/// Reads every envelope of a bundle; stops at damage and says where.
pub fn read(input: &mut impl Read) -> Result<(Vec<Vec<u8>>, Option<String>), Error> {
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| Error::NotABundle)?;
    if &magic != MAGIC {
        return Err(Error::NotABundle);
    }
    let mut out = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match input.read(&mut len[..1]) {
            Ok(0) => return Ok((out, None)),
            Ok(_) => {}
            Err(e) => return Ok((out, Some(e.to_string()))),
        }
        if let Err(e) = input.read_exact(&mut len[1..]) {
            return Ok((out, Some(format!("truncated length: {e}"))));
        }
        let n = u32::from_le_bytes(len) as usize;
        if n > MAX_ENVELOPE_BYTES {
            return Ok((out, Some(format!("envelope length {n} exceeds the limit"))));
        }
        let mut body = vec![0u8; n];
        if let Err(e) = input.read_exact(&mut body) {
            return Ok((out, Some(format!("truncated envelope: {e}"))));
        }
        out.push(body);
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
        }
    }

    #[test]
    fn damage_is_reported_with_what_came_before() {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(b"abc");
        f.extend_from_slice(&10u32.to_le_bytes());
        f.extend_from_slice(b"short");
        let (envs, damage) = read(&mut f.as_slice()).unwrap();
        assert_eq!(envs, vec![b"abc".to_vec()]);
        assert!(damage.unwrap().contains("truncated"));
        assert!(matches!(read(&mut &b"NOPE"[..]), Err(Error::NotABundle)));
    }
}
