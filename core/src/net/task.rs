//! The net task: the event loop that owns the swarm, and the connections to each peer.
//!
//! The jobs around it live beside it: building the swarm (`swarm`), the sync session's
//! decisions carried out (`sync_io`; the decisions themselves are `sync::session`), paths
//! (`paths`), relays (`relays`), the mailbox client (`mailbox_client`), dialling and discovery
//! (`dial`), and status (`status`).
//!
//! The loop never waits on the database: store work (which topics a peer shares, the envelopes
//! it lacks, ingesting what arrived) runs as background work the task owns (a `JoinSet` polled
//! in its `select!`, so it ends with the task), and reports back as [`Internal`] messages.
//! `select!` order: commands first (a stop is never starved), then finished store work, then
//! topics with new envelopes (`sync::dirty`, which loses nothing, unlike the public event bus
//! the UI reads), then node events, then the swarm, then the timers.

use std::collections::HashMap;

use futures::StreamExt;
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{dcutr, identify, relay, Multiaddr, PeerId, Swarm};
use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;

use super::addr::{is_relayed, is_unspecified, Admission};
use super::behaviour::{Behaviour, BehaviourEvent};
use super::public::Public;
use super::relays::{Relay, RELAY_CHECK_INTERVAL};
use super::rendezvous_io::Rendezvous;
use super::store_handle::Store;
use super::{Command, Config, Handle, Path, ANTI_ENTROPY_INTERVAL, COMMAND_QUEUE};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::DeviceId;
use crate::node::Node;
use crate::sync::dirty::Dirty;
use crate::sync::protocol::Response;
use crate::sync::session::{In, RequestNo, Session};
use crate::sync::store;

/// The connections to one peer.
pub(super) struct Conn {
    pub device: DeviceId,
    /// Where it was first reached.
    pub addr: Multiaddr,
    /// Open connections: remote address, and whether it goes through a relay.
    pub conns: HashMap<ConnectionId, (Multiaddr, bool)>,
    /// One of our relays, synced with as a mailbox (not a family device).
    pub mailbox: bool,
    /// Where it says it listens (identify), for a direct dial beside a relayed connection.
    pub listen: Vec<Multiaddr>,
}

/// Finished store work, back to the loop.
pub(super) enum Internal {
    /// The answer to a request, read from the store.
    Respond(ResponseChannel<Response>, Response),
    /// Store work the sync session asked for, done.
    Sync(In<PeerId>),
    DialKnown(Vec<(PeerId, Vec<Multiaddr>)>),
    /// What to ask a mailbox to keep.
    Keep {
        peer: PeerId,
        topics: Vec<store::Keep>,
    },
    /// Family devices not connected: looked for through the relays.
    Family(Vec<DeviceId>),
    /// Public network peers remembered from earlier runs: id, addresses, relay or not.
    PublicPeers(Vec<(PeerId, Vec<Multiaddr>, bool)>),
    /// Contacts to meet at rendezvous places: channel secret, their devices.
    Rendezvous(Vec<([u8; 32], Vec<DeviceId>)>),
    /// Blobs to fetch, and the manifests of those already on disk (`blob_io`).
    BlobWants(
        Vec<crate::blob::store::Want>,
        Vec<(crate::blob::BlobId, Vec<u8>)>,
    ),
    /// A blob part was written (or not).
    BlobStored(crate::blob::BlobId, crate::blob::protocol::Part, bool),
    /// Sent blobs to offer to the mailboxes (`blob_deposit`).
    BlobDeposits(Vec<crate::blob::store::Deposit>),
    /// A blob part to deposit, read from disk (None: not there any more).
    DepositRead {
        key: super::blob_deposit::Key,
        gen: u64,
        part: crate::blob::protocol::Part,
        bytes: Option<Vec<u8>>,
    },
    /// The answer to a blob request, read from disk.
    RespondBlob(
        ResponseChannel<crate::blob::protocol::Response>,
        crate::blob::protocol::Response,
    ),
}

pub(super) struct Task {
    pub swarm: Swarm<Behaviour>,
    pub store: Store,
    pub admission: Admission,
    pub me: DeviceId,
    pub peers: HashMap<PeerId, Conn>,
    /// The sync state of every connected peer, and what to do next.
    pub sync: Session<PeerId>,
    /// Our sync requests in flight, by libp2p's id, to the session's number.
    pub requests: HashMap<OutboundRequestId, RequestNo>,
    /// Store work in flight.
    pub work: JoinSet<Vec<Internal>>,
    /// Topics with new envelopes to push (marked by the engine after each commit).
    pub dirty: Dirty,
    pub paths: HashMap<DeviceId, Path>,
    /// Peers seen by mDNS and their addresses: dialed once we know them (a stranger on the
    /// LAN may become a fellow member later).
    pub discovered: HashMap<PeerId, Vec<Multiaddr>>,
    /// The configured relays and the public relays in use (none in LAN-only mode), by peer
    /// id.
    pub relays: HashMap<PeerId, Relay>,
    /// The public network plane (`public`).
    pub public: Public,
    /// Rendezvous on the DHT (`rendezvous_io`).
    pub rendezvous: Rendezvous,
    /// Blob fetching and serving (`blob_io`).
    pub blobs: super::blob_io::Blobs,
    /// Sent blobs on their way to the mailboxes (`blob_deposit`).
    pub deposits: super::blob_deposit::Deposits,
    /// Family devices reached only through relays, and their next hole punch (`punch`).
    pub punches: super::punch::Punches,
}

pub(super) fn device_of(peer: &PeerId) -> Option<DeviceId> {
    libp2p::identity::PublicKey::try_decode_protobuf(peer.as_ref().digest())
        .ok()
        .and_then(|k| k.try_into_ed25519().ok())
        .map(|k| DeviceId(k.to_bytes()))
}

pub(crate) fn spawn(node: Node, cfg: Config, keypair: libp2p::identity::Keypair) -> Result<Handle> {
    let me = device_of(&keypair.public().to_peer_id())
        .ok_or_else(|| Error::Invalid("device key".into()))?;
    let swarm = super::swarm::build(&cfg, keypair)?;
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let events = node.subscribe();
    let config = std::sync::Arc::new(cfg.clone());
    let mut task = Task {
        swarm,
        store: Store::new(&node),
        admission: Admission::new(cfg.lan_only),
        me,
        peers: HashMap::new(),
        sync: Session::new(me),
        requests: HashMap::new(),
        work: JoinSet::new(),
        dirty: node.dirty(),
        paths: HashMap::new(),
        discovered: HashMap::new(),
        relays: HashMap::new(),
        public: Public::new(
            cfg.public_network && Admission::new(cfg.lan_only).allows_relays(),
            cfg.bootstrap.clone(),
        ),
        rendezvous: Rendezvous::default(),
        blobs: Default::default(),
        deposits: Default::default(),
        punches: Default::default(),
    };
    for addr in cfg.relays.clone() {
        task.add_relay(addr);
    }
    task.maintain_relays();
    task.start_public();
    for a in cfg.dial.clone() {
        task.dial_addr(a);
    }
    task.dial_remembered();
    task.refresh_blobs();
    let span = tracing::info_span!("net", me = %task.me);
    tokio::spawn(tracing::Instrument::instrument(task.run(rx, events), span));
    Ok(Handle { tx, config })
}

impl Task {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut events: broadcast::Receiver<Event>,
    ) {
        let mut tick = tokio::time::interval(ANTI_ENTROPY_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let dirty = self.dirty.clone();
        let mut relay_tick = tokio::time::interval(RELAY_CHECK_INTERVAL);
        relay_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut blob_tick = tokio::time::interval(super::blob_io::RETRY_INTERVAL);
        blob_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                Some(done) = self.work.join_next() => {
                    if let Ok(list) = done {
                        for i in list {
                            self.on_internal(i);
                        }
                    }
                }
                _ = dirty.marked() => {
                    for topic in self.dirty.take() {
                        self.drive(In::EnvelopesAdded(topic));
                    }
                }
                ev = events.recv() => match ev {
                    Ok(e) => self.on_node_event(e),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.drive(In::Tick),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                _ = tick.tick() => {
                    self.drive(In::Tick);
                    self.dial_remembered();
                    self.punch_again();
                    self.find_family();
                    self.rendezvous_round();
                }
                _ = relay_tick.tick(), if !self.relays.is_empty() || self.public.enabled => {
                    self.maintain_public();
                    self.maintain_relays();
                    self.retry_deposits();
                }
                _ = blob_tick.tick(), if self.blobs.active() => self.pump_blobs(),
            }
        }
    }

    /// Runs `read` on the store off the loop; `done` turns its result into messages for the
    /// loop. A read that fails is logged and reports nothing.
    pub(super) fn store_work<T, F, D>(&mut self, read: F, done: D)
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        D: FnOnce(T) -> Vec<Internal> + Send + 'static,
    {
        let store = self.store.clone();
        self.work.spawn(async move {
            match store.read(read).await {
                Ok(v) => done(v),
                Err(e) => {
                    tracing::warn!(error = %e, "network store work failed");
                    Vec::new()
                }
            }
        });
    }

    /// Closes connections and records when each device was last seen.
    fn stop(&mut self) {
        for c in self.peers.values() {
            let node = self.store.clone();
            let d = c.device;
            // Detached on purpose: the task is ending, and the write is one row.
            tokio::spawn(async move {
                let _ = node.remember_peer(d, None).await;
            });
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for p in peers {
            let _ = self.swarm.disconnect_peer_id(p);
        }
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::Dial(addr, reply) => {
                if !self.admission.allows(&addr) {
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
            Command::DialDevice(peer, addrs) => {
                let addrs: Vec<Multiaddr> = addrs
                    .into_iter()
                    .filter(|a| self.admission.allows(a))
                    .collect();
                // Even when connected already (to a family relay that is also the device
                // whose invite this is, say): the answer to an invite opens its connection.
                // A second circuit this makes beside one under way is closed (`punch`).
                if !addrs.is_empty() {
                    self.dial_peer(
                        peer,
                        addrs,
                        libp2p::swarm::dial_opts::PeerCondition::Always,
                        "dial failed",
                    );
                }
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::AddRelay(addr) => {
                // LAN-only mode never uses relays, however they were learned.
                if self.add_relay(addr) {
                    self.maintain_relays();
                }
            }
            Command::Stop(_) => {}
        }
    }

    fn on_internal(&mut self, i: Internal) {
        match i {
            Internal::Respond(channel, resp) => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, resp);
            }
            Internal::Sync(input) => self.drive(input),
            Internal::Keep { peer, topics } => self.keep(peer, topics),
            Internal::Family(devices) => self.look_for(devices),
            Internal::DialKnown(list) => self.dial_known(list),
            Internal::PublicPeers(list) => self.on_remembered_public(list),
            Internal::Rendezvous(list) => self.on_rendezvous(list),
            Internal::BlobWants(wants, manifests) => self.on_blob_wants(wants, manifests),
            Internal::BlobStored(id, part, ok) => self.on_blob_stored(id, part, ok),
            Internal::RespondBlob(channel, resp) => self.respond_blob(channel, resp),
            Internal::BlobDeposits(list) => self.on_blob_deposits(list),
            Internal::DepositRead {
                key,
                gen,
                part,
                bytes,
            } => self.on_deposit_read(key, gen, part, bytes),
        }
    }

    fn on_node_event(&mut self, e: Event) {
        match e {
            // New envelopes come through `dirty`, which loses nothing.
            Event::ContactsChanged | Event::ChatsChanged => {
                tracing::debug!("membership changed");
                // Membership changed: recompute what each peer shares, sync the new topics,
                // and ask the mailboxes to keep them.
                let mailboxes: Vec<PeerId> = self
                    .peers
                    .iter()
                    .filter(|(_, c)| c.mailbox)
                    .map(|(p, _)| *p)
                    .collect();
                for p in mailboxes {
                    self.send_keep(p);
                }
                self.drive(In::MembershipChanged);
                self.dial_remembered();
                self.find_family();
                self.refresh_blobs();
            }
            // A message with an attachment, a tap on a preview, a blob lost on disk.
            Event::MessagesChanged { .. } | Event::MessageReceived { .. } => {
                self.refresh_blobs();
                self.refresh_deposits();
            }
            _ => {}
        }
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                // Relayed addresses are confirmed (and expired) by the relay client itself,
                // public ones by AutoNAT (a public IP behind a firewall is no address at all,
                // and a confirmed one makes this device a DHT server: `public_io`). LAN
                // addresses need no confirmation: identify tells LAN peers about them.
                if !is_unspecified(&address)
                    && !is_relayed(&address)
                    && super::addr::is_lan(&address)
                    && self.admission.allows(&address)
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
            } => self.on_listener_closed(listener_id, &reason),
            SwarmEvent::Behaviour(BehaviourEvent::Relay(
                relay::client::Event::ReservationReqAccepted {
                    relay_peer_id,
                    renewal,
                    ..
                },
            )) => self.on_reserved(relay_peer_id, renewal),
            SwarmEvent::Behaviour(BehaviourEvent::Relay(_)) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Kad(e)) => self.on_kad(e),
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(e)) => self.on_autonat(e),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                self.on_dial_error(peer_id, &error)
            }
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
                    self.store.emit(Event::HolePunch {
                        device,
                        direct: result.is_ok(),
                    });
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mailbox(e)) => self.on_mailbox(e),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(e)) => self.on_mdns(e),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                self.public_identified(peer_id, &info);
                self.on_identified(peer_id, info)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Blob(ev)) => self.on_blob(ev),
            SwarmEvent::Behaviour(BehaviourEvent::BlobMailbox(ev)) => self.on_blob_mailbox(ev),
            _ => {}
        }
    }

    fn on_connected(
        &mut self,
        peer_id: PeerId,
        conn: ConnectionId,
        endpoint: &libp2p::core::ConnectedPoint,
    ) {
        let relayed = endpoint.is_relayed();
        // A circuit someone opened to us names its relay only on our side (our listen
        // address through that relay); the remote side is a bare peer id.
        let addr = match endpoint {
            libp2p::core::ConnectedPoint::Listener { local_addr, .. } if relayed => {
                local_addr.clone()
            }
            _ => endpoint.get_remote_address().clone(),
        };
        if !self.admission.allows_connection(&addr, relayed) {
            let _ = self.swarm.close_connection(conn);
            return;
        }
        let Some(device) = device_of(&peer_id) else {
            // Not a Hearth device (its key is not Ed25519: Kubo's RSA peers, say): a public
            // network peer or a relay we chose, or a stranger with nothing to say to us.
            if !self.public.enabled && !self.relays.contains_key(&peer_id) {
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            return;
        };
        // A relay we use that is a family relay has a mailbox; a public one does not.
        let is_relay = self.relays.get(&peer_id).is_some_and(|r| !r.public);
        if let Some(c) = self.peers.get_mut(&peer_id) {
            if relayed && c.conns.values().any(|(_, r)| !r) {
                // Already direct (LAN or hole-punched): a circuit found late only costs a
                // stranger's relay bandwidth, and requests would be spread over it.
                self.swarm.close_connection(conn);
                return;
            }
            if relayed && self.punches.needless(c, conn, &addr) {
                self.swarm.close_connection(conn);
                return;
            }
            c.conns.insert(conn, (addr, relayed));
            if relayed {
                self.on_circuit(peer_id, conn);
            } else {
                self.punches.forget(&peer_id);
                // A direct connection (LAN, or hole-punched): the relayed ones only cost the
                // relay bandwidth, and requests would be spread over both.
                let relayed_conns: Vec<ConnectionId> = c
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
            Conn {
                device,
                addr: addr.clone(),
                conns: HashMap::from([(conn, (addr.clone(), relayed))]),
                mailbox: is_relay,
                listen: Vec::new(),
            },
        );
        self.drive(In::Connected {
            peer: peer_id,
            device,
            mailbox: is_relay,
        });
        if relayed {
            self.on_circuit(peer_id, conn);
        }
        self.pump_blobs();
        if is_relay {
            self.store.emit(Event::RelayChanged);
            if let Some(r) = self.relays.get_mut(&peer_id) {
                r.kept_at = Some(std::time::Instant::now());
            }
            self.send_keep(peer_id);
            return;
        }
        if relayed {
            // Reached through a relay: try its LAN or direct addresses beside it at once, so the
            // LAN carries what it can and keeps working when the internet goes.
            self.dial_remembered();
        }
        // Remember where we reached it, unless through a relay (the relays are configured).
        let a = (endpoint.is_dialer() && !relayed).then(|| addr.to_string());
        let node = self.store.clone();
        self.work.spawn(async move {
            let _ = node.remember_peer(device, a).await;
            Vec::new()
        });
    }

    fn on_disconnected(&mut self, peer_id: PeerId, conn: ConnectionId, left: u32) {
        if left > 0 {
            if let Some(c) = self.peers.get_mut(&peer_id) {
                c.conns.remove(&conn);
            }
            self.update_paths();
            return;
        }
        self.punches.forget(&peer_id);
        if let Some(c) = self.peers.remove(&peer_id) {
            tracing::info!(peer = %peer_id, "disconnected");
            self.drive(In::Disconnected { peer: peer_id });
            if c.mailbox {
                if let Some(r) = self.relays.get_mut(&peer_id) {
                    r.kept = 0;
                    r.holds_for.clear();
                }
                self.forget_deposits(&peer_id);
                self.store.emit(Event::RelayChanged);
            } else {
                let node = self.store.clone();
                self.work.spawn(async move {
                    let _ = node.remember_peer(c.device, None).await;
                    Vec::new()
                });
                // Lost a family device: look for it through every relay at once (the
                // connection may have gone with a relay that was shut down), and on the LAN
                // (it may have gone with the internet, the device still beside us).
                self.dial_via_relays(peer_id);
                self.dial_remembered();
                // Public relays cut circuits after a few minutes or 128 KiB: go back through
                // the ones it told us it holds reservations on at once.
                let circuits: Vec<Multiaddr> =
                    c.listen.iter().filter(|a| is_relayed(a)).cloned().collect();
                if !circuits.is_empty() {
                    self.dial_peer(
                        peer_id,
                        circuits,
                        libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing,
                        "dial through its relays failed",
                    );
                }
            }
        }
        self.update_paths();
    }
}
