//! What an envelope says once decrypted.
//!
//! Group (Megolm) envelopes carry document updates, receipts and membership operations;
//! pairwise (Olm) envelopes carry the contact handshake, a group's membership operations (an
//! invitation or a welcome), and Megolm session keys. Both repeat the topic and seq of their
//! header (checked on receipt), binding header and ciphertext together.
//!
//! Content is versioned by variant: a variant is never changed or reused, only added. A device
//! that meets a variant it does not know skips that content and goes on.

use serde::{Deserialize, Serialize};

use crate::identity::DeviceBundle;
use crate::ids::{ChatId, DeviceId, TopicId};
use crate::membership::SignedOp;

/// Limit on decrypted content; an envelope is at most 64 KiB.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;

/// Which document of a conversation an update is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DocKey {
    /// The shared meta document: title, members, settings.
    Meta,
    /// The author's n-th message segment. Segments belong to one account (the envelope
    /// author's), which is what makes "only edit your own messages" a structural rule.
    Segment(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPlain {
    pub topic: TopicId,
    pub seq: u64,
    /// Hybrid-logical-clock time of the change.
    pub at: u64,
    pub content: GroupContent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupContent {
    /// A yrs v1 update to one document, made with the given client id.
    Doc {
        doc: DocKey,
        client: u64,
        update: Vec<u8>,
    },
    /// Delivered: per author device, the highest seq this device has applied. Read: the HLC
    /// time of the newest message this device has read.
    Receipt {
        delivered: Vec<(DeviceId, u64)>,
        read_at: Option<u64>,
    },
    /// A membership operation of this group, authored by the envelope's author at the
    /// envelope's seq (both are checked against the signed operation).
    Member { op: SignedOp },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatKind {
    Direct,
    Group,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
        }
    }
    pub fn parse(s: &str) -> ChatKind {
        if s == "group" {
            ChatKind::Group
        } else {
            ChatKind::Direct
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairwisePlain {
    pub topic: TopicId,
    pub seq: u64,
    pub content: PairwiseContent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairwiseContent {
    /// Sent by the device accepting an invite, to the inviter.
    ContactRequest {
        secret: [u8; 16],
        bundle: DeviceBundle,
        name: String,
        /// The 1:1 conversation the acceptor opened, with its sender key.
        chat: ChatId,
        chat_topic: TopicId,
        session_key: Vec<u8>,
    },
    /// The inviter's confirmation, with its own sender key for the 1:1 conversation.
    ContactAccept {
        name: String,
        bundle: DeviceBundle,
        session_key: Vec<u8>,
    },
    /// The inviter's device refused a contact request; `reason` is a sentence for a person.
    ContactRefused { reason: String },
    /// Membership by meta document, before membership became signed operations. Refused:
    /// a meta document could say anything about anyone.
    ChatInvite {
        chat: ChatId,
        topic: TopicId,
        kind: ChatKind,
        meta: Vec<u8>,
    },
    /// A sender's Megolm session key for a conversation.
    RoomKey {
        chat: ChatId,
        key: u32,
        session_key: Vec<u8>,
    },
    /// A group's membership operations: on a contact channel, "you were added to this group";
    /// on the group's topic, a member's welcome to a new member (the operations the adder may
    /// not have had). Large sets travel in several envelopes, the Create in the first.
    Ops { chat: ChatId, ops: Vec<SignedOp> },
    /// A sender's Megolm session key with its session mailbox secret: where this sender's
    /// messages wait on public Nostr relays (`nostr::tags`). Made with the key and rotated with
    /// it, so a removed member never learns where later messages are. (Last: postcard numbers
    /// variants in order.)
    RoomKeyV2 {
        chat: ChatId,
        key: u32,
        session_key: Vec<u8>,
        mailbox: [u8; 32],
    },
}
