//! Megolm sender keys (vodozemac `megolm`): one outbound session per member device per
//! conversation; every member holds an inbound copy of it.
//!
//! A session key exported at the current index lets the receiver read from that message on
//! and nothing before it, which is exactly "a new member reads from now on". Rotation (a new
//! session, key number + 1) shared with the remaining members only is how a removed member is
//! shut out of everything sent afterwards.

use vodozemac::megolm::{
    GroupSession, GroupSessionPickle, InboundGroupSession, InboundGroupSessionPickle,
    MegolmMessage, SessionConfig, SessionKey,
};

use super::Error;

pub struct Outbound(GroupSession);

impl Outbound {
    pub fn generate() -> Self {
        Outbound(GroupSession::new(SessionConfig::version_1()))
    }
    /// The key a member needs to read messages from the next one on.
    pub fn session_key(&self) -> Vec<u8> {
        self.0.session_key().to_bytes()
    }
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Vec<u8> {
        self.0.encrypt(plaintext).to_bytes()
    }
    pub fn pickle(&self, key: &[u8; 32]) -> String {
        self.0.pickle().encrypt(key)
    }
    pub fn from_pickle(s: &str, key: &[u8; 32]) -> Result<Self, Error> {
        GroupSessionPickle::from_encrypted(s, key)
            .map(|p| Outbound(GroupSession::from_pickle(p)))
            .map_err(|e| Error::Pickle(e.to_string()))
    }
}

pub struct Inbound(InboundGroupSession);

impl Inbound {
    pub fn from_session_key(bytes: &[u8]) -> Result<Self, Error> {
        let key = SessionKey::from_bytes(bytes).map_err(|e| Error::Channel(e.to_string()))?;
        Ok(Inbound(InboundGroupSession::new(
            &key,
            SessionConfig::version_1(),
        )))
    }
    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        let msg =
            MegolmMessage::from_bytes(ciphertext).map_err(|e| Error::Decrypt(e.to_string()))?;
        self.0
            .decrypt(&msg)
            .map(|d| d.plaintext)
            .map_err(|e| Error::Decrypt(e.to_string()))
    }
    pub fn pickle(&self, key: &[u8; 32]) -> String {
        self.0.pickle().encrypt(key)
    }
    pub fn from_pickle(s: &str, key: &[u8; 32]) -> Result<Self, Error> {
        InboundGroupSessionPickle::from_encrypted(s, key)
            .map(|p| Inbound(InboundGroupSession::from_pickle(p)))
            .map_err(|e| Error::Pickle(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_key_reads_only_from_then_on() {
        let mut out = Outbound::generate();
        let early = out.encrypt(b"before");
        let mut inbound = Inbound::from_session_key(&out.session_key()).unwrap();
        let late = out.encrypt(b"after");
        assert_eq!(inbound.decrypt(&late).unwrap(), b"after");
        assert!(inbound.decrypt(&early).is_err());
    }
}
