//! The family's relays, as a client: a reservation on each (re-reserved with backoff after a
//! relay restarts), and family devices looked for by dialling them through the relays.
//!
//! Nothing is published where others could look a device up: a stock rendezvous server
//! answers anyone, and lists every registration to whoever asks for all of them, so
//! registering there would hand a family device's addresses to anyone who knows (or lists)
//! its id. A relay connects two devices only if both hold a reservation on it.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::PeerCondition;
use libp2p::{Multiaddr, PeerId};

use super::addr::relay_peer;
use super::task::{Internal, Task};
use crate::events::Event;
use crate::ids::{DeviceId, TopicId};
use crate::sync::store;

/// How often relay reservations are checked.
pub(super) const RELAY_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Re-reserving after a relay went away: first retry after this, doubling up to the maximum.
const RESERVE_BACKOFF_MIN: Duration = Duration::from_millis(500);
const RESERVE_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often a mailbox is asked again to keep our topics.
pub(super) const KEEP_EVERY: Duration = Duration::from_secs(3600);

/// One configured relay.
pub(super) struct Relay {
    pub addr: Multiaddr,
    /// The circuit listener holding our reservation, while it is open.
    pub listener: Option<ListenerId>,
    pub reserved: bool,
    pub retry_at: Instant,
    pub backoff: Duration,
    /// Topics its mailbox keeps for us.
    pub kept: usize,
    /// When we last asked its mailbox to keep our topics (the mailbox drops topics nobody
    /// asked for within its retention period, so we ask again every hour).
    pub kept_at: Option<Instant>,
    /// What we last asked its mailbox to keep: topics and their member devices (which the
    /// mailbox is not told). Its answer counts only for these (a relay cannot make us believe
    /// it keeps anything else).
    pub asked: HashMap<TopicId, Vec<DeviceId>>,
    /// Devices whose mail it keeps for us: members of the topics its answer confirmed.
    pub holds_for: BTreeSet<DeviceId>,
    /// Found on the public network (`public`): no mailbox, limited circuits, replaced when it
    /// fails, never saved in settings.
    pub public: bool,
    /// Failed attempts in a row (reset when it takes our reservation).
    pub failures: u32,
    /// Why the last attempt failed, in words.
    pub error: Option<String>,
    /// It answered that it offers no mailbox (a stock libp2p relay, such as Kubo's).
    pub no_mailbox: bool,
}

impl Relay {
    /// Our reservation ended: try again after the backoff, and back off further.
    fn lost(&mut self) {
        self.listener = None;
        self.reserved = false;
        self.failures += 1;
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(RESERVE_BACKOFF_MAX);
    }
}

impl Task {
    /// Starts using a relay (reserving, its mailbox); false if it was known, or in LAN-only
    /// mode.
    pub(super) fn add_relay(&mut self, addr: Multiaddr) -> bool {
        self.add_relay_of_kind(addr, false)
    }

    /// Starts using a relay, configured by the family or (`public`) found on the public
    /// network.
    pub(super) fn add_relay_of_kind(&mut self, addr: Multiaddr, public: bool) -> bool {
        if !self.admission.allows_relays() {
            return false;
        }
        let Some(peer) = relay_peer(&addr) else {
            return false;
        };
        if self.relays.contains_key(&peer) || self.relays.len() >= crate::settings::MAX_RELAYS {
            return false;
        }
        self.relays.insert(
            peer,
            Relay {
                addr,
                listener: None,
                reserved: false,
                retry_at: Instant::now(),
                backoff: RESERVE_BACKOFF_MIN,
                kept: 0,
                kept_at: None,
                asked: HashMap::new(),
                holds_for: BTreeSet::new(),
                public,
                failures: 0,
                error: None,
                no_mailbox: public,
            },
        );
        true
    }

    /// Reserves on relays that hold no reservation for us (after backoff), and asks their
    /// mailboxes to keep our topics when due.
    pub(super) fn maintain_relays(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .relays
            .iter()
            .filter(|(_, r)| r.listener.is_none() && r.retry_at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let Some(r) = self.relays.get_mut(&peer) else {
                continue;
            };
            let circuit = r.addr.clone().with(Protocol::P2pCircuit);
            match self.swarm.listen_on(circuit) {
                Ok(id) => r.listener = Some(id),
                Err(e) => {
                    tracing::debug!(relay = %peer, error = %e, "cannot reserve");
                    r.retry_at = now + r.backoff;
                    r.backoff = (r.backoff * 2).min(RESERVE_BACKOFF_MAX);
                }
            }
        }
        let keep: Vec<PeerId> = self
            .relays
            .iter()
            .filter(|(p, r)| {
                !r.no_mailbox
                    && self.swarm.is_connected(p)
                    && r.kept_at
                        .is_none_or(|t| now.duration_since(t) >= KEEP_EVERY)
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in keep {
            if let Some(r) = self.relays.get_mut(&peer) {
                // Marked at once; the answer (or its failure) updates it.
                r.kept_at = Some(now);
            }
            self.send_keep(peer);
        }
    }

    /// A listener closed: if it held a reservation, re-reserve later.
    pub(super) fn on_listener_closed(
        &mut self,
        listener: ListenerId,
        reason: &dyn std::fmt::Debug,
    ) {
        if let Some((peer, r)) = self
            .relays
            .iter_mut()
            .find(|(_, r)| r.listener == Some(listener))
        {
            tracing::info!(relay = %peer, ?reason, "relay reservation ended; will re-reserve");
            let why = format!("{reason:?}");
            if why.starts_with("Err") {
                r.error = Some(super::public_io::explain(&why));
            }
            r.lost();
            self.store.emit(Event::RelayChanged);
        }
    }

    /// A relay accepted (or renewed) our reservation.
    pub(super) fn on_reserved(&mut self, relay: PeerId, renewal: bool) {
        let Some(r) = self.relays.get_mut(&relay) else {
            return;
        };
        r.reserved = true;
        r.backoff = RESERVE_BACKOFF_MIN;
        r.failures = 0;
        r.error = None;
        if !renewal {
            tracing::info!(%relay, "relay reservation accepted");
            self.store.emit(Event::RelayChanged);
            self.find_family();
            // A new address through a relay: contacts should find it at our places.
            self.rendezvous_round();
        }
    }

    /// Looks for family devices we are not connected to, through every relay we reach.
    pub(super) fn find_family(&mut self) {
        if self.relays.is_empty() {
            return;
        }
        self.store_work(store::family_devices, |d| vec![Internal::Family(d)]);
    }

    /// Family devices are looked for by dialling them through our relays.
    pub(super) fn look_for(&mut self, devices: Vec<DeviceId>) {
        for d in devices {
            let Some(peer) = d.peer_id() else { continue };
            if !self.swarm.is_connected(&peer) {
                self.dial_via_relays(peer);
            }
        }
    }

    /// Dials a family device through every family relay holding our reservation (the relay
    /// connects us if it holds one for the device too). Not through public relays: the device
    /// is unlikely to hold a reservation on the ones we chose, and each try would tell a
    /// stranger's relay whom we look for; its own public relay addresses reach it instead
    /// (remembered from identify and invites).
    pub(super) fn dial_via_relays(&mut self, peer: PeerId) {
        let addrs: Vec<Multiaddr> = self
            .relays
            .values()
            .filter(|r| r.reserved && !r.public)
            .map(|r| r.addr.clone().with(Protocol::P2pCircuit))
            .collect();
        if addrs.is_empty() || self.swarm.is_connected(&peer) {
            return;
        }
        self.dial_peer(
            peer,
            addrs,
            PeerCondition::DisconnectedAndNotDialing,
            "dial through relays failed",
        );
    }
}
