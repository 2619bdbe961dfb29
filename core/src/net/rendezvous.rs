//! Private rendezvous on the public DHT: where two contacts find each other's current
//! addresses (their public relays, a public address) after both moved, restarted or lost the
//! relays they met through, with no server of anyone's.
//!
//! Each pair of contacts shares a secret already (their contact channel's topic secret,
//! `mailbox::access`). From it, the epoch number (6 hours) and the publishing device, both sides
//! compute a **place**: an Ed25519 key (so a name in the IPNS namespace public DHT nodes
//! accept) and a sealing key. A device publishes, at each contact's place for it, an IPNS record
//! whose value is its addresses sealed with XChaCha20-Poly1305; the contact looks up the
//! current and the previous epoch's place of each of the device's it misses, opens the record
//! and dials.
//!
//! What is published is unlinkable: a name that changes every epoch, differs per contact and
//! per device, signed by a key nobody else can derive, holding ciphertext. A DHT node that
//! stores it learns that some peer put an opaque record under a random name; the nodes a
//! device talks to see its IP address and peer id asking and putting (as they see it for any
//! DHT query), never for whom, and a lookup's key changes with the epoch.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use libp2p::Multiaddr;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::ipns;
use crate::ids::DeviceId;

/// How long a place stays the same. Lookups try the current and the previous epoch, so a
/// record is found for between one and two epochs after it was published.
pub const EPOCH_SECS: u64 = 6 * 3600;
/// At most this many addresses are published (relayed ones first).
pub const MAX_ADDRS: usize = 8;
/// The value is a valid IPFS path (newer DHT nodes check): the empty identity CID, and the
/// sealed addresses as one path segment.
const PATH_PREFIX: &str = "/ipfs/bafkqaaa/";
const NONCE_LEN: usize = 24;

/// The epoch a moment (unix seconds) falls in.
pub fn epoch_of(unix_secs: u64) -> u64 {
    unix_secs / EPOCH_SECS
}

/// Where one device's addresses are published for one contact in one epoch.
pub struct Place {
    key: SigningKey,
    seal: Zeroizing<[u8; 32]>,
    epoch: u64,
}

impl Place {
    /// The place of `publisher`'s addresses, for the contact sharing `secret`, in `epoch`.
    pub fn new(secret: &[u8; 32], epoch: u64, publisher: &DeviceId) -> Place {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(label);
            h.update(secret);
            h.update(epoch.to_be_bytes());
            h.update(publisher.0);
            h.finalize().into()
        };
        let seed = Zeroizing::new(derive(b"hearth-rendezvous-name-v1"));
        Place {
            key: SigningKey::from_bytes(&seed),
            seal: Zeroizing::new(derive(b"hearth-rendezvous-seal-v1")),
            epoch,
        }
    }

    /// The DHT key (`/ipns/…`).
    pub fn key(&self) -> Vec<u8> {
        ipns::routing_key(&self.key.verifying_key())
    }

    /// The record to publish: `addrs` sealed, valid until the end of the next epoch.
    pub fn record(&self, addrs: &[Multiaddr], sequence: u64) -> Vec<u8> {
        let plain: Vec<Vec<u8>> = addrs.iter().take(MAX_ADDRS).map(|a| a.to_vec()).collect();
        let plain = postcard::to_allocvec(&plain).unwrap_or_default();
        let nonce: [u8; NONCE_LEN] = rand::random();
        let cipher = XChaCha20Poly1305::new(&(*self.seal).into());
        let key = self.key();
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &key,
                },
            )
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        let value = format!(
            "{PATH_PREFIX}{}",
            data_encoding::BASE32_NOPAD.encode(&blob).to_lowercase()
        );
        let end = (self.epoch + 2) * EPOCH_SECS;
        ipns::encode(
            &self.key,
            &ipns::Fields {
                value: value.into_bytes(),
                validity: rfc3339(end),
                sequence,
                ttl: EPOCH_SECS * 1_000_000_000,
            },
        )
    }

    /// The addresses a record found at this place holds, and its sequence; None for anything
    /// not sealed by someone who knows the place (a stranger's record under a guessed name).
    pub fn open(&self, record: &[u8]) -> Option<(Vec<Multiaddr>, u64)> {
        let f = ipns::decode(&self.key.verifying_key(), record)?;
        let value = std::str::from_utf8(&f.value).ok()?;
        let b32 = value.strip_prefix(PATH_PREFIX)?.to_uppercase();
        let blob = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).ok()?;
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let cipher = XChaCha20Poly1305::new(&(*self.seal).into());
        let key = self.key();
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &key,
                },
            )
            .ok()?;
        let list: Vec<Vec<u8>> = postcard::from_bytes(&plain).ok()?;
        let addrs = list
            .into_iter()
            .take(MAX_ADDRS)
            .filter_map(|b| Multiaddr::try_from(b).ok())
            .collect();
        Some((addrs, f.sequence))
    }
}

/// RFC 3339, as the DHT nodes parse it (`2026-12-07T00:00:00Z`), for unix seconds.
fn rfc3339(unix_secs: u64) -> String {
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's `civil_from_days`.
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(b: u8) -> DeviceId {
        DeviceId([b; 32])
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_601_600 + 3_661), "2026-12-07T01:01:01Z");
    }

    #[test]
    fn only_the_contact_opens_what_a_device_publishes() {
        let secret = [1u8; 32];
        let addrs: Vec<Multiaddr> = vec![
            "/ip4/11.1.0.1/tcp/4001/p2p/12D3KooWKFibHzAJTXpCM5q8hCXBH9DaG5aKqWrykw6xaTbHogp3/p2p-circuit"
                .parse()
                .unwrap(),
        ];
        let mine = Place::new(&secret, 10, &device(1));
        let rec = mine.record(&addrs, 5);
        // The contact computes the same place and opens it.
        let theirs = Place::new(&secret, 10, &device(1));
        assert_eq!(theirs.key(), mine.key());
        assert_eq!(theirs.open(&rec), Some((addrs.clone(), 5)));
        // Another secret, epoch or publisher is another place, and opens nothing.
        for other in [
            Place::new(&[2u8; 32], 10, &device(1)),
            Place::new(&secret, 11, &device(1)),
            Place::new(&secret, 10, &device(2)),
        ] {
            assert_ne!(other.key(), mine.key());
            assert_eq!(other.open(&rec), None);
        }
        // Nothing in the record is the device, an address or the secret.
        for needle in [&device(1).0[..], &addrs[0].to_vec()[..], &secret[..]] {
            assert!(!rec.windows(needle.len()).any(|w| w == needle));
        }
    }

    #[test]
    fn a_record_sealed_with_the_wrong_key_is_refused() {
        // A stranger who guessed (or saw) a place's name can sign nothing there: the name is
        // the key. One who knows the name key but not the sealing key (none can, both come
        // from the secret) still could not seal: shown by opening with another place's seal.
        let p = Place::new(&[1u8; 32], 10, &device(1));
        let forged = ipns::encode(
            &p.key,
            &ipns::Fields {
                value: format!("{PATH_PREFIX}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
                    .into_bytes(),
                validity: rfc3339(u64::MAX / 4),
                sequence: 1,
                ttl: 1,
            },
        );
        assert_eq!(p.open(&forged), None);
    }
}
