//! A real relay (`hearth_core::relay`) in this process on loopback, nodes configured with it,
//! and what a test reads of the relay's files afterwards.

use std::time::Duration;

use futures::StreamExt;
use hearth_core::relay;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, Swarm};

use super::{eventually, loopback, Peer};

pub async fn start_relay(dir: &std::path::Path) -> (relay::Handle, Multiaddr) {
    start_relay_with(dir, Default::default()).await
}

pub async fn start_relay_with(
    dir: &std::path::Path,
    limits: hearth_core::mailbox::Limits,
) -> (relay::Handle, Multiaddr) {
    // HEARTH_LOG=debug shows what the relay and nodes do.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("HEARTH_LOG"))
        .with_writer(std::io::stderr)
        .try_init();
    let h = relay::start(relay::Config {
        data_dir: dir.to_path_buf(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        external: vec![],
        limits,
        max_per_source: relay::MAX_CONNECTIONS_PER_SOURCE,
    })
    .await
    .expect("relay");
    let mut addr = None;
    for _ in 0..200 {
        let s = h.status().await.unwrap();
        if let Some(a) = s.addrs.first() {
            addr = Some(a.parse().unwrap());
            break;
        }
        // The listener is bound in the relay's own task, a moment after start returns.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (h, addr.expect("relay address"))
}

/// Loopback networking, not LAN-only (relays are not used in LAN-only mode), with a relay.
pub fn with_relay(relay: &Multiaddr) -> hearth_core::net::Config {
    hearth_core::net::Config {
        lan_only: false,
        relays: vec![relay.clone()],
        ..loopback()
    }
}

/// Waits until a relay's mailbox keeps `p`'s topics and `p` holds a reservation there.
pub async fn wait_kept(p: &Peer) {
    eventually("the mailbox keeps our topics", || async {
        p.node
            .network_status()
            .await
            .unwrap()
            .map(|s| s.relays.iter().any(|r| r.kept > 0 && r.reserved))
            .unwrap_or(false)
    })
    .await;
}

/// Every byte of every file under `dir`.
pub fn all_bytes_under(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes_under(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Connects a test's own libp2p peer (a stranger, a modified client) to the relay.
pub async fn dial_relay<B: NetworkBehaviour>(s: &mut Swarm<B>, addr: &Multiaddr) -> libp2p::PeerId {
    s.dial(addr.clone()).unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
            .await
            .expect("connected in time")
        {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => return peer_id,
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                panic!("cannot reach the relay: {error}")
            }
            _ => {}
        }
    }
}
