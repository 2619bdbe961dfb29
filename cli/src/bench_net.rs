//! `hearth bench-net`: network measurements against ARCHITECTURE.md budgets. Reports, never
//! judges: medians and percentiles of real sends between real nodes.
//!
//! Default (one process, loopback): send → received on the peer (p50/p99), the same round trip
//! on a bare libp2p request-response exchange as the floor, and catch-up of `--catch-up`
//! messages from a peer after being offline. With `--role send|recv` two processes (for
//! example in two network namespaces over a veth pair, see scripts/bench-net.sh) measure
//! send → received across a real link; both read the same machine clock.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use futures::StreamExt;
use hearth_core::contacts::State;
use hearth_core::reach::Path;
use hearth_core::{Event, Node};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, StreamProtocol};
use serde_json::json;

use crate::output::line;

#[derive(ClapArgs)]
pub struct Args {
    /// Messages timed for latency.
    #[arg(long, default_value_t = 500)]
    count: usize,
    /// Messages for the catch-up measurement.
    #[arg(long, default_value_t = 100_000)]
    catch_up: usize,
    /// Two-process mode: `send` or `recv`.
    #[arg(long)]
    role: Option<String>,
    /// recv: address to listen on; send: the receiver's address.
    #[arg(long)]
    addr: Option<String>,
    /// send: the contact to send to.
    #[arg(long)]
    to: Option<String>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn loopback() -> hearth_core::net::Config {
    hearth_core::net::Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        lan_only: true,
        mdns: false,
        public_network: false,
        nostr_relays: Vec::new(),
        ..Default::default()
    }
}

async fn wait<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) -> Result<()> {
    for _ in 0..6000 {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("timed out")
}

pub async fn run(args: Args, json: bool, dir: Option<std::path::PathBuf>) -> Result<()> {
    match args.role.as_deref() {
        Some("recv") => return recv(args, json, dir.context("--data-dir")?).await,
        Some("send") => return send(args, json, dir.context("--data-dir")?).await,
        Some(r) => anyhow::bail!("unknown role {r}"),
        None => {}
    }
    let root = std::env::temp_dir().join(format!("hearth-bench-net-{}", std::process::id()));
    let (a, b) = (
        Node::open(root.join("a")).await?,
        Node::open(root.join("b")).await?,
    );
    a.create_profile("A").await?;
    b.create_profile("B").await?;
    a.start_network(loopback()).await?;
    b.start_network(loopback()).await?;
    wait(|| async {
        a.network_status()
            .await
            .ok()
            .flatten()
            .map(|s| !s.listen.is_empty())
            .unwrap_or(false)
    })
    .await?;
    let code = a.create_invite(3600, vec![]).await?;
    let t = Instant::now();
    let chat = b.accept_invite(&code).await?.chat.context("chat")?;
    wait(|| async {
        a.contacts()
            .await
            .map(|c| c.iter().any(|x| x.state == State::Connected))
            .unwrap_or(false)
    })
    .await?;
    wait(|| async {
        b.contacts()
            .await
            .map(|c| c.iter().any(|x| x.state == State::Connected))
            .unwrap_or(false)
    })
    .await?;

    let ms = t.elapsed().as_secs_f64() * 1000.0;
    line(
        json,
        &json!({ "bench": "invite_accepted_both_sides", "ms": ms }),
        || {
            format!("invite accepted → both sides show the contact (loopback, first connection): {ms:.1} ms (target ≤ 1000)")
        },
    );

    // send → received, warm connection.
    let mut events = a.subscribe();
    let mut lat = Vec::new();
    for i in 0..args.count + 20 {
        let t = Instant::now();
        let id = b.send_message(&chat, "0123456789 warm connection latency probe, a hundred characters of text, more or less like chat", None).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await?? {
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
        &json!({ "bench": "send_to_received_loopback", "p50_ms": p50, "p99_ms": p99, "n": args.count }),
        || {
            format!("send → received (loopback): p50 {p50:.2} ms, p99 {p99:.2} ms (budget p50 ≤ 5, p99 ≤ 20)")
        },
    );

    let (f50, f99) = floor(args.count).await?;
    line(
        json,
        &json!({ "bench": "libp2p_request_response_floor", "rtt_p50_ms": f50, "rtt_p99_ms": f99 }),
        || {
            format!("floor, bare libp2p request-response round trip (loopback): p50 {f50:.2} ms, p99 {f99:.2} ms")
        },
    );

    // Catch-up: A goes offline, B writes, A comes back.
    a.stop_network().await?;
    let mut left = args.catch_up;
    while left > 0 {
        let n = left.min(5000);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let bb = b.clone();
            set.spawn(async move { bb.send_message(&chat, "catch-up message, about one hundred characters long, like a real family chat line.", None).await });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        left -= n;
    }
    let target = b.version_vectors().await?;
    let t = Instant::now();
    a.start_network(loopback()).await?;
    let b_addr = b.network_status().await?.context("b offline")?.listen[0].clone();
    a.dial(&b_addr).await?;
    wait(|| async {
        let vv = a.version_vectors().await.unwrap_or_default();
        target
            .0
            .iter()
            .all(|(t, authors)| authors.iter().all(|(d, s)| vv.get(t, d) >= *s))
    })
    .await?;
    let secs = t.elapsed().as_secs_f64();
    line(
        json,
        &json!({ "bench": "catch_up", "messages": args.catch_up, "secs": secs }),
        || {
            format!("catch-up of {} messages from a peer, merged and persisted: {secs:.2} s (budget ≤ 3 s for 100k)", args.catch_up)
        },
    );
    a.shutdown().await?;
    b.shutdown().await?;
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// Round trips of a bare libp2p request-response exchange with a chat-sized payload.
async fn floor(n: usize) -> Result<(f64, f64)> {
    type B = request_response::cbor::Behaviour<Vec<u8>, Vec<u8>>;
    let make = || -> Result<libp2p::Swarm<B>> {
        Ok(libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|_| {
                B::new(
                    [(StreamProtocol::new("/floor/1"), ProtocolSupport::Full)],
                    request_response::Config::default(),
                )
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build())
    };
    let mut server = make()?;
    let mut client = make()?;
    server.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = server.select_next_some().await {
            break address;
        }
    };
    let server_id = *server.local_peer_id();
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(request_response::Event::Message {
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            }) = server.select_next_some().await
            {
                let _ = server.behaviour_mut().send_response(channel, request);
            }
        }
    });
    client.dial(addr)?;
    loop {
        match client.select_next_some().await {
            SwarmEvent::ConnectionEstablished { .. } => break,
            SwarmEvent::OutgoingConnectionError { error, .. } => anyhow::bail!("floor: {error}"),
            _ => {}
        }
    }
    let mut rtt = Vec::new();
    for i in 0..n + 20 {
        let t = Instant::now();
        client
            .behaviour_mut()
            .send_request(&server_id, vec![7u8; 400]);
        loop {
            match client.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { .. },
                    ..
                }) => break,
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => anyhow::bail!("floor: {error}"),
                _ => {}
            }
        }
        if i >= 20 {
            rtt.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok((pct(&mut rtt, 0.5), pct(&mut rtt, 0.99)))
}

async fn recv(args: Args, json: bool, dir: std::path::PathBuf) -> Result<()> {
    let node = Node::open(&dir).await?;
    let mut cfg = loopback();
    cfg.listen = vec![args.addr.context("--addr")?.parse()?];
    let mut events = node.subscribe();
    node.start_network(cfg).await?;
    line(json, &json!({ "event": "ready" }), || "ready".into());
    let mut lat = Vec::new();
    while lat.len() < args.count {
        if let Event::MessageReceived { message, .. } = events.recv().await? {
            let now = now_ns();
            let m = node.message(&message).await?;
            if let Some(ts) = m
                .body
                .strip_prefix("bench ")
                .and_then(|s| s.parse::<u128>().ok())
            {
                lat.push((now.saturating_sub(ts)) as f64 / 1e6);
            }
        }
    }
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    line(
        json,
        &json!({ "bench": "send_to_received", "p50_ms": p50, "p99_ms": p99, "n": lat.len() }),
        || {
            format!(
                "send → received: p50 {p50:.2} ms, p99 {p99:.2} ms over {} messages",
                lat.len()
            )
        },
    );
    node.shutdown().await?;
    Ok(())
}

async fn send(args: Args, json: bool, dir: std::path::PathBuf) -> Result<()> {
    let node = Node::open(&dir).await?;
    let mut cfg = loopback();
    cfg.listen = vec!["/ip4/0.0.0.0/tcp/0".parse()?];
    cfg.dial = vec![args.addr.context("--addr")?.parse()?];
    node.start_network(cfg).await?;
    let to = node
        .find_contact(args.to.as_deref().context("--to")?)
        .await?;
    let chat = to.chat.context("no chat")?;
    wait(|| async {
        node.reachability()
            .await
            .map(|r| {
                r.iter()
                    .any(|x| x.account == to.account && x.path == Path::Lan)
            })
            .unwrap_or(false)
    })
    .await?;
    for _ in 0..args.count + 20 {
        node.send_message(&chat, &format!("bench {}", now_ns()), None)
            .await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    line(json, &json!({ "event": "sent" }), || "sent".into());
    tokio::time::sleep(Duration::from_secs(1)).await;
    node.shutdown().await?;
    Ok(())
}
