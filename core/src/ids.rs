//! Identifier newtypes.
//!
//! Account and device ids are Ed25519 public keys (a device id is also the device's libp2p
//! `PeerId`). Conversation and message ids are random 128-bit values, and a topic id is the hash
//! of a key made from a secret only its members know (`mailbox::access`): never derived from
//! anyone's public key, so ids alone do not link a conversation to the people in it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Ids are raw bytes on the wire (postcard) and text in JSON, so the UI sees them as strings.
macro_rules! readable_serde {
    ($name:ident, $n:expr) => {
        impl ts_rs::TS for $name {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &ts_rs::Config) -> String {
                "string".into()
            }
            fn inline(cfg: &ts_rs::Config) -> String {
                <Self as ts_rs::TS>::name(cfg)
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_string())
                } else {
                    self.0.serialize(s)
                }
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    <[u8; $n]>::deserialize(d).map(Self)
                }
            }
        }
    };
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 16]);
        readable_serde!($name, 16);

        impl $name {
            pub fn random() -> Self {
                Self(rand::random())
            }
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                b.try_into().ok().map(Self)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let v = data_encoding::HEXLOWER_PERMISSIVE
                    .decode(s.as_bytes())
                    .map_err(|_| IdError(stringify!($name)))?;
                Self::from_slice(&v).ok_or(IdError(stringify!($name)))
            }
        }
    };
}

random_id!(
    /// A conversation (1:1 or group).
    ChatId
);
random_id!(
    /// The opaque id envelopes of one conversation (or one contact channel) travel under.
    TopicId
);
random_id!(
    /// A message, immutable for its whole life.
    MessageId
);
random_id!(
    /// A membership operation: the first 128 bits of the hash of its signed bytes. A group's
    /// [`ChatId`] is the id of the operation that created it.
    OpId
);

/// Ed25519 verification with the strict rules (RFC 8032 plus no small-order keys or `R`, no
/// non-canonical encodings): a signature verifies for exactly one key and message, so nobody
/// can make one signature count for two devices or two messages.
///
/// Decompressing a key costs about as much as half a signature check and every envelope needs
/// its author's, so decoded keys are kept in a small process-wide cache (a family has few
/// devices).
pub(crate) fn verify_strict(key: &[u8; 32], msg: &[u8], sig: &[u8]) -> bool {
    use ed25519_dalek::VerifyingKey;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    const MAX_CACHED_KEYS: usize = 4096;
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], VerifyingKey>>> = OnceLock::new();
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let cached = cache.lock().ok().and_then(|c| c.get(key).copied());
    let vk = match cached {
        Some(vk) => vk,
        None => {
            let Ok(vk) = VerifyingKey::from_bytes(key) else {
                return false;
            };
            if let Ok(mut c) = cache.lock() {
                if c.len() >= MAX_CACHED_KEYS {
                    c.clear();
                }
                c.insert(*key, vk);
            }
            vk
        }
    };
    vk.verify_strict(msg, &sig).is_ok()
}

impl MessageId {
    /// The id of a message `author` writes with `nonce`: a hash of both, so nobody can give a
    /// message of theirs an id that is someone else's (a receiver checks it), and ids stay
    /// random.
    pub fn derive(author: &AccountId, nonce: &[u8; 16]) -> MessageId {
        use sha2::{Digest, Sha256};
        let h = Sha256::new()
            .chain_update(b"hearth-message-id-v1")
            .chain_update(author.0)
            .chain_update(nonce)
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[..16]);
        MessageId(id)
    }
}

/// A text id that did not parse.
#[derive(Debug, thiserror::Error)]
#[error("not a valid {0}")]
pub struct IdError(&'static str);

/// A person: their account's Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub [u8; 32]);
readable_serde!(AccountId, 32);

/// One install: the device's Ed25519 public key, which is also its libp2p `PeerId`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub [u8; 32]);
readable_serde!(DeviceId, 32);

/// A blob (a photo, a recording, a file): the BLAKE3 hash of its manifest, the list of its
/// chunks' ciphertext hashes (`blob`). Names the bytes, not who sent them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobId(pub [u8; 32]);
readable_serde!(BlobId, 32);

impl BlobId {
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(Self)
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}
impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", &self.to_string()[..12])
    }
}
impl FromStr for BlobId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let v = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| IdError("blob id"))?;
        Self::from_slice(&v).ok_or(IdError("blob id"))
    }
}

impl AccountId {
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(Self)
    }
    /// Verifies `sig` over `msg` with this account key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        verify_strict(&self.0, msg, sig)
    }
}

impl DeviceId {
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(Self)
    }
    /// The device's libp2p public key.
    pub fn public_key(&self) -> Option<libp2p_identity::ed25519::PublicKey> {
        libp2p_identity::ed25519::PublicKey::try_from_bytes(&self.0).ok()
    }
    /// The libp2p peer id of this device.
    pub fn peer_id(&self) -> Option<libp2p_identity::PeerId> {
        self.public_key()
            .map(|k| libp2p_identity::PublicKey::from(k).to_peer_id())
    }
    /// Verifies `sig` over `msg` with this device key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        verify_strict(&self.0, msg, sig)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}
impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", &self.to_string()[..12])
    }
}
impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let v = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| IdError("account id"))?;
        Self::from_slice(&v).ok_or(IdError("account id"))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.peer_id() {
            Some(p) => write!(f, "{p}"),
            None => f.write_str(&data_encoding::HEXLOWER.encode(&self.0)),
        }
    }
}
impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({self})")
    }
}

impl FromStr for DeviceId {
    type Err = IdError;
    /// Accepts the peer id form (as displayed) or hex.
    fn from_str(s: &str) -> Result<Self, IdError> {
        if let Ok(peer) = s.parse::<libp2p_identity::PeerId>() {
            let key = libp2p_identity::PublicKey::try_decode_protobuf(peer.as_ref().digest())
                .ok()
                .and_then(|k| k.try_into_ed25519().ok())
                .ok_or(IdError("device id"))?;
            return Ok(DeviceId(key.to_bytes()));
        }
        let v = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| IdError("device id"))?;
        Self::from_slice(&v).ok_or(IdError("device id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_text_roundtrips_through_peer_id() {
        let kp = libp2p_identity::ed25519::Keypair::generate();
        let d = DeviceId(kp.public().to_bytes());
        let text = d.to_string();
        assert!(text.starts_with("12D3Koo"), "{text}");
        assert_eq!(text.parse::<DeviceId>().unwrap(), d);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DeviceId>(&json).unwrap(), d);
        assert_eq!(postcard::to_stdvec(&d).unwrap().len(), 32);
    }

    /// A small-order ("weak") key with the identity point as `R` and `s = 0` satisfies the
    /// lax verification equation for every message; strict verification refuses it.
    #[test]
    fn weak_keys_and_signatures_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let weak = DeviceId(identity);
        assert!(!weak.verify(b"any message", &sig));
        assert!(!AccountId(identity).verify(b"any other", &sig));
        // An honest signature still verifies, and only for its message.
        let kp = libp2p_identity::ed25519::Keypair::generate();
        let d = DeviceId(kp.public().to_bytes());
        let good = kp.sign(b"hello");
        assert!(d.verify(b"hello", &good));
        assert!(!d.verify(b"hellp", &good));
    }
}
