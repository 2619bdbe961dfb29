//! hearth-core: the whole Hearth messenger as a library, with no UI and no windowing.
//!
//! Everything the app, the CLI and the tests do goes through one cloneable handle, [`Node`],
//! opened on a data directory. Inside, each kind of I/O has one owner: the storage writer
//! thread owns SQLite, the CRDT documents and the cryptographic sessions (so an envelope, the
//! ratchet state that produced it and the projection row commit together), and read-only
//! queries go through a small pool of reader connections.
//!
//! Module map (named after what the product does), every module in one line:
//! - [`node`]: the public handle, split by job (network control, invites, lookup by name).
//! - [`identity`]: account key, device key, profile, safety numbers.
//! - [`ids`]: the id newtypes (account, device, conversation, topic, message, operation).
//! - [`invite`], [`contacts`]: invite codes, the contact handshake, contact state.
//! - [`conversation`], [`message`]: conversations, members, messages as the user sees them.
//! - [`board`]: the family board (who is reachable, who checked in, what waits).
//! - [`search`]: the full-text index of messages.
//! - [`doc`]: the yrs documents (per-author message segments), their rules and bounds.
//! - [`membership`]: who is in a group, as signed operations every device resolves alike.
//! - [`envelope`]: the signed unit that is stored, synced and relayed.
//! - [`crypto`]: Olm pairwise channels and Megolm sender keys (vodozemac), secrets at rest.
//! - [`engine`]: the single writer: applies local actions and received envelopes in one
//!   transaction with their keys and projection.
//! - [`storage`]: SQLite schema, migrations, the writer and the readers.
//! - [`sync`]: version vectors, bundles, the sync protocol and its decisions
//!   ([`sync::session`]), the store reads the network needs.
//! - [`net`]: the net task that owns the libp2p swarm: LAN, relays, mailboxes, paths.
//! - [`reach`]: how each contact is reached, for the board and the CLI.
//! - [`relay`]: the relay node (circuit relay v2, AutoNAT, the blind mailbox it serves).
//! - [`mailbox`]: the blind mailbox: topic access, protocol, quotas, its own store.
//! - [`settings`]: the device's settings (LAN-only, relays, relay for family).
//! - [`events`]: what changed, for the UI and the CLI.
//! - `ui_types` (a test): the TypeScript types of what the UI receives, generated from these
//!   types into `ui/src/lib/types.gen.ts`.
//! - [`export`], [`check`]: JSON and Yjs export; integrity checks of the store.
//! - [`clock`]: wall clocks (a manual one for tests) and the hybrid logical clock.
//! - [`wire`]: the one binary encoding (postcard) every format uses.
//! - [`error`]: errors with a kind the UI and the CLI can tell apart.
#![forbid(unsafe_code)]
// Row tuples straight from rusqlite read better inline than behind one-off type aliases.
#![allow(clippy::type_complexity)]

pub mod blob;
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
pub mod nostr;
pub mod reach;
pub mod relay;
pub mod search;
pub mod settings;
pub mod storage;
pub mod sync;
#[cfg(test)]
mod ui_types;
pub mod wire;

pub use error::{Error, Result};
pub use events::Event;
pub use ids::{AccountId, ChatId, DeviceId, MessageId, OpId, TopicId};
pub use node::{Node, NodeConfig};
