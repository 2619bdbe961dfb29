//! hearth-core: the whole Hearth messenger as a library, with no UI and no windowing.
//!
//! Everything the app, the CLI and the tests do goes through one cloneable handle, [`Node`],
//! opened on a data directory. Inside, each kind of I/O has one owner: the storage writer
//! thread owns SQLite, the CRDT documents and the cryptographic sessions (so an envelope, the
//! ratchet state that produced it and the projection row commit together), and read-only
//! queries go through a small pool of reader connections.
//!
//! Module map (named after what the product does):
//! - [`identity`]: account key, device key, profile, safety numbers.
//! - [`invite`], [`contacts`]: invite codes, the contact handshake, contact state.
//! - [`conversation`], [`message`]: conversations, members, messages as the user sees them.
//! - [`doc`]: the yrs documents (meta and per-author message segments) and their rules.
//! - [`membership`]: who is in a group, as signed operations every device resolves alike.
//! - [`envelope`]: the signed unit that is stored, synced and relayed.
//! - [`crypto`]: Olm pairwise channels and Megolm sender keys (vodozemac), secrets at rest.
//! - [`storage`]: SQLite schema, migrations, the writer and the readers.
//! - [`sync`]: version vectors and bundles (sync through a file).
//! - [`node`]: the public handle.
#![forbid(unsafe_code)]
// Row tuples straight from rusqlite read better inline than behind one-off type aliases.
#![allow(clippy::type_complexity)]

pub mod board;
pub mod check;
pub mod clock;
pub mod contacts;
pub mod conversation;
pub mod crypto;
pub mod doc;
pub mod engine;
pub mod envelope;
pub mod error;
pub mod events;
pub mod export;
pub mod identity;
pub mod ids;
pub mod invite;
pub mod mailbox;
pub mod membership;
pub mod message;
pub mod net;
pub mod node;
pub mod reach;
pub mod relay;
pub mod search;
pub mod settings;
pub mod storage;
pub mod sync;
pub mod wire;

pub use error::{Error, Result};
pub use events::Event;
pub use ids::{AccountId, ChatId, DeviceId, MessageId, OpId, TopicId};
pub use node::{Node, NodeConfig};
