//! The net task: the event loop that owns the swarm.
//!
//! The loop never waits on the database: store work (which topics a peer shares, the envelopes
//! it lacks, ingesting what arrived) runs in spawned tasks that report back on an internal
//! channel, so a slow query never stalls the swarm. `select!` order: commands first (a stop is
//! never starved), then internal results, then node events, then the swarm, then the timer.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{dcutr, identify, mdns, noise, relay, tcp, yamux, Multiaddr, PeerId, Swarm};
use serde_bytes::ByteBuf;
use tokio::sync::{broadcast, mpsc};

use super::addr::{is_lan, is_loopback, is_unspecified, relay_peer};
use super::behaviour::{Behaviour, BehaviourEvent};
use super::{
    Command, Config, Handle, Path, PeerStatus, RelayStatus, Status, ANTI_ENTROPY_INTERVAL,
    COMMAND_QUEUE, IDLE_TIMEOUT,
};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{DeviceId, TopicId};
use crate::mailbox::protocol as mailbox;
use crate::node::Node;
use crate::sync::protocol::{self, Request, Response};
use crate::sync::{store, VersionVectors};

/// Results of spawned store work, back to the loop.
const INTERNAL_QUEUE: usize = 256;
/// Push batches per topic flush; the rest follows in the next flush or sync.
const MAX_FLUSH_BATCHES: usize = 8;
/// Addresses of a relayed family device dialled beside the relay: its listen addresses
/// (a device has a handful; more would only be someone's mistake).
const MAX_BESIDE_DIALS: usize = 8;
/// How often relay reservations are checked.
const RELAY_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Re-reserving after a relay went away: first retry after this, doubling up to the maximum.
const RESERVE_BACKOFF_MIN: Duration = Duration::from_millis(500);
const RESERVE_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often a mailbox is asked again to keep our topics.
const KEEP_EVERY: Duration = Duration::from_secs(3600);

struct Peer {
    device: DeviceId,
    addr: Multiaddr,
    /// Open connections: remote address, and whether it goes through a relay.
    conns: HashMap<ConnectionId, (Multiaddr, bool)>,
    /// One of our relays, synced with as a mailbox (not a family device).
    mailbox: bool,
    shared: Vec<TopicId>,
    /// What we believe the peer holds (from its syncs and what we pushed or received).
    known: VersionVectors,
    /// Devices the peer is directly connected to (for mesh paths).
    reach: Vec<DeviceId>,
    /// The `have` of our last sync request to this peer, advanced by what its answers carry,
    /// so the next batch of a long catch-up is requested before this one is ingested.
    requested: VersionVectors,
    /// Where it says it listens (identify), for a direct dial beside a relayed connection.
    listen: Vec<Multiaddr>,
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
    /// What to ask a mailbox to keep.
    Keep {
        peer: PeerId,
        topics: Vec<store::Keep>,
    },
    /// Family devices not connected: looked for through the relays.
    Family(Vec<DeviceId>),
}

/// One configured relay.
struct Relay {
    addr: Multiaddr,
    /// The circuit listener holding our reservation, while it is open.
    listener: Option<ListenerId>,
    reserved: bool,
    retry_at: Instant,
    backoff: Duration,
    /// Topics its mailbox keeps for us.
    kept: usize,
    /// When we last asked its mailbox to keep our topics (the mailbox drops topics nobody
    /// asked for within its retention period, so we ask again every hour).
    kept_at: Option<Instant>,
    /// What we last asked its mailbox to keep: topics and their member devices (which the
    /// mailbox is not told). Its answer counts only for these (a relay cannot make us believe
    /// it keeps anything else).
    asked: HashMap<TopicId, Vec<DeviceId>>,
    /// Devices whose mail it keeps for us: members of the topics its answer confirmed.
    holds_for: BTreeSet<DeviceId>,
}

pub(crate) fn spawn(node: Node, cfg: Config, keypair: libp2p::identity::Keypair) -> Result<Handle> {
    let me = device_of(&keypair.public().to_peer_id())
        .ok_or_else(|| Error::Invalid("device key".into()))?;
    let use_mdns = cfg.mdns;
    let transport_err =
        |e: &dyn std::fmt::Display| Error::Invalid(format!("network transport: {e}"));
    let behaviour_err =
        |e: &dyn std::fmt::Display| Error::Invalid(format!("network behaviour: {e}"));
    let tcp_config = tcp::Config::default().nodelay(true);
    // LAN-only mode has no DNS and no relay transport at all: nothing could leave the LAN.
    let mut swarm = if cfg.lan_only {
        libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp_config, noise::Config::new, yamux::Config::default)
            .map_err(|e| transport_err(&e))?
            .with_quic()
            .with_behaviour(
                |key| -> std::result::Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(Behaviour::new(key, use_mdns, None)?)
                },
            )
            .map_err(|e| behaviour_err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build()
    } else {
        libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp_config, noise::Config::new, yamux::Config::default)
            .map_err(|e| transport_err(&e))?
            .with_quic()
            .with_dns()
            .map_err(|e| transport_err(&e))?
            .with_relay_client(noise::Config::new, yamux::Config::default)
            .map_err(|e| transport_err(&e))?
            .with_behaviour(
                |key, relay| -> std::result::Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(Behaviour::new(key, use_mdns, Some(relay))?)
                },
            )
            .map_err(|e| behaviour_err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build()
    };
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
        pending_push: HashMap::new(),
        paths: HashMap::new(),
        discovered: HashMap::new(),
        relays: HashMap::new(),
    };
    if !task.cfg.lan_only {
        for addr in task.cfg.relays.clone() {
            task.add_relay(addr);
        }
        task.maintain_relays();
    }
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
    /// Pushes in flight and the topics they carry. We count a pushed envelope as held by
    /// the peer at once; a push that fails takes that back, or a peer that does not name a
    /// topic in its sync answers (an inviter, before the contact request arrives) would
    /// never be sent it again.
    pending_push: HashMap<OutboundRequestId, Vec<TopicId>>,
    paths: HashMap<DeviceId, Path>,
    /// Peers seen by mDNS and their addresses: dialed once we know them (a stranger on the
    /// LAN may become a fellow member later).
    discovered: HashMap<PeerId, Vec<Multiaddr>>,
    /// The configured relays (none in LAN-only mode), by peer id.
    relays: HashMap<PeerId, Relay>,
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
        let mut relay_tick = tokio::time::interval(RELAY_CHECK_INTERVAL);
        relay_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                    self.find_family();
                }
                _ = relay_tick.tick(), if !self.relays.is_empty() => self.maintain_relays(),
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
            Command::AddRelay(addr) => {
                // LAN-only mode never uses relays, however they were learned.
                if !self.cfg.lan_only && self.add_relay(addr) {
                    self.maintain_relays();
                }
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
                    .find(|x| x.device == *d && !x.mailbox)
                    .map(|x| x.addr.to_string()),
            })
            .collect();
        peers.sort_by_key(|p| p.device);
        let mut relays: Vec<RelayStatus> = self
            .relays
            .iter()
            .map(|(peer, r)| RelayStatus {
                addr: r.addr.to_string(),
                connected: self.swarm.is_connected(peer),
                reserved: r.reserved,
                kept: r.kept,
                holds_for: r.holds_for.iter().copied().collect(),
            })
            .collect();
        relays.sort_by(|a, b| a.addr.cmp(&b.addr));
        Status {
            device: self.me,
            listen: self.announced().iter().map(|a| a.to_string()).collect(),
            lan_only: self.cfg.lan_only,
            peers,
            relays,
            tracked: self.peers.len()
                + self.paths.len()
                + self
                    .peers
                    .values()
                    .map(|p| p.known.0.len() + p.reach.len())
                    .sum::<usize>(),
        }
    }

    /// Our addresses worth telling others: concrete, and local-only in LAN-only mode. Relayed
    /// addresses come first (they work from anywhere) and name us, so they can be dialed as
    /// they are.
    fn announced(&self) -> Vec<Multiaddr> {
        let me = *self.swarm.local_peer_id();
        let mut out: Vec<Multiaddr> = self
            .swarm
            .listeners()
            .filter(|a| !is_unspecified(a) && (!self.cfg.lan_only || is_lan(a)))
            .map(|a| {
                if super::addr::is_relayed(a) && !matches!(a.iter().last(), Some(Protocol::P2p(_)))
                {
                    a.clone().with(Protocol::P2p(me))
                } else {
                    a.clone()
                }
            })
            .collect();
        out.sort_by_key(|a| !super::addr::is_relayed(a));
        out
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
        let connected: BTreeSet<PeerId> = self
            .swarm
            .connected_peers()
            .filter(|p| self.directly_connected(p))
            .copied()
            .collect();
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
                let mut became_family = false;
                if let Some(p) = self.peers.get_mut(&peer) {
                    became_family = p.shared.is_empty() && !topics.is_empty();
                    p.known.0.retain(|t, _| topics.contains(t));
                    if topics.is_empty() {
                        p.reach.clear();
                    }
                    p.shared = topics;
                    if sync {
                        self.send_sync(peer);
                    }
                }
                if became_family {
                    self.dial_beside_relay(peer);
                }
                self.update_paths();
            }
            Internal::Flushed(list) => {
                for (peer, batches, mine) in list {
                    let topics: Vec<TopicId> = mine.0.keys().copied().collect();
                    for batch in batches {
                        let envelopes = batch.into_iter().map(ByteBuf::from).collect();
                        let id = self.swarm.behaviour_mut().sync.send_request(
                            &peer,
                            Request::Push {
                                version: protocol::VERSION,
                                envelopes,
                            },
                        );
                        self.pending_push.insert(id, topics.clone());
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
            Internal::Keep { peer, topics } => {
                if self.swarm.is_connected(&peer) {
                    if let Some(r) = self.relays.get_mut(&peer) {
                        r.kept_at = Some(Instant::now());
                        r.asked
                            .extend(topics.iter().map(|k| (k.topic, k.members.clone())));
                    }
                    for part in topics.chunks(mailbox::MAX_KEEP_TOPICS) {
                        let part = part.iter().map(|k| (k.topic, k.proof.clone())).collect();
                        self.swarm.behaviour_mut().mailbox.send_request(
                            &peer,
                            mailbox::Request::Keep {
                                version: mailbox::VERSION,
                                topics: part,
                            },
                        );
                    }
                }
            }
            Internal::Family(devices) => self.look_for(devices),
            Internal::DialKnown(list) => {
                for (peer, addrs) in list {
                    if self.directly_connected(&peer) {
                        continue;
                    }
                    // Connected only through a relay: a direct address is still worth a dial
                    // (the relayed connection is closed once it succeeds), so that the LAN
                    // keeps working when the internet goes.
                    let addrs: Vec<Multiaddr> = addrs
                        .into_iter()
                        .filter(|a| !self.cfg.lan_only || is_lan(a))
                        .filter(|a| !super::addr::is_relayed(a))
                        .collect();
                    if addrs.is_empty() {
                        continue;
                    }
                    // A dial through a relay may be in flight: only then dial beside it.
                    let condition = if self.swarm.is_connected(&peer) {
                        PeerCondition::Always
                    } else {
                        PeerCondition::DisconnectedAndNotDialing
                    };
                    self.dial_peer(peer, addrs, condition, "dial failed");
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
                let peers: Vec<(PeerId, bool)> =
                    self.peers.iter().map(|(id, p)| (*id, p.mailbox)).collect();
                for (p, mailbox) in peers {
                    if mailbox {
                        self.send_keep(p);
                    } else {
                        self.refresh_shared(p, true);
                    }
                }
                self.dial_remembered();
                self.find_family();
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
            .filter(|(id, other)| {
                *id != peer && !other.mailbox && other.shared.iter().any(|t| p.shared.contains(t))
            })
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
            let Ok(mut mine) = node
                .read({
                    let topics = topics.clone();
                    move |c| store::have(c, &topics)
                })
                .await
            else {
                return;
            };
            // Every topic we sync is named, even those we hold nothing of yet: a mailbox
            // answers only for the topics asked about.
            for t in topics {
                mine.0.entry(t).or_default();
            }
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
                // Relayed addresses are confirmed (and expired) by the relay client itself.
                if !is_unspecified(&address)
                    && !super::addr::is_relayed(&address)
                    && (!self.cfg.lan_only || is_lan(&address))
                {
                    self.swarm.add_external_address(address);
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => self.on_connected(peer_id, connection_id, &endpoint),
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => self.on_disconnected(peer_id, connection_id, num_established),
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some((peer, r)) = self
                    .relays
                    .iter_mut()
                    .find(|(_, r)| r.listener == Some(listener_id))
                {
                    tracing::info!(relay = %peer, ?reason, "relay reservation ended; will re-reserve");
                    r.listener = None;
                    r.reserved = false;
                    r.retry_at = Instant::now() + r.backoff;
                    r.backoff = (r.backoff * 2).min(RESERVE_BACKOFF_MAX);
                    self.node.emit(Event::RelayChanged);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(
                relay::client::Event::ReservationReqAccepted {
                    relay_peer_id,
                    renewal,
                    ..
                },
            )) => {
                if let Some(r) = self.relays.get_mut(&relay_peer_id) {
                    r.reserved = true;
                    r.backoff = RESERVE_BACKOFF_MIN;
                    if !renewal {
                        tracing::info!(relay = %relay_peer_id, "relay reservation accepted");
                        self.node.emit(Event::RelayChanged);
                        self.find_family();
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(_)) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            })) => {
                match &result {
                    Ok(_) => {
                        tracing::info!(peer = %remote_peer_id, "hole punched: direct connection")
                    }
                    Err(e) => {
                        tracing::debug!(peer = %remote_peer_id, error = %e, "hole punching failed; staying relayed")
                    }
                }
                if let Some(device) = device_of(&remote_peer_id) {
                    self.node.emit(Event::HolePunch {
                        device,
                        direct: result.is_ok(),
                    });
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mailbox(e)) => self.on_mailbox(e),
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
                peer_id,
                info,
                ..
            })) => {
                if let Some(p) = self.peers.get_mut(&peer_id) {
                    p.listen = info
                        .listen_addrs
                        .into_iter()
                        .take(MAX_BESIDE_DIALS)
                        .collect();
                }
                self.dial_beside_relay(peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            _ => {}
        }
    }

    /// A family device reached only through a relay told us where it listens: dial those
    /// addresses beside the relayed connection. A device with a public address (or a port
    /// forward) is then reached directly, and one on our own LAN over the LAN; the relayed
    /// connection closes once a direct one stands. Strangers' addresses are never dialled.
    fn dial_beside_relay(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let family = !p.mailbox && !p.shared.is_empty();
        if !family || self.directly_connected(&peer) || self.relays.contains_key(&peer) {
            return;
        }
        let addrs: Vec<Multiaddr> = p
            .listen
            .iter()
            .filter(|a| !super::addr::is_relayed(a) && !is_unspecified(a) && !is_loopback(a))
            .filter(|a| !self.cfg.lan_only || is_lan(a))
            .take(MAX_BESIDE_DIALS)
            .cloned()
            .collect();
        if addrs.is_empty() {
            return;
        }
        tracing::debug!(%peer, n = addrs.len(), "dialing beside a relayed connection");
        self.dial_peer(
            peer,
            addrs,
            PeerCondition::Always,
            "dial beside the relay failed",
        );
    }

    /// Dials `peer` at `addrs` under `condition`; a dial that cannot start is only logged
    /// (`what` says which dial it was).
    fn dial_peer(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        condition: PeerCondition,
        what: &str,
    ) {
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(condition)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "{what}");
        }
    }

    /// Connected other than through a relay.
    fn directly_connected(&self, peer: &PeerId) -> bool {
        self.peers
            .get(peer)
            .map(|p| p.conns.values().any(|(_, relayed)| !relayed))
            .unwrap_or_else(|| self.swarm.is_connected(peer))
    }

    fn on_connected(
        &mut self,
        peer_id: PeerId,
        conn: ConnectionId,
        endpoint: &libp2p::core::ConnectedPoint,
    ) {
        let addr = endpoint.get_remote_address().clone();
        let relayed = endpoint.is_relayed();
        if self.cfg.lan_only && (relayed || !is_lan(&addr)) {
            let _ = self.swarm.close_connection(conn);
            return;
        }
        let Some(device) = device_of(&peer_id) else {
            let _ = self.swarm.disconnect_peer_id(peer_id);
            return;
        };
        let is_relay = self.relays.contains_key(&peer_id);
        if let Some(p) = self.peers.get_mut(&peer_id) {
            p.conns.insert(conn, (addr, relayed));
            if !relayed {
                // A direct connection (LAN, or hole-punched): the relayed ones only cost the
                // relay bandwidth, and requests would be spread over both.
                let relayed_conns: Vec<ConnectionId> = p
                    .conns
                    .iter()
                    .filter(|(_, (_, r))| *r)
                    .map(|(c, _)| *c)
                    .collect();
                for c in relayed_conns {
                    self.swarm.close_connection(c);
                }
            }
            self.update_paths();
            return;
        }
        tracing::info!(peer = %peer_id, %addr, relayed, "connected");
        self.peers.insert(
            peer_id,
            Peer {
                device,
                addr: addr.clone(),
                conns: HashMap::from([(conn, (addr.clone(), relayed))]),
                mailbox: is_relay,
                shared: Vec::new(),
                known: VersionVectors::default(),
                reach: Vec::new(),
                requested: VersionVectors::default(),
                listen: Vec::new(),
            },
        );
        if is_relay {
            self.node.emit(Event::RelayChanged);
            if let Some(r) = self.relays.get_mut(&peer_id) {
                r.kept_at = Some(Instant::now());
            }
            self.send_keep(peer_id);
            return;
        }
        if relayed {
            // Reached through a relay: try its LAN or direct addresses beside it at once, so the
            // LAN carries what it can and keeps working when the internet goes.
            self.dial_remembered();
        }
        self.refresh_shared(peer_id, true);
        self.update_paths();
        let node = self.node.clone();
        // Remember where we reached it, unless through a relay (the relays are configured).
        let a = (endpoint.is_dialer() && !relayed).then(|| addr.to_string());
        tokio::spawn(async move {
            let _ = node.remember_peer(device, a, true).await;
        });
    }

    fn on_disconnected(&mut self, peer_id: PeerId, conn: ConnectionId, left: u32) {
        if left > 0 {
            if let Some(p) = self.peers.get_mut(&peer_id) {
                p.conns.remove(&conn);
            }
            self.update_paths();
            return;
        }
        if let Some(p) = self.peers.remove(&peer_id) {
            tracing::info!(peer = %peer_id, "disconnected");
            if p.mailbox {
                if let Some(r) = self.relays.get_mut(&peer_id) {
                    r.kept = 0;
                    r.holds_for.clear();
                }
                self.node.emit(Event::RelayChanged);
            } else {
                let node = self.node.clone();
                tokio::spawn(async move {
                    let _ = node.remember_peer(p.device, None, true).await;
                });
                // Lost a family device: look for it through every relay at once (the
                // connection may have gone with a relay that was shut down), and on the LAN
                // (it may have gone with the internet, the device still beside us).
                self.dial_via_relays(peer_id);
                self.dial_remembered();
            }
        }
        self.update_paths();
    }

    /// Starts using a relay (reserving, registering, its mailbox); false if it was known.
    fn add_relay(&mut self, addr: Multiaddr) -> bool {
        let Some(peer) = relay_peer(&addr) else {
            return false;
        };
        if self.relays.contains_key(&peer) || self.relays.len() >= crate::settings::MAX_RELAYS {
            return false;
        }
        self.relays.insert(
            peer,
            Relay {
                addr,
                listener: None,
                reserved: false,
                retry_at: Instant::now(),
                backoff: RESERVE_BACKOFF_MIN,
                kept: 0,
                kept_at: None,
                asked: HashMap::new(),
                holds_for: BTreeSet::new(),
            },
        );
        true
    }

    /// Reserves on relays that hold no reservation for us (after backoff), and asks their
    /// mailboxes to keep our topics when due.
    fn maintain_relays(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .relays
            .iter()
            .filter(|(_, r)| r.listener.is_none() && r.retry_at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let Some(r) = self.relays.get_mut(&peer) else {
                continue;
            };
            let circuit = r.addr.clone().with(Protocol::P2pCircuit);
            match self.swarm.listen_on(circuit) {
                Ok(id) => r.listener = Some(id),
                Err(e) => {
                    tracing::debug!(relay = %peer, error = %e, "cannot reserve");
                    r.retry_at = now + r.backoff;
                    r.backoff = (r.backoff * 2).min(RESERVE_BACKOFF_MAX);
                }
            }
        }
        let keep: Vec<PeerId> = self
            .relays
            .iter()
            .filter(|(p, r)| {
                self.swarm.is_connected(p)
                    && r.kept_at
                        .is_none_or(|t| now.duration_since(t) >= KEEP_EVERY)
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in keep {
            if let Some(r) = self.relays.get_mut(&peer) {
                // Marked at once; the answer (or its failure) updates it.
                r.kept_at = Some(now);
            }
            self.send_keep(peer);
        }
    }

    /// Looks for family devices we are not connected to, through every relay we reach.
    fn find_family(&self) {
        if self.relays.is_empty() {
            return;
        }
        let node = self.node.clone();
        let itx = self.itx.clone();
        tokio::spawn(async move {
            if let Ok(list) = node.read(store::family_devices).await {
                let _ = itx.send(Internal::Family(list)).await;
            }
        });
    }

    /// Family devices are looked for by dialling them through our relays (a relay connects us
    /// if it holds a reservation for them too). Nothing is published where others could look
    /// a device up: a stock rendezvous server answers anyone, and lists every registration to
    /// whoever asks for all of them, so registering there would hand a family device's
    /// addresses to anyone who knows (or lists) its id.
    fn look_for(&mut self, devices: Vec<DeviceId>) {
        for d in devices {
            let Some(peer) = d.peer_id() else { continue };
            if !self.swarm.is_connected(&peer) {
                self.dial_via_relays(peer);
            }
        }
    }

    /// Dials a family device through every relay holding our reservation (the relay connects
    /// us if it holds one for the device too).
    fn dial_via_relays(&mut self, peer: PeerId) {
        let addrs: Vec<Multiaddr> = self
            .relays
            .values()
            .filter(|r| r.reserved)
            .map(|r| r.addr.clone().with(Protocol::P2pCircuit))
            .collect();
        if addrs.is_empty() || self.swarm.is_connected(&peer) {
            return;
        }
        self.dial_peer(
            peer,
            addrs,
            PeerCondition::DisconnectedAndNotDialing,
            "dial through relays failed",
        );
    }

    /// Asks a relay's mailbox to keep our topics.
    fn send_keep(&self, peer: PeerId) {
        let node = self.node.clone();
        let itx = self.itx.clone();
        tokio::spawn(async move {
            match node.read(store::keep_list).await {
                Ok(topics) => {
                    let _ = itx.send(Internal::Keep { peer, topics }).await;
                }
                Err(e) => tracing::warn!(error = %e, "could not list topics for the mailbox"),
            }
        });
    }

    fn on_mailbox(&mut self, e: request_response::Event<mailbox::Request, mailbox::Response>) {
        match e {
            request_response::Event::Message {
                peer,
                message: request_response::Message::Response { response, .. },
                ..
            } => match response {
                mailbox::Response::Kept { topics } => {
                    tracing::info!(relay = %peer, topics = topics.len(), "mailbox keeps our topics");
                    let me = self.me;
                    let (Some(r), Some(p)) =
                        (self.relays.get_mut(&peer), self.peers.get_mut(&peer))
                    else {
                        return;
                    };
                    // Answers to a keep list sent in parts add up; only what we asked counts.
                    for t in topics {
                        let Some(members) = r.asked.get(&t) else {
                            continue;
                        };
                        r.holds_for.extend(members.iter().filter(|d| **d != me));
                        if !p.shared.contains(&t) {
                            p.shared.push(t);
                        }
                    }
                    r.kept = p.shared.len();
                    self.node.emit(Event::RelayChanged);
                    self.update_paths();
                    self.send_sync(peer);
                }
                mailbox::Response::Refused => {
                    tracing::warn!(relay = %peer, "mailbox refused our keep request");
                    if let Some(r) = self.relays.get_mut(&peer) {
                        r.kept_at = None;
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "mailbox request failed; asking again later");
                if let Some(r) = self.relays.get_mut(&peer) {
                    r.kept_at = None;
                }
            }
            _ => {}
        }
    }

    /// Dials peers seen on the LAN that are devices we know and are not connected to.
    fn dial_discovered(&self) {
        let found: HashMap<PeerId, Vec<Multiaddr>> = self
            .discovered
            .iter()
            .filter(|(p, _)| !self.directly_connected(p))
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
                    self.pending_push.remove(&request_id);
                    self.on_response(peer, response);
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                error,
                request_id,
                ..
            } => {
                self.pending_sync.remove(&request_id);
                tracing::debug!(%peer, %error, "sync request failed");
                // A lost push: the peer may hold none of what it carried.
                if let (Some(topics), Some(p)) = (
                    self.pending_push.remove(&request_id),
                    self.peers.get_mut(&peer),
                ) {
                    for t in topics {
                        p.known.0.remove(&t);
                    }
                }
                // One of several connections to the peer closed under the request (a relayed
                // one giving way to a direct one): ask again now, over what remains, rather
                // than at the next periodic sync.
                if matches!(error, request_response::OutboundFailure::ConnectionClosed)
                    && self.swarm.is_connected(&peer)
                {
                    self.send_sync(peer);
                }
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
        // Family devices ask; a relay's mailbox only answers.
        let Some(p) = self.peers.get_mut(&peer).filter(|p| !p.mailbox) else {
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
                // Only what we share is worth remembering: a stranger naming thousands of
                // topics, or claiming to reach our family, grows nothing here.
                for (t, a) in &theirs.0 {
                    if p.shared.contains(t) {
                        p.known.0.insert(*t, a.clone());
                    }
                }
                p.reach = family_reach(p, reach);
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
                tokio::spawn(async move {
                    let envs: Vec<Vec<u8>> = envelopes.into_iter().map(|b| b.into_vec()).collect();
                    let (new, gap) = ingest_from(&node, device, false, envs).await;
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
                    if p.mailbox {
                        // What the mailbox holds of ours: "handed to a mailbox".
                        let mine: Vec<(TopicId, u64)> = theirs
                            .0
                            .iter()
                            .filter(|(t, _)| p.shared.contains(t))
                            .filter_map(|(t, a)| a.get(&self.me).map(|h| (*t, *h)))
                            .filter(|(_, h)| *h > 0)
                            .collect();
                        if !mine.is_empty() {
                            let node = self.node.clone();
                            tokio::spawn(async move {
                                if let Err(e) = node.note_in_mailbox(mine).await {
                                    tracing::warn!(error = %e, "could not record what a mailbox holds");
                                }
                            });
                        }
                    }
                    // Their answer is what they hold: of a shared topic it does not name,
                    // nothing (an inviter does not name the invite's topic to us until our
                    // contact request is in). What we believed they held gives way: a push
                    // can be lost without a failure we see (a connection replaced mid-way).
                    // While views of membership differ, this re-offers a topic each round;
                    // they converge within a round or two.
                    for t in &p.shared {
                        let held = theirs.0.get(t).cloned().unwrap_or_default();
                        p.known.0.insert(*t, held);
                    }
                    p.reach = family_reach(p, reach);
                    // Whatever they lack of the shared topics gets pushed.
                    let shared = p.shared.clone();
                    self.dirty.extend(shared);
                }
                self.update_paths();
                self.maybe_flush();
                if more {
                    self.request_next_batch(peer, &envelopes);
                }
                let Some((device, mailbox)) = self.peers.get(&peer).map(|p| (p.device, p.mailbox))
                else {
                    return;
                };
                let node = self.node.clone();
                let itx = self.itx.clone();
                tokio::spawn(async move {
                    let envs: Vec<Vec<u8>> = envelopes.into_iter().map(|b| b.into_vec()).collect();
                    let (_, gap) = ingest_from(&node, device, mailbox, envs).await;
                    let _ = itx.send(Internal::Ingested { from: peer, gap }).await;
                });
            }
            Response::Pushed { new } => {
                // A mailbox took our deposit: ask what it holds now, for "handed to a mailbox".
                if new > 0 && self.peers.get(&peer).is_some_and(|p| p.mailbox) {
                    self.send_sync(peer);
                }
            }
            Response::Refused => {}
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
        // Only family: a peer we share no conversation with is nobody's path, not even its
        // own (strangers come and go by the thousand and would otherwise stay listed).
        let family = || {
            self.peers
                .values()
                .filter(|p| !p.mailbox && !p.shared.is_empty())
        };
        for p in family() {
            now.insert(p.device, best_path(p));
        }
        for p in family() {
            for d in &p.reach {
                if *d != self.me && !now.contains_key(d) {
                    now.insert(*d, Path::Mesh { via: p.device });
                }
            }
        }
        // Not reachable now: mailbox only if a connected mailbox keeps mail for that device.
        let unreachable = |d: &DeviceId| {
            let mailbox = self.relays.iter().any(|(peer, r)| {
                r.holds_for.contains(d) && self.peers.get(peer).is_some_and(|p| p.mailbox)
            });
            if mailbox {
                Path::Mailbox
            } else {
                Path::None
            }
        };
        let mut held: BTreeSet<DeviceId> = BTreeSet::new();
        for r in self.relays.values() {
            held.extend(r.holds_for.iter().copied());
        }
        for d in self.paths.keys().chain(held.iter()) {
            if !now.contains_key(d) {
                now.insert(*d, unreachable(d));
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

/// Ingests envelopes from a peer: only for topics it shares with us, or our open invites; from
/// a mailbox, for any topic we hold (the engine checks every author as for any envelope).
/// Returns (how many are new, whether a gap appeared).
async fn ingest_from(
    node: &Node,
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

/// The best of a peer's open connections: LAN, then direct, then relayed.
fn best_path(p: &Peer) -> Path {
    let mut best = Path::None;
    for (addr, relayed) in p.conns.values() {
        let path = if *relayed {
            Path::Relayed
        } else if is_lan(addr) {
            Path::Lan
        } else {
            Path::Direct
        };
        if path.rank() > best.rank() {
            best = path;
        }
    }
    if best == Path::None {
        // Connected, whatever the connection: the address it was first seen at decides.
        best = if is_lan(&p.addr) {
            Path::Lan
        } else {
            Path::Direct
        };
    }
    best
}

/// A peer's reach list, kept only from family (a peer we share a conversation with), and only
/// as long as the protocol allows.
fn family_reach(p: &Peer, reach: Vec<DeviceId>) -> Vec<DeviceId> {
    if p.shared.is_empty() {
        return Vec::new();
    }
    let mut reach = reach;
    reach.truncate(protocol::MAX_AUTHORS);
    reach
}
