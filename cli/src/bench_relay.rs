//! `hearth bench-relay`: beyond-the-LAN measurements, reported (never judged) in the closing
//! notes: send → received through a relay against a direct connection (p50/p99, throughput),
//! the mailbox's store and fetch rates, catch-up of messages queued in a mailbox, and the
//! relay's memory per connected client.
//!
//! Everything runs on loopback in this process, except the relay whose memory is measured: a
//! real `hearth relay` child process, with clients that each hold a reservation on it.

use std::io::BufRead;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use futures::StreamExt;
use hearth_core::contacts::State;
use hearth_core::envelope::{Envelope, Header};
use hearth_core::mailbox::{store, Limits};
use hearth_core::message::DeliveryState;
use hearth_core::sync::protocol::Want;
use hearth_core::{relay, ChatId, DeviceId, Event, Node};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, ping, tcp, yamux, Multiaddr};
use serde_json::json;

use crate::output::line;

#[derive(ClapArgs)]
pub struct Args {
    /// Messages timed for latency on each path.
    #[arg(long, default_value_t = 300)]
    count: usize,
    /// Messages sent in a burst for throughput on each path.
    #[arg(long, default_value_t = 1000)]
    burst: usize,
    /// Messages queued in a mailbox for the catch-up measurement.
    #[arg(long, default_value_t = 10_000)]
    catch_up: usize,
    /// Envelopes for the mailbox store/fetch rates.
    #[arg(long, default_value_t = 20_000)]
    mailbox: usize,
    /// Clients holding reservations for the memory measurement.
    #[arg(long, default_value_t = 200)]
    clients: usize,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

async fn wait<F: std::future::Future<Output = bool>>(
    secs: u64,
    mut f: impl FnMut() -> F,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("timed out")
}

pub async fn run(args: Args, json: bool) -> Result<()> {
    let root = tempfile::tempdir()?;
    mailbox_rates(&args, json, root.path())?;

    let (relay, addr) = start_relay(root.path()).await?;
    // Nodes that listen nowhere: like devices behind a strict NAT, reachable only through the
    // relay (no hole punching possible), so the path measured is the relayed one.
    let relayed_cfg = hearth_core::net::Config {
        listen: vec![],
        lan_only: false,
        mdns: false,
        relays: vec![addr.clone()],
        public_network: false,
        nostr_relays: Vec::new(),
        ..Default::default()
    };
    let direct_cfg = hearth_core::net::Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
        lan_only: true,
        mdns: false,
        public_network: false,
        nostr_relays: Vec::new(),
        ..Default::default()
    };
    for (name, cfg) in [("relayed", relayed_cfg.clone()), ("direct", direct_cfg)] {
        let dir = root.path().join(name);
        let (a, b, chat) = pair(&dir, cfg, name == "relayed").await?;
        let path = path_of(&a).await;
        latency(&args, json, name, &path, &a, &b, &chat).await?;
        throughput(&args, json, name, &a, &b, &chat).await?;
        a.shutdown().await?;
        b.shutdown().await?;
    }
    catch_up(&args, json, root.path(), relayed_cfg).await?;
    relay.stop().await?;
    memory_per_client(&args, json, root.path()).await?;
    Ok(())
}

pub(crate) async fn start_relay(root: &std::path::Path) -> Result<(relay::Handle, Multiaddr)> {
    let h = relay::start(relay::Config {
        data_dir: root.join("relay"),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
        external: vec![],
        limits: Limits::default(),
        max_per_source: relay::MAX_CONNECTIONS_PER_SOURCE,
    })
    .await?;
    for _ in 0..500 {
        if let Some(a) = h.status().await?.addrs.first() {
            return Ok((h.clone(), a.parse()?));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("relay did not listen")
}

/// Two contacts, connected through an invite over the network.
pub(crate) async fn pair(
    dir: &std::path::Path,
    cfg: hearth_core::net::Config,
    relayed: bool,
) -> Result<(Node, Node, ChatId)> {
    let (a, b) = (
        Node::open(dir.join("a")).await?,
        Node::open(dir.join("b")).await?,
    );
    a.create_profile("A").await?;
    b.create_profile("B").await?;
    a.start_network(cfg.clone()).await?;
    b.start_network(cfg).await?;
    for n in [&a, &b] {
        wait(60, || async {
            n.network_status()
                .await
                .ok()
                .flatten()
                .map(|s| {
                    if relayed {
                        s.relays.iter().all(|r| r.reserved) && !s.listen.is_empty()
                    } else {
                        !s.listen.is_empty()
                    }
                })
                .unwrap_or(false)
        })
        .await
        .context("network up")?;
    }
    let code = a.create_invite(3600, vec![]).await?;
    let chat = b.accept_invite(&code).await?.chat.context("chat")?;
    for n in [&a, &b] {
        wait(60, || async {
            n.contacts()
                .await
                .map(|c| c.iter().any(|x| x.state == State::Connected))
                .unwrap_or(false)
        })
        .await
        .context("contact connected")?;
    }
    Ok((a, b, chat))
}

async fn path_of(a: &Node) -> String {
    a.reachability()
        .await
        .ok()
        .and_then(|r| r.first().map(|x| x.path.to_string()))
        .unwrap_or_default()
}

async fn latency(
    args: &Args,
    json: bool,
    name: &str,
    path: &str,
    a: &Node,
    b: &Node,
    chat: &ChatId,
) -> Result<()> {
    let mut events = a.subscribe();
    let mut lat = Vec::new();
    for i in 0..args.count + 20 {
        let t = Instant::now();
        let id = b.send_message(chat, "a hundred characters or so of chat text, as a family writes it, to time one message end to end", None).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(20), events.recv()).await?? {
                Event::MessageReceived { message, .. } if message == id => break,
                _ => {}
            }
        }
        if i >= 20 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    line(
        json,
        &json!({ "bench": format!("send_to_received_{name}"), "path": path, "p50_ms": p50, "p99_ms": p99, "n": args.count }),
        || {
            format!(
                "send → received, {name} (path {path}): p50 {p50:.2} ms, p99 {p99:.2} ms over {}",
                args.count
            )
        },
    );
    Ok(())
}

async fn throughput(
    args: &Args,
    json: bool,
    name: &str,
    a: &Node,
    b: &Node,
    chat: &ChatId,
) -> Result<()> {
    let mut events = a.subscribe();
    let t = Instant::now();
    let mut last = None;
    for i in 0..args.burst {
        last = Some(
            b.send_message(chat, &format!("burst {i}: a short family message"), None)
                .await?,
        );
    }
    let last = last.context("burst")?;
    loop {
        match tokio::time::timeout(Duration::from_secs(120), events.recv()).await? {
            Ok(Event::MessageReceived { message, .. }) if message == last => break,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let rate = args.burst as f64 / t.elapsed().as_secs_f64();
    line(
        json,
        &json!({ "bench": format!("throughput_{name}"), "messages_per_s": rate, "n": args.burst }),
        || {
            format!("throughput, {name}: {rate:.0} messages/s ({} sent in a burst, until the last is shown)", args.burst)
        },
    );
    Ok(())
}

/// Messages queued while the recipient is offline, handed to the mailbox, the sender goes
/// offline, the recipient comes online: time until it has them all.
async fn catch_up(
    args: &Args,
    json: bool,
    root: &std::path::Path,
    cfg: hearth_core::net::Config,
) -> Result<()> {
    let (a, b, chat) = pair(&root.join("catch-up"), cfg.clone(), true).await?;
    a.stop_network().await?;
    let mut last = None;
    for i in 0..args.catch_up {
        last = Some(
            b.send_message(&chat, &format!("while you were away {i}"), None)
                .await?,
        );
    }
    let last = last.context("messages")?;
    wait(600, || async {
        b.message(&last).await.ok().and_then(|m| m.status) == Some(DeliveryState::InMailbox)
    })
    .await
    .context("all handed to the mailbox")?;
    b.stop_network().await?;
    let t = Instant::now();
    a.start_network(cfg).await?;
    let theirs = a.find_chat("B").await?.chat;
    wait(600, || async {
        a.messages(&theirs, 1, None)
            .await
            .ok()
            .and_then(|m| m.last().map(|m| m.body.clone()))
            == Some(format!("while you were away {}", args.catch_up - 1))
    })
    .await
    .context("caught up")?;
    let secs = t.elapsed().as_secs_f64();
    line(
        json,
        &json!({ "bench": "mailbox_catch_up", "messages": args.catch_up, "seconds": secs }),
        || {
            format!(
                "catch-up from a mailbox: {} messages in {secs:.2} s (network start → last shown)",
                args.catch_up
            )
        },
    );
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

/// Deposits and fetches on the mailbox database itself (signed envelopes, a real file).
fn mailbox_rates(args: &Args, json: bool, root: &std::path::Path) -> Result<()> {
    let mut c = store::open(&root.join("mailbox-rates.db"))?;
    let limits = Limits::default();
    let key = libp2p::identity::ed25519::Keypair::generate();
    let me = DeviceId(key.public().to_bytes());
    let secret = hearth_core::mailbox::access::TopicSecret::for_group(&[3; 16]);
    let topic = secret.topic();
    store::keep(
        &mut c,
        &me,
        &[127, 0, 0, 1],
        &[(topic, secret.proof(&me))],
        0,
        &limits,
    )?;
    let envs: Vec<Vec<u8>> = (1..=args.mailbox as u64)
        .map(|seq| {
            let h = Header {
                version: hearth_core::envelope::VERSION,
                topic,
                author: me,
                seq,
                key: 1,
            };
            Envelope::seal(h, vec![0x5a; 300], &key).encode()
        })
        .collect();
    let t = Instant::now();
    for batch in envs.chunks(100) {
        store::deposit(&mut c, &me, batch, 1, &limits)?;
    }
    let store_rate = envs.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut after = 0;
    let mut fetched = 0;
    loop {
        let (batch, more) = store::envelopes(
            &c,
            &[Want {
                topic,
                author: me,
                after,
            }],
        )?;
        fetched += batch.len();
        after += batch.len() as u64;
        if !more {
            break;
        }
    }
    let fetch_rate = fetched as f64 / t.elapsed().as_secs_f64();
    line(
        json,
        &json!({ "bench": "mailbox_rates", "store_per_s": store_rate, "fetch_per_s": fetch_rate, "n": envs.len() }),
        || {
            format!("mailbox: store {store_rate:.0} envelopes/s (verified, batches of 100), fetch {fetch_rate:.0} envelopes/s ({} envelopes of ~400 B)", envs.len())
        },
    );
    Ok(())
}

#[derive(NetworkBehaviour)]
struct Client {
    relay: libp2p::relay::client::Behaviour,
    ping: ping::Behaviour,
}

fn rss_kib(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?)
}

/// A `hearth relay` process, then clients that each keep a reservation on it.
async fn memory_per_client(args: &Args, json: bool, root: &std::path::Path) -> Result<()> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--data-dir")
        .arg(root.join("relay-process"))
        // Every client comes from 127.0.0.1: one source, allowed as many as there are.
        .args([
            "--json",
            "relay",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--max-per-source",
        ])
        .arg((args.clients * 2).to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let out = child.stdout.take().context("stdout")?;
    let mut lines = std::io::BufReader::new(out).lines();
    let addr: Multiaddr = loop {
        let l = lines.next().context("relay exited")??;
        let v: serde_json::Value = serde_json::from_str(&l)?;
        if v["event"] == "listening" {
            break v["addr"].as_str().context("addr")?.parse()?;
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(child.id())?;
    let mut swarms = Vec::new();
    for _ in 0..args.clients {
        let mut s = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_relay_client(noise::Config::new, yamux::Config::default)?
            .with_behaviour(|_, relay| Client {
                relay,
                ping: ping::Behaviour::default(),
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
            .build();
        s.listen_on(addr.clone().with(libp2p::multiaddr::Protocol::P2pCircuit))?;
        swarms.push(s);
    }
    // Drive every client until each holds its reservation.
    let mut reserved = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pending: Vec<_> = swarms.iter_mut().collect();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut next = Vec::new();
        for s in pending {
            let got = tokio::time::timeout(Duration::from_millis(5), async {
                loop {
                    if let SwarmEvent::Behaviour(ClientEvent::Relay(
                        libp2p::relay::client::Event::ReservationReqAccepted { .. },
                    )) = s.select_next_some().await
                    {
                        return;
                    }
                }
            })
            .await;
            if got.is_ok() {
                reserved += 1;
            } else {
                next.push(s);
            }
        }
        pending = next;
    }
    // Keep the clients' connections serviced while the relay settles, then measure.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        for s in swarms.iter_mut() {
            let _ = tokio::time::timeout(Duration::from_millis(1), s.select_next_some()).await;
        }
    }
    let after = rss_kib(child.id())?;
    let _ = child.kill();
    let _ = child.wait();
    let per = (after.saturating_sub(before)) as f64 / reserved.max(1) as f64;
    line(
        json,
        &json!({ "bench": "relay_memory_per_client", "clients": reserved, "rss_before_kib": before, "rss_after_kib": after, "kib_per_client": per }),
        || {
            format!("relay memory: {before} KiB idle, {after} KiB with {reserved} clients holding reservations → {per:.1} KiB per client")
        },
    );
    Ok(())
}
