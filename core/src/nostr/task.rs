//! The mailbox task: one `nostr-sdk` client connected to the mailbox relays, depositing this
//! device's envelopes for members it does not reach and fetching what waits for it.
//!
//! - **Deposit**: after the engine stores own envelopes (a mark on [`Dirty`]) and a short pause
//!   (so a push to a connected member goes first and small envelopes batch), the envelopes of
//!   every topic with a member device not connected are packed ([`seal::pack`]), sealed under
//!   their mailbox tag and sent to every relay as events under throwaway keys. The topic's mark
//!   moves on once at least one relay acknowledged every event ("handed to a mailbox"); events
//!   fewer than [`WANT_RELAYS`] relays hold are sent again to the others, with backoff.
//! - **Fetch**: on start, when a relay (re)connects, every [`FETCH_EVERY`], and when a fetched
//!   envelope taught us a new tag secret (a new member's key): every epoch's tags since the last
//!   complete fetch from that relay, page by page. Between fetches, a live subscription to the
//!   current and previous epoch's tags brings new mail at once.
//! - **Bounds**: a relay's answers are cut off by size and count (`RelayLimits`, the filter
//!   limit, [`MAX_PAGES`]) and time ([`FETCH_TIMEOUT`]); every event is verified and opened
//!   before anything is ingested; a relay that never answers only delays itself, as each relay
//!   is fetched on its own.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nostr_sdk::{
    Client, ClientOptions, Event, EventBuilder, EventId, Filter, Keys, Kind, PublicKey,
    RelayPoolNotification, RelayUrl, SubscriptionId, Timestamp,
};
use tokio::sync::mpsc;

use super::seal::{self, Parts, Payload};
use super::tags::{epoch_of, Tag, TagSecret};
use super::{RelayStatus, Status, KIND, RETENTION, WANT_RELAYS};
use crate::error::{Error, Result};
use crate::ids::DeviceId;
use crate::node::{Node, WeakNode};
use crate::sync::dirty::Dirty;

/// Wait this long after new own envelopes before depositing: a push to a connected member goes
/// first, and a burst goes in a few events instead of one per envelope.
const DEPOSIT_DELAY: Duration = Duration::from_millis(500);
/// Wait this long after a change (a new contact, chat, key) before reading the watch list
/// again: a burst of changes reads it once.
const WATCH_DELAY: Duration = Duration::from_millis(200);
/// A full fetch from every relay this often, besides the live subscription.
pub const FETCH_EVERY: Duration = Duration::from_secs(15 * 60);
/// How long one relay may take to answer one page of a fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Events per page of a fetch.
const PAGE: usize = 500;
/// Pages per tag chunk in one fetch: 10,000 events, hundreds of thousands of messages.
const MAX_PAGES: usize = 20;
/// Tag values per filter (relays bound a filter's size).
const TAGS_PER_FILTER: usize = 64;
/// Own envelopes read for one topic per deposit round.
const DEPOSIT_ENVELOPES: usize = 2_000;
/// `created_at` is set back by up to this (so it does not tell when a message was written).
const JITTER_SECS: u64 = 600;
/// Event ids remembered, so an event seen twice (subscription and fetch) is opened once.
const SEEN: usize = 20_000;
/// Deposits waiting for more relays to hold them, at most.
const MAX_RETRYING: usize = 512;
/// A failed deposit round is tried again after this, doubling up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(600);

/// The running task, as the node holds it.
#[derive(Clone)]
pub(crate) struct Handle {
    shared: Arc<Mutex<Status>>,
    kick: mpsc::Sender<()>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    client: Client,
}

impl Handle {
    /// The relays and how each is doing.
    pub async fn status(&self) -> Status {
        let relays = self.client.relays().await;
        let mut s = self.shared.lock().map(|s| s.clone()).unwrap_or_default();
        for r in &mut s.relays {
            r.connected = relays.iter().any(|(u, x)| {
                u.as_str_without_trailing_slash() == r.url.trim_end_matches('/')
                    && x.status() == nostr_sdk::RelayStatus::Connected
            });
        }
        s
    }

    /// Asks for a fetch now (the device woke, or the network changed).
    pub fn fetch_now(&self) {
        let _ = self.kick.try_send(());
    }

    /// Stops the task and closes every relay connection.
    pub async fn stop(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        self.client.shutdown().await;
    }
}

/// Starts the mailbox task for `relays` (already checked URLs).
pub(crate) fn spawn(node: &Node, relays: Vec<String>, dirty: Dirty) -> Handle {
    let limits = {
        let mut l = nostr_sdk::pool::RelayLimits::default();
        // Nothing Hearth deposits is larger than this; a relay sending more is refused at once.
        l.messages.max_size = Some(256 * 1024);
        l.events.max_size = Some(64 * 1024);
        l.events.max_num_tags = Some(16);
        l
    };
    let client = Client::builder()
        .opts(
            ClientOptions::new()
                .relay_limits(limits)
                .verify_subscriptions(true),
        )
        .build();
    let urls: Vec<RelayUrl> = relays
        .iter()
        .filter_map(|r| RelayUrl::parse(r).ok())
        .collect();
    let shared = Arc::new(Mutex::new(Status {
        relays: urls
            .iter()
            .map(|u| RelayStatus {
                url: u.to_string(),
                ..RelayStatus::default()
            })
            .collect(),
        retrying: 0,
    }));
    let (kick, kicked) = mpsc::channel(1);
    let task = Task {
        node: node.downgrade(),
        client: client.clone(),
        urls,
        shared: shared.clone(),
        dirty,
        secrets: Vec::new(),
        tags: HashMap::new(),
        sub: None,
        sub_key: Vec::new(),
        seen: VecDeque::new(),
        seen_set: HashSet::new(),
        parts: Parts::default(),
        retrying: Vec::new(),
        connected: HashSet::new(),
        complete: HashSet::new(),
    };
    let join = tokio::spawn(task.run(kicked));
    Handle {
        shared,
        kick,
        task: Arc::new(Mutex::new(Some(join))),
        client,
    }
}

/// Events that fewer than [`WANT_RELAYS`] relays hold yet.
struct Retry {
    event: Event,
    /// What an acknowledgement covers: my envelopes of this topic up to this seq.
    topic: crate::ids::TopicId,
    upto: u64,
    holders: HashSet<RelayUrl>,
    next: Instant,
    wait: Duration,
    made: Instant,
}

struct Task {
    node: WeakNode,
    client: Client,
    urls: Vec<RelayUrl>,
    shared: Arc<Mutex<Status>>,
    dirty: Dirty,
    /// Every tag secret we look for mail under, and their tags for the live window.
    secrets: Vec<TagSecret>,
    tags: HashMap<PublicKey, Tag>,
    sub: Option<SubscriptionId>,
    /// What the live subscription asks for (its tags), to know when it must change.
    sub_key: Vec<PublicKey>,
    seen: VecDeque<EventId>,
    seen_set: HashSet<EventId>,
    parts: Parts,
    retrying: Vec<Retry>,
    /// Relays connected at the last look: one that (re)connects is fetched from.
    connected: HashSet<RelayUrl>,
    /// Relays whose last fetch got every page it asked for.
    complete: HashSet<RelayUrl>,
}

fn now_secs() -> u64 {
    Timestamp::now().as_secs()
}

impl Task {
    fn node(&self) -> Result<Node> {
        self.node.upgrade().ok_or(Error::Shutdown)
    }

    async fn run(mut self, mut kicked: mpsc::Receiver<()>) {
        for u in &self.urls {
            if let Err(e) = self.client.add_relay(u.clone()).await {
                tracing::warn!(relay = %u, error = %e, "mailbox relay not added");
            }
        }
        self.client.connect().await;
        let mut notes = self.client.notifications();
        let mut node_events = match self.node() {
            Ok(n) => n.subscribe(),
            Err(_) => return,
        };
        // New contacts, chats, invites and keys change where mail is looked for.
        let mut watch_at: Option<tokio::time::Instant> = None;
        let mut deposit_at: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
        let mut deposit_wait = RETRY_MIN;
        let mut fetch_at = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deposit_sleep = async {
                match deposit_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let watch_sleep = async {
                match watch_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = node_events.recv() => match ev {
                    Ok(crate::events::Event::EnvelopesAdded { .. } | crate::events::Event::ContactsChanged | crate::events::Event::ChatsChanged)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        watch_at.get_or_insert(tokio::time::Instant::now() + WATCH_DELAY);
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                _ = watch_sleep => {
                    watch_at = None;
                    match self.refresh_watch().await {
                        Ok(new) if !new.is_empty() => {
                            // Mail may already wait under a tag we just learnt.
                            let urls = self.urls.clone();
                            if let Err(Error::Shutdown) = self.fetch_secrets(&urls, new).await {
                                return;
                            }
                        }
                        Err(Error::Shutdown) => return,
                        _ => {}
                    }
                }
                _ = self.dirty.marked() => {
                    self.dirty.take();
                    let soon = tokio::time::Instant::now() + DEPOSIT_DELAY;
                    deposit_at = Some(deposit_at.map_or(soon, |t| t.min(soon)));
                }
                _ = deposit_sleep => {
                    deposit_at = None;
                    match self.deposit().await {
                        Ok(more) => {
                            deposit_wait = RETRY_MIN;
                            if more {
                                deposit_at = Some(tokio::time::Instant::now());
                            }
                        }
                        Err(Error::Shutdown) => return,
                        Err(e) => {
                            tracing::info!(error = %e, wait = ?deposit_wait, "deposit on mailbox relays failed; trying again");
                            deposit_at = Some(tokio::time::Instant::now() + deposit_wait);
                            deposit_wait = (deposit_wait * 2).min(RETRY_MAX);
                        }
                    }
                }
                _ = tokio::time::sleep_until(fetch_at) => {
                    fetch_at = tokio::time::Instant::now() + FETCH_EVERY;
                    let urls = self.urls.clone();
                    if let Err(Error::Shutdown) = self.fetch(&urls).await {
                        return;
                    }
                }
                Some(()) = kicked.recv() => {
                    // Asked to look now: the watch list first (a new invite), then everything.
                    watch_at = Some(tokio::time::Instant::now());
                    fetch_at = tokio::time::Instant::now() + WATCH_DELAY;
                }
                n = notes.recv() => match n {
                    Ok(RelayPoolNotification::Event { relay_url, event, .. }) => {
                        if let Err(Error::Shutdown) = self.on_events(&relay_url, vec![*event]).await {
                            return;
                        }
                    }
                    Ok(RelayPoolNotification::Shutdown) => return,
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // Live events were dropped (a flood): the next fetch finds them.
                        tracing::info!(dropped = n, "mailbox notifications fell behind; fetching");
                        fetch_at = tokio::time::Instant::now();
                    }
                    Err(_) => return,
                },
                _ = tick.tick() => {
                    if let Err(Error::Shutdown) = self.on_tick().await {
                        return;
                    }
                }
            }
        }
    }

    /// Looks at the relays' connections (fetching from any that came back), keeps the live
    /// subscription on the current epoch, and sends retries that are due.
    async fn on_tick(&mut self) -> Result<()> {
        let relays = self.client.relays().await;
        let mut now_connected = HashSet::new();
        for (url, r) in &relays {
            if r.status() == nostr_sdk::RelayStatus::Connected {
                now_connected.insert(url.clone());
            }
        }
        let back: Vec<RelayUrl> = now_connected.difference(&self.connected).cloned().collect();
        self.connected = now_connected;
        self.refresh_watch().await?;
        if !back.is_empty() {
            // A relay that (re)connected may hold what arrived while we could not reach it.
            self.fetch(&back).await?;
        }
        self.send_retries().await
    }

    fn update_status(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.shared.lock() {
            f(&mut s);
        }
    }

    fn count(&self, url: &RelayUrl, f: impl Fn(&mut RelayStatus)) {
        self.update_status(|s| {
            if let Some(r) = s.relays.iter_mut().find(|r| r.url == url.as_str()) {
                f(r);
            }
        });
    }

    // ---- watching -------------------------------------------------------------------------

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
        for t in live {
            self.tags.insert(t.p, t);
        }
        if key != self.sub_key {
            if let Some(id) = self.sub.take() {
                self.client.unsubscribe(&id).await;
            }
            self.sub_key = key.clone();
            if !key.is_empty() {
                // One subscription per chunk of tags would be more; relays take one REQ with
                // many filters, and nostr-sdk sends one filter per call, so chunks are few.
                let filter = Filter::new()
                    .kind(Kind::Custom(KIND))
                    .pubkeys(key.iter().copied().take(TAGS_PER_FILTER * 4))
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

    // ---- fetching -------------------------------------------------------------------------

    /// Fetches from each of `urls` what came since the last complete fetch from it, over every
    /// epoch in between; then again for tag secrets the fetched envelopes taught us.
    async fn fetch(&mut self, urls: &[RelayUrl]) -> Result<()> {
        self.refresh_watch().await?;
        let secrets = self.secrets.clone();
        let started = now_secs();
        self.fetch_secrets(urls, secrets).await?;
        // Only a fetch under every secret moves the relay's mark.
        let list: Vec<String> = urls
            .iter()
            .filter(|u| self.complete.contains(*u))
            .map(|u| u.to_string())
            .collect();
        self.node()?
            .call(move |e| {
                for u in &list {
                    e.exec(
                        "INSERT INTO nostr_fetched (relay, at) VALUES (?1, ?2)
                         ON CONFLICT (relay) DO UPDATE SET at = ?2",
                        rusqlite::params![u, started as i64],
                    )?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Fetches mail under `secrets` from each of `urls`, and under any secret that mail taught.
    async fn fetch_secrets(
        &mut self,
        urls: &[RelayUrl],
        mut secrets: Vec<TagSecret>,
    ) -> Result<()> {
        // A new secret (a key share found in this fetch) has mail of its own: fetch again for
        // it, a few times at most (each round can only teach the next member's key).
        for _ in 0..4 {
            if secrets.is_empty() {
                break;
            }
            for url in urls {
                self.fetch_from(url, &secrets).await?;
            }
            secrets = self.refresh_watch().await?;
        }
        Ok(())
    }

    async fn fetch_from(&mut self, url: &RelayUrl, secrets: &[TagSecret]) -> Result<()> {
        let started = now_secs();
        let u = url.to_string();
        let last: Option<i64> = self
            .node()?
            .read(move |c| {
                use rusqlite::OptionalExtension;
                Ok(
                    c.query_row("SELECT at FROM nostr_fetched WHERE relay = ?1", [u], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            })
            .await?;
        let oldest = started.saturating_sub(RETENTION.as_secs());
        let since = last
            .map(|t| (t as u64).saturating_sub(JITTER_SECS * 2))
            .unwrap_or(oldest)
            .max(oldest);
        let mut tags = Vec::new();
        for e in epoch_of(since)..=epoch_of(started) {
            for s in secrets {
                tags.push(s.tag(e));
            }
        }
        let mut complete = true;
        for chunk in tags.chunks(TAGS_PER_FILTER) {
            for t in chunk {
                self.tags.insert(t.p, t.clone());
            }
            let mut until: Option<Timestamp> = None;
            for _ in 0..MAX_PAGES {
                let mut filter = Filter::new()
                    .kind(Kind::Custom(KIND))
                    .pubkeys(chunk.iter().map(|t| t.p))
                    .since(Timestamp::from_secs(since))
                    .limit(PAGE);
                if let Some(u) = until {
                    filter = filter.until(u);
                }
                let events = match self
                    .client
                    .fetch_events_from([url.clone()], filter, FETCH_TIMEOUT)
                    .await
                {
                    Ok(ev) => ev,
                    Err(e) => {
                        let msg = format!("could not fetch: {e}");
                        self.count(url, |r| r.error = Some(msg.clone()));
                        complete = false;
                        break;
                    }
                };
                let events: Vec<Event> = events.into_iter().collect();
                let n = events.len();
                let oldest_seen = events.iter().map(|e| e.created_at).min();
                self.on_events(url, events).await?;
                match oldest_seen {
                    // A full page: older events may remain (same-second events are fetched
                    // again and skipped as seen).
                    Some(t) if n >= PAGE => until = Some(t),
                    _ => break,
                }
            }
        }
        if complete {
            self.complete.insert(url.clone());
            self.count(url, |r| {
                r.fetched_at = Some(started);
            });
        } else {
            self.complete.remove(url);
        }
        Ok(())
    }

    /// Verifies and opens events from a relay and ingests the envelopes they carry.
    async fn on_events(&mut self, url: &RelayUrl, events: Vec<Event>) -> Result<()> {
        let mut envelopes = Vec::new();
        let mut dropped = 0u64;
        for ev in events {
            if self.seen_set.contains(&ev.id) {
                continue;
            }
            match self.open_event(&ev) {
                Ok(payload) => {
                    self.remember(ev.id);
                    match payload {
                        Payload::Batch(envs) => {
                            envelopes.extend(envs.into_iter().map(|b| b.into_vec()))
                        }
                        Payload::Part {
                            id,
                            index,
                            count,
                            bytes,
                        } => envelopes.extend(self.parts.add(id, index, count, bytes.into_vec())),
                    }
                }
                Err(why) => {
                    dropped += 1;
                    self.remember(ev.id);
                    tracing::debug!(relay = %url, event = %ev.id, %why, "mailbox event dropped");
                }
            }
        }
        if dropped > 0 {
            tracing::info!(relay = %url, dropped, "mailbox relay sent events that are not ours or not valid; dropped");
            self.count(url, |r| r.dropped += dropped);
        }
        if envelopes.is_empty() {
            return Ok(());
        }
        let n = envelopes.len();
        let report = self.node()?.ingest(envelopes).await?;
        tracing::debug!(relay = %url, envelopes = n, new = report.new, rejected = report.rejected.len(), "mailbox fetched");
        Ok(())
    }

    fn open_event(&self, ev: &Event) -> std::result::Result<Payload, String> {
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
        let Some(tag) = self.tags.get(p) else {
            return Err("a tag we did not ask for".into());
        };
        ev.verify().map_err(|e| format!("bad signature: {e}"))?;
        seal::open(tag, &ev.content).map_err(|e| e.to_string())
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

    // ---- depositing -----------------------------------------------------------------------

    /// Deposits my envelopes that members not connected lack. Fails (to be tried again) if an
    /// event reached no relay at all; returns true if more waited than one round takes.
    async fn deposit(&mut self) -> Result<bool> {
        let node = self.node()?;
        let connected = connected_devices(&node).await;
        let pending = node
            .call(move |e| e.nostr_pending(&connected, DEPOSIT_ENVELOPES))
            .await?;
        let mut failed = None;
        let mut more = false;
        let want = WANT_RELAYS.min(self.urls.len());
        for p in pending {
            let (topic, upto) = (p.topic, p.upto);
            if p.skip {
                node.call(move |e| e.nostr_deposited(&topic, upto, &[], false))
                    .await?;
                continue;
            }
            more |= p.groups.iter().map(|(_, g)| g.len()).sum::<usize>() >= DEPOSIT_ENVELOPES;
            let now = now_secs();
            let mut events = Vec::new();
            for (secret, bodies) in &p.groups {
                let tag = secret.tag(epoch_of(now));
                for payload in seal::pack(bodies) {
                    match make_event(&tag, &payload, now) {
                        Ok(ev) => events.push(ev),
                        Err(e) => tracing::warn!(error = %e, "mailbox event not made"),
                    }
                }
            }
            // Every relay, every event, all at once.
            let sends = events.iter().map(|ev| {
                let client = self.client.clone();
                let urls = self.urls.clone();
                async move { (ev, client.send_event_to(urls, ev).await) }
            });
            let results = futures::future::join_all(sends).await;
            let mut held: Vec<(&Event, HashSet<RelayUrl>)> = Vec::with_capacity(results.len());
            for (ev, res) in results {
                let holders = match res {
                    Ok(out) => {
                        for (u, why) in &out.failed {
                            tracing::info!(relay = %u, %why, "mailbox relay refused an event");
                            self.count(u, |r| {
                                r.refused += 1;
                                r.error = Some(why.clone());
                            });
                        }
                        for u in &out.success {
                            self.count(u, |r| {
                                r.accepted += 1;
                                r.error = None;
                            });
                        }
                        out.success
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "mailbox deposit failed");
                        HashSet::new()
                    }
                };
                held.push((ev, holders));
            }
            if held.iter().any(|(_, h)| h.is_empty()) {
                // Some of it is on no relay: not handed to a mailbox. The whole range is
                // deposited again (as new events) on the next round.
                failed = Some(Error::Invalid(
                    "no mailbox relay acknowledged the deposit".into(),
                ));
                continue;
            }
            let mut all_hold: Option<HashSet<RelayUrl>> = None;
            for (ev, holders) in held {
                all_hold = Some(match all_hold {
                    None => holders.clone(),
                    Some(a) => a.intersection(&holders).cloned().collect(),
                });
                if holders.len() < want && self.retrying.len() < MAX_RETRYING {
                    self.retrying.push(Retry {
                        event: ev.clone(),
                        topic,
                        upto,
                        holders,
                        next: Instant::now() + RETRY_MIN,
                        wait: RETRY_MIN,
                        made: Instant::now(),
                    });
                }
            }
            let holders: Vec<String> = all_hold
                .unwrap_or_default()
                .iter()
                .map(|u| u.to_string())
                .collect();
            let handed = !events.is_empty();
            node.call(move |e| e.nostr_deposited(&topic, upto, &holders, handed))
                .await?;
            tracing::debug!(events = events.len(), "deposited on mailbox relays");
        }
        let retrying = self.retrying.len();
        self.update_status(|s| s.retrying = retrying);
        match failed {
            Some(e) => Err(e),
            None => Ok(more),
        }
    }

    /// Sends events that too few relays hold to the others.
    async fn send_retries(&mut self) -> Result<()> {
        let now = Instant::now();
        let want = WANT_RELAYS.min(self.urls.len());
        let mut keep = Vec::new();
        for mut r in std::mem::take(&mut self.retrying) {
            if r.holders.len() >= want || r.made.elapsed() > RETENTION {
                continue;
            }
            if r.next > now {
                keep.push(r);
                continue;
            }
            let missing: Vec<RelayUrl> = self
                .urls
                .iter()
                .filter(|u| !r.holders.contains(*u))
                .cloned()
                .collect();
            if let Ok(out) = self.client.send_event_to(missing, &r.event).await {
                for u in out.success {
                    self.count(&u, |s| s.accepted += 1);
                    let (topic, upto, relay) = (r.topic, r.upto, u.to_string());
                    self.node()?
                        .call(move |e| e.nostr_held(&topic, upto, &relay))
                        .await?;
                    r.holders.insert(u);
                }
            }
            if r.holders.len() < want {
                r.wait = (r.wait * 2).min(RETRY_MAX);
                r.next = now + r.wait;
                keep.push(r);
            }
        }
        self.retrying = keep;
        let retrying = self.retrying.len();
        self.update_status(|s| s.retrying = retrying);
        Ok(())
    }
}

/// Devices with a live connection now (LAN, direct or relayed): they get envelopes by push.
async fn connected_devices(node: &Node) -> HashSet<DeviceId> {
    match node.network_status().await {
        Ok(Some(s)) => s
            .peers
            .iter()
            .filter(|p| {
                matches!(
                    p.path,
                    crate::net::Path::Lan | crate::net::Path::Direct | crate::net::Path::Relayed
                )
            })
            .map(|p| p.device)
            .collect(),
        _ => HashSet::new(),
    }
}

/// One event: the payload sealed under the tag, signed by a key made for it alone.
fn make_event(tag: &Tag, payload: &Payload, now: u64) -> std::result::Result<Event, String> {
    let jitter = rand::random::<u64>() % JITTER_SECS;
    EventBuilder::new(Kind::Custom(KIND), seal::seal(tag, payload))
        .tag(nostr_sdk::Tag::public_key(tag.p))
        .tag(nostr_sdk::Tag::expiration(Timestamp::from_secs(
            now + RETENTION.as_secs(),
        )))
        .custom_created_at(Timestamp::from_secs(now.saturating_sub(jitter)))
        .sign_with_keys(&Keys::generate())
        .map_err(|e| e.to_string())
}
