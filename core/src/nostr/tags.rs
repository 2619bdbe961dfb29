//! Where a member looks for mail on a Nostr relay: the **mailbox tag**, a value only members can
//! compute, rotating every epoch (a day).
//!
//! Every event Hearth deposits carries one `p` tag. Its value looks like any Nostr public key
//! (it is one: the public half of a secp256k1 key derived from a secret and the epoch), so a
//! relay sees what looks like mail for a random, never-reused recipient. The same derivation
//! gives the key that seals the event's content (`seal`). Nothing about the tag repeats from
//! one epoch to the next, or from one conversation to another.
//!
//! Three kinds of tag, from two kinds of secret ([`TagSecret`]):
//! - a sender's **session** tag, from its **session mailbox secret**: a random secret made with
//!   each Megolm sender key and shared with it (`PairwiseContent::RoomKeyV2`). That sender's
//!   messages wait there. A member's removal makes every member rotate its sender key, so the
//!   removed member never learns the new secrets: it cannot compute where later messages are,
//!   let alone read them.
//! - a device's **inbox** tag, from the same secret of the device's own newest sender key:
//!   pairwise envelopes for it (the next sender-key shares) wait there, so they too move out
//!   of a removed member's sight once the recipient has rotated;
//! - a conversation's **topic** tag, from its topic secret (`mailbox::access`): for a
//!   recipient with no sender key there yet (a new member), for a 1:1 conversation whose keys
//!   came in the contact handshake, and for contact channels and invites, where nobody is ever
//!   removed.
#![warn(missing_docs)]

use nostr_sdk::{Keys, PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// One epoch: tags change once a day. A device away for a week asks for eight epochs' tags.
pub const EPOCH_SECS: u64 = 24 * 3600;

/// The epoch a unix time falls in.
pub fn epoch_of(unix_secs: u64) -> u64 {
    unix_secs / EPOCH_SECS
}

/// A secret that mailbox tags are derived from; members know it, nobody else does.
#[derive(Clone, PartialEq, Eq)]
pub struct TagSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for TagSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TagSecret(..)")
    }
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

impl TagSecret {
    /// From a topic's secret (`mailbox::access::TopicSecret`).
    pub fn for_topic(topic_secret: &[u8; 32]) -> TagSecret {
        TagSecret(Zeroizing::new(hash(&[
            b"hearth-nostr-topic-v1",
            topic_secret,
        ])))
    }

    /// From a sender's session mailbox secret (shared with its sender key).
    pub fn for_session(session_secret: &[u8; 32]) -> TagSecret {
        TagSecret(Zeroizing::new(hash(&[
            b"hearth-nostr-session-v1",
            session_secret,
        ])))
    }

    /// A device's inbox, from the mailbox secret of its own sender key in a conversation:
    /// where pairwise envelopes for it (sender-key shares) wait. A member removed before that
    /// key was made never learns it.
    pub fn for_inbox(session_secret: &[u8; 32]) -> TagSecret {
        TagSecret(Zeroizing::new(hash(&[
            b"hearth-nostr-inbox-v1",
            session_secret,
        ])))
    }

    /// The tag for one epoch.
    pub fn tag(&self, epoch: u64) -> Tag {
        let derive = |label: &[u8]| hash(&[label, &*self.0, &epoch.to_be_bytes()]);
        // A secp256k1 secret key is valid unless it is zero or above the group order (a
        // chance of about 2^-128); hashing again covers it.
        let mut seed = Zeroizing::new(derive(b"hearth-nostr-tag-key-v1"));
        let key = loop {
            match SecretKey::from_slice(&*seed) {
                Ok(k) => break k,
                Err(_) => *seed = hash(&[&*seed]),
            }
        };
        Tag {
            p: Keys::new(key).public_key(),
            seal: Zeroizing::new(derive(b"hearth-nostr-seal-v1")),
            epoch,
        }
    }
}

/// A mailbox tag for one epoch: the `p` value events carry, and the key sealing their content.
#[derive(Clone)]
pub struct Tag {
    /// The value of the event's `p` tag (what a relay indexes and filters on).
    pub p: PublicKey,
    /// Seals the event content (`super::seal`).
    pub seal: Zeroizing<[u8; 32]>,
    /// The epoch it belongs to.
    pub epoch: u64,
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tag({}, epoch {})", self.p, self.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_differ_by_secret_kind_and_epoch_and_agree_between_members() {
        let s = [7u8; 32];
        let a = TagSecret::for_topic(&s).tag(100);
        // Another member computes the same tag and key.
        let b = TagSecret::for_topic(&s).tag(100);
        assert_eq!(a.p, b.p);
        assert_eq!(*a.seal, *b.seal);
        // The next epoch, another secret, or the other kind of secret: nothing in common.
        let next = TagSecret::for_topic(&s).tag(101);
        let other = TagSecret::for_topic(&[8u8; 32]).tag(100);
        let session = TagSecret::for_session(&s).tag(100);
        let inbox = TagSecret::for_inbox(&s).tag(100);
        assert_ne!(inbox.p, session.p);
        for t in [&next, &other, &session, &inbox] {
            assert_ne!(t.p, a.p);
            assert_ne!(*t.seal, *a.seal);
        }
        // The seal key is not the tag.
        assert_ne!(a.p.to_bytes(), *a.seal);
        assert_eq!(epoch_of(EPOCH_SECS * 3 + 5), 3);
    }
}
