//! Cryptography, all of it from audited libraries: vodozemac (Olm and Megolm, audited for
//! Matrix), RustCrypto's XChaCha20-Poly1305 for secrets at rest, dalek Ed25519 via
//! libp2p-identity for signatures. Nothing here implements a primitive or a ratchet.
//!
//! - [`pairwise`]: Olm channels between two devices. They carry the contact handshake and the
//!   Megolm session keys ("room keys") to each member device.
//! - [`group`]: Megolm sender keys. Each member device has one outbound session per
//!   conversation; the envelope key id names it; removing a member rotates every session.
//! - [`at_rest`]: the store key that encrypts secrets and session pickles in the database.

pub mod at_rest;
pub mod group;
pub mod pairwise;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not decrypt: {0}")]
    Decrypt(String),
    #[error("no key yet for this message (the sender's key has not arrived)")]
    MissingKey,
    #[error("could not open a secure channel: {0}")]
    Channel(String),
    #[error("stored key material is damaged: {0}")]
    Pickle(String),
    #[error("the store key file is damaged or unreadable: {0}")]
    StoreKey(String),
}
