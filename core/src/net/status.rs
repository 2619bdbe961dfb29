//! What the network reports: every device's path, our addresses worth telling others, the
//! relays, and how much we hold about peers (which a stranger must not be able to grow).

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::addr::{is_relayed, is_unspecified, relay_of, relay_peer};
use super::task::Task;
use super::{Path, PeerStatus, RelayStatus, Status};
use crate::ids::DeviceId;

impl Task {
    pub(super) fn status(&self) -> Status {
        let mut peers: Vec<PeerStatus> = self
            .paths
            .iter()
            .map(|(d, p)| PeerStatus {
                device: *d,
                path: p.clone(),
                addr: self
                    .peers
                    .values()
                    .find(|c| c.device == *d && !c.mailbox)
                    .map(|c| c.addr.to_string()),
                public_relay: matches!(p, Path::Relayed) && self.through_public_relay(d),
            })
            .collect();
        peers.sort_by_key(|p| p.device);
        let mut relays: Vec<RelayStatus> = self
            .relays
            .iter()
            .map(|(peer, r)| RelayStatus {
                addr: r.addr.to_string(),
                connected: self.swarm.is_connected(peer),
                reserved: r.reserved,
                kept: r.kept,
                mailbox: !r.no_mailbox,
                public: r.public,
                error: r.error.clone(),
                holds_for: r.holds_for.iter().copied().collect(),
            })
            .collect();
        relays.sort_by(|a, b| a.addr.cmp(&b.addr));
        Status {
            device: self.me,
            listen: self.announced().iter().map(|a| a.to_string()).collect(),
            lan_only: self.admission.lan_only(),
            peers,
            relays,
            public: self.public_status(),
            // Filled in by the node, which also holds the mailbox tasks.
            public_mailboxes: false,
            blob_parts_refused: self.blobs.refused,
            blob_requests_refused: self.blobs.refused_requests,
            blobs_deposited: self.deposits.deposited,
            tracked: self.peers.len() + self.paths.len() + self.sync.tracked(),
        }
    }

    /// Reached only through strangers' relays, whose circuits are limited (`sync_io` sends
    /// such a peer small batches).
    pub(super) fn limited(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|c| {
            c.conns.values().all(|(_, relayed)| *relayed) && self.through_public_relay(&c.device)
        })
    }

    /// Every relayed connection to this device goes through a relay that is not one of the
    /// family's.
    fn through_public_relay(&self, d: &DeviceId) -> bool {
        let relays: Vec<PeerId> = self
            .peers
            .values()
            .filter(|c| c.device == *d)
            .flat_map(|c| c.conns.values())
            .filter(|(_, relayed)| *relayed)
            .filter_map(|(a, _)| relay_of(a).as_ref().and_then(relay_peer))
            .collect();
        !relays.is_empty()
            && relays
                .iter()
                .all(|r| self.relays.get(r).is_none_or(|x| x.public))
    }

    /// Our addresses worth telling others: concrete, and admitted by the mode. Relayed
    /// addresses come first (they work from anywhere) and name us, so they can be dialed as
    /// they are.
    pub(super) fn announced(&self) -> Vec<Multiaddr> {
        let me = *self.swarm.local_peer_id();
        let mut out: Vec<Multiaddr> = self
            .swarm
            .listeners()
            .filter(|a| !is_unspecified(a) && self.admission.allows(a))
            .map(|a| {
                if is_relayed(a) && !matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                    a.clone().with(Protocol::P2p(me))
                } else {
                    a.clone()
                }
            })
            .collect();
        out.sort_by_key(|a| !is_relayed(a));
        out
    }
}
