//! Who may use a topic at a mailbox: whoever knows the topic's secret.
//!
//! Every topic made by this version has a **topic secret** that only its members learn, inside
//! end-to-end encrypted content: a group's from the nonce of its Create operation, a 1:1
//! conversation's from its conversation id, a contact channel's from the invite's one-time
//! secret. The secret gives an Ed25519 **topic key**, and the topic id is a hash of that key's
//! public half. So a mailbox can check, knowing nothing but the topic id, that a device asking
//! it to keep a topic knows the secret: the request carries the public key (which must hash to
//! the topic) and a signature by it over the requesting device's id (which the Noise handshake
//! of the connection proves).
//!
//! Each device asks only for itself. A mailbox thus learns which devices keep each topic with
//! it (they fetch there, so it would see that anyway) and the authors of what is deposited (the
//! envelope signatures it checks) — never the rest of the membership, and no account.
//!
//! The secret never changes, so a removed member can still keep a topic whose id it knows and
//! fetch ciphertext it cannot read (keys rotate on removal); quotas bound what it can deposit.
#![warn(missing_docs)]

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{ChatId, DeviceId, TopicId};

/// A topic's secret, known to its members only.
#[derive(Clone, PartialEq, Eq)]
pub struct TopicSecret([u8; 32]);

impl std::fmt::Debug for TopicSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TopicSecret(..)")
    }
}

/// What a keep request carries per topic: the topic key and its signature over the requester.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepProof {
    /// The topic key's public half: it must hash to the topic id.
    pub key: [u8; 32],
    /// Its signature over the requesting device's id.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

impl TopicSecret {
    /// A group's: from the nonce of its Create operation.
    pub fn for_group(nonce: &[u8; 16]) -> Self {
        TopicSecret(hash(&[b"hearth-topic-secret-group-v1", nonce]))
    }

    /// A 1:1 conversation's: from its conversation id.
    pub fn for_direct_chat(chat: &ChatId) -> Self {
        TopicSecret(hash(&[b"hearth-topic-secret-direct-v1", chat.as_bytes()]))
    }

    /// A contact channel's (and the invite topic it starts as): from the invite's secret.
    pub fn for_invite(secret: &[u8; 16]) -> Self {
        TopicSecret(hash(&[b"hearth-topic-secret-invite-v1", secret]))
    }

    /// A secret as stored (32 bytes), if it is one.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(TopicSecret)
    }

    /// The secret, to store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&hash(&[b"hearth-topic-key-v1", &self.0]))
    }

    /// The topic this secret opens.
    pub fn topic(&self) -> TopicId {
        topic_of(&self.signing_key().verifying_key().to_bytes())
    }

    /// Proof, for one mailbox request, that `requester` knows this secret.
    pub fn proof(&self, requester: &DeviceId) -> KeepProof {
        let key = self.signing_key();
        KeepProof {
            key: key.verifying_key().to_bytes(),
            sig: key.sign(&signed(requester)).to_bytes().to_vec(),
        }
    }
}

fn topic_of(key: &[u8; 32]) -> TopicId {
    let h = hash(&[b"hearth-topic-v1", key]);
    let mut t = [0u8; 16];
    t.copy_from_slice(&h[..16]);
    TopicId(t)
}

fn signed(requester: &DeviceId) -> Vec<u8> {
    [&b"hearth-keep-v1"[..], &requester.0].concat()
}

/// Whether `proof` shows that `requester` knows the secret of `topic`.
pub fn verify(topic: &TopicId, requester: &DeviceId, proof: &KeepProof) -> bool {
    topic_of(&proof.key) == *topic
        && crate::ids::verify_strict(&proof.key, &signed(requester), &proof.sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_opens_its_topic_and_only_for_the_requester() {
        let s = TopicSecret::for_group(&[1; 16]);
        let t = s.topic();
        let me = DeviceId([1; 32]);
        let p = s.proof(&me);
        assert!(verify(&t, &me, &p));
        // Another device cannot reuse the proof (the Noise handshake says who asks).
        assert!(!verify(&t, &DeviceId([2; 32]), &p));
        // Another secret's key does not open this topic, however well signed.
        let other = TopicSecret::for_group(&[2; 16]);
        assert!(!verify(&t, &me, &other.proof(&me)));
        // A proof with the right key and a wrong signature fails.
        let mut bad = p.clone();
        bad.sig[0] ^= 1;
        assert!(!verify(&t, &me, &bad));
        bad.sig.truncate(10);
        assert!(!verify(&t, &me, &bad));
        // Kinds of secret never meet.
        assert_ne!(TopicSecret::for_invite(&[1; 16]).topic(), t);
        assert_ne!(
            TopicSecret::for_direct_chat(&ChatId([1; 16])).topic(),
            TopicSecret::for_invite(&[1; 16]).topic()
        );
    }
}
