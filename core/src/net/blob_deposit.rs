//! Depositing the blobs we send with our family relays' mailboxes, so a member who is offline
//! gets the photo itself, not only its preview, even after we go offline too
//! (`mailbox::blobs`, `/hearth/blob-mailbox/1`).
//!
//! Whenever a mailbox confirms it keeps our topics, whenever a message changes here, and a
//! while after a deposit failed, the blobs this device sent within the mailboxes' blob
//! retention are looked at: each is *offered* to every connected mailbox keeping one of its
//! conversations, once per conversation (a blob sent in two chats is deposited under both, so
//! members of either can fetch it). An offer first asks what the mailbox holds of it under
//! that conversation's topic, so a deposit cut off resumes where it stopped and a blob held is
//! not sent again. Then the manifest goes (the mailbox checks it against the blob id and
//! reserves the blob's size, or, for a blob it holds under another topic, only adds this one),
//! then the chunks it lacks. One blob at a time goes to each mailbox (a mailbox lets a device
//! leave only a couple unfinished), and at most [`MAX_IN_FLIGHT`] requests are out over all
//! mailboxes, so deposits never crowd out text. A mailbox that is full, or refuses, is not
//! offered that blob again while connected.
//!
//! Every offer has a generation: answers and disk reads of an offer that failed and was made
//! again are recognised and dropped.
//!
//! Members fetch from a mailbox like from a peer (`blob_io`): it is a source for every blob of
//! a conversation it keeps for them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use libp2p::request_response::{self, OutboundRequestId};
use libp2p::PeerId;
use serde_bytes::ByteBuf;

use super::task::{Internal, Task};
use crate::blob::protocol::Part;
use crate::blob::store::Deposit;
use crate::blob::BlobId;
use crate::ids::TopicId;
use crate::mailbox::blob_protocol::{Request, Response};

/// Requests (questions and parts, including parts being read from disk) out at once, over all
/// mailboxes. Two 256 KiB parts keep a slow uplink (down to about 20 KB/s) within the request
/// timeout.
const MAX_IN_FLIGHT: usize = 3;
/// Parts among them.
const MAX_PARTS_IN_FLIGHT: usize = 2;
/// Blobs looked at per refresh (newest first): more than a family sends in a fortnight.
const MAX_DEPOSITS: usize = 1024;
/// How far back sent blobs are offered: a mailbox's default blob retention.
const OFFER_FOR_SECS: i64 = 14 * 24 * 3600;
/// A deposit that failed (a timeout, a dropped connection, a busy mailbox) is offered again
/// after this.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// One blob, one mailbox, one of the blob's conversations.
pub(super) type Key = (PeerId, BlobId, TopicId);

enum Stage {
    /// To ask what the mailbox holds.
    Ask,
    /// Asked; waiting for the answer.
    Asking,
    /// Parts still to send, manifest first if the mailbox lacks it.
    Send(VecDeque<Part>),
}

struct Offer {
    gen: u64,
    chunks: u32,
    stage: Stage,
    /// Parts read or sent and not yet answered.
    out: usize,
    /// The manifest is sent and not yet stored: chunks wait for it.
    manifest_out: bool,
    /// The manifest was stored: the mailbox is asked once more what it holds (it may have had
    /// the blob under another topic).
    linked: bool,
    /// A chunk went: the mailbox holds the blob because of us.
    sent_chunk: bool,
}

#[derive(Default)]
pub(super) struct Deposits {
    offers: HashMap<Key, Offer>,
    /// Requests out: the offer, its generation, and the part (None: a question).
    in_flight: HashMap<OutboundRequestId, (Key, u64, Option<Part>)>,
    /// Parts being read from disk.
    reading: usize,
    /// The offer whose parts are going to each mailbox (one blob at a time).
    current: HashMap<PeerId, Key>,
    /// Held whole, or given up on (full, refused), while the connection lasts.
    settled: HashSet<Key>,
    next_gen: u64,
    refreshing: bool,
    refresh_again: bool,
    /// When to offer again after a failure.
    retry_at: Option<Instant>,
    /// Blobs a mailbox now holds whole because of us (for status and tests).
    pub deposited: u64,
}

impl Deposits {
    fn parts_out(&self) -> usize {
        self.reading
            + self
                .in_flight
                .values()
                .filter(|(_, _, p)| p.is_some())
                .count()
    }

    fn requests_out(&self) -> usize {
        self.reading + self.in_flight.len()
    }

    /// Is this answer (or read) for the offer as it is now?
    fn live(&self, key: &Key, gen: u64) -> bool {
        self.offers.get(key).is_some_and(|o| o.gen == gen)
    }

    fn drop_offer(&mut self, key: &Key) {
        self.offers.remove(key);
        if self.current.get(&key.0) == Some(key) {
            self.current.remove(&key.0);
        }
    }

    fn settle(&mut self, key: Key) {
        self.drop_offer(&key);
        self.settled.insert(key);
    }

    /// Offered again from the start a little later.
    fn failed(&mut self, key: &Key) {
        self.drop_offer(key);
        self.retry_at
            .get_or_insert_with(|| Instant::now() + RETRY_AFTER);
    }
}

impl Task {
    fn mailboxes(&self) -> Vec<(PeerId, Vec<TopicId>)> {
        self.peers
            .iter()
            .filter(|(_, c)| c.mailbox)
            .filter_map(|(p, _)| {
                let shared = &self.sync.peer(p)?.shared;
                (!shared.is_empty()).then(|| (*p, shared.clone()))
            })
            .collect()
    }

    /// Re-reads which sent blobs to offer (coalesced like `refresh_blobs`).
    pub(super) fn refresh_deposits(&mut self) {
        if self.mailboxes().is_empty() {
            return;
        }
        if self.deposits.refreshing {
            self.deposits.refresh_again = true;
            return;
        }
        self.deposits.refreshing = true;
        let me = self.me;
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            - OFFER_FOR_SECS;
        self.store_work(
            // A failed read still answers (with nothing), so refreshing never sticks.
            move |c| {
                Ok(
                    crate::blob::store::deposits(c, &me, since, MAX_DEPOSITS).unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "could not list the blobs to deposit");
                        Vec::new()
                    }),
                )
            },
            |list| vec![Internal::BlobDeposits(list)],
        );
    }

    pub(super) fn on_blob_deposits(&mut self, list: Vec<Deposit>) {
        self.deposits.refreshing = false;
        let mailboxes = self.mailboxes();
        for d in list {
            for (peer, shared) in &mailboxes {
                for topic in d.topics.iter().filter(|t| shared.contains(t)) {
                    let key = (*peer, d.id, *topic);
                    if self.deposits.offers.contains_key(&key)
                        || self.deposits.settled.contains(&key)
                    {
                        continue;
                    }
                    self.deposits.next_gen += 1;
                    self.deposits.offers.insert(
                        key,
                        Offer {
                            gen: self.deposits.next_gen,
                            chunks: d.chunks,
                            stage: Stage::Ask,
                            out: 0,
                            manifest_out: false,
                            linked: false,
                            sent_chunk: false,
                        },
                    );
                }
            }
        }
        if std::mem::take(&mut self.deposits.refresh_again) {
            self.refresh_deposits();
        }
        self.pump_deposits();
    }

    /// Offers again what failed, once [`RETRY_AFTER`] has passed (on the relays' tick).
    pub(super) fn retry_deposits(&mut self) {
        if self.deposits.retry_at.is_some_and(|t| t <= Instant::now()) {
            self.deposits.retry_at = None;
            self.refresh_deposits();
        }
    }

    /// A mailbox went away: what was on its way there is offered again next time.
    pub(super) fn forget_deposits(&mut self, peer: &PeerId) {
        self.deposits.offers.retain(|(p, _, _), _| p != peer);
        self.deposits.settled.retain(|(p, _, _)| p != peer);
        self.deposits.current.remove(peer);
    }

    /// Asks questions and sends parts until the limits are reached or nothing can go.
    fn pump_deposits(&mut self) {
        let Ok(files) = self.store.blob_files() else {
            return;
        };
        while self.deposits.requests_out() < MAX_IN_FLIGHT {
            // A question first: they are small, and they say what to send.
            let ask = self
                .deposits
                .offers
                .iter_mut()
                .find(|(_, o)| matches!(o.stage, Stage::Ask))
                .map(|(k, o)| {
                    o.stage = Stage::Asking;
                    o.out += 1;
                    (*k, o.gen)
                });
            if let Some((key, gen)) = ask {
                let (peer, blob, topic) = key;
                let rid = self
                    .swarm
                    .behaviour_mut()
                    .blob_mailbox
                    .send_request(&peer, Request::Held { topic, blob });
                self.deposits.in_flight.insert(rid, (key, gen, None));
                continue;
            }
            if self.deposits.parts_out() >= MAX_PARTS_IN_FLIGHT {
                return;
            }
            let Some((key, gen, chunks, part)) = self.next_part() else {
                return;
            };
            let id = key.1;
            let files = files.clone();
            self.deposits.reading += 1;
            self.work.spawn(async move {
                let bytes = tokio::task::spawn_blocking(move || match part {
                    Part::Manifest => files.manifest(&id, chunks),
                    Part::Chunk(i) => files.chunk(&id, i),
                })
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten();
                vec![Internal::DepositRead {
                    key,
                    gen,
                    part,
                    bytes,
                }]
            });
        }
    }

    /// The next part to send: of each mailbox's current offer, or of one that becomes
    /// current.
    fn next_part(&mut self) -> Option<(Key, u64, u32, Part)> {
        let d = &mut self.deposits;
        // An offer with parts to send becomes current where its mailbox has none.
        let ready: Vec<Key> = d
            .offers
            .iter()
            .filter(|(k, o)| {
                !d.current.contains_key(&k.0) && matches!(&o.stage, Stage::Send(q) if !q.is_empty())
            })
            .map(|(k, _)| *k)
            .collect();
        for k in ready {
            d.current.entry(k.0).or_insert(k);
        }
        let currents: Vec<Key> = d.current.values().copied().collect();
        for key in currents {
            let Some(o) = d.offers.get_mut(&key) else {
                continue;
            };
            let Stage::Send(queue) = &mut o.stage else {
                continue;
            };
            match queue.front() {
                None => continue,
                Some(Part::Chunk(_)) if o.manifest_out => continue,
                Some(_) => {}
            }
            let part = queue.pop_front()?;
            o.out += 1;
            o.manifest_out |= part == Part::Manifest;
            return Some((key, o.gen, o.chunks, part));
        }
        None
    }

    pub(super) fn on_deposit_read(
        &mut self,
        key: Key,
        gen: u64,
        part: Part,
        bytes: Option<Vec<u8>>,
    ) {
        self.deposits.reading = self.deposits.reading.saturating_sub(1);
        if !self.deposits.live(&key, gen) {
            self.pump_deposits();
            return;
        }
        match bytes {
            Some(bytes) => {
                let (peer, blob, topic) = key;
                let rid = self.swarm.behaviour_mut().blob_mailbox.send_request(
                    &peer,
                    Request::Put {
                        topic,
                        blob,
                        part,
                        bytes: ByteBuf::from(bytes),
                    },
                );
                self.deposits.in_flight.insert(rid, (key, gen, Some(part)));
            }
            // Gone from our disk (deleted for everyone, or damaged): nothing to offer.
            None => self.deposits.settle(key),
        }
        self.pump_deposits();
    }

    pub(super) fn on_blob_mailbox(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((key, gen, part)) = self.deposits.in_flight.remove(&request_id) {
                    if self.deposits.live(&key, gen) {
                        self.on_deposit_answer(key, part, response);
                    }
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((key, gen, _)) = self.deposits.in_flight.remove(&request_id) {
                    tracing::debug!(peer = %key.0, %error, blob = %key.1, "blob deposit failed; offered again later");
                    if self.deposits.live(&key, gen) {
                        self.deposits.failed(&key);
                    }
                }
            }
            _ => {}
        }
        self.pump_deposits();
    }

    fn on_deposit_answer(&mut self, key: Key, part: Option<Part>, r: Response) {
        let (peer, id, _) = key;
        let Some(o) = self.deposits.offers.get_mut(&key) else {
            return;
        };
        o.out = o.out.saturating_sub(1);
        match (part, r) {
            (None, Response::Held { chunks }) => {
                let held: HashSet<u32> = chunks.into_iter().collect();
                o.stage = Stage::Send(
                    (0..o.chunks)
                        .filter(|i| !held.contains(i))
                        .map(Part::Chunk)
                        .collect(),
                );
            }
            // Not held under this topic. Asked again after the manifest went: it was not
            // kept after all (a limit changed, a purge), so not now.
            (None, _) if o.linked => {
                self.deposits.settle(key);
                return;
            }
            (None, _) => o.stage = Stage::Send(VecDeque::from([Part::Manifest])),
            (Some(Part::Manifest), Response::Stored) => {
                // Ask again what it holds: it may have had the blob under another topic.
                o.manifest_out = false;
                o.linked = true;
                o.stage = Stage::Ask;
            }
            (Some(Part::Chunk(_)), Response::Stored) => o.sent_chunk = true,
            (Some(_), Response::Busy) => {
                self.deposits.failed(&key);
                return;
            }
            (Some(_), r) => {
                tracing::info!(%peer, blob = %id, answer = ?r, "a mailbox will not hold this blob");
                self.deposits.settle(key);
                return;
            }
        }
        let Some(o) = self.deposits.offers.get(&key) else {
            return;
        };
        if o.out == 0 && matches!(&o.stage, Stage::Send(q) if q.is_empty()) {
            if o.sent_chunk {
                tracing::info!(%peer, blob = %id, "a mailbox holds the blob for members who are away");
                self.deposits.deposited += 1;
            }
            self.deposits.settle(key);
        }
    }
}
