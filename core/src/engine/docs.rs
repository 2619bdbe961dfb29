//! Documents in memory and on disk.
//!
//! A document row holds a snapshot and numbered pending updates. Applying an update appends it;
//! when the pending updates outgrow the snapshot (plus [`COMPACT_SLACK`]), they are folded into
//! a new snapshot, so disk use stays proportional to content and loading stays one decode. The
//! cache keeps recently used documents (with their observers) and is dropped whole on any
//! rolled-back job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{params, OptionalExtension};
use yrs::Doc;

use super::Engine;
use crate::doc::{self, segment};
use crate::envelope::content::DocKey;
use crate::error::Result;
use crate::ids::{AccountId, TopicId};

/// Documents kept in memory; a family's active conversations fit, a million-message history
/// does not need to.
const CACHE_DOCS: usize = 64;
/// Pending bytes tolerated beyond the snapshot size before compacting.
const COMPACT_SLACK: i64 = 32 * 1024;

pub struct CachedDoc {
    pub doc: Doc,
    pub changes: Arc<Mutex<segment::Changes>>,
    last_used: u64,
}

#[derive(Default)]
pub struct DocCache {
    docs: HashMap<i64, CachedDoc>,
    tick: u64,
}

impl DocCache {
    pub fn clear(&mut self) {
        self.docs.clear();
    }
}

/// Which stored document: topic, owner account (None for meta), segment.
#[derive(Clone, Copy, Debug)]
pub struct DocRef {
    pub topic: TopicId,
    pub owner: Option<AccountId>,
    pub key: DocKey,
}

impl DocRef {
    fn owner_bytes(&self) -> Vec<u8> {
        self.owner.map(|a| a.0.to_vec()).unwrap_or_default()
    }
    fn segment(&self) -> i64 {
        match self.key {
            DocKey::Meta => -1,
            DocKey::Segment(n) => i64::from(n),
        }
    }
}

impl Engine {
    /// The row id of a document, created empty if missing.
    pub(crate) fn doc_id(&mut self, r: &DocRef) -> Result<i64> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT doc_id FROM docs WHERE topic = ?1 AND owner = ?2 AND segment = ?3",
                params![r.topic.as_bytes(), r.owner_bytes(), r.segment()],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = id {
            return Ok(id);
        }
        self.exec(
            "INSERT INTO docs (topic, owner, segment) VALUES (?1, ?2, ?3)",
            params![r.topic.as_bytes(), r.owner_bytes(), r.segment()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Loads a document into the cache (if needed) and returns its id.
    pub(crate) fn open_doc(&mut self, r: &DocRef) -> Result<i64> {
        let doc_id = self.doc_id(r)?;
        self.docs.tick += 1;
        let tick = self.docs.tick;
        if let Some(c) = self.docs.docs.get_mut(&doc_id) {
            c.last_used = tick;
            return Ok(doc_id);
        }
        let doc = self.load_doc(doc_id)?;
        let changes = segment::observe(&doc);
        if self.docs.docs.len() >= CACHE_DOCS {
            if let Some(oldest) = self
                .docs
                .docs
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| *k)
            {
                self.docs.docs.remove(&oldest);
            }
        }
        self.docs.docs.insert(
            doc_id,
            CachedDoc {
                doc,
                changes,
                last_used: tick,
            },
        );
        Ok(doc_id)
    }

    pub(crate) fn load_doc(&self, doc_id: i64) -> Result<Doc> {
        let snapshot: Vec<u8> = self.qrow(
            "SELECT snapshot FROM docs WHERE doc_id = ?1",
            [doc_id],
            |r| r.get(0),
        )?;
        let mut st = self
            .conn
            .prepare_cached("SELECT body FROM doc_updates WHERE doc_id = ?1 ORDER BY n")?;
        let updates = st
            .query_map([doc_id], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(doc::load(self.client, &snapshot, &updates)?)
    }

    pub(crate) fn cached(&self, doc_id: i64) -> Option<&CachedDoc> {
        self.docs.docs.get(&doc_id)
    }

    pub(crate) fn take_changes(&self, doc_id: i64) -> segment::Changes {
        self.docs
            .docs
            .get(&doc_id)
            .and_then(|c| c.changes.lock().ok().map(|mut g| std::mem::take(&mut *g)))
            .unwrap_or_default()
    }

    /// Appends an applied update to a document's stored log, compacting when due.
    pub(crate) fn persist_update(
        &mut self,
        doc_id: i64,
        update: &[u8],
        new_messages: i64,
    ) -> Result<()> {
        let (n, snap_len, pending): (i64, i64, i64) = self.qrow(
            "SELECT next_update, snapshot_len, pending_len FROM docs WHERE doc_id = ?1",
            [doc_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let pending = pending + update.len() as i64;
        if pending > snap_len + COMPACT_SLACK {
            if let Some(c) = self.docs.docs.get(&doc_id) {
                let snap = doc::snapshot(&c.doc);
                self.conn
                    .execute("DELETE FROM doc_updates WHERE doc_id = ?1", [doc_id])?;
                self.exec(
                    "UPDATE docs SET snapshot = ?2, snapshot_len = ?3, pending_len = 0,
                     msg_count = msg_count + ?4 WHERE doc_id = ?1",
                    params![doc_id, snap, snap.len() as i64, new_messages],
                )?;
                return Ok(());
            }
        }
        self.exec(
            "INSERT INTO doc_updates (doc_id, n, body) VALUES (?1, ?2, ?3)",
            params![doc_id, n, update],
        )?;
        self.exec(
            "UPDATE docs SET next_update = ?2, pending_len = ?3, msg_count = msg_count + ?4 WHERE doc_id = ?1",
            params![doc_id, n + 1, pending, new_messages],
        )?;
        Ok(())
    }

    /// The segment this account writes new messages to: its newest, or a new one when full.
    pub(crate) fn current_segment(&self, topic: &TopicId, owner: &AccountId) -> Result<u32> {
        let row: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT segment, msg_count FROM docs WHERE topic = ?1 AND owner = ?2
                 ORDER BY segment DESC LIMIT 1",
                params![topic.as_bytes(), owner.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            None => 0,
            Some((seg, count)) if count >= segment::SEGMENT_MESSAGES => seg as u32 + 1,
            Some((seg, _)) => seg as u32,
        })
    }
}
