//! The engine: the one writer. It owns the write connection, the in-memory yrs documents, the
//! Olm account and the Megolm sessions, so that an envelope, the ratchet state that produced it
//! and the projection rows commit in one transaction — a crash can neither lose an
//! acknowledged message nor reuse a message index.
//!
//! It runs on its own thread. [`Node`](crate::Node) sends it jobs over a bounded channel; the
//! loop takes every job already queued (up to [`MAX_BATCH`]), runs each inside a savepoint, and
//! commits them together with one durable sync: a burst of sends shares one fsync. Replies go
//! out only after that commit. A job that fails rolls back its savepoint and drops the caches,
//! which reload from the database.

mod blobs;
mod contacts;
mod docs;
mod groups;
mod hostile;
mod ingest;
mod local;
mod membership;
mod nostr;
mod project;
mod public_peers;
mod receipts;
mod sessions;

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{broadcast, mpsc};

use crate::clock::{Hlc, WallClock};
use crate::crypto::at_rest::StoreKey;
use crate::crypto::group::{Inbound, Outbound};
use crate::crypto::pairwise::OlmAccount;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::identity::{DeviceBundle, Identity};
use crate::ids::{ChatId, DeviceId, TopicId};

pub use docs::DocCache;
pub use ingest::{Ingested, REFUSAL_SECS};
pub use public_peers::{public_peers, PublicPeer};

/// Jobs queued for the writer. Bounded so a flood of requests waits instead of growing memory.
pub const JOB_QUEUE: usize = 1024;
/// Jobs committed together at most; bounds the latency one commit adds to the first job.
pub const MAX_BATCH: usize = 512;

/// What a job hands back to the loop: whether to keep its changes, and how to reply once the
/// commit is known.
pub struct Done {
    ok: bool,
    reply: Box<dyn FnOnce(Option<String>) + Send>,
}

pub type Job = Box<dyn FnOnce(&mut Engine) -> Done + Send>;

/// Wraps a closure into a job whose result is delivered after the commit.
pub fn job<T: Send + 'static>(
    f: impl FnOnce(&mut Engine) -> Result<T> + Send + 'static,
    tx: tokio::sync::oneshot::Sender<Result<T>>,
) -> Job {
    Box::new(move |eng: &mut Engine| {
        let res = f(eng);
        let ok = res.is_ok();
        Done {
            ok,
            reply: Box::new(move |commit_err| {
                let out = match commit_err {
                    Some(e) if ok => Err(Error::Storage(e)),
                    _ => res,
                };
                let _ = tx.send(out);
            }),
        }
    })
}

/// This device's own keys, loaded once the identity exists.
pub struct Me {
    pub id: Identity,
    pub olm: OlmAccount,
    pub bundle: DeviceBundle,
}

pub struct Engine {
    pub(crate) conn: Connection,
    pub(crate) key: StoreKey,
    me: Option<Me>,
    pub(crate) hlc: Hlc,
    /// yrs client id of this process incarnation.
    pub(crate) client: u64,
    pub(crate) docs: DocCache,
    out_sessions: HashMap<TopicId, (u32, Outbound, bool)>,
    in_sessions: HashMap<(TopicId, DeviceId, u32), Inbound>,
    events: broadcast::Sender<Event>,
    pending_events: Vec<Event>,
    /// Topics with new envelopes, for the network (never lossy, unlike `events`).
    dirty: crate::sync::dirty::Tee,
    /// (topic, author) pairs whose waiting envelopes may now be processable.
    wake: Vec<(TopicId, DeviceId)>,
    /// Conversations that received new messages: a delivered receipt is due.
    receipts_due: std::collections::BTreeSet<ChatId>,
    /// Wall seconds of the last sweep of closed invites.
    swept_at: u64,
    stop: bool,
}

/// How often the writer closes old invite topics (and once at open).
const SWEEP_EVERY_SECS: u64 = 3600;

impl Engine {
    pub fn new(
        conn: Connection,
        key: StoreKey,
        wall: Arc<dyn WallClock>,
        events: broadcast::Sender<Event>,
        dirty: crate::sync::dirty::Tee,
    ) -> Result<Self> {
        let mut eng = Engine {
            dirty,
            conn,
            key,
            me: None,
            hlc: Hlc::new(wall),
            client: 0,
            docs: DocCache::default(),
            out_sessions: HashMap::new(),
            in_sessions: HashMap::new(),
            events,
            pending_events: Vec::new(),
            wake: Vec::new(),
            receipts_due: Default::default(),
            swept_at: 0,
            stop: false,
        };
        eng.load_me()?;
        eng.client = eng.fresh_client_id()?;
        Ok(eng)
    }

    /// Runs jobs until shutdown or until every sender is gone.
    pub fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            // Swept before the work that woke the writer, so that work sees the result.
            if self.now_secs() >= self.swept_at + SWEEP_EVERY_SECS {
                self.swept_at = self.now_secs();
                self.run_batch(vec![Box::new(|eng: &mut Engine| {
                    let res = eng.purge_closed_invites();
                    if let Err(e) = &res {
                        tracing::warn!(error = %e, "closing old invite topics");
                    }
                    Done {
                        ok: res.is_ok(),
                        reply: Box::new(|_| {}),
                    }
                })]);
            }
            self.run_batch(batch);
            if self.stop {
                break;
            }
        }
        let _ = self.conn.execute_batch("PRAGMA optimize");
        // A clean stop folds the write-ahead log into the database file (and empties it), so
        // the database alone is complete — and a log left with content means the process
        // did not stop cleanly. Readers still open keep what they need; this only tries.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    }

    fn run_batch(&mut self, batch: Vec<Job>) {
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for job in batch {
                let done = job(self);
                (done.reply)(Some(msg.clone()));
            }
            self.invalidate();
            return;
        }
        let mut dones = Vec::with_capacity(batch.len());
        for job in batch {
            let sp = self.conn.execute_batch("SAVEPOINT job");
            let events_before = self.pending_events.len();
            let done = job(self);
            if sp.is_ok() {
                if done.ok {
                    let _ = self.conn.execute_batch("RELEASE job");
                } else {
                    let _ = self.conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    self.pending_events.truncate(events_before);
                    self.invalidate();
                }
            }
            dones.push(done);
        }
        let commit = self
            .flush_sessions()
            .and_then(|_| Ok(self.conn.execute_batch("COMMIT")?));
        match commit {
            Ok(()) => {
                for d in dones {
                    (d.reply)(None);
                }
                for ev in self.pending_events.drain(..) {
                    if let Event::EnvelopesAdded { topic } = &ev {
                        self.dirty.mark(*topic);
                    }
                    let _ = self.events.send(ev);
                }
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.invalidate();
                self.pending_events.clear();
                let msg = e.to_string();
                for d in dones {
                    (d.reply)(Some(msg.clone()));
                }
            }
        }
    }

    /// Drops every cache; they reload from the database on next use.
    fn invalidate(&mut self) {
        // Persist advanced sender ratchets first: skipping a message index is harmless,
        // reusing one is not.
        let _ = self.flush_sessions();
        self.docs.clear();
        self.out_sessions.clear();
        self.in_sessions.clear();
        self.wake.clear();
        self.receipts_due.clear();
        let _ = self.load_me();
    }

    pub(crate) fn request_stop(&mut self) {
        self.stop = true;
    }

    pub(crate) fn emit(&mut self, ev: Event) {
        // Per-message events are distinct by nature; coalesce only the per-conversation ones,
        // and only against the last few, so a batch of thousands stays linear.
        let repeat = !matches!(ev, Event::MessageReceived { .. })
            && self.pending_events.iter().rev().take(16).any(|e| *e == ev);
        if !repeat {
            self.pending_events.push(ev);
        }
    }

    fn load_me(&mut self) -> Result<()> {
        let row: Option<(Vec<u8>, Vec<u8>, String, String)> = self
            .conn
            .query_row(
                "SELECT account_secret, device_secret, olm_account, name FROM identity WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((acc, dev, olm, name)) = row else {
            self.me = None;
            return Ok(());
        };
        let mut acc = self.key.open(&acc)?;
        let mut dev = self.key.open(&dev)?;
        let account = libp2p_identity::ed25519::Keypair::try_from_bytes(&mut acc)
            .map_err(|e| Error::Corrupt(format!("account key: {e}")))?;
        let device = libp2p_identity::ed25519::Keypair::try_from_bytes(&mut dev)
            .map_err(|e| Error::Corrupt(format!("device key: {e}")))?;
        let olm = OlmAccount::from_pickle(&olm, self.key.pickle_key())?;
        let id = Identity {
            account,
            device,
            name,
        };
        let bundle = DeviceBundle::new(&id, olm.curve_key(), olm.fallback_key());
        self.me = Some(Me { id, olm, bundle });
        Ok(())
    }

    pub(crate) fn me(&self) -> Result<&Me> {
        self.me.as_ref().ok_or(Error::NoIdentity)
    }

    pub(crate) fn me_mut(&mut self) -> Result<&mut Me> {
        self.me.as_mut().ok_or(Error::NoIdentity)
    }

    pub(crate) fn save_olm_account(&mut self) -> Result<()> {
        let pickle = self.me()?.olm.pickle(self.key.pickle_key());
        self.exec(
            "UPDATE identity SET olm_account = ?1 WHERE id = 1",
            [pickle],
        )?;
        Ok(())
    }

    /// Creates this device's identity.
    pub fn init(&mut self, name: &str) -> Result<()> {
        if self.me.is_some() {
            return Err(Error::IdentityExists);
        }
        let name = clean_name(name)?;
        let id = Identity::generate(name.clone());
        let olm = OlmAccount::generate();
        self.exec(
            "INSERT INTO identity (id, account, device, account_secret, device_secret, olm_account, name, created_at)
             VALUES (1, ?6, ?7, ?1, ?2, ?3, ?4, ?5)",
            params![
                self.key.seal(&id.account.to_bytes()),
                self.key.seal(&id.device.to_bytes()),
                olm.pickle(self.key.pickle_key()),
                name,
                self.now_secs() as i64,
                id.account_id().0,
                id.device_id().0
            ],
        )?;
        let bundle = DeviceBundle::new(&id, olm.curve_key(), olm.fallback_key());
        self.me = Some(Me { id, olm, bundle });
        self.emit(Event::ProfileChanged);
        Ok(())
    }

    pub fn set_name(&mut self, name: &str) -> Result<()> {
        let name = clean_name(name)?;
        self.me()?;
        self.conn
            .execute("UPDATE identity SET name = ?1 WHERE id = 1", [&name])?;
        if let Some(me) = self.me.as_mut() {
            me.id.name = name;
        }
        self.emit(Event::ProfileChanged);
        Ok(())
    }

    /// Stores one setting (see `crate::settings`) as a JSON value.
    pub fn set_setting(&mut self, key: &str, value: &serde_json::Value) -> Result<()> {
        self.exec(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value.to_string()],
        )?;
        Ok(())
    }

    pub(crate) fn now_secs(&self) -> u64 {
        self.hlc.wall_ms() / 1000
    }

    /// A random yrs client id not yet used by this device in any document. 32 bits keeps it
    /// a safe integer for every Yjs implementation.
    fn fresh_client_id(&self) -> Result<u64> {
        loop {
            let c = u64::from(rand::random::<u32>());
            let used: bool = self.qrow(
                "SELECT EXISTS (SELECT 1 FROM doc_clients_by_owner WHERE client = ?1)",
                [c as i64],
                |r| r.get(0),
            )?;
            if !used && c != 0 {
                return Ok(c);
            }
        }
    }

    pub(crate) fn chat_topic(&self, chat: &ChatId) -> Result<TopicId> {
        let t: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT topic FROM chats WHERE chat = ?1",
                [chat.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        t.and_then(|b| TopicId::from_slice(&b))
            .ok_or_else(|| Error::NotFound("no such conversation".into()))
    }
}

impl Engine {
    /// Executes a statement through the prepared-statement cache: the engine runs the same few
    /// dozen statements for every envelope, and preparing them anew would dominate catch-up.
    pub(crate) fn exec<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// `query_row` through the prepared-statement cache.
    pub(crate) fn qrow<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }
}

pub(crate) fn clean_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(Error::Invalid("a name must be 1 to 64 characters".into()));
    }
    Ok(n.to_string())
}
