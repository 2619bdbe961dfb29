//! Finding and dialling family: devices seen on the LAN (mDNS), at addresses remembered from
//! last time or from invites, and — for a device reached only through a relay — at the
//! addresses it says it listens on, beside the relayed connection, so the LAN or a direct
//! path carries what it can. Strangers' addresses are never dialled. Every address passes the
//! mode's [`Admission`](super::addr::Admission).

use std::collections::{BTreeSet, HashMap};

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{identify, mdns, Multiaddr, PeerId};

use super::addr::{is_loopback, is_relayed, is_unspecified};
use super::task::{device_of, Internal, Task};
use crate::sync::store;

/// Addresses of a relayed family device dialled beside the relay: its listen addresses
/// (a device has a handful; more would only be someone's mistake).
const MAX_BESIDE_DIALS: usize = 8;

impl Task {
    pub(super) fn dial_addr(&mut self, addr: Multiaddr) {
        if !self.admission.allows(&addr) {
            tracing::debug!(%addr, "LAN-only: not dialing");
            return;
        }
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::debug!(%addr, error = %e, "dial failed");
        }
    }

    /// Dials known devices we are not connected to: seen on the LAN, or at remembered addresses.
    pub(super) fn dial_remembered(&mut self) {
        self.dial_discovered();
        let connected: BTreeSet<PeerId> = self
            .swarm
            .connected_peers()
            .filter(|p| self.directly_connected(p))
            .copied()
            .collect();
        self.store_work(store::devices_to_dial, move |list| {
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
            vec![Internal::DialKnown(out)]
        });
    }

    /// Dials peers seen on the LAN that are devices we know and are not connected to.
    pub(super) fn dial_discovered(&mut self) {
        let found: HashMap<PeerId, Vec<Multiaddr>> = self
            .discovered
            .iter()
            .filter(|(p, _)| !self.directly_connected(p))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        if found.is_empty() {
            return;
        }
        // Dial only devices we know: strangers on the LAN get nothing from us anyway.
        self.store_work(
            move |c| {
                let mut out = Vec::new();
                for (peer, addrs) in found {
                    if let Some(d) = device_of(&peer) {
                        if store::is_known_device(c, &d)? {
                            out.push((peer, addrs));
                        }
                    }
                }
                Ok(out)
            },
            |list| vec![Internal::DialKnown(list)],
        );
    }

    /// Known devices at known addresses: dialled unless directly connected already.
    pub(super) fn dial_known(&mut self, list: Vec<(PeerId, Vec<Multiaddr>)>) {
        for (peer, addrs) in list {
            if self.directly_connected(&peer) {
                continue;
            }
            // Connected only through a relay: a direct address is still worth a dial (the
            // relayed connection is closed once it succeeds), so that the LAN keeps working
            // when the internet goes.
            let addrs: Vec<Multiaddr> = addrs
                .into_iter()
                .filter(|a| self.admission.allows(a))
                .filter(|a| !is_relayed(a))
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

    pub(super) fn on_mdns(&mut self, e: mdns::Event) {
        match e {
            mdns::Event::Discovered(list) => {
                for (peer, addr) in list {
                    if self.admission.allows(&addr) {
                        let e = self.discovered.entry(peer).or_default();
                        if !e.contains(&addr) {
                            e.push(addr);
                        }
                    }
                }
                self.dial_discovered();
            }
            mdns::Event::Expired(list) => {
                for (peer, addr) in list {
                    if let Some(e) = self.discovered.get_mut(&peer) {
                        e.retain(|a| *a != addr);
                        if e.is_empty() {
                            self.discovered.remove(&peer);
                        }
                    }
                }
            }
        }
    }

    /// A peer told us where it listens: remembered, for a dial beside a relayed connection.
    pub(super) fn on_identified(&mut self, peer: PeerId, info: identify::Info) {
        if let Some(c) = self.peers.get_mut(&peer) {
            let listen: Vec<Multiaddr> = info
                .listen_addrs
                .into_iter()
                .take(MAX_BESIDE_DIALS)
                .collect();
            // Its addresses through relays (public ones above all, which we could not guess):
            // remembered, so after a restart we dial it there. Only new ones are written.
            let fresh: Vec<String> = listen
                .iter()
                .filter(|a| is_relayed(a) && !c.listen.contains(a))
                .filter(|a| matches!(a.iter().last(), Some(Protocol::P2p(p)) if p == peer))
                .map(|a| a.to_string())
                .collect();
            c.listen = listen;
            if !fresh.is_empty() {
                let (store, device) = (self.store.clone(), c.device);
                self.work.spawn(async move {
                    for a in fresh {
                        let _ = store.remember_peer(device, Some(a)).await;
                    }
                    Vec::new()
                });
            }
        }
        self.dial_beside_relay(peer);
    }

    /// A family device reached only through a relay told us where it listens: dial those
    /// addresses beside the relayed connection. A device with a public address (or a port
    /// forward) is then reached directly, and one on our own LAN over the LAN; the relayed
    /// connection closes once a direct one stands. Strangers' addresses are never dialled.
    pub(super) fn dial_beside_relay(&mut self, peer: PeerId) {
        let Some(c) = self.peers.get(&peer) else {
            return;
        };
        let family = self.sync.peer(&peer).is_some_and(|s| s.is_family());
        if !family || self.directly_connected(&peer) || self.relays.contains_key(&peer) {
            return;
        }
        let addrs: Vec<Multiaddr> = c
            .listen
            .iter()
            .filter(|a| !is_relayed(a) && !is_unspecified(a) && !is_loopback(a))
            .filter(|a| self.admission.allows(a))
            // A LAN address is worth a dial only on a network we are on ourselves: the
            // other home's 192.168.1.2 is not ours (each failed QUIC dial sends a dozen
            // padded packets over ten seconds: a phone's battery pays for that).
            .filter(|a| !super::addr::is_lan(a) || self.on_our_subnet(a))
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
    pub(super) fn dial_peer(
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

    /// The address is in a subnet (IPv4 /24, IPv6 /64) one of our listen addresses is in.
    fn on_our_subnet(&self, addr: &Multiaddr) -> bool {
        let prefix = |a: &Multiaddr| -> Option<Vec<u8>> {
            match a.iter().next()? {
                Protocol::Ip4(ip) => Some(ip.octets()[..3].to_vec()),
                Protocol::Ip6(ip) => Some(ip.octets()[..8].to_vec()),
                _ => None,
            }
        };
        let Some(want) = prefix(addr) else {
            return false;
        };
        self.swarm
            .listeners()
            .any(|l| !is_loopback(l) && prefix(l).as_ref() == Some(&want))
    }

    /// Connected other than through a relay.
    pub(super) fn directly_connected(&self, peer: &PeerId) -> bool {
        self.peers
            .get(peer)
            .map(|c| c.conns.values().any(|(_, relayed)| !relayed))
            .unwrap_or_else(|| self.swarm.is_connected(peer))
    }
}
