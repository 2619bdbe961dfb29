//! Benchmarks of the public mailboxes (run by `scripts/bench-mailboxes.sh`; ignored in the test
//! suite: timing never decides a test). Three stock `nostr-rs-relay` instances and two NAT'd
//! homes with no libp2p path between them (`support::mailboxes`); one JSON line per figure:
//!
//! - send → shown, through the mailboxes only (both online: the live subscription);
//! - catch-up of 1,000 and 10,000 messages that waited while the other home was offline
//!   (start → the last one shown), with the events and bytes they took on each relay;
//! - what idle costs a device with mailboxes on: connections held, bytes and wakeups over a
//!   quiet period, scaled to an hour.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::bench::*;
use support::internet::iface_bytes;
use support::mailboxes::*;
use support::*;

fn established(ns: &str) -> usize {
    let ss = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-Htn", "state", "established"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&ss.stdout).lines().count()
}

/// Bytes sent and received on a namespace's TCP connections to the relays (port 7777).
fn relay_conn_bytes(ns: &str) -> u64 {
    let o = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-tinH", "dport", "=", ":7777"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .filter_map(|f| {
            f.strip_prefix("bytes_sent:")
                .or_else(|| f.strip_prefix("bytes_received:"))
        })
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

fn count(dir: &Path) -> usize {
    let chat = hearth_json(dir, &["chats"])[0]["chat"]
        .as_str()
        .unwrap()
        .to_string();
    hearth_json(dir, &["messages", "--chat", &chat, "--limit", "100000"]).len()
}

fn relay_totals(w: &Mailboxes) -> (usize, usize) {
    let mut events = 0;
    let mut bytes = 0;
    for i in 0..RELAYS {
        let evs = w.relay_events(i);
        events += evs.len();
        bytes += evs
            .iter()
            .map(|e| serde_json::to_string(e).unwrap().len())
            .sum::<usize>();
    }
    (events, bytes)
}

#[test]
#[ignore = "a benchmark: scripts/bench-mailboxes.sh"]
fn mailbox_figures() {
    let mut w = Mailboxes::new("nmb", false, false);
    let (mom, _, _ra, son, son_ns, rb) = w.homes();
    let args = w.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Send → shown, both online, mailboxes only.
    let mut shown = Vec::new();
    for i in 0..20 {
        let body = format!("live {i}");
        let t = Instant::now();
        hearth(&mom, &["send", "--to", "Son", &body]);
        rb.wait_for("shown", 60, |v| {
            v["event"] == "message_received" && v["body"] == body.as_str()
        });
        shown.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("send -> shown, through Nostr mailboxes only", "ms", shown);

    // Idle: both online, nothing said, for two minutes.
    let pid = rb.pid();
    let (b0, k0, m0) = (
        iface_bytes(&son_ns),
        wakeups(pid),
        relay_conn_bytes(&son_ns),
    );
    let quiet = Duration::from_secs(120);
    std::thread::sleep(quiet);
    let scale = 3600.0 / quiet.as_secs_f64();
    report(
        "idle, mailboxes on: bytes per hour on the relay connections",
        "bytes",
        vec![(relay_conn_bytes(&son_ns) - m0) as f64 * scale],
    );
    // Everything on the interface, libp2p's redials of the other home's unreachable addresses
    // included.
    report(
        "idle, mailboxes on: bytes per hour (device interface, all of the node)",
        "bytes",
        vec![(iface_bytes(&son_ns) - b0) as f64 * scale],
    );
    report(
        "idle, mailboxes on: wakeups per hour (context switches, all of the node)",
        "count",
        vec![(wakeups(pid) - k0) as f64 * scale],
    );
    report(
        "idle, mailboxes on: TCP connections held",
        "count",
        vec![established(&son_ns) as f64],
    );

    // Catch-up after being away.
    let mut rb = Some(rb);
    for n in [1_000usize, 10_000] {
        if let Some(r) = rb.take() {
            r.stop();
        }
        let before = count(&son);
        let (e0, by0) = relay_totals(&w);
        let lines: String = (0..n).map(|i| format!("waiting {n} #{i}\n")).collect();
        let out = hearth_from(&mom, &mom, &["send", "--to", "Son", "--stdin"], &lines);
        assert!(out.status.success());
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_string();
        eventually("all handed to the mailboxes", 300, || {
            message(&mom, &last)["status"] == "in_mailbox"
        });
        let (e1, by1) = relay_totals(&w);
        report(
            &format!("events per message on each relay ({n} waiting)"),
            "events",
            vec![(e1 - e0) as f64 / RELAYS as f64 / n as f64],
        );
        report(
            &format!("bytes per message on each relay ({n} waiting)"),
            "bytes",
            vec![(by1 - by0) as f64 / RELAYS as f64 / n as f64],
        );
        let t = Instant::now();
        let r = Running::start(&son, Some(&son_ns), None, &args);
        let want = before + n;
        eventually("caught up", 600, || count(&son) >= want);
        report(
            &format!("catch-up of {n} waiting messages: start -> all shown"),
            "ms",
            vec![t.elapsed().as_secs_f64() * 1000.0],
        );
        rb = Some(r);
    }
}

/// Where idle bytes and wakeups go (diagnostic): after a few messages through the mailboxes,
/// a minute of quiet; per-connection counters from `ss`.
#[test]
#[ignore = "a diagnostic: prints idle counters"]
fn where_idle_goes() {
    let mut w = Mailboxes::new("nmd", false, false);
    let (mom, mom_ns, _ra, _son, son_ns, rb) = w.homes();
    for i in 0..5 {
        let body = format!("m{i}");
        hearth(&mom, &["send", "--to", "Son", &body]);
        rb.wait_for("shown", 60, |v| {
            v["event"] == "message_received" && v["body"] == body.as_str()
        });
    }
    let ss = |ns: &str| {
        let o = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-tinH"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix("bytes_received:"))
                    .map(str::to_string)
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    for round in 0..3 {
        let (a0, b0) = (iface_bytes(&mom_ns), iface_bytes(&son_ns));
        std::thread::sleep(Duration::from_secs(20));
        println!(
            "round {round}: Mom {} bytes (received per connection {}), Son {} bytes ({})",
            iface_bytes(&mom_ns) - a0,
            ss(&mom_ns),
            iface_bytes(&son_ns) - b0,
            ss(&son_ns)
        );
    }
}
