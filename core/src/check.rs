//! Consistency checks: SQLite's integrity check, and that every message document agrees with
//! the projection the UI reads. Crash tests run this after killing a process mid-write.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::doc::{self, segment};
use crate::error::Result;
use crate::ids::MessageId;
use crate::storage;

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub integrity: String,
    pub documents: usize,
    pub messages: usize,
    /// Every disagreement found; empty when all is well.
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.integrity == "ok" && self.problems.is_empty()
    }
}

pub fn run(c: &Connection) -> Result<Report> {
    let mut report = Report {
        integrity: "ok".into(),
        ..Default::default()
    };
    if let Err(e) = storage::integrity_check(c) {
        report.integrity = e.to_string();
    }
    let mut st = c.prepare(
        "SELECT d.doc_id, ch.chat, d.owner, d.segment FROM docs d JOIN chats ch ON ch.topic = d.topic
         WHERE d.segment >= 0",
    )?;
    let docs: Vec<(i64, Vec<u8>, Vec<u8>, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut seen: BTreeMap<(Vec<u8>, Vec<u8>, i64), usize> = BTreeMap::new();
    for (doc_id, chat, owner, seg) in docs {
        report.documents += 1;
        let snapshot: Vec<u8> = c.query_row(
            "SELECT snapshot FROM docs WHERE doc_id = ?1",
            [doc_id],
            |r| r.get(0),
        )?;
        let mut us =
            c.prepare_cached("SELECT body FROM doc_updates WHERE doc_id = ?1 ORDER BY n")?;
        let updates: Vec<Vec<u8>> = us
            .query_map([doc_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let d = match doc::load(u64::MAX >> 40, &snapshot, &updates) {
            Ok(d) => d,
            Err(e) => {
                report
                    .problems
                    .push(format!("document {doc_id} does not load: {e}"));
                continue;
            }
        };
        let ids: Vec<MessageId> = segment::message_ids(&d);
        let mut owned = 0;
        for id in ids {
            let Some(f) = segment::read(&d, &id) else {
                continue;
            };
            let Some(owner_account) = crate::ids::AccountId::from_slice(&owner) else {
                continue;
            };
            if !f.id_is_owned_by(&id, &owner_account) {
                continue; // never projected, by rule
            }
            let row: Option<(String, i64, Option<i64>, bool, Vec<u8>)> = c
                .query_row(
                    "SELECT body, sent_at, edited_at, deleted, author FROM messages WHERE id = ?1",
                    [id.as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .ok();
            match row {
                None => report.problems.push(format!(
                    "message {id} is in a document but not in the projection"
                )),
                // An id already owned by another author is ignored by the projection, by rule.
                Some((.., author)) if author != owner => {}
                Some((body, sent_at, edited_at, deleted, author)) => {
                    report.messages += 1;
                    owned += 1;
                    let same = body == f.body
                        // The projection holds back times far in the future (never later ones).
                        && sent_at as u64 <= f.sent_at
                        && edited_at.map(|v| v as u64) == f.edited_at
                        && deleted == f.deleted
                        && author == owner;
                    if !same {
                        report.problems.push(format!(
                            "message {id} differs between document and projection"
                        ));
                    }
                }
            }
        }
        *seen.entry((chat.clone(), owner.clone(), seg)).or_default() += owned;
    }
    let mut st = c.prepare(
        "SELECT chat, author, segment, COUNT(*) FROM messages GROUP BY chat, author, segment",
    )?;
    let counts: Vec<(Vec<u8>, Vec<u8>, i64, i64)> = st
        .query_map(params![], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (chat, author, seg, n) in counts {
        let in_docs = seen.get(&(chat, author, seg)).copied().unwrap_or(0);
        if in_docs != n as usize {
            report.problems.push(format!(
                "segment {seg}: {n} projected messages but {in_docs} in documents"
            ));
        }
    }
    Ok(report)
}
