//! The relay's libp2p behaviours, with every limit chosen for chat traffic.

use std::num::NonZeroU32;
use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    autonat, connection_limits, identify, memory_connection_limits, ping, relay, rendezvous,
    request_response, PeerId, StreamProtocol,
};

use crate::blob::protocol as blob;
use crate::mailbox::blob_protocol as blob_mailbox;
use crate::mailbox::protocol as mailbox;
use crate::sync::protocol as sync;

/// Connections at most: a few hundred families' devices.
const MAX_CONNECTIONS: u32 = 2048;
const MAX_PER_PEER: u32 = 8;
const MAX_PENDING: u32 = 256;
/// Connections open or opening from one network source (an IPv4 address or IPv6 /64): a
/// household's devices, each with a connection or two. Reservations and circuits live on
/// connections, so this also bounds what one machine can hold of those, whatever number of
/// peer ids it makes up: 1,024 reservations need at least 16 sources. An operator whose
/// families sit behind one shared NAT raises it (`hearth relay --max-per-source`).
pub const MAX_CONNECTIONS_PER_SOURCE: u32 = 64;
/// Refuse new connections when the relay process uses more than this much memory.
pub const MAX_MEMORY_BYTES: usize = 512 * 1024 * 1024;

/// A relayed connection carries a conversation, not just a hole-punch handshake: an hour and
/// 64 MiB each way before the client re-opens it (libp2p's defaults are 2 minutes and 128 KiB).
pub const MAX_CIRCUIT_DURATION: Duration = Duration::from_secs(3600);
pub const MAX_CIRCUIT_BYTES: u64 = 64 << 20;
const MAX_RESERVATIONS: usize = 1024;
const MAX_RESERVATIONS_PER_PEER: usize = 4;
const MAX_CIRCUITS: usize = 1024;
const MAX_CIRCUITS_PER_PEER: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Rendezvous registrations live 2 h (clients refresh every hour) and at most 3 days.
const RENDEZVOUS_MIN_TTL: u64 = 2 * 3600;
const RENDEZVOUS_MAX_TTL: u64 = 72 * 3600;

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub per_ip: super::per_ip::Behaviour,
    pub limits: connection_limits::Behaviour,
    pub memory: memory_connection_limits::Behaviour,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub relay: relay::Behaviour,
    pub rendezvous: rendezvous::server::Behaviour,
    pub autonat: autonat::v2::server::Behaviour,
    pub sync: request_response::cbor::Behaviour<sync::Request, sync::Response>,
    pub mailbox: request_response::cbor::Behaviour<mailbox::Request, mailbox::Response>,
    /// Members deposit blob parts for members who are offline…
    pub blob_mailbox:
        request_response::cbor::Behaviour<blob_mailbox::Request, blob_mailbox::Response>,
    /// …who fetch them as from a peer.
    pub blob: request_response::cbor::Behaviour<blob::Request, blob::Response>,
}

fn per(limit: u32, interval: Duration) -> (NonZeroU32, Duration) {
    (NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN), interval)
}

/// The relay's limits; `per_source` is the connections one network source may hold, and the
/// per-IP reservation and circuit bursts follow from it.
pub fn relay_config(per_source: u32) -> relay::Config {
    let mut cfg = relay::Config {
        max_reservations: MAX_RESERVATIONS,
        max_reservations_per_peer: MAX_RESERVATIONS_PER_PEER,
        max_circuits: MAX_CIRCUITS,
        max_circuits_per_peer: MAX_CIRCUITS_PER_PEER,
        max_circuit_duration: MAX_CIRCUIT_DURATION,
        max_circuit_bytes: MAX_CIRCUIT_BYTES,
        reservation_rate_limiters: Vec::new(),
        circuit_src_rate_limiters: Vec::new(),
        ..relay::Config::default()
    };
    // Token buckets: a burst, then one more every interval. A whole family behind one home
    // NAT shares an IP, so the per-IP buckets are wider than the per-peer ones; a device
    // renews its reservation about once an hour and opens a circuit per family device.
    let (n, i) = per(8, Duration::from_secs(30));
    cfg = cfg.reservation_rate_per_peer(n, i);
    let (n, i) = per(per_source / 2, Duration::from_secs(10));
    cfg = cfg.reservation_rate_per_ip(n, i);
    let (n, i) = per(32, Duration::from_secs(5));
    cfg = cfg.circuit_src_per_peer(n, i);
    let (n, i) = per(per_source, Duration::from_secs(2));
    cfg.circuit_src_per_ip(n, i)
}

impl Behaviour {
    pub fn new(key: &libp2p::identity::Keypair, per_source: u32) -> Self {
        let local: PeerId = key.public().to_peer_id();
        let mut relay = relay::Behaviour::new(local, relay_config(per_source));
        // The operator says where the relay is reachable; it serves from the start.
        relay.set_status(Some(relay::Status::Enable));
        let sync_codec = request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(sync::MAX_MESSAGE_BYTES)
            .set_response_size_maximum(sync::MAX_MESSAGE_BYTES);
        let mailbox_codec = request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(mailbox::MAX_MESSAGE_BYTES)
            .set_response_size_maximum(mailbox::MAX_MESSAGE_BYTES);
        let rr = request_response::Config::default()
            .with_request_timeout(REQUEST_TIMEOUT)
            .with_max_concurrent_streams(16);
        Behaviour {
            per_ip: super::per_ip::Behaviour::new(per_source as usize),
            limits: connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established(Some(MAX_CONNECTIONS))
                    .with_max_established_per_peer(Some(MAX_PER_PEER))
                    .with_max_pending_incoming(Some(MAX_PENDING))
                    .with_max_pending_outgoing(Some(MAX_PENDING)),
            ),
            memory: memory_connection_limits::Behaviour::with_max_bytes(MAX_MEMORY_BYTES),
            identify: identify::Behaviour::new(
                identify::Config::new("/hearth/1".into(), key.public())
                    .with_agent_version(format!("hearth-relay/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::default(),
            relay,
            rendezvous: rendezvous::server::Behaviour::new(
                rendezvous::server::Config::default()
                    .with_min_ttl(RENDEZVOUS_MIN_TTL)
                    .with_max_ttl(RENDEZVOUS_MAX_TTL),
            ),
            autonat: autonat::v2::server::Behaviour::default(),
            sync: request_response::Behaviour::with_codec(
                sync_codec,
                [(
                    StreamProtocol::new(sync::PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                rr.clone(),
            ),
            mailbox: request_response::Behaviour::with_codec(
                mailbox_codec,
                [(
                    StreamProtocol::new(mailbox::PROTOCOL),
                    request_response::ProtocolSupport::Inbound,
                )],
                rr.clone(),
            ),
            blob_mailbox: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(blob_mailbox::MAX_MESSAGE_BYTES)
                    .set_response_size_maximum(blob_mailbox::MAX_MESSAGE_BYTES),
                [(
                    StreamProtocol::new(blob_mailbox::PROTOCOL),
                    request_response::ProtocolSupport::Inbound,
                )],
                rr.clone(),
            ),
            blob: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(blob::MAX_MESSAGE_BYTES)
                    .set_response_size_maximum(blob::MAX_MESSAGE_BYTES),
                [(
                    StreamProtocol::new(blob::PROTOCOL),
                    request_response::ProtocolSupport::Inbound,
                )],
                rr,
            ),
        }
    }
}
