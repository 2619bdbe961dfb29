//! Executing a [`NodeCommand`]: resolve names to ids, call `Node`, print. One entry point,
//! [`execute`], whether the command came from this process's command line or from another
//! shell through a running node's control socket, so both print the same thing. What differs
//! is said by the caller: where `send --stdin` reads ([`Stdin`]); a forwarded command's paths
//! are already resolved against its caller's directory ([`NodeCommand::absolutize`]).

use std::io::BufRead;

use anyhow::{bail, Context, Result};
use hearth_core::conversation::Chat;
use hearth_core::invite::Invite;
use hearth_core::message::Message;
use hearth_core::{ChatId, Node};
use serde_json::json;

use crate::node_command::{
    BlobAction, BundleAction, ContactAction, ExportFormat, GroupAction, NodeCommand,
};
use crate::output::{line, short, time};

/// Sends in flight at once with `send --stdin`: enough for bursts to share commits.
const STDIN_PIPELINE: usize = 64;

async fn chat_of(node: &Node, q: &str) -> Result<Chat> {
    Ok(node.find_chat(q).await?)
}

/// Where `send --stdin` reads its messages, one per line.
pub enum Stdin {
    /// This process's standard input, read as it comes: the command is this process's own.
    Process,
    /// What the caller of a forwarded command read from its standard input: a running node
    /// never reads its own.
    Forwarded(Vec<String>),
}

/// The lines of this process's standard input, up to the end or the first one that cannot be
/// read.
pub fn stdin_lines() -> impl Iterator<Item = String> {
    std::io::stdin().lock().lines().map_while(Result::ok)
}

/// Executes one command on an open node: the one this process opened, or the running node
/// serving a forwarded command line (then `output` captures what it prints).
pub async fn execute(node: &Node, json: bool, command: NodeCommand, input: Stdin) -> Result<()> {
    match command {
        NodeCommand::Checkin => {
            let n = node.check_in().await?;
            line(json, &json!({ "checked_in": n }), || {
                format!("Checked in: your family sees you are safe ({n} conversations).")
            });
        }
        NodeCommand::Board => {
            let b = node.family_board().await?;
            for e in &b.entries {
                line(json, e, || {
                    let check_in = e
                        .check_in_ms
                        .map(|t| format!(", safe at {}", crate::output::time(t)))
                        .unwrap_or_default();
                    format!(
                        "{:<20} {:<7} waiting {}{}",
                        e.name, e.path, e.waiting, check_in
                    )
                });
            }
        }
        NodeCommand::Status => {
            let p = node.profile().await?;
            let net = node.network_status().await?;
            let reach = node.reachability().await?;
            let mailboxes = node.mailbox_relays().await;
            line(
                json,
                &json!({ "name": p.name, "device": p.device, "network": net, "contacts": reach, "mailbox_relays": mailboxes }),
                || {
                    let mut s = format!("{} ({})\n", p.name, p.device);
                    match &net {
                        Some(n) => s.push_str(&format!(
                            "network: on{}, listening on {}\n",
                            if n.lan_only { " (LAN only)" } else { "" },
                            n.listen.join(", ")
                        )),
                        None => s.push_str("network: off (run `hearth run` to go online)\n"),
                    }
                    for r in net.iter().flat_map(|n| n.relays.iter()) {
                        let state = match (r.connected, r.reserved) {
                            (true, true) => "reachable through it",
                            (true, false) => "connected",
                            _ => "not connected",
                        };
                        let why = r
                            .error
                            .as_ref()
                            .filter(|_| !r.reserved)
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default();
                        if r.public {
                            s.push_str(&format!("public relay {}: {state}{why}\n", r.addr));
                        } else if !r.mailbox {
                            s.push_str(&format!(
                                "relay {}: {state}{why}, no mailbox (messages wait on this device)\n",
                                r.addr
                            ));
                        } else {
                            s.push_str(&format!(
                                "relay {}: {state}{why}, mailbox keeps {} conversations\n",
                                r.addr, r.kept
                            ));
                        }
                    }
                    match net.as_ref().map(|n| &n.public) {
                        Some(Some(p)) => s.push_str(&format!(
                            "public network: {} peers connected, DHT {}, {} relays offered{}\n",
                            p.connected,
                            p.dht_mode,
                            p.relay_candidates,
                            p.problem
                                .as_ref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        )),
                        Some(None) => s.push_str("public network: off\n"),
                        None => {}
                    }
                    for r in mailboxes.iter().flat_map(|m| m.relays.iter()) {
                        s.push_str(&format!(
                            "mailbox relay {}: {}, {} events held, {} refused{}\n",
                            r.url,
                            if r.connected {
                                "connected"
                            } else {
                                "not connected"
                            },
                            r.accepted,
                            r.refused,
                            r.error
                                .as_ref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        ));
                    }
                    for r in &reach {
                        let via = r
                            .via
                            .as_ref()
                            .map(|v| format!(" via {v}"))
                            .unwrap_or_default();
                        let seen = if r.last_seen_ms > 0 {
                            format!(", last seen {}", crate::output::time(r.last_seen_ms))
                        } else {
                            String::new()
                        };
                        s.push_str(&format!("  {:<20} {}{}{}\n", r.name, r.path, via, seen));
                    }
                    s.trim_end().to_string()
                },
            );
        }
        NodeCommand::Init { name } => {
            let p = node.create_profile(&name).await?;
            line(json, &p, || {
                format!("Created identity for {} (device {})", p.name, p.device)
            });
        }
        NodeCommand::Whoami => {
            let p = node.profile().await?;
            line(json, &p, || {
                format!("{}\naccount {}\ndevice  {}", p.name, p.account, p.device)
            });
        }
        NodeCommand::Invite {
            qr,
            ttl_hours,
            addr,
            revoke,
        } => {
            if let Some(code) = revoke {
                node.revoke_invite(&code).await?;
                line(json, &json!({"revoked": true}), || "Invite revoked.".into());
                return Ok(());
            }
            let code = node.create_invite(ttl_hours * 3600, addr).await?;
            line(json, &json!({ "invite": code }), || code.clone());
            if qr && !json {
                if let Some(q) = Invite::qr_for_terminal(&code) {
                    crate::output::text(&q);
                }
            }
        }
        NodeCommand::Accept { code, use_relays } => {
            let offered = node.invite_relays(&code).await?;
            let c = node.accept_invite(&code).await?;
            let used = if use_relays {
                node.use_invite_relays(&code).await?
            } else {
                Vec::new()
            };
            line(
                json,
                &json!({ "contact": c, "relays_offered": offered, "relays_used": used }),
                || {
                    let mut text = format!("Contact request sent to {}. They appear as connected once they confirm.\nSafety number: {}", c.name, c.safety_number);
                    if !used.is_empty() {
                        text +=
                            &format!("\nNow using the relays of this invite: {}", used.join(", "));
                    } else if !offered.is_empty() {
                        text += &format!("\nThis invite offers relays, not used unless you agree (hearth accept --use-relays CODE): {}", offered.join(", "));
                    }
                    text
                },
            );
        }
        NodeCommand::Contacts => {
            for c in node.contacts().await? {
                line(json, &c, || {
                    let mut flags = vec![c.state.to_string()];
                    if c.verified {
                        flags.push("verified".into())
                    }
                    if c.blocked {
                        flags.push("blocked".into())
                    }
                    if let Some(r) = &c.refused {
                        flags.push(format!("refused: {r}"));
                    }
                    format!(
                        "{:<20} {}  [{}]",
                        c.name,
                        short(&c.account),
                        flags.join(", ")
                    )
                });
            }
        }
        NodeCommand::Contact { action } => contact(node, json, action).await?,
        NodeCommand::Chats => {
            for c in node.chats().await? {
                line(json, &c, || {
                    let last = c
                        .last_message
                        .as_ref()
                        .map(|m| m.preview.clone())
                        .unwrap_or_default();
                    let unread = if c.unread > 0 {
                        format!(" ({} new)", c.unread)
                    } else {
                        String::new()
                    };
                    format!("{}  {:<20}{}  {}", short(&c.chat), c.title, unread, last)
                });
            }
        }
        NodeCommand::Group { action } => group(node, json, action).await?,
        NodeCommand::Send {
            chat,
            to,
            stdin,
            file,
            text,
        } => {
            let chat = match (chat, to) {
                (Some(c), _) => chat_of(node, &c).await?.chat,
                (None, Some(name)) => node
                    .find_contact(&name)
                    .await?
                    .chat
                    .context("this contact has no conversation yet")?,
                (None, None) => bail!("say where to send: --chat or --to"),
            };
            if let Some(path) = file {
                let out = hearth_core::node::Outgoing::file(&path);
                let caption = text.unwrap_or_default();
                let id = node.send_attachment(&chat, &caption, None, out).await?;
                let a = node.attachment(&id).await?;
                line(
                    json,
                    &json!({ "sent": id.to_string(), "blob": a.blob }),
                    || id.to_string(),
                );
            } else if stdin {
                send_lines(node, json, chat, input).await?;
            } else {
                let text = text.context("nothing to send: give the text")?;
                let id = node.send_message(&chat, &text, None).await?;
                line(json, &json!({ "sent": id.to_string() }), || id.to_string());
            }
        }
        NodeCommand::Reply { message, text } => {
            let to = node.find_message(&message).await?;
            let chat = node.message(&to).await?.chat;
            let id = node.send_message(&chat, &text, Some(to)).await?;
            line(json, &json!({ "sent": id.to_string() }), || id.to_string());
        }
        NodeCommand::Edit { message, text } => {
            let id = node.find_message(&message).await?;
            node.edit_message(&id, &text).await?;
            line(json, &json!({ "edited": id.to_string() }), || {
                "Edited.".into()
            });
        }
        NodeCommand::Delete { message } => {
            let id = node.find_message(&message).await?;
            node.delete_message(&id).await?;
            line(json, &json!({ "deleted": id.to_string() }), || {
                "Deleted for everyone.".into()
            });
        }
        NodeCommand::React {
            message,
            emoji,
            remove,
        } => {
            let id = node.find_message(&message).await?;
            let emoji = if remove {
                None
            } else {
                Some(emoji.context("give an emoji, or --remove")?)
            };
            node.react(&id, emoji.as_deref()).await?;
            line(
                json,
                &json!({ "reacted": id.to_string(), "emoji": emoji }),
                || "Done.".into(),
            );
        }
        NodeCommand::Read { chat } => {
            let c = chat_of(node, &chat).await?;
            node.mark_read(&c.chat).await?;
            line(json, &json!({ "read": c.chat }), || {
                "Marked as read.".into()
            });
        }
        NodeCommand::Messages { chat, limit } => {
            let c = chat_of(node, &chat).await?;
            for m in node.messages(&c.chat, limit, None).await? {
                print_message(json, &m);
            }
        }
        NodeCommand::Search { text, chat, limit } => {
            let chat = match chat {
                Some(c) => Some(chat_of(node, &c).await?.chat),
                None => None,
            };
            for m in node.search_messages(&text, chat.as_ref(), limit).await? {
                print_message(json, &m);
            }
        }
        NodeCommand::Bundle { action } => bundle(node, json, action).await?,
        NodeCommand::Blob {
            action: BlobAction::Get { id, out, timeout },
        } => blob_get(node, json, &id, &out, timeout).await?,
        NodeCommand::Export { chat, format, out } => {
            let c = chat_of(node, &chat).await?;
            let bytes = match format {
                ExportFormat::Json => {
                    let mut v = serde_json::to_vec_pretty(&node.export_json(&c.chat).await?)?;
                    v.push(b'\n');
                    v
                }
                ExportFormat::Yjs => node.export_yjs(&c.chat).await?,
            };
            match out {
                Some(p) => {
                    std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?
                }
                None => crate::output::bytes(&bytes),
            }
        }
        NodeCommand::Check => {
            let r = node.check().await?;
            line(json, &r, || {
                format!(
                    "integrity: {}\ndocuments: {}\nmessages: {}\nproblems: {}",
                    r.integrity,
                    r.documents,
                    r.messages,
                    r.problems.len()
                )
            });
            if !r.ok() {
                bail!("the check found problems: {}", r.problems.join("; "));
            }
        }
    }
    Ok(())
}

/// Writes an attachment to `out`, asking for it and waiting while it is not all here.
async fn blob_get(
    node: &Node,
    json: bool,
    id: &str,
    out: &std::path::Path,
    timeout: u64,
) -> Result<()> {
    let blob = node.find_blob(id).await?;
    let mut events = node.subscribe();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
    let mut asked = false;
    loop {
        match node.save_blob(&blob, out).await {
            Ok(n) => {
                line(
                    json,
                    &json!({ "saved": out.display().to_string(), "bytes": n, "blob": blob }),
                    || format!("Saved {n} bytes to {}", out.display()),
                );
                return Ok(());
            }
            Err(hearth_core::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if !asked {
            node.fetch_blob(&blob).await?;
            asked = true;
        }
        // Woken by its progress; the tick covers a node whose network another process runs.
        tokio::select! {
            _ = events.recv() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = tokio::time::sleep_until(deadline) => {
                bail!("the attachment did not arrive within {timeout} s: is a member who has it reachable, and is `hearth run` running?");
            }
        }
    }
}

fn print_message(json: bool, m: &Message) {
    line(json, m, || {
        let mut s = format!(
            "{} {} {}: ",
            short(&m.id),
            time(m.sent_at_ms),
            m.author_name
        );
        if m.deleted {
            s.push_str("(deleted)");
        } else {
            s.push_str(&m.body);
        }
        if let Some(a) = &m.attachment {
            let kind = match a.kind {
                hearth_core::blob::Kind::Photo => "photo",
                hearth_core::blob::Kind::Voice => "voice message",
                hearth_core::blob::Kind::File => "file",
            };
            s.push_str(&format!(
                "{}[{kind} {} {} KB, {}, blob {}]",
                if m.body.is_empty() { "" } else { " " },
                a.name,
                a.size.div_ceil(1024),
                a.state.as_str(),
                short(&a.blob)
            ));
        }
        if m.edited_at.is_some() && !m.deleted {
            s.push_str(" (edited)");
        }
        if let Some(r) = m.reply_to {
            s.push_str(&format!("  ↩ {}", short(&r)));
        }
        if !m.reactions.is_empty() {
            let r: Vec<&str> = m.reactions.iter().map(|(_, e)| e.as_str()).collect();
            s.push_str(&format!("  [{}]", r.join(" ")));
        }
        s
    });
}

/// Sends each line of `input` that is not blank, several in flight so bursts share commits;
/// prints each id only once it is durable.
async fn send_lines(node: &Node, json: bool, chat: ChatId, input: Stdin) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(STDIN_PIPELINE);
    let reader = tokio::task::spawn_blocking(move || {
        let lines: Box<dyn Iterator<Item = String>> = match input {
            Stdin::Process => Box::new(stdin_lines()),
            Stdin::Forwarded(lines) => Box::new(lines.into_iter()),
        };
        for l in lines {
            if !l.trim().is_empty() && tx.blocking_send(l).is_err() {
                break;
            }
        }
    });
    let mut inflight = tokio::task::JoinSet::new();
    let mut failed = None;
    loop {
        tokio::select! {
            l = rx.recv(), if inflight.len() < STDIN_PIPELINE => {
                let Some(l) = l else { break };
                let n = node.clone();
                inflight.spawn(async move { n.send_message(&chat, &l, None).await });
            }
            Some(r) = inflight.join_next() => report(json, r, &mut failed),
        }
    }
    while let Some(r) = inflight.join_next().await {
        report(json, r, &mut failed);
    }
    let _ = reader.await;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn report(
    json: bool,
    r: Result<hearth_core::Result<hearth_core::MessageId>, tokio::task::JoinError>,
    failed: &mut Option<anyhow::Error>,
) {
    match r {
        Ok(Ok(id)) => line(json, &json!({ "sent": id.to_string() }), || id.to_string()),
        Ok(Err(e)) => *failed = Some(e.into()),
        Err(e) => *failed = Some(e.into()),
    }
}

async fn contact(node: &Node, json: bool, action: ContactAction) -> Result<()> {
    let who = match &action {
        ContactAction::Rename { contact, .. }
        | ContactAction::Verify { contact }
        | ContactAction::Block { contact }
        | ContactAction::Unblock { contact } => node.find_contact(contact).await?.account,
    };
    match action {
        ContactAction::Rename { name, .. } => node.rename_contact(&who, name.as_deref()).await?,
        ContactAction::Verify { .. } => node.set_verified(&who, true).await?,
        ContactAction::Block { .. } => node.set_blocked(&who, true).await?,
        ContactAction::Unblock { .. } => node.set_blocked(&who, false).await?,
    }
    let c = node.contact(&who).await?;
    line(json, &c, || {
        format!(
            "{}: {}",
            c.name,
            if c.blocked {
                "blocked"
            } else if c.verified {
                "verified"
            } else {
                "updated"
            }
        )
    });
    Ok(())
}

async fn member(node: &Node, q: &str) -> Result<hearth_core::AccountId> {
    Ok(node.find_contact(q).await?.account)
}

async fn group(node: &Node, json: bool, action: GroupAction) -> Result<()> {
    match action {
        GroupAction::Create { name, members } => {
            let mut ids = Vec::new();
            for m in &members {
                ids.push(member(node, m).await?);
            }
            let chat = node.create_group(&name, &ids).await?;
            line(json, &json!({ "chat": chat }), || chat.to_string());
        }
        GroupAction::Add { chat, member: m } => {
            let c = chat_of(node, &chat).await?;
            node.add_member(&c.chat, &member(node, &m).await?).await?;
            line(json, &json!({ "added": m }), || "Added.".into());
        }
        GroupAction::Remove { chat, member: m } => {
            let c = chat_of(node, &chat).await?;
            node.remove_member(&c.chat, &member(node, &m).await?)
                .await?;
            line(json, &json!({ "removed": m }), || "Removed.".into());
        }
        GroupAction::Rename { chat, name } => {
            let c = chat_of(node, &chat).await?;
            node.rename_group(&c.chat, &name).await?;
            line(json, &json!({ "renamed": name }), || "Renamed.".into());
        }
        GroupAction::Leave { chat } => {
            let c = chat_of(node, &chat).await?;
            node.leave_group(&c.chat).await?;
            line(json, &json!({ "left": c.chat }), || {
                "You left the group.".into()
            });
        }
        GroupAction::Members { chat } => {
            let c = chat_of(node, &chat).await?;
            for m in node.members(&c.chat).await? {
                line(json, &m, || {
                    format!("{}{}", m.name, if m.me { " (you)" } else { "" })
                });
            }
        }
    }
    Ok(())
}

async fn bundle(node: &Node, json: bool, action: BundleAction) -> Result<()> {
    match action {
        BundleAction::Export { out, since } => {
            let since = match since {
                Some(p) => Some(
                    serde_json::from_slice(
                        &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                    )
                    .with_context(|| format!("{} is not a bundle state file", p.display()))?,
                ),
                None => None,
            };
            let n = node.export_bundle(&out, since).await?;
            line(json, &json!({ "exported": n }), || {
                format!("Wrote {n} envelopes to {}", out.display())
            });
        }
        BundleAction::Import { file } => {
            let r = node.import_bundle(&file).await?;
            line(json, &r, || {
                let mut s = format!(
                    "{} new, {} already here, {} refused",
                    r.new,
                    r.duplicate,
                    r.rejected.len()
                );
                if let Some(d) = &r.damaged {
                    s.push_str(&format!("; the file is damaged: {d}"));
                }
                s
            });
        }
        BundleAction::State { out } => {
            let vv = node.version_vectors().await?;
            std::fs::write(&out, serde_json::to_vec(&vv)?)?;
            line(json, &json!({ "state": out }), || {
                format!("Wrote {}", out.display())
            });
        }
    }
    Ok(())
}
