//! Events a node emits after a commit. They carry ids only; the UI re-reads what it shows,
//! because the database is the single source of truth.

use serde::Serialize;

use crate::ids::{ChatId, DeviceId, MessageId, TopicId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
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
    /// How a device is reached changed: path is lan, direct, mesh or none.
    PathChanged {
        device: DeviceId,
        path: String,
    },
    /// Delivery or read receipts for messages of this chat arrived.
    DeliveryChanged {
        chat: ChatId,
    },
}
