//! Blind mailboxes: envelopes held for family members who are offline, on a relay (or on an
//! always-on family device) that cannot read them.
//!
//! A device asks a mailbox to *keep* a topic for itself, proving that it knows the topic's
//! secret ([`access`], [`protocol`]); only members learn that secret. From then on it syncs
//! the topic with the mailbox exactly as with a peer (`/hearth/sync/1`), its identity proven by
//! the Noise handshake of its libp2p connection: version vectors, batches, pushes. The mailbox
//! checks each envelope's signature, never decrypts anything (it holds no key), and sees only
//! ciphertext, topic ids (opaque hashes), author device keys, and which devices keep each topic
//! with it. It is never told the rest of the membership: a family member who does not use this
//! mailbox is unknown to it.
//!
//! A device that is not a member fetches nothing and deposits nothing, whether the topic exists
//! or not, and no answer lists anyone.
//!
//! What a mailbox holds is bounded ([`Limits`]): per topic, per depositing device, in total, and
//! in time (retention): [`quota`]. A deposit over a bound is refused rather than evicting older mail, so
//! "handed to a mailbox" stays true for everything the sender was told it holds.
//!
//! A mailbox also holds the encrypted chunks of photos, voice messages and files ([`blobs`]),
//! deposited by their senders over [`blob_protocol`] and fetched like a peer's.

pub mod access;
pub mod blob_protocol;
pub mod blobs;
pub mod protocol;
pub mod quota;
pub mod store;

pub use quota::Limits;
