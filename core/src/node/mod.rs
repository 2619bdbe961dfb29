//! [`Node`]: the one handle the app, the CLI and the tests use.
//!
//! Opening a data directory takes an exclusive lock on it (a second process gets
//! [`Error::InUse`], never a shared, corrupted store), loads the store key, migrates the
//! database and starts the engine thread. Writes go to the engine as jobs and return after
//! their durable commit; reads run on reader connections.
//!
//! Split by job: network control and settings (`network`), invites (`invites`), lookup by
//! what people type (`lookup`); identity, contacts, conversations, messages and files here.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use ts_rs::TS;

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

mod blobs;
mod invites;

pub use blobs::{Outgoing, Source};
mod lookup;
mod network;

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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Profile {
    pub name: String,
    pub account: AccountId,
    pub device: DeviceId,
}

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
    /// Topics with new envelopes, for the net task.
    dirty: crate::sync::dirty::Dirty,
    /// The same, for the Nostr mailbox task.
    nostr_dirty: crate::sync::dirty::Dirty,
    /// The Nostr mailbox task, while the network runs with it.
    nostr: Mutex<Option<crate::nostr::Handle>>,
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
        // Chunks no message names any more (deleted, or a send cut off by a crash) go now,
        // before anything new is written.
        match crate::blob::store::known(&conn)
            .and_then(|keep| Ok(crate::blob::files::Files::new(&dir).sweep(&keep)?))
        {
            Ok(n) if n > 0 => tracing::info!(removed = n, "swept blobs no message names"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping blobs"),
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let dirty = crate::sync::dirty::Dirty::default();
        let nostr_dirty = crate::sync::dirty::Dirty::default();
        let tee = crate::sync::dirty::Tee::new(vec![dirty.clone(), nostr_dirty.clone()]);
        let eng = Engine::new(conn, key, config.clock, events.clone(), tee)?;
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
                dirty,
                nostr_dirty,
                nostr: Mutex::new(None),
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
    pub(crate) async fn call<T: Send + 'static>(
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

    /// Topics with new envelopes, for the net task.
    pub(crate) fn dirty(&self) -> crate::sync::dirty::Dirty {
        self.inner.dirty.clone()
    }

    pub(crate) fn downgrade(&self) -> WeakNode {
        WeakNode {
            inner: Arc::downgrade(&self.inner),
        }
    }

    pub(crate) fn emit(&self, e: Event) {
        let _ = self.inner.events.send(e);
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

    pub async fn create_profile(&self, name: &str) -> Result<Profile> {
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

    pub async fn leave_group(&self, chat: &ChatId) -> Result<()> {
        let c = *chat;
        self.call(move |e| e.leave(&c)).await
    }

    // ---- messages ----

    /// Sends a text message; returns once it is durably stored (and so will never be lost).
    pub async fn send_message(
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

    pub async fn edit_message(&self, message: &MessageId, body: &str) -> Result<()> {
        let (m, b) = (*message, body.to_string());
        self.call(move |e| e.edit(&m, &b)).await
    }

    pub async fn delete_message(&self, message: &MessageId) -> Result<()> {
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

    pub async fn search_messages(
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
        let files = self.blob_files();
        self.read(move |c| {
            let tmp = path.with_extension("partial");
            let mut f = std::io::BufWriter::new(File::create(&tmp)?);
            let n = bundle::write(c, &files, since.as_ref(), &mut f)?;
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
        let file = path.clone();
        let (envs, damaged) = tokio::task::spawn_blocking(move || {
            let mut f = std::io::BufReader::new(File::open(&file)?);
            bundle::read(&mut f).map_err(Error::from)
        })
        .await
        .map_err(|_| Error::Shutdown)??;
        let mut report = self.ingest(envs).await?;
        report.damaged = damaged;
        // Then the blobs, one part at a time: the messages naming them are in by now.
        let node = self.clone();
        let (kept, refused) = tokio::task::spawn_blocking(move || -> Result<(usize, usize)> {
            let rt = tokio::runtime::Handle::current();
            let mut f = std::io::BufReader::new(File::open(&path)?);
            let mut manifests = std::collections::HashMap::new();
            let (mut kept, mut refused) = (0, 0);
            bundle::read_blobs(&mut f, |p| {
                match rt.block_on(node.import_blob_part(p, &mut manifests))? {
                    true => kept += 1,
                    false => refused += 1,
                }
                Ok(())
            })?;
            Ok((kept, refused))
        })
        .await
        .map_err(|_| Error::Shutdown)??;
        report.blob_parts = kept;
        if refused > 0 {
            report.rejected.push(format!(
                "{refused} blob parts that no message here names, or that do not match their blob"
            ));
        }
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
