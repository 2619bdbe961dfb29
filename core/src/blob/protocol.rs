//! The blob protocol: a member asks a peer for a blob's manifest or one of its chunks.
//!
//! A peer answers only a device that is a current member of a conversation in which a message
//! names the blob, and only with what it has whole; the asker checks what it gets against the
//! blob id (the manifest) or the manifest (a chunk) before keeping it. One chunk per request
//! keeps each answer small, so requests interleave with text on the same connection, and a
//! transfer cut off resumes at the chunks still missing.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::crypt::MAX_CHUNK_BYTES;
use super::BlobId;

pub const PROTOCOL: &str = "/hearth/blob/1";
/// Largest request or answer: a chunk, or the manifest of the largest blob, and framing.
pub const MAX_MESSAGE_BYTES: u64 = MAX_CHUNK_BYTES as u64 + 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Part {
    Manifest,
    Chunk(u32),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub blob: BlobId,
    pub part: Part,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Response {
    Bytes(ByteBuf),
    /// Not here (or not whole yet): ask someone else, or later.
    Missing,
    /// Serving too much at once: ask again soon.
    Busy,
    /// Not for you: you are not a member of a conversation that names it.
    Refused,
}
