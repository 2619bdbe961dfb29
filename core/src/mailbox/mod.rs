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
//! in time (retention). A deposit over a bound is refused rather than evicting older mail, so
//! "handed to a mailbox" stays true for everything the sender was told it holds.

pub mod access;
pub mod protocol;
pub mod store;

use std::time::Duration;

/// Bounds on what a mailbox holds.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Envelopes are dropped this long after they were deposited.
    pub retention: Duration,
    /// Envelope bytes per topic.
    pub topic_bytes: u64,
    /// Envelope bytes deposited by one device, over all topics.
    pub device_bytes: u64,
    /// Envelope bytes in the whole mailbox.
    pub total_bytes: u64,
    /// Topics one device may create.
    pub topics_per_device: u64,
    /// Topics created from one network source (an IPv4 address or IPv6 /64: a household).
    /// Device keys cost nothing to make; addresses do.
    pub topics_per_source: u64,
    /// Envelope bytes in the topics created from one network source.
    pub source_bytes: u64,
    /// Topics in the whole mailbox.
    pub total_topics: u64,
    /// Devices that keep one topic.
    pub members_per_topic: usize,
    /// Authors of the envelopes held in one topic.
    pub authors_per_topic: usize,
}

impl Default for Limits {
    /// Sized for chat: a family's text for a month fits many times over in the per-topic bound.
    fn default() -> Self {
        Limits {
            retention: Duration::from_secs(30 * 24 * 3600),
            topic_bytes: 64 << 20,
            device_bytes: 128 << 20,
            total_bytes: 4 << 30,
            topics_per_device: 256,
            // A household of a dozen devices, each in a few dozen conversations.
            topics_per_source: 1024,
            // Eight households fill the mailbox: one machine with many keys cannot.
            source_bytes: 512 << 20,
            total_topics: 100_000,
            members_per_topic: 256,
            authors_per_topic: 256,
        }
    }
}
