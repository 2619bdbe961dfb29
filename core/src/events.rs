//! Events a node emits after a commit. They carry ids only; the UI re-reads what it shows,
//! because the database is the single source of truth.

use serde::Serialize;
use ts_rs::TS;

use crate::ids::{ChatId, DeviceId, MessageId, TopicId};
use crate::reach::Path;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(rename = "HearthEvent")]
pub enum Event {
    ProfileChanged,
    ContactsChanged,
    ChatsChanged,
    MessagesChanged {
        chat: ChatId,
    },
    MessageReceived {
        chat: ChatId,
        message: MessageId,
    },
    /// New envelopes are stored for a topic (the network pushes them on).
    EnvelopesAdded {
        topic: TopicId,
    },
    /// How a device is reached changed.
    PathChanged {
        device: DeviceId,
        path: Path,
    },
    /// Delivery or read receipts for messages of this chat arrived, or a mailbox took them.
    DeliveryChanged {
        chat: ChatId,
    },
    /// A relay was reached or lost, or took or lost our reservation (see the network status).
    RelayChanged,
    /// Hole punching (DCUtR) with a device we reached through a relay was tried: `direct`
    /// says whether it gave a direct connection.
    HolePunch {
        device: DeviceId,
        direct: bool,
    },
    /// More of a blob arrived: `have` of its `of` chunks are here. When it is whole,
    /// `MessagesChanged` follows for each conversation showing it.
    BlobProgress {
        blob: crate::ids::BlobId,
        have: u32,
        of: u32,
    },
}
