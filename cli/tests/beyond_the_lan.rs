//! Beyond the LAN, for real: two homes behind their own NAT routers (nftables masquerade) and
//! an "internet" segment with two relays, all in network namespaces this test creates, with no
//! route anywhere else. `hearth relay` and `hearth run` processes as families would run them.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// The internet segment, two home routers, two relays.
struct World {
    net: Net,
    root: tempfile::TempDir,
    relay_dirs: Vec<PathBuf>,
    relays: Vec<Option<Running>>,
    relay_addrs: Vec<String>,
}

const RELAY_IPS: [&str; 2] = ["203.0.113.1", "203.0.113.2"];

impl World {
    fn new(tag: &str) -> World {
        let mut net = Net::new(tag);
        net.bridge("inet");
        net.bridge("homea");
        net.bridge("homeb");
        net.host(
            "ra",
            &[("inet", "203.0.113.10/24"), ("homea", "192.168.1.1/24")],
        );
        net.host(
            "rb",
            &[("inet", "203.0.113.20/24"), ("homeb", "192.168.2.1/24")],
        );
        net.nat_router("ra", "eth0");
        net.nat_router("rb", "eth0");
        net.host("r1", &[("inet", "203.0.113.1/24")]);
        net.host("r2", &[("inet", "203.0.113.2/24")]);
        let root = tempfile::tempdir().unwrap();
        let mut w = World {
            net,
            relay_dirs: vec![root.path().join("relay1"), root.path().join("relay2")],
            root,
            relays: vec![None, None],
            relay_addrs: Vec::new(),
        };
        for i in 0..2 {
            let addr = w.start_relay(i);
            w.relay_addrs.push(addr);
        }
        w
    }

    /// Starts relay `i` (again) and returns its address.
    fn start_relay(&mut self, i: usize) -> String {
        let ip = RELAY_IPS[i];
        let r = Running::relay(
            &self.relay_dirs[i],
            &self.net.ns(&format!("r{}", i + 1)),
            &[
                "--listen",
                "/ip4/0.0.0.0/tcp/4001",
                "--external",
                &format!("/ip4/{ip}/tcp/4001"),
                // Circuit lines tell the test which relay carries whom.
                "--log-peers",
            ],
        );
        let prefix = format!("/ip4/{ip}/tcp/4001/p2p/");
        let v = r.wait_for("relay listening", 20, |v| {
            v["event"] == "listening" && v["addr"].as_str().unwrap_or("").starts_with(&prefix)
        });
        self.relays[i] = Some(r);
        v["addr"].as_str().unwrap().to_string()
    }

    fn kill_relay(&mut self, i: usize) {
        // Dropping kills it (SIGKILL): no goodbye to anyone.
        self.relays[i] = None;
    }

    /// A device in a home (`homea`/`homeb`) behind that home's router.
    fn device(&mut self, host: &str, home: &str, ip: &str, name: &str) -> PathBuf {
        let gw = if home == "homea" {
            "192.168.1.1"
        } else {
            "192.168.2.1"
        };
        self.net.host(host, &[(home, &format!("{ip}/24"))]);
        self.net
            .ip_in(host, &["route", "add", "default", "via", gw]);
        identity(self.root.path(), name)
    }

    fn run(&self, dir: &Path, host: &str) -> Running {
        let mut args = Vec::new();
        for a in &self.relay_addrs {
            args.push("--relay");
            args.push(a.as_str());
        }
        let r = Running::start(dir, Some(&self.net.ns(host)), None, &args);
        wait_reserved(&r, 2);
        r
    }
}

/// Waits until the node holds reservations on `n` relays.
fn wait_reserved(r: &Running, n: usize) {
    r.wait_for("reservations on the relays", 60, |v| {
        v["event"] == "relays"
            && v["relays"]
                .as_array()
                .map(|a| a.iter().filter(|r| r["reserved"] == true).count() == n)
                .unwrap_or(false)
    });
}

/// A running device's peer id, from its address through a relay.
fn peer_of(dir: &Path) -> String {
    let mut found = None;
    eventually("an address through a relay", 30, || {
        let s = hearth_json(dir, &["status"]);
        found = s[0]["network"]["listen"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .find_map(|a| a.split("/p2p-circuit/p2p/").nth(1).map(str::to_string));
        found.is_some()
    });
    found.unwrap()
}

/// The relays (by index) with a circuit open between devices `a` and `b` right now, from
/// the relays' own event lines.
fn relays_carrying(w: &World, a: &str, b: &str) -> Vec<usize> {
    (0..w.relays.len())
        .filter(|&i| {
            let Some(r) = &w.relays[i] else {
                return false;
            };
            let mut open = 0i32;
            for v in r.history() {
                let pair = (v["src"] == a && v["dst"] == b) || (v["src"] == b && v["dst"] == a);
                if pair && v["event"] == "circuit_opened" {
                    open += 1;
                } else if pair && v["event"] == "circuit_closed" {
                    open -= 1;
                }
            }
            open > 0
        })
        .collect()
}

fn contact_path(dir: &Path, name: &str) -> String {
    let status = hearth_json(dir, &["status"]);
    status[0]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["path"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn group_chat(dir: &Path, title: &str) -> String {
    hearth_json(dir, &["chats"])
        .into_iter()
        .find(|c| c["title"] == title)
        .expect("group")["chat"]
        .as_str()
        .unwrap()
        .to_string()
}

/// (a) Home A and home B talk through the relays; the path shows relayed (or direct, if hole
/// punching got through both NATs). (b) The recipient goes offline — and so does the sender:
/// the message waits in the mailboxes, arrives when the recipient comes back, and the sender
/// sees "handed to a mailbox", then "delivered".
#[test]
fn homes_talk_through_relays_and_mailboxes_hold_messages_for_the_offline() {
    let mut w = World::new("x");
    let mom = w.device("a1", "homea", "192.168.1.2", "Mom");
    let daughter = w.device("b1", "homeb", "192.168.2.2", "Daughter");
    let ra = w.run(&mom, "a1");
    let rb = w.run(&daughter, "b1");

    // Mom's invite carries her addresses through the relays; Daughter reaches her with it.
    befriend(&mom, &daughter);
    let id = hearth(&mom, &["send", "--to", "Daughter", "서울은 괜찮니?"]);
    rb.wait_for("Daughter receives", 30, |v| {
        v["event"] == "message_received" && v["body"] == "서울은 괜찮니?"
    });
    ra.wait_for("delivered to Daughter", 30, |v| {
        v["event"] == "delivered" && v["message"] == id.trim()
    });
    let path = contact_path(&mom, "Daughter");
    assert!(path == "relayed" || path == "direct", "path {path}");

    // (b) Daughter goes offline; Mom writes, the mailboxes take it; Mom goes offline too.
    rb.stop();
    eventually("Mom sees Daughter reachable only by mailbox", 60, || {
        contact_path(&mom, "Daughter") == "mailbox"
    });
    let id = hearth(&mom, &["send", "--to", "Daughter", "밥은 먹었어?"]);
    ra.wait_for("handed to a mailbox", 30, |v| {
        v["event"] == "in_mailbox" && v["message"] == id.trim()
    });
    ra.stop();
    let rb = w.run(&daughter, "b1");
    rb.wait_for(
        "Daughter gets it from a mailbox while Mom is offline",
        60,
        |v| v["event"] == "message_received" && v["body"] == "밥은 먹었어?",
    );
    let ra = w.run(&mom, "a1");
    ra.wait_for("Mom learns it was delivered", 60, |v| {
        v["event"] == "delivered" && v["message"] == id.trim()
    });
    assert_eq!(
        bodies(&daughter, "Mom"),
        vec!["서울은 괜찮니?", "밥은 먹었어?"],
        "each message exactly once"
    );
    drop((ra, rb));
}

/// (c) A relay is killed mid-conversation: the two devices at home keep talking over the LAN
/// (the connection between them never drops), cross-home traffic moves to the second relay,
/// and after the first relay restarts nothing is lost or duplicated.
#[test]
fn a_relay_dies_mid_conversation_and_nothing_is_lost() {
    let mut w = World::new("y");
    let mom = w.device("a1", "homea", "192.168.1.2", "Mom");
    let dad = w.device("a2", "homea", "192.168.1.3", "Dad");
    let daughter = w.device("b1", "homeb", "192.168.2.2", "Daughter");
    let ra = w.run(&mom, "a1");
    let rd = w.run(&dad, "a2");
    let rb = w.run(&daughter, "b1");
    befriend(&mom, &dad);
    befriend(&mom, &daughter);
    hearth(
        &mom,
        &[
            "group",
            "create",
            "우리 가족",
            "--member",
            "Dad",
            "--member",
            "Daughter",
        ],
    );
    eventually("everyone has the group", 60, || {
        [&dad, &daughter]
            .iter()
            .all(|d| hearth(d, &["chats"]).contains("우리 가족"))
    });
    let g = group_chat(&mom, "우리 가족");
    let mut expected = Vec::new();
    for i in 0..3 {
        let text = format!("before {i}");
        hearth(&mom, &["send", "--chat", &g, &text]);
        expected.push(text);
    }
    eventually("all have the first messages", 60, || {
        [&dad, &daughter].iter().all(|d| bodies(d, &g).len() == 3)
    });
    assert_eq!(contact_path(&mom, "Dad"), "lan");

    // Kill the relay that carries Mom and Daughter (if their connection is relayed; if a
    // hole was punched it is direct, and no relay carries it).
    let (pm, pd) = (peer_of(&mom), peer_of(&daughter));
    let relayed = contact_path(&mom, "Daughter") == "relayed";
    let victim = if relayed {
        let mut carrying = Vec::new();
        eventually("a relay carries Mom and Daughter", 30, || {
            carrying = relays_carrying(&w, &pm, &pd);
            !carrying.is_empty()
        });
        carrying[0]
    } else {
        eprintln!(
            "Mom and Daughter are connected {}",
            contact_path(&mom, "Daughter")
        );
        0
    };
    let survivor = 1 - victim;
    w.kill_relay(victim);
    let text = "relay 1 is gone".to_string();
    hearth(&mom, &["send", "--chat", &g, &text]);
    expected.push(text.clone());
    rd.wait_for("Dad receives over the LAN", 20, |v| {
        v["event"] == "message_received" && v["body"] == text.as_str()
    });
    rb.wait_for("Daughter receives through the second relay", 90, |v| {
        v["event"] == "message_received" && v["body"] == text.as_str()
    });
    if relayed {
        // The conversation moved to the surviving relay (not only its mailbox), or a later
        // hole punch through the new circuit connected them directly.
        eventually("the second relay carries Mom and Daughter", 90, || {
            let path = contact_path(&mom, "Daughter");
            (relays_carrying(&w, &pm, &pd).contains(&survivor) && path == "relayed")
                || path == "direct"
        });
    }
    let text = "still here".to_string();
    hearth(&daughter, &["send", "--chat", &g, &text]);
    expected.push(text);
    eventually("Mom and Dad get Daughter's answer", 90, || {
        [&mom, &dad].iter().all(|d| bodies(d, &g).len() == 5)
    });

    // Relay 1 comes back with the same identity; everyone reserves on it again.
    w.start_relay(victim);
    for r in [&ra, &rd, &rb] {
        wait_reserved(r, 2);
    }
    for i in 0..3 {
        let text = format!("after {i}");
        hearth(&daughter, &["send", "--chat", &g, &text]);
        expected.push(text);
    }
    eventually("everyone has every message once", 90, || {
        [&mom, &dad, &daughter]
            .iter()
            .all(|d| bodies(d, &g).len() == expected.len())
    });
    let mut sorted = expected.clone();
    sorted.sort();
    for d in [&mom, &dad, &daughter] {
        let mut got = bodies(d, &g);
        got.sort();
        assert_eq!(got, sorted, "no message lost or duplicated");
    }
    // Mom's LAN connection to Dad never dropped while the relay died and came back: once
    // Mom's node first saw Dad's device on the LAN, no path event for it says otherwise.
    let dad_device = hearth_json(&dad, &["whoami"])[0]["device"].clone();
    let history = ra.history();
    let on_lan = history
        .iter()
        .position(|v| v["device"] == dad_device && v["path"] == "lan")
        .expect("Mom saw Dad on the LAN");
    let dropped: Vec<_> = history[on_lan..]
        .iter()
        .filter(|v| v["device"] == dad_device && v["path"].as_str().is_some_and(|p| p != "lan"))
        .collect();
    assert!(
        dropped.is_empty(),
        "the LAN connection to Dad dropped: {dropped:?}"
    );
}

/// A device with a public address (a laptop at a café, straight on the internet) and Mom
/// behind her home's NAT: they meet through a relay, and end up connected directly, without
/// the relay — the path says "direct". Hole punching (DCUtR) is tried on the relayed
/// connection; whichever of it and a plain dial wins, the result is a direct connection.
#[test]
fn a_device_on_the_internet_is_reached_directly() {
    let mut w = World::new("w");
    let mom = w.device("a1", "homea", "192.168.1.2", "Mom");
    w.net.host("l1", &[("inet", "203.0.113.50/24")]);
    let laptop = identity(w.root.path(), "Laptop");
    let ra = w.run(&mom, "a1");
    let rl = w.run(&laptop, "l1");
    befriend(&mom, &laptop);
    // A first round that fails on a busy machine is followed by another (`punch`).
    eventually("Mom reaches the laptop directly", 120, || {
        contact_path(&mom, "Laptop") == "direct"
    });
    eventually("the laptop reaches Mom directly", 60, || {
        contact_path(&laptop, "Mom") == "direct"
    });
    hearth(&laptop, &["send", "--to", "Mom", "카페에서 보내요"]);
    ra.wait_for("Mom receives", 30, |v| {
        v["event"] == "message_received" && v["body"] == "카페에서 보내요"
    });
    let punches: Vec<_> = ra
        .history()
        .into_iter()
        .chain(rl.history())
        .filter(|v| v["event"] == "hole_punch")
        .collect();
    eprintln!("hole punching: {punches:?}");
}

/// The first hole punch between two homes fails (here the routers let nothing through
/// between the homes for a while; on real networks a lost packet, a busy phone or two punches
/// colliding do it). Once the way is open, a later round punches the hole, and Mom and her
/// son end up directly connected instead of relayed for as long as they stay online.
#[test]
fn a_failed_hole_punch_is_tried_again() {
    let mut w = World::new("q");
    let mom = w.device("a1", "homea", "192.168.1.2", "Mom");
    let son = w.device("b1", "homeb", "192.168.2.2", "Son");
    // Both homes' routers drop everything between the two homes; the relays still work.
    // (Each router drops it before its NAT: no half-open NAT state outlives the cut.)
    let cut = [("ra", "203.0.113.20"), ("rb", "203.0.113.10")];
    for (router, other_home) in cut {
        for rule in [
            vec!["nft", "add", "table", "ip", "block"],
            vec![
                "nft",
                "add",
                "chain",
                "ip",
                "block",
                "gate",
                "{ type filter hook forward priority -10 ; }",
            ],
            vec![
                "nft", "add", "rule", "ip", "block", "gate", "ip", "daddr", other_home, "drop",
            ],
            vec![
                "nft", "add", "rule", "ip", "block", "gate", "ip", "saddr", other_home, "drop",
            ],
        ] {
            w.net.run_in(router, &rule);
        }
    }
    let ra = w.run(&mom, "a1");
    let rb = w.run(&son, "b1");
    befriend(&mom, &son);
    let punched = |direct: bool| {
        ra.history()
            .into_iter()
            .chain(rb.history())
            .any(|v| v["event"] == "hole_punch" && v["direct"] == direct)
    };
    eventually("a hole punch fails while the way is blocked", 150, || {
        punched(false)
    });
    assert_ne!(contact_path(&mom, "Son"), "direct");
    assert!(!punched(true));
    for (router, _) in cut {
        w.net
            .run_in(router, &["nft", "delete", "table", "ip", "block"]);
    }
    // DCUtR does not try again on the circuit it failed on: without a fresh round the two
    // would stay relayed. Rounds come a minute after the circuit, then 1 and 2 minutes
    // later: the wait covers three, in case a busy machine makes one fail.
    eventually("Mom reaches her son directly", 420, || {
        contact_path(&mom, "Son") == "direct"
    });
    eventually("her son reaches Mom directly", 60, || {
        contact_path(&son, "Mom") == "direct"
    });
    assert!(
        punched(true),
        "the direct connection is a hole punched by a later round"
    );
    hearth(&son, &["send", "--to", "Mom", "이제 바로 연결됐어요"]);
    ra.wait_for("Mom receives", 30, |v| {
        v["event"] == "message_received" && v["body"] == "이제 바로 연결됐어요"
    });
}

/// (d) The internet segment is cut entirely: each home keeps working on its LAN; when the
/// internet returns, both homes converge to identical histories.
#[test]
fn internet_cut_homes_keep_talking_and_converge() {
    let mut w = World::new("z");
    let mom = w.device("a1", "homea", "192.168.1.2", "Mom");
    let dad = w.device("a2", "homea", "192.168.1.3", "Dad");
    let daughter = w.device("b1", "homeb", "192.168.2.2", "Daughter");
    let _ra = w.run(&mom, "a1");
    let rd = w.run(&dad, "a2");
    let _rb = w.run(&daughter, "b1");
    befriend(&mom, &dad);
    befriend(&mom, &daughter);
    hearth(
        &mom,
        &[
            "group",
            "create",
            "우리 가족",
            "--member",
            "Dad",
            "--member",
            "Daughter",
        ],
    );
    eventually("everyone has the group", 60, || {
        [&dad, &daughter]
            .iter()
            .all(|d| hearth(d, &["chats"]).contains("우리 가족"))
    });
    let g = group_chat(&mom, "우리 가족");
    // Mom and Dad share a home network: they are connected over it.
    eventually("Mom reaches Dad over the LAN", 30, || {
        contact_path(&mom, "Dad") == "lan"
    });

    w.net.cable("ra", "inet", false);
    w.net.cable("rb", "inet", false);
    hearth(&mom, &["send", "--chat", &g, "인터넷이 끊겼어"]);
    rd.wait_for(
        "Dad receives over the LAN while the internet is down",
        20,
        |v| v["event"] == "message_received" && v["body"] == "인터넷이 끊겼어",
    );
    hearth(&dad, &["send", "--chat", &g, "여기는 괜찮아"]);
    for i in 0..3 {
        hearth(&daughter, &["send", "--chat", &g, &format!("서울에서 {i}")]);
    }
    eventually("home A has its own messages", 20, || {
        bodies(&mom, &g).len() == 2
    });
    assert_eq!(bodies(&daughter, &g).len(), 3, "home B has only its own");

    w.net.cable("ra", "inet", true);
    w.net.cable("rb", "inet", true);
    eventually("both homes have all 5 messages", 120, || {
        [&mom, &dad, &daughter]
            .iter()
            .all(|d| bodies(d, &g).len() == 5)
    });
    let exports: Vec<String> = [&mom, &dad, &daughter]
        .iter()
        .map(|d| hearth(d, &["export", "--chat", &g, "--format", "json"]))
        .collect();
    assert_eq!(exports[0], exports[1]);
    assert_eq!(exports[0], exports[2]);
}

/// "Be a relay for my family": a family member's node serves the same relay and mailbox (one
/// setting, here its command-line form); another member reserves on it and its mailbox keeps
/// that member's conversations.
#[test]
fn a_family_node_serves_as_relay_and_mailbox() {
    let root = tempfile::tempdir().unwrap();
    let (grandpa, aunt) = (
        identity(root.path(), "Grandpa"),
        identity(root.path(), "Aunt"),
    );
    let rg = Running::start(
        &grandpa,
        None,
        None,
        &[
            "--no-mdns",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--serve-relay",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    let v = rg.wait_for("serving as a relay", 20, |v| v["event"] == "serving_relay");
    let addr = v["addrs"][0].as_str().unwrap().to_string();
    let ra = Running::start(
        &aunt,
        None,
        None,
        &[
            "--no-mdns",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--relay",
            &addr,
        ],
    );
    ra.wait_for("Aunt reserved on Grandpa's relay", 30, |v| {
        v["event"] == "relays" && v["relays"][0]["reserved"] == true
    });
    befriend(&grandpa, &aunt);
    ra.wait_for("Grandpa's mailbox keeps Aunt's conversations", 30, |v| {
        v["event"] == "relays" && v["relays"][0]["kept"].as_u64().unwrap_or(0) > 0
    });
    assert!(grandpa.join("relay").join("mailbox.db").exists());
}

/// Across homes (through the relays, or hole-punched over the internet, never the LAN) a
/// photo shows as its preview at once and is fetched only when someone asks for it: data
/// plans and strangers' relays are not spent on photos nobody opens. `blob get` then brings
/// it through.
#[test]
fn across_homes_a_photo_waits_as_a_preview_until_asked_for() {
    let mut w = World::new("p");
    let mom = w.device("a1", "homea", "192.168.1.2", "Mom");
    let son = w.device("b1", "homeb", "192.168.2.2", "Son");
    let _ra = w.run(&mom, "a1");
    let rb = w.run(&son, "b1");
    befriend(&mom, &son);
    let png = w.root.path().join("medicine.png");
    image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
    })
    .save(&png)
    .unwrap();
    let sent = hearth_json(
        &mom,
        &["send", "--to", "Son", "--file", png.to_str().unwrap()],
    );
    let blob = sent[0]["blob"].as_str().unwrap().to_string();
    rb.wait_for("Son receives the photo's message", 30, |v| {
        v["event"] == "message_received" && v["blob"] == blob.as_str()
    });
    // Round trips later (a text and its delivery), still nothing of it has been fetched.
    let id = hearth(&mom, &["send", "--to", "Son", "did you see it?"]);
    rb.wait_for("Son receives the text", 30, |v| {
        v["event"] == "message_received" && v["body"] == "did you see it?"
    });
    let _ = id;
    let listed = hearth_json(&son, &["messages", "--chat", "Mom"]);
    let a = listed
        .iter()
        .find_map(|m| (m["attachment"]["blob"] == blob.as_str()).then(|| m["attachment"].clone()))
        .unwrap();
    assert_eq!(a["state"]["state"], "preview_only", "{a}");
    assert!(a["preview"]
        .as_str()
        .unwrap()
        .starts_with("data:image/jpeg;base64,"));
    assert!(
        !rb.history().iter().any(|v| v["event"] == "blob_progress"),
        "fetched without being asked"
    );
    let out = w.root.path().join("seen.jpg");
    hearth(
        &son,
        &[
            "blob",
            "get",
            &blob,
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "60",
        ],
    );
    let mine = w.root.path().join("sent.jpg");
    hearth(
        &mom,
        &["blob", "get", &blob, "--out", mine.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&mine).unwrap());
}
