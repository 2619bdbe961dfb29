//! How each device is reached right now ([`Path`]), as a pure function of what the net task
//! knows: the connections to each family device, whom each of them reaches (the mesh), and
//! which devices a connected mailbox keeps mail for.
//!
//! Only family counts: a peer we share no conversation with is nobody's path, not even its
//! own (strangers come and go by the thousand and would otherwise stay listed).
#![warn(missing_docs)]

use std::collections::{BTreeSet, HashMap};

use libp2p::Multiaddr;

use super::addr::is_lan;
use super::task::Task;
use super::Path;
use crate::events::Event;
use crate::ids::DeviceId;

/// The best of a device's open connections (remote address, through a relay or not): LAN,
/// then direct, then relayed. `first` is the address it was first seen at, which decides when
/// no connection is listed.
pub fn best_path<'a>(
    conns: impl IntoIterator<Item = (&'a Multiaddr, bool)>,
    first: &Multiaddr,
) -> Path {
    let mut best = Path::None;
    for (addr, relayed) in conns {
        let path = if relayed {
            Path::Relayed
        } else if is_lan(addr) {
            Path::Lan
        } else {
            Path::Direct
        };
        if path.rank() > best.rank() {
            best = path;
        }
    }
    if best == Path::None {
        best = if is_lan(first) {
            Path::Lan
        } else {
            Path::Direct
        };
    }
    best
}

/// A family device we are connected to.
pub struct Connected<'a> {
    /// The device.
    pub device: DeviceId,
    /// Its best connection ([`best_path`]).
    pub path: Path,
    /// Devices it says it is directly connected to.
    pub reach: &'a [DeviceId],
}

/// Every device's path. `before` is the last answer: a device that was listed and is no longer
/// reached stays listed, as mailbox-only or none. `held` are the devices a mailbox keeps mail
/// for; `held_connected` those of a mailbox we are connected to now.
pub fn paths(
    me: &DeviceId,
    family: &[Connected<'_>],
    held: &BTreeSet<DeviceId>,
    held_connected: &BTreeSet<DeviceId>,
    before: &HashMap<DeviceId, Path>,
) -> HashMap<DeviceId, Path> {
    let mut now: HashMap<DeviceId, Path> = HashMap::new();
    for c in family {
        now.insert(c.device, c.path.clone());
    }
    for c in family {
        for d in c.reach {
            if d != me && !now.contains_key(d) {
                now.insert(*d, Path::Mesh { via: c.device });
            }
        }
    }
    for d in before.keys().chain(held.iter()) {
        if !now.contains_key(d) {
            let path = if held_connected.contains(d) {
                Path::Mailbox
            } else {
                Path::None
            };
            now.insert(*d, path);
        }
    }
    now
}

impl Task {
    /// Recomputes every device's path and emits an event for each change.
    pub(super) fn update_paths(&mut self) {
        let family: Vec<Connected<'_>> = self
            .peers
            .iter()
            .filter_map(|(id, c)| {
                let s = self.sync.peer(id).filter(|s| s.is_family())?;
                Some(Connected {
                    device: c.device,
                    path: best_path(c.conns.values().map(|(a, r)| (a, *r)), &c.addr),
                    reach: &s.reach,
                })
            })
            .collect();
        let mut held = BTreeSet::new();
        let mut held_connected = BTreeSet::new();
        for (peer, r) in &self.relays {
            held.extend(r.holds_for.iter().copied());
            if self.peers.get(peer).is_some_and(|c| c.mailbox) {
                held_connected.extend(r.holds_for.iter().copied());
            }
        }
        let now = paths(&self.me, &family, &held, &held_connected, &self.paths);
        let changed: Vec<(DeviceId, Path)> = now
            .iter()
            .filter(|(d, p)| self.paths.get(d) != Some(p))
            .map(|(d, p)| (*d, p.clone()))
            .collect();
        self.paths = now;
        for (device, path) in changed {
            self.store.emit(Event::PathChanged {
                device,
                path: crate::reach::Path::from(&path),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_best_connection_decides() {
        let lan = a("/ip4/192.168.1.2/tcp/1");
        let wan = a("/ip4/203.0.113.5/tcp/1");
        let circuit = a("/ip4/203.0.113.9/tcp/1/p2p-circuit");
        assert_eq!(best_path([(&circuit, true)], &wan), Path::Relayed);
        assert_eq!(
            best_path([(&circuit, true), (&wan, false)], &wan),
            Path::Direct
        );
        assert_eq!(
            best_path([(&wan, false), (&lan, false), (&circuit, true)], &wan),
            Path::Lan
        );
        // No connection listed: where it was first seen.
        assert_eq!(best_path([], &lan), Path::Lan);
        assert_eq!(best_path([], &wan), Path::Direct);
    }

    #[test]
    fn mesh_mailbox_and_none() {
        let me = DeviceId([0; 32]);
        let (mom, dad, son, gran) = (
            DeviceId([1; 32]),
            DeviceId([2; 32]),
            DeviceId([3; 32]),
            DeviceId([4; 32]),
        );
        let reach = [me, dad, mom];
        let family = [Connected {
            device: mom,
            path: Path::Lan,
            reach: &reach,
        }];
        let before = HashMap::from([(son, Path::Lan), (gran, Path::Direct)]);
        let held = BTreeSet::from([son]);
        let now = paths(&me, &family, &held, &held, &before);
        assert_eq!(
            now[&mom],
            Path::Lan,
            "a direct connection beats a mesh claim"
        );
        assert_eq!(now[&dad], Path::Mesh { via: mom });
        assert!(!now.contains_key(&me), "we are nobody's path");
        assert_eq!(
            now[&son],
            Path::Mailbox,
            "gone, but a connected mailbox keeps his mail"
        );
        assert_eq!(now[&gran], Path::None, "gone, and no mailbox keeps hers");
        // The mailbox is not connected now: mail waits nowhere we can reach.
        let now = paths(&me, &family, &held, &BTreeSet::new(), &before);
        assert_eq!(now[&son], Path::None);
        // Nothing known, nothing listed.
        assert!(paths(
            &me,
            &[],
            &BTreeSet::new(),
            &BTreeSet::new(),
            &HashMap::new()
        )
        .is_empty());
    }
}
