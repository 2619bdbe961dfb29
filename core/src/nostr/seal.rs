//! What an event's content is: envelopes (already signed and end-to-end encrypted) wrapped
//! again, so a relay sees no Hearth header (no topic, author or seq), only random-looking bytes
//! of a few fixed sizes.
//!
//! ```text
//! content = base64( 0x01 ‖ nonce(24) ‖ XChaCha20-Poly1305(seal key, aad = p tag,
//!                     u32 length ‖ postcard(Payload) ‖ zero padding to a bucket size) )
//! ```
//!
//! Small envelopes travel together in one event ([`Payload::Batch`]); an envelope too large for
//! one event is split into parts ([`Payload::Part`]) that are put back together on arrival
//! ([`Parts`]). Events stay within what common relays accept (many refuse events over 64 KB).
#![warn(missing_docs)]

use std::collections::VecDeque;

use chacha20poly1305::aead::{Aead, KeyInit, Payload as Aad};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};

use super::tags::Tag;
use crate::envelope::MAX_ENVELOPE_BYTES;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// The largest plaintext in one event: its content is about 4/3 of this in base64, 32 KB.
pub const MAX_PLAIN: usize = 24 * 1024;
/// Plaintexts are padded to one of these sizes, so an event's size says little of what it holds.
const BUCKETS: [usize; 4] = [1024, 4096, 12 * 1024, MAX_PLAIN];
/// Room for the payload's own framing inside [`MAX_PLAIN`].
const FRAMING: usize = 64;
/// A part carries at most this much of an envelope.
const PART_BYTES: usize = MAX_PLAIN - FRAMING;
/// An envelope is at most this many parts.
const MAX_PARTS: u8 = MAX_ENVELOPE_BYTES.div_ceil(PART_BYTES) as u8;
/// The largest content accepted from a relay (base64 of the largest sealed plaintext).
pub const MAX_CONTENT: usize = (1 + NONCE_LEN + MAX_PLAIN + 16).div_ceil(3) * 4;

/// What one event holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Whole envelopes.
    Batch(Vec<serde_bytes::ByteBuf>),
    /// One part of an envelope too large for an event.
    Part {
        /// Names the envelope being split (random).
        id: [u8; 16],
        /// This part's place, from 0.
        index: u8,
        /// How many parts there are.
        count: u8,
        /// The bytes.
        bytes: serde_bytes::ByteBuf,
    },
}

/// Splits envelopes into event payloads: batches of small ones (in order), parts of large ones.
pub fn pack(envelopes: &[Vec<u8>]) -> Vec<Payload> {
    let mut out = Vec::new();
    let mut batch: Vec<serde_bytes::ByteBuf> = Vec::new();
    let mut size = 0;
    for env in envelopes {
        // postcard's length prefix for each envelope: at most 3 bytes at these sizes.
        let cost = env.len() + 3;
        if cost + FRAMING > MAX_PLAIN {
            if !batch.is_empty() {
                out.push(Payload::Batch(std::mem::take(&mut batch)));
                size = 0;
            }
            let id: [u8; 16] = rand::random();
            let chunks: Vec<&[u8]> = env.chunks(PART_BYTES).collect();
            let count = chunks.len() as u8;
            for (i, c) in chunks.into_iter().enumerate() {
                out.push(Payload::Part {
                    id,
                    index: i as u8,
                    count,
                    bytes: serde_bytes::ByteBuf::from(c.to_vec()),
                });
            }
            continue;
        }
        if size + cost + FRAMING > MAX_PLAIN {
            out.push(Payload::Batch(std::mem::take(&mut batch)));
            size = 0;
        }
        size += cost;
        batch.push(serde_bytes::ByteBuf::from(env.clone()));
    }
    if !batch.is_empty() {
        out.push(Payload::Batch(batch));
    }
    out
}

/// The event content for a payload under a tag.
pub fn seal(tag: &Tag, payload: &Payload) -> String {
    let body = crate::wire::encode(payload);
    let len = 4 + body.len();
    let bucket = BUCKETS.iter().copied().find(|b| *b >= len).unwrap_or(len);
    let mut plain = Vec::with_capacity(bucket);
    plain.extend_from_slice(&(body.len() as u32).to_le_bytes());
    plain.extend_from_slice(&body);
    plain.resize(bucket, 0);
    let nonce: [u8; NONCE_LEN] = rand::random();
    let cipher = XChaCha20Poly1305::new(&(*tag.seal).into());
    let sealed = cipher
        .encrypt(
            &XNonce::from(nonce),
            Aad {
                msg: &plain,
                aad: &tag.p.to_bytes(),
            },
        )
        .unwrap_or_default();
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    blob.push(VERSION);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);
    BASE64.encode(&blob)
}

/// Why an event's content was not opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// Larger than any event Hearth makes.
    #[error("content of {0} bytes is larger than any Hearth event")]
    Oversize(usize),
    /// Not base64, not this version, or too short.
    #[error("content is not a sealed Hearth payload")]
    Malformed,
    /// Does not open with the tag's key: made by someone who does not know the secret (a
    /// stranger's event under a guessed or copied tag), or damaged.
    #[error("content does not open with the tag's key")]
    NotOurs,
}

/// Opens an event's content under the tag it was found by.
pub fn open(tag: &Tag, content: &str) -> Result<Payload, OpenError> {
    if content.len() > MAX_CONTENT {
        return Err(OpenError::Oversize(content.len()));
    }
    let blob = BASE64
        .decode(content.as_bytes())
        .map_err(|_| OpenError::Malformed)?;
    if blob.len() < 1 + NONCE_LEN + 16 || blob[0] != VERSION {
        return Err(OpenError::Malformed);
    }
    let nonce: [u8; NONCE_LEN] = blob[1..1 + NONCE_LEN]
        .try_into()
        .map_err(|_| OpenError::Malformed)?;
    let cipher = XChaCha20Poly1305::new(&(*tag.seal).into());
    let plain = cipher
        .decrypt(
            &XNonce::from(nonce),
            Aad {
                msg: &blob[1 + NONCE_LEN..],
                aad: &tag.p.to_bytes(),
            },
        )
        .map_err(|_| OpenError::NotOurs)?;
    // Sealed by a member: still checked, a member's device may be a modified client.
    let len = plain
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(OpenError::Malformed)? as usize;
    let body = plain.get(4..4 + len).ok_or(OpenError::Malformed)?;
    let payload: Payload =
        crate::wire::decode(body, MAX_PLAIN).map_err(|_| OpenError::Malformed)?;
    match &payload {
        Payload::Batch(envs) if envs.iter().any(|e| e.len() > MAX_ENVELOPE_BYTES) => {
            Err(OpenError::Malformed)
        }
        Payload::Part { index, count, .. } if *count > MAX_PARTS || index >= count => {
            Err(OpenError::Malformed)
        }
        _ => Ok(payload),
    }
}

/// Envelopes split over several events, put back together. Bounded: the oldest unfinished
/// envelope is dropped when too many are waiting (a relay that drops one part costs that
/// envelope, which the next deposit round or a peer brings again).
#[derive(Default)]
pub struct Parts {
    waiting: VecDeque<([u8; 16], Vec<Option<Vec<u8>>>)>,
}

/// Envelopes waiting for their other parts.
const MAX_WAITING: usize = 64;

impl Parts {
    /// Adds a part; returns the whole envelope once every part has arrived.
    pub fn add(&mut self, id: [u8; 16], index: u8, count: u8, bytes: Vec<u8>) -> Option<Vec<u8>> {
        let pos = match self.waiting.iter().position(|(i, _)| *i == id) {
            Some(p) => p,
            None => {
                if self.waiting.len() >= MAX_WAITING {
                    self.waiting.pop_front();
                }
                self.waiting.push_back((id, vec![None; count as usize]));
                self.waiting.len() - 1
            }
        };
        let parts = &mut self.waiting[pos].1;
        if parts.len() != count as usize || index as usize >= parts.len() {
            return None; // a part that disagrees with the first one seen
        }
        parts[index as usize] = Some(bytes);
        if parts.iter().any(Option::is_none) {
            return None;
        }
        let (_, parts) = self.waiting.remove(pos)?;
        let whole: Vec<u8> = parts.into_iter().flatten().flatten().collect();
        (whole.len() <= MAX_ENVELOPE_BYTES).then_some(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tags::TagSecret;
    use super::*;
    use proptest::prelude::*;

    fn tag() -> Tag {
        TagSecret::for_topic(&[3; 32]).tag(9)
    }

    #[test]
    fn small_envelopes_batch_and_large_ones_split_and_come_back_whole() {
        let small: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 700]).collect();
        let large = [(0..MAX_ENVELOPE_BYTES)
            .map(|i| i as u8)
            .collect::<Vec<u8>>()];
        let all: Vec<Vec<u8>> = small.iter().chain(large.iter()).cloned().collect();
        let payloads = pack(&all);
        let t = tag();
        let mut parts = Parts::default();
        let mut back = Vec::new();
        for p in &payloads {
            let content = seal(&t, p);
            // Every event fits what common relays accept.
            assert!(content.len() <= MAX_CONTENT && content.len() < 40_000);
            match open(&t, &content).unwrap() {
                Payload::Batch(envs) => back.extend(envs.into_iter().map(|b| b.into_vec())),
                Payload::Part {
                    id,
                    index,
                    count,
                    bytes,
                } => back.extend(parts.add(id, index, count, bytes.into_vec())),
            }
        }
        assert_eq!(back, all);
        // 70 KB of small envelopes take a few events, not a hundred.
        assert!(payloads.len() <= 3 + 4, "{} events", payloads.len());
    }

    #[test]
    fn sizes_are_bucketed() {
        let t = tag();
        let a = seal(
            &t,
            &Payload::Batch(vec![serde_bytes::ByteBuf::from(vec![1; 10])]),
        );
        let b = seal(
            &t,
            &Payload::Batch(vec![serde_bytes::ByteBuf::from(vec![1; 900])]),
        );
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn strangers_and_damage_open_nothing() {
        let t = tag();
        let p = Payload::Batch(vec![serde_bytes::ByteBuf::from(vec![5; 50])]);
        let content = seal(&t, &p);
        // Another conversation's tag, or another epoch's, does not open it.
        let other = TagSecret::for_topic(&[4; 32]).tag(9);
        assert_eq!(open(&other, &content), Err(OpenError::NotOurs));
        assert_eq!(
            open(&TagSecret::for_topic(&[3; 32]).tag(10), &content),
            Err(OpenError::NotOurs)
        );
        // A stranger sealing under a tag it saw (it knows the p value, not the key).
        let mut forged = tag();
        forged.seal = zeroize::Zeroizing::new([0; 32]);
        assert_eq!(open(&t, &seal(&forged, &p)), Err(OpenError::NotOurs));
        // Flipped bits, truncation, garbage, oversize.
        let mut blob = BASE64.decode(content.as_bytes()).unwrap();
        blob[40] ^= 1;
        assert_eq!(open(&t, &BASE64.encode(&blob)), Err(OpenError::NotOurs));
        assert_eq!(
            open(&t, &content[..content.len() / 2]),
            Err(OpenError::Malformed)
        );
        assert_eq!(open(&t, "not base64 at all!"), Err(OpenError::Malformed));
        assert!(matches!(
            open(&t, &"A".repeat(MAX_CONTENT + 4)),
            Err(OpenError::Oversize(_))
        ));
    }

    #[test]
    fn parts_are_bounded_and_inconsistent_parts_ignored() {
        let mut parts = Parts::default();
        for i in 0..1000u32 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_le_bytes());
            assert!(parts.add(id, 0, 2, vec![1]).is_none());
        }
        assert!(parts.waiting.len() <= MAX_WAITING);
        // A second part claiming another count does not complete the first.
        assert!(parts.add([9; 16], 0, 2, vec![1]).is_none());
        assert!(parts.add([9; 16], 1, 3, vec![2]).is_none());
        assert_eq!(parts.add([9; 16], 1, 2, vec![2]), Some(vec![1, 2]));
    }

    proptest! {
        #[test]
        fn any_content_opens_or_is_refused_without_panic(s in ".{0,200}") {
            let _ = open(&tag(), &s);
        }
    }
}
