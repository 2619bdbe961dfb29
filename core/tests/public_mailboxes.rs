//! Public mailboxes under attack: an ex-member watching the relays with every secret it kept,
//! and relays that refuse, lie, flood, send garbage or never answer. Real nodes, a stock
//! `nostr-rs-relay`, and hostile relays written here (a modified relay is the attacker).

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hearth_core::envelope::Envelope;
use hearth_core::message::DeliveryState;
use hearth_core::nostr::seal::{self, Payload};
use hearth_core::nostr::tags::{epoch_of, Tag, TagSecret};
use hearth_core::nostr::KIND;
use nostr_sdk::{Client, Filter, Kind, Timestamp};
use support::nostr::*;
use support::*;
use tokio_tungstenite::tungstenite::Message as Ws;

/// The tests here run one at a time: the flood test measures this process's memory.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every event of Hearth's kind on a relay.
async fn all_events(url: &str) -> Vec<nostr_sdk::Event> {
    let client = Client::default();
    client.add_relay(url).await.unwrap();
    client.connect().await;
    let ev = client
        .fetch_events(
            Filter::new().kind(Kind::Custom(KIND)).limit(5000),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    client.shutdown().await;
    ev.into_iter().collect()
}

/// The envelopes in `events` that open under some tag of `secrets` (today's and yesterday's).
fn open_all(events: &[nostr_sdk::Event], secrets: &[TagSecret]) -> Vec<Vec<u8>> {
    let epoch = epoch_of(Timestamp::now().as_secs());
    let tags: Vec<Tag> = secrets
        .iter()
        .flat_map(|s| [s.tag(epoch), s.tag(epoch - 1)])
        .collect();
    let mut out = Vec::new();
    for ev in events {
        for t in tags
            .iter()
            .filter(|t| ev.tags.public_keys().any(|p| *p == t.p))
        {
            match seal::open(t, &ev.content) {
                Ok(Payload::Batch(envs)) => out.extend(envs.into_iter().map(|b| b.into_vec())),
                Ok(Payload::Part { bytes, .. }) => out.push(bytes.into_vec()),
                Err(_) => {}
            }
        }
    }
    out
}

/// (d) Kid is removed from the family group. Kid's device keeps every secret it ever held and
/// watches the relay with all of them (a modified client): it finds the key shares meant for
/// others (sealed to them) and what was said before it left, never a message sent after.
/// Son, a member, gets that message from the same relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_watching_the_mailboxes_learns_nothing_of_later_messages() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let relay = NostrRelay::start();
    let mom = Peer::new("Mom").await;
    let son = Peer::new("Son").await;
    let kid = Peer::new("Kid").await;
    connect(&mom, &son).await;
    connect(&mom, &kid).await;
    let son_id = son.node.profile().await.unwrap().account;
    let kid_id = kid.node.profile().await.unwrap().account;
    let chat = mom
        .node
        .create_group("우리 가족", &[son_id, kid_id])
        .await
        .unwrap();
    sync_all(&[&mom, &son, &kid]).await;
    for p in [&mom, &son, &kid] {
        p.node.send_message(&chat, "hello", None).await.unwrap();
    }
    sync_all(&[&mom, &son, &kid]).await;
    mom.node.remove_member(&chat, &kid_id).await.unwrap();
    sync_all(&[&mom, &son, &kid]).await;
    // Son answers: his new sender key (and with it his inbox) reaches Mom only.
    son.node.send_message(&chat, "got it", None).await.unwrap();
    sync(&son, &mom).await;
    let kept = kid
        .node
        .modified_client(|e| e.every_mailbox_secret())
        .await
        .unwrap();

    // Son and Kid are offline: Mom's message waits in the mailbox.
    mom.node
        .start_network(with_mailboxes(&[relay.url()]))
        .await
        .unwrap();
    let id = mom
        .node
        .send_message(&chat, "Kid's birthday surprise: Saturday", None)
        .await
        .unwrap();
    eventually("handed to the mailbox", || async {
        let m = mom.node.message(&id).await.unwrap();
        m.status == Some(DeliveryState::InMailbox) && m.mailboxes == vec![relay.url()]
    })
    .await;

    let events = all_events(&relay.url()).await;
    let mom_device = mom.node.profile().await.unwrap().device;
    // With Mom's secrets the message is there, under her new sender key (number 2).
    let all_secrets = mom
        .node
        .modified_client(|e| e.every_mailbox_secret())
        .await
        .unwrap();
    let new_key = |envs: &[Vec<u8>]| {
        envs.iter()
            .filter_map(|b| Envelope::decode(b).ok())
            .filter(|e| !e.is_pairwise() && e.header.author == mom_device && e.header.key >= 2)
            .count()
    };
    assert!(new_key(&open_all(&events, &all_secrets)) >= 1);
    // With everything Kid kept: some events open (what came before, key shares sealed to
    // others), but not one envelope under Mom's new key.
    let seen = open_all(&events, &kept);
    assert!(
        !seen.is_empty(),
        "the attack is real: Kid opens what it may"
    );
    assert_eq!(new_key(&seen), 0, "Kid found a message sent after it left");
    // Not even Mom's new key going to Son: it waits in Son's inbox, from his new key. Kid
    // opens only what it already had.
    let report = kid.node.ingest(seen).await.unwrap();
    assert_eq!(
        report.new, 0,
        "Kid found envelopes made after it left: {report:?}"
    );
    assert!(!kid
        .bodies(&chat)
        .await
        .iter()
        .any(|b| b.contains("surprise")));

    son.node
        .start_network(with_mailboxes(&[relay.url()]))
        .await
        .unwrap();
    eventually("Son reads it from the mailbox", || async {
        son.bodies(&chat)
            .await
            .iter()
            .any(|b| b.contains("surprise"))
    })
    .await;
}

/// How a hostile relay misbehaves.
#[derive(Clone, Copy)]
enum Hostile {
    /// Says OK to every event and keeps none; answers every request with thousands of valid
    /// events under the asked tags that are not ours, garbage frames, an oversize event and a
    /// bad signature.
    LiarAndFlood,
    /// Refuses every event (rate limited) and every request (auth required).
    Refuses,
    /// Accepts the connection and never says anything.
    Silent,
}

/// A modified relay in a process of its own (this test binary, run again for
/// `hostile_relay_process`), so that what it allocates to flood is not counted as the node's.
struct HostileRelay {
    child: std::process::Child,
    url: String,
}

impl HostileRelay {
    fn start(kind: &str) -> HostileRelay {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "hostile_relay_process", "--nocapture"])
            .env("HEARTH_HOSTILE_RELAY", kind)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let url = out
            .lines()
            .map_while(|l| l.ok())
            .find_map(|l| l.strip_prefix("URL ").map(str::to_string))
            .expect("the hostile relay says where it listens");
        HostileRelay { child, url }
    }
}

impl Drop for HostileRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test: the hostile relay's process (see [`HostileRelay`]); returns at once otherwise.
#[tokio::test]
async fn hostile_relay_process() {
    let kind = match std::env::var("HEARTH_HOSTILE_RELAY").as_deref() {
        Ok("liar") => Hostile::LiarAndFlood,
        Ok("refuses") => Hostile::Refuses,
        Ok("silent") => Hostile::Silent,
        _ => return,
    };
    let url = hostile_relay(kind).await;
    println!("URL {url}");
    std::future::pending::<()>().await;
}

/// A modified relay on loopback; returns its URL.
async fn hostile_relay(kind: Hostile) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let Ws::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                        continue;
                    };
                    let replies = match kind {
                        Hostile::Silent => Vec::new(),
                        Hostile::Refuses => match v[0].as_str() {
                            Some("EVENT") => vec![serde_json::json!([
                                "OK",
                                v[1]["id"],
                                false,
                                "rate-limited: slow down"
                            ])
                            .to_string()],
                            Some("REQ") => vec![serde_json::json!([
                                "CLOSED",
                                v[1],
                                "auth-required: sign in first"
                            ])
                            .to_string()],
                            _ => Vec::new(),
                        },
                        Hostile::LiarAndFlood => match v[0].as_str() {
                            Some("EVENT") => {
                                vec![serde_json::json!(["OK", v[1]["id"], true, ""]).to_string()]
                            }
                            Some("REQ") => flood(&v),
                            _ => Vec::new(),
                        },
                    };
                    for r in replies {
                        if ws.send(Ws::Text(r.into())).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// Thousands of well-formed, well-signed events under the tags a request asks for, that are
/// not ours; then garbage, an oversize event, a forged signature, and EOSE.
fn flood(req: &serde_json::Value) -> Vec<String> {
    let sub = req[1].clone();
    let ps: Vec<nostr_sdk::PublicKey> = req[2]["#p"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .filter_map(|p| nostr_sdk::PublicKey::from_hex(p).ok())
        .collect();
    let mut out = Vec::new();
    let junk = "A".repeat(seal::MAX_CONTENT - 8);
    for i in 0..2_000 {
        let Some(p) = ps.get(i % ps.len().max(1)) else {
            break;
        };
        let ev = nostr_sdk::EventBuilder::new(Kind::Custom(KIND), junk.clone())
            .tag(nostr_sdk::Tag::public_key(*p))
            .sign_with_keys(&nostr_sdk::Keys::generate())
            .unwrap();
        out.push(serde_json::json!(["EVENT", sub, ev]).to_string());
    }
    out.push("[\"EVENT\", garbage".into());
    out.push("not json at all".into());
    if let Some(p) = ps.first() {
        let big = nostr_sdk::EventBuilder::new(Kind::Custom(KIND), "B".repeat(200_000))
            .tag(nostr_sdk::Tag::public_key(*p))
            .sign_with_keys(&nostr_sdk::Keys::generate())
            .unwrap();
        out.push(serde_json::json!(["EVENT", sub, big]).to_string());
        let mut forged = serde_json::to_value(
            nostr_sdk::EventBuilder::new(Kind::Custom(KIND), "x")
                .tag(nostr_sdk::Tag::public_key(*p))
                .sign_with_keys(&nostr_sdk::Keys::generate())
                .unwrap(),
        )
        .unwrap();
        forged["content"] = "y".into();
        out.push(serde_json::json!(["EVENT", sub, forged]).to_string());
    }
    out.push(serde_json::json!(["EOSE", sub]).to_string());
    out
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Hostile and flaky relays next to one honest one: a relay that lies about storing, floods
/// fake events under our tags and sends garbage; one that refuses everything; one that never
/// answers. The message still goes through the honest relay both ways, the liar does not make
/// it "delivered", each misbehaviour shows in the relay's health, and the flood costs a bounded
/// amount of memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_relays_cost_bounded_time_and_memory_and_stop_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let honest = NostrRelay::start();
    let (liar_relay, refusing_relay, silent_relay) = (
        HostileRelay::start("liar"),
        HostileRelay::start("refuses"),
        HostileRelay::start("silent"),
    );
    let (liar, refuses, silent) = (
        liar_relay.url.clone(),
        refusing_relay.url.clone(),
        silent_relay.url.clone(),
    );
    let urls = vec![liar.clone(), refuses.clone(), silent.clone(), honest.url()];
    let (mom, son) = contacts("Mom", "Son").await;
    let chat = dm(&mom, "Son").await;
    let son_chat = dm(&son, "Mom").await;
    mom.node.start_network(with_mailboxes(&urls)).await.unwrap();
    let before = rss_kb();
    son.node.start_network(with_mailboxes(&urls)).await.unwrap();

    let id = mom
        .node
        .send_message(&chat, "are you safe?", None)
        .await
        .unwrap();
    eventually("Son reads it through the honest relay", || async {
        son.bodies(&son_chat)
            .await
            .contains(&"are you safe?".into())
    })
    .await;
    eventually("delivered, from Son's receipt", || async {
        mom.node.message(&id).await.unwrap().status == Some(DeliveryState::Delivered)
    })
    .await;
    son.node
        .send_message(&son_chat, "yes, all fine", None)
        .await
        .unwrap();
    eventually("Mom reads the reply", || async {
        mom.bodies(&chat).await.contains(&"yes, all fine".into())
    })
    .await;

    let health = |p: &Peer| {
        let node = p.node.clone();
        async move { node.mailbox_relays().await.unwrap().relays }
    };
    let of = |rs: &[hearth_core::nostr::RelayStatus], url: &str| {
        rs.iter()
            .find(|r| r.url.trim_end_matches('/') == url)
            .cloned()
            .unwrap()
    };
    eventually("the flood is seen and dropped", || async {
        of(&health(&son).await, &liar).dropped >= 100
    })
    .await;
    let rs = health(&mom).await;
    let r = of(&rs, &refuses);
    assert!(r.refused >= 1 && r.accepted == 0, "{r:?}");
    assert!(
        r.error.as_deref().unwrap_or("").contains("rate-limited"),
        "{r:?}"
    );
    assert_eq!(of(&rs, &silent).accepted, 0);
    assert!(of(&rs, &honest.url()).accepted >= 1);
    // Thousands of 32 KB fake events (66 MB per request) came at both nodes: what they hold
    // is bounded by a page and a few batches.
    let grown_mb = rss_kb().saturating_sub(before) / 1024;
    eprintln!("both nodes' memory grew by {grown_mb} MB under the flood");
    assert!(grown_mb < 128, "memory grew by {grown_mb} MB");
}

/// A run started without public mailboxes (`--no-nostr`, `HEARTH_NOSTR=0`) stays without them
/// when a settings change restarts the network; a saved relay list applies at once; relays
/// named for the run win over the saved ones until it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_choices_hold_across_restarts_and_saved_relays_apply_at_once() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let p = Peer::new("Mom").await;
    let mut cfg = with_mailboxes(&[]);
    cfg.nostr_relays = p.node.network_config().await.unwrap().nostr_relays;
    cfg.run.no_nostr = true;
    cfg.apply_run();
    p.node.start_network(cfg).await.unwrap();
    assert!(p.node.mailbox_relays().await.is_none());
    // A settings change restarts the network: still no public relay.
    p.node.set_public_network(false).await.unwrap();
    assert!(p.node.mailbox_relays().await.is_none());
    p.node.stop_network().await.unwrap();

    // Saved relays: a new list applies at once.
    let (a, b) = (NostrRelay::start(), NostrRelay::start());
    p.node.set_nostr_relays(&[a.url()]).await.unwrap();
    let cfg = p.node.network_config().await.unwrap();
    let mut cfg = hearth_core::net::Config {
        nostr_relays: cfg.nostr_relays,
        ..with_mailboxes(&[])
    };
    cfg.apply_run();
    p.node.start_network(cfg).await.unwrap();
    let urls = |p: &Peer| {
        let n = p.node.clone();
        async move {
            n.mailbox_relays()
                .await
                .map(|s| s.relays.into_iter().map(|r| r.url).collect::<Vec<_>>())
        }
    };
    assert_eq!(urls(&p).await, Some(vec![a.url()]));
    p.node.set_nostr_relays(&[b.url()]).await.unwrap();
    assert_eq!(urls(&p).await, Some(vec![b.url()]));
    p.node.set_nostr(false).await.unwrap();
    assert_eq!(urls(&p).await, None);
    p.node.set_nostr(true).await.unwrap();
    assert_eq!(urls(&p).await, Some(vec![b.url()]));
    p.node.stop_network().await.unwrap();

    // LAN-only never uses them, whatever is saved or named.
    let mut cfg = with_mailboxes(&[a.url()]);
    cfg.lan_only = true;
    cfg.run.nostr_relays = vec![b.url()];
    cfg.apply_run();
    p.node.start_network(cfg).await.unwrap();
    assert_eq!(urls(&p).await, None);
    p.node.stop_network().await.unwrap();

    // Relays named for this run win over the saved ones, across restarts.
    let mut cfg = with_mailboxes(&[b.url()]);
    cfg.run.nostr_relays = vec![a.url()];
    cfg.apply_run();
    p.node.start_network(cfg).await.unwrap();
    assert_eq!(urls(&p).await, Some(vec![a.url()]));
    p.node.set_public_network(false).await.unwrap();
    assert_eq!(urls(&p).await, Some(vec![a.url()]));
}

/// Catching up after a week away: Mom's messages were deposited a week ago (under that day's
/// tags, dated that day), and Son last looked eight days ago. Coming back, he asks for every
/// day's tags since then and reads them all; garbage and a forged envelope sealed among them
/// (a member's modified client) change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_away_catches_up_from_every_days_tags() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let relay = NostrRelay::start();
    let (mom, son) = contacts("Mom", "Son").await;
    let chat = dm(&mom, "Son").await;
    let son_chat = dm(&son, "Mom").await;
    let before = son.bodies(&son_chat).await.len();
    for i in 0..30 {
        mom.node
            .send_message(&chat, &format!("day {i}: all well"), None)
            .await
            .unwrap();
    }
    // Deposited as Mom's device would have a week ago.
    let groups = mom
        .node
        .modified_client(|e| e.pending_mailbox_deposits())
        .await
        .unwrap();
    let now = Timestamp::now().as_secs();
    let week_ago = now - 7 * 24 * 3600;
    let client = Client::default();
    client.add_relay(relay.url()).await.unwrap();
    client.connect().await;
    for (secret, mut bodies) in groups {
        let tag = secret.tag(epoch_of(week_ago));
        // A member's modified client seals well but says nonsense: garbage, and a copy of a
        // real envelope with its body altered (its signature no longer holds). Ingest refuses
        // both; nothing else changes.
        let mut forged = bodies[0].clone();
        let last = forged.len() - 70;
        forged[last] ^= 1;
        bodies.push(forged);
        bodies.push(b"not an envelope".to_vec());
        for payload in seal::pack(&bodies) {
            let ev = nostr_sdk::EventBuilder::new(Kind::Custom(KIND), seal::seal(&tag, &payload))
                .tag(nostr_sdk::Tag::public_key(tag.p))
                .tag(nostr_sdk::Tag::expiration(Timestamp::from_secs(
                    now + 7 * 24 * 3600,
                )))
                .custom_created_at(Timestamp::from_secs(week_ago))
                .sign_with_keys(&nostr_sdk::Keys::generate())
                .unwrap();
            assert!(!client.send_event(&ev).await.unwrap().success.is_empty());
        }
    }
    client.shutdown().await;
    let url = relay.url();
    son.node
        .modified_client(move |e| e.set_mailbox_fetched(&url, now - 8 * 24 * 3600))
        .await
        .unwrap();
    son.node
        .start_network(with_mailboxes(&[relay.url()]))
        .await
        .unwrap();
    eventually("a week of messages caught up", || async {
        son.bodies(&son_chat).await.len() == before + 30
    })
    .await;
    // The forgery was refused, not shown as a 31st message.
    assert_eq!(son.bodies(&son_chat).await.len(), before + 30);
}

/// The public relays are `wss://`: the mailbox client speaks TLS to them (rustls, with a
/// crypto provider chosen at start: two are linked, and rustls refuses to guess between them).
/// A listener standing in for a relay receives a TLS ClientHello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_relays_are_spoken_to_over_tls() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = Peer::new("Mom").await;
    p.node
        .start_network(with_mailboxes(&[format!("wss://localhost:{port}")]))
        .await
        .unwrap();
    let (mut tcp, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the client connects")
        .unwrap();
    let mut first = [0u8; 2];
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(Duration::from_secs(20), tcp.read_exact(&mut first))
        .await
        .expect("the client speaks")
        .unwrap();
    assert_eq!(first, [0x16, 0x03], "a TLS handshake record");
}

/// A settings change restarts the network: mail still goes to the mailboxes afterwards (the
/// stopped network's deposit task is gone, not left to take the new one's work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_go_on_after_a_restart() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let relay = NostrRelay::start();
    let (mom, _son) = contacts("Mom", "Son").await;
    let chat = dm(&mom, "Son").await;
    mom.node
        .start_network(with_mailboxes(&[relay.url()]))
        .await
        .unwrap();
    for round in 0..3 {
        mom.node.set_public_network(round % 2 == 1).await.unwrap();
        let id = mom
            .node
            .send_message(&chat, &format!("after restart {round}"), None)
            .await
            .unwrap();
        eventually("handed to the mailbox after a restart", || async {
            mom.node.message(&id).await.unwrap().status == Some(DeliveryState::InMailbox)
        })
        .await;
    }
}
