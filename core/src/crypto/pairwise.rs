//! Olm channels between two devices (vodozemac `olm`).
//!
//! A channel opens without any key server: the peer's [`DeviceBundle`](crate::identity::DeviceBundle)
//! carries its Curve25519 identity key and a fallback key, and the first message is an Olm
//! pre-key message. Several sessions with one peer can exist (both sides may open one at the
//! same time); we send on the most recently used and try all of them, newest first, to decrypt.

use vodozemac::olm::{Account, AccountPickle, OlmMessage, Session, SessionConfig, SessionPickle};
use vodozemac::Curve25519PublicKey;

use super::Error;

/// The device's Olm account.
pub struct OlmAccount(Account);

impl OlmAccount {
    pub fn generate() -> Self {
        let mut acc = Account::new();
        acc.generate_fallback_key();
        OlmAccount(acc)
    }

    pub fn curve_key(&self) -> [u8; 32] {
        self.0.curve25519_key().to_bytes()
    }

    pub fn fallback_key(&self) -> [u8; 32] {
        self.0
            .fallback_key()
            .values()
            .next()
            .map(|k| k.to_bytes())
            .unwrap_or([0; 32])
    }

    pub fn pickle(&self, key: &[u8; 32]) -> String {
        self.0.pickle().encrypt(key)
    }

    pub fn from_pickle(s: &str, key: &[u8; 32]) -> Result<Self, Error> {
        AccountPickle::from_encrypted(s, key)
            .map(|p| OlmAccount(Account::from_pickle(p)))
            .map_err(|e| Error::Pickle(e.to_string()))
    }

    /// Opens a new outbound channel to a device from its bundle keys.
    pub fn open_outbound(&self, curve: &[u8; 32], fallback: &[u8; 32]) -> Result<Channel, Error> {
        self.0
            .create_outbound_session(
                SessionConfig::version_1(),
                Curve25519PublicKey::from_bytes(*curve),
                Curve25519PublicKey::from_bytes(*fallback),
            )
            .map(Channel)
            .map_err(|e| Error::Channel(e.to_string()))
    }

    /// Opens an inbound channel from a pre-key message and returns it with the plaintext.
    pub fn open_inbound(
        &mut self,
        their_curve: &[u8; 32],
        msg: &OlmMessage,
    ) -> Result<(Channel, Vec<u8>), Error> {
        let OlmMessage::PreKey(pre) = msg else {
            return Err(Error::Channel("expected a pre-key message".into()));
        };
        let res = self
            .0
            .create_inbound_session(
                SessionConfig::version_1(),
                Curve25519PublicKey::from_bytes(*their_curve),
                pre,
            )
            .map_err(|e| Error::Channel(e.to_string()))?;
        Ok((Channel(res.session), res.plaintext))
    }
}

/// One Olm session with a peer device.
pub struct Channel(Session);

impl Channel {
    pub fn id(&self) -> String {
        self.0.session_id()
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<(u8, Vec<u8>), Error> {
        let msg = self
            .0
            .encrypt(plaintext)
            .map_err(|e| Error::Channel(e.to_string()))?;
        let (kind, bytes) = msg.to_parts();
        Ok((kind as u8, bytes))
    }

    pub fn decrypt(&mut self, msg: &OlmMessage) -> Result<Vec<u8>, Error> {
        self.0
            .decrypt(msg)
            .map_err(|e| Error::Decrypt(e.to_string()))
    }

    /// True if a pre-key message belongs to this session.
    pub fn matches(&self, msg: &OlmMessage) -> bool {
        match msg {
            OlmMessage::PreKey(pre) => pre.session_id() == self.0.session_id(),
            OlmMessage::Normal(_) => false,
        }
    }

    pub fn pickle(&self, key: &[u8; 32]) -> String {
        self.0.pickle().encrypt(key)
    }

    pub fn from_pickle(s: &str, key: &[u8; 32]) -> Result<Self, Error> {
        SessionPickle::from_encrypted(s, key)
            .map(|p| Channel(Session::from_pickle(p)))
            .map_err(|e| Error::Pickle(e.to_string()))
    }
}

/// Parses an Olm message from its wire parts.
pub fn parse_message(kind: u8, bytes: &[u8]) -> Result<OlmMessage, Error> {
    OlmMessage::from_parts(kind as usize, bytes).map_err(|e| Error::Decrypt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_opens_from_bundle_keys_and_carries_messages_both_ways() {
        let alice = OlmAccount::generate();
        let mut bob = OlmAccount::generate();
        let mut a2b = alice
            .open_outbound(&bob.curve_key(), &bob.fallback_key())
            .unwrap();
        let (k, ct) = a2b.encrypt(b"hello").unwrap();
        let msg = parse_message(k, &ct).unwrap();
        let (mut b2a, pt) = bob.open_inbound(&alice.curve_key(), &msg).unwrap();
        assert_eq!(pt, b"hello");
        let (k, ct) = b2a.encrypt(b"hi back").unwrap();
        assert_eq!(
            a2b.decrypt(&parse_message(k, &ct).unwrap()).unwrap(),
            b"hi back"
        );
        // The fallback key stays usable for a second peer.
        let carol = OlmAccount::generate();
        let mut c2b = carol
            .open_outbound(&bob.curve_key(), &bob.fallback_key())
            .unwrap();
        let (k, ct) = c2b.encrypt(b"from carol").unwrap();
        let (_, pt) = bob
            .open_inbound(&carol.curve_key(), &parse_message(k, &ct).unwrap())
            .unwrap();
        assert_eq!(pt, b"from carol");
    }
}
