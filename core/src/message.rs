//! Messages as the user sees them (read side): pages of history and search, from the
//! projection tables. Writing is in `engine::local`.

use rusqlite::{params, Connection, Row};
use serde::Serialize;

use crate::error::Result;
use crate::ids::{AccountId, ChatId, MessageId};
use crate::search;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub chat: ChatId,
    pub author: AccountId,
    pub author_name: String,
    pub mine: bool,
    /// Hybrid-logical-clock time; `sent_at_ms` is its wall-clock part.
    pub sent_at: u64,
    pub sent_at_ms: u64,
    pub body: String,
    pub reply_to: Option<MessageId>,
    pub edited_at: Option<u64>,
    pub deleted: bool,
    /// (account, emoji), sorted by account.
    pub reactions: Vec<(AccountId, String)>,
    /// For my own messages: "sent" (stored on this device, on its way), "delivered" (on every
    /// member's device), "read" (read by every member).
    pub status: Option<String>,
    /// For my own messages: the state per member (account, sent|delivered|read).
    pub receipts: Vec<(AccountId, String)>,
    #[serde(skip)]
    seq: u64,
}

const COLUMNS: &str =
    "m.id, m.chat, m.author, m.sent_at, m.body, m.reply_to, m.edited_at, m.deleted,
    COALESCE(k.nickname, k.name), m.seq";

fn from_row(me: &AccountId, my_name: &str, r: &Row) -> rusqlite::Result<Message> {
    let author = AccountId::from_slice(&r.get::<_, Vec<u8>>(2)?).unwrap_or(AccountId([0; 32]));
    let mine = author == *me;
    let sent_at = r.get::<_, i64>(3)? as u64;
    Ok(Message {
        id: MessageId::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or(MessageId([0; 16])),
        chat: ChatId::from_slice(&r.get::<_, Vec<u8>>(1)?).unwrap_or(ChatId([0; 16])),
        author,
        author_name: if mine {
            my_name.to_string()
        } else {
            r.get::<_, Option<String>>(8)?.unwrap_or_default()
        },
        mine,
        sent_at,
        sent_at_ms: crate::clock::hlc_millis(sent_at),
        body: r.get(4)?,
        reply_to: r
            .get::<_, Option<Vec<u8>>>(5)?
            .and_then(|b| MessageId::from_slice(&b)),
        edited_at: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        deleted: r.get(7)?,
        reactions: Vec::new(),
        status: None,
        receipts: Vec::new(),
        seq: r.get::<_, i64>(9)? as u64,
    })
}

/// Delivery states of my own messages, from the members' receipts.
fn fill_status(conn: &Connection, msgs: &mut [Message]) -> Result<()> {
    let Some(first) = msgs.iter().find(|m| m.mine) else {
        return Ok(());
    };
    let chat = first.chat;
    let my_device: Vec<u8> =
        conn.query_row("SELECT device FROM identity WHERE id = 1", [], |r| r.get(0))?;
    let mut st = conn.prepare_cached(
        "SELECT m.account, COALESCE(r.delivered, 0), COALESCE(k.read_at, 0) FROM members m
         LEFT JOIN receipts r ON r.chat = m.chat AND r.reporter = m.device AND r.author = ?2
         LEFT JOIN read_marks k ON k.chat = m.chat AND k.reporter = m.device
         WHERE m.chat = ?1 AND m.removed_after IS NULL AND m.device != ?2",
    )?;
    let members: Vec<(Vec<u8>, i64, i64)> = st
        .query_map(params![chat.as_bytes(), my_device], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for m in msgs.iter_mut().filter(|m| m.mine && m.chat == chat) {
        let mut worst = 2;
        for (account, delivered, read_at) in &members {
            let state = if *read_at as u64 >= m.sent_at {
                2
            } else if *delivered as u64 >= m.seq {
                1
            } else {
                0
            };
            worst = worst.min(state);
            let name = ["sent", "delivered", "read"][state];
            if let Some(a) = AccountId::from_slice(account) {
                m.receipts.push((a, name.to_string()));
            }
        }
        m.status = Some(
            ["sent", "delivered", "read"][if members.is_empty() { 0 } else { worst }].to_string(),
        );
    }
    Ok(())
}

fn fill_reactions(conn: &Connection, msgs: &mut [Message]) -> Result<()> {
    fill_status(conn, msgs)?;
    let mut st = conn.prepare_cached(
        "SELECT account, emoji FROM reactions WHERE message = ?1 ORDER BY account",
    )?;
    for m in msgs {
        let rows = st.query_map([m.id.as_bytes()], |r| {
            Ok((
                AccountId::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or(AccountId([0; 32])),
                r.get::<_, String>(1)?,
            ))
        })?;
        m.reactions = rows.collect::<rusqlite::Result<_>>()?;
    }
    Ok(())
}

/// The latest `limit` messages of a chat before `before` (an HLC time), oldest first.
pub fn page(
    conn: &Connection,
    me: &AccountId,
    my_name: &str,
    chat: &ChatId,
    limit: usize,
    before: Option<u64>,
) -> Result<Vec<Message>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages m LEFT JOIN contacts k ON k.account = m.author
         WHERE m.chat = ?1 AND m.sent_at < ?2 ORDER BY m.sent_at DESC, m.id DESC LIMIT ?3"
    ))?;
    let before = before.map(|b| b as i64).unwrap_or(i64::MAX);
    let rows = st.query_map(params![chat.as_bytes(), before, limit as i64], |r| {
        from_row(me, my_name, r)
    })?;
    let mut msgs: Vec<Message> = rows.collect::<rusqlite::Result<_>>()?;
    msgs.reverse();
    fill_reactions(conn, &mut msgs)?;
    Ok(msgs)
}

pub fn get(
    conn: &Connection,
    me: &AccountId,
    my_name: &str,
    id: &MessageId,
) -> Result<Option<Message>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages m LEFT JOIN contacts k ON k.account = m.author WHERE m.id = ?1"
    ))?;
    let mut msgs: Vec<Message> = st
        .query_map([id.as_bytes()], |r| from_row(me, my_name, r))?
        .collect::<rusqlite::Result<_>>()?;
    fill_reactions(conn, &mut msgs)?;
    Ok(msgs.pop())
}

/// Every message of a chat, oldest first (exports).
pub fn all(
    conn: &Connection,
    me: &AccountId,
    my_name: &str,
    chat: &ChatId,
) -> Result<Vec<Message>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages m LEFT JOIN contacts k ON k.account = m.author
         WHERE m.chat = ?1 ORDER BY m.sent_at, m.id"
    ))?;
    let mut msgs: Vec<Message> = st
        .query_map([chat.as_bytes()], |r| from_row(me, my_name, r))?
        .collect::<rusqlite::Result<_>>()?;
    fill_reactions(conn, &mut msgs)?;
    Ok(msgs)
}

/// Full-text search, newest first, optionally within one chat.
pub fn search(
    conn: &Connection,
    me: &AccountId,
    my_name: &str,
    query: &str,
    chat: Option<&ChatId>,
    limit: usize,
) -> Result<Vec<Message>> {
    let Some(q) = search::match_query(query) else {
        return Ok(Vec::new());
    };
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages_fts f JOIN messages m ON m.rowid = f.rowid
         LEFT JOIN contacts k ON k.account = m.author
         WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR m.chat = ?2) AND m.deleted = 0
         ORDER BY m.sent_at DESC LIMIT ?3"
    ))?;
    let chat = chat.map(|c| c.0.to_vec());
    let rows = st.query_map(params![q, chat, limit as i64], |r| from_row(me, my_name, r))?;
    let mut msgs: Vec<Message> = rows.collect::<rusqlite::Result<_>>()?;
    fill_reactions(conn, &mut msgs)?;
    Ok(msgs)
}
