//! Our side of the relays' mailboxes: asking each to keep our topics (each with the proof that
//! we may, `mailbox::access`), and what its answer confirms. Deposit and fetch are the ordinary
//! sync protocol, spoken with the mailbox as with a peer (`sync::session`).

use libp2p::request_response;
use libp2p::PeerId;

use super::task::{Internal, Task};
use crate::events::Event;
use crate::mailbox::protocol as mailbox;
use crate::sync::session::In;
use crate::sync::store;

/// A mailbox request that failed is tried again after this.
const MAILBOX_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

impl Task {
    /// Asks a relay's mailbox to keep our topics (read from the store first).
    pub(super) fn send_keep(&mut self, peer: PeerId) {
        self.store_work(store::keep_list, move |topics| {
            vec![Internal::Keep { peer, topics }]
        });
    }

    /// Sends a keep request, in parts of what one request may carry.
    pub(super) fn keep(&mut self, peer: PeerId, topics: Vec<store::Keep>) {
        if !self.swarm.is_connected(&peer) {
            return;
        }
        if let Some(r) = self.relays.get_mut(&peer) {
            r.kept_at = Some(std::time::Instant::now());
            r.asked
                .extend(topics.iter().map(|k| (k.topic, k.members.clone())));
        }
        // Nothing to keep still asks once: the answer says whether it offers a mailbox.
        let parts: Vec<&[store::Keep]> = if topics.is_empty() {
            vec![&[]]
        } else {
            topics.chunks(mailbox::MAX_KEEP_TOPICS).collect()
        };
        for part in parts {
            let part = part.iter().map(|k| (k.topic, k.proof.clone())).collect();
            self.swarm.behaviour_mut().mailbox.send_request(
                &peer,
                mailbox::Request::Keep {
                    version: mailbox::VERSION,
                    topics: part,
                },
            );
        }
    }

    pub(super) fn on_mailbox(
        &mut self,
        e: request_response::Event<mailbox::Request, mailbox::Response>,
    ) {
        match e {
            request_response::Event::Message {
                peer,
                message: request_response::Message::Response { response, .. },
                ..
            } => match response {
                mailbox::Response::Kept { topics } => {
                    tracing::info!(relay = %peer, topics = topics.len(), "mailbox keeps our topics");
                    let me = self.me;
                    let Some(r) = self.relays.get_mut(&peer) else {
                        return;
                    };
                    if !self.sync.peer(&peer).is_some_and(|p| p.mailbox) {
                        return;
                    }
                    // Answers to a keep list sent in parts add up; only what we asked counts.
                    let mut confirmed = Vec::new();
                    for t in topics {
                        let Some(members) = r.asked.get(&t) else {
                            continue;
                        };
                        r.holds_for.extend(members.iter().filter(|d| **d != me));
                        confirmed.push(t);
                    }
                    self.drive(In::MailboxKeeps {
                        peer,
                        topics: confirmed,
                    });
                    let kept = self.sync.peer(&peer).map_or(0, |p| p.shared.len());
                    if let Some(r) = self.relays.get_mut(&peer) {
                        r.kept = kept;
                    }
                    self.store.emit(Event::RelayChanged);
                    self.update_paths();
                    // It keeps our topics now: the blobs we sent go there too, and it is a
                    // source of the ones we want.
                    self.refresh_deposits();
                    self.pump_blobs();
                }
                mailbox::Response::Refused => {
                    tracing::warn!(relay = %peer, "mailbox refused our keep request");
                    if let Some(r) = self.relays.get_mut(&peer) {
                        r.kept_at = None;
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "mailbox request failed");
                if let Some(r) = self.relays.get_mut(&peer) {
                    if matches!(
                        error,
                        request_response::OutboundFailure::UnsupportedProtocols
                    ) {
                        // A relay without a mailbox (a stock libp2p relay): never asked again.
                        r.no_mailbox = true;
                        self.store.emit(crate::events::Event::RelayChanged);
                    } else {
                        // Asked again after a pause, not at the next tick.
                        r.kept_at = std::time::Instant::now()
                            .checked_sub(super::relays::KEEP_EVERY - MAILBOX_RETRY);
                    }
                }
            }
            _ => {}
        }
    }
}
