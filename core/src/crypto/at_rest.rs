//! Secrets at rest: a 32-byte store key, kept in its own file (mode 0600) beside the database,
//! encrypts every secret column (account and device keys) with XChaCha20-Poly1305, and is the
//! pickle key for vodozemac's own encrypted pickles of Olm and Megolm state.
//!
//! Keeping the key out of the database means a copied or backed-up database alone reveals no
//! secret; the desktop app can later move the key into the OS keychain without a format change.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::Error;

const NONCE_LEN: usize = 24;

pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    /// Loads the key file, or creates it when `create` is set and it does not exist.
    pub fn load_or_create(path: &Path, create: bool) -> Result<Option<StoreKey>, Error> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    Error::StoreKey(format!("{} has the wrong length", path.display()))
                })?;
                Ok(Some(StoreKey(Zeroizing::new(arr))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key: [u8; 32] = rand::random();
                write_private(path, &key).map_err(|e| Error::StoreKey(e.to_string()))?;
                Ok(Some(StoreKey(Zeroizing::new(key))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::StoreKey(e.to_string())),
        }
    }

    pub fn pickle_key(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(&(*self.0).into());
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        // Encryption into a Vec only fails on absurd lengths; fall back to an empty (unopenable) box.
        let ct = cipher.encrypt(&nonce, plaintext).unwrap_or_default();
        [nonce_bytes.as_slice(), &ct].concat()
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::Pickle("sealed secret too short".into()));
        }
        let (n, ct) = sealed.split_at(NONCE_LEN);
        let nonce_bytes: [u8; NONCE_LEN] = n
            .try_into()
            .map_err(|_| Error::Pickle("bad nonce".into()))?;
        let cipher = XChaCha20Poly1305::new(&(*self.0).into());
        cipher
            .decrypt(&XNonce::from(nonce_bytes), ct)
            .map(Zeroizing::new)
            .map_err(|_| Error::Pickle("secret does not open with this store key".into()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::load_or_create(&dir.path().join("k"), true)
            .unwrap()
            .unwrap();
        let mut sealed = key.seal(b"secret");
        assert_eq!(&**key.open(&sealed).unwrap(), b"secret");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(&sealed).is_err());
        let again = StoreKey::load_or_create(&dir.path().join("k"), false)
            .unwrap()
            .unwrap();
        assert_eq!(again.pickle_key(), key.pickle_key());
    }
}
