//! Benchmarks of the public-network path (run by `scripts/bench-public.sh`; ignored in the
//! test suite: timing never decides a test). In the namespaces of `support::internet`, with
//! stock Kubo nodes and two NAT'd homes, it prints one JSON line per figure:
//!
//! - invite accepted → contact connected across homes (fresh installs);
//! - both devices restarted → connected again (found through rendezvous or remembered
//!   addresses);
//! - send → shown, directly (after hole punching) and through a public relay (the other
//!   home behind a symmetric NAT), in one run;
//! - what idle participation costs: connections held, bytes, and wakeups over a quiet
//!   period, scaled to an hour.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::bench::*;
use support::internet::*;
use support::*;

const ROUNDS: usize = 5;
const MESSAGES: usize = 20;

fn connected(dir: &Path, name: &str) -> bool {
    let p = contact_path(dir, name);
    p == "direct" || p == "relayed"
}

/// Send → shown: Mom sends, the time until Son's node prints it.
fn send_to_shown(mom: &Path, son_run: &Running) -> Vec<f64> {
    let mut out = Vec::new();
    for i in 0..MESSAGES {
        let body = format!("bench {i} {}", rand_tag());
        let t = Instant::now();
        hearth(mom, &["send", "--to", "Son", &body]);
        son_run.wait_for("message shown", 60, |v| {
            v["event"] == "message_received" && v["body"] == body.as_str()
        });
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

fn rand_tag() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Bytes through a device's one interface, and its established TCP connections.
fn device_counters(ns: &str) -> (u64, usize) {
    let ss = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-Htn", "state", "established"])
        .output()
        .unwrap();
    let conns = String::from_utf8_lossy(&ss.stdout).lines().count();
    (iface_bytes(ns), conns)
}

#[test]
#[ignore = "a benchmark: scripts/bench-public.sh"]
fn public_network_figures() {
    // Direct: two ordinary homes.
    let mut connect = Vec::new();
    let mut refind = Vec::new();
    let mut direct = Vec::new();
    let mut idle_bytes = Vec::new();
    let mut idle_wakeups = Vec::new();
    let mut idle_conns = Vec::new();
    for round in 0..ROUNDS {
        let mut w = Internet::new(&format!("b{round}"), false);
        let Homes {
            mom,
            mom_ns,
            son,
            son_ns,
            boot,
            ra,
            rb,
        } = w.homes();
        let code = hearth(&mom, &["invite"]);
        let t = Instant::now();
        hearth(&son, &["accept", code.trim()]);
        eventually("connected", 120, || {
            connected(&son, "Mom") && connected(&mom, "Son")
        });
        connect.push(t.elapsed().as_secs_f64() * 1000.0);
        eventually("direct", 120, || contact_path(&son, "Mom") == "direct");
        direct.extend(send_to_shown(&mom, &rb));

        // Idle for a while, directly connected.
        let quiet = Duration::from_secs(60);
        let (b0, _) = device_counters(&son_ns);
        let k0 = wakeups(rb.pid());
        std::thread::sleep(quiet); // measuring an idle period: nothing to wait for
        let (b1, conns) = device_counters(&son_ns);
        let k1 = wakeups(rb.pid());
        let scale = 3600.0 / quiet.as_secs_f64();
        idle_bytes.push((b1 - b0) as f64 * scale);
        idle_wakeups.push((k1 - k0) as f64 * scale);
        idle_conns.push(conns as f64);

        // Both restart, the bootstrap node gone.
        w.kill_kubo(0);
        ra.stop();
        rb.stop();
        let t = Instant::now();
        let _ra = run_public(&mom, &mom_ns, &[&boot]);
        let _rb = run_public(&son, &son_ns, &[&boot]);
        eventually("found again", 180, || connected(&son, "Mom"));
        refind.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        "invite accepted -> contact connected, two homes",
        "ms",
        connect,
    );
    report(
        "both restarted (bootstrap gone) -> connected again",
        "ms",
        refind,
    );
    report("send -> shown, direct (hole-punched)", "ms", direct);
    report(
        "idle, direct: bytes per hour (device interface)",
        "bytes",
        idle_bytes,
    );
    report(
        "idle, direct: wakeups per hour (context switches)",
        "count",
        idle_wakeups,
    );
    report("idle, direct: TCP connections held", "count", idle_conns);

    // Relayed: home B behind a symmetric NAT.
    let mut w = Internet::new("bq", true);
    let Homes { mom, son, rb, .. } = w.homes();
    befriend(&mom, &son);
    eventually("relayed", 60, || contact_path(&son, "Mom") == "relayed");
    report(
        "send -> shown, through a public relay",
        "ms",
        send_to_shown(&mom, &rb),
    );
    let _ = &mut w;
}

/// Where idle bytes go: per connection byte counters after a quiet minute (diagnostic).
#[test]
#[ignore = "a diagnostic: prints per-connection counters"]
fn where_idle_bytes_go() {
    let mut w = Internet::new("d", false);
    let Homes {
        mom, son, son_ns, ..
    } = w.homes();
    befriend(&mom, &son);
    eventually("direct", 120, || contact_path(&son, "Mom") == "direct");
    let show = |label: &str| {
        let ss = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &son_ns,
                "ss",
                "-Htni",
                "state",
                "established",
            ])
            .output()
            .unwrap();
        println!("--- {label}\n{}", String::from_utf8_lossy(&ss.stdout));
        let u = std::process::Command::new("ip")
            .args(["netns", "exec", &son_ns, "ss", "-Huanp"])
            .output()
            .unwrap();
        println!("udp:\n{}", String::from_utf8_lossy(&u.stdout));
        println!("{:?}", device_counters(&son_ns));
    };
    show("start");
    std::thread::sleep(Duration::from_secs(30)); // an idle period is what is measured
    show("after 30 s");
    let _ = &mut w;
}
