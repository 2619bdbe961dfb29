//! Conversations as the user sees them (read side): the chat list and members.
//!
//! The chat list reads only projection tables (never a CRDT document), using the
//! `chats_by_last` and `messages_by_chat` indexes, so it opens fast with a million messages.

use rusqlite::{params, Connection};
use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::ids::{AccountId, ChatId, MessageId};
use crate::message;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Chat {
    pub chat: ChatId,
    pub kind: Kind,
    pub title: String,
    pub unread: u64,
    pub last_at: u64,
    /// `last_at` as Unix milliseconds, for display (HLC values exceed JavaScript's safe integers).
    pub last_at_ms: u64,
    pub last_message: Option<LastMessage>,
    /// False once this device left or was removed.
    pub active: bool,
    /// For 1:1 conversations: the other person.
    pub peer: Option<AccountId>,
    /// Messages whose sender key never arrived although the sender's later keys did (see
    /// `engine::ingest`); they are tried again if the key comes. Messages from before this
    /// device joined are not counted: nobody was meant to share those keys with it.
    pub undecryptable: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct LastMessage {
    pub id: MessageId,
    pub author: AccountId,
    pub preview: String,
    pub deleted: bool,
    pub kind: message::Kind,
    /// What it carries, if anything: the UI words it ("📷 Photo") when there is no caption.
    pub attachment: Option<crate::blob::Kind>,
}

/// A conversation with one contact, or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "ChatKind")]
pub enum Kind {
    Direct,
    Group,
}

impl Kind {
    /// The kind the `chats` table names (it allows only these two).
    fn parse(name: &str) -> Kind {
        match name {
            "group" => Kind::Group,
            _ => Kind::Direct,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Member {
    pub account: AccountId,
    pub name: String,
    pub me: bool,
}

const PREVIEW_CHARS: usize = 80;

pub fn list(conn: &Connection, me: &AccountId) -> Result<Vec<Chat>> {
    let mut st = conn.prepare_cached(
        "SELECT c.chat, c.kind, c.title, c.unread, c.last_at, c.left_chat,
                (SELECT COALESCE(k.nickname, k.name) FROM members m JOIN contacts k ON k.account = m.account
                  WHERE m.chat = c.chat AND m.account != ?1 LIMIT 1),
                (SELECT m.account FROM members m WHERE m.chat = c.chat AND m.account != ?1 LIMIT 1),
                (SELECT COUNT(*) FROM undecryptable u WHERE u.topic = c.topic AND u.key_no >
                  (SELECT MIN(g.key_no) FROM group_in g WHERE g.topic = u.topic AND g.device = u.author))
         FROM chats c ORDER BY c.last_at DESC",
    )?;
    let rows = st.query_map([me.0], |r| {
        let chat = ChatId::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or(ChatId([0; 16]));
        let kind = Kind::parse(&r.get::<_, String>(1)?);
        let title: String = r.get(2)?;
        let peer_name: Option<String> = r.get(6)?;
        let peer: Option<Vec<u8>> = r.get(7)?;
        let direct = kind == Kind::Direct;
        Ok(Chat {
            chat,
            title: if direct {
                peer_name.unwrap_or(title)
            } else {
                title
            },
            kind,
            unread: r.get::<_, i64>(3)? as u64,
            last_at: r.get::<_, i64>(4)? as u64,
            last_at_ms: crate::clock::hlc_millis(r.get::<_, i64>(4)? as u64),
            last_message: None,
            active: r.get::<_, i64>(5)? == 0,
            peer: if direct {
                peer.and_then(|p| AccountId::from_slice(&p))
            } else {
                None
            },
            undecryptable: r.get::<_, i64>(8)? as u64,
        })
    })?;
    let mut chats: Vec<Chat> = rows.collect::<rusqlite::Result<_>>()?;
    let mut last = conn.prepare_cached(
        "SELECT m.id, m.author, m.body, m.deleted, m.kind, a.ref FROM messages m
         LEFT JOIN attachments a ON a.message = m.id
         WHERE m.chat = ?1 ORDER BY m.sent_at DESC, m.id DESC LIMIT 1",
    )?;
    for c in &mut chats {
        let mut rows = last.query(params![c.chat.as_bytes()])?;
        if let Some(r) = rows.next()? {
            let body: String = r.get(2)?;
            c.last_message = Some(LastMessage {
                id: MessageId::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or(MessageId([0; 16])),
                author: AccountId::from_slice(&r.get::<_, Vec<u8>>(1)?)
                    .unwrap_or(AccountId([0; 32])),
                preview: body.chars().take(PREVIEW_CHARS).collect(),
                deleted: r.get(3)?,
                kind: message::Kind::parse(&r.get::<_, String>(4)?),
                attachment: r
                    .get::<_, Option<Vec<u8>>>(5)?
                    .and_then(|a| crate::blob::BlobRef::decode(&a))
                    .map(|a| a.kind),
            });
        }
    }
    Ok(chats)
}

pub fn members(
    conn: &Connection,
    me: &AccountId,
    my_name: &str,
    chat: &ChatId,
) -> Result<Vec<Member>> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT m.account, COALESCE(k.nickname, k.name, m.name) FROM members m
         LEFT JOIN contacts k ON k.account = m.account
         WHERE m.chat = ?1 AND m.removed_after IS NULL ORDER BY 2",
    )?;
    let rows = st.query_map([chat.as_bytes()], |r| {
        let account = AccountId::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or(AccountId([0; 32]));
        let name: String = r.get(1)?;
        Ok((account, name))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (account, name) = row?;
        let mine = account == *me;
        out.push(Member {
            account,
            name: if mine { my_name.to_string() } else { name },
            me: mine,
        });
    }
    Ok(out)
}
