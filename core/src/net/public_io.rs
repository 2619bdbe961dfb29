//! The public network plane carried out on the swarm: bootstrapping the DHT (with backoff),
//! learning public peers from identify, remembering them, keeping reservations on public
//! relays, and serving the DHT only once AutoNAT confirmed a direct public address. What is
//! decided is in `public`; this file only does it.

use std::time::Instant;

use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{autonat, identify, kad, Multiaddr, PeerId};

use super::public::{is_public, peer_of, too_many_failures, PUBLIC_RELAYS};
use super::task::{Internal, Task};
use super::PublicStatus;
use crate::events::Event;

/// Remembered public peers dialled at a start (the DHT finds the rest).
const DIAL_REMEMBERED: usize = 8;

/// A libp2p error in words a person can act on. The raw text stays in the debug log.
pub(super) fn explain(raw: &str) -> String {
    let r = raw.to_lowercase();
    if r.contains("key type") || r.contains("rsa") || r.contains("decodingerror") {
        "it uses a kind of key this version cannot read".into()
    } else if r.contains("wrong peer")
        || r.contains("unexpected peer id")
        || r.contains("peer id mismatch")
        || r.contains("wrongpeerid")
    {
        "it answered as a different peer than its address names (check the /p2p/ part)".into()
    } else if r.contains("refused") {
        "nothing listens at that address and port".into()
    } else if r.contains("timed out") || r.contains("timeout") {
        "no answer (the address may be wrong, or a firewall drops it)".into()
    } else if r.contains("unreachable") || r.contains("no route") {
        "that network cannot be reached from here".into()
    } else if r.contains("noreservation") || r.contains("reservation") && r.contains("denied") {
        "it refused to keep a reservation for us".into()
    } else if r.contains("unsupported") || r.contains("protocol") {
        "it does not offer relay service".into()
    } else {
        let mut s = raw.to_string();
        s.truncate(200);
        s
    }
}

impl Task {
    /// Starts the public plane: the bootstrap peers and the remembered ones go into the DHT's
    /// routing table, and a first bootstrap runs.
    pub(super) fn start_public(&mut self) {
        if !self.public.enabled {
            return;
        }
        let bootstrap = self.public.bootstrap.clone();
        for addr in bootstrap {
            match peer_of(&addr) {
                Some(peer) => {
                    if let Some(k) = self.swarm.behaviour_mut().kad.as_mut() {
                        k.add_address(&peer, addr);
                    }
                }
                // Bootstrap peers must be named: a DHT routing table is by peer id.
                None => tracing::warn!(%addr, "bootstrap address names no peer (/p2p/…); ignored"),
            }
        }
        self.store_work(crate::engine::public_peers, |list| {
            let peers = list
                .into_iter()
                .filter_map(|(p, addrs, relay)| {
                    let peer: PeerId = p.parse().ok()?;
                    let addrs: Vec<Multiaddr> = addrs
                        .iter()
                        .filter_map(|a| a.parse().ok())
                        .filter(is_public)
                        .collect();
                    (!addrs.is_empty()).then_some((peer, addrs, relay))
                })
                .collect();
            vec![Internal::PublicPeers(peers)]
        });
        self.bootstrap_dht();
    }

    /// Remembered public peers, back from the database: into the routing table, a few
    /// dialled, and the relays among them are candidates again.
    pub(super) fn on_remembered_public(&mut self, peers: Vec<(PeerId, Vec<Multiaddr>, bool)>) {
        for (i, (peer, addrs, relay)) in peers.into_iter().enumerate() {
            if let Some(k) = self.swarm.behaviour_mut().kad.as_mut() {
                for a in &addrs {
                    k.add_address(&peer, a.clone());
                }
            }
            if relay {
                self.public
                    .known
                    .entry(peer)
                    .or_insert(super::public::Known {
                        addrs: addrs.clone(),
                        dht: true,
                        relay,
                    });
            }
            if i < DIAL_REMEMBERED {
                let opts = DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                let _ = self.swarm.dial(opts);
            }
        }
        self.bootstrap_dht();
        self.maintain_public_relays();
    }

    /// Runs a DHT bootstrap if one is due (at start, after a failure's backoff).
    pub(super) fn bootstrap_dht(&mut self) {
        let Some(k) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        if let Err(e) = k.bootstrap() {
            self.public
                .bootstrap_failed(format!("no public network peer known to start from ({e})"));
        } else {
            // Until its result says otherwise, do not start another.
            self.public.bootstrap_at = Instant::now() + std::time::Duration::from_secs(60);
        }
    }

    /// Every relay tick: bootstrap again when due and nobody public is connected, and keep
    /// the public relays topped up.
    pub(super) fn maintain_public(&mut self) {
        if !self.public.enabled {
            return;
        }
        if self.public_connected() == 0 && Instant::now() >= self.public.bootstrap_at {
            self.bootstrap_dht();
        }
        self.maintain_public_relays();
    }

    fn public_connected(&self) -> usize {
        self.public
            .known
            .keys()
            .filter(|p| self.swarm.is_connected(p))
            .count()
    }

    pub(super) fn on_kad(&mut self, ev: kad::Event) {
        match ev {
            kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::Bootstrap(r),
                step,
                ..
            } if step.last => match r {
                Ok(_) if self.public_connected() > 0 => self.public.bootstrap_succeeded(),
                Ok(_) => self
                    .public
                    .bootstrap_failed("could not reach any public network peer".into()),
                Err(e) => self
                    .public
                    .bootstrap_failed(format!("could not reach any public network peer ({e})")),
            },
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => {
                self.on_rendezvous_query(id, result, step.last);
            }
            kad::Event::ModeChanged { new_mode } => {
                tracing::info!(mode = %new_mode, "public DHT mode");
            }
            _ => {}
        }
    }

    /// Identify from any peer: a public DHT node goes into the routing table (rust-libp2p
    /// leaves that to us), and a relay becomes a candidate.
    pub(super) fn public_identified(&mut self, peer: PeerId, info: &identify::Info) {
        if !self.public.enabled
            || !self
                .public
                .identified(peer, &info.protocols, &info.listen_addrs)
        {
            return;
        }
        let Some(known) = self.public.known.get(&peer).cloned() else {
            return;
        };
        tracing::debug!(%peer, dht = known.dht, relay = known.relay, "public peer identified");
        if known.dht {
            if let Some(k) = self.swarm.behaviour_mut().kad.as_mut() {
                for a in &known.addrs {
                    k.add_address(&peer, a.clone());
                }
            }
        }
        if self.public.due_to_remember(peer) {
            let store = self.store.clone();
            let addrs = known.addrs.iter().map(|a| a.to_string()).collect();
            self.work.spawn(async move {
                if let Err(e) = store
                    .remember_public_peer(peer.to_string(), addrs, known.relay)
                    .await
                {
                    tracing::debug!(error = %e, "could not remember a public peer");
                }
                Vec::new()
            });
        }
        self.maintain_public_relays();
    }

    /// Keeps reservations on [`PUBLIC_RELAYS`] public relays: drops one that failed too often
    /// (benched for a while), and reserves on new candidates.
    pub(super) fn maintain_public_relays(&mut self) {
        if !self.public.enabled {
            return;
        }
        let failed: Vec<PeerId> = self
            .relays
            .iter()
            .filter(|(_, r)| r.public && too_many_failures(r.failures))
            .map(|(p, _)| *p)
            .collect();
        for peer in failed {
            if let Some(r) = self.relays.remove(&peer) {
                tracing::info!(relay = %peer, error = ?r.error, "public relay replaced");
                if let Some(l) = r.listener {
                    self.swarm.remove_listener(l);
                }
            }
            self.public.bench(peer);
            self.store.emit(Event::RelayChanged);
        }
        let in_use: Vec<Multiaddr> = self
            .relays
            .values()
            .filter(|r| r.public)
            .map(|r| r.addr.clone())
            .collect();
        let want = PUBLIC_RELAYS.saturating_sub(in_use.len());
        if want == 0 {
            return;
        }
        let mut added = false;
        for addr in self.public.relay_candidates(&in_use, want) {
            tracing::info!(relay = %addr, "reserving on a public relay");
            added |= self.add_relay_of_kind(addr, true);
        }
        if added {
            self.maintain_relays();
        }
    }

    /// AutoNAT tested one of our addresses: a direct public address confirmed makes this
    /// device a DHT server; losing it makes it a client again. Relayed addresses never count.
    pub(super) fn on_autonat(&mut self, ev: autonat::v2::client::Event) {
        if !is_public(&ev.tested_addr) {
            return;
        }
        let server = ev.result.is_ok();
        if server == self.public.server {
            return;
        }
        self.public.server = server;
        if let Some(k) = self.swarm.behaviour_mut().kad.as_mut() {
            k.set_mode(Some(if server {
                kad::Mode::Server
            } else {
                kad::Mode::Client
            }));
        }
    }

    /// A connection attempt failed: if it was to a relay of ours, say why in its status.
    pub(super) fn on_dial_error(&mut self, peer: Option<PeerId>, error: &dyn std::fmt::Display) {
        let Some(peer) = peer else { return };
        if let Some(r) = self.relays.get_mut(&peer) {
            let raw = error.to_string();
            tracing::debug!(relay = %peer, error = %raw, "cannot reach relay");
            r.error = Some(explain(&raw));
            self.store.emit(Event::RelayChanged);
        }
    }

    pub(super) fn public_status(&self) -> Option<PublicStatus> {
        if !self.public.enabled {
            return None;
        }
        let mode = self
            .swarm
            .behaviour()
            .kad
            .as_ref()
            .map(|k| k.mode().to_string())
            .unwrap_or_default();
        Some(PublicStatus {
            dht_mode: mode,
            connected: self.public_connected(),
            dht_peers: self.public.known.values().filter(|k| k.dht).count(),
            relay_candidates: self.public.known.values().filter(|k| k.relay).count(),
            problem: self.public.problem.clone(),
        })
    }
}
