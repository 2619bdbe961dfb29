//! `/hearth/mailbox/2`: asking a mailbox to keep topics. Everything else (deposit, fetch) is
//! the ordinary sync protocol, spoken with the mailbox as with a peer.
//!
//! Version 2 asks for the requesting device only, with a proof per topic that it knows the
//! topic's secret ([`super::access`]); version 1 named every member device of every topic, which
//! handed each relay the family's membership graph.

use serde::{Deserialize, Serialize};

use super::access::KeepProof;
use crate::ids::TopicId;

pub const PROTOCOL: &str = "/hearth/mailbox/2";
pub const VERSION: u8 = 2;
/// Topics per keep request.
pub const MAX_KEEP_TOPICS: usize = 1024;
/// Largest keep request or answer on the wire.
pub const MAX_MESSAGE_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Keep these topics for the requesting device, each with the proof that it may.
    Keep {
        version: u8,
        topics: Vec<(TopicId, KeepProof)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The topics now kept for the requester; the others were refused (no valid proof, or a
    /// limit reached), without saying which.
    Kept { topics: Vec<TopicId> },
    /// Unsupported version or malformed request.
    Refused,
}

/// Checks a request's version and bounds before anything acts on it.
pub fn check(req: &Request) -> bool {
    match req {
        Request::Keep { version, topics } => *version == VERSION && topics.len() <= MAX_KEEP_TOPICS,
    }
}
