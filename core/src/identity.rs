//! Who this device is: the account key (the person), the device key (this install, also its
//! libp2p `PeerId`), the Olm account that opens pairwise channels, and the display name.
//!
//! The account key signs the device key (the signature travels in the [`DeviceBundle`]), so a
//! second device of the same person can be linked later without changing any format:
//! conversations name members by account, envelopes are authored by devices.

use libp2p_identity::ed25519;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use crate::ids::{AccountId, DeviceId};

const DEVICE_CERT_CONTEXT: &[u8] = b"hearth-device-cert-v1";
const BUNDLE_CONTEXT: &[u8] = b"hearth-device-bundle-v1";

/// The secret keys of this device.
pub struct Identity {
    pub account: ed25519::Keypair,
    pub device: ed25519::Keypair,
    pub name: String,
}

impl Identity {
    pub fn generate(name: String) -> Self {
        Self {
            account: ed25519::Keypair::generate(),
            device: ed25519::Keypair::generate(),
            name,
        }
    }
    pub fn account_id(&self) -> AccountId {
        AccountId(self.account.public().to_bytes())
    }
    pub fn device_id(&self) -> DeviceId {
        DeviceId(self.device.public().to_bytes())
    }
    pub fn device_cert(&self) -> Vec<u8> {
        self.account.sign(&device_cert_message(&self.device_id()))
    }
    pub fn sign_device(&self, msg: &[u8]) -> Vec<u8> {
        self.device.sign(msg)
    }
    /// The libp2p keypair of this device (its `PeerId`).
    pub fn libp2p_keypair(&self) -> libp2p_identity::Keypair {
        libp2p_identity::Keypair::from(self.device.clone())
    }
}

fn device_cert_message(device: &DeviceId) -> Vec<u8> {
    [DEVICE_CERT_CONTEXT, &device.0].concat()
}

/// Everything another device needs to open an Olm channel to a device and to know whose it
/// is. Signed by the device; the device is certified by the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceBundle {
    pub account: AccountId,
    pub device: DeviceId,
    /// The account's signature over the device key.
    pub cert: Vec<u8>,
    /// Olm Curve25519 identity key.
    pub curve_key: [u8; 32],
    /// Olm fallback key (reusable one-time key), so channels open without a key server.
    pub fallback_key: [u8; 32],
    /// The device's signature over all of the above.
    pub sig: Vec<u8>,
}

impl DeviceBundle {
    fn signed_bytes(&self) -> Vec<u8> {
        [
            BUNDLE_CONTEXT,
            &self.account.0,
            &self.device.0,
            &self.cert,
            &self.curve_key,
            &self.fallback_key,
        ]
        .concat()
    }

    pub fn new(id: &Identity, curve_key: [u8; 32], fallback_key: [u8; 32]) -> Self {
        let mut b = DeviceBundle {
            account: id.account_id(),
            device: id.device_id(),
            cert: id.device_cert(),
            curve_key,
            fallback_key,
            sig: Vec::new(),
        };
        b.sig = id.sign_device(&b.signed_bytes());
        b
    }

    /// True if the account certified the device and the device signed the bundle.
    pub fn verify(&self) -> bool {
        self.account
            .verify(&device_cert_message(&self.device), &self.cert)
            && self.device.verify(&self.signed_bytes(), &self.sig)
    }
}

/// The safety number of two accounts: 60 digits in twelve groups of five, the same on both
/// sides, that two people compare in person to know no one sits between them.
pub fn safety_number(a: &AccountId, b: &AccountId) -> String {
    let (lo, hi) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    let mut h = Sha512::new();
    h.update(b"hearth-safety-number-v1");
    h.update(lo.0);
    h.update(hi.0);
    let digest = h.finalize();
    let groups: Vec<String> = digest
        .chunks(5)
        .take(12)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect();
    groups.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_number_is_symmetric_and_distinct() {
        let a = Identity::generate("a".into()).account_id();
        let b = Identity::generate("b".into()).account_id();
        let c = Identity::generate("c".into()).account_id();
        assert_eq!(safety_number(&a, &b), safety_number(&b, &a));
        assert_ne!(safety_number(&a, &b), safety_number(&a, &c));
        assert_eq!(safety_number(&a, &b).len(), 12 * 5 + 11);
    }

    #[test]
    fn bundle_verifies_and_detects_tampering() {
        let id = Identity::generate("a".into());
        let mut b = DeviceBundle::new(&id, [1; 32], [2; 32]);
        assert!(b.verify());
        b.fallback_key[0] ^= 1;
        assert!(!b.verify());
    }
}
