//! `/hearth/mailbox/1`: asking a mailbox to keep topics. Everything else (deposit, fetch) is
//! the ordinary sync protocol, spoken with the mailbox as with a peer.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, TopicId};

pub const PROTOCOL: &str = "/hearth/mailbox/1";
pub const VERSION: u8 = 1;
/// Topics per keep request.
pub const MAX_KEEP_TOPICS: usize = 1024;
/// Member devices named per topic in one keep request.
pub const MAX_MEMBERS: usize = 256;
/// Largest keep request or answer on the wire.
pub const MAX_MESSAGE_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Keep these topics for these member devices (adding to the member list of each topic
    /// the requester is already a member of).
    Keep {
        version: u8,
        topics: Vec<(TopicId, Vec<DeviceId>)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The topics now kept for the requester; the others were refused (not a member, or a
    /// limit reached), without saying which.
    Kept { topics: Vec<TopicId> },
    /// Unsupported version or malformed request.
    Refused,
}

/// Checks a request's version and bounds before anything acts on it.
pub fn check(req: &Request, members_per_topic: usize) -> bool {
    match req {
        Request::Keep { version, topics } => {
            *version == VERSION
                && topics.len() <= MAX_KEEP_TOPICS
                && topics
                    .iter()
                    .all(|(_, m)| m.len() <= members_per_topic.min(MAX_MEMBERS))
        }
    }
}
