//! Per-source limits: how many connections one network source may hold open at the relay,
//! and which source each connected peer came from (for the mailbox's per-source quotas).
//!
//! Peer ids cost nothing to make, so limits per peer alone do not stop one machine from
//! taking every slot with fresh identities. A *source* is what is expensive to multiply: an
//! IPv4 address, or an IPv6 /64 (what one household or one server is usually given). A whole
//! family behind one home router shares a source, so the bounds are sized for a household's
//! devices, not for one device.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::{ConnectedPoint, Endpoint};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    behaviour::ConnectionEstablished, dummy, ConnectionClosed, ConnectionDenied, ConnectionId,
    FromSwarm, ListenFailure, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent,
    ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Where a connection comes from: an IPv4 address or an IPv6 /64, as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source([u8; 8], u8);

impl Source {
    pub fn of(addr: &Multiaddr) -> Option<Source> {
        match addr.iter().next()? {
            Protocol::Ip4(ip) => Some(Source::from_ip(IpAddr::V4(ip))),
            Protocol::Ip6(ip) => Some(Source::from_ip(IpAddr::V6(ip))),
            _ => None,
        }
    }

    pub fn from_ip(ip: IpAddr) -> Source {
        let mut b = [0u8; 8];
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                b[..4].copy_from_slice(&v4.octets());
                Source(b, 4)
            }
            IpAddr::V6(v6) => {
                b.copy_from_slice(&v6.octets()[..8]);
                Source(b, 8)
            }
        }
    }

    /// The bytes kept in the mailbox database.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..self.1 as usize]
    }
}

#[derive(Default)]
pub struct Behaviour {
    max_per_source: usize,
    /// Open and opening inbound connections, by source.
    counts: HashMap<Source, usize>,
    conns: HashMap<ConnectionId, Source>,
    /// The source of each connected peer's latest connection.
    peers: HashMap<PeerId, Source>,
}

impl Behaviour {
    pub fn new(max_per_source: usize) -> Self {
        Behaviour {
            max_per_source,
            ..Default::default()
        }
    }

    /// The source a connected peer came from.
    pub fn source_of(&self, peer: &PeerId) -> Option<Source> {
        self.peers.get(peer).copied()
    }

    fn release(&mut self, conn: &ConnectionId) {
        if let Some(s) = self.conns.remove(conn) {
            if let Some(n) = self.counts.get_mut(&s) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.counts.remove(&s);
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("too many connections from one network source")]
struct TooMany;

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(source) = Source::of(remote) else {
            return Ok(());
        };
        let n = self.counts.entry(source).or_default();
        if *n >= self.max_per_source {
            return Err(ConnectionDenied::new(TooMany));
        }
        *n += 1;
        self.conns.insert(connection_id, source);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                endpoint: ConnectedPoint::Listener { send_back_addr, .. },
                ..
            }) => {
                if let Some(s) = Source::of(send_back_addr) {
                    self.peers.insert(peer_id, s);
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                remaining_established,
                ..
            }) => {
                self.release(&connection_id);
                if remaining_established == 0 {
                    self.peers.remove(&peer_id);
                }
            }
            FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.release(&connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        e: THandlerOutEvent<Self>,
    ) {
        match e {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_household_is_one_source() {
        let a: Multiaddr = "/ip4/203.0.113.7/tcp/4001".parse().unwrap();
        let b: Multiaddr = "/ip4/203.0.113.7/udp/9/quic-v1".parse().unwrap();
        assert_eq!(Source::of(&a), Source::of(&b));
        let c: Multiaddr = "/ip6/2001:db8:1:2::5/tcp/1".parse().unwrap();
        let d: Multiaddr = "/ip6/2001:db8:1:2:ffff::9/tcp/1".parse().unwrap();
        assert_eq!(Source::of(&c), Source::of(&d), "one /64");
        let e: Multiaddr = "/ip6/2001:db8:1:3::5/tcp/1".parse().unwrap();
        assert_ne!(Source::of(&c), Source::of(&e));
        let mapped: Multiaddr = "/ip6/::ffff:203.0.113.7/tcp/1".parse().unwrap();
        assert_eq!(
            Source::of(&mapped),
            Source::of(&a),
            "a mapped IPv4 address is that address"
        );
        assert_eq!(Source::of(&a).unwrap().as_bytes(), &[203, 0, 113, 7]);
    }
}
