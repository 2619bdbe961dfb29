//! `hearth run`: a node in the foreground. It listens, discovers family on the LAN, syncs, and
//! prints what happens: peers reachable or lost (with the path), messages received, delivered
//! and read. Ctrl-C (or SIGTERM) shuts it down cleanly.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use clap::Args as ClapArgs;
use hearth_core::message::DeliveryState;
use hearth_core::reach;
use hearth_core::{Event, MessageId, Node};
use serde_json::json;

use crate::output::line;

#[derive(ClapArgs)]
pub struct Args {
    /// Address to listen on (repeatable). Default: every interface, TCP and QUIC.
    #[arg(long)]
    listen: Vec<String>,
    /// Only local networks: no DNS, no relay, no address outside the LAN.
    #[arg(long)]
    lan_only: bool,
    /// Also dial this address at start (repeatable).
    #[arg(long)]
    dial: Vec<String>,
    /// Use this relay too (repeatable): `/ip4/…/tcp/…/p2p/<relay>`, as `hearth relay` prints.
    #[arg(long)]
    relay: Vec<String>,
    /// Also be a relay and mailbox for the family, listening here (repeatable); the saved
    /// "be a relay for my family" setting listens on port 4001.
    #[arg(long)]
    serve_relay: Vec<String>,
    /// Do not use mDNS discovery.
    #[arg(long)]
    no_mdns: bool,
    /// Start the public network plane from this peer (repeatable; replaces the IPFS bootstrap
    /// peers): `/ip4/…/tcp/4001/p2p/<peer>`.
    #[arg(long)]
    bootstrap: Vec<String>,
    /// Do not use the public IPFS/libp2p network (its DHT and public relays) to find family.
    #[arg(long)]
    no_public_network: bool,
    /// Leave messages for family not reached directly on this Nostr relay (repeatable;
    /// replaces the saved list for this run, while public mailboxes are on):
    /// `wss://relay.example.org`, or `ws://…` on a test network.
    #[arg(long)]
    nostr_relay: Vec<String>,
    /// Do not leave messages in public Nostr mailboxes.
    #[arg(long)]
    no_nostr: bool,
}

pub async fn run(node: &Node, dir: &Path, args: Args, json: bool) -> Result<()> {
    // The saved settings (LAN-only, relays) apply here too; flags only add to them.
    let mut cfg = node.network_config().await?;
    cfg.lan_only |= args.lan_only;
    cfg.mdns = !args.no_mdns;
    // Flags for this run only: they also hold when a settings change restarts the network.
    cfg.run = hearth_core::net::RunChoices {
        no_public_network: args.no_public_network,
        no_nostr: args.no_nostr,
        nostr_relays: hearth_core::nostr::check_relays(&args.nostr_relay)?,
    };
    cfg.apply_run();
    if !args.bootstrap.is_empty() {
        cfg.bootstrap = args
            .bootstrap
            .iter()
            .map(|a| {
                let addr: libp2p::Multiaddr = a.parse()?;
                if hearth_core::net::public::peer_of(&addr).is_none() {
                    anyhow::bail!("a bootstrap address must name its peer: {a} (…/p2p/<peer id>)");
                }
                Ok(addr)
            })
            .collect::<Result<_>>()?;
    }
    if !args.listen.is_empty() {
        cfg.listen = args
            .listen
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()?;
    }
    for a in &args.dial {
        cfg.dial.push(a.parse()?);
    }
    if !args.serve_relay.is_empty() {
        cfg.serve_relay = Some(
            args.serve_relay
                .iter()
                .map(|a| a.parse())
                .collect::<Result<_, _>>()?,
        );
    }
    for r in hearth_core::settings::check_relays(&args.relay)? {
        let r: libp2p::Multiaddr = r.parse()?;
        if !cfg.relays.contains(&r) {
            cfg.relays.push(r);
        }
    }
    let mut events = node.subscribe();
    node.start_network(cfg).await?;
    let control = crate::control::serve(node.clone(), dir).await?;
    // Report where we listen once the addresses are known.
    for _ in 0..100 {
        if let Some(s) = node.network_status().await? {
            if !s.listen.is_empty() {
                line(
                    json,
                    &json!({ "event": "listening", "device": s.device, "addrs": s.listen, "lan_only": s.lan_only }),
                    || {
                        format!(
                            "Listening as {} on {}{}",
                            s.device,
                            s.listen.join(", "),
                            if s.lan_only { " (LAN only)" } else { "" }
                        )
                    },
                );
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    if let Some(relay) = node.relay_service() {
        // Its addresses, once bound, for the family's relay settings.
        for _ in 0..100 {
            let s = relay.status().await?;
            if !s.addrs.is_empty() {
                line(
                    json,
                    &json!({ "event": "serving_relay", "addrs": s.addrs }),
                    || format!("Serving as a relay for the family: {}", s.addrs.join(", ")),
                );
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let mut statuses: HashMap<MessageId, DeliveryState> = HashMap::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            ev = events.recv() => match ev {
                Ok(e) => report(node, json, e, &mut statuses).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
        }
    }
    control.abort();
    let _ = std::fs::remove_file(crate::control::socket_path(dir));
    line(json, &json!({ "event": "stopped" }), || "Stopped.".into());
    Ok(())
}

async fn report(
    node: &Node,
    json: bool,
    e: Event,
    statuses: &mut HashMap<MessageId, DeliveryState>,
) {
    match e {
        Event::PathChanged { device, path } => {
            // Name the contact whose device this is, if it is one.
            let name = node
                .reachability()
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|r| r.devices.contains(&device))
                .map(|r| r.name);
            // Held for by a mailbox is not reachable: messages wait there for it.
            let event = if matches!(path, reach::Path::None | reach::Path::Mailbox) {
                "peer_lost"
            } else {
                "peer_reachable"
            };
            line(
                json,
                &json!({ "event": event, "device": device, "path": path, "name": name }),
                || match (&name, path) {
                    (Some(n), reach::Path::None) => format!("{n} is not reachable"),
                    (Some(n), p) => format!("{n} is reachable ({p})"),
                    (None, reach::Path::None) => format!("device {device} is not reachable"),
                    (None, p) => format!("device {device} is reachable ({p})"),
                },
            );
        }
        Event::MessageReceived { chat, message } => {
            if let Ok(m) = node.message(&message).await {
                line(
                    json,
                    &json!({ "event": "message_received", "chat": chat, "message": message, "from": m.author, "from_name": m.author_name, "body": m.body, "blob": m.attachment.as_ref().map(|a| a.blob) }),
                    || format!("{}: {}", m.author_name, m.body),
                );
            }
        }
        Event::RelayChanged => {
            if let Ok(Some(s)) = node.network_status().await {
                line(
                    json,
                    &json!({ "event": "relays", "relays": s.relays }),
                    || {
                        s.relays
                            .iter()
                            .map(|r| {
                                format!(
                                    "relay {}: connected {}, reserved {}, keeps {}",
                                    r.addr, r.connected, r.reserved, r.kept
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    },
                );
            }
        }
        Event::HolePunch { device, direct } => line(
            json,
            &json!({ "event": "hole_punch", "device": device, "direct": direct }),
            || match direct {
                true => format!("hole punched: direct connection to {device}"),
                false => format!("hole punching to {device} failed; staying relayed"),
            },
        ),
        Event::BlobProgress { blob, have, of } => line(
            json,
            &json!({ "event": "blob_progress", "blob": blob, "have": have, "of": of }),
            || {
                format!(
                    "attachment {}: {}%",
                    crate::output::short(&blob),
                    have as u64 * 100 / of.max(1) as u64
                )
            },
        ),
        Event::DeliveryChanged { chat } => {
            let Ok(msgs) = node.messages(&chat, 50, None).await else {
                return;
            };
            for m in msgs.into_iter().filter(|m| m.mine) {
                let Some(s) = m.status else { continue };
                if statuses.get(&m.id) != Some(&s) {
                    statuses.insert(m.id, s);
                    if s != DeliveryState::Queued {
                        line(
                            json,
                            &json!({ "event": s, "chat": chat, "message": m.id }),
                            || format!("{} {}", m.id, s),
                        );
                    }
                }
            }
        }
        _ => {}
    }
}
