//! `hearth bench`: measurements against the budgets in ARCHITECTURE.md. Not a test: it reports
//! medians and percentiles and never passes or fails on time. Run on a quiet machine, in a
//! release build: `cargo run --release -p hearth -- bench`.
//!
//! - burst: acknowledged sends per second with many sends in flight (they share commits);
//! - single: latency of one send at a time, p50/p99 (each waits for its own fsync);
//! - disk: bytes on disk per 100-character message, with and without the search index;
//! - open: time to open a node holding `--messages` messages and read the chat list plus the
//!   latest 50 messages of the largest chat, and the process's peak memory (VmHWM) doing so.

use std::time::Instant;

use anyhow::Result;
use clap::Args as ClapArgs;
use hearth_core::{ChatId, Node};
use serde_json::json;

#[derive(ClapArgs)]
pub struct Args {
    /// Messages stored for the open/memory/disk measurement.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// Sends in the burst measurement.
    #[arg(long, default_value_t = 5_000)]
    burst: usize,
    /// Single sends measured one at a time.
    #[arg(long, default_value_t = 300)]
    single: usize,
    /// Keep the data here (reused by --open-only) instead of a temporary directory.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Only measure opening an existing --dir (in a fresh process: run it twice).
    #[arg(long)]
    open_only: bool,
}

const BODY_100: &str = "오늘 저녁은 집에서 같이 먹자. 엄마가 김치찌개 끓인대. Bring the kids, we'll eat at seven, ok?!";

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

async fn largest_chat(node: &Node) -> Result<Option<ChatId>> {
    Ok(node.chats().await?.into_iter().next().map(|c| c.chat))
}

async fn open_and_read(dir: &std::path::Path, json: bool) -> Result<()> {
    let t = Instant::now();
    let node = Node::open(dir).await?;
    let chats = node.chats().await?;
    let chat = largest_chat(&node).await?;
    let page = match chat {
        Some(c) => node.messages(&c, 50, None).await?.len(),
        None => 0,
    };
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    report(json, "open", json!({ "chats": chats.len(), "page": page, "ms": ms, "peak_rss_mib": vm_hwm_kib() as f64 / 1024.0 }),
        &format!("open + chat list + latest {page}: {ms:.1} ms (budget 500 ms); peak memory {:.1} MiB (budget 150 MiB)", vm_hwm_kib() as f64 / 1024.0));
    node.shutdown().await?;
    Ok(())
}

fn report(json: bool, what: &str, v: serde_json::Value, text: &str) {
    if json {
        println!("{}", json!({ "bench": what, "result": v }));
    } else {
        println!("{what:>7}: {text}");
    }
}

pub async fn run(args: Args, json: bool) -> Result<()> {
    let tmp = tempfile_dir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.clone());
    if args.open_only {
        return open_and_read(&dir, json).await;
    }
    let node = Node::open(&dir).await?;
    if node.profile().await.is_err() {
        node.create_profile("Bench").await?;
    }
    // A peer so the conversation is a real encrypted 1:1 (its sender key, Olm channel).
    let peer_dir = dir.join("peer");
    let peer = Node::open(&peer_dir).await?;
    if peer.profile().await.is_err() {
        peer.create_profile("Peer").await?;
    }
    let chat = match largest_chat(&node).await? {
        Some(c) => c,
        None => {
            let code = peer.create_invite(3600, vec![]).await?;
            node.accept_invite(&code)
                .await?
                .chat
                .ok_or_else(|| anyhow::anyhow!("no chat"))?
        }
    };
    peer.shutdown().await?;

    // Burst.
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..args.burst {
        let n = node.clone();
        set.spawn(async move { n.send_message(&chat, BODY_100, None).await });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    let rate = args.burst as f64 / t.elapsed().as_secs_f64();
    report(
        json,
        "burst",
        json!({ "sends": args.burst, "per_sec": rate }),
        &format!("{rate:.0} acknowledged sends/s (budget ≥ 2000)"),
    );

    // Single.
    let mut lat = Vec::with_capacity(args.single);
    for _ in 0..args.single {
        let t = Instant::now();
        node.send_message(&chat, BODY_100, None).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (pct(&lat, 0.5), pct(&lat, 0.99));
    report(
        json,
        "single",
        json!({ "p50_ms": p50, "p99_ms": p99 }),
        &format!("p50 {p50:.2} ms, p99 {p99:.2} ms (budget p99 ≤ 20 ms)"),
    );

    // Fill up to --messages, in bursts.
    let mut stored = args.burst + args.single;
    while stored < args.messages {
        let n = (args.messages - stored).min(5000);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let nn = node.clone();
            set.spawn(async move { nn.send_message(&chat, BODY_100, None).await });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        stored += n;
    }
    node.shutdown().await?;
    drop(node);

    // Disk: checkpoint and vacuum to measure what is stored, not free pages.
    let db = dir.join("hearth.db");
    let conn = rusqlite_free_size(&db)?;
    let total = conn.0 as f64 / stored as f64;
    let fts = conn.1 as f64 / stored as f64;
    report(json, "disk", json!({ "messages": stored, "bytes_per_message": total, "search_index_per_message": fts, "without_index": total - fts }),
        &format!("{total:.0} B/message with search index, {:.0} B without (budget ≤ 400 B without index)", total - fts));
    let _ = dir_bytes(&dir);
    open_and_read(&dir, json).await?;
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// (database bytes after VACUUM, bytes of the full-text index), via the sqlite3 dbstat-free
/// method: page counts of the FTS shadow tables.
fn rusqlite_free_size(db: &std::path::Path) -> Result<(u64, u64)> {
    let c = hearth_core::storage::open(db, false)?;
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let fts: i64 = c.query_row(
        "SELECT COALESCE(SUM(length(block)), 0) FROM messages_fts_data",
        [],
        |r| r.get(0),
    )?;
    let idx: i64 = c.query_row(
        "SELECT COALESCE(SUM(length(term) + 8), 0) FROM messages_fts_idx",
        [],
        |r| r.get(0),
    )?;
    Ok(((page * pages) as u64, (fts + idx) as u64))
}
