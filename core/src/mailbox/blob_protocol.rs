//! `/hearth/blob-mailbox/1`: a member deposits a blob's parts with a mailbox, for members who
//! are offline. Members fetch them with `/hearth/blob/1`, as from a peer.
//!
//! The manifest goes first (it must hash to the blob id, and it reserves the blob's size under
//! the mailbox's quotas; for a blob already there it only adds the topic), then each chunk,
//! checked against it ([`super::blobs`]). `Held` says which chunks are already there under a
//! topic, so a deposit cut off resumes where it stopped, and a blob already held is not sent
//! twice.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::blob::protocol::Part;
use crate::blob::BlobId;
use crate::ids::TopicId;

pub const PROTOCOL: &str = "/hearth/blob-mailbox/1";
/// Largest request or answer: a chunk and its framing.
pub const MAX_MESSAGE_BYTES: u64 = crate::blob::protocol::MAX_MESSAGE_BYTES + 1024;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Which chunks of this blob are held under this topic?
    Held { topic: TopicId, blob: BlobId },
    /// Keep this part of a blob, under a topic the requester keeps here.
    Put {
        topic: TopicId,
        blob: BlobId,
        part: Part,
        bytes: ByteBuf,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The blob's manifest is held, and these chunks.
    Held {
        chunks: Vec<u32>,
    },
    /// Not held, or not for the requester: the same answer for both.
    Unknown,
    Stored,
    /// A bound is reached: do not send this blob here again.
    Full,
    /// Too many of the requester's blobs are unfinished here: finish those, then try again.
    Busy,
    /// Not the requester's to put, or not what the blob id names.
    Refused,
}
