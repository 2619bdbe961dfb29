//! The sync session (`hearth_core::sync::session`) run over a simulated network, without
//! sockets: each device is a session and a store of envelopes; the network loses, reorders and
//! duplicates messages as a seed decides; one device never answers anything. After the chaos
//! the network becomes reliable, and every answering device must hold every envelope any of
//! them wrote, with no request left waiting.

use std::collections::{BTreeMap, VecDeque};

use hearth_core::envelope::{Envelope, Header};
use hearth_core::sync::protocol::{self, Request, Response};
use hearth_core::sync::session::{In, Out, RequestNo, Session};
use hearth_core::sync::VersionVectors;
use hearth_core::{DeviceId, TopicId};
use libp2p_identity::ed25519;
use proptest::prelude::*;
use serde_bytes::ByteBuf;

const T: TopicId = TopicId([7; 16]);
/// Envelopes per answer or push batch: small, so catch-up takes several rounds.
const BATCH: usize = 3;

/// A small deterministic generator (xorshift): the seed decides everything the network does.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Device {
    session: Session<usize>,
    id: DeviceId,
    key: ed25519::Keypair,
    store: BTreeMap<(DeviceId, u64), Vec<u8>>,
    written: u64,
    /// Never answers and never asks.
    mute: bool,
}

impl Device {
    fn have(&self) -> VersionVectors {
        let mut vv = VersionVectors::default();
        let authors: std::collections::BTreeSet<DeviceId> =
            self.store.keys().map(|(a, _)| *a).collect();
        for a in authors {
            let mut h = 0;
            while self.store.contains_key(&(a, h + 1)) {
                h += 1;
            }
            if h > 0 {
                vv.0.entry(T).or_default().insert(a, h);
            }
        }
        vv
    }

    /// Envelopes `known` lacks, in order: at most `max`, and whether more remain.
    fn lacking(&self, known: &VersionVectors, max: usize) -> (Vec<Vec<u8>>, bool) {
        let wants = protocol::missing(&self.have(), known, &[T]);
        let mut out = Vec::new();
        for w in wants {
            for ((a, s), e) in self.store.range((w.author, w.after + 1)..) {
                if *a != w.author {
                    break;
                }
                if out.len() == max {
                    return (out, true);
                }
                let _ = s;
                out.push(e.clone());
            }
        }
        (out, false)
    }

    /// Stores envelopes; (new, gap).
    fn ingest(&mut self, envelopes: &[ByteBuf]) -> (u32, bool) {
        let mut new = 0;
        let mut heads = Vec::new();
        for e in envelopes {
            let env = Envelope::decode(e).expect("envelopes in the simulation decode");
            let k = (env.header.author, env.header.seq);
            if let std::collections::btree_map::Entry::Vacant(v) = self.store.entry(k) {
                v.insert(e.to_vec());
                new += 1;
                heads.push(k);
            }
        }
        let have = self.have();
        let gap = new > 0 && heads.iter().any(|(a, s)| *s > have.get(&T, a));
        (new, gap)
    }

    fn write(&mut self) {
        self.written += 1;
        let header = Header {
            version: hearth_core::envelope::VERSION,
            topic: T,
            author: self.id,
            seq: self.written,
            key: 1,
        };
        let e = Envelope::seal(header, vec![self.written as u8; 12], &self.key).encode();
        self.store.insert((self.id, self.written), e);
    }
}

enum Msg {
    Request {
        from: usize,
        to: usize,
        no: Option<RequestNo>,
        request: Request,
    },
    Response {
        to: usize,
        from: usize,
        no: RequestNo,
        response: Response,
    },
    Failed {
        to: usize,
        peer: usize,
        no: RequestNo,
    },
}

struct World {
    devices: Vec<Device>,
    net: VecDeque<Msg>,
    dice: Dice,
    /// Percent of messages lost and duplicated while the network is bad.
    loss: u64,
    dup: u64,
}

impl World {
    fn new(seed: u64, n: usize, mute: usize) -> World {
        let mut devices: Vec<Device> = (0..n)
            .map(|i| {
                let key = ed25519::Keypair::generate();
                let id = DeviceId(key.public().to_bytes());
                Device {
                    session: Session::new(id),
                    id,
                    key,
                    store: BTreeMap::new(),
                    written: 0,
                    mute: i == mute,
                }
            })
            .collect();
        let ids: Vec<DeviceId> = devices.iter().map(|d| d.id).collect();
        let mut w = World {
            devices: Vec::new(),
            net: VecDeque::new(),
            dice: Dice(seed | 1),
            loss: 0,
            dup: 0,
        };
        std::mem::swap(&mut w.devices, &mut devices);
        for i in 0..n {
            for (j, id) in ids.iter().enumerate() {
                if i != j {
                    w.feed(
                        i,
                        In::Connected {
                            peer: j,
                            device: *id,
                            mailbox: false,
                        },
                        None,
                    );
                }
            }
        }
        w
    }

    /// Feeds device `i` and carries out its decisions; `asking` is the request being handled.
    fn feed(&mut self, i: usize, input: In<usize>, asking: Option<(usize, Option<RequestNo>)>) {
        let outs = self.devices[i].session.handle(input);
        for out in outs {
            self.carry_out(i, out, asking);
        }
    }

    fn reply(&mut self, i: usize, asking: Option<(usize, Option<RequestNo>)>, response: Response) {
        if self.devices[i].mute {
            return;
        }
        if let Some((to, Some(no))) = asking {
            self.net.push_back(Msg::Response {
                to,
                from: i,
                no,
                response,
            });
        }
    }

    fn carry_out(&mut self, i: usize, out: Out<usize>, asking: Option<(usize, Option<RequestNo>)>) {
        match out {
            Out::ReadShared { peer, sync, .. } => self.feed(
                i,
                In::Shared {
                    peer,
                    topics: vec![T],
                    sync,
                },
                None,
            ),
            Out::ReadHave { peer, .. } => {
                let have = self.devices[i].have();
                self.feed(i, In::Have { peer, have }, None);
            }
            Out::Send { peer, no, request } => {
                if !self.devices[i].mute {
                    self.net.push_back(Msg::Request {
                        from: i,
                        to: peer,
                        no: Some(no),
                        request,
                    });
                }
            }
            Out::Reply(response) => self.reply(i, asking, response),
            Out::Answer { theirs, reach, .. } => {
                let d = &self.devices[i];
                let (envs, more) = d.lacking(&theirs, BATCH);
                let response = Response::Sync {
                    envelopes: envs.into_iter().map(ByteBuf::from).collect(),
                    more,
                    have: protocol::to_wire(&d.have()),
                    reach,
                };
                self.reply(i, asking, response);
            }
            Out::IngestPush {
                peer, envelopes, ..
            } => {
                let (new, gap) = self.devices[i].ingest(&envelopes);
                self.reply(i, asking, Response::Pushed { new });
                self.after_ingest(i, peer, new, gap);
            }
            Out::Ingest {
                peer, envelopes, ..
            } => {
                let (new, gap) = self.devices[i].ingest(&envelopes);
                self.after_ingest(i, peer, new, gap);
            }
            Out::Flush { targets, .. } => {
                let d = &self.devices[i];
                let mine = d.have();
                let list = targets
                    .into_iter()
                    .map(|(peer, _, known)| {
                        let mut batches = Vec::new();
                        let mut k = known;
                        loop {
                            let (b, more) = d.lacking(&k, BATCH);
                            if b.is_empty() {
                                break;
                            }
                            for e in &b {
                                let env = Envelope::decode(e).unwrap();
                                protocol::note_held(
                                    &mut k,
                                    env.header.topic,
                                    env.header.author,
                                    env.header.seq,
                                );
                            }
                            batches.push(b);
                            if !more || batches.len() == 8 {
                                break;
                            }
                        }
                        (peer, batches, mine.clone())
                    })
                    .collect();
                self.feed(i, In::Flushed(list), None);
            }
            Out::InMailbox(_) | Out::BecameFamily(_) => {}
            Out::Disconnect(p) => panic!("device {i} cut off {p}: the simulation broke no rule"),
        }
    }

    fn after_ingest(&mut self, i: usize, peer: usize, new: u32, gap: bool) {
        self.feed(i, In::Ingested { peer, gap }, None);
        if new > 0 {
            // The node announces new envelopes: that is how the mesh forwards them.
            self.feed(i, In::EnvelopesAdded(T), None);
        }
    }

    fn deliver(&mut self, msg: Msg) {
        match msg {
            Msg::Request {
                from,
                to,
                no,
                request,
            } => {
                if self.devices[to].mute {
                    // Never answered: the requester's timeout.
                    if let Some(no) = no {
                        self.net.push_back(Msg::Failed {
                            to: from,
                            peer: to,
                            no,
                        });
                    }
                }
                self.feed(
                    to,
                    In::Request {
                        peer: from,
                        request,
                    },
                    Some((from, no)),
                );
            }
            Msg::Response {
                to,
                from,
                no,
                response,
            } => self.feed(
                to,
                In::Response {
                    peer: from,
                    no,
                    response,
                },
                None,
            ),
            Msg::Failed { to, peer, no } => self.feed(
                to,
                In::Failed {
                    peer,
                    no,
                    connection_closed: false,
                },
                None,
            ),
        }
    }

    /// One step: maybe a write or a tick, then one message delivered (lost, or duplicated, as
    /// the dice say), picked anywhere in the queue.
    fn step(&mut self, chaos: bool) {
        let n = self.devices.len();
        if chaos && self.dice.chance(10) {
            let i = self.dice.below(n);
            if !self.devices[i].mute {
                self.devices[i].write();
                self.feed(i, In::EnvelopesAdded(T), None);
            }
        }
        if self.dice.chance(5) {
            let i = self.dice.below(n);
            self.feed(i, In::Tick, None);
        }
        if self.net.is_empty() {
            return;
        }
        let k = if chaos {
            self.dice.below(self.net.len())
        } else {
            0
        };
        let msg = self.net.remove(k).expect("in range");
        if chaos && self.dice.chance(self.loss) {
            // Lost: a request or its answer never arrives; the requester times out.
            match msg {
                Msg::Request {
                    from,
                    to,
                    no: Some(no),
                    ..
                } => self.net.push_back(Msg::Failed {
                    to: from,
                    peer: to,
                    no,
                }),
                Msg::Response { to, from, no, .. } => {
                    self.net.push_back(Msg::Failed { to, peer: from, no })
                }
                _ => self.net.push_back(msg),
            }
            return;
        }
        if chaos && self.dice.chance(self.dup) {
            if let Msg::Request {
                from, to, request, ..
            } = &msg
            {
                // The same request arrives twice; nobody waits for the copy's answer.
                self.net.push_back(Msg::Request {
                    from: *from,
                    to: *to,
                    no: None,
                    request: request.clone(),
                });
            }
        }
        self.deliver(msg);
    }
}

fn run(seed: u64, loss: u64, dup: u64) {
    let mut w = World::new(seed, 4, 3);
    w.loss = loss;
    w.dup = dup;
    for _ in 0..600 {
        w.step(true);
    }
    // The network heals: ticks start rounds until nothing is left to say.
    for round in 0..40 {
        for i in 0..w.devices.len() {
            w.feed(i, In::Tick, None);
        }
        let mut steps = 0;
        while !w.net.is_empty() {
            w.step(false);
            steps += 1;
            assert!(
                steps < 100_000,
                "seed {seed}: the network never quiets down"
            );
        }
        let stores: Vec<_> = w
            .devices
            .iter()
            .filter(|d| !d.mute)
            .map(|d| d.store.clone())
            .collect();
        if stores.windows(2).all(|s| s[0] == s[1]) && round > 0 {
            break;
        }
    }
    let written: u64 = w.devices.iter().map(|d| d.written).sum();
    for d in w.devices.iter().filter(|d| !d.mute) {
        assert_eq!(
            d.store.len() as u64,
            written,
            "seed {seed}: a device lacks envelopes after the network healed"
        );
        assert_eq!(
            d.session.in_flight(),
            0,
            "seed {seed}: a request waits forever"
        );
        assert!(
            d.session.tracked() <= 2 * w.devices.len(),
            "seed {seed}: per-peer state grew"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn devices_converge_over_a_lossy_reordering_duplicating_network(seed in any::<u64>(), loss in 0u64..40, dup in 0u64..20) {
        run(seed, loss, dup);
    }
}

/// A perfect network: the first rounds already converge (no chaos needed to find a bug in the
/// happy path), and the mute device gets pushes without ever answering.
#[test]
fn a_reliable_network_converges_and_the_mute_device_costs_nothing() {
    run(1, 0, 0);
    run(2, 35, 15);
}
