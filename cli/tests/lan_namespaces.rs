//! Real networks: `hearth` processes in Linux network namespaces joined by bridges, with no
//! route anywhere else, discovering each other with mDNS in LAN-only mode.

mod support;

use std::path::Path;

use support::*;

const LAN: &[&str] = &["--lan-only"];

fn group_chat(dir: &Path, title: &str) -> String {
    hearth_json(dir, &["chats"])
        .into_iter()
        .find(|c| c["title"] == title)
        .expect("group")["chat"]
        .as_str()
        .unwrap()
        .to_string()
}

/// (a) Three devices on one LAN discover each other and talk 1:1 and in a group, with
/// delivered and read receipts; (e) the LAN-only device never even tries an address outside
/// the LAN, although a contact's invite carries a public address and a DNS name and relays
/// are configured.
#[test]
fn three_devices_on_one_lan_in_lan_only_mode() {
    let mut net = Net::new("a");
    net.bridge("lan");
    net.host("a", &[("lan", "10.77.1.1/24")]);
    net.host("b", &[("lan", "10.77.1.2/24")]);
    net.host("c", &[("lan", "10.77.1.3/24")]);
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        identity(root.path(), "Mom"),
        identity(root.path(), "Dad"),
        identity(root.path(), "Kid"),
    );
    let trace = root.path().join("mom.strace");
    // Mom also has relays configured (one on the internet, one named by DNS) and the public
    // network's bootstrap peers (the public plane is on by default): LAN-only mode must use
    // none of them, no DHT and no public relay.
    let ra = Running::start(
        &a,
        Some(&net.ns("a")),
        Some(&trace),
        &[
            "--lan-only",
            "--relay",
            "/ip4/203.0.113.9/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
            "--relay",
            "/dns4/relay.example.org/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
            "--bootstrap",
            "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYRQpQfctKEDuRSsuJM3ND4p7uRfiAE9",
            "--bootstrap",
            "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
        ],
    );
    let s = hearth_json(&a, &["status"]);
    assert!(s[0]["network"]["public"].is_null(), "{}", s[0]["network"]);
    let rb = Running::start(&b, Some(&net.ns("b")), None, LAN);
    let rc = Running::start(&c, Some(&net.ns("c")), None, LAN);

    // Dad's invite also names a public address and a DNS name: LAN-only Mom must not dial them.
    let code = hearth(
        &b,
        &[
            "invite",
            "--addr",
            "/ip4/203.0.113.7/tcp/4001",
            "--addr",
            "/dns4/relay.example.org/tcp/4001",
        ],
    );
    hearth(&a, &["accept", code.trim()]);
    eventually("Mom and Dad connected", 20, || {
        hearth_json(&a, &["contacts"])
            .iter()
            .any(|x| x["state"] == "connected")
    });
    befriend(&a, &c);
    rb.wait_for("Dad sees Mom", 20, |v| v["event"] == "peer_reachable");

    // 1:1 with receipts.
    let id = hearth(&a, &["send", "--to", "Dad", "저녁 뭐 먹을까?"]);
    rb.wait_for("Dad receives", 20, |v| {
        v["event"] == "message_received" && v["body"] == "저녁 뭐 먹을까?"
    });
    ra.wait_for("delivered to Dad", 20, |v| {
        v["event"] == "delivered" && v["message"] == id.trim()
    });
    hearth(&b, &["read", "--chat", "Mom"]);
    ra.wait_for("read by Dad", 20, |v| {
        v["event"] == "read" && v["message"] == id.trim()
    });

    // A group: Dad and Kid are not contacts, they find each other on the LAN as members.
    hearth(
        &a,
        &[
            "group",
            "create",
            "우리 집",
            "--member",
            "Dad",
            "--member",
            "Kid",
        ],
    );
    eventually("everyone has the group", 20, || {
        [&b, &c]
            .iter()
            .all(|d| hearth(d, &["chats"]).contains("우리 집"))
    });
    let g = group_chat(&a, "우리 집");
    hearth(&c, &["send", "--chat", &g, "다녀왔습니다"]);
    eventually("everyone has Kid's message", 20, || {
        [&a, &b]
            .iter()
            .all(|d| bodies(d, &g) == vec!["다녀왔습니다"])
    });
    hearth(&a, &["read", "--chat", &g]);
    hearth(&b, &["read", "--chat", &g]);
    eventually("Kid sees it read by both", 20, || {
        hearth_json(&c, &["messages", "--chat", &g])
            .iter()
            .any(|m| m["status"] == "read")
    });
    let status = hearth_json(&c, &["status"]);
    let paths: Vec<&str> = status[0]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["lan"], "{status:?}");
    ra.stop();
    rb.stop();
    rc.stop();

    // Every destination Mom's process tried: only the LAN, mDNS multicast, or loopback.
    let trace = std::fs::read_to_string(&trace).unwrap();
    let mut destinations = Vec::new();
    for l in trace.lines() {
        for key in ["inet_addr(\"", "inet_pton(AF_INET6, \""] {
            let mut rest = l;
            while let Some(i) = rest.find(key) {
                rest = &rest[i + key.len()..];
                destinations.push(rest[..rest.find('"').unwrap_or(0)].to_string());
            }
        }
        assert!(!l.contains("htons(53)"), "DNS attempted: {l}");
    }
    assert!(
        !destinations.is_empty(),
        "strace recorded nothing; the check would prove nothing"
    );
    for d in &destinations {
        let ok = d.starts_with("10.77.")
            || d == "224.0.0.251"
            || d.starts_with("127.")
            || d == "0.0.0.0";
        assert!(ok, "LAN-only node contacted {d}");
    }
}

/// (b) A device that was offline (cable pulled) for a while gets everything on reconnect.
#[test]
fn offline_device_catches_up_on_reconnect() {
    let mut net = Net::new("b");
    net.bridge("lan");
    net.host("a", &[("lan", "10.77.2.1/24")]);
    net.host("b", &[("lan", "10.77.2.2/24")]);
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (identity(root.path(), "Mom"), identity(root.path(), "Son"));
    let _ra = Running::start(&a, Some(&net.ns("a")), None, LAN);
    let rb = Running::start(&b, Some(&net.ns("b")), None, LAN);
    befriend(&a, &b);
    net.cable("b", "lan", false);
    for i in 0..20 {
        hearth(
            &a,
            &["send", "--to", "Son", &format!("while you were away {i}")],
        );
    }
    net.cable("b", "lan", true);
    eventually("Son has all 20", 90, || bodies(&b, "Mom").len() == 20);
    drop(rb);
}

/// (c) A–B–C where A and C have no link to each other: a group message from A reaches C
/// through B, and C's answer reaches A.
#[test]
fn mesh_carries_group_message_through_middle_member() {
    let mut net = Net::new("c");
    net.bridge("l1");
    net.bridge("l2");
    net.host("a", &[("l1", "10.77.3.1/24")]);
    net.host("b", &[("l1", "10.77.3.2/24"), ("l2", "10.77.4.2/24")]);
    net.host("c", &[("l2", "10.77.4.3/24")]);
    let root = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        identity(root.path(), "Grandma"),
        identity(root.path(), "Mom"),
        identity(root.path(), "Kid"),
    );
    let _ra = Running::start(&a, Some(&net.ns("a")), None, LAN);
    let _rb = Running::start(&b, Some(&net.ns("b")), None, LAN);
    let rc = Running::start(&c, Some(&net.ns("c")), None, LAN);
    befriend(&b, &a);
    befriend(&b, &c);
    hearth(
        &b,
        &[
            "group", "create", "3대", "--member", "Grandma", "--member", "Kid",
        ],
    );
    eventually("all have the group", 20, || {
        [&a, &c]
            .iter()
            .all(|d| hearth(d, &["chats"]).contains("3대"))
    });
    let g = group_chat(&b, "3대");
    hearth(&a, &["send", "--chat", &g, "할머니야, 밥은 먹었니?"]);
    rc.wait_for("Kid receives Grandma's message through Mom", 30, |v| {
        v["event"] == "message_received" && v["body"] == "할머니야, 밥은 먹었니?"
    });
    hearth(&c, &["send", "--chat", &g, "네 할머니!"]);
    eventually("Grandma receives Kid's answer", 30, || {
        bodies(&a, &g).contains(&"네 할머니!".to_string())
    });
    let status = hearth_json(&c, &["status"]);
    let contacts = status[0]["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "Kid's only contact is Mom");
    let net_peers = status[0]["network"]["peers"].as_array().unwrap();
    assert!(
        net_peers.iter().any(|p| p["path"]["path"] == "mesh"),
        "Grandma is reached via Mom: {status:?}"
    );
}

/// (d) A partition splits a group in two halves; both keep talking; the link heals and every
/// device ends with an identical history.
#[test]
fn partition_heals_to_identical_histories() {
    let mut net = Net::new("d");
    net.bridge("left");
    net.bridge("right");
    net.trunk("left", "right");
    net.host("a", &[("left", "10.77.5.1/24")]);
    net.host("b", &[("left", "10.77.5.2/24")]);
    net.host("c", &[("right", "10.77.5.3/24")]);
    net.host("d", &[("right", "10.77.5.4/24")]);
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = ["A", "B", "C", "D"]
        .iter()
        .map(|n| identity(root.path(), n))
        .collect();
    let _run: Vec<Running> = dirs
        .iter()
        .zip(["a", "b", "c", "d"])
        .map(|(d, h)| Running::start(d, Some(&net.ns(h)), None, LAN))
        .collect();
    for other in &dirs[1..] {
        befriend(&dirs[0], other);
    }
    hearth(
        &dirs[0],
        &[
            "group", "create", "family", "--member", "B", "--member", "C", "--member", "D",
        ],
    );
    eventually("all have the group", 20, || {
        dirs.iter()
            .all(|d| hearth(d, &["chats"]).contains("family"))
    });
    let g = group_chat(&dirs[0], "family");
    net.cable("left", "right", false);
    for (i, d) in dirs.iter().enumerate() {
        for j in 0..5 {
            hearth(
                d,
                &[
                    "send",
                    "--chat",
                    &g,
                    &format!("from {i} during the partition {j}"),
                ],
            );
        }
    }
    eventually("each half has its own side", 30, || {
        let (l, r) = (bodies(&dirs[1], &g).len(), bodies(&dirs[3], &g).len());
        eprintln!("left {l} right {r}");
        l >= 10 && r >= 10
    });
    net.cable("left", "right", true);
    eventually("every device has all 20 messages", 90, || {
        dirs.iter().all(|d| bodies(d, &g).len() == 20)
    });
    let exports: Vec<String> = dirs
        .iter()
        .map(|d| hearth(d, &["export", "--chat", &g, "--format", "json"]))
        .collect();
    for e in &exports[1..] {
        assert_eq!(e, &exports[0]);
    }
}
