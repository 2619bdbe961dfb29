//! Contacts as the user sees them (read side). The handshake itself is in `engine::contacts`.

use std::fmt;

use rusqlite::{Connection, Row};
use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::identity::safety_number;
use crate::ids::{AccountId, ChatId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Contact {
    pub account: AccountId,
    /// The nickname we gave them, or else their own name.
    pub name: String,
    pub own_name: String,
    pub state: State,
    /// Why the inviter's device refused our request, as a sentence.
    pub refused: Option<String>,
    pub verified: bool,
    pub blocked: bool,
    pub safety_number: String,
    pub chat: Option<ChatId>,
    /// One of their devices sent two different envelopes under one number: it is forked or
    /// its keys were copied. The first is kept; the person should check their devices.
    pub equivocated: bool,
}

fn from_row(me: &AccountId, r: &Row) -> rusqlite::Result<Contact> {
    let account = AccountId::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or(AccountId([0; 32]));
    let own_name: String = r.get(1)?;
    let nickname: Option<String> = r.get(2)?;
    let refused: Option<String> = r.get(7)?;
    // The table knows pending and connected; a refusal is a pending request with a reason.
    let state = match r.get::<_, String>(3)?.as_str() {
        "connected" => State::Connected,
        _ if refused.is_some() => State::Refused,
        _ => State::Pending,
    };
    Ok(Contact {
        account,
        name: nickname.unwrap_or_else(|| own_name.clone()),
        own_name,
        state,
        refused,
        verified: r.get(4)?,
        blocked: r.get(5)?,
        safety_number: safety_number(me, &account),
        chat: r
            .get::<_, Option<Vec<u8>>>(6)?
            .and_then(|c| ChatId::from_slice(&c)),
        equivocated: r.get(8)?,
    })
}

/// Where a contact is in the invite handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "ContactState")]
pub enum State {
    /// Until the other side confirms.
    Pending,
    Connected,
    /// The inviter's device refused the request (see `Contact::refused`).
    Refused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Connected => "connected",
            State::Refused => "refused",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

const COLUMNS: &str = "account, name, nickname, state, verified, blocked, chat, refused,
    EXISTS (SELECT 1 FROM equivocations q JOIN devices d ON d.device = q.author
            WHERE d.account = contacts.account)";

pub fn list(conn: &Connection, me: &AccountId) -> Result<Vec<Contact>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts ORDER BY COALESCE(nickname, name) COLLATE NOCASE"
    ))?;
    let rows = st.query_map([], |r| from_row(me, r))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Finds a contact by account id (or a unique prefix of it) or by name.
pub fn find(conn: &Connection, me: &AccountId, query: &str) -> Result<Option<Contact>> {
    let all = list(conn, me)?;
    let q = query.trim();
    let by_id: Vec<&Contact> = all
        .iter()
        .filter(|c| c.account.to_string().starts_with(&q.to_lowercase()))
        .collect();
    if q.len() >= 6 && by_id.len() == 1 {
        return Ok(Some(by_id[0].clone()));
    }
    let by_name: Vec<&Contact> = all
        .iter()
        .filter(|c| c.name.eq_ignore_ascii_case(q) || c.own_name.eq_ignore_ascii_case(q))
        .collect();
    Ok(if by_name.len() == 1 {
        Some(by_name[0].clone())
    } else {
        None
    })
}
