//! Rendezvous carried out on the DHT: publishing this device's reachable addresses at each
//! contact's place for it, and looking up the places of contacts' devices we miss. What a
//! place is and what it reveals: `rendezvous`.
//!
//! Bounded: at most one publication round per [`PUBLISH_MIN`] (and one per hour, or when the
//! addresses change), and per missed device one lookup (current and previous epoch) per
//! backoff, from [`LOOKUP_BACKOFF_MIN`] doubling to [`LOOKUP_BACKOFF_MAX`].

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{kad, Multiaddr};

use super::public::is_public;
use super::rendezvous::{epoch_of, Place};
use super::task::{Internal, Task};
use crate::ids::DeviceId;
use crate::sync::store;

const PUBLISH_MIN: Duration = Duration::from_secs(30);
const REPUBLISH: Duration = Duration::from_secs(3600);
const LOOKUP_BACKOFF_MIN: Duration = Duration::from_secs(20);
const LOOKUP_BACKOFF_MAX: Duration = Duration::from_secs(1800);
/// Contacts handled per round, and DHT nodes a record is put to.
const MAX_CONTACTS: usize = 64;
const PUT_TO: usize = 20;
/// Queries in flight at most (a bound whatever the contact list holds).
const MAX_QUERIES: usize = 128;

/// A DHT query of ours and what it is for.
pub(super) enum Query {
    /// Finding the nodes closest to a place, to put this record there.
    Closest(kad::Record),
    Put,
    /// Looking up a device's place.
    Lookup(DeviceId, Box<Place>),
}

#[derive(Default)]
pub(super) struct Rendezvous {
    /// What was last published (epoch, addresses, and a digest of the contacts it went to),
    /// and when.
    published: Option<(u64, Vec<Multiaddr>, [u8; 32])>,
    published_at: Option<Instant>,
    /// Per missed device: when it may be looked up next, and the backoff after that.
    lookups: HashMap<DeviceId, (Instant, Duration)>,
    pub queries: HashMap<kad::QueryId, Query>,
}

/// Which contacts (by secret) a publication went to: a new contact is published for at once.
fn digest(contacts: &[([u8; 32], Vec<DeviceId>)]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (s, _) in contacts {
        h.update(s);
    }
    h.finalize().into()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Task {
    /// One round: read the contacts, then publish and look up what is due.
    pub(super) fn rendezvous_round(&mut self) {
        if !self.public.enabled || self.swarm.behaviour().kad.as_ref().is_none() {
            return;
        }
        self.store_work(store::rendezvous_contacts, |list| {
            vec![Internal::Rendezvous(list)]
        });
    }

    /// Addresses a contact elsewhere can reach us at: through our relays, and public ones.
    fn reachable(&self) -> Vec<Multiaddr> {
        let me = *self.swarm.local_peer_id();
        let mut out: Vec<Multiaddr> = self
            .announced()
            .into_iter()
            .filter(super::addr::is_relayed)
            .collect();
        out.extend(
            self.swarm
                .external_addresses()
                .filter(|a| is_public(a))
                .map(|a| a.clone().with(Protocol::P2p(me))),
        );
        // A stable order: the same addresses are not "new" (and published again) because a
        // map iterated differently.
        out.sort();
        out.dedup();
        out.truncate(super::rendezvous::MAX_ADDRS);
        out
    }

    pub(super) fn on_rendezvous(&mut self, contacts: Vec<([u8; 32], Vec<DeviceId>)>) {
        let epoch = epoch_of(now_secs());
        let addrs = self.reachable();
        let now = Instant::now();
        let contacts: Vec<_> = contacts.into_iter().take(MAX_CONTACTS).collect();
        let state = (epoch, addrs.clone(), digest(&contacts));
        let since = self.rendezvous.published_at.map(|t| now.duration_since(t));
        let due = !addrs.is_empty()
            && !contacts.is_empty()
            && match since {
                None => true,
                Some(s) => {
                    s >= PUBLISH_MIN
                        && (self.rendezvous.published.as_ref() != Some(&state) || s >= REPUBLISH)
                }
            };
        if due {
            let sequence = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            tracing::debug!(n = contacts.len(), "publishing at rendezvous places");
            for (secret, _) in &contacts {
                let place = Place::new(secret, epoch, &self.me);
                // No publisher: the record would carry our peer id to every node storing it.
                let record = kad::Record::new(place.key(), place.record(&addrs, sequence));
                self.query(|k| k.get_closest_peers(place.key()), Query::Closest(record));
            }
            self.rendezvous.published = Some(state);
            self.rendezvous.published_at = Some(now);
        }
        for (secret, devices) in &contacts {
            for d in devices {
                if self.reached(d) {
                    self.rendezvous.lookups.remove(d);
                    continue;
                }
                let (next, backoff) = self
                    .rendezvous
                    .lookups
                    .get(d)
                    .copied()
                    .unwrap_or((now, LOOKUP_BACKOFF_MIN));
                if next > now {
                    continue;
                }
                self.rendezvous
                    .lookups
                    .insert(*d, (now + backoff, (backoff * 2).min(LOOKUP_BACKOFF_MAX)));
                for e in [epoch, epoch.saturating_sub(1)] {
                    let place = Place::new(secret, e, d);
                    let key = kad::RecordKey::new(&place.key());
                    self.query(|k| k.get_record(key), Query::Lookup(*d, Box::new(place)));
                }
            }
        }
    }

    /// Connected to this device, directly or through a relay.
    fn reached(&self, d: &DeviceId) -> bool {
        self.peers.values().any(|c| c.device == *d)
    }

    fn query(
        &mut self,
        start: impl FnOnce(&mut kad::Behaviour<kad::store::MemoryStore>) -> kad::QueryId,
        what: Query,
    ) {
        if self.rendezvous.queries.len() >= MAX_QUERIES {
            return;
        }
        if let Some(k) = self.swarm.behaviour_mut().kad.as_mut() {
            let id = start(k);
            self.rendezvous.queries.insert(id, what);
        }
    }

    /// A DHT query of ours progressed. Returns false if it was not a rendezvous query.
    pub(super) fn on_rendezvous_query(
        &mut self,
        id: kad::QueryId,
        result: kad::QueryResult,
        last: bool,
    ) -> bool {
        let Some(what) = self.rendezvous.queries.get(&id) else {
            return false;
        };
        match (what, result) {
            (Query::Closest(_), kad::QueryResult::GetClosestPeers(r)) => {
                let peers: Vec<libp2p::PeerId> = match r {
                    Ok(ok) => ok.peers.into_iter().map(|p| p.peer_id).collect(),
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => {
                        peers.into_iter().map(|p| p.peer_id).collect()
                    }
                };
                if let Some(Query::Closest(record)) = self.rendezvous.queries.remove(&id) {
                    if !peers.is_empty() {
                        let peers: Vec<_> = peers.into_iter().take(PUT_TO).collect();
                        self.query(
                            |k| k.put_record_to(record, peers.into_iter(), kad::Quorum::One),
                            Query::Put,
                        );
                    }
                }
                return true;
            }
            (Query::Put, kad::QueryResult::PutRecord(r)) => match r {
                Ok(_) => tracing::debug!("published at a rendezvous place"),
                Err(e) => tracing::debug!(error = %e, "could not publish at a rendezvous place"),
            },
            (
                Query::Lookup(device, place),
                kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(r))),
            ) => {
                if let Some((addrs, _)) = place.open(&r.record.value) {
                    let device = *device;
                    self.dial_found(device, addrs);
                }
            }
            _ => {}
        }
        if last {
            self.rendezvous.queries.remove(&id);
        }
        true
    }

    /// A contact's device published these addresses: dial it there.
    fn dial_found(&mut self, device: DeviceId, addrs: Vec<Multiaddr>) {
        let Some(peer) = device.peer_id() else { return };
        let addrs: Vec<Multiaddr> = addrs
            .into_iter()
            .filter(|a| self.admission.allows(a))
            .filter(|a| matches!(a.iter().last(), Some(Protocol::P2p(p)) if p == peer))
            .collect();
        if addrs.is_empty() || self.swarm.is_connected(&peer) {
            return;
        }
        tracing::info!(%peer, n = addrs.len(), "found at a rendezvous place; dialling");
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "dial after rendezvous failed");
        }
    }
}
