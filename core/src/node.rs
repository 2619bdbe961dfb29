//! [`Node`]: the one handle the app, the CLI and the tests use.
//!
//! Opening a data directory takes an exclusive lock on it (a second process gets
//! [`Error::InUse`], never a shared, corrupted store), loads the store key, migrates the
//! database and starts the engine thread. Writes go to the engine as jobs and return after
//! their durable commit; reads run on reader connections.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::clock::{SystemClock, WallClock};
use crate::contacts::{self, Contact};
use crate::conversation::{self, Chat, Member};
use crate::crypto::at_rest::StoreKey;
use crate::engine::{self, Engine, Ingested};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{AccountId, ChatId, DeviceId, MessageId};
use crate::message::{self, Message};
use crate::storage::{self, readers::Readers};
use crate::sync::bundle::{self, ImportReport};
use crate::sync::{self, VersionVectors};

/// Events buffered per subscriber; a slow subscriber misses events and re-reads.
const EVENT_BUFFER: usize = 1024;
/// Envelopes imported per engine job: large enough to share commits, small enough that sends
/// from the user are not stuck behind a huge import.
const IMPORT_CHUNK: usize = 2000;

const DB_FILE: &str = "hearth.db";
const KEY_FILE: &str = "store.key";
const LOCK_FILE: &str = "hearth.lock";

pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub clock: Arc<dyn WallClock>,
}

impl NodeConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The text of a check-in for readers that do not show the check-in card.
pub const CHECK_IN_TEXT: &str = "✔ I'm safe";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub account: AccountId,
    pub device: DeviceId,
}

/// The relays of an invite's relayed addresses that `settings` does not use yet, within the
/// bounds (none in LAN-only mode, which never uses relays).
fn offered_relays(
    settings: &crate::settings::Settings,
    addrs: &[String],
) -> Vec<libp2p::Multiaddr> {
    let mut out: Vec<libp2p::Multiaddr> = Vec::new();
    if settings.lan_only {
        return out;
    }
    for a in addrs.iter().take(MAX_INVITE_ADDRS_READ) {
        let Some(relay) = a.parse().ok().and_then(|a| crate::net::addr::relay_of(&a)) else {
            continue;
        };
        let text = relay.to_string();
        if settings.relays.len() + out.len() < crate::settings::MAX_RELAYS
            && out.len() < MAX_RELAYS_PER_INVITE
            && !settings.relays.contains(&text)
            && !out.contains(&relay)
        {
            out.push(relay);
        }
    }
    out
}

/// Most relays one accepted invite adds to the family's relays: a family uses two or three.
const MAX_RELAYS_PER_INVITE: usize = 4;
/// Addresses of one invite looked at for relays: an inviter has a handful; the rest of a
/// hostile code is not parsed.
const MAX_INVITE_ADDRS_READ: usize = 64;

struct Inner {
    jobs: mpsc::Sender<engine::Job>,
    net: Mutex<Option<crate::net::Handle>>,
    /// The relay and mailbox this device serves for its family, when that setting is on.
    relay: Mutex<Option<crate::relay::Handle>>,
    /// Held across starting, stopping and restarting the network, so two of them at once
    /// (a double click on the LAN-only switch) cannot leave a second net task running.
    net_ops: tokio::sync::Mutex<()>,
    readers: Readers,
    events: broadcast::Sender<Event>,
    thread: Mutex<Option<JoinHandle<()>>>,
    data_dir: PathBuf,
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The engine thread ends when the job channel closes; wait so the lock is released
        // only after the last commit.
        let (tx, _rx) = mpsc::channel(1);
        let _ = std::mem::replace(&mut self.jobs, tx);
        if let Ok(mut t) = self.thread.lock() {
            if let Some(t) = t.take() {
                let _ = t.join();
            }
        }
    }
}

#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

/// A node that does not keep it open: the net task holds one, so dropping the last [`Node`]
/// stops the node (and with it the network) even without `shutdown()`.
#[derive(Clone)]
pub(crate) struct WeakNode {
    inner: std::sync::Weak<Inner>,
}

impl WeakNode {
    /// The node, while someone still holds it.
    pub(crate) fn upgrade(&self) -> Option<Node> {
        self.inner.upgrade().map(|inner| Node { inner })
    }
}

impl Node {
    pub async fn open(data_dir: impl Into<PathBuf>) -> Result<Node> {
        Self::open_with(NodeConfig::new(data_dir)).await
    }

    pub async fn open_with(config: NodeConfig) -> Result<Node> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|_| Error::Shutdown)?
    }

    fn open_blocking(config: NodeConfig) -> Result<Node> {
        let dir = config.data_dir;
        storage::private::dir(&dir)?;
        let lock = storage::private::open_file(&dir.join(LOCK_FILE))?;
        if lock.try_lock().is_err() {
            return Err(Error::InUse(dir));
        }
        let key = StoreKey::load_or_create(&dir.join(KEY_FILE), true)?
            .ok_or_else(|| Error::Corrupt("store key missing".into()))?;
        let db = dir.join(DB_FILE);
        let conn = storage::open_writer(&db)?;
        let readers = Readers::open(&db)?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let eng = Engine::new(conn, key, config.clock, events.clone())?;
        let (jobs, rx) = mpsc::channel(engine::JOB_QUEUE);
        let thread = std::thread::Builder::new()
            .name("hearth-engine".into())
            .spawn(move || eng.run(rx))?;
        Ok(Node {
            inner: Arc::new(Inner {
                jobs,
                net: Mutex::new(None),
                net_ops: tokio::sync::Mutex::new(()),
                relay: Mutex::new(None),
                readers,
                events,
                thread: Mutex::new(Some(thread)),
                data_dir: dir,
                _lock: lock,
            }),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Runs `f` on the engine; returns after its changes are durably committed.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(engine::job(f, tx))
            .await
            .map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.inner.readers.with(f).await
    }

    pub(crate) fn downgrade(&self) -> WeakNode {
        WeakNode {
            inner: Arc::downgrade(&self.inner),
        }
    }

    pub(crate) fn emit(&self, e: Event) {
        let _ = self.inner.events.send(e);
    }

    // ---- network ----

    /// Starts networking: listening, discovery, sync with family devices.
    pub async fn start_network(&self, cfg: crate::net::Config) -> Result<()> {
        let _op = self.inner.net_ops.lock().await;
        self.start_network_locked(cfg).await
    }

    async fn start_network_locked(&self, cfg: crate::net::Config) -> Result<()> {
        if self.net().is_some() {
            return Err(Error::Invalid("the network is already running".into()));
        }
        let keypair = self.call(|e| Ok(e.me()?.id.libp2p_keypair())).await?;
        let serve = cfg.serve_relay.clone().filter(|_| !cfg.lan_only);
        let handle = crate::net::spawn(self.clone(), cfg, keypair)?;
        if let Ok(mut n) = self.inner.net.lock() {
            *n = Some(handle);
        }
        if let Some(listen) = serve {
            // "Be a relay for my family": the same relay and mailbox as `hearth relay`, with
            // its own identity and database under this device's data directory.
            let relay = crate::relay::start(crate::relay::Config {
                data_dir: self.inner.data_dir.join("relay"),
                listen,
                external: Vec::new(),
                limits: crate::mailbox::Limits::default(),
                max_per_source: crate::relay::MAX_CONNECTIONS_PER_SOURCE,
            })
            .await;
            match relay {
                Ok(h) => {
                    if let Ok(mut r) = self.inner.relay.lock() {
                        *r = Some(h);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot serve as a relay"),
            }
        }
        Ok(())
    }

    /// Stops networking; the node keeps working offline.
    pub async fn stop_network(&self) -> Result<()> {
        let _op = self.inner.net_ops.lock().await;
        self.stop_network_locked().await
    }

    /// Returns once the net task has ended and its sockets are closed.
    async fn stop_network_locked(&self) -> Result<()> {
        let relay = self.inner.relay.lock().ok().and_then(|mut r| r.take());
        if let Some(r) = relay {
            let _ = r.stop().await;
        }
        let handle = self.inner.net.lock().ok().and_then(|mut n| n.take());
        if let Some(h) = handle {
            h.stop().await?;
        }
        Ok(())
    }

    /// The relay this device serves for its family, if it does.
    pub fn relay_service(&self) -> Option<crate::relay::Handle> {
        self.inner.relay.lock().ok().and_then(|r| r.clone())
    }

    fn net(&self) -> Option<crate::net::Handle> {
        self.inner.net.lock().ok().and_then(|n| n.clone())
    }

    pub async fn network_status(&self) -> Result<Option<crate::net::Status>> {
        match self.net() {
            Some(h) => Ok(Some(h.status().await?)),
            None => Ok(None),
        }
    }

    pub async fn dial(&self, addr: &str) -> Result<()> {
        let a = addr
            .parse()
            .map_err(|_| Error::Invalid(format!("not a network address: {addr}")))?;
        self.net()
            .ok_or_else(|| Error::Invalid("the network is not running".into()))?
            .dial(a)
            .await
    }

    /// Records that a device was seen now (and where, if we dialed it).
    /// A mailbox confirmed holding my envelopes of these topics up to these seqs.
    pub(crate) async fn note_in_mailbox(
        &self,
        held: Vec<(crate::ids::TopicId, u64)>,
    ) -> Result<()> {
        self.call(move |e| {
            for (t, h) in &held {
                e.note_in_mailbox(t, *h)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn remember_peer(
        &self,
        device: DeviceId,
        addr: Option<String>,
        seen: bool,
    ) -> Result<()> {
        self.call(move |e| e.remember_peer(&device, addr, seen))
            .await
    }

    /// For every contact: how it is reached right now, through whom, and when it was last seen.
    pub async fn reachability(&self) -> Result<Vec<crate::reach::Reach>> {
        let status = self.network_status().await?;
        self.read(move |c| crate::reach::compute(c, status.as_ref()))
            .await
    }

    /// The family board: every contact's reachability, my messages waiting for them, and
    /// their latest check-in.
    pub async fn board(&self) -> Result<crate::board::Board> {
        let status = self.network_status().await?;
        self.read(move |c| crate::board::compute(c, status.as_ref()))
            .await
    }

    // ---- settings ----

    pub async fn settings(&self) -> Result<crate::settings::Settings> {
        self.read(crate::settings::read).await
    }

    /// Switches LAN-only mode; a running network restarts under the new rule at once.
    pub async fn set_lan_only(&self, enabled: bool) -> Result<()> {
        self.call(move |e| e.set_setting(crate::settings::LAN_ONLY, &enabled.into()))
            .await?;
        self.restart_network().await
    }

    /// Sets the family's relays (multiaddrs); a running network restarts to use them.
    pub async fn set_relays(&self, relays: &[String]) -> Result<()> {
        let relays = crate::settings::check_relays(relays)?;
        self.call(move |e| e.set_setting(crate::settings::RELAYS, &relays.into()))
            .await?;
        self.restart_network().await
    }

    /// Serves (or stops serving) as a relay and mailbox for the family; a running network
    /// restarts to apply it.
    pub async fn set_relay_for_family(&self, on: bool) -> Result<()> {
        self.call(move |e| e.set_setting(crate::settings::RELAY_FOR_FAMILY, &on.into()))
            .await?;
        self.restart_network().await
    }

    /// The network configuration the settings ask for: LAN-only or not, relays dialled.
    pub async fn network_config(&self) -> Result<crate::net::Config> {
        let s = self.settings().await?;
        Ok(crate::net::Config {
            lan_only: s.lan_only,
            relays: s.relays.iter().filter_map(|r| r.parse().ok()).collect(),
            serve_relay: s
                .relay_for_family
                .then(crate::net::Config::default_relay_listen),
            ..crate::net::Config::default()
        })
    }

    /// Restarts a running network with the configuration from the settings (no-op when
    /// the network is off).
    async fn restart_network(&self) -> Result<()> {
        let _op = self.inner.net_ops.lock().await;
        let Some(running) = self.net() else {
            return Ok(());
        };
        let mut cfg = self.network_config().await?;
        cfg.mdns = running.config().mdns;
        cfg.listen = running.config().listen.clone();
        if cfg.serve_relay.is_some() {
            cfg.serve_relay = running.config().serve_relay.clone().or(cfg.serve_relay);
        }
        self.stop_network_locked().await?;
        self.start_network_locked(cfg).await
    }

    /// Stops the engine after everything queued is committed.
    pub async fn shutdown(&self) -> Result<()> {
        // The engine stops and flushes even if the network did not stop cleanly.
        let net = self.stop_network().await;
        let _ = self
            .call(|e| {
                e.request_stop();
                Ok(())
            })
            .await;
        let handle = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            tokio::task::spawn_blocking(move || h.join())
                .await
                .map_err(|_| Error::Shutdown)?
                .map_err(|_| Error::Shutdown)?;
        }
        net
    }

    // ---- identity ----

    pub async fn init(&self, name: &str) -> Result<Profile> {
        let name = name.to_string();
        self.call(move |e| e.init(&name)).await?;
        self.profile().await
    }

    pub async fn set_name(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.call(move |e| e.set_name(&name)).await
    }

    pub async fn profile(&self) -> Result<Profile> {
        self.read(profile).await
    }

    // ---- contacts ----

    /// Makes an invite code carrying `addrs`, with the network running this device's listen
    /// addresses, and (outside LAN-only mode) its address through each of the family's relays:
    /// whoever accepts the code reaches this device through them, and starts using them too.
    pub async fn create_invite(&self, ttl_secs: u64, mut addrs: Vec<String>) -> Result<String> {
        let mut add = |a: String| {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        };
        if let Some(s) = self.network_status().await? {
            s.listen.into_iter().for_each(&mut add);
        }
        let me = self.profile().await?.device.peer_id();
        // The relays in use: those the network was started with, and any saved since (from
        // an accepted invite) that it took on without a restart.
        let saved = self.network_config().await?;
        let cfg = match self.net() {
            Some(h) => h.config().clone(),
            None => saved.clone(),
        };
        if let (Some(me), false) = (me, cfg.lan_only) {
            let mut relays = cfg.relays.clone();
            relays.extend(saved.relays.into_iter().filter(|r| !cfg.relays.contains(r)));
            for r in &relays {
                add(crate::net::addr::via_relay(r, me).to_string());
            }
        }
        self.call(move |e| e.create_invite(ttl_secs, addrs)).await
    }

    pub async fn revoke_invite(&self, code: &str) -> Result<()> {
        let code = code.to_string();
        self.call(move |e| e.revoke_invite(&code)).await
    }

    /// Accepts an invite: the contact shows as pending until the inviter confirms.
    pub async fn accept_invite(&self, code: &str) -> Result<Contact> {
        let owned = code.to_string();
        let account = self.call(move |e| e.accept_invite(&owned)).await?;
        // Reach the inviter at the addresses the invite carries, now and later.
        if let Ok(inv) = crate::invite::Invite::decode(code, 0) {
            for a in inv.addrs.iter().take(8) {
                let _ = self
                    .remember_peer(inv.bundle.device, Some(a.clone()), false)
                    .await;
            }
            if self.net().is_some() {
                for a in &inv.addrs {
                    let _ = self.dial(a).await;
                }
            }
        }
        self.contact(&account).await
    }

    /// The relays an invite offers that this device does not use yet: the relays of the
    /// inviter's relayed addresses (at most [`MAX_RELAYS_PER_INVITE`]; none in LAN-only mode).
    /// Accepting an invite never starts using them: a relay sees who connects when, so the
    /// person decides ([`Node::use_invite_relays`]). The contact request still goes through
    /// them once, as a plain relayed dial.
    pub async fn invite_relays(&self, code: &str) -> Result<Vec<String>> {
        let inv = crate::invite::Invite::decode(code, 0)?;
        let settings = self.settings().await?;
        Ok(offered_relays(&settings, &inv.addrs)
            .iter()
            .map(|r| r.to_string())
            .collect())
    }

    /// Starts using the relays an invite offers ([`Node::invite_relays`]), because the person
    /// agreed: saved with the family's relays, and used at once by a running network. Returns
    /// those added.
    pub async fn use_invite_relays(&self, code: &str) -> Result<Vec<String>> {
        let inv = crate::invite::Invite::decode(code, 0)?;
        self.learn_relays(&inv.addrs).await
    }

    async fn learn_relays(&self, addrs: &[String]) -> Result<Vec<String>> {
        let mut settings = self.settings().await?;
        let learned = offered_relays(&settings, addrs);
        if learned.is_empty() {
            return Ok(Vec::new());
        }
        settings
            .relays
            .extend(learned.iter().map(|r| r.to_string()));
        let relays = settings.relays;
        self.call(move |e| e.set_setting(crate::settings::RELAYS, &relays.into()))
            .await?;
        if let Some(h) = self.net() {
            for r in &learned {
                h.add_relay(r.clone()).await?;
            }
        }
        Ok(learned.iter().map(|r| r.to_string()).collect())
    }

    pub async fn contacts(&self) -> Result<Vec<Contact>> {
        self.read(|c| {
            let me = profile(c)?;
            contacts::list(c, &me.account)
        })
        .await
    }

    pub async fn contact(&self, account: &AccountId) -> Result<Contact> {
        let a = *account;
        self.contacts()
            .await?
            .into_iter()
            .find(|c| c.account == a)
            .ok_or_else(|| Error::NotFound("no such contact".into()))
    }

    /// A contact by name or account id (prefix).
    pub async fn find_contact(&self, query: &str) -> Result<Contact> {
        let q = query.to_string();
        self.read(move |c| {
            let me = profile(c)?;
            contacts::find(c, &me.account, &q)?
                .ok_or_else(|| Error::NotFound(format!("no single contact matches \"{q}\"")))
        })
        .await
    }

    pub async fn rename_contact(&self, account: &AccountId, nickname: Option<&str>) -> Result<()> {
        let (a, n) = (*account, nickname.map(str::to_string));
        self.call(move |e| e.rename_contact(&a, n.as_deref())).await
    }

    pub async fn set_verified(&self, account: &AccountId, verified: bool) -> Result<()> {
        let a = *account;
        self.call(move |e| e.set_verified(&a, verified)).await
    }

    pub async fn set_blocked(&self, account: &AccountId, blocked: bool) -> Result<()> {
        let a = *account;
        self.call(move |e| e.set_blocked(&a, blocked)).await
    }

    // ---- conversations ----

    pub async fn chats(&self) -> Result<Vec<Chat>> {
        self.read(|c| {
            let me = profile(c)?;
            conversation::list(c, &me.account)
        })
        .await
    }

    pub async fn chat(&self, chat: &ChatId) -> Result<Chat> {
        let id = *chat;
        self.chats()
            .await?
            .into_iter()
            .find(|c| c.chat == id)
            .ok_or_else(|| Error::NotFound("no such conversation".into()))
    }

    /// A conversation by id (or unique prefix), group title, or contact name (their 1:1 chat).
    pub async fn find_chat(&self, query: &str) -> Result<Chat> {
        let q = query.trim().to_lowercase();
        let chats = self.chats().await?;
        let by_id: Vec<&Chat> = chats
            .iter()
            .filter(|c| q.len() >= 6 && c.chat.to_string().starts_with(&q))
            .collect();
        if by_id.len() == 1 {
            return Ok(by_id[0].clone());
        }
        let by_title: Vec<&Chat> = chats
            .iter()
            .filter(|c| c.title.to_lowercase() == q)
            .collect();
        match by_title.len() {
            1 => Ok(by_title[0].clone()),
            0 => Err(Error::NotFound(format!(
                "no conversation matches \"{query}\""
            ))),
            _ => Err(Error::Invalid(format!(
                "several conversations match \"{query}\"; use its id"
            ))),
        }
    }

    pub async fn members(&self, chat: &ChatId) -> Result<Vec<Member>> {
        let id = *chat;
        self.read(move |c| {
            let me = profile(c)?;
            conversation::members(c, &me.account, &me.name, &id)
        })
        .await
    }

    pub async fn create_group(&self, title: &str, members: &[AccountId]) -> Result<ChatId> {
        let (t, m) = (title.to_string(), members.to_vec());
        self.call(move |e| e.create_group(&t, &m)).await
    }

    pub async fn rename_group(&self, chat: &ChatId, title: &str) -> Result<()> {
        let (c, t) = (*chat, title.to_string());
        self.call(move |e| e.rename_group(&c, &t)).await
    }

    pub async fn add_member(&self, chat: &ChatId, account: &AccountId) -> Result<()> {
        let (c, a) = (*chat, *account);
        self.call(move |e| e.add_member(&c, &a)).await
    }

    pub async fn remove_member(&self, chat: &ChatId, account: &AccountId) -> Result<()> {
        let (c, a) = (*chat, *account);
        self.call(move |e| e.remove_member(&c, &a)).await
    }

    pub async fn leave(&self, chat: &ChatId) -> Result<()> {
        let c = *chat;
        self.call(move |e| e.leave(&c)).await
    }

    // ---- messages ----

    /// Sends a text message; returns once it is durably stored (and so will never be lost).
    pub async fn send(
        &self,
        chat: &ChatId,
        body: &str,
        reply_to: Option<MessageId>,
    ) -> Result<MessageId> {
        let (c, b) = (*chat, body.to_string());
        self.call(move |e| e.send_text(&c, &b, reply_to)).await
    }

    /// "I'm safe": a check-in in every conversation; returns how many conversations got it.
    /// The body is what readers without the app's check-in card (the CLI, old versions) see.
    pub async fn check_in(&self) -> Result<usize> {
        self.call(|e| e.check_in(CHECK_IN_TEXT)).await
    }

    pub async fn edit(&self, message: &MessageId, body: &str) -> Result<()> {
        let (m, b) = (*message, body.to_string());
        self.call(move |e| e.edit(&m, &b)).await
    }

    pub async fn delete(&self, message: &MessageId) -> Result<()> {
        let m = *message;
        self.call(move |e| e.delete(&m)).await
    }

    pub async fn react(&self, message: &MessageId, emoji: Option<&str>) -> Result<()> {
        let (m, em) = (*message, emoji.map(str::to_string));
        self.call(move |e| e.react(&m, em.as_deref())).await
    }

    pub async fn mark_read(&self, chat: &ChatId) -> Result<()> {
        let c = *chat;
        self.call(move |e| e.mark_read(&c)).await
    }

    /// The latest `limit` messages before `before` (HLC), oldest first.
    pub async fn messages(
        &self,
        chat: &ChatId,
        limit: usize,
        before: Option<u64>,
    ) -> Result<Vec<Message>> {
        let id = *chat;
        self.read(move |c| {
            let me = profile(c)?;
            message::page(c, &me.account, &me.name, &id, limit, before)
        })
        .await
    }

    pub async fn message(&self, id: &MessageId) -> Result<Message> {
        let m = *id;
        self.read(move |c| {
            let me = profile(c)?;
            message::get(c, &me.account, &me.name, &m)?
                .ok_or_else(|| Error::NotFound("no such message".into()))
        })
        .await
    }

    /// Resolves a message id or unique prefix (as shown by the CLI).
    pub async fn find_message(&self, prefix: &str) -> Result<MessageId> {
        if let Ok(id) = prefix.parse::<MessageId>() {
            return Ok(id);
        }
        let p = prefix.trim().to_lowercase();
        if p.len() < 6 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Invalid(
                "give at least 6 characters of the message id".into(),
            ));
        }
        self.read(move |c| {
            let mut st =
                c.prepare("SELECT id FROM messages WHERE hex(id) LIKE ?1 || '%' LIMIT 2")?;
            let ids: Vec<Vec<u8>> = st
                .query_map([p.to_uppercase()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            match ids.as_slice() {
                [one] => {
                    MessageId::from_slice(one).ok_or_else(|| Error::Corrupt("message id".into()))
                }
                [] => Err(Error::NotFound("no message has that id".into())),
                _ => Err(Error::Invalid(
                    "several messages start with that id; give more of it".into(),
                )),
            }
        })
        .await
    }

    pub async fn search(
        &self,
        query: &str,
        chat: Option<&ChatId>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let (q, ch) = (query.to_string(), chat.copied());
        self.read(move |c| {
            let me = profile(c)?;
            message::search(c, &me.account, &me.name, &q, ch.as_ref(), limit)
        })
        .await
    }

    // ---- sync through files ----

    pub async fn version_vectors(&self) -> Result<VersionVectors> {
        self.read(sync::version_vectors).await
    }

    /// Writes the envelopes `since` lacks (all when None) to a bundle file.
    pub async fn export_bundle(&self, path: &Path, since: Option<VersionVectors>) -> Result<usize> {
        let path = path.to_path_buf();
        self.read(move |c| {
            let tmp = path.with_extension("partial");
            let mut f = std::io::BufWriter::new(File::create(&tmp)?);
            let n = bundle::write(c, since.as_ref(), &mut f)?;
            f.into_inner()
                .map_err(|e| Error::Io(e.into_error()))?
                .sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(n)
        })
        .await
    }

    /// Verifies and merges a bundle file. Order inside the file does not matter.
    pub async fn import_bundle(&self, path: &Path) -> Result<ImportReport> {
        let path = path.to_path_buf();
        let (envs, damaged) = tokio::task::spawn_blocking(move || {
            let mut f = std::io::BufReader::new(File::open(&path)?);
            bundle::read(&mut f).map_err(Error::from)
        })
        .await
        .map_err(|_| Error::Shutdown)??;
        let mut report = self.ingest(envs).await?;
        report.damaged = damaged;
        Ok(report)
    }

    /// Ingests envelopes from any source, retrying those for topics learnt later in the batch.
    pub async fn ingest(&self, mut envs: Vec<Vec<u8>>) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        loop {
            let mut unknown = Vec::new();
            let mut progress = false;
            for chunk in envs.chunks(IMPORT_CHUNK) {
                let chunk = chunk.to_vec();
                let results = self
                    .call(move |e| {
                        let results: Vec<_> = chunk
                            .into_iter()
                            .map(|b| (e.ingest_isolated(&b), b))
                            .collect();
                        e.send_due_receipts()?;
                        Ok(results)
                    })
                    .await?;
                for (res, bytes) in results {
                    match res {
                        Ok(Ingested::New) => {
                            report.new += 1;
                            progress = true;
                        }
                        Ok(Ingested::Duplicate) => report.duplicate += 1,
                        Err(Error::Envelope(crate::envelope::Error::UnknownTopic)) => {
                            unknown.push(bytes)
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "envelope refused");
                            report.rejected.push(e.to_string())
                        }
                    }
                }
            }
            if unknown.is_empty() || !progress {
                report.rejected.extend(
                    unknown
                        .iter()
                        .map(|_| crate::envelope::Error::UnknownTopic.to_string()),
                );
                return Ok(report);
            }
            envs = unknown;
        }
    }

    /// Test hook: runs `f` on the engine, as a modified client could (see
    /// `engine::hostile`): for tests that perform an attack.
    #[doc(hidden)]
    pub async fn modified_client<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.call(f).await
    }

    /// Test hook: sends an arbitrary document update, as a modified client could.
    #[doc(hidden)]
    pub async fn send_raw_doc_update(
        &self,
        chat: &ChatId,
        doc: crate::envelope::content::DocKey,
        client: u64,
        update: Vec<u8>,
    ) -> Result<u64> {
        let c = *chat;
        self.call(move |e| e.send_raw_doc_update(&c, doc, client, update))
            .await
    }

    /// Test hook: this device's replica of an account's segment, as a v1 update.
    #[doc(hidden)]
    pub async fn segment_state(
        &self,
        chat: &ChatId,
        owner: &AccountId,
        segment: u32,
    ) -> Result<Vec<u8>> {
        let (c, o) = (*chat, *owner);
        self.call(move |e| e.segment_state(&c, &o, segment)).await
    }

    // ---- export and checks ----

    pub async fn export_json(&self, chat: &ChatId) -> Result<serde_json::Value> {
        let id = *chat;
        self.read(move |c| crate::export::json(c, &id)).await
    }

    pub async fn export_yjs(&self, chat: &ChatId) -> Result<Vec<u8>> {
        let id = *chat;
        self.read(move |c| crate::export::yjs(c, &id)).await
    }

    /// Database integrity and agreement of documents with the projection.
    pub async fn check(&self) -> Result<crate::check::Report> {
        self.read(crate::check::run).await
    }
}

fn profile(c: &rusqlite::Connection) -> Result<Profile> {
    use rusqlite::OptionalExtension;
    let row: Option<(String, Vec<u8>, Vec<u8>)> = c
        .query_row(
            "SELECT name, account, device FROM identity WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (name, account, device) = row.ok_or(Error::NoIdentity)?;
    Ok(Profile {
        name,
        account: AccountId::from_slice(&account)
            .ok_or_else(|| Error::Corrupt("account id".into()))?,
        device: DeviceId::from_slice(&device).ok_or_else(|| Error::Corrupt("device id".into()))?,
    })
}
