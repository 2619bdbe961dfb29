//! Topics with new envelopes the network has not pushed yet.
//!
//! The engine marks a topic after each commit that stored envelopes of it; the net task takes
//! the marks and pushes. A set, not a queue: it never loses a mark and never grows past the
//! number of topics, however busy the net task is. (The public event bus drops events for a
//! subscriber that falls behind; the UI then re-reads, but a lost push would wait for the
//! next anti-entropy round.)
#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::ids::TopicId;

/// The marks, shared by the engine (which marks) and a task (which takes): the net task
/// pushes, the Nostr mailbox task deposits. Each taker has its own set, and the engine marks them all ([`Tee`]).
#[derive(Clone, Default)]
pub struct Dirty(Arc<Inner>);

/// Marks made on one set also go to each of these.
#[derive(Clone, Default)]
pub struct Tee(Vec<Dirty>);

impl Tee {
    /// One mark for every set.
    pub fn new(sets: Vec<Dirty>) -> Tee {
        Tee(sets)
    }

    /// Marks a topic in every set.
    pub fn mark(&self, topic: TopicId) {
        for d in &self.0 {
            d.mark(topic);
        }
    }
}

#[derive(Default)]
struct Inner {
    topics: Mutex<BTreeSet<TopicId>>,
    notify: Notify,
}

impl Dirty {
    /// Marks a topic; wakes the taker.
    pub fn mark(&self, topic: TopicId) {
        if let Ok(mut t) = self.0.topics.lock() {
            t.insert(topic);
        }
        self.0.notify.notify_one();
    }

    /// Waits until something is marked (a mark made while nobody waited counts).
    pub async fn marked(&self) {
        self.0.notify.notified().await;
    }

    /// Takes every mark.
    pub fn take(&self) -> BTreeSet<TopicId> {
        self.0
            .topics
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_made_before_anyone_waits_are_not_lost() {
        let d = Dirty::default();
        for i in 0..10_000u32 {
            d.mark(TopicId([(i % 3) as u8; 16]));
        }
        // Nobody was waiting: the wake-up is kept, and the set holds each topic once.
        d.marked().await;
        assert_eq!(d.take().len(), 3);
        assert!(d.take().is_empty());
    }
}
