//! The family board as the user sees it: for every contact, whether they can be reached now
//! and how (from `reach`), how many of my messages still wait for their devices, and their
//! latest "I'm safe" check-in.
//!
//! "Waiting" counts from the receipts their devices sent back, so it is what the family can
//! trust: a message counts until their device says it has it.

use rusqlite::{params, Connection};
use serde::Serialize;
use ts_rs::TS;

use crate::clock::hlc_millis;
use crate::error::Result;
use crate::ids::AccountId;
use crate::net::Status;
use crate::reach::Path;

#[derive(Clone, Debug, Serialize, TS)]
pub struct Board {
    /// When I last checked in (Unix milliseconds).
    pub my_check_in_ms: Option<u64>,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(rename = "BoardEntry")]
pub struct Entry {
    pub account: AccountId,
    pub name: String,
    pub path: Path,
    /// For mesh: the member whose device carries the messages.
    pub via: Option<String>,
    /// Relayed through a stranger's relay found on the public network, not the family's.
    pub public_relay: bool,
    /// Unix milliseconds; 0 if never seen.
    pub last_seen_ms: u64,
    /// My messages that none of their devices has confirmed yet.
    pub waiting: u64,
    /// Their latest check-in (Unix milliseconds).
    pub check_in_ms: Option<u64>,
}

pub fn compute(c: &Connection, status: Option<&Status>) -> Result<Board> {
    let (me, my_device): (Vec<u8>, Vec<u8>) = c.query_row(
        "SELECT account, device FROM identity WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut entries = Vec::new();
    for r in crate::reach::compute(c, status)? {
        entries.push(Entry {
            waiting: waiting_for(c, &me, &my_device, &r.account)?,
            check_in_ms: latest_check_in(c, &r.account.0)?,
            account: r.account,
            name: r.name,
            path: r.path,
            via: r.via,
            public_relay: r.public_relay,
            last_seen_ms: r.last_seen_ms,
        });
    }
    Ok(Board {
        my_check_in_ms: latest_check_in(c, &me)?,
        entries,
    })
}

/// My messages (?2 account, ?3 device) in the conversations I share with ?1 that no device of
/// theirs has confirmed. Uses `messages_by_device`.
const WAITING: &str = "SELECT COUNT(*) FROM messages m
    JOIN (SELECT mb.chat, MAX(COALESCE(r.delivered, 0)) AS delivered
          FROM members mb
          JOIN chats c ON c.chat = mb.chat AND c.left_chat = 0
          LEFT JOIN receipts r ON r.chat = mb.chat AND r.reporter = mb.device AND r.author = ?3
          WHERE mb.account = ?1 AND mb.removed_after IS NULL
            AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.account = ?1 AND k.blocked)
          GROUP BY mb.chat) s
      ON s.chat = m.chat
    WHERE m.author = ?2 AND m.device = ?3 AND m.seq > s.delivered";

/// My messages in the conversations we share that no device of theirs has confirmed.
fn waiting_for(c: &Connection, me: &[u8], my_device: &[u8], them: &AccountId) -> Result<u64> {
    let n: i64 = c
        .prepare_cached(WAITING)?
        .query_row(params![them.0, me, my_device], |r| r.get(0))?;
    Ok(n as u64)
}

fn latest_check_in(c: &Connection, account: &[u8]) -> Result<Option<u64>> {
    let at: Option<i64> = c
        .prepare_cached(
            "SELECT MAX(sent_at) FROM messages WHERE author = ?1 AND kind = 'check_in' AND deleted = 0",
        )?
        .query_row([account], |r| r.get(0))?;
    Ok(at.map(|t| hlc_millis(t as u64)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn waiting_uses_the_device_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::storage::open_writer(&dir.path().join("db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::WAITING))
            .unwrap()
            .query_map([vec![1u8], vec![2], vec![3]], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("messages_by_device")),
            "{plan:?}"
        );
    }
}
