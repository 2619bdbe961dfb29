//! A simulated public internet for the public-network scenarios and benchmarks: a segment of
//! stock Kubo nodes (go-libp2p; PyPI's `kubo-python`) serving the Amino DHT and circuit relay
//! v2, and two homes behind NAT routers (nftables masquerade, with a consumer router's
//! firewall), all in network namespaces with no route anywhere else, and no Hearth relay.
//! The internet's addresses are publicly routable (11.0.0.0/8), so Kubo treats it as the
//! public network: it runs `/ipfs/kad/1.0.0` and its relay service only there (on 10/8 or
//! 203.0.113/24 it would run its LAN DHT and no relay). Kubo's identities are RSA keys, as the
//! IPFS bootstrap peers' are.

use std::path::{Path, PathBuf};

use super::*;

pub const KUBOS: usize = 8;

pub struct Internet {
    pub net: Net,
    pub root: tempfile::TempDir,
    pub kubos: Vec<Option<Running>>,
    /// Each Kubo node's TCP address (with its peer id) and its peer id.
    pub addrs: Vec<String>,
    pub ids: Vec<String>,
}

pub fn kubo_ip(i: usize) -> String {
    format!("11.{}.0.1", i + 1)
}

impl Internet {
    /// The internet with `KUBOS` Kubo nodes, and two homes behind routers; home B's NAT is
    /// symmetric if asked.
    pub fn new(tag: &str, symmetric_b: bool) -> Internet {
        let mut net = Net::new(tag);
        two_homes(&mut net, false, symmetric_b);
        for i in 0..KUBOS {
            net.host(&format!("k{i}"), &[("inet", &format!("{}/8", kubo_ip(i)))]);
        }
        let root = tempfile::tempdir().unwrap();
        let mut w = Internet {
            net,
            root,
            kubos: Vec::new(),
            addrs: Vec::new(),
            ids: Vec::new(),
        };
        // The first node is everyone's bootstrap peer; the others start together.
        let first = w.start_kubo(0, &[]);
        let mut started = vec![first];
        let rest: Vec<(Running, serde_json::Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = (1..KUBOS)
                .map(|i| {
                    let repo = w.root.path().join(format!("kubo{i}"));
                    let ns = w.net.ns(&format!("k{i}"));
                    let boot = started[0].1["addrs"][0].as_str().unwrap().to_string();
                    s.spawn(move || Running::kubo(&repo, &ns, &kubo_ip(i), &[&boot]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        started.extend(rest);
        for (r, v) in started {
            w.addrs.push(v["addrs"][0].as_str().unwrap().to_string());
            w.ids.push(v["peer_id"].as_str().unwrap().to_string());
            w.kubos.push(Some(r));
        }
        w
    }

    pub fn start_kubo(&self, i: usize, bootstrap: &[&str]) -> (Running, serde_json::Value) {
        Running::kubo(
            &self.root.path().join(format!("kubo{i}")),
            &self.net.ns(&format!("k{i}")),
            &kubo_ip(i),
            bootstrap,
        )
    }

    pub fn kill_kubo(&mut self, i: usize) {
        self.kubos[i] = None;
    }

    /// A device in home `a` or `b`.
    pub fn device(&mut self, home: &str, name: &str) -> (PathBuf, String) {
        home_device(&mut self.net, self.root.path(), home, name)
    }

    /// Bytes a Kubo node has sent and received on its one interface.
    pub fn kubo_bytes(&self, i: usize) -> u64 {
        iface_bytes(&self.net.ns(&format!("k{i}")))
    }

    /// Mom in home A and Son in home B, both running on the public network (from the first
    /// Kubo node) and holding reservations on public relays.
    pub fn homes(&mut self) -> Homes {
        let (mom, mom_ns) = self.device("a", "Mom");
        let (son, son_ns) = self.device("b", "Son");
        let boot = self.addrs[0].clone();
        let ra = run_public(&mom, &mom_ns, &[&boot]);
        let rb = run_public(&son, &son_ns, &[&boot]);
        wait_public_ready(&mom);
        wait_public_ready(&son);
        Homes {
            mom,
            mom_ns,
            son,
            son_ns,
            boot,
            ra,
            rb,
        }
    }
}

/// Two family members in two homes, their nodes running ([`Internet::homes`]).
pub struct Homes {
    pub mom: PathBuf,
    pub mom_ns: String,
    pub son: PathBuf,
    pub son_ns: String,
    /// The bootstrap address both started from.
    pub boot: String,
    pub ra: Running,
    pub rb: Running,
}

/// Bytes sent and received on a namespace's one interface.
pub fn iface_bytes(ns: &str) -> u64 {
    let read = |what: &str| -> u64 {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "cat"])
            .arg(format!("/sys/class/net/eth0/statistics/{what}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    read("tx_bytes") + read("rx_bytes")
}

/// `hearth run` with the public network starting from `bootstrap`.
pub fn run_public(dir: &Path, ns: &str, bootstrap: &[&str]) -> Running {
    let mut args = vec!["--no-mdns"];
    for b in bootstrap {
        args.push("--bootstrap");
        args.push(b);
    }
    Running::start(dir, Some(ns), None, &args)
}

pub fn status(dir: &Path) -> serde_json::Value {
    hearth_json(dir, &["status"]).remove(0)
}

/// The public relays holding a reservation for this device (their peer ids).
pub fn public_relays_reserved(dir: &Path) -> Vec<String> {
    status(dir)["network"]["relays"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["public"] == true && r["reserved"] == true)
        .filter_map(|r| r["addr"].as_str())
        .filter_map(|a| a.rsplit("/p2p/").next().map(str::to_string))
        .collect()
}

pub fn contact_path(dir: &Path, name: &str) -> String {
    status(dir)["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["path"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

pub fn wait_public_ready(dir: &Path) {
    eventually("reservations on two public relays", 90, || {
        public_relays_reserved(dir).len() >= 2
    });
}
