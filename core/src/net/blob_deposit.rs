//! Depositing the blobs we send with our family relays' mailboxes, so a member who is offline
//! gets the photo itself, not only its preview, even after we go offline too
//! (`mailbox::blobs`, `/hearth/blob-mailbox/1`).
//!
//! Whenever a mailbox confirms it keeps our topics, and whenever a message changes here, the
//! blobs this device sent within the mailboxes' blob retention are looked at: each one a
//! connected mailbox keeps a conversation of is offered to it. The mailbox first says which
//! chunks it already holds, so a deposit cut off resumes where it stopped and a blob it holds
//! is not sent again; then the manifest goes (the mailbox checks it against the blob id and
//! reserves the blob's size under its quotas), then the missing chunks, at most
//! [`MAX_IN_FLIGHT`] at once over all mailboxes so a deposit never crowds out text. A mailbox
//! that is full, or refuses, is not offered that blob again while connected.
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

/// Parts being read or sent at once, over all mailboxes (about 1 MiB).
const MAX_IN_FLIGHT: usize = 4;
/// Blobs looked at per refresh (newest first).
const MAX_DEPOSITS: usize = 64;
/// How far back sent blobs are offered: a mailbox's default blob retention.
const OFFER_FOR_SECS: i64 = 14 * 24 * 3600;
/// A deposit that failed (a timeout, a dropped connection) is offered again after this.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// One blob on its way to one mailbox.
struct Offer {
    topic: TopicId,
    chunks: u32,
    /// Parts still to send, manifest first; None while asking what the mailbox holds.
    to_send: Option<VecDeque<Part>>,
    /// Parts read or sent and not yet answered.
    out: usize,
    /// The manifest is sent and not yet stored: chunks wait for it.
    manifest_out: bool,
}

#[derive(Default)]
pub(super) struct Deposits {
    offers: HashMap<(PeerId, BlobId), Offer>,
    in_flight: HashMap<OutboundRequestId, (PeerId, BlobId, Option<Part>)>,
    /// Parts being read from disk.
    reading: usize,
    /// Held whole, or given up on (full, refused), while the connection lasts.
    settled: HashSet<(PeerId, BlobId)>,
    refreshing: bool,
    refresh_again: bool,
    /// When to offer again after a failure.
    retry_at: Option<Instant>,
    /// Blobs a mailbox now holds whole because of us (for status and tests).
    pub deposited: u64,
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
            move |c| crate::blob::store::deposits(c, &me, since, MAX_DEPOSITS),
            |list| vec![Internal::BlobDeposits(list)],
        );
    }

    pub(super) fn on_blob_deposits(&mut self, list: Vec<Deposit>) {
        self.deposits.refreshing = false;
        let mailboxes = self.mailboxes();
        for d in list {
            for (peer, shared) in &mailboxes {
                let key = (*peer, d.id);
                let Some(topic) = d.topics.iter().find(|t| shared.contains(t)) else {
                    continue;
                };
                if self.deposits.offers.contains_key(&key) || self.deposits.settled.contains(&key) {
                    continue;
                }
                self.deposits.offers.insert(
                    key,
                    Offer {
                        topic: *topic,
                        chunks: d.chunks,
                        to_send: None,
                        out: 1,
                        manifest_out: false,
                    },
                );
                let rid = self
                    .swarm
                    .behaviour_mut()
                    .blob_mailbox
                    .send_request(peer, Request::Held { blob: d.id });
                self.deposits.in_flight.insert(rid, (*peer, d.id, None));
            }
        }
        if std::mem::take(&mut self.deposits.refresh_again) {
            self.refresh_deposits();
        }
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
        self.deposits.offers.retain(|(p, _), _| p != peer);
        self.deposits.settled.retain(|(p, _)| p != peer);
    }

    fn sending(&self) -> usize {
        self.deposits.reading
            + self
                .deposits
                .in_flight
                .values()
                .filter(|(_, _, part)| part.is_some())
                .count()
    }

    /// Reads and sends parts until [`MAX_IN_FLIGHT`] are out.
    fn pump_deposits(&mut self) {
        let Ok(files) = self.store.blob_files() else {
            return;
        };
        while self.sending() < MAX_IN_FLIGHT {
            let next = self.deposits.offers.iter_mut().find_map(|(key, o)| {
                let queue = o.to_send.as_mut()?;
                match queue.front()? {
                    Part::Chunk(_) if o.manifest_out => None,
                    _ => {
                        let part = queue.pop_front()?;
                        o.out += 1;
                        o.manifest_out |= part == Part::Manifest;
                        Some((*key, o.topic, o.chunks, part))
                    }
                }
            });
            let Some(((peer, id), topic, chunks, part)) = next else {
                return;
            };
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
                    peer,
                    id,
                    topic,
                    part,
                    bytes,
                }]
            });
        }
    }

    pub(super) fn on_deposit_read(
        &mut self,
        peer: PeerId,
        id: BlobId,
        topic: TopicId,
        part: Part,
        bytes: Option<Vec<u8>>,
    ) {
        self.deposits.reading = self.deposits.reading.saturating_sub(1);
        let key = (peer, id);
        match bytes {
            Some(bytes) if self.deposits.offers.contains_key(&key) => {
                let rid = self.swarm.behaviour_mut().blob_mailbox.send_request(
                    &peer,
                    Request::Put {
                        topic,
                        blob: id,
                        part,
                        bytes: ByteBuf::from(bytes),
                    },
                );
                self.deposits.in_flight.insert(rid, (peer, id, Some(part)));
            }
            Some(_) => {}
            None => {
                // Gone from our disk (deleted for everyone, or damaged): nothing to offer.
                self.deposits.offers.remove(&key);
                self.deposits.settled.insert(key);
            }
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
                if let Some((peer, id, part)) = self.deposits.in_flight.remove(&request_id) {
                    self.on_deposit_answer(peer, id, part, response);
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((peer, id, _)) = self.deposits.in_flight.remove(&request_id) {
                    tracing::debug!(%peer, %error, blob = %id, "blob deposit failed; offered again later");
                    // Asked again from the start (what it holds) a little later.
                    self.deposits.offers.remove(&(peer, id));
                    self.deposits
                        .retry_at
                        .get_or_insert_with(|| Instant::now() + RETRY_AFTER);
                }
            }
            _ => {}
        }
        self.pump_deposits();
    }

    fn on_deposit_answer(&mut self, peer: PeerId, id: BlobId, part: Option<Part>, r: Response) {
        let key = (peer, id);
        let Some(o) = self.deposits.offers.get_mut(&key) else {
            return;
        };
        o.out = o.out.saturating_sub(1);
        match (part, r) {
            (None, Response::Held { chunks }) => {
                let held: HashSet<u32> = chunks.into_iter().collect();
                o.to_send = Some(
                    (0..o.chunks)
                        .filter(|i| !held.contains(i))
                        .map(Part::Chunk)
                        .collect(),
                );
            }
            (None, _) => {
                let mut all: VecDeque<Part> = (0..o.chunks).map(Part::Chunk).collect();
                all.push_front(Part::Manifest);
                o.to_send = Some(all);
            }
            (Some(p), Response::Stored) => {
                if p == Part::Manifest {
                    o.manifest_out = false;
                }
            }
            (Some(_), r) => {
                tracing::info!(%peer, blob = %id, answer = ?r, "a mailbox will not hold this blob");
                self.deposits.offers.remove(&key);
                self.deposits.settled.insert(key);
                return;
            }
        }
        if o.out == 0 && o.to_send.as_ref().is_some_and(|q| q.is_empty()) {
            if part.is_some() {
                tracing::info!(%peer, blob = %id, "a mailbox holds the blob for members who are away");
                self.deposits.deposited += 1;
            }
            self.deposits.offers.remove(&key);
            self.deposits.settled.insert(key);
        }
    }
}
