//! The net task: the event loop that owns the swarm.
//!
//! The loop never waits on the database: store work (which topics a peer shares, the envelopes
//! it lacks, ingesting what arrived) runs in spawned tasks that report back on an internal
//! channel, so a slow query never stalls the swarm. `select!` order: commands first (a stop is
//! never starved), then internal results, then node events, then the swarm, then the timer.

use std::collections::{BTreeSet, HashMap};

use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, mdns, noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use serde_bytes::ByteBuf;
use tokio::sync::{broadcast, mpsc};

use super::addr::{is_lan, is_unspecified};
use super::behaviour::{Behaviour, BehaviourEvent};
use super::{
    Command, Config, Handle, Path, PeerStatus, Status, ANTI_ENTROPY_INTERVAL, COMMAND_QUEUE,
    IDLE_TIMEOUT,
};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{DeviceId, TopicId};
use crate::node::Node;
use crate::sync::protocol::{self, Request, Response};
use crate::sync::{store, VersionVectors};

/// Results of spawned store work, back to the loop.
const INTERNAL_QUEUE: usize = 256;
/// Push batches per topic flush; the rest follows in the next flush or sync.
const MAX_FLUSH_BATCHES: usize = 8;

struct Peer {
    device: DeviceId,
    addr: Multiaddr,
    shared: Vec<TopicId>,
    /// What we believe the peer holds (from its syncs and what we pushed or received).
    known: VersionVectors,
    /// Devices the peer is directly connected to (for mesh paths).
    reach: Vec<DeviceId>,
    /// The `have` of our last sync request to this peer, advanced by what its answers carry,
    /// so the next batch of a long catch-up is requested before this one is ingested.
    requested: VersionVectors,
}

enum Internal {
    Respond(ResponseChannel<Response>, Response),
    Shared {
        peer: PeerId,
        topics: Vec<TopicId>,
        sync: bool,
    },
    Flushed(Vec<(PeerId, Vec<Vec<Vec<u8>>>, VersionVectors)>),
    /// Envelopes from a peer were ingested; a gap means some wait for earlier ones.
    Ingested {
        from: PeerId,
        gap: bool,
    },
    DialKnown(Vec<(PeerId, Vec<Multiaddr>)>),
    SendSync {
        peer: PeerId,
        have: protocol::WireHave,
        reach: Vec<DeviceId>,
    },
}

pub(crate) fn spawn(node: Node, cfg: Config, keypair: libp2p::identity::Keypair) -> Result<Handle> {
    let me = device_of(&keypair.public().to_peer_id())
        .ok_or_else(|| Error::Invalid("device key".into()))?;
    let use_mdns = cfg.mdns;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| Error::Invalid(format!("network transport: {e}")))?
        .with_quic()
        .with_behaviour(
            |key| -> std::result::Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Behaviour::new(key, use_mdns)?)
            },
        )
        .map_err(|e| Error::Invalid(format!("network behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    for addr in &cfg.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::Invalid(format!("cannot listen on {addr}: {e}")))?;
    }
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (itx, irx) = mpsc::channel(INTERNAL_QUEUE);
    let events = node.subscribe();
    let config = std::sync::Arc::new(cfg.clone());
    let mut task = Task {
        swarm,
        node,
        cfg,
        me,
        peers: HashMap::new(),
        itx,
        dirty: BTreeSet::new(),
        flushing: false,
        pending_sync: HashMap::new(),
        paths: HashMap::new(),
        discovered: HashMap::new(),
    };
    for a in task.cfg.dial.clone() {
        task.dial_addr(a);
    }
    task.dial_remembered();
    let span = tracing::info_span!("net", me = %task.me);
    tokio::spawn(tracing::Instrument::instrument(
        task.run(rx, irx, events),
        span,
    ));
    Ok(Handle { tx, config })
}

struct Task {
    swarm: Swarm<Behaviour>,
    node: Node,
    cfg: Config,
    me: DeviceId,
    peers: HashMap<PeerId, Peer>,
    itx: mpsc::Sender<Internal>,
    dirty: BTreeSet<TopicId>,
    flushing: bool,
    pending_sync: HashMap<OutboundRequestId, PeerId>,
    paths: HashMap<DeviceId, Path>,
    /// Peers seen by mDNS and their addresses: dialed once we know them (a stranger on the
    /// LAN may become a fellow member later).
    discovered: HashMap<PeerId, Vec<Multiaddr>>,
}

fn device_of(peer: &PeerId) -> Option<DeviceId> {
    libp2p::identity::PublicKey::try_decode_protobuf(peer.as_ref().digest())
        .ok()
        .and_then(|k| k.try_into_ed25519().ok())
        .map(|k| DeviceId(k.to_bytes()))
}

impl Task {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut internal: mpsc::Receiver<Internal>,
        mut events: broadcast::Receiver<Event>,
    ) {
        let mut tick = tokio::time::interval(ANTI_ENTROPY_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(Command::Stop(done)) => {
                        self.stop();
                        // Close the sockets before saying so: a restart may listen on the
                        // same ports at once.
                        drop(self);
                        let _ = done.send(());
                        return;
                    }
                    Some(c) => self.on_command(c),
                    None => {
                        self.stop();
                        return;
                    }
                },
                Some(i) = internal.recv() => self.on_internal(i),
                ev = events.recv() => match ev {
                    Ok(e) => self.on_node_event(e),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.sync_all(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                _ = tick.tick() => {
                    self.sync_all();
                    self.dial_remembered();
                }
            }
        }
    }

    /// Closes connections and records when each device was last seen.
    fn stop(&mut self) {
        self.remember_all_seen();
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for p in peers {
            let _ = self.swarm.disconnect_peer_id(p);
        }
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::Dial(addr, reply) => {
                if self.cfg.lan_only && !is_lan(&addr) {
                    let _ = reply.send(Err(Error::NotAllowed(
                        "LAN-only mode: that address is outside the local network".into(),
                    )));
                    return;
                }
                let res = self
                    .swarm
                    .dial(addr)
                    .map_err(|e| Error::Invalid(format!("cannot dial: {e}")));
                let _ = reply.send(res);
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Stop(_) => {}
        }
    }

    fn status(&self) -> Status {
        let mut peers: Vec<PeerStatus> = self
            .paths
            .iter()
            .map(|(d, p)| PeerStatus {
                device: *d,
                path: p.clone(),
                addr: self
                    .peers
                    .values()
                    .find(|x| x.device == *d)
                    .map(|x| x.addr.to_string()),
            })
            .collect();
        peers.sort_by_key(|p| p.device);
        Status {
            device: self.me,
            listen: self.announced().iter().map(|a| a.to_string()).collect(),
            lan_only: self.cfg.lan_only,
            peers,
        }
    }

    /// Our addresses worth telling others: concrete, and local-only in LAN-only mode.
    fn announced(&self) -> Vec<Multiaddr> {
        self.swarm
            .listeners()
            .filter(|a| !is_unspecified(a) && (!self.cfg.lan_only || is_lan(a)))
            .cloned()
            .collect()
    }

    fn dial_addr(&mut self, addr: Multiaddr) {
        if self.cfg.lan_only && !is_lan(&addr) {
            tracing::debug!(%addr, "LAN-only: not dialing");
            return;
        }
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::debug!(%addr, error = %e, "dial failed");
        }
    }

    /// Dials known devices we are not connected to: seen on the LAN, or at remembered addresses.
    fn dial_remembered(&self) {
        self.dial_discovered();
        let node = self.node.clone();
        let itx = self.itx.clone();
        let connected: BTreeSet<PeerId> = self.swarm.connected_peers().copied().collect();
        tokio::spawn(async move {
            let Ok(list) = node.read(store::devices_to_dial).await else {
                return;
            };
            let mut out = Vec::new();
            for (d, addrs) in list {
                let Some(peer) = d.peer_id() else { continue };
                if connected.contains(&peer) {
                    continue;
                }
                let addrs: Vec<Multiaddr> = addrs.iter().filter_map(|a| a.parse().ok()).collect();
                if !addrs.is_empty() {
                    out.push((peer, addrs));
                }
            }
            let _ = itx.send(Internal::DialKnown(out)).await;
        });
    }

    fn on_internal(&mut self, i: Internal) {
        match i {
            Internal::Respond(channel, resp) => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, resp);
            }
            Internal::Shared { peer, topics, sync } => {
                tracing::debug!(%peer, topics = topics.len(), sync, "shared topics");
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.shared = topics;
                    if sync {
                        self.send_sync(peer);
                    }
                }
                self.update_paths();
            }
            Internal::Flushed(list) => {
                for (peer, batches, mine) in list {
                    for batch in batches {
                        let envelopes = batch.into_iter().map(ByteBuf::from).collect();
                        self.swarm.behaviour_mut().sync.send_request(
                            &peer,
                            Request::Push {
                                version: protocol::VERSION,
                                envelopes,
                            },
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
                self.maybe_flush();
            }
            Internal::Ingested { from, gap } => {
                if gap {
                    self.send_sync(from);
                }
            }
            Internal::SendSync { peer, have, reach } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.requested = protocol::from_wire(&have);
                }
                if self.swarm.is_connected(&peer) {
                    self.request_sync(peer, have, reach);
                }
            }
            Internal::DialKnown(list) => {
                for (peer, addrs) in list {
                    if self.swarm.is_connected(&peer) {
                        continue;
                    }
                    let addrs: Vec<Multiaddr> = addrs
                        .into_iter()
                        .filter(|a| !self.cfg.lan_only || is_lan(a))
                        .collect();
                    if addrs.is_empty() {
                        continue;
                    }
                    let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                        .addresses(addrs)
                        .build();
                    if let Err(e) = self.swarm.dial(opts) {
                        tracing::debug!(%peer, error = %e, "dial failed");
                    }
                }
            }
        }
    }

    fn on_node_event(&mut self, e: Event) {
        match e {
            Event::EnvelopesAdded { topic } => {
                self.dirty.insert(topic);
                self.maybe_flush();
            }
            Event::ContactsChanged | Event::ChatsChanged => {
                tracing::debug!("membership changed");
                // Membership changed: recompute what each peer shares, and sync the new topics.
                let peers: Vec<PeerId> = self.peers.keys().copied().collect();
                for p in peers {
                    self.refresh_shared(p, true);
                }
                self.dial_remembered();
            }
            _ => {}
        }
    }

    fn refresh_shared(&self, peer: PeerId, sync: bool) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let device = p.device;
        let node = self.node.clone();
        let itx = self.itx.clone();
        tokio::spawn(async move {
            let topics = node
                .read(move |c| store::shared_topics(c, &device))
                .await
                .unwrap_or_default();
            let _ = itx.send(Internal::Shared { peer, topics, sync }).await;
        });
    }

    fn sync_all(&mut self) {
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for p in peers {
            self.send_sync(p);
        }
    }

    /// Devices we are directly connected to that `peer` has a conversation with too.
    fn reach_for(&self, peer: &PeerId) -> Vec<DeviceId> {
        let Some(p) = self.peers.get(peer) else {
            return Vec::new();
        };
        self.peers
            .iter()
            .filter(|(id, other)| *id != peer && other.shared.iter().any(|t| p.shared.contains(t)))
            .map(|(_, other)| other.device)
            .collect()
    }

    fn send_sync(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        if p.shared.is_empty() {
            return;
        }
        let topics = p.shared.clone();
        let reach = self.reach_for(&peer);
        let node = self.node.clone();
        let itx = self.itx.clone();
        // The request needs our version vectors: read them off the loop, then send.
        tokio::spawn(async move {
            let Ok(mine) = node.read(move |c| store::have(c, &topics)).await else {
                return;
            };
            let _ = itx
                .send(Internal::SendSync {
                    peer,
                    have: protocol::to_wire(&mine),
                    reach,
                })
                .await;
        });
    }

    fn maybe_flush(&mut self) {
        if self.flushing || self.dirty.is_empty() || self.peers.is_empty() {
            return;
        }
        self.flushing = true;
        let dirty: Vec<TopicId> = std::mem::take(&mut self.dirty).into_iter().collect();
        let targets: Vec<(PeerId, Vec<TopicId>, VersionVectors)> = self
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
        let node = self.node.clone();
        let itx = self.itx.clone();
        tokio::spawn(async move {
            let res = node
                .read(move |c| {
                    let mine = store::have(c, &dirty)?;
                    let mut out = Vec::new();
                    for (peer, topics, known) in targets {
                        let mut wants = protocol::missing(&mine, &known, &topics);
                        let mut batches = Vec::new();
                        while !wants.is_empty() && batches.len() < MAX_FLUSH_BATCHES {
                            let (batch, more) = store::envelopes(c, &wants)?;
                            if batch.is_empty() {
                                break;
                            }
                            // Advance the wants past what this batch carries.
                            for e in &batch {
                                if let Ok(env) = Envelope::decode(e) {
                                    for w in wants.iter_mut() {
                                        if w.topic == env.header.topic
                                            && w.author == env.header.author
                                        {
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
                })
                .await
                .unwrap_or_default();
            let _ = itx.send(Internal::Flushed(res)).await;
        });
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if !is_unspecified(&address) && (!self.cfg.lan_only || is_lan(&address)) {
                    self.swarm.add_external_address(address);
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                if self.cfg.lan_only && !is_lan(&addr) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                let Some(device) = device_of(&peer_id) else {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                };
                if self.peers.contains_key(&peer_id) {
                    return;
                }
                tracing::info!(peer = %peer_id, %addr, "connected");
                self.peers.insert(
                    peer_id,
                    Peer {
                        device,
                        addr: addr.clone(),
                        shared: Vec::new(),
                        known: VersionVectors::default(),
                        reach: Vec::new(),
                        requested: VersionVectors::default(),
                    },
                );
                self.refresh_shared(peer_id, true);
                let node = self.node.clone();
                let a = if endpoint.is_dialer() {
                    Some(addr.to_string())
                } else {
                    None
                };
                tokio::spawn(async move {
                    let _ = node.remember_peer(device, a, true).await;
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                if let Some(p) = self.peers.remove(&peer_id) {
                    tracing::info!(peer = %peer_id, "disconnected");
                    let node = self.node.clone();
                    tokio::spawn(async move {
                        let _ = node.remember_peer(p.device, None, true).await;
                    });
                }
                self.update_paths();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(list))) => {
                let lan_only = self.cfg.lan_only;
                for (peer, addr) in list {
                    if !lan_only || is_lan(&addr) {
                        let e = self.discovered.entry(peer).or_default();
                        if !e.contains(&addr) {
                            e.push(addr);
                        }
                    }
                }
                self.dial_discovered();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Expired(list))) => {
                for (peer, addr) in list {
                    if let Some(e) = self.discovered.get_mut(&peer) {
                        e.retain(|a| *a != addr);
                        if e.is_empty() {
                            self.discovered.remove(&peer);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                ..
            })) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            _ => {}
        }
    }

    /// Dials peers seen on the LAN that are devices we know and are not connected to.
    fn dial_discovered(&self) {
        let found: HashMap<PeerId, Vec<Multiaddr>> = self
            .discovered
            .iter()
            .filter(|(p, _)| !self.swarm.is_connected(p))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        if found.is_empty() {
            return;
        }
        {
            // Dial only devices we know: strangers on the LAN get nothing from us anyway.
            let node = self.node.clone();
            let itx = self.itx.clone();
            tokio::spawn(async move {
                let list = node
                    .read(move |c| {
                        let mut out = Vec::new();
                        for (peer, addrs) in found {
                            if let Some(d) = device_of(&peer) {
                                if store::is_known_device(c, &d)? {
                                    out.push((peer, addrs));
                                }
                            }
                        }
                        Ok(out)
                    })
                    .await
                    .unwrap_or_default();
                let _ = itx.send(Internal::DialKnown(list)).await;
            });
        }
    }

    fn on_sync(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_request(peer, request, channel),
                request_response::Message::Response {
                    response,
                    request_id,
                } => {
                    self.pending_sync.remove(&request_id);
                    self.on_response(peer, response);
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "sync request failed");
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_request(&mut self, peer: PeerId, req: Request, channel: ResponseChannel<Response>) {
        tracing::debug!(%peer, kind = match &req { Request::Sync { .. } => "sync", Request::Push { .. } => "push" }, "request");
        if let Err(e) = protocol::check(&req) {
            tracing::info!(%peer, error = %e, "peer broke the protocol; disconnecting");
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, Response::Refused);
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, Response::Refused);
            return;
        };
        let device = p.device;
        let node = self.node.clone();
        let itx = self.itx.clone();
        match req {
            Request::Sync { have, reach, .. } => {
                let theirs = protocol::from_wire(&have);
                for (t, a) in &theirs.0 {
                    p.known.0.insert(*t, a.clone());
                }
                p.reach = reach;
                let my_reach = self.reach_for(&peer);
                self.update_paths();
                tokio::spawn(async move {
                    let resp = node
                        .read(move |c| {
                            let shared = store::shared_topics(c, &device)?;
                            let mine = store::have(c, &shared)?;
                            let wants = protocol::missing(&mine, &theirs, &shared);
                            let (envs, more) = store::envelopes(c, &wants)?;
                            Ok(Response::Sync {
                                envelopes: envs.into_iter().map(ByteBuf::from).collect(),
                                more,
                                have: protocol::to_wire(&mine),
                                reach: my_reach,
                            })
                        })
                        .await
                        .unwrap_or(Response::Refused);
                    let _ = itx.send(Internal::Respond(channel, resp)).await;
                });
            }
            Request::Push { envelopes, .. } => {
                // What the peer sent, it holds.
                for e in &envelopes {
                    if let Ok(env) = Envelope::decode(e) {
                        protocol::note_held(
                            &mut p.known,
                            env.header.topic,
                            env.header.author,
                            env.header.seq,
                        );
                    }
                }
                tokio::spawn(async move {
                    let envs: Vec<Vec<u8>> = envelopes.into_iter().map(|b| b.into_vec()).collect();
                    let (new, gap) = ingest_from(&node, device, envs).await;
                    let _ = itx
                        .send(Internal::Respond(channel, Response::Pushed { new }))
                        .await;
                    let _ = itx.send(Internal::Ingested { from: peer, gap }).await;
                });
            }
        }
    }

    fn on_response(&mut self, peer: PeerId, resp: Response) {
        tracing::debug!(%peer, kind = match &resp { Response::Sync { envelopes, .. } => envelopes.len() as i64, _ => -1 }, "response");
        match resp {
            Response::Sync {
                envelopes,
                more,
                have,
                reach,
            } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    let theirs = protocol::from_wire(&have);
                    for (t, a) in theirs.0 {
                        if p.shared.contains(&t) {
                            p.known.0.insert(t, a);
                        }
                    }
                    p.reach = reach;
                    // Whatever they lack of the shared topics gets pushed.
                    let shared = p.shared.clone();
                    self.dirty.extend(shared);
                }
                self.update_paths();
                self.maybe_flush();
                if more {
                    self.request_next_batch(peer, &envelopes);
                }
                let Some(device) = self.peers.get(&peer).map(|p| p.device) else {
                    return;
                };
                let node = self.node.clone();
                let itx = self.itx.clone();
                tokio::spawn(async move {
                    let envs: Vec<Vec<u8>> = envelopes.into_iter().map(|b| b.into_vec()).collect();
                    let (_, gap) = ingest_from(&node, device, envs).await;
                    let _ = itx.send(Internal::Ingested { from: peer, gap }).await;
                });
            }
            Response::Pushed { .. } | Response::Refused => {}
        }
    }

    /// Pipelined catch-up: asks for the batch after `batch` at once, claiming what it carries,
    /// so the peer reads and sends the next batch while this one is being ingested. Should an
    /// envelope of it be refused, the periodic sync (from what is really stored) fills the hole.
    fn request_next_batch(&mut self, peer: PeerId, batch: &[ByteBuf]) {
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
        self.request_sync(peer, have, reach);
    }

    fn request_sync(&mut self, peer: PeerId, have: protocol::WireHave, reach: Vec<DeviceId>) {
        let request = Request::Sync {
            version: protocol::VERSION,
            have,
            reach,
        };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.pending_sync.insert(id, peer);
    }

    /// Recomputes every device's path and emits an event for each change.
    fn update_paths(&mut self) {
        let mut now: HashMap<DeviceId, Path> = HashMap::new();
        for p in self.peers.values() {
            now.insert(
                p.device,
                if is_lan(&p.addr) {
                    Path::Lan
                } else {
                    Path::Direct
                },
            );
        }
        for p in self.peers.values() {
            for d in &p.reach {
                if *d != self.me && !now.contains_key(d) {
                    now.insert(*d, Path::Mesh { via: p.device });
                }
            }
        }
        for (d, old) in &self.paths {
            if !now.contains_key(d) && *old != Path::None {
                now.insert(*d, Path::None);
            }
        }
        let changed: Vec<(DeviceId, Path)> = now
            .iter()
            .filter(|(d, p)| self.paths.get(d) != Some(p))
            .map(|(d, p)| (*d, p.clone()))
            .collect();
        self.paths = now;
        for (device, path) in changed {
            self.node.emit(Event::PathChanged {
                device,
                path: path.name().to_string(),
            });
        }
    }

    fn remember_all_seen(&self) {
        for p in self.peers.values() {
            let node = self.node.clone();
            let d = p.device;
            tokio::spawn(async move {
                let _ = node.remember_peer(d, None, true).await;
            });
        }
    }
}

/// Ingests envelopes from a peer: only for topics it shares with us, or our open invites.
/// Returns (how many are new, whether a gap appeared).
async fn ingest_from(node: &Node, device: DeviceId, envs: Vec<Vec<u8>>) -> (u32, bool) {
    let n_in = envs.len();
    let filtered = node
        .read(move |c| {
            let shared = store::shared_topics(c, &device)?;
            let mut out = Vec::new();
            for e in envs {
                let Ok(env) = Envelope::decode(&e) else {
                    continue;
                };
                let t = env.header.topic;
                if shared.contains(&t) || store::is_invite_topic(c, &t)? {
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
    let gap = heads.iter().any(|(t, a, s)| *s > held.get(t, a));
    (report.new as u32, gap)
}
