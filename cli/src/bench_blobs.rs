//! `hearth bench-blobs`: photos and files against ARCHITECTURE.md's budget (a 5 MB photo on a
//! LAN peer: preview ≤ 200 ms, full ≤ 1 s, at least half the raw stream rate). Reports, never
//! judges.
//!
//! Two nodes in this process on loopback (a LAN path): a 5 MB file sent N times, timed from
//! the send call to the preview shown on the peer (the message with its attachment) and to the
//! whole blob there; the floor is one bare libp2p stream (TCP, Noise, Yamux, one
//! request-response answer) carrying the same 5 MB in the same run. Then a camera-sized photo
//! (12 MP JPEG) through the photo path, the disk each blob takes, and the peak memory of the
//! process while a 50 MB file goes from one node to the other. Last, a 5 MB file through a
//! family relay's mailbox: deposited while the receiver is offline, fetched from the relay
//! after the sender has gone.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args as ClapArgs;
use futures::StreamExt;
use hearth_core::blob::store::BlobState;
use hearth_core::blob::Kind;
use hearth_core::node::Outgoing;
use hearth_core::{ChatId, MessageId, Node};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, StreamProtocol};
use serde_json::json;

use crate::output::line;

#[derive(ClapArgs)]
pub struct Args {
    /// Timed sends of the 5 MB file.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Size of the large file for the memory measurement, in MB.
    #[arg(long, default_value_t = 50)]
    large_mb: usize,
}

const FIVE_MB: usize = 5 * 1024 * 1024;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Bytes that do not compress (a photo's are already compressed).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn vm(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    anyhow::bail!("timed out waiting for {what}")
}

async fn state(n: &Node, id: &MessageId) -> Option<BlobState> {
    n.message(id).await.ok()?.attachment.map(|a| a.state)
}

fn file(bytes: Vec<u8>, name: &str) -> Outgoing {
    Outgoing::bytes(Kind::File, name, "application/octet-stream", bytes)
}

/// Sends `out` and times preview shown and whole on the peer (ms from the send call).
async fn timed(a: &Node, b: &Node, chat: &ChatId, out: Outgoing) -> Result<(f64, f64, MessageId)> {
    let t = Instant::now();
    let id = a.send_attachment(chat, "", None, out).await?;
    wait_for("the preview", async || {
        b.message(&id).await.is_ok_and(|m| m.attachment.is_some())
    })
    .await?;
    let preview = t.elapsed().as_secs_f64() * 1000.0;
    wait_for("the whole blob", async || {
        state(b, &id).await == Some(BlobState::Complete)
    })
    .await?;
    Ok((preview, t.elapsed().as_secs_f64() * 1000.0, id))
}

pub async fn run(args: Args, json: bool) -> Result<()> {
    let root = tempfile::tempdir()?;
    let (a, b) = (
        Node::open(root.path().join("a")).await?,
        Node::open(root.path().join("b")).await?,
    );
    a.create_profile("A").await?;
    b.create_profile("B").await?;
    let cfg = || hearth_core::net::Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        lan_only: true,
        mdns: false,
        public_network: false,
        nostr_relays: Vec::new(),
        ..Default::default()
    };
    a.start_network(cfg()).await?;
    b.start_network(cfg()).await?;
    wait_for("listening", async || {
        a.network_status()
            .await
            .ok()
            .flatten()
            .is_some_and(|s| !s.listen.is_empty())
    })
    .await?;
    let code = a.create_invite(3600, vec![]).await?;
    b.accept_invite(&code).await?;
    wait_for("contacts", async || {
        a.contacts()
            .await
            .ok()
            .and_then(|c| c.first().map(|c| c.state))
            == Some(hearth_core::contacts::State::Connected)
    })
    .await?;
    let chat = a.contacts().await?[0].chat.expect("chat");

    let floor = floor_mb_s(FIVE_MB, args.runs).await?;
    let (mut previews, mut fulls) = (Vec::new(), Vec::new());
    let mut last = None;
    for i in 0..args.runs {
        let (p, f, id) =
            timed(&a, &b, &chat, file(noise(FIVE_MB, i as u64 + 1), "5mb.bin")).await?;
        previews.push(p);
        fulls.push(f);
        last = Some(id);
    }
    // The transfer alone: from the preview shown (the message is there, sealing is done) to
    // the whole blob; the time before it is the sender sealing 5 MB to disk.
    let mut transfers: Vec<f64> = previews.iter().zip(&fulls).map(|(p, f)| f - p).collect();
    let (p50, f50, x50) = (
        median(&mut previews),
        median(&mut fulls),
        median(&mut transfers),
    );
    let mb = FIVE_MB as f64 / (1024.0 * 1024.0);
    let (rate, xrate) = (mb / (f50 / 1000.0), mb / (x50 / 1000.0));
    line(
        json,
        &json!({ "bench": "blob_5mb_lan", "runs": args.runs, "preview_p50_ms": p50, "full_p50_ms": f50,
                 "transfer_p50_ms": x50, "rate_mb_s": rate, "transfer_mb_s": xrate, "floor_mb_s": floor,
                 "ratio_to_floor": rate / floor, "transfer_ratio_to_floor": xrate / floor }),
        || {
            format!("5 MB file on a LAN peer (loopback), median of {}: preview {p50:.0} ms, whole {f50:.0} ms from the send call ({rate:.0} MB/s, {:.2} of the floor); the transfer alone {x50:.0} ms ({xrate:.0} MB/s, {:.2} of the floor); one bare libp2p stream: {floor:.0} MB/s", args.runs, rate / floor, xrate / floor)
        },
    );

    // Disk: the chunk files of one 5 MB blob on the receiving side.
    if let Some(id) = last {
        let blob = b.attachment(&id).await?.blob;
        let disk = dir_bytes(&root.path().join("b").join("blobs").join(blob.to_string()));
        line(
            json,
            &json!({ "bench": "blob_disk", "plain_bytes": FIVE_MB, "disk_bytes": disk, "overhead": disk as f64 / FIVE_MB as f64 - 1.0 }),
            || {
                format!(
                    "disk per 5 MB blob: {disk} bytes ({:+.3}% over the plaintext)",
                    (disk as f64 / FIVE_MB as f64 - 1.0) * 100.0
                )
            },
        );
    }

    // A camera photo: 4000 × 3000 JPEG, through the photo path (decode, downscale, re-encode).
    let camera = camera_jpeg();
    let t = Instant::now();
    let prepared = hearth_core::blob::photo::prepare(&camera)?;
    let prep_ms = t.elapsed().as_secs_f64() * 1000.0;
    let out = Outgoing::bytes(Kind::Photo, "camera.jpg", "image/jpeg", camera.clone());
    let (p, f, id) = timed(&a, &b, &chat, out).await?;
    let blob = b.attachment(&id).await?.blob;
    let disk = dir_bytes(&root.path().join("b").join("blobs").join(blob.to_string()));
    line(
        json,
        &json!({ "bench": "camera_photo", "original_bytes": camera.len(), "sent_bytes": prepared.jpeg.len(),
                 "preview_bytes": prepared.preview.len(), "prepare_ms": prep_ms, "preview_ms": p, "full_ms": f, "disk_bytes": disk }),
        || {
            format!("camera photo 4000×3000 ({} KB): prepared in {prep_ms:.0} ms to {}×{} {} KB with a {} B preview; on the peer: preview {p:.0} ms, whole {f:.0} ms; disk {} KB",
            camera.len() / 1024, prepared.width, prepared.height, prepared.jpeg.len() / 1024, prepared.preview.len(), disk / 1024)
        },
    );

    // Memory: peak resident size of this process (both nodes) while a large file crosses.
    let large = root.path().join("large.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&large)?;
        for i in 0..args.large_mb {
            f.write_all(&noise(1024 * 1024, 1000 + i as u64))?;
        }
        f.sync_all()?;
    }
    let mut idle = text_latencies(&a, &b, &chat, 20).await?;
    let before = vm("VmRSS:");
    // Resets the peak ("VmHWM") to the current size (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let id = a
        .send_attachment(&chat, "", None, Outgoing::file(&large))
        .await?;
    // Texts while the file crosses the same connection: "I'm safe" must not wait behind it.
    let mut busy = Vec::new();
    while state(&b, &id).await != Some(BlobState::Complete) && busy.len() < 50 {
        let l = text_latencies(&a, &b, &chat, 1).await?;
        if state(&b, &id).await != Some(BlobState::Complete) {
            busy.extend(l);
        }
    }
    wait_for("the large file", async || {
        state(&b, &id).await == Some(BlobState::Complete)
    })
    .await?;
    let secs = t.elapsed().as_secs_f64();
    let peak = vm("VmHWM:");
    let (i50, b50) = (median(&mut idle), median(&mut busy));
    line(
        json,
        &json!({ "bench": "text_during_transfer", "idle_p50_ms": i50, "during_p50_ms": b50, "during_n": busy.len() }),
        || {
            format!("a text while the {} MB file crosses: shown on the peer in {b50:.1} ms (median of {}); {i50:.1} ms with nothing else moving", args.large_mb, busy.len())
        },
    );
    line(
        json,
        &json!({ "bench": "large_file_memory", "mb": args.large_mb, "rss_before_mb": before / 1_048_576,
                 "peak_rss_mb": peak / 1_048_576, "growth_mb": peak.saturating_sub(before) / 1_048_576, "seconds": secs }),
        || {
            format!("{} MB file from disk to the peer in {secs:.1} s: process peak {} MB (was {} MB before; both nodes in this process)",
            args.large_mb, peak / 1_048_576, before / 1_048_576)
        },
    );
    a.shutdown().await?;
    b.shutdown().await?;
    through_a_mailbox(json).await
}

/// A 5 MB file through a family relay's mailbox (all on loopback): time for the sender to
/// deposit it while the receiver is offline, and for the receiver, once the sender is gone, to
/// have it whole from the relay after its message arrived.
async fn through_a_mailbox(json: bool) -> Result<()> {
    let root = tempfile::tempdir()?;
    let (relay, addr) = crate::bench_relay::start_relay(root.path()).await?;
    let cfg = hearth_core::net::Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        lan_only: false,
        mdns: false,
        public_network: false,
        nostr_relays: Vec::new(),
        relays: vec![addr],
        ..Default::default()
    };
    let (a, b, chat) = crate::bench_relay::pair(root.path(), cfg.clone(), true).await?;
    b.stop_network().await?;
    let kept = async |n: &Node| {
        n.network_status()
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.relays.iter().any(|r| r.kept > 0))
    };
    wait_for("the mailbox keeps the chat", async || kept(&a).await).await?;
    let t = Instant::now();
    let id = a
        .send_attachment(&chat, "", None, file(noise(FIVE_MB, 77), "5mb.bin"))
        .await?;
    wait_for("the deposit", async || {
        a.network_status()
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.blobs_deposited >= 1)
    })
    .await?;
    let deposit_ms = t.elapsed().as_secs_f64() * 1000.0;
    a.stop_network().await?;
    let blob = a.attachment(&id).await?.blob;
    b.start_network(cfg).await?;
    wait_for("the message from the mailbox", async || {
        b.message(&id).await.is_ok_and(|m| m.attachment.is_some())
    })
    .await?;
    let t = Instant::now();
    b.fetch_blob(&blob).await?;
    wait_for("the blob from the mailbox", async || {
        state(&b, &id).await == Some(BlobState::Complete)
    })
    .await?;
    let fetch_ms = t.elapsed().as_secs_f64() * 1000.0;
    let held = relay.status().await?.mailbox;
    let mb = FIVE_MB as f64 / (1024.0 * 1024.0);
    line(
        json,
        &json!({ "bench": "blob_5mb_mailbox", "deposit_ms": deposit_ms, "fetch_ms": fetch_ms,
                 "deposit_mb_s": mb / (deposit_ms / 1000.0), "fetch_mb_s": mb / (fetch_ms / 1000.0),
                 "relay_reserved_bytes": held.blob_bytes }),
        || {
            format!("5 MB file through a family relay's mailbox (loopback): deposited {deposit_ms:.0} ms from the send call ({:.0} MB/s), whole on the member who was away {fetch_ms:.0} ms after its message ({:.0} MB/s); the relay reserves {} bytes for it",
            mb / (deposit_ms / 1000.0), mb / (fetch_ms / 1000.0), held.blob_bytes)
        },
    );
    a.shutdown().await?;
    b.shutdown().await?;
    relay.stop().await?;
    Ok(())
}

/// Send → shown on the peer of `n` texts, one after another (ms).
async fn text_latencies(a: &Node, b: &Node, chat: &ChatId, n: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let id = a.send_message(chat, "✔ I'm safe", None).await?;
        wait_for("the text", async || b.message(&id).await.is_ok()).await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(out)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A 12 MP JPEG about the size a phone camera makes (noise compresses poorly, like detail).
fn camera_jpeg() -> Vec<u8> {
    let n = noise(4000 * 3000, 77);
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        let v = n[(y * 4000 + x) as usize];
        image::Rgb([v / 2 + (x / 16) as u8, v / 3 + (y / 12) as u8, v / 2])
    });
    let mut out = Vec::new();
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img);
    out
}

/// MB/s of one bare libp2p stream (TCP, Noise, Yamux) carrying `bytes` as one answer: the
/// median of `runs`.
async fn floor_mb_s(bytes: usize, runs: usize) -> Result<f64> {
    use serde_bytes::ByteBuf;
    type B = request_response::cbor::Behaviour<u8, ByteBuf>;
    let make = || -> Result<libp2p::Swarm<B>> {
        Ok(libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|_| {
                B::with_codec(
                    request_response::cbor::codec::Codec::default()
                        .set_response_size_maximum(bytes as u64 + 1024),
                    [(StreamProtocol::new("/floor-bulk/1"), ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(60)),
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
    let payload = ByteBuf::from(noise(bytes, 9));
    let task = tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Request { channel, .. },
                ..
            }) = server.select_next_some().await
            {
                let _ = server
                    .behaviour_mut()
                    .send_response(channel, payload.clone());
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
    let mut rates = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        client.behaviour_mut().send_request(&server_id, 0);
        loop {
            match client.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { .. },
                    ..
                }) => break,
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => {
                    anyhow::bail!("floor: {error}")
                }
                _ => {}
            }
        }
        rates.push(bytes as f64 / (1024.0 * 1024.0) / t.elapsed().as_secs_f64());
    }
    task.abort();
    Ok(median(&mut rates))
}
