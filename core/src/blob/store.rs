//! Reading what the database knows about blobs (on reader connections): an attachment as the
//! UI shows it, what to fetch and from whom, and whom a blob may be served to.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

use super::{BlobId, BlobRef, Kind};
use crate::error::Result;
use crate::ids::{DeviceId, MessageId, TopicId};

/// A message's attachment, as the UI and `hearth messages` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Attachment {
    pub blob: BlobId,
    pub kind: Kind,
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// A `data:` URL of the preview (a small JPEG), for photos.
    pub preview: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u32>,
    /// A voice message's loudness over time, 0..=255.
    pub waveform: Vec<u8>,
    pub state: BlobState,
}

/// How much of a blob is on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BlobState {
    /// Only the preview: fetched when someone taps it (or on the LAN).
    PreviewOnly,
    /// `have` of `of` chunks are here.
    Downloading {
        have: u32,
        of: u32,
    },
    Complete,
    /// It cannot be opened: what its author sent is not a whole file.
    Damaged {
        reason: String,
    },
}

impl BlobState {
    pub fn as_str(&self) -> String {
        match self {
            BlobState::PreviewOnly => "preview only".into(),
            BlobState::Downloading { have, of } => {
                format!("downloading {}%", *have as u64 * 100 / (*of).max(1) as u64)
            }
            BlobState::Complete => "complete".into(),
            BlobState::Damaged { reason } => format!("damaged: {reason}"),
        }
    }
}

/// `chunks` is the blob's count as recorded (its manifest's once that is here), if known.
fn attachment(
    r: BlobRef,
    have: u32,
    chunks: Option<u32>,
    wanted: bool,
    damaged: Option<String>,
) -> Attachment {
    let of = chunks.unwrap_or_else(|| r.chunks());
    let state = match damaged {
        Some(reason) => BlobState::Damaged { reason },
        None if have >= of => BlobState::Complete,
        None if have == 0 && !wanted => BlobState::PreviewOnly,
        None => BlobState::Downloading { have, of },
    };
    let nonzero = |v: u32| (v > 0).then_some(v);
    Attachment {
        blob: r.id,
        kind: r.kind,
        name: r.name,
        mime: r.mime,
        size: r.size,
        preview: (!r.preview.is_empty()).then(|| {
            format!(
                "data:image/jpeg;base64,{}",
                data_encoding::BASE64.encode(&r.preview)
            )
        }),
        width: nonzero(r.width),
        height: nonzero(r.height),
        duration_ms: nonzero(r.duration_ms),
        waveform: r.waveform,
        state,
    }
}

/// The attachment of a message, if it has one.
pub fn of_message(c: &Connection, message: &MessageId) -> Result<Option<Attachment>> {
    type Row = (
        Vec<u8>,
        Option<u32>,
        Option<u32>,
        Option<bool>,
        Option<String>,
    );
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT a.ref, b.have, b.chunks, b.wanted, b.damaged FROM attachments a
             LEFT JOIN blobs b ON b.id = a.blob WHERE a.message = ?1",
        )?
        .query_row([message.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    Ok(row.and_then(|(r, have, chunks, wanted, damaged)| {
        BlobRef::decode(&r).map(|r| {
            attachment(
                r,
                have.unwrap_or(0),
                chunks,
                wanted.unwrap_or(false),
                damaged,
            )
        })
    }))
}

/// The references (with their keys) of a blob, from every message here naming it.
pub fn references(c: &Connection, blob: &BlobId) -> Result<Vec<BlobRef>> {
    let mut st = c.prepare_cached("SELECT DISTINCT ref FROM attachments WHERE blob = ?1")?;
    let rows = st.query_map([blob.0], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows
        .filter_map(|r| r.ok().and_then(|r| BlobRef::decode(&r)))
        .collect())
}

/// The chunk counts the messages naming a blob give (a manifest must have one of them).
pub fn counts(c: &Connection, blob: &BlobId) -> Result<Vec<u32>> {
    let mut out: Vec<u32> = references(c, blob)?.iter().map(BlobRef::chunks).collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// How many chunks the blob has: its manifest's count once that is here.
pub fn chunks(c: &Connection, blob: &BlobId) -> Result<Option<u32>> {
    Ok(c.prepare_cached("SELECT chunks FROM blobs WHERE id = ?1")?
        .query_row([blob.0], |r| r.get(0))
        .optional()?)
}

/// Is the blob whole here?
pub fn complete(c: &Connection, blob: &BlobId) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT have >= chunks AND damaged IS NULL FROM blobs WHERE id = ?1")?
            .query_row([blob.0], |r| r.get(0))
            .optional()?
            .unwrap_or(false),
    )
}

/// A blob still to fetch, and who may have it.
#[derive(Clone, Debug)]
pub struct Want {
    pub id: BlobId,
    pub chunks: u32,
    /// The chunk counts the messages naming it give: its manifest must have one of them (a
    /// member's message with a wrong size cannot make it impossible to fetch, nor can a
    /// manifest make a "40 KB" attachment a 100 MB download).
    pub counts: Vec<u32>,
    /// Fetch over any path (asked for, or the setting); otherwise only over the LAN.
    pub anywhere: bool,
    pub manifest: bool,
    /// Chunks still missing, in order.
    pub missing: Vec<u32>,
    /// Current member devices of the conversations showing it (besides this one).
    pub sources: Vec<DeviceId>,
    /// The topics of those conversations: a mailbox keeping one may hold the blob.
    pub topics: Vec<TopicId>,
}

fn topics_of(c: &Connection, blob: &[u8]) -> Result<Vec<TopicId>> {
    let mut st = c.prepare_cached(
        "SELECT DISTINCT ch.topic FROM attachments a
         JOIN messages m ON m.id = a.message
         JOIN chats ch ON ch.chat = m.chat
         WHERE a.blob = ?1",
    )?;
    let rows = st.query_map([blob], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows
        .filter_map(|t| t.ok().and_then(|t| TopicId::from_slice(&t)))
        .collect())
}

/// Blobs not whole here and not damaged, oldest first, at most `limit`.
pub fn wants(c: &Connection, me: &DeviceId, limit: usize) -> Result<Vec<Want>> {
    let rows: Vec<(Vec<u8>, u32, bool, bool)> = c
        .prepare_cached(
            "SELECT id, chunks, wanted, manifest FROM blobs
             WHERE have < chunks AND damaged IS NULL ORDER BY added_at, id LIMIT ?1",
        )?
        .query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    let mut have = c.prepare_cached("SELECT idx FROM blob_chunks WHERE blob = ?1 ORDER BY idx")?;
    let mut sources = c.prepare_cached(
        "SELECT DISTINCT mb.device FROM attachments a
         JOIN messages m ON m.id = a.message
         JOIN members mb ON mb.chat = m.chat AND mb.removed_after IS NULL
         WHERE a.blob = ?1 AND mb.device != ?2",
    )?;
    for (id, chunks, anywhere, manifest) in rows {
        let Some(bid) = BlobId::from_slice(&id) else {
            continue;
        };
        let here: std::collections::BTreeSet<u32> = have
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let devices: Vec<DeviceId> = sources
            .query_map(params![&id, me.0], |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|d| d.ok().and_then(|d| DeviceId::from_slice(&d)))
            .collect();
        out.push(Want {
            id: bid,
            chunks,
            anywhere,
            manifest,
            missing: (0..chunks).filter(|i| !here.contains(i)).collect(),
            sources: devices,
            topics: topics_of(c, &id)?,
            counts: counts(c, &bid)?,
        });
    }
    Ok(out)
}

/// A blob this device sent, whole here: what it deposits with the mailboxes keeping its
/// conversations, for members who are offline.
#[derive(Clone, Debug)]
pub struct Deposit {
    pub id: BlobId,
    pub chunks: u32,
    pub topics: Vec<TopicId>,
}

/// Blobs sent from this device since `since` (unix seconds), whole and not damaged, newest
/// first, at most `limit`.
pub fn deposits(c: &Connection, me: &DeviceId, since: i64, limit: usize) -> Result<Vec<Deposit>> {
    let rows: Vec<(Vec<u8>, u32)> = c
        .prepare_cached(
            "SELECT b.id, b.chunks FROM blobs b
             WHERE b.have >= b.chunks AND b.damaged IS NULL AND b.added_at >= ?2
               AND EXISTS (SELECT 1 FROM attachments a JOIN messages m ON m.id = a.message
                           WHERE a.blob = b.id AND m.device = ?1 AND m.deleted = 0)
             ORDER BY b.added_at DESC, b.id LIMIT ?3",
        )?
        .query_map(params![me.0, since, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, chunks) in rows {
        let Some(bid) = BlobId::from_slice(&id) else {
            continue;
        };
        out.push(Deposit {
            id: bid,
            chunks,
            topics: topics_of(c, &id)?,
        });
    }
    Ok(out)
}

/// May `device` be given blob `blob`: is it a current member of a conversation where a message
/// names it? Returns the blob's chunk count if so.
pub fn serves(c: &Connection, device: &DeviceId, blob: &BlobId) -> Result<Option<u32>> {
    Ok(c.prepare_cached(
        "SELECT b.chunks FROM blobs b WHERE b.id = ?1 AND EXISTS (
            SELECT 1 FROM attachments a JOIN messages m ON m.id = a.message
            JOIN members mb ON mb.chat = m.chat
            WHERE a.blob = ?1 AND mb.device = ?2 AND mb.removed_after IS NULL)",
    )?
    .query_row(params![blob.0, device.0], |r| r.get(0))
    .optional()?)
}

/// Is chunk `index` of `blob` here?
pub fn has_chunk(c: &Connection, blob: &BlobId, index: u32) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT EXISTS (SELECT 1 FROM blob_chunks WHERE blob = ?1 AND idx = ?2)")?
            .query_row(params![blob.0, index], |r| r.get(0))?,
    )
}

/// Every blob some message names (what a sweep keeps).
pub fn known(c: &Connection) -> Result<std::collections::HashSet<BlobId>> {
    let mut st = c.prepare_cached("SELECT id FROM blobs")?;
    let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows
        .filter_map(|r| r.ok().and_then(|b| BlobId::from_slice(&b)))
        .collect())
}
