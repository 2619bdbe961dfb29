//! The public network plane: the IPFS Amino DHT and the public circuit relays that thousands of
//! independent Kubo and libp2p nodes run. It is the path that exists with nothing configured:
//! two homes behind NAT, no family relay, and Hearth's own servers (it has none) cannot burn.
//!
//! - **The DHT** (`/ipfs/kad/1.0.0`). We bootstrap from the IPFS bootstrap peers (or the
//!   `--bootstrap` list), and remember the DHT peers we meet, so a later start works when the
//!   bootstrap peers are gone. A device is a DHT *client*, pinned: the relay client confirms
//!   circuit addresses as external addresses, which would flip kad into server mode and make a
//!   phone behind NAT advertise itself as a DHT server nobody can dial. It serves the DHT only
//!   once AutoNAT confirms a direct public address.
//! - **Public relays.** Candidates are peers whose identify lists the circuit relay v2 hop
//!   protocol and a public address. We keep reservations on up to [`PUBLIC_RELAYS`] of them,
//!   on different networks where we can, and replace one that fails. They are limited
//!   (Kubo: 2 minutes, 128 KiB per relayed connection), so they carry the contact handshake,
//!   small pushes and hole punching coordination; DCUtR then moves the family to a direct
//!   connection (`dial`, `task`).
//!
//! Nothing here publishes a name, a device id or a family: the DHT learns that this peer id
//! exists and asks questions, and a relay learns which peers ask it to connect them.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::kad;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, StreamProtocol};

use super::addr::{is_lan, is_loopback, is_relayed, is_unspecified};

/// The Amino DHT's protocol, as Kubo and every public IPFS node speak it.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/kad/1.0.0");
/// Circuit relay v2, the relay side: a peer that lists it will hold reservations.
pub const HOP_PROTOCOL: &str = "/libp2p/circuit/relay/0.2.0/hop";
/// Reservations kept on public relays at once: two or three, so one lost is not a gap.
pub const PUBLIC_RELAYS: usize = 3;
/// A public relay that failed this many times in a row is replaced.
const RELAY_FAILURES: u32 = 3;
/// A relay we replaced is not tried again for this long.
const BENCHED_FOR: Duration = Duration::from_secs(600);
/// Bootstrapping again when it found no one: first after this, doubling up to the maximum.
const BOOTSTRAP_BACKOFF_MIN: Duration = Duration::from_secs(15);
const BOOTSTRAP_BACKOFF_MAX: Duration = Duration::from_secs(1800);
/// Kad refreshes its routing table this often on its own (each refresh is a few queries).
const PERIODIC_BOOTSTRAP: Duration = Duration::from_secs(600);
/// One DHT query gives up after this.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Peers remembered in the database, newest first, and addresses kept for each.
pub const REMEMBERED_PEERS: usize = 64;
pub const ADDRS_PER_PEER: usize = 4;
/// Peers tracked in memory (identified as DHT nodes or relays): bounded whatever others send.
const MAX_KNOWN: usize = 512;
/// A peer is written to the database again at most this often.
const REMEMBER_EVERY: Duration = Duration::from_secs(3600);

/// Where a fresh install starts: Kubo's default bootstrap list (the IPFS bootstrap peers).
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
    "/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8",
    "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYRQpQfctKEDuRSsuJM3ND4p7uRfiAE9",
    "/ip4/104.131.131.82/udp/4001/quic-v1/p2p/QmaCpDMGvV2BGHeYRQpQfctKEDuRSsuJM3ND4p7uRfiAE9",
];

/// The default bootstrap list, parsed.
pub fn default_bootstrap() -> Vec<Multiaddr> {
    DEFAULT_BOOTSTRAP
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// The peer id an address ends with (`…/p2p/<peer>`).
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(p)) => Some(p),
        _ => None,
    }
}

/// An address worth giving the DHT or dialling as a public relay: a public IP (or DNS name),
/// not through a relay, not loopback, unspecified or inside a LAN.
pub fn is_public(addr: &Multiaddr) -> bool {
    !is_relayed(addr) && !is_loopback(addr) && !is_unspecified(addr) && !is_lan(addr)
}

/// The kad behaviour of a device: the Amino DHT protocol, a client until told otherwise.
pub fn dht(local: PeerId) -> kad::Behaviour<kad::store::MemoryStore> {
    let mut cfg = kad::Config::new(KAD_PROTOCOL);
    cfg.set_query_timeout(QUERY_TIMEOUT)
        .set_periodic_bootstrap_interval(Some(PERIODIC_BOOTSTRAP))
        // We store nothing for others while a client; as a server, Kubo's defaults bound it.
        .set_record_filtering(kad::StoreInserts::FilterBoth);
    let mut k = kad::Behaviour::with_config(local, kad::store::MemoryStore::new(local), cfg);
    k.set_mode(Some(kad::Mode::Client));
    k
}

/// A public peer we met: what identify said it speaks, and where it listens.
#[derive(Clone, Debug)]
pub struct Known {
    pub addrs: Vec<Multiaddr>,
    pub dht: bool,
    pub relay: bool,
}

/// What the public plane knows and decided; the swarm work is in `task`/`relays`.
pub(super) struct Public {
    pub enabled: bool,
    pub bootstrap: Vec<Multiaddr>,
    /// Public peers identified, by peer id (bounded).
    pub known: HashMap<PeerId, Known>,
    /// Relays given up on, and until when.
    pub benched: HashMap<PeerId, Instant>,
    /// Serving the DHT (AutoNAT confirmed a direct public address).
    pub server: bool,
    /// When to bootstrap again if the routing table is empty, and the backoff.
    pub bootstrap_at: Instant,
    bootstrap_backoff: Duration,
    /// When each peer was last written to the database.
    remembered_at: HashMap<PeerId, Instant>,
    /// The last failure worth telling the person about (a bootstrap that reached no one).
    pub problem: Option<String>,
}

impl Public {
    pub fn new(enabled: bool, bootstrap: Vec<Multiaddr>) -> Public {
        Public {
            enabled,
            bootstrap,
            known: HashMap::new(),
            benched: HashMap::new(),
            server: false,
            bootstrap_at: Instant::now(),
            bootstrap_backoff: BOOTSTRAP_BACKOFF_MIN,
            remembered_at: HashMap::new(),
            problem: None,
        }
    }

    /// Identify told us what a peer speaks. Returns true if it is a public DHT peer or relay
    /// (then it is tracked).
    pub fn identified(
        &mut self,
        peer: PeerId,
        protocols: &[StreamProtocol],
        listen: &[Multiaddr],
    ) -> bool {
        let dht = protocols.contains(&KAD_PROTOCOL);
        let relay = protocols.iter().any(|p| p.as_ref() == HOP_PROTOCOL);
        let addrs: Vec<Multiaddr> = listen
            .iter()
            .filter(|a| is_public(a))
            .take(ADDRS_PER_PEER)
            .cloned()
            .collect();
        if !(dht || relay) || addrs.is_empty() {
            return false;
        }
        if self.known.len() >= MAX_KNOWN && !self.known.contains_key(&peer) {
            return false;
        }
        self.known.insert(peer, Known { addrs, dht, relay });
        true
    }

    /// Should this peer be written to the database now?
    pub fn due_to_remember(&mut self, peer: PeerId) -> bool {
        let now = Instant::now();
        match self.remembered_at.get(&peer) {
            Some(t) if now.duration_since(*t) < REMEMBER_EVERY => false,
            _ => {
                if self.remembered_at.len() >= MAX_KNOWN {
                    self.remembered_at.clear();
                }
                self.remembered_at.insert(peer, now);
                true
            }
        }
    }

    /// A bootstrap found no one: try again later, backing off.
    pub fn bootstrap_failed(&mut self, why: String) {
        self.problem = Some(why);
        self.bootstrap_at = Instant::now() + self.bootstrap_backoff;
        self.bootstrap_backoff = (self.bootstrap_backoff * 2).min(BOOTSTRAP_BACKOFF_MAX);
    }

    pub fn bootstrap_succeeded(&mut self) {
        self.problem = None;
        self.bootstrap_backoff = BOOTSTRAP_BACKOFF_MIN;
        self.bootstrap_at = Instant::now() + PERIODIC_BOOTSTRAP;
    }

    /// Public relays to reserve on next, given the ones in use: identified relays with a
    /// public address, not benched, on a network (/16) none of ours is on where possible.
    pub fn relay_candidates(&mut self, in_use: &[Multiaddr], want: usize) -> Vec<Multiaddr> {
        let now = Instant::now();
        self.benched.retain(|_, until| *until > now);
        let used_peers: HashSet<PeerId> = in_use.iter().filter_map(peer_of).collect();
        let mut nets: HashSet<[u8; 2]> = in_use.iter().filter_map(network_of).collect();
        let mut pool: Vec<(PeerId, Multiaddr)> = self
            .known
            .iter()
            .filter(|(p, k)| k.relay && !used_peers.contains(p) && !self.benched.contains_key(p))
            .filter_map(|(p, k)| {
                // TCP first: every relay speaks it, and hole punching works over it as well.
                let a = k
                    .addrs
                    .iter()
                    .find(|a| a.iter().any(|p| matches!(p, Protocol::Tcp(_))))
                    .or_else(|| k.addrs.first())?;
                Some((*p, a.clone().with_p2p(*p).ok()?))
            })
            .collect();
        // Deterministic order (by peer id), so restarts prefer the same relays.
        pool.sort_by_key(|(p, _)| p.to_bytes());
        let mut out = Vec::new();
        // First relays on new networks, then any.
        for pass in 0..2 {
            for (_, a) in &pool {
                if out.len() >= want {
                    return out;
                }
                if out.contains(a) {
                    continue;
                }
                let net = network_of(a);
                if pass == 0 && net.is_some_and(|n| nets.contains(&n)) {
                    continue;
                }
                if let Some(n) = net {
                    nets.insert(n);
                }
                out.push(a.clone());
            }
        }
        out
    }

    /// A relay failed too often: replaced, and not tried again for a while.
    pub fn bench(&mut self, relay: PeerId) {
        self.benched.insert(relay, Instant::now() + BENCHED_FOR);
    }
}

/// Failures in a row after which a public relay is replaced.
pub fn too_many_failures(n: u32) -> bool {
    n >= RELAY_FAILURES
}

/// The /16 an IPv4 address is in (a rough "different network"; IPv6 and DNS: none).
fn network_of(addr: &Multiaddr) -> Option<[u8; 2]> {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => {
            let o = ip.octets();
            Some([o[0], o[1]])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    #[test]
    fn relays_are_chosen_on_different_networks_first() {
        let mut p = Public::new(true, Vec::new());
        let protos = [StreamProtocol::new(HOP_PROTOCOL), KAD_PROTOCOL];
        let a: Vec<PeerId> = (0..4).map(|_| peer()).collect();
        let addr = |s: &str| s.parse::<Multiaddr>().unwrap();
        assert!(p.identified(a[0], &protos, &[addr("/ip4/11.1.0.1/tcp/4001")]));
        assert!(p.identified(a[1], &protos, &[addr("/ip4/11.1.0.2/tcp/4001")]));
        assert!(p.identified(a[2], &protos, &[addr("/ip4/11.2.0.1/tcp/4001")]));
        // Only private addresses: not a public relay.
        assert!(!p.identified(a[3], &protos, &[addr("/ip4/192.168.1.2/tcp/4001")]));
        let two = p.relay_candidates(&[], 2);
        let nets: HashSet<_> = two.iter().filter_map(network_of).collect();
        assert_eq!(two.len(), 2);
        assert_eq!(nets.len(), 2, "{two:?}");
        // Benched relays are not offered; with networks used up, the same network is fine.
        p.bench(a[2]);
        let c = p.relay_candidates(&[], 3);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|x| peer_of(x) != Some(a[2])));
    }

    #[test]
    fn a_bootstrap_that_reaches_no_one_backs_off_up_to_half_an_hour() {
        let mut p = Public::new(true, Vec::new());
        let before = Instant::now();
        p.bootstrap_failed("no one".into());
        // The first retry waits at least the minimum.
        assert!(p.bootstrap_at.duration_since(before) >= BOOTSTRAP_BACKOFF_MIN);
        let mut backoffs = vec![p.bootstrap_backoff];
        for _ in 0..12 {
            p.bootstrap_failed("no one".into());
            backoffs.push(p.bootstrap_backoff);
        }
        // Each wait doubles the last, up to the maximum and never beyond.
        assert_eq!(backoffs[0], BOOTSTRAP_BACKOFF_MIN * 2);
        assert!(backoffs
            .windows(2)
            .all(|w| w[1] == (w[0] * 2).min(BOOTSTRAP_BACKOFF_MAX)));
        assert_eq!(*backoffs.last().unwrap(), BOOTSTRAP_BACKOFF_MAX);
        assert!(p.problem.is_some());
        p.bootstrap_succeeded();
        assert!(p.problem.is_none());
    }

    #[test]
    fn known_peers_are_bounded() {
        let mut p = Public::new(true, Vec::new());
        let addr: Multiaddr = "/ip4/11.1.0.1/tcp/4001".parse().unwrap();
        for _ in 0..(MAX_KNOWN + 50) {
            p.identified(peer(), &[KAD_PROTOCOL], std::slice::from_ref(&addr));
        }
        assert_eq!(p.known.len(), MAX_KNOWN);
    }

    #[test]
    fn peers_that_speak_neither_protocol_are_not_tracked() {
        let mut p = Public::new(true, Vec::new());
        let addr: Multiaddr = "/ip4/11.1.0.1/tcp/4001".parse().unwrap();
        assert!(!p.identified(peer(), &[StreamProtocol::new("/hearth/sync/1")], &[addr]));
        assert!(p.known.is_empty());
    }
}
