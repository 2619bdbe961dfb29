//! The sync decisions, as a state machine without sockets or a database.
//!
//! [`Session`] holds, for every connected peer, what the sync protocol ([`super::protocol`])
//! needs to decide: the topics it shares with us, what we believe it holds (`known`), the
//! `have` of our last request advanced by what its answers carried (`requested`, for pipelined
//! catch-up), the devices it says it reaches, and the requests in flight to it. The net task
//! feeds it what happened ([`In`]) and carries out what it answers ([`Out`]): send a request,
//! answer one, read or ingest in the store. So every rule here — what is pushed, when a peer is
//! asked again, what a lost push takes back, how much a stranger can make us remember — is
//! tested with plain values (see the tests, and `tests/sync_session.rs` for seeded runs over a
//! lossy, reordering, duplicating network).
//!
//! Peers are a type parameter: libp2p's `PeerId` in the net task, small integers in tests.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::hash::Hash;

use serde_bytes::ByteBuf;

use super::protocol::{self, Request, Response};
use super::VersionVectors;
use crate::envelope::Envelope;
use crate::ids::{DeviceId, TopicId};

/// A request this session sent, by the number it gave it.
pub type RequestNo = u64;

/// Envelopes read from the store for one peer's flush: batches to push, and what we held of
/// the flushed topics when they were read.
pub type Flushed<P> = Vec<(P, Vec<Vec<Vec<u8>>>, VersionVectors)>;

/// What happened, as the net task saw it.
#[derive(Debug)]
pub enum In<P> {
    /// The first connection to a peer: a family device, or one of our relays' mailboxes.
    Connected {
        peer: P,
        device: DeviceId,
        mailbox: bool,
    },
    /// The last connection to a peer closed.
    Disconnected { peer: P },
    /// Store work done: the topics a peer shares with us (after [`Out::ReadShared`]).
    Shared {
        peer: P,
        topics: Vec<TopicId>,
        sync: bool,
    },
    /// A mailbox confirmed it keeps these topics for us: we sync them with it.
    MailboxKeeps { peer: P, topics: Vec<TopicId> },
    /// Store work done: what we hold of the topics a sync request names (after
    /// [`Out::ReadHave`]).
    Have { peer: P, have: VersionVectors },
    /// A request arrived.
    Request { peer: P, request: Request },
    /// The answer to one of our requests.
    Response {
        peer: P,
        no: RequestNo,
        response: Response,
    },
    /// One of our requests failed; `connection_closed` if a connection closed under it.
    Failed {
        peer: P,
        no: RequestNo,
        connection_closed: bool,
    },
    /// Store work done: envelopes from a peer were ingested; a gap means some wait for
    /// earlier ones.
    Ingested { peer: P, gap: bool },
    /// This device stored new envelopes of a topic (written here or received).
    EnvelopesAdded(TopicId),
    /// Store work done: the envelopes of a flush (after [`Out::Flush`]).
    Flushed(Flushed<P>),
    /// Membership or contacts changed: what each peer shares may have too.
    MembershipChanged,
    /// Time for anti-entropy: sync with everyone.
    Tick,
}

/// What to do.
#[derive(Debug, PartialEq)]
pub enum Out<P> {
    /// Read the topics `device` shares with us, then feed [`In::Shared`].
    ReadShared {
        peer: P,
        device: DeviceId,
        sync: bool,
    },
    /// Read what we hold of `topics`, then feed [`In::Have`].
    ReadHave { peer: P, topics: Vec<TopicId> },
    /// Send a request; its answer or failure comes back under `no`.
    Send {
        peer: P,
        no: RequestNo,
        request: Request,
    },
    /// Answer the request being handled with this response as it is.
    Reply(Response),
    /// Answer the sync request being handled: the envelopes `device` lacks of what it shares
    /// with us (by `theirs`), our own `have`, and the devices we reach.
    Answer {
        peer: P,
        device: DeviceId,
        theirs: VersionVectors,
        reach: Vec<DeviceId>,
    },
    /// Ingest pushed envelopes, answer the push being handled with how many were new, then
    /// feed [`In::Ingested`].
    IngestPush {
        peer: P,
        device: DeviceId,
        envelopes: Vec<ByteBuf>,
    },
    /// Ingest envelopes a sync answer carried, then feed [`In::Ingested`].
    Ingest {
        peer: P,
        device: DeviceId,
        mailbox: bool,
        envelopes: Vec<ByteBuf>,
    },
    /// Read, for each target, the envelopes of `topics` it lacks by `known` (bounded batches),
    /// then feed [`In::Flushed`] (always, even empty: no flush starts until it comes back).
    Flush {
        dirty: Vec<TopicId>,
        targets: Vec<(P, Vec<TopicId>, VersionVectors)>,
    },
    /// A mailbox holds our own envelopes up to these seqs: "handed to a mailbox".
    InMailbox(Vec<(TopicId, u64)>),
    /// The peer broke the protocol.
    Disconnect(P),
    /// A peer just became family (shares a conversation with us): worth a direct dial.
    BecameFamily(P),
}

/// What the session keeps about one connected peer.
#[derive(Clone, Debug)]
pub struct PeerState {
    pub device: DeviceId,
    /// One of our relays, synced with as a mailbox (not a family device).
    pub mailbox: bool,
    pub shared: Vec<TopicId>,
    /// What we believe the peer holds (from its syncs and what we pushed or received).
    pub known: VersionVectors,
    /// Devices the peer is directly connected to (for mesh paths).
    pub reach: Vec<DeviceId>,
    /// The `have` of our last sync request, advanced by what its answers carry, so the next
    /// batch of a long catch-up is requested before this one is ingested.
    requested: VersionVectors,
}

impl PeerState {
    /// Shares a conversation with us (and is not a mailbox).
    pub fn is_family(&self) -> bool {
        !self.mailbox && !self.shared.is_empty()
    }
}

enum InFlight<P> {
    Sync,
    /// A push and the topics it carries: we count a pushed envelope as held at once; a push
    /// that fails takes that back, or a peer that does not name a topic in its sync answers
    /// (an inviter, before the contact request arrives) would never be sent it again.
    Push {
        peer: P,
        topics: Vec<TopicId>,
    },
}

/// The sync state of every connected peer.
pub struct Session<P> {
    me: DeviceId,
    peers: HashMap<P, PeerState>,
    /// Topics with envelopes not yet pushed.
    dirty: BTreeSet<TopicId>,
    /// A flush is being read from the store.
    flushing: bool,
    next_no: RequestNo,
    in_flight: HashMap<RequestNo, InFlight<P>>,
}

impl<P: Copy + Eq + Hash + Ord + Debug> Session<P> {
    pub fn new(me: DeviceId) -> Self {
        Session {
            me,
            peers: HashMap::new(),
            dirty: BTreeSet::new(),
            flushing: false,
            next_no: 0,
            in_flight: HashMap::new(),
        }
    }

    pub fn peer(&self, peer: &P) -> Option<&PeerState> {
        self.peers.get(peer)
    }

    pub fn peers(&self) -> impl Iterator<Item = (&P, &PeerState)> {
        self.peers.iter()
    }

    /// Entries held about peers' topics and reach: bounded by what we share with them,
    /// whatever they send.
    pub fn tracked(&self) -> usize {
        self.peers
            .values()
            .map(|p| p.known.0.len() + p.reach.len())
            .sum::<usize>()
    }

    /// Requests in flight (bounded by what the peers answer; failures and answers remove them).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn handle(&mut self, input: In<P>) -> Vec<Out<P>> {
        let mut out = Vec::new();
        match input {
            In::Connected {
                peer,
                device,
                mailbox,
            } => {
                if self.peers.contains_key(&peer) {
                    return out;
                }
                self.peers.insert(
                    peer,
                    PeerState {
                        device,
                        mailbox,
                        shared: Vec::new(),
                        known: VersionVectors::default(),
                        reach: Vec::new(),
                        requested: VersionVectors::default(),
                    },
                );
                // A mailbox's topics are those it confirms it keeps (`MailboxKeeps`).
                if !mailbox {
                    out.push(Out::ReadShared {
                        peer,
                        device,
                        sync: true,
                    });
                }
            }
            In::Disconnected { peer } => {
                self.peers.remove(&peer);
                // Its requests in flight fail on their own; pushes it held are forgotten.
                self.in_flight
                    .retain(|_, f| !matches!(f, InFlight::Push { peer: p, .. } if *p == peer));
            }
            In::Shared { peer, topics, sync } => {
                let Some(p) = self.peers.get_mut(&peer) else {
                    return out;
                };
                let became_family = p.shared.is_empty() && !topics.is_empty();
                p.known.0.retain(|t, _| topics.contains(t));
                if topics.is_empty() {
                    p.reach.clear();
                }
                p.shared = topics;
                if sync {
                    self.sync(peer, &mut out);
                }
                if became_family && !self.peers[&peer].mailbox {
                    out.push(Out::BecameFamily(peer));
                }
            }
            In::MailboxKeeps { peer, topics } => {
                let Some(p) = self.peers.get_mut(&peer).filter(|p| p.mailbox) else {
                    return out;
                };
                for t in topics {
                    if !p.shared.contains(&t) {
                        p.shared.push(t);
                    }
                }
                self.sync(peer, &mut out);
            }
            In::Have { peer, mut have } => {
                let reach = self.reach_for(&peer);
                let Some(p) = self.peers.get_mut(&peer) else {
                    return out;
                };
                // Every topic we sync is named, even those we hold nothing of yet: a mailbox
                // answers only for the topics asked about.
                for t in &p.shared {
                    have.0.entry(*t).or_default();
                }
                let wire = protocol::to_wire(&have);
                p.requested = have;
                self.send(
                    peer,
                    InFlight::Sync,
                    Request::Sync {
                        version: protocol::VERSION,
                        have: wire,
                        reach,
                    },
                    &mut out,
                );
            }
            In::Request { peer, request } => self.on_request(peer, request, &mut out),
            In::Response { peer, no, response } => {
                self.in_flight.remove(&no);
                self.on_response(peer, response, &mut out);
            }
            In::Failed {
                peer,
                no,
                connection_closed,
            } => {
                // A lost push: the peer may hold none of what it carried.
                if let Some(InFlight::Push { topics, .. }) = self.in_flight.remove(&no) {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        for t in topics {
                            p.known.0.remove(&t);
                        }
                    }
                }
                // One of several connections to the peer closed under the request (a relayed
                // one giving way to a direct one): ask again now, over what remains, rather
                // than at the next periodic sync.
                if connection_closed {
                    self.sync(peer, &mut out);
                }
            }
            In::Ingested { peer, gap } => {
                if gap {
                    self.sync(peer, &mut out);
                }
            }
            In::EnvelopesAdded(topic) => {
                self.dirty.insert(topic);
                self.maybe_flush(&mut out);
            }
            In::Flushed(list) => {
                for (peer, batches, mine) in list {
                    if !self.peers.contains_key(&peer) {
                        continue;
                    }
                    let topics: Vec<TopicId> = mine.0.keys().copied().collect();
                    for batch in batches {
                        let envelopes = batch.into_iter().map(ByteBuf::from).collect();
                        self.send(
                            peer,
                            InFlight::Push {
                                peer,
                                topics: topics.clone(),
                            },
                            Request::Push {
                                version: protocol::VERSION,
                                envelopes,
                            },
                            &mut out,
                        );
                    }
                    if let Some(p) = self.peers.get_mut(&peer) {
                        for (t, authors) in mine.0 {
                            let e = p.known.0.entry(t).or_default();
                            for (a, s) in authors {
                                let v = e.entry(a).or_default();
                                *v = (*v).max(s);
                            }
                        }
                    }
                }
                self.flushing = false;
                self.maybe_flush(&mut out);
            }
            In::MembershipChanged => {
                let mut family: Vec<(P, DeviceId)> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| !p.mailbox)
                    .map(|(id, p)| (*id, p.device))
                    .collect();
                family.sort();
                for (peer, device) in family {
                    out.push(Out::ReadShared {
                        peer,
                        device,
                        sync: true,
                    });
                }
            }
            In::Tick => {
                let mut all: Vec<P> = self.peers.keys().copied().collect();
                all.sort();
                for p in all {
                    self.sync(p, &mut out);
                }
            }
        }
        out
    }

    fn send(&mut self, peer: P, what: InFlight<P>, request: Request, out: &mut Vec<Out<P>>) {
        self.next_no += 1;
        let no = self.next_no;
        self.in_flight.insert(no, what);
        out.push(Out::Send { peer, no, request });
    }

    /// Starts a sync with `peer`: our `have` is read first.
    fn sync(&mut self, peer: P, out: &mut Vec<Out<P>>) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        if p.shared.is_empty() {
            return;
        }
        out.push(Out::ReadHave {
            peer,
            topics: p.shared.clone(),
        });
    }

    /// Devices we are connected to that `peer` has a conversation with too.
    fn reach_for(&self, peer: &P) -> Vec<DeviceId> {
        let Some(p) = self.peers.get(peer) else {
            return Vec::new();
        };
        let mut out: Vec<DeviceId> = self
            .peers
            .iter()
            .filter(|(id, other)| {
                *id != peer && !other.mailbox && other.shared.iter().any(|t| p.shared.contains(t))
            })
            .map(|(_, other)| other.device)
            .collect();
        out.sort();
        out
    }

    fn maybe_flush(&mut self, out: &mut Vec<Out<P>>) {
        if self.flushing || self.dirty.is_empty() || self.peers.is_empty() {
            return;
        }
        let dirty: Vec<TopicId> = std::mem::take(&mut self.dirty).into_iter().collect();
        let mut targets: Vec<(P, Vec<TopicId>, VersionVectors)> = self
            .peers
            .iter()
            .map(|(id, p)| {
                let topics: Vec<TopicId> = dirty
                    .iter()
                    .filter(|t| p.shared.contains(t))
                    .copied()
                    .collect();
                (*id, topics, p.known.clone())
            })
            .filter(|(_, t, _)| !t.is_empty())
            .collect();
        if targets.is_empty() {
            return;
        }
        targets.sort_by_key(|t| t.0);
        self.flushing = true;
        out.push(Out::Flush { dirty, targets });
    }

    fn on_request(&mut self, peer: P, request: Request, out: &mut Vec<Out<P>>) {
        if protocol::check(&request).is_err() {
            out.push(Out::Reply(Response::Refused));
            out.push(Out::Disconnect(peer));
            return;
        }
        // Family devices ask; a relay's mailbox only answers.
        let Some(p) = self.peers.get_mut(&peer).filter(|p| !p.mailbox) else {
            out.push(Out::Reply(Response::Refused));
            return;
        };
        let device = p.device;
        match request {
            Request::Sync { have, reach, .. } => {
                let theirs = protocol::from_wire(&have);
                // Only what we share is worth remembering: a stranger naming thousands of
                // topics, or claiming to reach our family, grows nothing here.
                for (t, a) in &theirs.0 {
                    if p.shared.contains(t) {
                        p.known.0.insert(*t, a.clone());
                    }
                }
                p.reach = family_reach(p, reach);
                let reach = self.reach_for(&peer);
                out.push(Out::Answer {
                    peer,
                    device,
                    theirs,
                    reach,
                });
            }
            Request::Push { envelopes, .. } => {
                // What the peer sent, it holds.
                for e in &envelopes {
                    if let Some(env) = Envelope::decode(e)
                        .ok()
                        .filter(|e| p.shared.contains(&e.header.topic))
                    {
                        protocol::note_held(
                            &mut p.known,
                            env.header.topic,
                            env.header.author,
                            env.header.seq,
                        );
                    }
                }
                out.push(Out::IngestPush {
                    peer,
                    device,
                    envelopes,
                });
            }
        }
    }

    fn on_response(&mut self, peer: P, response: Response, out: &mut Vec<Out<P>>) {
        match response {
            Response::Sync {
                envelopes,
                more,
                have,
                reach,
            } => {
                let me = self.me;
                let Some(p) = self.peers.get_mut(&peer) else {
                    return;
                };
                let theirs = protocol::from_wire(&have);
                if p.mailbox {
                    // What the mailbox holds of ours: "handed to a mailbox".
                    let mine: Vec<(TopicId, u64)> = theirs
                        .0
                        .iter()
                        .filter(|(t, _)| p.shared.contains(t))
                        .filter_map(|(t, a)| a.get(&me).map(|h| (*t, *h)))
                        .filter(|(_, h)| *h > 0)
                        .collect();
                    if !mine.is_empty() {
                        out.push(Out::InMailbox(mine));
                    }
                }
                // Their answer is what they hold: of a shared topic it does not name, nothing
                // (an inviter does not name the invite's topic to us until our contact request
                // is in). What we believed they held gives way: a push can be lost without a
                // failure we see (a connection replaced mid-way). While views of membership
                // differ, this re-offers a topic each round; they converge within a round or
                // two.
                for t in &p.shared {
                    let held = theirs.0.get(t).cloned().unwrap_or_default();
                    p.known.0.insert(*t, held);
                }
                p.reach = family_reach(p, reach);
                let (device, mailbox) = (p.device, p.mailbox);
                // Whatever they lack of the shared topics gets pushed.
                self.dirty.extend(p.shared.iter().copied());
                self.maybe_flush(out);
                if more {
                    self.request_next_batch(peer, &envelopes, out);
                }
                out.push(Out::Ingest {
                    peer,
                    device,
                    mailbox,
                    envelopes,
                });
            }
            Response::Pushed { new } => {
                // A mailbox took our deposit: ask what it holds now, for "handed to a mailbox".
                if new > 0 && self.peers.get(&peer).is_some_and(|p| p.mailbox) {
                    self.sync(peer, out);
                }
            }
            Response::Refused => {}
        }
    }

    /// Pipelined catch-up: asks for the batch after `batch` at once, claiming what it carries,
    /// so the peer reads and sends the next batch while this one is being ingested. Should an
    /// envelope of it be refused, the periodic sync (from what is really stored) fills the hole.
    fn request_next_batch(&mut self, peer: P, batch: &[ByteBuf], out: &mut Vec<Out<P>>) {
        let reach = self.reach_for(&peer);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        for e in batch {
            if let Ok(env) = Envelope::decode(e) {
                protocol::note_held(
                    &mut p.requested,
                    env.header.topic,
                    env.header.author,
                    env.header.seq,
                );
            }
        }
        let have = protocol::to_wire(&p.requested);
        self.send(
            peer,
            InFlight::Sync,
            Request::Sync {
                version: protocol::VERSION,
                have,
                reach,
            },
            out,
        );
    }
}

/// A peer's reach list, kept only from family (a peer we share a conversation with), and only
/// as long as the protocol allows.
fn family_reach(p: &PeerState, reach: Vec<DeviceId>) -> Vec<DeviceId> {
    if p.shared.is_empty() {
        return Vec::new();
    }
    let mut reach = reach;
    reach.truncate(protocol::MAX_AUTHORS);
    reach
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TopicId = TopicId([1; 16]);

    fn connected(s: &mut Session<u8>, peer: u8, mailbox: bool, shared: &[TopicId]) {
        s.handle(In::Connected {
            peer,
            device: DeviceId([peer; 32]),
            mailbox,
        });
        if mailbox {
            s.handle(In::MailboxKeeps {
                peer,
                topics: shared.to_vec(),
            });
        } else {
            s.handle(In::Shared {
                peer,
                topics: shared.to_vec(),
                sync: false,
            });
        }
    }

    fn sync_request(topics: usize, reach: usize) -> Request {
        Request::Sync {
            version: protocol::VERSION,
            have: (0..topics)
                .map(|i| {
                    (
                        TopicId([(i % 250) as u8 + 2; 16]),
                        vec![(DeviceId([9; 32]), 5)],
                    )
                })
                .collect(),
            reach: (0..reach).map(|i| DeviceId([i as u8; 32])).collect(),
        }
    }

    #[test]
    fn a_stranger_grows_nothing_and_reaches_no_one() {
        let mut s = Session::new(DeviceId([0; 32]));
        connected(&mut s, 1, false, &[]);
        let outs = s.handle(In::Request {
            peer: 1,
            request: sync_request(4000, 1000),
        });
        assert!(
            matches!(outs[0], Out::Answer { .. }),
            "answered (with nothing)"
        );
        assert_eq!(s.tracked(), 0, "named topics and reach lists are not kept");
        // Family keeps only what it shares.
        connected(&mut s, 2, false, &[T]);
        s.handle(In::Request {
            peer: 2,
            request: sync_request(4000, 3),
        });
        assert_eq!(
            s.peer(&2).unwrap().known.0.len(),
            0,
            "it named none of our topics"
        );
        assert_eq!(s.peer(&2).unwrap().reach.len(), 3);
    }

    #[test]
    fn a_broken_request_cuts_the_peer_off_and_a_mailbox_cannot_ask() {
        let mut s = Session::new(DeviceId([0; 32]));
        connected(&mut s, 1, false, &[T]);
        let outs = s.handle(In::Request {
            peer: 1,
            request: Request::Push {
                version: 99,
                envelopes: vec![],
            },
        });
        assert_eq!(
            outs,
            vec![Out::Reply(Response::Refused), Out::Disconnect(1)]
        );
        connected(&mut s, 2, true, &[T]);
        let outs = s.handle(In::Request {
            peer: 2,
            request: sync_request(1, 0),
        });
        assert_eq!(outs, vec![Out::Reply(Response::Refused)]);
    }

    #[test]
    fn new_envelopes_are_pushed_once_per_flush_to_who_shares_the_topic() {
        let mut s = Session::new(DeviceId([0; 32]));
        connected(&mut s, 1, false, &[T]);
        connected(&mut s, 2, false, &[TopicId([5; 16])]);
        let outs = s.handle(In::EnvelopesAdded(T));
        let Some(Out::Flush { targets, .. }) = outs.first() else {
            panic!("{outs:?}")
        };
        assert_eq!(targets.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1]);
        // While that flush is read, more writes wait for it.
        assert!(s.handle(In::EnvelopesAdded(T)).is_empty());
        let mut held = VersionVectors::default();
        held.0.entry(T).or_default().insert(DeviceId([0; 32]), 2);
        let outs = s.handle(In::Flushed(vec![(1, vec![vec![vec![1]]], held)]));
        assert!(matches!(
            outs[0],
            Out::Send {
                peer: 1,
                request: Request::Push { .. },
                ..
            }
        ));
        assert!(
            matches!(outs[1], Out::Flush { .. }),
            "the waiting write flushes next"
        );
        // The push is lost: what it claimed is taken back.
        let Out::Send { no, .. } = outs[0] else {
            unreachable!()
        };
        s.handle(In::Failed {
            peer: 1,
            no,
            connection_closed: false,
        });
        assert!(!s.peer(&1).unwrap().known.0.contains_key(&T));
        assert_eq!(s.in_flight(), 0);
    }
}
