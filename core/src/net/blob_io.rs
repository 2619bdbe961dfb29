//! Blobs on the wire (`blob::protocol`): fetching the chunks of photos, voice messages and
//! files from connected members who have them, and serving ours to members who ask.
//!
//! Fetching: the store says which blobs are not whole here and which member devices may have
//! them (`blob::store::wants`); any connected one is asked — the author, or any member who
//! already fetched it (the mesh), or a family relay's mailbox keeping the conversation for us
//! (its sender deposited it there, `blob_deposit`). Over a LAN connection blobs are fetched by themselves;
//! over any other path only those asked for (a tap on the preview) or when the setting says
//! everywhere. At most [`MAX_IN_FLIGHT`] chunk requests are out at once, which bounds memory
//! and keeps a photo from crowding out text on the same connection: a text push is its own
//! stream beside at most that many chunk answers. Circuits through strangers' relays are never
//! used (they cut connections after 128 KiB). What arrives is checked against the manifest
//! (or the blob id) before it is written; anything else is dropped, that peer is not asked for
//! that blob again for a while, and the chunk is asked of someone else.
//!
//! Serving: only to a current member of a conversation in which a message names the blob
//! (`blob::store::serves`), at most [`MAX_SERVING`] answers at once (the rest hear `Busy`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::PeerId;
use serde_bytes::ByteBuf;

use super::task::{device_of, Internal, Task};
use crate::blob::protocol::{Part, Request, Response};
use crate::blob::store::Want;
use crate::blob::{crypt, BlobId};

/// Chunk requests out at once, over all peers (about 2 MiB).
pub(super) const MAX_IN_FLIGHT: usize = 8;
/// Answers being read from disk at once; more requests hear `Busy`.
const MAX_SERVING: usize = 8;
/// Blobs looked at per refresh (oldest first).
const MAX_WANTS: usize = 64;
/// How long a peer that lacked a blob is not asked for it again: it may be fetching it
/// itself (a member in the middle of the mesh), so not long.
const LACKING_FOR: Duration = Duration::from_secs(4);
/// How long a peer that sent something wrong is not asked for that blob again.
const WRONG_FOR: Duration = Duration::from_secs(60);
const BUSY_FOR: Duration = Duration::from_secs(1);
/// How long a mailbox that lacked a blob is not asked for it again: its sender deposits it
/// once, soon after the message, or never (a mailbox answers the same for both).
const MAILBOX_LACKING_FOR: Duration = Duration::from_secs(30);
/// How often stalled fetches are looked at again while anything is wanted.
pub(super) const RETRY_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(super) struct Blobs {
    wants: HashMap<BlobId, Want>,
    manifests: HashMap<BlobId, Arc<Vec<u8>>>,
    in_flight: HashMap<OutboundRequestId, (BlobId, Part, PeerId)>,
    /// Requested, or arrived and being written.
    busy: HashSet<(BlobId, Part)>,
    lacking: HashMap<(BlobId, PeerId), Instant>,
    refreshing: bool,
    refresh_again: bool,
    serving: usize,
    /// Chunks or manifests refused because they did not match (for status and tests).
    pub refused: u64,
    /// Requests refused: the asker is not a member of a conversation naming the blob.
    pub refused_requests: u64,
}

impl Blobs {
    /// Anything still to fetch: the retry timer runs only then.
    pub(super) fn active(&self) -> bool {
        !self.wants.is_empty()
    }
}

impl Task {
    /// Re-reads what to fetch (after new messages, a tap, a new connection). Coalesced: one
    /// read at a time, and one more after it if asked meanwhile.
    pub(super) fn refresh_blobs(&mut self) {
        if self.blobs.refreshing {
            self.blobs.refresh_again = true;
            return;
        }
        self.blobs.refreshing = true;
        let me = self.me;
        let Ok(files) = self.store.blob_files() else {
            return;
        };
        self.store_work(
            move |c| {
                let wants = crate::blob::store::wants(c, &me, MAX_WANTS)?;
                let manifests = wants
                    .iter()
                    .filter(|w| w.manifest)
                    .filter_map(|w| {
                        let m = files.manifest(&w.id, w.chunks).ok().flatten()?;
                        Some((w.id, m))
                    })
                    .collect();
                Ok((wants, manifests))
            },
            |(wants, manifests)| vec![Internal::BlobWants(wants, manifests)],
        );
    }

    pub(super) fn on_blob_wants(&mut self, wants: Vec<Want>, manifests: Vec<(BlobId, Vec<u8>)>) {
        self.blobs.refreshing = false;
        for (id, m) in manifests {
            self.blobs.manifests.insert(id, Arc::new(m));
        }
        self.blobs.wants = wants.into_iter().map(|w| (w.id, w)).collect();
        // A read that began before a manifest's count was recorded has the older count: the
        // manifest here says how many chunks there are.
        for (id, m) in &self.blobs.manifests {
            if let Some(w) = self.blobs.wants.get_mut(id) {
                let n = (m.len() / 32) as u32;
                if n != w.chunks {
                    w.missing.retain(|i| *i < n);
                    w.missing.extend(w.chunks..n);
                    w.chunks = n;
                }
            }
        }
        let wants = &self.blobs.wants;
        self.blobs.manifests.retain(|id, _| wants.contains_key(id));
        if std::mem::take(&mut self.blobs.refresh_again) {
            self.refresh_blobs();
        }
        self.pump_blobs();
    }

    /// Is this peer one a blob may come from by itself (a LAN connection), or only on request?
    fn on_lan(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|c| {
            c.conns
                .values()
                .any(|(a, relayed)| !relayed && super::addr::is_lan(a))
        })
    }

    /// Sends requests until [`MAX_IN_FLIGHT`] are out or nothing more can be asked.
    pub(super) fn pump_blobs(&mut self) {
        let now = Instant::now();
        self.blobs.lacking.retain(|_, until| *until > now);
        while self.blobs.in_flight.len() < MAX_IN_FLIGHT {
            let Some((id, part, peer)) = self.next_blob_request() else {
                return;
            };
            let rid = self
                .swarm
                .behaviour_mut()
                .blob
                .send_request(&peer, Request { blob: id, part });
            self.blobs.in_flight.insert(rid, (id, part, peer));
            self.blobs.busy.insert((id, part));
        }
    }

    fn next_blob_request(&self) -> Option<(BlobId, Part, PeerId)> {
        let load = |p: &PeerId| {
            self.blobs
                .in_flight
                .values()
                .filter(|(_, _, q)| q == p)
                .count()
        };
        for w in self.blobs.wants.values() {
            let mut peers: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(p, c)| {
                    let source = if c.mailbox {
                        // A mailbox keeping one of its conversations for us may hold it.
                        self.sync
                            .peer(p)
                            .is_some_and(|s| s.shared.iter().any(|t| w.topics.contains(t)))
                    } else {
                        w.sources.contains(&c.device)
                    };
                    source
                        && !self.limited(p)
                        && !self.blobs.lacking.contains_key(&(w.id, **p))
                        && (w.anywhere || self.on_lan(p))
                })
                .map(|(p, _)| *p)
                .collect();
            if peers.is_empty() {
                continue;
            }
            peers.sort_by_key(load);
            let part = if self.blobs.manifests.contains_key(&w.id) {
                match w
                    .missing
                    .iter()
                    .find(|i| !self.blobs.busy.contains(&(w.id, Part::Chunk(**i))))
                {
                    Some(i) => Part::Chunk(*i),
                    None => continue,
                }
            } else if self.blobs.busy.contains(&(w.id, Part::Manifest)) {
                continue;
            } else {
                Part::Manifest
            };
            return Some((w.id, part, peers[0]));
        }
        None
    }

    pub(super) fn on_blob(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.serve_blob(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((id, part, peer)) = self.blobs.in_flight.remove(&request_id) {
                        self.on_blob_answer(id, part, peer, response);
                    }
                    self.pump_blobs();
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((id, part, peer)) = self.blobs.in_flight.remove(&request_id) {
                    tracing::debug!(%peer, %error, blob = %id, "blob request failed");
                    self.blobs.busy.remove(&(id, part));
                    self.blobs
                        .lacking
                        .insert((id, peer), Instant::now() + BUSY_FOR);
                }
                self.pump_blobs();
            }
            request_response::Event::InboundFailure { .. }
            | request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_blob_answer(&mut self, id: BlobId, part: Part, peer: PeerId, response: Response) {
        let bytes = match response {
            Response::Bytes(b) => b.into_vec(),
            other => {
                self.blobs.busy.remove(&(id, part));
                let backoff = if matches!(other, Response::Busy) {
                    BUSY_FOR
                } else if self.peers.get(&peer).is_some_and(|c| c.mailbox) {
                    MAILBOX_LACKING_FOR
                } else {
                    LACKING_FOR
                };
                self.blobs
                    .lacking
                    .insert((id, peer), Instant::now() + backoff);
                return;
            }
        };
        if !self.blobs.wants.contains_key(&id) {
            self.blobs.busy.remove(&(id, part));
            return;
        }
        let fits = match part {
            Part::Manifest => crypt::manifest_chunks(&id, &bytes).is_some_and(|n| {
                self.blobs
                    .wants
                    .get(&id)
                    .is_some_and(|w| w.counts.contains(&n))
            }),
            Part::Chunk(i) => self
                .blobs
                .manifests
                .get(&id)
                .is_some_and(|m| crypt::chunk_fits(m, i, &bytes)),
        };
        if !fits {
            tracing::warn!(%peer, blob = %id, ?part, "refused blob bytes that do not match; asking someone else");
            self.blobs.refused += 1;
            self.blobs.busy.remove(&(id, part));
            self.blobs
                .lacking
                .insert((id, peer), Instant::now() + WRONG_FOR);
            return;
        }
        if part == Part::Manifest {
            // The manifest says how many chunks there are (a message may have said wrong);
            // none can be here before it.
            let n = (bytes.len() / 32) as u32;
            if let Some(w) = self.blobs.wants.get_mut(&id) {
                if w.chunks != n {
                    w.chunks = n;
                    w.missing = (0..n).collect();
                }
            }
            self.blobs.manifests.insert(id, Arc::new(bytes.clone()));
        }
        let store = self.store.clone();
        self.work.spawn(async move {
            let ok = store.store_blob_part(id, part, bytes).await;
            if let Err(e) = &ok {
                tracing::warn!(blob = %id, error = %e, "could not store a blob chunk");
            }
            vec![Internal::BlobStored(id, part, ok.is_ok())]
        });
    }

    /// A part was written (or failed to be): it leaves the busy set, and a chunk leaves the
    /// missing list once stored.
    pub(super) fn on_blob_stored(&mut self, id: BlobId, part: Part, ok: bool) {
        self.blobs.busy.remove(&(id, part));
        if let (true, Part::Chunk(i)) = (ok, part) {
            if let Some(w) = self.blobs.wants.get_mut(&id) {
                w.missing.retain(|m| *m != i);
                if w.missing.is_empty() {
                    self.blobs.wants.remove(&id);
                    self.blobs.manifests.remove(&id);
                }
            }
        }
        self.pump_blobs();
    }

    fn serve_blob(&mut self, peer: PeerId, req: Request, channel: ResponseChannel<Response>) {
        let device = device_of(&peer);
        let early = if device.is_none() {
            Some(Response::Refused)
        } else if self.limited(&peer) {
            Some(Response::Missing)
        } else if self.blobs.serving >= MAX_SERVING {
            Some(Response::Busy)
        } else {
            None
        };
        match (early, device, self.store.blob_files()) {
            (None, Some(d), Ok(files)) => self.serve_from_store(d, files, req, channel),
            (early, _, _) => {
                let r = early.unwrap_or(Response::Missing);
                if matches!(r, Response::Refused) {
                    self.blobs.refused_requests += 1;
                }
                let _ = self.swarm.behaviour_mut().blob.send_response(channel, r);
            }
        }
    }

    fn serve_from_store(
        &mut self,
        device: crate::ids::DeviceId,
        files: crate::blob::files::Files,
        req: Request,
        channel: ResponseChannel<Response>,
    ) {
        self.blobs.serving += 1;
        let store = self.store.clone();
        self.work.spawn(async move {
            let resp = store
                .read(move |c| {
                    let Some(chunks) = crate::blob::store::serves(c, &device, &req.blob)? else {
                        return Ok(Response::Refused);
                    };
                    let bytes = match req.part {
                        Part::Manifest => files.manifest(&req.blob, chunks)?,
                        Part::Chunk(i)
                            if i < chunks && crate::blob::store::has_chunk(c, &req.blob, i)? =>
                        {
                            files.chunk(&req.blob, i)?
                        }
                        Part::Chunk(_) => None,
                    };
                    Ok(bytes.map_or(Response::Missing, |b| Response::Bytes(ByteBuf::from(b))))
                })
                .await
                .unwrap_or(Response::Missing);
            vec![Internal::RespondBlob(channel, resp)]
        });
    }

    pub(super) fn respond_blob(&mut self, channel: ResponseChannel<Response>, resp: Response) {
        self.blobs.serving = self.blobs.serving.saturating_sub(1);
        if matches!(resp, Response::Refused) {
            self.blobs.refused_requests += 1;
        }
        let _ = self.swarm.behaviour_mut().blob.send_response(channel, resp);
    }
}
