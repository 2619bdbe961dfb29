//! Exports of a conversation that outlive Hearth: JSON for people and scripts, and a Yjs
//! document that any Yjs implementation can load.
//!
//! Both are built from the projection in a fixed order (sent-at, then id) with a fixed client
//! id, so two devices with the same history produce byte-identical exports; the multi-device
//! tests compare them. Per-device state (unread counts, read markers) is left out.

use rusqlite::{Connection, OptionalExtension};
use serde_json::json;
use yrs::{Any, Array, Doc, Map, MapPrelim, ReadTxn, StateVector, Transact};

use crate::error::{Error, Result};
use crate::ids::ChatId;
use crate::message;

/// Client id of export documents: fixed so exports are deterministic.
const EXPORT_CLIENT: u64 = 1;

fn header(c: &Connection, chat: &ChatId) -> Result<(String, String)> {
    c.query_row(
        "SELECT kind, title FROM chats WHERE chat = ?1",
        [chat.as_bytes()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| Error::NotFound("no such conversation".into()))
}

fn members(c: &Connection, chat: &ChatId) -> Result<Vec<String>> {
    let mut st = c.prepare(
        "SELECT DISTINCT hex(account) FROM members WHERE chat = ?1 AND removed_after IS NULL ORDER BY 1",
    )?;
    let rows = st.query_map([chat.as_bytes()], |r| r.get::<_, String>(0))?;
    Ok(rows
        .map(|r| r.map(|s| s.to_lowercase()))
        .collect::<rusqlite::Result<_>>()?)
}

pub fn json(c: &Connection, chat: &ChatId) -> Result<serde_json::Value> {
    let (kind, title) = header(c, chat)?;
    let me = crate::ids::AccountId([0; 32]);
    let msgs = message::all(c, &me, "", chat)?;
    let messages: Vec<serde_json::Value> = msgs
        .iter()
        .map(|m| {
            json!({
                "id": m.id.to_string(),
                "author": m.author.to_string(),
                "sent_at": m.sent_at,
                "body": m.body,
                "reply_to": m.reply_to.map(|r| r.to_string()),
                "edited_at": m.edited_at,
                "deleted": m.deleted,
                "reactions": m.reactions.iter().map(|(a, e)| (a.to_string(), json!(e))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    Ok(json!({
        "chat": chat.to_string(),
        "kind": kind,
        "title": if kind == "group" { title } else { String::new() },
        "members": members(c, chat)?,
        "messages": messages,
    }))
}

/// The conversation as one Yjs v1 update: root map `meta` {chat, kind, title, members} and
/// root array `messages` of maps {id, author, sentAt (ms), hlc, body, replyTo, editedAt,
/// deleted, reactions}.
pub fn yjs(c: &Connection, chat: &ChatId) -> Result<Vec<u8>> {
    let (kind, title) = header(c, chat)?;
    let me = crate::ids::AccountId([0; 32]);
    let msgs = message::all(c, &me, "", chat)?;
    let doc = Doc::with_client_id(EXPORT_CLIENT);
    let meta = doc.get_or_insert_map("meta");
    let list = doc.get_or_insert_array("messages");
    let mut txn = doc.transact_mut();
    meta.insert(&mut txn, "chat", chat.to_string());
    meta.insert(&mut txn, "kind", kind.clone());
    meta.insert(
        &mut txn,
        "title",
        if kind == "group" {
            title
        } else {
            String::new()
        },
    );
    let member_list: Vec<Any> = members(c, chat)?.into_iter().map(Any::from).collect();
    meta.insert(&mut txn, "members", Any::from(member_list));
    for m in &msgs {
        // Fields go in one by one, in a fixed order: a prelim map is a hash map, whose order
        // would make the bytes differ between devices.
        let map = list.push_back(&mut txn, MapPrelim::default());
        map.insert(&mut txn, "id", m.id.to_string());
        map.insert(&mut txn, "author", m.author.to_string());
        map.insert(&mut txn, "sentAt", m.sent_at_ms as f64);
        map.insert(&mut txn, "hlc", m.sent_at.to_string());
        map.insert(&mut txn, "body", m.body.clone());
        map.insert(&mut txn, "deleted", m.deleted);
        if let Some(r) = m.reply_to {
            map.insert(&mut txn, "replyTo", r.to_string());
        }
        if let Some(e) = m.edited_at {
            map.insert(&mut txn, "editedAt", crate::clock::hlc_millis(e) as f64);
        }
        let reactions = map.insert(&mut txn, "reactions", MapPrelim::default());
        for (a, e) in &m.reactions {
            reactions.insert(&mut txn, a.to_string(), e.clone());
        }
    }
    drop(txn);
    let txn = doc.transact();
    Ok(txn.encode_state_as_update_v1(&StateVector::default()))
}
