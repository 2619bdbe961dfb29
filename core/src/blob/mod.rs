//! Blobs: photos, voice messages and files, which do not fit in an envelope.
//!
//! A blob is sealed once, by its sender, with a key made for it alone
//! ([`crypt`]): its plaintext is cut into chunks of [`CHUNK_BYTES`], each sealed with
//! ChaCha20-Poly1305 under that key, and named by the BLAKE3 hash of its ciphertext. The list of
//! those hashes is the blob's **manifest**, and the hash of the manifest is the blob's id: so a
//! chunk from anyone (a family device, a relay, a USB stick) is checked against the manifest
//! before it is kept, and the manifest against the id. The id, the key, the size and a small
//! preview travel in the message itself ([`BlobRef`], inside the author's segment document), so
//! only members — who decrypt the envelope — can open the chunks, and the conversation shows the
//! preview (a thumbnail, a waveform) before any chunk has arrived. A member removed before the
//! message never receives its envelope, and so never the key.
//!
//! Chunks are files under the data directory ([`files`]), outside the database; the database
//! knows which messages name which blob and how much of it is here (`engine::blobs`). They
//! travel by their own request-response protocol ([`protocol`], carried out by `net::blob_io`)
//! and in bundles (`sync::bundle`).

pub mod crypt;
pub mod files;
pub mod photo;
pub mod protocol;
pub mod store;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use crate::ids::BlobId;

/// Plaintext bytes per chunk: a chunk is one request, small enough that a text message on the
/// same connection never waits long behind it.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Largest blob: a few minutes of phone video. A message naming a larger one is shown without
/// its attachment.
pub const MAX_BLOB_BYTES: u64 = 100 * 1024 * 1024;
/// Largest inline preview (a thumbnail JPEG): it travels in the message envelope.
pub const MAX_PREVIEW_BYTES: usize = 12 * 1024;
/// Levels in a voice message's waveform.
pub const MAX_WAVEFORM: usize = 64;
const MAX_NAME_CHARS: usize = 255;
const MAX_MIME_CHARS: usize = 100;
/// The encoding of [`BlobRef`] in a document: a version byte, then postcard.
const REF_VERSION: u8 = 1;

/// What a blob is, for how it is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "AttachmentKind")]
pub enum Kind {
    Photo,
    Voice,
    File,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "photo" => Some(Kind::Photo),
            "voice" => Some(Kind::Voice),
            "file" => Some(Kind::File),
            _ => None,
        }
    }
}

/// A message's attachment as its author wrote it into the document: everything a member needs
/// to show it, fetch it and open it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub id: BlobId,
    /// The blob's own ChaCha20-Poly1305 key.
    pub key: [u8; 32],
    /// Plaintext bytes.
    pub size: u64,
    pub kind: Kind,
    pub mime: String,
    pub name: String,
    /// A small JPEG for photos; empty otherwise.
    #[serde(with = "serde_bytes")]
    pub preview: Vec<u8>,
    /// Pixels of the photo as sent (0 when not a photo).
    pub width: u32,
    pub height: u32,
    /// Length of a voice message (0 when not one).
    pub duration_ms: u32,
    /// A voice message's loudness over time, 0..=255.
    #[serde(with = "serde_bytes")]
    pub waveform: Vec<u8>,
}

impl BlobRef {
    /// How many chunks the blob has.
    pub fn chunks(&self) -> u32 {
        crypt::chunk_count(self.size)
    }

    /// Encodes for the document.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![REF_VERSION];
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    /// Decodes and checks bounds; None for anything malformed, oversized or of a later version
    /// (the message is then shown without its attachment).
    pub fn decode(bytes: &[u8]) -> Option<BlobRef> {
        let (&v, rest) = bytes.split_first()?;
        if v != REF_VERSION {
            return None;
        }
        let r: BlobRef = postcard::from_bytes(rest).ok()?;
        r.check().then_some(r)
    }

    fn check(&self) -> bool {
        self.size <= MAX_BLOB_BYTES
            && self.preview.len() <= MAX_PREVIEW_BYTES
            && self.waveform.len() <= MAX_WAVEFORM
            && self.name.chars().count() <= MAX_NAME_CHARS
            && self.mime.chars().count() <= MAX_MIME_CHARS
            && !self.name.chars().any(char::is_control)
            && !self.mime.chars().any(char::is_control)
    }
}

/// A file name safe to show and to save under: no directories, no control characters, bounded.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let s = s.trim().trim_start_matches('.').to_string();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

/// A MIME type as given, bounded, parameters kept without spaces (`audio/mp4;codecs=opus`, as
/// WebKit records voice); an unusable one reads as `application/octet-stream`.
pub fn clean_mime(mime: &str) -> String {
    let joined: Vec<&str> = mime.split(';').map(str::trim).collect();
    let joined = joined.join(";");
    let m = joined.as_str();
    if m.is_empty()
        || m.chars().count() > MAX_MIME_CHARS
        || !m.contains('/')
        || m.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        "application/octet-stream".into()
    } else {
        m.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlobRef {
        BlobRef {
            id: BlobId([1; 32]),
            key: [2; 32],
            size: 600_000,
            kind: Kind::Voice,
            mime: "audio/ogg".into(),
            name: "voice.ogg".into(),
            preview: vec![],
            width: 0,
            height: 0,
            duration_ms: 3200,
            waveform: vec![10, 200, 30],
        }
    }

    #[test]
    fn a_ref_roundtrips_and_bounds_are_enforced() {
        let r = sample();
        assert_eq!(BlobRef::decode(&r.encode()), Some(r.clone()));
        assert_eq!(r.chunks(), 3);
        let mut big = r.clone();
        big.size = MAX_BLOB_BYTES + 1;
        assert_eq!(BlobRef::decode(&big.encode()), None);
        let mut long = r.clone();
        long.preview = vec![0; MAX_PREVIEW_BYTES + 1];
        assert_eq!(BlobRef::decode(&long.encode()), None);
        let mut later = r.encode();
        later[0] = 2;
        assert_eq!(BlobRef::decode(&later), None);
        assert_eq!(BlobRef::decode(&[]), None);
        assert_eq!(BlobRef::decode(&[1, 0xff, 0xff]), None);
    }

    #[test]
    fn names_cannot_climb_out_of_a_folder() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("..\\x\\.bashrc"), "bashrc");
        assert_eq!(clean_name("a\nb.jpg"), "ab.jpg");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_mime("Image/JPEG"), "image/jpeg");
        assert_eq!(clean_mime("text/html\n"), "text/html");
        assert_eq!(clean_mime("nonsense"), "application/octet-stream");
        assert_eq!(
            clean_mime("audio/mp4; codecs=opus"),
            "audio/mp4;codecs=opus"
        );
        assert_eq!(clean_mime("a/b c"), "application/octet-stream");
    }
}
