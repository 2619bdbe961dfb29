//! `hearth relay`: run a relay — circuit relay, rendezvous, AutoNAT and a blind mailbox — for
//! families who cannot reach each other directly. Prints its addresses (give them to the
//! family: Settings → Relays, or `hearth run --relay`) and what it does, until stopped.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use hearth_core::mailbox::Limits;
use hearth_core::relay::{self, RelayEvent};
use serde_json::json;

use crate::output::line;

/// Ten years: longer is surely a typo, and keeps the arithmetic in range.
const MAX_RETENTION_DAYS: u64 = 3650;
/// 1 PiB, for the same reason.
const MAX_STORAGE_MIB: u64 = 1 << 30;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (repeatable).
    #[arg(long, default_values_t = ["/ip4/0.0.0.0/tcp/4001".to_string(), "/ip4/0.0.0.0/udp/4001/quic-v1".to_string()])]
    listen: Vec<String>,
    /// The address families reach this relay at, if not a listen address (a forwarded port,
    /// a DNS name), repeatable.
    #[arg(long)]
    external: Vec<String>,
    /// Days the mailbox keeps a message for an offline member.
    #[arg(long, default_value_t = 30)]
    retention_days: u64,
    /// Disk the mailbox may use in all, in MiB.
    #[arg(long, default_value_t = 4096)]
    max_storage_mib: u64,
    /// Days the mailbox keeps a photo, voice message or file for an offline member.
    #[arg(long, default_value_t = 14)]
    photo_retention_days: u64,
    /// Disk photos, voice messages and files may use in all, in MiB.
    #[arg(long, default_value_t = 16384)]
    max_photo_storage_mib: u64,
    /// Connections one IP address (IPv6: one /64) may hold; raise it when many families
    /// reach this relay from behind one shared address.
    #[arg(long, default_value_t = relay::MAX_CONNECTIONS_PER_SOURCE)]
    max_per_source: u32,
    /// Also print which devices reserve, relay to each other and use the mailbox (peer ids).
    /// Off by default: a relay that keeps no such lines keeps no record of who talks to whom.
    #[arg(long)]
    log_peers: bool,
}

pub async fn run(dir: &Path, args: Args, json: bool) -> Result<()> {
    let parse = |list: &[String]| -> Result<Vec<libp2p::Multiaddr>> {
        list.iter()
            .map(|a| {
                a.parse()
                    .map_err(|e| anyhow::anyhow!("not a network address: {a} ({e})"))
            })
            .collect()
    };
    let cfg = relay::Config {
        data_dir: dir.to_path_buf(),
        listen: parse(&args.listen)?,
        external: parse(&args.external)?,
        limits: Limits {
            retention: Duration::from_secs(
                args.retention_days
                    .clamp(1, MAX_RETENTION_DAYS)
                    .saturating_mul(24 * 3600),
            ),
            total_bytes: args.max_storage_mib.clamp(1, MAX_STORAGE_MIB) << 20,
            blob_retention: Duration::from_secs(
                args.photo_retention_days
                    .clamp(1, MAX_RETENTION_DAYS)
                    .saturating_mul(24 * 3600),
            ),
            blob_total_bytes: args.max_photo_storage_mib.clamp(1, MAX_STORAGE_MIB) << 20,
            ..Limits::default()
        },
        max_per_source: args.max_per_source.max(1),
    };
    let handle = relay::start(cfg).await?;
    let mut events = handle.subscribe();
    // Addresses bound before we subscribed are in the status; later ones come as events.
    let mut printed = std::collections::HashSet::new();
    for _ in 0..250 {
        let s = handle.status().await?;
        if !s.addrs.is_empty() {
            for addr in s.addrs {
                if printed.insert(addr.clone()) {
                    report(json, &RelayEvent::Listening { addr });
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            ev = events.recv() => match ev {
                Ok(RelayEvent::Listening { addr }) => {
                    if printed.insert(addr.clone()) {
                        report(json, &RelayEvent::Listening { addr });
                    }
                }
                Ok(e) if args.log_peers || !names_peers(&e) => report(json, &e),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
        }
    }
    handle.stop().await?;
    line(json, &json!({ "event": "stopped" }), || "Stopped.".into());
    Ok(())
}

fn names_peers(e: &RelayEvent) -> bool {
    !matches!(e, RelayEvent::Listening { .. } | RelayEvent::Purged { .. })
}

fn report(json: bool, e: &RelayEvent) {
    line(json, e, || match e {
        RelayEvent::Listening { addr } => format!("Relay listening: {addr}"),
        RelayEvent::Reserved { peer } => format!("{peer} reserved a slot"),
        RelayEvent::ReservationEnded { peer } => format!("{peer}'s reservation ended"),
        RelayEvent::CircuitOpened { src, dst } => format!("relaying {src} → {dst}"),
        RelayEvent::CircuitClosed { src, dst } => format!("stopped relaying {src} → {dst}"),
        RelayEvent::Kept { peer, topics } => format!("mailbox keeps {topics} topics for {peer}"),
        RelayEvent::Deposited { peer, new, refused } => {
            format!("mailbox: {new} envelopes from {peer} ({refused} refused)")
        }
        RelayEvent::Purged { envelopes } => {
            format!("mailbox: {envelopes} expired envelopes dropped")
        }
        RelayEvent::BlobRefused { peer, full: true } => {
            format!("mailbox: no room for a photo or file from {peer}")
        }
        RelayEvent::BlobRefused { peer, full: false } => {
            format!("mailbox: refused a blob part from {peer}")
        }
    });
}
