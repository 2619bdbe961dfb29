//! The relay: a headless node anyone can run (an old laptop, a Raspberry Pi, a small server, or
//! a family member's desktop with "be a relay for my family" on) so that families in different
//! homes reach each other without any central service.
//!
//! It speaks only standard libp2p protocols plus Hearth's sync and mailbox protocols:
//! - circuit relay v2 (server), with limits sized for chat — a relayed connection carries a
//!   family's conversation for an hour, not just a hole-punch handshake;
//! - rendezvous (server), a standard service for other libp2p peers (Hearth devices register
//!   nothing there: a stock server lists every registration to anyone, see `net::relays`);
//! - AutoNAT v2 (server), so devices learn whether they are reachable directly;
//! - identify and ping;
//! - the blind [`crate::mailbox`], over `/hearth/mailbox/2` and `/hearth/sync/1`, and its blobs
//!   over `/hearth/blob-mailbox/1` and `/hearth/blob/1`.
//!
//! Its data directory holds its own identity key (so its address survives restarts) and the
//! mailbox database; no member key and no plaintext ever reach it.

mod behaviour;
pub mod per_ip;
mod task;

use std::path::PathBuf;

use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::mailbox::store::Usage;
use crate::mailbox::Limits;

pub use behaviour::MAX_CONNECTIONS_PER_SOURCE;
pub use task::start;

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Addresses others reach this relay at, when they differ from the listen addresses
    /// (behind a port forward). Listen addresses that are concrete are announced anyway.
    pub external: Vec<Multiaddr>,
    pub limits: Limits,
    /// Connections one network source (IPv4 address, IPv6 /64) may hold open.
    pub max_per_source: u32,
}

/// What the relay is doing right now.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub peer: String,
    /// Full addresses to give to clients (`…/p2p/<peer>`).
    pub addrs: Vec<String>,
    pub connections: usize,
    pub reservations: usize,
    pub circuits: usize,
    pub mailbox: Usage,
}

/// Something the relay did, for `hearth relay --json` and the tests.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RelayEvent {
    Listening {
        addr: String,
    },
    Reserved {
        peer: String,
    },
    ReservationEnded {
        peer: String,
    },
    CircuitOpened {
        src: String,
        dst: String,
    },
    CircuitClosed {
        src: String,
        dst: String,
    },
    Kept {
        peer: String,
        topics: usize,
    },
    Deposited {
        peer: String,
        new: u32,
        refused: u32,
    },
    Purged {
        envelopes: u64,
    },
    /// A blob part was refused: over a bound (`full`), or not the peer's to put.
    BlobRefused {
        peer: String,
        full: bool,
    },
}

pub(crate) enum Command {
    Status(oneshot::Sender<Status>),
    Stop(oneshot::Sender<()>),
}

/// The cloneable client of a running relay.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    peer: PeerId,
    events: tokio::sync::broadcast::Sender<RelayEvent>,
}

impl Handle {
    pub fn peer_id(&self) -> PeerId {
        self.peer
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    pub async fn status(&self) -> Result<Status> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Status(tx))
            .await
            .map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Stops the relay; its sockets are closed when this returns.
    pub async fn stop(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Stop(tx))
            .await
            .map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }
}

/// The relay's identity: created once, kept in `relay.key` (owner-only), so that the address
/// families configured keeps working after a restart.
pub fn load_or_create_key(data_dir: &std::path::Path) -> Result<libp2p::identity::Keypair> {
    let path = data_dir.join("relay.key");
    match std::fs::read(&path) {
        Ok(bytes) => libp2p::identity::Keypair::from_protobuf_encoding(&bytes)
            .map_err(|_| Error::Corrupt(format!("relay key {}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::storage::private::dir(data_dir)?;
            let key = libp2p::identity::Keypair::generate_ed25519();
            let bytes = key
                .to_protobuf_encoding()
                .map_err(|e| Error::Invalid(format!("relay key: {e}")))?;
            let tmp = path.with_extension("key.tmp");
            {
                use std::io::Write;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}
