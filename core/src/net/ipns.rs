//! IPNS records (the IPFS name system's signed records), as the Amino DHT stores them: the one
//! kind of mutable record public DHT nodes accept from anyone (`/ipns/<name>` keys, validated
//! by the name's Ed25519 key). Rendezvous (`rendezvous`) publishes family addresses in them.
//!
//! Only what rendezvous needs, written to the specification (IPNS record v2: a protobuf whose
//! `data` is DAG-CBOR of `Value`, `Validity`, `ValidityType`, `Sequence`, `TTL`, signed as
//! `"ipns-signature:" || data`): no V1 fields. Decoding is strict and bounded: a record from
//! the DHT is a stranger's bytes until its signature checks.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Public DHT nodes refuse bigger records (boxo `MaxRecordSize`).
pub const MAX_RECORD_BYTES: usize = 10 * 1024;
const SIGNATURE_PREFIX: &[u8] = b"ipns-signature:";

/// The routing key of the name of an Ed25519 key: `/ipns/` and the peer id's bytes.
pub fn routing_key(key: &VerifyingKey) -> Vec<u8> {
    let mut out = b"/ipns/".to_vec();
    out.extend_from_slice(&peer_id_bytes(key));
    out
}

/// The peer id of an Ed25519 key: an identity multihash of its protobuf form.
fn peer_id_bytes(key: &VerifyingKey) -> Vec<u8> {
    // PublicKey { Type = Ed25519 (1), Data = 32 bytes }
    let mut proto = vec![0x08, 0x01, 0x12, 0x20];
    proto.extend_from_slice(key.as_bytes());
    let mut out = vec![0x00, proto.len() as u8];
    out.extend_from_slice(&proto);
    out
}

/// A record's signed fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    pub value: Vec<u8>,
    /// RFC 3339 end of validity.
    pub validity: String,
    pub sequence: u64,
    /// Nanoseconds a resolver may cache it.
    pub ttl: u64,
}

/// A signed record, in its wire form.
pub fn encode(key: &SigningKey, f: &Fields) -> Vec<u8> {
    let data = cbor_data(f);
    let mut to_sign = SIGNATURE_PREFIX.to_vec();
    to_sign.extend_from_slice(&data);
    let sig = key.sign(&to_sign);
    let mut out = Vec::with_capacity(data.len() + 80);
    pb_bytes(&mut out, 8, &sig.to_bytes());
    pb_bytes(&mut out, 9, &data);
    out
}

/// The fields of a record signed by `key`, or None if it is not one (any other shape, any
/// other signer, too big).
pub fn decode(key: &VerifyingKey, bytes: &[u8]) -> Option<Fields> {
    if bytes.len() > MAX_RECORD_BYTES {
        return None;
    }
    let (mut sig, mut data) = (None, None);
    let mut r = Reader(bytes);
    while !r.0.is_empty() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (field, 2) => {
                let len = usize::try_from(r.varint()?).ok()?;
                let v = r.take(len)?;
                match field {
                    8 => sig = Some(v),
                    9 => data = Some(v),
                    _ => {}
                }
            }
            (_, 0) => {
                r.varint()?;
            }
            _ => return None,
        }
    }
    let (sig, data) = (sig?, data?);
    let sig = Signature::from_slice(sig).ok()?;
    let mut signed = SIGNATURE_PREFIX.to_vec();
    signed.extend_from_slice(data);
    key.verify(&signed, &sig).ok()?;
    parse_data(data)
}

/// DAG-CBOR of the signed fields: a map with its keys in canonical order (shorter first,
/// then bytewise): TTL, Value, Sequence, Validity, ValidityType.
fn cbor_data(f: &Fields) -> Vec<u8> {
    let mut out = vec![0xa5];
    cbor_text(&mut out, "TTL");
    cbor_uint(&mut out, 0, f.ttl);
    cbor_text(&mut out, "Value");
    cbor_uint(&mut out, 2, f.value.len() as u64);
    out.extend_from_slice(&f.value);
    cbor_text(&mut out, "Sequence");
    cbor_uint(&mut out, 0, f.sequence);
    cbor_text(&mut out, "Validity");
    cbor_uint(&mut out, 2, f.validity.len() as u64);
    out.extend_from_slice(f.validity.as_bytes());
    cbor_text(&mut out, "ValidityType");
    cbor_uint(&mut out, 0, 0);
    out
}

fn parse_data(data: &[u8]) -> Option<Fields> {
    let mut r = Reader(data);
    if r.byte()? != 0xa5 {
        return None;
    }
    let mut f = Fields {
        value: Vec::new(),
        validity: String::new(),
        sequence: 0,
        ttl: 0,
    };
    for want in ["TTL", "Value", "Sequence", "Validity", "ValidityType"] {
        if r.cbor_head(3)? != want.len() as u64 || r.take(want.len())? != want.as_bytes() {
            return None;
        }
        match want {
            "TTL" => f.ttl = r.cbor_head(0)?,
            "Sequence" => f.sequence = r.cbor_head(0)?,
            "ValidityType" => {
                if r.cbor_head(0)? != 0 {
                    return None;
                }
            }
            _ => {
                let len = usize::try_from(r.cbor_head(2)?).ok()?;
                let v = r.take(len)?.to_vec();
                if want == "Value" {
                    f.value = v;
                } else {
                    f.validity = String::from_utf8(v).ok()?;
                }
            }
        }
    }
    r.0.is_empty().then_some(f)
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_uint(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A CBOR head: major type and argument, in its shortest form (as DAG-CBOR requires).
fn cbor_uint(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u8::MAX as u64 {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, v: &[u8]) {
    pb_varint(out, field << 3 | 2);
    pb_varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

fn pb_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (v, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// A CBOR head of the given major type; its argument.
    fn cbor_head(&mut self, major: u8) -> Option<u64> {
        let b = self.byte()?;
        if b >> 5 != major {
            return None;
        }
        match b & 0x1f {
            n @ 0..=23 => Some(u64::from(n)),
            24 => Some(u64::from(self.byte()?)),
            25 => Some(u64::from(u16::from_be_bytes(
                self.take(2)?.try_into().ok()?,
            ))),
            26 => Some(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().ok()?,
            ))),
            27 => Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            value: b"/ipfs/bafkqaaa/abc".to_vec(),
            validity: "2026-12-07T00:00:00Z".into(),
            sequence: 1_765_000_000_000,
            ttl: 3_600_000_000_000,
        }
    }

    #[test]
    fn a_record_round_trips_and_only_its_signer_opens_it() {
        let k = SigningKey::from_bytes(&[7; 32]);
        let rec = encode(&k, &fields());
        assert_eq!(decode(&k.verifying_key(), &rec), Some(fields()));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(decode(&other.verifying_key(), &rec), None);
        // Any change to the signed data is refused.
        for i in 0..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 1;
            assert_eq!(decode(&k.verifying_key(), &bad), None, "byte {i}");
        }
        // Truncations never panic and are refused.
        for n in 0..rec.len() {
            assert_eq!(decode(&k.verifying_key(), &rec[..n]), None);
        }
    }

    #[test]
    fn the_name_is_the_peer_id_of_the_key() {
        let k = SigningKey::from_bytes(&[7; 32]);
        let lp = libp2p::identity::ed25519::PublicKey::try_from_bytes(k.verifying_key().as_bytes())
            .unwrap();
        let peer = libp2p::identity::PublicKey::from(lp).to_peer_id();
        let mut want = b"/ipns/".to_vec();
        want.extend_from_slice(&peer.to_bytes());
        assert_eq!(routing_key(&k.verifying_key()), want);
    }
}
