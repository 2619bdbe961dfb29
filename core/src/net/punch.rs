//! Another hole punch for a family device still reached only through a relay.
//!
//! DCUtR tries to punch a hole once per circuit, when the circuit opens, with three attempts
//! within half a minute. A round that fails (a busy phone, a packet lost, two rounds on two
//! circuits whose simultaneous dials collide on the same ports) would leave two family
//! devices relayed for as long as they stay connected: every photo through a stranger's or a
//! family member's relay, for days. So a family device reached only through relays gets a
//! fresh circuit, and with it a fresh round, once its newest circuit is a minute old, then
//! after 1, 2, 4, 8 and every 15 minutes: a symmetric NAT that never lets a hole through
//! costs one circuit now and then.
//!
//! The device that dialled the circuit opens the fresh one, through the same relay: that
//! relay is known to reach the other device, and the other side starts the round, as DCUtR
//! has the side a circuit reaches do. (If each dialled one, the smaller peer id opens: both
//! opening would start two rounds that collide again.) Nothing a peer says picks the relay.
//! Once the fresh circuit has stood for a tick, the older ones to that device close, so
//! there is one circuit again and nothing is carried twice; requests cut off on them are
//! asked again, as after any lost connection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

use super::task::Task;

/// How old a circuit must be before another round: DCUtR's own three attempts (a stream
/// timeout and a dial timeout each, 10 s apart) are over by then, so a round is never cut
/// short by the next.
const ROUND: Duration = Duration::from_secs(60);
/// The longest wait between rounds.
const MAX_RETRY: Duration = Duration::from_secs(15 * 60);

/// The relayed-only family devices and their next round.
#[derive(Default)]
pub(super) struct Punches {
    by_peer: HashMap<PeerId, Punch>,
}

struct Punch {
    /// Not before then: the newest circuit's round is still on, or the last one was recent.
    next: Instant,
    rounds: u32,
    /// The circuit our last round opened, until it stands.
    circuit: Option<ConnectionId>,
    /// The circuit our last round opened, standing: the older ones close at the next tick.
    /// Not at once: the other side may see the old one close before the new one opens, take
    /// that for a lost connection, and dial a circuit of its own, whose round collides.
    stood: Option<ConnectionId>,
}

impl Punches {
    /// The device is reached directly, or not at all: nothing more to try.
    pub(super) fn forget(&mut self, peer: &PeerId) {
        self.by_peer.remove(peer);
    }

    /// A circuit we dialled to a device we already reach through a circuit we dialled, and
    /// not one a round opened: two dials at once (an invite's answer and a dial through the
    /// relays, say). It is closed at once, before the other side starts its round on it: two
    /// rounds at once collide. Only the side that dialled both decides, so the two sides
    /// never close different circuits and leave none.
    pub(super) fn needless(
        &self,
        c: &super::task::Conn,
        conn: ConnectionId,
        addr: &Multiaddr,
    ) -> bool {
        let dialled = |a: &Multiaddr| relay_of(a).is_some_and(|(_, d)| d);
        let punch = self.by_peer.values().any(|p| p.circuit == Some(conn));
        !punch && dialled(addr) && c.conns.values().any(|(a, r)| *r && dialled(a))
    }

    /// A circuit to `peer` stands: its own round runs now, so none before it is a round old.
    fn circuit_stands(&mut self, peer: PeerId, now: Instant) {
        let p = self.by_peer.entry(peer).or_insert(Punch {
            next: now,
            rounds: 0,
            circuit: None,
            stood: None,
        });
        p.next = p.next.max(now + ROUND);
    }
}

/// The wait after `rounds` rounds: 1, 2, 4, 8, then 15 minutes.
fn wait_after(rounds: u32) -> Duration {
    let minutes = 1u64 << rounds.saturating_sub(1).min(4);
    Duration::from_secs(60 * minutes).min(MAX_RETRY)
}

/// The relay part of a circuit (`…/p2p/<relay>/p2p-circuit`), and whether we dialled it: the
/// address of a circuit we dialled ends with the device's id; one we were reached by is our
/// own address through the relay, ending with `p2p-circuit`.
fn relay_of(circuit: &Multiaddr) -> Option<(Multiaddr, bool)> {
    let mut relay = Multiaddr::empty();
    let mut it = circuit.iter();
    for p in it.by_ref() {
        if p == Protocol::P2pCircuit {
            relay.push(Protocol::P2pCircuit);
            return Some((relay, it.next().is_some()));
        }
        relay.push(p);
    }
    None
}

impl Task {
    /// Opens a fresh circuit to each family device we reach only through relays whose
    /// next round is due (run on the anti-entropy tick).
    pub(super) fn punch_again(&mut self) {
        let now = Instant::now();
        self.retire_circuits();
        let me = *self.swarm.local_peer_id();
        let mut due: Vec<(PeerId, Vec<Multiaddr>)> = Vec::new();
        for (peer, c) in &self.peers {
            let relayed_only = !c.conns.is_empty() && c.conns.values().all(|(_, r)| *r);
            if c.mailbox || !relayed_only || !self.sync.peer(peer).is_some_and(|s| s.is_family()) {
                continue;
            }
            let circuits: Vec<(Multiaddr, bool)> =
                c.conns.values().filter_map(|(a, _)| relay_of(a)).collect();
            let ours: Vec<Multiaddr> = circuits
                .iter()
                .filter(|(_, dialled)| *dialled)
                .map(|(relay, _)| relay.clone().with(Protocol::P2p(*peer)))
                .collect();
            let theirs = circuits.iter().any(|(_, dialled)| !dialled);
            if !ours.is_empty() && (!theirs || me < *peer) {
                due.push((*peer, ours));
            }
        }
        self.punches
            .by_peer
            .retain(|p, _| due.iter().any(|(d, _)| d == p));
        for (peer, mut addrs) in due {
            addrs.dedup();
            let punch = self.punches.by_peer.entry(peer).or_insert(Punch {
                next: now + ROUND,
                rounds: 0,
                circuit: None,
                stood: None,
            });
            if now < punch.next {
                continue;
            }
            punch.rounds += 1;
            punch.next = now + wait_after(punch.rounds);
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::Always)
                .build();
            punch.circuit = Some(opts.connection_id());
            tracing::debug!(%peer, round = punch.rounds, "relayed only: a fresh circuit for another hole punch");
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "a fresh circuit failed");
            }
        }
    }

    /// A circuit to a device stands. If a round of ours opened it, the older circuits to
    /// that device close at the next tick.
    pub(super) fn on_circuit(&mut self, peer: PeerId, conn: ConnectionId) {
        self.punches.circuit_stands(peer, Instant::now());
        if let Some(p) = self.punches.by_peer.get_mut(&peer) {
            if p.circuit == Some(conn) {
                p.circuit = None;
                p.stood = Some(conn);
            }
        }
    }

    /// Closes the circuits that a fresh circuit of ours replaced.
    fn retire_circuits(&mut self) {
        let mut old = Vec::new();
        for (peer, p) in &mut self.punches.by_peer {
            let Some(fresh) = p.stood.take() else {
                continue;
            };
            let Some(c) = self.peers.get(peer) else {
                continue;
            };
            if !c.conns.contains_key(&fresh) {
                continue;
            }
            old.extend(
                c.conns
                    .iter()
                    .filter(|(id, (_, relayed))| **id != fresh && *relayed)
                    .map(|(id, _)| *id),
            );
        }
        for id in old {
            self.swarm.close_connection(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_back_off_to_a_quarter_hour() {
        let waits: Vec<u64> = (1..9).map(|r| wait_after(r).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 900, 900, 900, 900]);
    }

    #[test]
    fn a_circuit_names_its_relay_and_who_dialled_it() {
        let relay =
            "/ip4/203.0.113.1/tcp/4001/p2p/12D3KooWMukqJkJYQ5EVNv48zTArPw25m55CovR4aiCFP38sjjxn";
        let device = "12D3KooWJfqdX8He5oDCEBa7BpDidJUCj4RwbNfBBFVr4XDNwmFD";
        let want: Multiaddr = format!("{relay}/p2p-circuit").parse().unwrap();
        let dialled: Multiaddr = format!("{relay}/p2p-circuit/p2p/{device}").parse().unwrap();
        assert_eq!(relay_of(&dialled), Some((want.clone(), true)));
        assert_eq!(relay_of(&want), Some((want, false)));
        assert_eq!(relay_of(&relay.parse().unwrap()), None);
    }
}
