//! The sync protocol between two devices, as plain code without sockets.
//!
//! Two messages carry everything:
//! - `Sync { have }`: "here is what I hold for the topics we share; send me what I lack". The
//!   answer carries envelopes (a bounded batch, `more` when there is more) and the responder's
//!   own `have`, so the requester can push back what the responder lacks. Both sides send it
//!   on connect, periodically, and when a gap is noticed: that is anti-entropy.
//! - `Push { envelopes }`: new envelopes, sent at once to every connected device that holds the
//!   topic. A device that receives envelopes it did not have pushes them on to its other
//!   connected devices for that topic: that is the mesh.
//!
//! [`missing`] says what to send from two version vectors, and [`super::session::Session`]
//! decides when, to whom, and what to ask again; the net task only moves bytes.
//! Every message has a version and bounded sizes; a peer that sends something else is cut off.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::VersionVectors;
use crate::ids::{DeviceId, TopicId};

pub const PROTOCOL: &str = "/hearth/sync/1";
pub const VERSION: u8 = 1;
/// Envelope bytes per response or push: big enough for fast catch-up, small enough that one
/// message never hogs a slow mobile link for long.
pub const BATCH_BYTES: usize = 512 * 1024;
/// Largest request or response accepted on the wire (a batch plus version vectors).
pub const MAX_MESSAGE_BYTES: u64 = 2 * 1024 * 1024;
/// Topics per sync request: a family shares a few dozen conversations, not thousands.
pub const MAX_TOPICS: usize = 4096;
/// Authors per topic listed in a version vector.
pub const MAX_AUTHORS: usize = 1024;

/// A version vector on the wire: per topic, per author, highest contiguous seq.
pub type WireHave = Vec<(TopicId, Vec<(DeviceId, u64)>)>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Sync {
        version: u8,
        have: WireHave,
        reach: Vec<DeviceId>,
    },
    Push {
        version: u8,
        envelopes: Vec<ByteBuf>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Sync {
        envelopes: Vec<ByteBuf>,
        more: bool,
        have: WireHave,
        reach: Vec<DeviceId>,
    },
    Pushed {
        new: u32,
    },
    /// Unsupported version or malformed request.
    Refused,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unsupported protocol version {0}")]
    Version(u8),
    #[error("request exceeds protocol limits")]
    TooLarge,
}

/// Checks a request's version and limits before anything acts on it.
pub fn check(req: &Request) -> Result<(), Error> {
    match req {
        Request::Sync {
            version,
            have,
            reach,
        } => {
            if *version != VERSION {
                return Err(Error::Version(*version));
            }
            if have.len() > MAX_TOPICS
                || have.iter().any(|(_, a)| a.len() > MAX_AUTHORS)
                || reach.len() > MAX_AUTHORS
            {
                return Err(Error::TooLarge);
            }
        }
        Request::Push { version, envelopes } => {
            if *version != VERSION {
                return Err(Error::Version(*version));
            }
            let bytes: usize = envelopes.iter().map(|e| e.len()).sum();
            if bytes > MAX_MESSAGE_BYTES as usize {
                return Err(Error::TooLarge);
            }
        }
    }
    Ok(())
}

pub fn to_wire(vv: &VersionVectors) -> WireHave {
    vv.0.iter()
        .map(|(t, a)| (*t, a.iter().map(|(d, s)| (*d, *s)).collect()))
        .collect()
}

pub fn from_wire(have: &WireHave) -> VersionVectors {
    let mut out = VersionVectors::default();
    for (t, authors) in have.iter().take(MAX_TOPICS) {
        let e: &mut BTreeMap<DeviceId, u64> = out.0.entry(*t).or_default();
        for (d, s) in authors.iter().take(MAX_AUTHORS) {
            let v = e.entry(*d).or_default();
            *v = (*v).max(*s);
        }
    }
    out
}

/// One range of envelopes to send: `(topic, author, after)` means every seq > `after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Want {
    pub topic: TopicId,
    pub author: DeviceId,
    pub after: u64,
}

/// What `mine` holds that `theirs` lacks, for the given topics only.
pub fn missing(mine: &VersionVectors, theirs: &VersionVectors, topics: &[TopicId]) -> Vec<Want> {
    let mut out = Vec::new();
    for t in topics {
        let Some(authors) = mine.0.get(t) else {
            continue;
        };
        for (author, held) in authors {
            let have = theirs.get(t, author);
            if *held > have {
                out.push(Want {
                    topic: *t,
                    author: *author,
                    after: have,
                });
            }
        }
    }
    out
}

/// Records that a peer now holds these envelopes (after it acknowledged them, or sent them).
pub fn note_held(known: &mut VersionVectors, topic: TopicId, author: DeviceId, seq: u64) {
    let v = known.0.entry(topic).or_default().entry(author).or_default();
    if v.checked_add(1) == Some(seq) || seq <= *v {
        *v = (*v).max(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::{RngExt, SeedableRng};

    fn dev(n: u8) -> DeviceId {
        DeviceId([n; 32])
    }

    /// A toy replica: the set of (topic, author, seq) it holds, with contiguous heads.
    #[derive(Default, Clone)]
    struct Replica {
        held: BTreeMap<(TopicId, DeviceId), std::collections::BTreeSet<u64>>,
    }

    impl Replica {
        fn vv(&self) -> VersionVectors {
            let mut out = VersionVectors::default();
            for ((t, a), seqs) in &self.held {
                let mut h = 0;
                while seqs.contains(&(h + 1)) {
                    h += 1;
                }
                if h > 0 {
                    out.0.entry(*t).or_default().insert(*a, h);
                }
            }
            out
        }
        fn add(&mut self, t: TopicId, a: DeviceId, s: u64) {
            self.held.entry((t, a)).or_default().insert(s);
        }
        fn send(&self, wants: &[Want], limit: usize) -> (Vec<(TopicId, DeviceId, u64)>, bool) {
            let mut out = Vec::new();
            for w in wants {
                for s in self
                    .held
                    .get(&(w.topic, w.author))
                    .into_iter()
                    .flatten()
                    .filter(|s| **s > w.after)
                {
                    if out.len() == limit {
                        return (out, true);
                    }
                    out.push((w.topic, w.author, *s));
                }
            }
            (out, false)
        }
    }

    /// Anti-entropy rounds with lossy, reordered, duplicated delivery converge.
    #[test]
    fn anti_entropy_converges_under_loss_reorder_and_duplication() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let topics = [TopicId([1; 16]), TopicId([2; 16])];
        for _trial in 0..50 {
            let mut a = Replica::default();
            let mut b = Replica::default();
            for t in topics {
                for s in 1..=rng.random_range(0..30u64) {
                    a.add(t, dev(1), s);
                }
                for s in 1..=rng.random_range(0..30u64) {
                    b.add(t, dev(2), s);
                }
            }
            for _round in 0..200 {
                let (from, to) = if rng.random_range(0..2) == 0 {
                    (&a, &mut b)
                } else {
                    (&b, &mut a)
                };
                let wants = missing(&from.vv(), &to.vv(), &topics);
                let (mut batch, _more) = from.send(&wants, 7);
                batch.shuffle(&mut rng);
                let dup: Vec<_> = batch.iter().take(2).copied().collect();
                batch.extend(dup);
                for (t, au, s) in batch {
                    if rng.random_range(0..4) != 0 {
                        to.add(t, au, s);
                    }
                }
                if a.vv() == b.vv() && missing(&a.vv(), &b.vv(), &topics).is_empty() {
                    break;
                }
            }
            assert_eq!(a.vv(), b.vv());
        }
    }

    #[test]
    fn only_shared_topics_are_offered() {
        let mut mine = VersionVectors::default();
        mine.0
            .entry(TopicId([1; 16]))
            .or_default()
            .insert(dev(1), 5);
        mine.0
            .entry(TopicId([9; 16]))
            .or_default()
            .insert(dev(1), 5);
        let w = missing(&mine, &VersionVectors::default(), &[TopicId([1; 16])]);
        assert_eq!(
            w,
            vec![Want {
                topic: TopicId([1; 16]),
                author: dev(1),
                after: 0
            }]
        );
    }

    #[test]
    fn limits_and_versions_are_checked() {
        assert_eq!(
            check(&Request::Push {
                version: 9,
                envelopes: vec![]
            }),
            Err(Error::Version(9))
        );
        let big = Request::Sync {
            version: VERSION,
            have: vec![(TopicId([0; 16]), vec![]); MAX_TOPICS + 1],
            reach: vec![],
        };
        assert_eq!(check(&big), Err(Error::TooLarge));
        assert!(check(&Request::Sync {
            version: VERSION,
            have: vec![],
            reach: vec![]
        })
        .is_ok());
    }
}
