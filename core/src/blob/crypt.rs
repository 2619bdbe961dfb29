//! Sealing a blob, and checking and opening its chunks.
//!
//! ```text
//! chunk i    = ChaCha20-Poly1305(blob key, nonce = i (LE, 12 bytes), aad = "hearth-blob" ‖ i ‖ n,
//!                                plaintext[i * CHUNK_BYTES ..][.. CHUNK_BYTES])
//! manifest   = BLAKE3(chunk 0) ‖ … ‖ BLAKE3(chunk n-1)
//! blob id    = BLAKE3(manifest)
//! ```
//!
//! The key is fresh per blob, so counting nonces never repeat under one key. The position and
//! count in the associated data mean a chunk opens only where its author put it.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

use super::{BlobId, CHUNK_BYTES};

/// What the AEAD adds to each chunk.
pub const TAG_BYTES: usize = 16;
/// Largest chunk on the wire or on disk.
pub const MAX_CHUNK_BYTES: usize = CHUNK_BYTES + TAG_BYTES;
const HASH: usize = 32;

/// Chunks of a blob of `size` plaintext bytes: an empty blob is one empty chunk.
pub fn chunk_count(size: u64) -> u32 {
    size.div_ceil(CHUNK_BYTES as u64).max(1) as u32
}

/// Plaintext bytes of chunk `index` of a blob of `size` bytes.
pub fn plain_len(size: u64, index: u32) -> usize {
    let start = index as u64 * CHUNK_BYTES as u64;
    size.saturating_sub(start).min(CHUNK_BYTES as u64) as usize
}

fn nonce(index: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&index.to_le_bytes());
    Nonce::from(n)
}

fn aad(index: u32, chunks: u32) -> [u8; 19] {
    let mut a = [0u8; 19];
    a[..11].copy_from_slice(b"hearth-blob");
    a[11..15].copy_from_slice(&index.to_le_bytes());
    a[15..].copy_from_slice(&chunks.to_le_bytes());
    a
}

/// Seals a blob chunk by chunk, so a large file never has to be in memory at once.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    chunks: u32,
    next: u32,
    manifest: Vec<u8>,
}

impl Sealer {
    pub fn new(key: &[u8; 32], size: u64) -> Sealer {
        let chunks = chunk_count(size);
        Sealer {
            cipher: ChaCha20Poly1305::new(&(*key).into()),
            chunks,
            next: 0,
            manifest: Vec::with_capacity(chunks as usize * HASH),
        }
    }

    /// Seals the next chunk (`plain` must be its whole plaintext).
    pub fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        let i = self.next;
        self.next += 1;
        let sealed = self
            .cipher
            .encrypt(
                &nonce(i),
                Payload {
                    msg: plain,
                    aad: &aad(i, self.chunks),
                },
            )
            .unwrap_or_default();
        self.manifest
            .extend_from_slice(blake3::hash(&sealed).as_bytes());
        sealed
    }

    /// The blob's id and manifest, once every chunk is sealed.
    pub fn finish(self) -> (BlobId, Vec<u8>) {
        (id_of(&self.manifest), self.manifest)
    }
}

pub fn id_of(manifest: &[u8]) -> BlobId {
    BlobId(*blake3::hash(manifest).as_bytes())
}

/// If `manifest` is the manifest of blob `id`, how many chunks it names. Which count a device
/// accepts is one a message naming the blob gives (`blob::store::counts`): a member naming
/// someone else's blob with a wrong size cannot make it impossible to fetch.
pub fn manifest_chunks(id: &BlobId, manifest: &[u8]) -> Option<u32> {
    let n = manifest.len() / HASH;
    (manifest.len().is_multiple_of(HASH)
        && n >= 1
        && n <= chunk_count(super::MAX_BLOB_BYTES) as usize
        && id_of(manifest) == *id)
        .then_some(n as u32)
}

/// Is `manifest` the manifest of blob `id`, with `chunks` entries?
pub fn manifest_fits(id: &BlobId, chunks: u32, manifest: &[u8]) -> bool {
    manifest.len() == chunks as usize * HASH && id_of(manifest) == *id
}

/// Is `bytes` chunk `index` of the blob whose manifest this is?
pub fn chunk_fits(manifest: &[u8], index: u32, bytes: &[u8]) -> bool {
    // In u64: on a 32-bit device a large index must not wrap round to chunk 0's place.
    let at = index as u64 * HASH as u64;
    bytes.len() <= MAX_CHUNK_BYTES
        && at + (HASH as u64) <= manifest.len() as u64
        && manifest[at as usize..at as usize + HASH] == *blake3::hash(bytes).as_bytes()
}

/// Opens chunk `index` of `chunks`. Fails if the chunk is not what the blob's author sealed
/// there (a damaged blob: the author's own client sealed something else).
pub fn open(key: &[u8; 32], index: u32, chunks: u32, sealed: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(&(*key).into())
        .decrypt(
            &nonce(index),
            Payload {
                msg: sealed,
                aad: &aad(index, chunks),
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(key: &[u8; 32], data: &[u8]) -> (BlobId, Vec<u8>, Vec<Vec<u8>>) {
        let mut s = Sealer::new(key, data.len() as u64);
        let n = chunk_count(data.len() as u64);
        let chunks: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let start = i as usize * CHUNK_BYTES;
                s.seal(&data[start..start + plain_len(data.len() as u64, i)])
            })
            .collect();
        let (id, m) = s.finish();
        (id, m, chunks)
    }

    #[test]
    fn chunks_open_only_in_place_with_the_key() {
        let key = [7u8; 32];
        let data: Vec<u8> = (0..CHUNK_BYTES * 2 + 10).map(|i| i as u8).collect();
        let (id, manifest, chunks) = seal_all(&key, &data);
        assert_eq!(chunks.len(), 3);
        assert!(manifest_fits(&id, 3, &manifest));
        assert!(!manifest_fits(&id, 2, &manifest[..64]));
        let mut opened = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            assert!(chunk_fits(&manifest, i as u32, c));
            opened.extend(open(&key, i as u32, 3, c).unwrap());
        }
        assert_eq!(opened, data);
        // Swapped, truncated, flipped, or with another key: refused.
        assert!(!chunk_fits(&manifest, 0, &chunks[1]));
        assert!(!chunk_fits(&manifest, 2, &chunks[2][..5]));
        let mut flipped = chunks[0].clone();
        flipped[3] ^= 1;
        assert!(!chunk_fits(&manifest, 0, &flipped));
        assert!(open(&key, 1, 3, &chunks[0]).is_none());
        assert!(open(&[8; 32], 0, 3, &chunks[0]).is_none());
        assert!(!chunk_fits(&manifest, 9, &chunks[0]));
    }

    #[test]
    fn an_empty_blob_is_one_chunk_and_sizes_split_exactly() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64 + 1), 2);
        assert_eq!(plain_len(CHUNK_BYTES as u64 + 1, 1), 1);
        let (id, m, c) = seal_all(&[1; 32], &[]);
        assert!(manifest_fits(&id, 1, &m));
        assert_eq!(open(&[1; 32], 0, 1, &c[0]).unwrap(), Vec::<u8>::new());
    }
}
