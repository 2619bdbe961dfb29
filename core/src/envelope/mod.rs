//! Envelopes: the unit that is stored, synced, relayed and verified.
//!
//! ```text
//! envelope = header { version, topic, author device, seq, key } + ciphertext + signature
//! ```
//!
//! Anyone (a relay, a mailbox, a member) can check the author's signature over header and
//! ciphertext; only members can decrypt. `key` is 0 for a pairwise (Olm) envelope, whose
//! ciphertext is a list of per-device Olm messages, and n ≥ 1 for the author's n-th Megolm
//! session in the topic. The decrypted content repeats topic and seq ([`content`]), which binds
//! the header into the encryption: a ciphertext replayed under another header is rejected.
//!
//! Decoding is bounded ([`MAX_ENVELOPE_BYTES`]) and never panics on any input.

pub mod content;

use libp2p_identity::ed25519;
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, TopicId};
use crate::wire;

/// Current envelope format.
pub const VERSION: u8 = 1;
/// Hard limit on one envelope: text and metadata fit easily; photos and voice go in blobs.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;
/// Key id of pairwise (Olm) envelopes.
pub const PAIRWISE_KEY: u32 = 0;

const SIGNING_CONTEXT: &[u8] = b"hearth-envelope-v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u8,
    pub topic: TopicId,
    pub author: DeviceId,
    pub seq: u64,
    pub key: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub header: Header,
    pub ciphertext: Vec<u8>,
    pub signature: Vec<u8>,
}

/// One recipient's part of a pairwise envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairwisePart {
    pub to: DeviceId,
    pub kind: u8,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("envelope of {0} bytes exceeds the {MAX_ENVELOPE_BYTES}-byte limit")]
    Oversize(usize),
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    #[error("envelope signature does not verify")]
    BadSignature,
    #[error("envelope for a topic this device does not hold")]
    UnknownTopic,
    #[error("envelope from a device that is not a member of the conversation")]
    NotMember,
    #[error("envelope from a blocked contact")]
    Blocked,
    #[error("a different envelope with the same author and seq already exists")]
    Equivocation,
    #[error("envelope seq 0 is invalid (sequences start at 1)")]
    ZeroSeq,
    #[error("decrypted content does not match its header")]
    HeaderMismatch,
}

impl From<wire::Error> for Error {
    fn from(e: wire::Error) -> Self {
        match e {
            wire::Error::TooLarge(n, _) => Error::Oversize(n),
            wire::Error::Malformed(m) => Error::Malformed(m),
        }
    }
}

impl Envelope {
    /// Signs header and ciphertext with the author's device key.
    pub fn seal(header: Header, ciphertext: Vec<u8>, device: &ed25519::Keypair) -> Self {
        let signature = device.sign(&signed_bytes(&header, &ciphertext));
        Envelope {
            header,
            ciphertext,
            signature,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        wire::encode(self)
    }

    /// Decodes and checks form: size, structure, version, seq. Does not check the signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let env: Envelope = wire::decode(bytes, MAX_ENVELOPE_BYTES)?;
        if env.header.version != VERSION {
            return Err(Error::UnsupportedVersion(env.header.version));
        }
        if env.header.seq == 0 {
            return Err(Error::ZeroSeq);
        }
        // Sequences are stored as SQLite integers; nobody writes 2^63 messages.
        if env.header.seq > i64::MAX as u64 {
            return Err(Error::Malformed("seq out of range".into()));
        }
        if env.signature.len() != 64 {
            return Err(Error::Malformed("signature length".into()));
        }
        Ok(env)
    }

    /// Decodes and verifies the author's signature: everything a relay can check.
    pub fn decode_verified(bytes: &[u8]) -> Result<Self, Error> {
        let env = Self::decode(bytes)?;
        env.verify_signature()?;
        Ok(env)
    }

    pub fn verify_signature(&self) -> Result<(), Error> {
        if self.header.author.verify(
            &signed_bytes(&self.header, &self.ciphertext),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }

    pub fn is_pairwise(&self) -> bool {
        self.header.key == PAIRWISE_KEY
    }

    pub fn pairwise_parts(&self) -> Result<Vec<PairwisePart>, Error> {
        Ok(wire::decode(&self.ciphertext, MAX_ENVELOPE_BYTES)?)
    }
}

fn signed_bytes(header: &Header, ciphertext: &[u8]) -> Vec<u8> {
    [SIGNING_CONTEXT, &wire::encode(header), ciphertext].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> (Envelope, ed25519::Keypair) {
        let kp = ed25519::Keypair::generate();
        let header = Header {
            version: VERSION,
            topic: TopicId::random(),
            author: DeviceId(kp.public().to_bytes()),
            seq: 7,
            key: 1,
        };
        (Envelope::seal(header, vec![9; 100], &kp), kp)
    }

    #[test]
    fn roundtrip_verifies() {
        let (env, _) = sample();
        assert_eq!(Envelope::decode_verified(&env.encode()).unwrap(), env);
    }

    #[test]
    fn rejects_tampering_forgery_and_bad_form() {
        let (env, _) = sample();
        let mut t = env.clone();
        t.ciphertext[0] ^= 1;
        assert_eq!(
            Envelope::decode_verified(&t.encode()),
            Err(Error::BadSignature)
        );
        let mut t = env.clone();
        t.header.seq = 8;
        assert_eq!(
            Envelope::decode_verified(&t.encode()),
            Err(Error::BadSignature)
        );
        // Signed by someone else but claiming the author.
        let other = ed25519::Keypair::generate();
        let forged = Envelope::seal(env.header, env.ciphertext.clone(), &other);
        assert_eq!(
            Envelope::decode_verified(&forged.encode()),
            Err(Error::BadSignature)
        );
        let mut v = env.clone();
        v.header.version = 9;
        assert_eq!(
            Envelope::decode(&v.encode()),
            Err(Error::UnsupportedVersion(9))
        );
        let bytes = env.encode();
        assert!(matches!(
            Envelope::decode(&bytes[..bytes.len() - 3]),
            Err(Error::Malformed(_))
        ));
        let big = vec![0u8; MAX_ENVELOPE_BYTES + 1];
        assert_eq!(
            Envelope::decode(&big),
            Err(Error::Oversize(MAX_ENVELOPE_BYTES + 1))
        );
        let mut z = env;
        z.header.seq = 0;
        assert_eq!(Envelope::decode(&z.encode()), Err(Error::ZeroSeq));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Envelope::decode_verified(&bytes);
        }

        #[test]
        fn mutated_envelopes_never_verify(pos in any::<usize>(), bit in 0u8..8) {
            let (env, _) = sample();
            let mut bytes = env.encode();
            let i = pos % bytes.len();
            bytes[i] ^= 1 << bit;
            prop_assert!(Envelope::decode_verified(&bytes).is_err());
        }
    }
}
