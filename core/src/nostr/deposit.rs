//! Depositing: after the engine stores own envelopes (a mark on [`Dirty`]) and a short pause
//! (so a push to a connected member goes first and a burst batches), the envelopes of every
//! topic with a member device not connected are packed ([`seal::pack`]), sealed under their
//! mailbox tag and sent to every relay at once as events under throwaway keys.
//!
//! The topic's mark moves on once each event was acknowledged (`OK`) by at least one relay:
//! that is "handed to a mailbox". An event that reached no relay leaves the mark where it was,
//! and the range is deposited again (as new events) after a backoff. Events fewer than
//! [`WANT_RELAYS`] relays hold are sent again to the others, with backoff, while the task runs
//! (a restart forgets them: what one relay holds is then all there is, and the sender's own
//! device still carries the envelopes on every other path).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use nostr_sdk::{Client, Event, RelayUrl};

use super::seal;
use super::tags::epoch_of;
use super::task::{make_event, now_secs, Shared};
use super::{RETENTION, WANT_RELAYS};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, TopicId};
use crate::node::{Node, WeakNode};
use crate::sync::dirty::Dirty;

/// Wait this long after new own envelopes before depositing: a push to a connected member goes
/// first, and a burst goes in a few events instead of one per envelope.
const DEPOSIT_DELAY: Duration = Duration::from_millis(50);
/// Own envelopes read for one topic per deposit round.
const DEPOSIT_ENVELOPES: usize = 2_000;
/// Deposits waiting for more relays to hold them, at most.
const MAX_RETRYING: usize = 512;
/// A failed deposit is tried again after this, doubling up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(600);
/// How often retries are looked at.
const RETRY_TICK: Duration = Duration::from_secs(15);

/// Events that fewer than [`WANT_RELAYS`] relays hold yet.
struct Retry {
    event: Event,
    /// What an acknowledgement covers: my envelopes of this topic up to this seq.
    topic: TopicId,
    upto: u64,
    holders: HashSet<RelayUrl>,
    next: Instant,
    wait: Duration,
    made: Instant,
}

pub(super) struct Depositor {
    node: WeakNode,
    client: Client,
    urls: Vec<RelayUrl>,
    shared: Shared,
    dirty: Dirty,
    retrying: Vec<Retry>,
    /// Deposit rounds some relay has not answered yet, by topic and seq.
    rounds: HashMap<(TopicId, u64), Round>,
    /// Sends to the slower relays of rounds that were already handed to a mailbox.
    inflight: FuturesUnordered<BoxFuture<'static, Sent>>,
}

/// One deposit round: its events, and which relays acknowledged each.
struct Round {
    events: Vec<Event>,
    holders: Vec<HashSet<RelayUrl>>,
    /// Relays that have not answered yet.
    outstanding: usize,
}

/// One relay's answers to a round's events, in order.
type Sent = (TopicId, u64, RelayUrl, Vec<std::result::Result<(), String>>);

impl Depositor {
    pub fn new(
        node: &Node,
        client: Client,
        urls: Vec<RelayUrl>,
        shared: Shared,
        dirty: Dirty,
    ) -> Depositor {
        Depositor {
            node: node.downgrade(),
            client,
            urls,
            shared,
            dirty,
            retrying: Vec::new(),
            rounds: HashMap::new(),
            inflight: FuturesUnordered::new(),
        }
    }

    fn node(&self) -> Result<Node> {
        self.node.upgrade().ok_or(Error::Shutdown)
    }

    pub async fn run(mut self) {
        // What waited from before the start (or a crash) goes first.
        let mut deposit_at = Some(tokio::time::Instant::now());
        let mut wait = RETRY_MIN;
        let mut tick = tokio::time::interval(RETRY_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deposit_sleep = async {
                match deposit_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.dirty.marked() => {
                    self.dirty.take();
                    let soon = tokio::time::Instant::now() + DEPOSIT_DELAY;
                    deposit_at = Some(deposit_at.map_or(soon, |t| t.min(soon)));
                }
                _ = deposit_sleep => {
                    deposit_at = None;
                    match self.deposit().await {
                        Ok(more) => {
                            wait = RETRY_MIN;
                            if more {
                                deposit_at = Some(tokio::time::Instant::now());
                            }
                        }
                        Err(Error::Shutdown) => return,
                        Err(e) => {
                            tracing::info!(error = %e, ?wait, "deposit on mailbox relays failed; trying again");
                            deposit_at = Some(tokio::time::Instant::now() + wait);
                            wait = (wait * 2).min(RETRY_MAX);
                        }
                    }
                }
                Some(sent) = self.inflight.next(), if !self.inflight.is_empty() => {
                    if let Err(Error::Shutdown) = self.on_sent(sent).await {
                        return;
                    }
                }
                // Only while something waits for more relays: an idle device does not wake.
                _ = tick.tick(), if !self.retrying.is_empty() => {
                    if let Err(Error::Shutdown) = self.send_retries().await {
                        return;
                    }
                }
            }
        }
    }

    /// Deposits my envelopes that members not connected lack. Returns once every event of each
    /// topic is acknowledged by some relay (or every relay answered); slower relays finish in
    /// the background ([`Depositor::on_sent`]). Fails (to be tried again) if an event reached
    /// no relay at all; returns true if more waited than one round takes.
    async fn deposit(&mut self) -> Result<bool> {
        let node = self.node()?;
        let connected = connected_devices(&node).await;
        let pending = node
            .call(move |e| e.nostr_pending(&connected, DEPOSIT_ENVELOPES))
            .await?;
        let mut failed = None;
        let mut more = false;
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
            if events.is_empty() {
                node.call(move |e| e.nostr_deposited(&topic, upto, &[], false))
                    .await?;
                continue;
            }
            // Every relay at once, each with every event; the round ends when each event is
            // on some relay, or when every relay has answered.
            let mut sends: FuturesUnordered<BoxFuture<'static, Sent>> = self
                .urls
                .iter()
                .map(|u| send_all(self.client.clone(), u.clone(), events.clone(), topic, upto))
                .collect();
            self.rounds.insert(
                (topic, upto),
                Round {
                    holders: vec![HashSet::new(); events.len()],
                    events,
                    outstanding: self.urls.len(),
                },
            );
            let mut handed = false;
            let mut holders: Vec<String> = Vec::new();
            while let Some(sent) = sends.next().await {
                if let Some(all) = self.on_sent(sent).await? {
                    handed = true;
                    holders = all;
                    break;
                }
            }
            // The slower relays answer in the background.
            self.inflight.extend(sends);
            if !handed {
                // Some of it is on no relay: not handed to a mailbox. The whole range is
                // deposited again (as new events) on the next round.
                self.rounds.remove(&(topic, upto));
                failed = Some(Error::Invalid(
                    "no mailbox relay acknowledged the deposit".into(),
                ));
                continue;
            }
            node.call(move |e| e.nostr_deposited(&topic, upto, &holders, true))
                .await?;
            tracing::debug!(%topic, upto, "deposited on mailbox relays");
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(more),
        }
    }

    /// One relay answered for a round's events: counts it, records what it holds in full, and
    /// once every relay answered, keeps the events too few relays hold for a retry. Returns,
    /// once every event is on some relay, the relays that hold all of them.
    async fn on_sent(&mut self, (topic, upto, url, results): Sent) -> Result<Option<Vec<String>>> {
        let Some(round) = self.rounds.get_mut(&(topic, upto)) else {
            return Ok(None);
        };
        let mut all = true;
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(()) => {
                    if let Some(h) = round.holders.get_mut(i) {
                        h.insert(url.clone());
                    }
                    self.shared.relay(&url, |s| {
                        s.accepted += 1;
                        s.error = None;
                    });
                }
                Err(why) => {
                    all = false;
                    tracing::info!(relay = %url, %why, "mailbox relay refused an event");
                    self.shared.relay(&url, |s| {
                        s.refused += 1;
                        s.error = Some(why);
                    });
                }
            }
        }
        if let Ok(n) = self.node() {
            // The relays' health changed (Settings shows it), and maybe a message's place.
            n.emit(crate::events::Event::RelayChanged);
        }
        let Some(round) = self.rounds.get_mut(&(topic, upto)) else {
            return Ok(None);
        };
        round.outstanding = round.outstanding.saturating_sub(1);
        let done = round.outstanding == 0;
        let handed = round.holders.iter().all(|h| !h.is_empty()).then(|| {
            self.urls
                .iter()
                .filter(|u| round.holders.iter().all(|h| h.contains(*u)))
                .map(|u| u.to_string())
                .collect::<Vec<String>>()
        });
        if all {
            let relay = url.to_string();
            self.node()?
                .call(move |e| e.nostr_held(&topic, upto, &relay))
                .await?;
        }
        if done {
            let want = WANT_RELAYS.min(self.urls.len());
            if let Some(round) = self.rounds.remove(&(topic, upto)) {
                for (event, holders) in round.events.into_iter().zip(round.holders) {
                    if holders.len() < want
                        && !holders.is_empty()
                        && self.retrying.len() < MAX_RETRYING
                    {
                        self.retrying.push(Retry {
                            event,
                            topic,
                            upto,
                            holders,
                            next: Instant::now() + RETRY_MIN,
                            wait: RETRY_MIN,
                            made: Instant::now(),
                        });
                    }
                }
            }
            let retrying = self.retrying.len();
            self.shared.update(|s| s.retrying = retrying);
        }
        Ok(handed)
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
                    self.shared.relay(&u, |s| s.accepted += 1);
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
        self.shared.update(|s| s.retrying = retrying);
        Ok(())
    }
}

/// Sends every event of a round to one relay; says which it acknowledged.
fn send_all(
    client: Client,
    url: RelayUrl,
    events: Vec<Event>,
    topic: TopicId,
    upto: u64,
) -> BoxFuture<'static, Sent> {
    Box::pin(async move {
        let sends = events.iter().map(|ev| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                match client.send_event_to([url.clone()], ev).await {
                    Ok(out) if out.success.contains(&url) => Ok(()),
                    Ok(out) => Err(out
                        .failed
                        .get(&url)
                        .cloned()
                        .unwrap_or_else(|| "no answer".into())),
                    Err(e) => Err(e.to_string()),
                }
            }
        });
        let results = futures::future::join_all(sends).await;
        (topic, upto, url, results)
    })
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
