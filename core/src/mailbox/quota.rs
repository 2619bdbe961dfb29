//! The mailbox's quotas: what one topic, one depositing device, one network source and the
//! whole mailbox may hold, how many topics one device or source may create, and how long mail
//! is kept. Device keys cost nothing to make and addresses do, so a household's network
//! source (an IPv4 address or IPv6 /64) is bounded as well as each key.
//!
//! Checked before anything is stored: over a bound, the new thing is refused; nothing already
//! held is evicted, so "handed to a mailbox" stays true for everything a sender was told.
#![warn(missing_docs)]

use std::time::Duration;

/// Bounds on what a mailbox holds.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Envelopes are dropped this long after they were deposited.
    pub retention: Duration,
    /// Envelope bytes per topic.
    pub topic_bytes: u64,
    /// Envelope bytes deposited by one device, over all topics.
    pub device_bytes: u64,
    /// Envelope bytes in the whole mailbox.
    pub total_bytes: u64,
    /// Topics one device may create.
    pub topics_per_device: u64,
    /// Topics created from one network source (an IPv4 address or IPv6 /64: a household).
    /// Device keys cost nothing to make; addresses do.
    pub topics_per_source: u64,
    /// Envelope bytes in the topics created from one network source.
    pub source_bytes: u64,
    /// Topics in the whole mailbox.
    pub total_topics: u64,
    /// Devices that keep one topic.
    pub members_per_topic: usize,
    /// Authors of the envelopes held in one topic.
    pub authors_per_topic: usize,
    /// Blobs (photos, voice messages, files: `super::blobs`) are dropped this long after their
    /// deposit. Shorter than mail: they are large, and members fetch them from each other too.
    pub blob_retention: Duration,
    /// Blob bytes per topic.
    pub blob_topic_bytes: u64,
    /// Blob bytes deposited by one device.
    pub blob_device_bytes: u64,
    /// Blob bytes in the topics of one network source.
    pub blob_source_bytes: u64,
    /// Blob bytes in the whole mailbox.
    pub blob_total_bytes: u64,
}

impl Default for Limits {
    /// Sized for chat: a family's text for a month fits many times over in the per-topic bound.
    fn default() -> Self {
        Limits {
            retention: Duration::from_secs(30 * 24 * 3600),
            topic_bytes: 64 << 20,
            device_bytes: 128 << 20,
            total_bytes: 4 << 30,
            topics_per_device: 256,
            // A household of a dozen devices, each in a few dozen conversations.
            topics_per_source: 1024,
            // Eight households fill the mailbox: one machine with many keys cannot.
            source_bytes: 512 << 20,
            total_topics: 100_000,
            members_per_topic: 256,
            authors_per_topic: 256,
            // A fortnight of a family's photos and voice messages: a few hundred.
            blob_retention: Duration::from_secs(14 * 24 * 3600),
            blob_topic_bytes: 1 << 30,
            blob_device_bytes: 1 << 30,
            blob_source_bytes: 2 << 30,
            blob_total_bytes: 16 << 30,
        }
    }
}

/// What is already held where a deposit would go.
#[derive(Clone, Copy, Debug, Default)]
pub struct Held {
    /// Envelope bytes in the topic.
    pub topic: u64,
    /// Envelope bytes deposited by the depositing device, over all topics.
    pub device: u64,
    /// Envelope bytes in the topics created from the topic's network source, if it is known.
    pub source: Option<u64>,
    /// Envelope bytes in the whole mailbox.
    pub total: u64,
}

/// Whether `len` more bytes fit every bound.
pub fn deposit_fits(limits: &Limits, held: &Held, len: u64) -> bool {
    held.topic + len <= limits.topic_bytes
        && held.device + len <= limits.device_bytes
        && held.source.is_none_or(|s| s + len <= limits.source_bytes)
        && held.total + len <= limits.total_bytes
}

/// Whether a blob of `len` bytes fits every bound on blobs (`held` counts blob bytes).
pub fn blob_fits(limits: &Limits, held: &Held, len: u64) -> bool {
    held.topic + len <= limits.blob_topic_bytes
        && held.device + len <= limits.blob_device_bytes
        && held
            .source
            .is_none_or(|s| s + len <= limits.blob_source_bytes)
        && held.total + len <= limits.blob_total_bytes
}

/// Topics already made, where a new one would count.
#[derive(Clone, Copy, Debug, Default)]
pub struct Made {
    /// By the requesting device.
    pub by_device: u64,
    /// From its network source, if it is known (an unknown source has no per-source bound).
    pub from_source: Option<u64>,
    /// In the whole mailbox.
    pub total: u64,
}

/// Whether one more topic may be created.
pub fn may_create(limits: &Limits, made: &Made) -> bool {
    made.by_device < limits.topics_per_device
        && made
            .from_source
            .is_none_or(|s| s < limits.topics_per_source)
        && made.total < limits.total_topics
}

/// Whether a topic with `members` devices keeping it takes one more.
pub fn may_join(limits: &Limits, members: usize) -> bool {
    members < limits.members_per_topic
}

/// Whether a topic with `authors` distinct authors takes a new one.
pub fn may_add_author(limits: &Limits, authors: usize) -> bool {
    authors < limits.authors_per_topic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_refuses_on_its_own() {
        let l = Limits {
            topic_bytes: 100,
            device_bytes: 200,
            source_bytes: 300,
            total_bytes: 400,
            ..Limits::default()
        };
        let ok = Held {
            topic: 0,
            device: 0,
            source: Some(0),
            total: 0,
        };
        assert!(deposit_fits(&l, &ok, 100));
        assert!(!deposit_fits(&l, &ok, 101), "the topic's bound");
        assert!(
            !deposit_fits(&l, &Held { device: 150, ..ok }, 60),
            "the device's"
        );
        assert!(
            !deposit_fits(
                &l,
                &Held {
                    source: Some(250),
                    ..ok
                },
                60
            ),
            "the source's"
        );
        assert!(
            deposit_fits(&l, &Held { source: None, ..ok }, 60),
            "no source, no bound"
        );
        assert!(
            !deposit_fits(&l, &Held { total: 350, ..ok }, 60),
            "the mailbox's"
        );
        let m = Limits {
            topics_per_device: 2,
            topics_per_source: 3,
            total_topics: 4,
            ..Limits::default()
        };
        let none = Made {
            by_device: 0,
            from_source: Some(0),
            total: 0,
        };
        assert!(may_create(&m, &none));
        assert!(!may_create(
            &m,
            &Made {
                by_device: 2,
                ..none
            }
        ));
        assert!(!may_create(
            &m,
            &Made {
                from_source: Some(3),
                ..none
            }
        ));
        assert!(may_create(
            &m,
            &Made {
                from_source: None,
                ..none
            }
        ));
        assert!(!may_create(&m, &Made { total: 4, ..none }));
    }
}
