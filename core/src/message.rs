//! Messages as the user sees them (read side): pages of history and search, from the
//! projection tables. Writing is in `engine::local`.

use std::fmt;

use rusqlite::{params, Connection, Row};
use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::ids::{AccountId, ChatId, MessageId};
use crate::search;

/// What a message is (a text, or an "I'm safe" check-in): fixed in its document.
pub use crate::doc::segment::Kind;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
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
    pub kind: Kind,
    /// (account, emoji), sorted by account.
    pub reactions: Vec<(AccountId, String)>,
    /// For my own messages, the delivery state.
    pub status: Option<DeliveryState>,
    /// For my own messages: the state per member (account, state).
    pub receipts: Vec<(AccountId, MemberState)>,
    /// For my own messages not yet on every member's device: the public mailbox relays
    /// (Nostr, `wss://…`) that acknowledged holding it, where it waits.
    pub mailboxes: Vec<String>,
    /// A photo, voice message or file, with how much of it is here.
    pub attachment: Option<crate::blob::store::Attachment>,
    #[serde(skip)]
    seq: u64,
}

const COLUMNS: &str =
    "m.id, m.chat, m.author, m.sent_at, m.body, m.reply_to, m.edited_at, m.deleted,
    COALESCE(k.nickname, k.name, (SELECT mb.name FROM members mb
        WHERE mb.chat = m.chat AND mb.account = m.author AND mb.name != '' LIMIT 1)),
    m.seq, m.kind";

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
        kind: Kind::parse(&r.get::<_, String>(10)?),
        reactions: Vec::new(),
        status: None,
        receipts: Vec::new(),
        mailboxes: Vec::new(),
        attachment: None,
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
    let in_mailbox: u64 = conn
        .prepare_cached(
            "SELECT COALESCE(MAX(h.held), 0) FROM mailbox_held h
             JOIN topics t ON t.topic = h.topic WHERE t.chat = ?1 AND t.kind = 'chat'",
        )?
        .query_row([chat.as_bytes()], |r| r.get::<_, i64>(0))? as u64;
    let nostr: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT h.relay, h.held FROM nostr_held h
             JOIN topics t ON t.topic = h.topic WHERE t.chat = ?1 AND t.kind = 'chat'
             ORDER BY h.relay",
        )?
        .query_map([chat.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for m in msgs.iter_mut().filter(|m| m.mine && m.chat == chat) {
        let mut states = Vec::with_capacity(members.len());
        for (account, delivered, read_at) in &members {
            let has_it = *delivered as u64 >= m.seq;
            // A read mark covers only what the member's device has: their read time may be
            // later than a message still queued here (skewed clocks, a third member).
            let state = if has_it && *read_at as u64 >= m.sent_at {
                MemberState::Read
            } else if has_it {
                MemberState::Delivered
            } else {
                MemberState::Queued
            };
            states.push(state);
            if let Some(a) = AccountId::from_slice(account) {
                m.receipts.push((a, state));
            }
        }
        let mut state = DeliveryState::of(&states);
        if state < DeliveryState::Delivered && in_mailbox >= m.seq {
            state = DeliveryState::InMailbox;
        }
        if state < DeliveryState::Delivered {
            m.mailboxes = nostr
                .iter()
                .filter(|(_, held)| *held as u64 >= m.seq)
                .map(|(r, _)| r.clone())
                .collect();
        }
        m.status = Some(state);
    }
    Ok(())
}

/// Where one member's devices are with one of my messages, from their receipts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    Queued,
    Delivered,
    Read,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Queued => "queued",
            MemberState::Delivered => "delivered",
            MemberState::Read => "read",
        }
    }
}

/// Where one of my messages is, as the sender sees it. In order of progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Stored on this device only, waiting for a path to anyone.
    Queued,
    /// On at least one other device (a member's, which carries it on), not yet on everyone's.
    HandedOn,
    /// Held by a mailbox (on a relay) for the members who are offline; not yet on everyone's
    /// device.
    InMailbox,
    /// On every member's device.
    Delivered,
    /// Read by every member.
    Read,
}

impl DeliveryState {
    /// The message's state from each member's: it is only as far as the furthest-behind
    /// member, but it has left this device once anyone has it.
    pub fn of(members: &[MemberState]) -> DeliveryState {
        let Some(worst) = members.iter().min() else {
            return DeliveryState::Queued;
        };
        match worst {
            MemberState::Read => DeliveryState::Read,
            MemberState::Delivered => DeliveryState::Delivered,
            MemberState::Queued if members.iter().any(|s| *s > MemberState::Queued) => {
                DeliveryState::HandedOn
            }
            MemberState::Queued => DeliveryState::Queued,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::HandedOn => "handed_on",
            DeliveryState::InMailbox => "in_mailbox",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

fn fill_reactions(conn: &Connection, msgs: &mut [Message]) -> Result<()> {
    fill_status(conn, msgs)?;
    for m in msgs.iter_mut().filter(|m| !m.deleted) {
        m.attachment = crate::blob::store::of_message(conn, &m.id)?;
    }
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

#[cfg(test)]
mod tests {
    use super::{DeliveryState as D, MemberState as M};

    #[test]
    fn a_message_is_as_far_as_its_furthest_behind_member() {
        assert_eq!(D::of(&[]), D::Queued);
        assert_eq!(D::of(&[M::Queued, M::Queued]), D::Queued);
        assert_eq!(D::of(&[M::Queued, M::Delivered]), D::HandedOn);
        assert_eq!(D::of(&[M::Read, M::Queued]), D::HandedOn);
        assert_eq!(D::of(&[M::Read, M::Delivered]), D::Delivered);
        assert_eq!(D::of(&[M::Read, M::Read]), D::Read);
    }
}
