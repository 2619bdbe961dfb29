//! Carrying out the sync session's decisions (`sync::session`): requests and answers on the
//! swarm, store reads and ingest as owned background work. No sync rule lives here.

use std::collections::BTreeSet;

use libp2p::request_response::{self, ResponseChannel};
use libp2p::PeerId;
use serde_bytes::ByteBuf;

use super::store_handle::Store;
use super::task::{Internal, Task};
use crate::envelope::Envelope;
use crate::ids::{DeviceId, TopicId};
use crate::sync::protocol::{self, Request, Response};
use crate::sync::session::{In, Out};
use crate::sync::{store, VersionVectors};

/// Push batches per topic flush; the rest follows in the next flush or sync.
const MAX_FLUSH_BATCHES: usize = 8;
/// What one answer or push may carry to a device reached only through a stranger's relay.
/// Public relays cut a relayed connection after 128 KiB (Kubo's limit): a bigger batch would
/// be cut off and asked for again forever. New messages go at once; a long catch-up trickles,
/// one such batch per anti-entropy round, until a direct connection (or the family's relay)
/// carries the rest.
pub(super) const LIMITED_BATCH_BYTES: usize = 48 * 1024;

impl Task {
    /// Feeds the session and carries out what it decides.
    pub(super) fn drive(&mut self, input: In<PeerId>) {
        let outs = self.sync.handle(input);
        self.apply(outs, None);
    }

    fn apply(&mut self, outs: Vec<Out<PeerId>>, mut channel: Option<ResponseChannel<Response>>) {
        for out in outs {
            match out {
                Out::ReadShared { peer, device, sync } => {
                    self.store_work(
                        move |c| store::shared_topics(c, &device),
                        move |topics| vec![Internal::Sync(In::Shared { peer, topics, sync })],
                    );
                }
                Out::ReadHave { peer, topics } => {
                    self.store_work(
                        move |c| store::have(c, &topics),
                        move |have| vec![Internal::Sync(In::Have { peer, have })],
                    );
                }
                Out::Send { peer, no, request } => {
                    let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                    self.requests.insert(id, no);
                }
                Out::Reply(response) => {
                    if let Some(ch) = channel.take() {
                        let _ = self.swarm.behaviour_mut().sync.send_response(ch, response);
                    }
                }
                Out::Answer {
                    device,
                    theirs,
                    reach,
                    ..
                } => {
                    let Some(ch) = channel.take() else { continue };
                    let node = self.store.clone();
                    let limited = device.peer_id().is_some_and(|p| self.limited(&p));
                    self.work.spawn(async move {
                        let resp = node
                            .read(move |c| {
                                let shared = store::shared_topics(c, &device)?;
                                let mine = store::have(c, &shared)?;
                                let wants = protocol::missing(&mine, &theirs, &shared);
                                let (envs, more) = if limited {
                                    // No "more": the next batch waits for the next round.
                                    let (e, _) =
                                        store::envelopes_within(c, &wants, LIMITED_BATCH_BYTES)?;
                                    (e, false)
                                } else {
                                    store::envelopes(c, &wants)?
                                };
                                Ok(Response::Sync {
                                    envelopes: envs.into_iter().map(ByteBuf::from).collect(),
                                    more,
                                    have: protocol::to_wire(&mine),
                                    reach,
                                })
                            })
                            .await
                            .unwrap_or(Response::Refused);
                        vec![Internal::Respond(ch, resp)]
                    });
                }
                Out::IngestPush {
                    peer,
                    device,
                    envelopes,
                } => {
                    let Some(ch) = channel.take() else { continue };
                    let node = self.store.clone();
                    self.work.spawn(async move {
                        let envs: Vec<Vec<u8>> =
                            envelopes.into_iter().map(|b| b.into_vec()).collect();
                        let (new, gap) = ingest_from(&node, device, false, envs).await;
                        vec![
                            Internal::Respond(ch, Response::Pushed { new }),
                            Internal::Sync(In::Ingested { peer, gap }),
                        ]
                    });
                }
                Out::Ingest {
                    peer,
                    device,
                    mailbox,
                    envelopes,
                } => {
                    let node = self.store.clone();
                    self.work.spawn(async move {
                        let envs: Vec<Vec<u8>> =
                            envelopes.into_iter().map(|b| b.into_vec()).collect();
                        let (_, gap) = ingest_from(&node, device, mailbox, envs).await;
                        vec![Internal::Sync(In::Ingested { peer, gap })]
                    });
                }
                Out::Flush { dirty, targets } => {
                    let node = self.store.clone();
                    let limited: BTreeSet<PeerId> = targets
                        .iter()
                        .map(|(p, _, _)| *p)
                        .filter(|p| self.limited(p))
                        .collect();
                    self.work.spawn(async move {
                        let res = node
                            .read(move |c| flush(c, &dirty, targets, &limited))
                            .await
                            .unwrap_or_default();
                        vec![Internal::Sync(In::Flushed(res))]
                    });
                }
                Out::InMailbox(mine) => {
                    let node = self.store.clone();
                    self.work.spawn(async move {
                        if let Err(e) = node.note_in_mailbox(mine).await {
                            tracing::warn!(error = %e, "could not record what a mailbox holds");
                        }
                        Vec::new()
                    });
                }
                Out::Disconnect(peer) => {
                    tracing::info!(%peer, "peer broke the protocol; disconnecting");
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                Out::BecameFamily(peer) => self.dial_beside_relay(peer),
            }
        }
        // Every request is answered once; a decision that forgot to would leave the peer
        // waiting until its timeout.
        if let Some(ch) = channel {
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(ch, Response::Refused);
        }
        self.update_paths();
    }

    pub(super) fn on_sync(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    tracing::debug!(%peer, kind = match &request { Request::Sync { .. } => "sync", Request::Push { .. } => "push" }, "request");
                    let outs = self.sync.handle(In::Request { peer, request });
                    self.apply(outs, Some(channel));
                }
                request_response::Message::Response {
                    response,
                    request_id,
                } => {
                    tracing::debug!(%peer, kind = match &response { Response::Sync { envelopes, .. } => envelopes.len() as i64, _ => -1 }, "response");
                    let no = self.requests.remove(&request_id).unwrap_or_default();
                    self.drive(In::Response { peer, no, response });
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                error,
                request_id,
                ..
            } => {
                tracing::debug!(%peer, %error, "sync request failed");
                let no = self.requests.remove(&request_id).unwrap_or_default();
                let connection_closed =
                    matches!(error, request_response::OutboundFailure::ConnectionClosed)
                        && self.swarm.is_connected(&peer);
                self.drive(In::Failed {
                    peer,
                    no,
                    connection_closed,
                });
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// Reads a flush: for each target, bounded batches of what it lacks of the dirty topics it
/// shares, and what we held of them.
fn flush(
    c: &rusqlite::Connection,
    dirty: &[TopicId],
    targets: Vec<(PeerId, Vec<TopicId>, VersionVectors)>,
    limited: &BTreeSet<PeerId>,
) -> crate::Result<crate::sync::session::Flushed<PeerId>> {
    let mine = store::have(c, dirty)?;
    let mut out = Vec::new();
    for (peer, topics, known) in targets {
        let mut wants = protocol::missing(&mine, &known, &topics);
        let mut batches = Vec::new();
        let (most, budget) = if limited.contains(&peer) {
            (1, LIMITED_BATCH_BYTES)
        } else {
            (MAX_FLUSH_BATCHES, protocol::BATCH_BYTES)
        };
        while !wants.is_empty() && batches.len() < most {
            let (batch, more) = store::envelopes_within(c, &wants, budget)?;
            if batch.is_empty() {
                break;
            }
            // Advance the wants past what this batch carries.
            for e in &batch {
                if let Ok(env) = Envelope::decode(e) {
                    for w in wants.iter_mut() {
                        if w.topic == env.header.topic && w.author == env.header.author {
                            w.after = w.after.max(env.header.seq);
                        }
                    }
                }
            }
            batches.push(batch);
            if !more {
                break;
            }
        }
        let mut sent = VersionVectors::default();
        for t in &topics {
            if let Some(a) = mine.0.get(t) {
                sent.0.insert(*t, a.clone());
            }
        }
        out.push((peer, batches, sent));
    }
    Ok(out)
}

/// Ingests envelopes from a peer: only for topics it shares with us, or our open invites; from
/// a mailbox, for any topic we hold (the engine checks every author as for any envelope).
/// Returns (how many are new, whether a gap appeared).
async fn ingest_from(
    node: &Store,
    device: DeviceId,
    mailbox: bool,
    envs: Vec<Vec<u8>>,
) -> (u32, bool) {
    let n_in = envs.len();
    let filtered = node
        .read(move |c| {
            let shared = if mailbox {
                Vec::new()
            } else {
                store::shared_topics(c, &device)?
            };
            let mut out = Vec::new();
            for e in envs {
                let Ok(env) = Envelope::decode(&e) else {
                    continue;
                };
                let t = env.header.topic;
                let ok = if mailbox {
                    store::holds_topic(c, &t)?
                } else {
                    shared.contains(&t) || store::is_invite_topic(c, &t)?
                };
                if ok {
                    out.push((t, env.header.author, env.header.seq, e));
                }
            }
            Ok(out)
        })
        .await;
    let filtered = match filtered {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "could not read what a peer shares");
            return (0, false);
        }
    };
    tracing::debug!(
        received = n_in,
        accepted = filtered.len(),
        "envelopes from a peer"
    );
    let n = filtered.len();
    if n == 0 {
        return (0, false);
    }
    let heads: Vec<(TopicId, DeviceId, u64)> =
        filtered.iter().map(|(t, a, s, _)| (*t, *a, *s)).collect();
    let report = match node
        .ingest(filtered.into_iter().map(|(.., e)| e).collect())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "could not ingest envelopes from a peer");
            return (0, false);
        }
    };
    let topics: Vec<TopicId> = heads
        .iter()
        .map(|h| h.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let held = node
        .read(move |c| store::have(c, &topics))
        .await
        .unwrap_or_default();
    // Only new envelopes can reveal a gap worth asking about at once: a batch of duplicates
    // beyond our head (a mailbox whose older mail expired) would otherwise loop forever; the
    // periodic sync still asks again.
    let gap = report.new > 0 && heads.iter().any(|(t, a, s)| *s > held.get(t, a));
    (report.new as u32, gap)
}
