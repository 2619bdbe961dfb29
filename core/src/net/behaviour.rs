//! The libp2p behaviours of a Hearth node, combined.

use std::time::Duration;

use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    autonat, connection_limits, dcutr, identify, kad, mdns, memory_connection_limits, ping, relay,
    request_response, StreamProtocol,
};

use crate::mailbox::protocol as mailbox;
use crate::sync::protocol::{Request, Response, MAX_MESSAGE_BYTES, PROTOCOL};

/// Connections at most: a family plus a few strangers on the same Wi-Fi.
const MAX_CONNECTIONS: u32 = 256;
/// Per peer: a LAN and a direct connection, and the relayed ones that found it first (both
/// sides dial each other through each other's relays at once, one circuit per relay). At 4,
/// the direct connection a hole punch made was refused as the fifth, and the punch "failed".
const MAX_PER_PEER: u32 = 8;
const MAX_PENDING: u32 = 64;
/// Refuse new connections when the process uses more than this much memory.
const MAX_MEMORY_BYTES: usize = 512 * 1024 * 1024;
/// Slow mobile links: a whole batch may take a while.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A newly started peer is seen within about this long.
pub const MDNS_QUERY_INTERVAL: Duration = Duration::from_millis(800);
const MDNS_TTL: Duration = Duration::from_secs(30);

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub limits: connection_limits::Behaviour,
    pub memory: memory_connection_limits::Behaviour,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    pub sync: request_response::cbor::Behaviour<Request, Response>,
    /// Photos, voice messages and files, chunk by chunk (`blob_io`).
    pub blob: request_response::cbor::Behaviour<
        crate::blob::protocol::Request,
        crate::blob::protocol::Response,
    >,
    /// Beyond the LAN (all off in LAN-only mode): reservations and circuits through relays,
    /// hole punching, whether we are reachable directly, and keeping topics in
    /// relays' mailboxes.
    pub relay: Toggle<relay::client::Behaviour>,
    pub dcutr: Toggle<dcutr::Behaviour>,
    pub autonat: Toggle<autonat::v2::client::Behaviour>,
    pub mailbox: request_response::cbor::Behaviour<mailbox::Request, mailbox::Response>,
    /// Depositing the blobs we send with those mailboxes (`blob_deposit`).
    pub blob_mailbox: request_response::cbor::Behaviour<
        crate::mailbox::blob_protocol::Request,
        crate::mailbox::blob_protocol::Response,
    >,
    /// The public network plane (`public`): the Amino DHT. Off in LAN-only mode and when the
    /// person turned "find family through the public internet" off.
    pub kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
}

impl Behaviour {
    /// `relay` is the relay client the swarm builder made; None in LAN-only mode. `public`
    /// turns the DHT on (never without a relay client: LAN-only mode has neither).
    pub fn new(
        key: &libp2p::identity::Keypair,
        use_mdns: bool,
        relay: Option<relay::client::Behaviour>,
        public: bool,
    ) -> std::io::Result<Self> {
        let local = key.public().to_peer_id();
        let wide = relay.is_some();
        let mdns = if use_mdns {
            let cfg = mdns::Config {
                ttl: MDNS_TTL,
                query_interval: MDNS_QUERY_INTERVAL,
                enable_ipv6: false,
            };
            Some(mdns::tokio::Behaviour::new(cfg, key.public().to_peer_id())?)
        } else {
            None
        };
        let codec = request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(MAX_MESSAGE_BYTES)
            .set_response_size_maximum(MAX_MESSAGE_BYTES);
        Ok(Behaviour {
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
                    .with_agent_version(format!("hearth/{}", env!("CARGO_PKG_VERSION")))
                    .with_hide_listen_addrs(true)
                    // A new relay reservation is a new address: family connected to us learn
                    // it at once (and remember it), not at the next identify in 5 minutes.
                    .with_push_listen_addr_updates(true),
            ),
            ping: ping::Behaviour::default(),
            mdns: Toggle::from(mdns),
            sync: request_response::Behaviour::with_codec(
                codec,
                [(
                    StreamProtocol::new(PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
            ),
            blob: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(1024)
                    .set_response_size_maximum(crate::blob::protocol::MAX_MESSAGE_BYTES),
                [(
                    StreamProtocol::new(crate::blob::protocol::PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(64),
            ),
            relay: Toggle::from(relay),
            dcutr: Toggle::from(wide.then(|| dcutr::Behaviour::new(local))),
            autonat: Toggle::from(wide.then(autonat::v2::client::Behaviour::default)),
            mailbox: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(mailbox::MAX_MESSAGE_BYTES)
                    .set_response_size_maximum(mailbox::MAX_MESSAGE_BYTES),
                [(
                    StreamProtocol::new(mailbox::PROTOCOL),
                    request_response::ProtocolSupport::Outbound,
                )],
                request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
            ),
            blob_mailbox: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(crate::mailbox::blob_protocol::MAX_MESSAGE_BYTES)
                    .set_response_size_maximum(4096),
                [(
                    StreamProtocol::new(crate::mailbox::blob_protocol::PROTOCOL),
                    request_response::ProtocolSupport::Outbound,
                )],
                request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
            ),
            kad: Toggle::from((wide && public).then(|| super::public::dht(local))),
        })
    }
}
