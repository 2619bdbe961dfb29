//! The mailbox tasks: one `nostr-sdk` client connected to the mailbox relays, shared by two
//! tasks that never wait for each other: the [`deposit`](super::deposit) task puts this
//! device's envelopes on the relays for members it does not reach, the
//! [`fetch`](super::fetch) task looks for what waits for it. A relay that is slow to
//! acknowledge a deposit delays no fetch, and a relay that floods a fetch delays no deposit.

use std::sync::{Arc, Mutex};

use nostr_sdk::{Client, ClientOptions, Event, EventBuilder, Keys, Kind, RelayUrl, Timestamp};
use tokio::sync::mpsc;

use super::seal::{self, Payload};
use super::tags::Tag;
use super::{RelayStatus, Status, KIND, RETENTION};
use crate::node::Node;
use crate::sync::dirty::Dirty;

/// `created_at` is set back by up to this (so it does not tell when a message was written).
pub(super) const JITTER_SECS: u64 = 600;

/// The running tasks, as the node holds them.
#[derive(Clone)]
pub(crate) struct Handle {
    shared: Shared,
    kick: mpsc::Sender<()>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    client: Client,
}

impl Handle {
    /// The relays and how each is doing.
    pub async fn status(&self) -> Status {
        let relays = self.client.relays().await;
        let mut s = self.shared.get();
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

    /// Stops the tasks and closes every relay connection.
    pub async fn stop(&self) {
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        self.client.shutdown().await;
    }
}

/// Starts the mailbox tasks for `relays` (already checked URLs).
pub(crate) fn spawn(node: &Node, relays: Vec<String>, dirty: Dirty) -> Handle {
    // wss:// needs a TLS crypto provider for the process; with two linked, rustls will not
    // guess (it panics in the connection task). The first to install wins; that is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let limits = {
        let mut l = nostr_sdk::pool::RelayLimits::default();
        // Nothing Hearth deposits is larger than this; a relay sending more is cut off at once.
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
    let shared = Shared(Arc::new(Mutex::new(Status {
        relays: urls
            .iter()
            .map(|u| RelayStatus {
                url: u.to_string(),
                ..RelayStatus::default()
            })
            .collect(),
        retrying: 0,
    })));
    let (kick, kicked) = mpsc::channel(1);
    let fetch = super::fetch::Fetcher::new(node, client.clone(), urls.clone(), shared.clone());
    let deposit =
        super::deposit::Depositor::new(node, client.clone(), urls.clone(), shared.clone(), dirty);
    let connect = {
        let client = client.clone();
        async move {
            for u in &urls {
                if let Err(e) = client.add_relay(u.clone()).await {
                    tracing::warn!(relay = %u, error = %e, "mailbox relay not added");
                }
            }
            client.connect().await;
        }
    };
    // Both tasks are the handle's to stop: a deposit task left running past a restart would
    // deposit everything twice.
    let tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
    let registry = tasks.clone();
    let main = tokio::spawn(async move {
        connect.await;
        let d = tokio::spawn(deposit.run());
        if let Ok(mut t) = registry.lock() {
            t.push(d);
        }
        fetch.run(kicked).await;
    });
    if let Ok(mut t) = tasks.lock() {
        t.push(main);
    }
    Handle {
        shared,
        kick,
        tasks,
        client,
    }
}

/// The relays' health, written by both tasks and read by [`Handle::status`].
#[derive(Clone)]
pub(super) struct Shared(Arc<Mutex<Status>>);

impl Shared {
    pub fn get(&self) -> Status {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }

    /// Updates one relay's entry.
    pub fn relay(&self, url: &RelayUrl, f: impl FnOnce(&mut RelayStatus)) {
        self.update(|s| {
            if let Some(r) = s.relays.iter_mut().find(|r| r.url == url.as_str()) {
                f(r);
            }
        });
    }
}

pub(super) fn now_secs() -> u64 {
    Timestamp::now().as_secs()
}

/// One event: the payload sealed under the tag, signed by a key made for it alone.
pub(super) fn make_event(
    tag: &Tag,
    payload: &Payload,
    now: u64,
) -> std::result::Result<Event, String> {
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
