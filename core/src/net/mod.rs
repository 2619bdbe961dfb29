//! The network: one task owns the libp2p `Swarm`; everyone else talks to it through a bounded
//! command channel with reply channels ([`Handle`]). Nobody else touches the swarm.
//!
//! The task connects to family devices (found by mDNS on every interface, by addresses from
//! invites and remembered from last time), runs the sync protocol ([`crate::sync::protocol`])
//! with each of them for the topics they share and nothing else, pushes new envelopes at once,
//! forwards what it learns to its other connected members (the mesh), and keeps the
//! reachability of every device: LAN, direct, relayed, via another member, mailbox only, or
//! none.
//!
//! Beyond the LAN ([`crate::relay`]): the task keeps a reservation on every configured relay
//! (re-reserving with backoff after a relay restarts), dials family through the relays (it
//! publishes no locator of its own: see `relays`), lets DCUtR punch a
//! direct connection through NAT (dropping the relayed one once it has), asks each relay's
//! mailbox to keep its topics and syncs with the mailbox like with a peer: what offline members
//! lack is deposited, and what arrived for us is fetched on connect and every sync round.
//!
//! In LAN-only mode no address outside local networks is ever dialed or announced, and there is
//! no DNS and no relay: a family on one Wi-Fi or phone hotspot with no internet at all. That
//! rule is [`addr::Admission`], the one place it is written.
//!
//! Where to look when a message did not reach Dad: his device's path ([`paths`], shown by
//! `hearth status` and the family board); what is pushed to whom and when it is asked for again
//! ([`crate::sync::session`] and its tests); whether a mailbox keeps his mail (`mailbox_client`,
//! and what it may know: [`crate::mailbox::access`]); how he is dialled (`dial`, `relays`).

pub mod addr;
mod behaviour;
mod blob_deposit;
mod blob_io;
mod dial;
mod ipns;
mod mailbox_client;
pub mod paths;
pub mod public;
mod public_io;
mod punch;
mod relays;
pub mod rendezvous;
mod rendezvous_io;
mod status;
mod store_handle;
mod swarm;
mod sync_io;
mod task;

use std::time::Duration;

use libp2p::Multiaddr;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use ts_rs::TS;

use crate::error::{Error, Result};
use crate::ids::DeviceId;

pub use behaviour::MDNS_QUERY_INTERVAL;
pub(crate) use task::spawn;

/// Commands queued for the net task; callers wait when it is busy.
const COMMAND_QUEUE: usize = 64;
/// How often every connected peer is re-synced, in case a push was lost.
pub const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(15);
/// Connections to family stay open this long without traffic (ping keeps them busy anyway).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug)]
pub struct Config {
    /// Addresses to listen on. Default: every interface, TCP and QUIC, ports chosen by the OS.
    pub listen: Vec<Multiaddr>,
    pub lan_only: bool,
    /// Discover peers with mDNS (off in tests that must not send multicast outside loopback).
    pub mdns: bool,
    /// Extra addresses to dial at start.
    pub dial: Vec<Multiaddr>,
    /// The family's relays (`…/p2p/<relay>`): reservations and mailboxes.
    /// Ignored in LAN-only mode.
    pub relays: Vec<Multiaddr>,
    /// Also serve as a relay and mailbox for the family, listening here ("be a relay for my
    /// family"). Ignored in LAN-only mode.
    pub serve_relay: Option<Vec<Multiaddr>>,
    /// Use the public IPFS/libp2p network (the DHT and public relays) to find family with
    /// nothing configured. Ignored in LAN-only mode.
    pub public_network: bool,
    /// Where the public network plane starts: the IPFS bootstrap peers unless replaced.
    pub bootstrap: Vec<Multiaddr>,
    /// Public Nostr relays used as blind mailboxes (`crate::nostr`); empty: none. Ignored in
    /// LAN-only mode.
    pub nostr_relays: Vec<String>,
    /// Choices made for this run only (command-line flags, environment): they hold across
    /// restarts of the network (a settings change), and are never saved.
    pub run: RunChoices,
}

/// What a run was started with that overrides the saved settings until it ends: `hearth run
/// --no-public-network --no-nostr --nostr-relay URL`, the app's `HEARTH_PUBLIC_NETWORK=0`,
/// `HEARTH_NOSTR=0`, `HEARTH_NOSTR_RELAYS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunChoices {
    pub no_public_network: bool,
    pub no_nostr: bool,
    /// Mailbox relays for this run instead of the saved ones (while mailboxes are on).
    pub nostr_relays: Vec<String>,
}

impl Config {
    /// Applies this run's choices over what the settings gave.
    pub fn apply_run(&mut self) {
        if self.run.no_public_network {
            self.public_network = false;
        }
        if self.run.no_nostr {
            self.nostr_relays.clear();
        } else if !self.nostr_relays.is_empty() && !self.run.nostr_relays.is_empty() {
            self.nostr_relays = self.run.nostr_relays.clone();
        }
    }
}

impl Config {
    /// Where a family device serves as a relay: the port `hearth relay` uses too.
    pub fn default_relay_listen() -> Vec<Multiaddr> {
        ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0"
                    .parse()
                    .unwrap_or_else(|_| Multiaddr::empty()),
                "/ip4/0.0.0.0/udp/0/quic-v1"
                    .parse()
                    .unwrap_or_else(|_| Multiaddr::empty()),
            ],
            lan_only: false,
            mdns: true,
            dial: Vec::new(),
            relays: Vec::new(),
            serve_relay: None,
            public_network: true,
            bootstrap: public::default_bootstrap(),
            nostr_relays: crate::nostr::DEFAULT_RELAYS
                .iter()
                .map(|r| r.to_string())
                .collect(),
            run: RunChoices::default(),
        }
    }
}

/// How a device is reached right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "path", rename_all = "snake_case")]
pub enum Path {
    /// A direct connection inside a local network.
    Lan,
    /// A direct connection over the internet (possibly hole-punched through NAT).
    Direct,
    /// A connection through a relay (circuit relay v2).
    Relayed,
    /// Not connected, but a connected member is, and carries messages both ways.
    Mesh {
        via: DeviceId,
    },
    /// Not connected to anyone who has it, but a mailbox keeps messages for it.
    Mailbox,
    None,
}

impl Path {
    /// Better paths rank higher (see [`crate::reach::Path::rank`]).
    pub fn rank(&self) -> u8 {
        crate::reach::Path::from(self).rank()
    }
}

/// One configured relay, as this node sees it.
#[derive(Clone, Debug, Serialize, TS)]
pub struct RelayStatus {
    pub addr: String,
    /// A connection to it is open.
    pub connected: bool,
    /// It holds a reservation for us: family can reach us through it.
    pub reserved: bool,
    /// Its mailbox keeps this many of our topics.
    pub kept: usize,
    /// It offers a mailbox (false for a stock libp2p relay, and for public relays).
    pub mailbox: bool,
    /// A public relay found on the public network (no mailbox; limited circuits), not one
    /// the family configured.
    pub public: bool,
    /// Why the last attempt to reach it or reserve on it failed, in words (shown by
    /// `hearth status` and the app, not only in a debug log).
    pub error: Option<String>,
    /// The devices whose mail it keeps for us (members of those topics).
    #[serde(skip)]
    pub holds_for: Vec<DeviceId>,
}

/// The public network plane, as this node sees it.
#[derive(Clone, Debug, Serialize, TS)]
pub struct PublicStatus {
    /// "client" behind NAT (the normal case), "server" once AutoNAT confirmed a direct public
    /// address.
    pub dht_mode: String,
    /// Public peers connected right now.
    pub connected: usize,
    /// Public peers identified as speaking the DHT, and as offering relay service.
    pub dht_peers: usize,
    pub relay_candidates: usize,
    /// Why the public network cannot be reached, if it cannot.
    pub problem: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PeerStatus {
    pub device: DeviceId,
    pub path: Path,
    pub addr: Option<String>,
    /// Relayed through a public relay (a stranger's, found on the public network), not one
    /// of the family's.
    pub public_relay: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(rename = "NetworkStatus")]
pub struct Status {
    pub device: DeviceId,
    pub listen: Vec<String>,
    pub lan_only: bool,
    /// Per-device paths; the UI does not read them.
    #[ts(type = "unknown[]")]
    pub peers: Vec<PeerStatus>,
    /// Empty in LAN-only mode (relays are not used).
    pub relays: Vec<RelayStatus>,
    /// The public network plane; None when it is off (LAN-only mode, or turned off).
    pub public: Option<PublicStatus>,
    /// Public mailboxes (Nostr relays, `crate::nostr`) are in use and one is connected: a
    /// device with no path is still reached through them.
    pub public_mailboxes: bool,
    /// Entries the net task holds about peers (connections, paths, what each holds and
    /// reaches): how much state others have made this node keep.
    #[serde(skip)]
    pub tracked: usize,
    /// Blob parts received that did not match their blob, and blob requests refused because
    /// the asker is not a member of a conversation naming the blob (for the attack tests).
    #[serde(skip)]
    pub blob_parts_refused: u64,
    #[serde(skip)]
    pub blob_requests_refused: u64,
    /// Blobs we sent that a mailbox now holds whole because we deposited them there.
    #[serde(skip)]
    pub blobs_deposited: u64,
}

impl Status {
    /// True if a mailbox we are connected to keeps mail for `device` right now.
    pub fn mailbox_for(&self, device: &DeviceId) -> bool {
        self.relays
            .iter()
            .any(|r| r.connected && r.holds_for.contains(device))
    }
}

pub(crate) enum Command {
    Dial(Multiaddr, oneshot::Sender<Result<()>>),
    /// Reach one device at any of these addresses: one connection, whichever answers first.
    DialDevice(libp2p::PeerId, Vec<Multiaddr>),
    Status(oneshot::Sender<Status>),
    /// Start using one more relay (learned from an invite).
    AddRelay(Multiaddr),
    Stop(oneshot::Sender<()>),
}

/// The cloneable client of the net task.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    config: std::sync::Arc<Config>,
}

impl Handle {
    /// The configuration the network was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    pub async fn dial(&self, addr: Multiaddr) -> Result<()> {
        self.ask(|tx| Command::Dial(addr, tx)).await?
    }

    /// Reaches `peer` at whichever of `addrs` answers first: one connection, not one per
    /// address. Two circuits to the same device would each start a hole punch, and their
    /// simultaneous dials collide on the same ports.
    pub async fn dial_device(&self, peer: libp2p::PeerId, addrs: Vec<Multiaddr>) -> Result<()> {
        self.tx
            .send(Command::DialDevice(peer, addrs))
            .await
            .map_err(|_| Error::Shutdown)
    }

    /// Starts using one more relay, without a restart (ignored in LAN-only mode).
    pub async fn add_relay(&self, addr: Multiaddr) -> Result<()> {
        self.tx
            .send(Command::AddRelay(addr))
            .await
            .map_err(|_| Error::Shutdown)
    }

    pub async fn status(&self) -> Result<Status> {
        self.ask(Command::Status).await
    }

    pub async fn stop(&self) -> Result<()> {
        self.ask(Command::Stop).await
    }
}
