//! The relay's event loop: owns its swarm; mailbox work runs on blocking threads against the
//! mailbox database and reports back on an internal channel, so the loop never waits on disk.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, relay, tcp, yamux, Multiaddr, PeerId, Swarm};
use rusqlite::Connection;
use serde_bytes::ByteBuf;
use tokio::sync::{broadcast, mpsc, oneshot, Semaphore};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::per_ip::Source;
use super::{Command, Config, Handle, RelayEvent, Status};
use crate::blob::protocol as blob;
use crate::error::{Error, Result};
use crate::ids::DeviceId;
use crate::mailbox::{blob_protocol as blob_mailbox, blobs, protocol as mailbox, store, Limits};
use crate::sync::protocol::{self as sync, Request, Response};

/// How often expired mail is dropped.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// Mailbox requests in flight at once; beyond that a request is refused, not queued, so a
/// flood cannot grow memory.
const MAX_IN_FLIGHT: usize = 64;
/// Of those, at most this many from one network source, so that one machine flooding the
/// mailbox cannot starve the families using it (half: a device flushing a long catch-up has
/// up to eight pushes per conversation in flight, and a household shares its source).
const MAX_IN_FLIGHT_PER_SOURCE: usize = 32;
/// Idle connections close after this long (clients ping, so family connections stay).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

enum Internal {
    Sync(ResponseChannel<Response>, Response),
    Mailbox(ResponseChannel<mailbox::Response>, mailbox::Response),
    BlobMailbox(
        ResponseChannel<blob_mailbox::Response>,
        blob_mailbox::Response,
    ),
    Blob(ResponseChannel<blob::Response>, blob::Response),
}

/// Starts a relay: listens, and serves until stopped.
pub async fn start(cfg: Config) -> Result<Handle> {
    let key = super::load_or_create_key(&cfg.data_dir)?;
    let peer = key.public().to_peer_id();
    let db = {
        let path = cfg.data_dir.join("mailbox.db");
        tokio::task::spawn_blocking(move || store::open(&path))
            .await
            .map_err(|_| Error::Shutdown)??
    };
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| Error::Invalid(format!("network transport: {e}")))?
        .with_quic()
        .with_dns()
        .map_err(|e| Error::Invalid(format!("dns: {e}")))?
        .with_behaviour(|key| Behaviour::new(key, cfg.max_per_source))
        .map_err(|e| Error::Invalid(format!("network behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    for addr in &cfg.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::Invalid(format!("cannot listen on {addr}: {e}")))?;
    }
    for addr in &cfg.external {
        swarm.add_external_address(addr.clone());
    }
    let (tx, rx) = mpsc::channel(16);
    let (itx, irx) = mpsc::channel(MAX_IN_FLIGHT * 2);
    let (events, _) = broadcast::channel(1024);
    let task = Task {
        swarm,
        db: Arc::new(Mutex::new(db)),
        limits: Arc::new(cfg.limits.clone()),
        itx,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        in_flight_by_source: Arc::new(Mutex::new(HashMap::new())),
        events: events.clone(),
        reservations: HashSet::new(),
        circuits: 0,
        announced: cfg.external.clone(),
        loopback_only: cfg.listen.iter().all(is_loopback),
    };
    tokio::spawn(tracing::Instrument::instrument(
        task.run(rx, irx),
        tracing::info_span!("relay", %peer),
    ));
    Ok(Handle { tx, peer, events })
}

struct Task {
    swarm: Swarm<Behaviour>,
    db: Arc<Mutex<Connection>>,
    limits: Arc<Limits>,
    itx: mpsc::Sender<Internal>,
    in_flight: Arc<Semaphore>,
    in_flight_by_source: Arc<Mutex<HashMap<Source, usize>>>,
    events: broadcast::Sender<RelayEvent>,
    reservations: HashSet<PeerId>,
    circuits: usize,
    announced: Vec<Multiaddr>,
    loopback_only: bool,
}

fn is_loopback(a: &Multiaddr) -> bool {
    match a.iter().next() {
        Some(libp2p::multiaddr::Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(libp2p::multiaddr::Protocol::Ip6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
    ) {
        let mut purge = tokio::time::interval(PURGE_INTERVAL);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(Command::Stop(done)) => {
                        drop(self);
                        let _ = done.send(());
                        return;
                    }
                    Some(Command::Status(reply)) => self.status(reply),
                    None => return,
                },
                Some(i) = internal.recv() => match i {
                    Internal::Sync(ch, resp) => {
                        let _ = self.swarm.behaviour_mut().sync.send_response(ch, resp);
                    }
                    Internal::Mailbox(ch, resp) => {
                        let _ = self.swarm.behaviour_mut().mailbox.send_response(ch, resp);
                    }
                    Internal::BlobMailbox(ch, resp) => {
                        let _ = self.swarm.behaviour_mut().blob_mailbox.send_response(ch, resp);
                    }
                    Internal::Blob(ch, resp) => {
                        let _ = self.swarm.behaviour_mut().blob.send_response(ch, resp);
                    }
                },
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                _ = purge.tick() => self.purge(),
            }
        }
    }

    fn emit(&self, e: RelayEvent) {
        let _ = self.events.send(e);
    }

    fn addrs(&self) -> Vec<Multiaddr> {
        let peer = *self.swarm.local_peer_id();
        let mut out: Vec<Multiaddr> = self.announced.clone();
        for a in self.swarm.listeners() {
            if !crate::net::addr::is_unspecified(a) && !out.contains(a) {
                out.push(a.clone());
            }
        }
        out.into_iter()
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(peer)))
            .collect()
    }

    fn status(&self, reply: oneshot::Sender<Status>) {
        let db = self.db.clone();
        let status = Status {
            peer: self.swarm.local_peer_id().to_string(),
            addrs: self.addrs().iter().map(|a| a.to_string()).collect(),
            connections: self
                .swarm
                .network_info()
                .connection_counters()
                .num_connections() as usize,
            reservations: self.reservations.len(),
            circuits: self.circuits,
            mailbox: Default::default(),
        };
        tokio::task::spawn_blocking(move || {
            let usage = db
                .lock()
                .ok()
                .and_then(|c| store::usage(&c).ok())
                .unwrap_or_default();
            let _ = reply.send(Status {
                mailbox: usage,
                ..status
            });
        });
    }

    fn purge(&self) {
        let db = self.db.clone();
        let limits = self.limits.clone();
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            let Ok(mut c) = db.lock() else { return };
            match store::purge(&mut c, now_ms(), &limits) {
                Ok(0) => {}
                Ok(n) => {
                    let _ = events.send(RelayEvent::Purged { envelopes: n });
                }
                Err(e) => tracing::warn!(error = %e, "mailbox purge failed"),
            }
        });
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                let full = address.clone().with(libp2p::multiaddr::Protocol::P2p(
                    *self.swarm.local_peer_id(),
                ));
                tracing::info!(addr = %full, "listening");
                if !crate::net::addr::is_unspecified(&full) {
                    // Reservations carry the relay's external addresses (the client builds
                    // its relayed address from them): the ones the operator gave, or else
                    // the concrete listen addresses.
                    // Loopback only when the relay listens on nothing else (a test, a
                    // relay for this machine alone).
                    if self.announced.is_empty() && (!is_loopback(&address) || self.loopback_only) {
                        self.swarm.add_external_address(address);
                    }
                    self.emit(RelayEvent::Listening {
                        addr: full.to_string(),
                    });
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(e)) => self.on_relay(e),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => self.on_sync(peer, request, channel),
            SwarmEvent::Behaviour(BehaviourEvent::Mailbox(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => self.on_keep(peer, request, channel),
            SwarmEvent::Behaviour(BehaviourEvent::BlobMailbox(
                request_response::Event::Message {
                    peer,
                    message:
                        request_response::Message::Request {
                            request, channel, ..
                        },
                    ..
                },
            )) => self.on_blob_deposit(peer, request, channel),
            SwarmEvent::Behaviour(BehaviourEvent::Blob(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => self.on_blob_fetch(peer, request, channel),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::InboundFailure { peer, error, .. },
            )) => tracing::debug!(%peer, %error, "inbound sync failed"),
            _ => {}
        }
    }

    fn on_relay(&mut self, e: relay::Event) {
        match e {
            relay::Event::ReservationReqAccepted { src_peer_id, .. }
                if self.reservations.insert(src_peer_id) =>
            {
                self.emit(RelayEvent::Reserved {
                    peer: src_peer_id.to_string(),
                });
            }
            relay::Event::ReservationClosed { src_peer_id }
            | relay::Event::ReservationTimedOut { src_peer_id }
                if self.reservations.remove(&src_peer_id) =>
            {
                self.emit(RelayEvent::ReservationEnded {
                    peer: src_peer_id.to_string(),
                });
            }
            relay::Event::CircuitReqAccepted {
                src_peer_id,
                dst_peer_id,
            } => {
                self.circuits += 1;
                self.emit(RelayEvent::CircuitOpened {
                    src: src_peer_id.to_string(),
                    dst: dst_peer_id.to_string(),
                });
            }
            relay::Event::CircuitClosed {
                src_peer_id,
                dst_peer_id,
                ..
            } => {
                self.circuits = self.circuits.saturating_sub(1);
                self.emit(RelayEvent::CircuitClosed {
                    src: src_peer_id.to_string(),
                    dst: dst_peer_id.to_string(),
                });
            }
            _ => {}
        }
    }

    /// Runs `work` on the mailbox database off the loop, or refuses at once when too much is
    /// already in flight.
    fn with_db<T: Send + 'static>(
        &self,
        source: Option<Source>,
        work: impl FnOnce(&mut Connection, &Limits) -> Result<T> + Send + 'static,
        done: impl FnOnce(Option<T>) -> Internal + Send + 'static,
    ) -> std::result::Result<(), ()> {
        let share = SourceShare::take(&self.in_flight_by_source, source).ok_or(())?;
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            return Err(());
        };
        let db = self.db.clone();
        let limits = self.limits.clone();
        let itx = self.itx.clone();
        tokio::spawn(async move {
            let out = tokio::task::spawn_blocking(move || {
                let mut c = db.lock().map_err(|_| Error::Shutdown)?;
                work(&mut c, &limits)
            })
            .await;
            drop(permit);
            drop(share);
            let out = match out {
                Ok(Ok(v)) => Some(v),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "mailbox request failed");
                    None
                }
                Err(_) => None,
            };
            let _ = itx.send(done(out)).await;
        });
        Ok(())
    }

    fn on_sync(&mut self, peer: PeerId, req: Request, channel: ResponseChannel<Response>) {
        let device = match (sync::check(&req), device_of(&peer)) {
            (Ok(()), Some(d)) => d,
            _ => {
                tracing::info!(%peer, "peer broke the sync protocol; disconnecting");
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, Response::Refused);
                let _ = self.swarm.disconnect_peer_id(peer);
                return;
            }
        };
        let events = self.events.clone();
        let (work, fallback): (
            Box<dyn FnOnce(&mut Connection, &Limits) -> Result<Response> + Send>,
            _,
        ) = match req {
            Request::Sync { have, .. } => (
                Box::new(move |c: &mut Connection, _: &Limits| {
                    let theirs = sync::from_wire(&have);
                    // Only the topics the requester asks about: anyone can name a device as a
                    // member of junk topics, which must not crowd out its own.
                    let topics: Vec<_> = store::topics_for(c, &device)?
                        .into_iter()
                        .filter(|t| theirs.0.contains_key(t))
                        .collect();
                    let mine = store::have(c, &topics)?;
                    let wants = sync::missing(&mine, &theirs, &topics);
                    let (envs, more) = store::envelopes(c, &wants)?;
                    Ok(Response::Sync {
                        envelopes: envs.into_iter().map(ByteBuf::from).collect(),
                        more,
                        have: sync::to_wire(&mine),
                        reach: Vec::new(),
                    })
                }),
                Response::Refused,
            ),
            Request::Push { envelopes, .. } => (
                Box::new(move |c: &mut Connection, l: &Limits| {
                    let envs: Vec<Vec<u8>> = envelopes.into_iter().map(|b| b.into_vec()).collect();
                    let r = store::deposit(c, &device, &envs, now_ms(), l)?;
                    if r.new > 0 || r.refused > 0 {
                        let _ = events.send(RelayEvent::Deposited {
                            peer: peer.to_string(),
                            new: r.new,
                            refused: r.refused,
                        });
                    }
                    Ok(Response::Pushed { new: r.new })
                }),
                Response::Pushed { new: 0 },
            ),
        };
        // When busy, the channel is dropped unanswered: the peer sees a failed request and
        // retries on its next sync.
        let source = self.swarm.behaviour().per_ip.source_of(&peer);
        let res = self.with_db(source, work, move |out| {
            Internal::Sync(channel, out.unwrap_or(fallback))
        });
        if res.is_err() {
            tracing::debug!(%peer, "mailbox busy; refusing");
        }
    }

    fn on_keep(
        &mut self,
        peer: PeerId,
        req: mailbox::Request,
        channel: ResponseChannel<mailbox::Response>,
    ) {
        let Some(device) = device_of(&peer).filter(|_| mailbox::check(&req)) else {
            let _ = self
                .swarm
                .behaviour_mut()
                .mailbox
                .send_response(channel, mailbox::Response::Refused);
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        };
        let mailbox::Request::Keep { topics, .. } = req;
        let events = self.events.clone();
        let source = self.swarm.behaviour().per_ip.source_of(&peer);
        let source_bytes = source.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
        let _ = self.with_db(
            source,
            move |c, l| {
                let kept = store::keep(c, &device, &source_bytes, &topics, now_ms(), l)?;
                let _ = events.send(RelayEvent::Kept {
                    peer: peer.to_string(),
                    topics: kept.len(),
                });
                Ok(kept)
            },
            move |out| {
                Internal::Mailbox(
                    channel,
                    match out {
                        Some(topics) => mailbox::Response::Kept { topics },
                        None => mailbox::Response::Refused,
                    },
                )
            },
        );
    }
}

impl Task {
    /// A member deposits a blob part, or asks which are held (`mailbox::blobs`).
    fn on_blob_deposit(
        &mut self,
        peer: PeerId,
        req: blob_mailbox::Request,
        channel: ResponseChannel<blob_mailbox::Response>,
    ) {
        let Some(device) = device_of(&peer) else {
            let _ = self
                .swarm
                .behaviour_mut()
                .blob_mailbox
                .send_response(channel, blob_mailbox::Response::Refused);
            return;
        };
        let events = self.events.clone();
        let source = self.swarm.behaviour().per_ip.source_of(&peer);
        let res = self.with_db(
            source,
            move |c, l| {
                use blob_mailbox::Response as R;
                Ok(match req {
                    blob_mailbox::Request::Held { topic, blob } => {
                        match blobs::held(c, &device, &topic, &blob)? {
                            Some(chunks) => R::Held { chunks },
                            None => R::Unknown,
                        }
                    }
                    blob_mailbox::Request::Put {
                        topic,
                        blob,
                        part,
                        bytes,
                    } => {
                        let put = match part {
                            crate::blob::protocol::Part::Manifest => {
                                blobs::put_manifest(c, &device, &topic, &blob, &bytes, now_ms(), l)?
                            }
                            crate::blob::protocol::Part::Chunk(i) => {
                                blobs::put_chunk(c, &device, &blob, i, &bytes, now_ms())?
                            }
                        };
                        if matches!(put, blobs::Put::Full | blobs::Put::Refused) {
                            let _ = events.send(RelayEvent::BlobRefused {
                                peer: peer.to_string(),
                                full: put == blobs::Put::Full,
                            });
                        }
                        match put {
                            blobs::Put::Stored => R::Stored,
                            blobs::Put::Full => R::Full,
                            blobs::Put::Busy => R::Busy,
                            blobs::Put::Refused => R::Refused,
                        }
                    }
                })
            },
            move |out| {
                Internal::BlobMailbox(channel, out.unwrap_or(blob_mailbox::Response::Refused))
            },
        );
        if res.is_err() {
            tracing::debug!(%peer, "mailbox busy; refusing a blob part");
        }
    }

    /// A member fetches a blob part held here, as from a peer.
    fn on_blob_fetch(
        &mut self,
        peer: PeerId,
        req: blob::Request,
        channel: ResponseChannel<blob::Response>,
    ) {
        let Some(device) = device_of(&peer) else {
            let _ = self
                .swarm
                .behaviour_mut()
                .blob
                .send_response(channel, blob::Response::Refused);
            return;
        };
        let source = self.swarm.behaviour().per_ip.source_of(&peer);
        let res = self.with_db(
            source,
            move |c, _| blobs::part(c, &device, &req.blob, req.part),
            move |out| Internal::Blob(channel, out.unwrap_or(blob::Response::Missing)),
        );
        if res.is_err() {
            tracing::debug!(%peer, "mailbox busy; a blob fetch waits");
        }
    }
}

/// One request's place among those in flight from its network source; given back on drop.
struct SourceShare {
    counts: Arc<Mutex<HashMap<Source, usize>>>,
    source: Option<Source>,
}

impl SourceShare {
    /// None when that source already has its share in flight.
    fn take(counts: &Arc<Mutex<HashMap<Source, usize>>>, source: Option<Source>) -> Option<Self> {
        if let Some(s) = source {
            let mut m = counts.lock().ok()?;
            let n = m.entry(s).or_default();
            if *n >= MAX_IN_FLIGHT_PER_SOURCE {
                return None;
            }
            *n += 1;
        }
        Some(SourceShare {
            counts: counts.clone(),
            source,
        })
    }
}

impl Drop for SourceShare {
    fn drop(&mut self) {
        let (Some(s), Ok(mut m)) = (self.source, self.counts.lock()) else {
            return;
        };
        if let Some(n) = m.get_mut(&s) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&s);
            }
        }
    }
}
