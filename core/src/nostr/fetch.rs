//! Fetching: looking for what waits for this device.
//!
//! - **When**: on start, when a relay (re)connects (the network changed: each relay's status
//!   notifications say so, nothing polls), every
//!   [`FETCH_EVERY`], when asked (`Node::check_mailboxes`), and for a tag secret just learnt (a
//!   new contact, chat or sender key: mail may already wait under it). Between fetches, a live
//!   subscription to the current and previous epoch's tags brings new mail at once.
//! - **What**: every epoch's tags since the last complete fetch from that relay (at most
//!   [`RETENTION`] back), page by page, newest first.
//! - **Bounds**: each relay is fetched by its own worker, so a relay that never answers or
//!   floods only delays itself. A worker reads at most a page at a time, hands events over in
//!   small batches through a short channel (so a flood waits for the ingest instead of filling
//!   memory), stops paging when a relay does not honour `until`, and gives up on a page after
//!   [`FETCH_TIMEOUT`]. Every event is checked ([`open_event`]) before anything is ingested,
//!   and then the envelopes go through the same verification as from any peer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use nostr_sdk::{
    Client, Event, EventId, Filter, Kind, PublicKey, RelayPoolNotification, RelayUrl,
    SubscriptionId, Timestamp,
};
use tokio::sync::mpsc;

use super::seal::{self, Parts, Payload};
use super::tags::{epoch_of, Tag, TagSecret};
use super::task::{now_secs, Shared, JITTER_SECS};
use super::{KIND, RETENTION};
use crate::error::{Error, Result};
use crate::node::{Node, WeakNode};

/// A full fetch from every relay this often, besides the live subscription.
pub const FETCH_EVERY: Duration = Duration::from_secs(15 * 60);
/// How long one relay may take to answer one page.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Events per page.
const PAGE: usize = 500;
/// Pages per group of tags in one fetch: 10,000 events, hundreds of thousands of messages.
const MAX_PAGES: usize = 20;
/// Tag values per filter (relays bound a filter's size).
const TAGS_PER_FILTER: usize = 64;
/// Events handed from a worker to be opened and ingested together.
const BATCH: usize = 50;
/// Batches waiting to be ingested, per all workers: what a flood can make us hold.
const BATCHES_WAITING: usize = 4;
/// Event ids remembered, so an event seen twice (subscription and fetch) is opened once.
const SEEN: usize = 20_000;
/// Tags kept to open fetched events by (every epoch of every secret looked for).
const MAX_TAGS: usize = 50_000;
/// Wait this long after a change (a new contact, chat, key) before reading the watch list
/// again: a burst of changes reads it once.
const WATCH_DELAY: Duration = Duration::from_millis(200);

/// Time until the next epoch starts (and a second more).
fn until_next_epoch() -> Duration {
    let now = now_secs();
    let next = (epoch_of(now) + 1) * super::tags::EPOCH_SECS;
    Duration::from_secs(next.saturating_sub(now) + 1)
}

/// What a fetch worker reports.
enum Fetched {
    Events(RelayUrl, Vec<Event>),
    Done {
        url: RelayUrl,
        /// A fetch under every secret (it moves the relay's mark when complete).
        full: bool,
        started: u64,
        error: Option<String>,
    },
}

pub(super) struct Fetcher {
    node: WeakNode,
    client: Client,
    urls: Vec<RelayUrl>,
    shared: Shared,
    /// Every tag secret we look for mail under.
    secrets: Vec<TagSecret>,
    /// Tags to open events by, by their `p` value.
    tags: HashMap<PublicKey, Tag>,
    sub: Option<SubscriptionId>,
    /// What the live subscription asks for, to know when it must change.
    sub_key: Vec<PublicKey>,
    seen: VecDeque<EventId>,
    seen_set: HashSet<EventId>,
    parts: Parts,
    /// Relays connected at the last look: one that (re)connects is fetched from.
    connected: HashSet<RelayUrl>,
    /// Relays a full fetch is running for.
    running: HashSet<RelayUrl>,
    tx: mpsc::Sender<Fetched>,
    rx: Option<mpsc::Receiver<Fetched>>,
    /// When a relay's dropped events were last logged.
    drop_logged: HashMap<RelayUrl, std::time::Instant>,
}

impl Fetcher {
    pub fn new(node: &Node, client: Client, urls: Vec<RelayUrl>, shared: Shared) -> Fetcher {
        let (tx, rx) = mpsc::channel(BATCHES_WAITING);
        Fetcher {
            node: node.downgrade(),
            client,
            urls,
            shared,
            secrets: Vec::new(),
            tags: HashMap::new(),
            sub: None,
            sub_key: Vec::new(),
            seen: VecDeque::new(),
            seen_set: HashSet::new(),
            parts: Parts::default(),
            connected: HashSet::new(),
            running: HashSet::new(),
            tx,
            rx: Some(rx),
            drop_logged: HashMap::new(),
        }
    }

    fn node(&self) -> Result<Node> {
        self.node.upgrade().ok_or(Error::Shutdown)
    }

    pub async fn run(mut self, mut kicked: mpsc::Receiver<()>) {
        let Some(mut rx) = self.rx.take() else { return };
        let mut notes = self.client.notifications();
        let mut node_events = match self.node() {
            Ok(n) => n.subscribe(),
            Err(_) => return,
        };
        let mut watch_at: Option<tokio::time::Instant> = None;
        let mut fetch_at = tokio::time::Instant::now();
        // Each relay says when its connection comes and goes: no polling while idle.
        let (status_tx, mut statuses) = mpsc::channel::<()>(1);
        for url in &self.urls {
            let Ok(relay) = self.client.relay(url).await else {
                continue;
            };
            let mut notes = relay.notifications();
            let tx = status_tx.clone();
            tokio::spawn(async move {
                loop {
                    match notes.recv().await {
                        Ok(nostr_sdk::pool::RelayNotification::RelayStatus { .. })
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            let _ = tx.try_send(());
                        }
                        Ok(nostr_sdk::pool::RelayNotification::Shutdown) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
        drop(status_tx);
        loop {
            let watch_sleep = async {
                match watch_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let step: Result<()> = tokio::select! {
                Some(f) = rx.recv() => self.on_fetched(f).await,
                n = notes.recv() => match n {
                    Ok(RelayPoolNotification::Event { relay_url, event, .. }) => {
                        self.on_events(&relay_url, vec![*event]).await
                    }
                    Ok(RelayPoolNotification::Shutdown) => return,
                    Ok(_) => Ok(()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // Live events were dropped (a flood): a fetch finds them.
                        tracing::info!(dropped = n, "mailbox notifications fell behind; fetching");
                        fetch_at = tokio::time::Instant::now();
                        Ok(())
                    }
                    Err(_) => return,
                },
                ev = node_events.recv() => match ev {
                    // New contacts, chats, invites and keys change where mail is looked for.
                    Ok(crate::events::Event::EnvelopesAdded { .. }
                        | crate::events::Event::ContactsChanged
                        | crate::events::Event::ChatsChanged)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        watch_at.get_or_insert(tokio::time::Instant::now() + WATCH_DELAY);
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    Err(_) => return,
                },
                _ = watch_sleep => {
                    watch_at = None;
                    match self.refresh_watch().await {
                        // Mail may already wait under a tag just learnt.
                        Ok(new) if !new.is_empty() => self.start_fetch(&self.urls.clone(), new, false).await,
                        Ok(_) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                _ = tokio::time::sleep_until(fetch_at) => {
                    fetch_at = tokio::time::Instant::now() + FETCH_EVERY;
                    self.fetch_all(&self.urls.clone()).await
                }
                Some(()) = kicked.recv() => {
                    // Asked to look now: the watch list first (a new invite), then everything.
                    watch_at = Some(tokio::time::Instant::now());
                    fetch_at = tokio::time::Instant::now() + WATCH_DELAY;
                    Ok(())
                }
                Some(()) = statuses.recv() => self.on_relay_status().await,
                // The tags change with the day: the live subscription moves with them.
                _ = tokio::time::sleep(until_next_epoch()) => self.refresh_watch().await.map(|_| ()),
            };
            if let Err(Error::Shutdown) = step {
                return;
            }
        }
    }

    /// A relay's connection came or went: fetch from any that came back.
    async fn on_relay_status(&mut self) -> Result<()> {
        let relays = self.client.relays().await;
        let now_connected: HashSet<RelayUrl> = relays
            .iter()
            .filter(|(_, r)| r.status() == nostr_sdk::RelayStatus::Connected)
            .map(|(u, _)| u.clone())
            .collect();
        let back: Vec<RelayUrl> = now_connected.difference(&self.connected).cloned().collect();
        if now_connected != self.connected {
            // Settings shows the relays' health.
            self.node()?.emit(crate::events::Event::RelayChanged);
        }
        self.connected = now_connected;
        if !back.is_empty() {
            // A relay that (re)connected may hold what arrived while we could not reach it.
            self.fetch_all(&back).await?;
        }
        Ok(())
    }

    /// Reads the tag secrets again; returns the ones that are new. Keeps the live subscription
    /// on the current and previous epoch's tags.
    async fn refresh_watch(&mut self) -> Result<Vec<TagSecret>> {
        let secrets = self.node()?.call(|e| e.nostr_watch()).await?;
        let new: Vec<TagSecret> = secrets
            .iter()
            .filter(|s| !self.secrets.contains(s))
            .cloned()
            .collect();
        self.secrets = secrets;
        let epoch = epoch_of(now_secs());
        let live: Vec<Tag> = self
            .secrets
            .iter()
            .flat_map(|s| [s.tag(epoch), s.tag(epoch.saturating_sub(1))])
            .collect();
        let mut key: Vec<PublicKey> = live.iter().map(|t| t.p).collect();
        key.sort();
        if self.tags.len() + live.len() > MAX_TAGS {
            self.tags.clear();
        }
        for t in live {
            self.tags.insert(t.p, t);
        }
        if key != self.sub_key {
            if let Some(id) = self.sub.take() {
                self.client.unsubscribe(&id).await;
            }
            self.sub_key = key.clone();
            if !key.is_empty() {
                let filter = Filter::new()
                    .kind(Kind::Custom(KIND))
                    .pubkeys(key.iter().copied())
                    .since(Timestamp::from_secs(
                        now_secs().saturating_sub(JITTER_SECS * 2),
                    ));
                match self.client.subscribe(filter, None).await {
                    Ok(out) => self.sub = Some(out.val),
                    Err(e) => tracing::info!(error = %e, "mailbox subscription not made"),
                }
            }
        }
        Ok(new)
    }

    /// A full fetch from each of `urls`: every secret, since the last complete one.
    async fn fetch_all(&mut self, urls: &[RelayUrl]) -> Result<()> {
        self.refresh_watch().await?;
        let urls: Vec<RelayUrl> = urls
            .iter()
            .filter(|u| !self.running.contains(*u))
            .cloned()
            .collect();
        self.running.extend(urls.iter().cloned());
        self.start_fetch(&urls, self.secrets.clone(), true).await
    }

    /// Starts a worker per relay fetching under `secrets`.
    async fn start_fetch(
        &mut self,
        urls: &[RelayUrl],
        secrets: Vec<TagSecret>,
        full: bool,
    ) -> Result<()> {
        if secrets.is_empty() || urls.is_empty() {
            for u in urls {
                self.running.remove(u);
            }
            return Ok(());
        }
        let marks: HashMap<String, i64> = self
            .node()?
            .read(|c| {
                let mut st = c.prepare_cached("SELECT relay, at FROM nostr_fetched")?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(rows)
            })
            .await?;
        let started = now_secs();
        let oldest = started.saturating_sub(RETENTION.as_secs());
        for url in urls {
            let since = marks
                .get(url.as_str())
                .map(|t| (*t as u64).saturating_sub(JITTER_SECS * 2))
                .unwrap_or(oldest)
                .max(oldest);
            let mut ps = Vec::new();
            for e in epoch_of(since)..=epoch_of(started) {
                for s in &secrets {
                    let t = s.tag(e);
                    ps.push(t.p);
                    self.tags.insert(t.p, t);
                }
            }
            tokio::spawn(worker(
                self.client.clone(),
                url.clone(),
                ps,
                since,
                self.tx.clone(),
                full,
                started,
            ));
        }
        Ok(())
    }

    async fn on_fetched(&mut self, f: Fetched) -> Result<()> {
        match f {
            Fetched::Events(url, events) => self.on_events(&url, events).await,
            Fetched::Done {
                url,
                full,
                started,
                error,
            } => {
                if full {
                    self.running.remove(&url);
                }
                match error {
                    Some(e) => {
                        tracing::info!(relay = %url, error = %e, "mailbox fetch incomplete");
                        self.shared.relay(&url, |r| r.error = Some(e));
                    }
                    None if full => {
                        self.shared.relay(&url, |r| r.fetched_at = Some(started));
                        let u = url.to_string();
                        self.node()?
                            .call(move |e| {
                                e.exec(
                                    "INSERT INTO nostr_fetched (relay, at) VALUES (?1, ?2)
                                     ON CONFLICT (relay) DO UPDATE SET at = MAX(at, ?2)",
                                    rusqlite::params![u, started as i64],
                                )?;
                                Ok(())
                            })
                            .await?;
                    }
                    None => {}
                }
                Ok(())
            }
        }
    }

    /// Checks and opens events from a relay and ingests the envelopes they carry.
    async fn on_events(&mut self, url: &RelayUrl, events: Vec<Event>) -> Result<()> {
        let mut envelopes = Vec::new();
        let mut dropped = 0u64;
        for ev in events {
            if self.seen_set.contains(&ev.id) {
                continue;
            }
            self.remember(ev.id);
            match open_event(&self.tags, &ev) {
                Ok(Payload::Batch(envs)) => {
                    envelopes.extend(envs.into_iter().map(|b| b.into_vec()))
                }
                Ok(Payload::Part {
                    id,
                    index,
                    count,
                    bytes,
                }) => envelopes.extend(self.parts.add(id, index, count, bytes.into_vec())),
                Err(why) => {
                    dropped += 1;
                    tracing::debug!(relay = %url, event = %ev.id, %why, "mailbox event dropped");
                }
            }
        }
        if dropped > 0 {
            // Said once a minute per relay at most: a flooding relay does not flood the log.
            let now = std::time::Instant::now();
            let due = self
                .drop_logged
                .get(url)
                .is_none_or(|t| now.duration_since(*t) > Duration::from_secs(60));
            if due {
                self.drop_logged.insert(url.clone(), now);
                tracing::info!(relay = %url, dropped, "mailbox relay sent events that are not ours or not valid; dropped (said once a minute)");
            }
            self.shared.relay(url, |r| r.dropped += dropped);
        }
        if envelopes.is_empty() {
            return Ok(());
        }
        let n = envelopes.len();
        let report = self.node()?.ingest(envelopes).await?;
        tracing::debug!(relay = %url, envelopes = n, new = report.new, rejected = report.rejected.len(), "mailbox fetched");
        Ok(())
    }

    fn remember(&mut self, id: EventId) {
        if self.seen_set.insert(id) {
            self.seen.push_back(id);
            if self.seen.len() > SEEN {
                if let Some(old) = self.seen.pop_front() {
                    self.seen_set.remove(&old);
                }
            }
        }
    }
}

/// Why an event is not opened, or what it holds: one of ours, under a tag we asked for, within
/// the sizes Hearth makes, signed, and sealed by someone who knows the tag's secret.
fn open_event(tags: &HashMap<PublicKey, Tag>, ev: &Event) -> std::result::Result<Payload, String> {
    if ev.kind != Kind::Custom(KIND) {
        return Err("another kind".into());
    }
    if ev.content.len() > seal::MAX_CONTENT {
        return Err(format!("oversize content ({} bytes)", ev.content.len()));
    }
    let mut ps = ev.tags.public_keys();
    let (Some(p), None) = (ps.next(), ps.next()) else {
        return Err("not exactly one p tag".into());
    };
    let Some(tag) = tags.get(p) else {
        return Err("a tag we did not ask for".into());
    };
    ev.verify().map_err(|e| format!("bad signature: {e}"))?;
    seal::open(tag, &ev.content).map_err(|e| e.to_string())
}

/// Fetches from one relay, a page at a time, handing events over in batches.
async fn worker(
    client: Client,
    url: RelayUrl,
    ps: Vec<PublicKey>,
    since: u64,
    tx: mpsc::Sender<Fetched>,
    full: bool,
    started: u64,
) {
    let mut error = None;
    'chunks: for chunk in ps.chunks(TAGS_PER_FILTER) {
        let mut until: Option<Timestamp> = None;
        for _ in 0..MAX_PAGES {
            let mut filter = Filter::new()
                .kind(Kind::Custom(KIND))
                .pubkeys(chunk.iter().copied())
                .since(Timestamp::from_secs(since))
                .limit(PAGE);
            if let Some(u) = until {
                filter = filter.until(u);
            }
            let mut stream = match client
                .stream_events_from([url.clone()], filter, FETCH_TIMEOUT)
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    error = Some(format!("could not fetch: {e}"));
                    break 'chunks;
                }
            };
            let mut n = 0;
            let mut oldest: Option<Timestamp> = None;
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(ev) = stream.next().await {
                n += 1;
                oldest = Some(oldest.map_or(ev.created_at, |t| t.min(ev.created_at)));
                batch.push(ev);
                if batch.len() >= BATCH
                    && tx
                        .send(Fetched::Events(url.clone(), std::mem::take(&mut batch)))
                        .await
                        .is_err()
                {
                    return;
                }
                if n >= PAGE {
                    break;
                }
            }
            drop(stream);
            if !batch.is_empty() && tx.send(Fetched::Events(url.clone(), batch)).await.is_err() {
                return;
            }
            if n < PAGE {
                break;
            }
            match (oldest, until) {
                // A relay that does not honour `until` would send the same page forever.
                (Some(o), Some(u)) if o >= u => break,
                (Some(o), _) => until = Some(o),
                (None, _) => break,
            }
        }
    }
    let _ = tx
        .send(Fetched::Done {
            url,
            full,
            started,
            error,
        })
        .await;
}
