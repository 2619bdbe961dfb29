//! A walk over a v1 update's structure before yrs decodes it: every count it declares (clients,
//! blocks, strings, `Any` arrays and maps, delete ranges) must fit in the bytes that remain.
//!
//! yrs reserves memory for a declared count before reading what it counts. It does so
//! fallibly, but a count that is merely large rather than impossible (a few bytes can declare
//! hundreds of millions of entries) is granted by an overcommitting allocator, and a hash map
//! then touches a byte per entry: a six-byte update from a member made every other member's
//! device allocate and write hundreds of megabytes (found by the `engine` fuzz target). Each
//! counted element takes at least one byte, so a count larger than what remains is a lie, and
//! refusing it bounds every reservation by the size of the update (at most an envelope).
//!
//! The walk follows yrs's v1 decoder; anything it does not know is refused, which is safe: our
//! own documents use maps of `Any` values, nested maps and deletions.

use super::Error;

/// Nesting of `Any` values deeper than any real document has.
const MAX_DEPTH: usize = 32;

const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

/// One client's section of an update: whose blocks, from which clock, how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    pub client: u64,
    pub clock: u64,
    pub blocks: u64,
}

/// Checks that `bytes` is a v1 update whose declared counts all fit; returns its sections.
pub fn check(bytes: &[u8]) -> Result<Vec<Section>, Error> {
    let mut c = Cursor { b: bytes, i: 0 };
    let clients = c.count()?;
    let mut sections = Vec::new();
    for _ in 0..clients {
        let blocks = c.count()?;
        let client = c.var()?;
        let clock = c.var()?;
        for _ in 0..blocks {
            block(&mut c)?;
        }
        sections.push(Section {
            client,
            clock,
            blocks,
        });
    }
    // The delete set.
    let clients = c.count()?;
    for _ in 0..clients {
        c.var()?; // client
        let ranges = c.count()?;
        for _ in 0..ranges {
            c.var()?; // clock
            c.var()?; // length
        }
    }
    Ok(sections)
}

fn block(c: &mut Cursor) -> Result<(), Error> {
    let info = c.u8()?;
    match info {
        // A GC range: a length.
        0 => {
            c.var()?;
            return Ok(());
        }
        // A skip range only appears in merged updates, never in one transaction's, and yrs
        // 0.28.1 panics integrating some (the `engine` fuzz target): refused.
        10 => return Err(Error::Malformed),
        _ => {}
    }
    if info & HAS_ORIGIN != 0 {
        c.id()?;
    }
    if info & HAS_RIGHT_ORIGIN != 0 {
        c.id()?;
    }
    if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
        if c.var()? == 1 {
            c.string()?; // a named root type
        } else {
            c.id()?;
        }
        if info & HAS_PARENT_SUB != 0 {
            c.string()?;
        }
    }
    match info & 0b1111 {
        1 => {
            c.var()?; // deleted length
        }
        2 => {
            // JSON: yrs reads one more string than the count says.
            let n = c.count()?;
            for _ in 0..=n {
                c.string()?;
            }
        }
        3..=5 => c.string_or_buf()?,
        6 => {
            c.string()?;
            c.string()?;
        }
        7 => match c.u8()? {
            3 => c.string()?,
            0 | 1 | 2 | 4 | 5 | 6 | 9 | 15 => {}
            _ => return Err(Error::Malformed),
        },
        8 => {
            let n = c.count()?;
            for _ in 0..n {
                any(c, 0)?;
            }
        }
        9 => {
            c.string()?;
            any(c, 0)?;
        }
        _ => return Err(Error::Malformed),
    }
    Ok(())
}

fn any(c: &mut Cursor, depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Malformed);
    }
    match c.u8()? {
        127 | 126 | 121 | 120 => Ok(()),
        125 => c.var().map(|_| ()),
        124 => c.skip(4),
        123 | 122 => c.skip(8),
        119 | 116 => c.string_or_buf(),
        118 => {
            let n = c.count()?;
            for _ in 0..n {
                c.string()?;
                any(c, depth + 1)?;
            }
            Ok(())
        }
        117 => {
            let n = c.count()?;
            for _ in 0..n {
                any(c, depth + 1)?;
            }
            Ok(())
        }
        _ => Err(Error::Malformed),
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.b.len() - self.i
    }

    fn u8(&mut self) -> Result<u8, Error> {
        let v = *self.b.get(self.i).ok_or(Error::Malformed)?;
        self.i += 1;
        Ok(v)
    }

    /// An unsigned LEB128 number (lib0's var uint; the sign bit of a signed one is in it).
    fn var(&mut self) -> Result<u64, Error> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Malformed)
    }

    /// A declared number of elements, each of which takes at least a byte.
    fn count(&mut self) -> Result<u64, Error> {
        let n = self.var()?;
        if n > self.remaining() as u64 {
            return Err(Error::Malformed);
        }
        Ok(n)
    }

    fn skip(&mut self, n: usize) -> Result<(), Error> {
        if n > self.remaining() {
            return Err(Error::Malformed);
        }
        self.i += n;
        Ok(())
    }

    fn string(&mut self) -> Result<(), Error> {
        self.string_or_buf()
    }

    fn string_or_buf(&mut self) -> Result<(), Error> {
        let n = self.var()?;
        let n = usize::try_from(n).map_err(|_| Error::Malformed)?;
        self.skip(n)
    }

    fn id(&mut self) -> Result<(), Error> {
        self.var()?;
        self.var()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::segment;
    use crate::ids::MessageId;
    use yrs::{Doc, Map, Transact};

    /// Updates our documents really produce: messages, edits, deletions, reactions, check-ins.
    fn real_updates() -> Vec<Vec<u8>> {
        let d = Doc::with_client_id(7);
        let id = MessageId::random();
        let mut out = vec![
            segment::add_message(
                &d,
                id,
                [1; 16],
                42,
                "안녕 👋",
                None,
                segment::Kind::Text,
                None,
            ),
            segment::add_message(
                &d,
                MessageId::random(),
                [2; 16],
                43,
                "reply",
                Some(id),
                segment::Kind::CheckIn,
                None,
            ),
            segment::edit(&d, id, "edited", 44).unwrap(),
            segment::react(&d, id, Some("❤️")),
            segment::react(&d, id, None),
            segment::delete(&d, id, 45).unwrap(),
        ];
        let m = d.get_or_insert_map("x");
        let mut txn = d.transact_mut();
        m.insert(&mut txn, "n", 1.5);
        m.insert(&mut txn, "b", yrs::Any::from(vec![1u8, 2, 3]));
        out.push(txn.encode_update_v1());
        drop(txn);
        out.push(crate::doc::snapshot(&d));
        out
    }

    #[test]
    fn real_updates_pass() {
        for u in real_updates() {
            assert!(check(&u).is_ok(), "{u:?}");
        }
    }

    #[test]
    fn counts_larger_than_the_update_are_refused() {
        // What the fuzzer found: billions of clients declared in five bytes ...
        assert_eq!(
            check(&[0x9b, 0x8f, 0x9b, 0x8f, 0x69]),
            Err(Error::Malformed)
        );
        // ... 2^28 of them ...
        assert_eq!(
            check(&[0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(Error::Malformed)
        );
        // ... and an `Any` map of a billion entries inside a real-looking block.
        let mut u = vec![1, 1, 7, 0, 0x08, 1, 3, b'k', b'e', b'y', 1, 118];
        u.extend([0x80, 0x94, 0xeb, 0xdc, 0x03]);
        assert_eq!(check(&u), Err(Error::Malformed));
    }
}
