//! Address classes. LAN-only mode dials and announces only addresses in local networks:
//! private IPv4 ranges, link-local, loopback, and IPv6 unique-local and link-local.

use std::net::{Ipv4Addr, Ipv6Addr};

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;

pub fn is_lan_v4(ip: &Ipv4Addr) -> bool {
    ip.is_private() || ip.is_loopback() || ip.is_link_local()
}

pub fn is_lan_v6(ip: &Ipv6Addr) -> bool {
    let seg = ip.segments()[0];
    ip.is_loopback() || (seg & 0xfe00) == 0xfc00 || (seg & 0xffc0) == 0xfe80
}

/// True if the address is an IP address inside a local network. DNS names are never local:
/// resolving one would leave the LAN.
pub fn is_lan(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => is_lan_v4(&ip),
        Some(Protocol::Ip6(ip)) => is_lan_v6(&ip),
        _ => false,
    }
}

/// Which addresses this device may dial, announce, listen on for others, or keep connections
/// on: every one, or in LAN-only mode only addresses inside local networks and never a relay.
/// The one place that rule is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    lan_only: bool,
}

impl Admission {
    pub fn new(lan_only: bool) -> Self {
        Admission { lan_only }
    }

    pub fn lan_only(&self) -> bool {
        self.lan_only
    }

    /// May this address be dialled or announced?
    pub fn allows(&self, addr: &Multiaddr) -> bool {
        !self.lan_only || is_lan(addr)
    }

    /// May a connection to this remote address (through a relay or not) stay open?
    pub fn allows_connection(&self, remote: &Multiaddr, relayed: bool) -> bool {
        !self.lan_only || (!relayed && is_lan(remote))
    }

    /// May relays (reservations, mailboxes, relays learned from invites) be used at all?
    pub fn allows_relays(&self) -> bool {
        !self.lan_only
    }
}

/// True for loopback addresses: another device's loopback is our own machine.
pub fn is_loopback(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// True for unspecified listen addresses (0.0.0.0 / ::), never worth announcing.
pub fn is_unspecified(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_unspecified(),
        Some(Protocol::Ip6(ip)) => ip.is_unspecified(),
        _ => false,
    }
}

/// The relay's peer id in a relay address (`…/p2p/<relay>`), which must name it.
pub fn relay_peer(addr: &Multiaddr) -> Option<libp2p::PeerId> {
    if addr.iter().any(|p| p == Protocol::P2pCircuit) {
        return None;
    }
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The relay an address goes through: `/ip4/…/tcp/…/p2p/<relay>/p2p-circuit/p2p/<device>`
/// gives `/ip4/…/tcp/…/p2p/<relay>`. That is how a relay travels in an invite: as the
/// inviter's relayed address.
pub fn relay_of(addr: &Multiaddr) -> Option<Multiaddr> {
    let mut out = Multiaddr::empty();
    for p in addr.iter() {
        if p == Protocol::P2pCircuit {
            return relay_peer(&out).map(|_| out);
        }
        out.push(p);
    }
    None
}

/// The address at which `device` is reached through `relay` (a relay address as configured).
pub fn via_relay(relay: &Multiaddr, device: libp2p::PeerId) -> Multiaddr {
    relay
        .clone()
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(device))
}

/// True for an address through a relay (`…/p2p-circuit…`).
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_only_admits_local_addresses_and_no_relay() {
        let lan: Multiaddr = "/ip4/192.168.1.20/tcp/4001".parse().unwrap();
        let wan: Multiaddr = "/ip4/203.0.113.5/tcp/4001".parse().unwrap();
        let name: Multiaddr = "/dns4/relay.example/tcp/4001".parse().unwrap();
        let open = Admission::new(false);
        assert!(open.allows(&lan) && open.allows(&wan) && open.allows(&name));
        assert!(open.allows_connection(&wan, true) && open.allows_relays());
        let lan_only = Admission::new(true);
        assert!(lan_only.allows(&lan));
        assert!(!lan_only.allows(&wan) && !lan_only.allows(&name));
        assert!(lan_only.allows_connection(&lan, false));
        assert!(
            !lan_only.allows_connection(&lan, true),
            "a relayed connection leaves the LAN"
        );
        assert!(!lan_only.allows_connection(&wan, false));
        assert!(!lan_only.allows_relays());
    }

    #[test]
    fn a_relayed_address_names_its_relay() {
        let relay: Multiaddr =
            "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
                .parse()
                .unwrap();
        let device = libp2p::PeerId::random();
        let via = via_relay(&relay, device);
        assert!(is_relayed(&via));
        assert_eq!(relay_of(&via), Some(relay.clone()));
        assert_eq!(
            relay_of(&relay),
            None,
            "a relay's own address goes through no relay"
        );
        let bare: Multiaddr = "/ip4/203.0.113.5/tcp/4001/p2p-circuit".parse().unwrap();
        assert_eq!(
            relay_of(&bare),
            None,
            "a circuit without a relay peer id is no relay"
        );
    }

    #[test]
    fn classes() {
        for lan in [
            "/ip4/192.168.1.5/tcp/1",
            "/ip4/10.0.0.1/udp/1/quic-v1",
            "/ip4/127.0.0.1/tcp/1",
            "/ip6/fe80::1/tcp/1",
            "/ip6/fd00::1/tcp/1",
            "/ip4/169.254.3.3/tcp/1",
        ] {
            assert!(is_lan(&lan.parse().unwrap()), "{lan}");
        }
        for wan in [
            "/ip4/8.8.8.8/tcp/1",
            "/dns4/example.org/tcp/1",
            "/ip6/2001:db8::1/tcp/1",
            "/ip4/100.64.0.1/tcp/1",
        ] {
            assert!(!is_lan(&wan.parse().unwrap()), "{wan}");
        }
    }
}
