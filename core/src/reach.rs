//! Reachability as the user sees it: for every contact, the best current path to any of their
//! devices (LAN, direct, relayed, via another member, mailbox only, none) and when they were last seen.

use std::fmt;

use rusqlite::Connection;
use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::ids::{AccountId, DeviceId};
use crate::net::{self, Status};

#[derive(Clone, Debug, Serialize)]
pub struct Reach {
    pub account: AccountId,
    pub name: String,
    pub path: Path,
    /// For mesh: the member whose device carries the messages.
    pub via: Option<String>,
    /// Relayed through a stranger's relay found on the public network (still end-to-end
    /// encrypted), not the family's own.
    pub public_relay: bool,
    /// Unix milliseconds; 0 if never seen.
    pub last_seen_ms: u64,
    /// The contact's devices.
    pub devices: Vec<DeviceId>,
}

pub fn compute(c: &Connection, status: Option<&Status>) -> Result<Vec<Reach>> {
    let mut st = c.prepare_cached(
        "SELECT k.account, COALESCE(k.nickname, k.name), d.device, COALESCE(p.last_seen, 0)
         FROM contacts k LEFT JOIN devices d ON d.account = k.account
         LEFT JOIN peers p ON p.device = d.device ORDER BY 2",
    )?;
    let rows: Vec<(Vec<u8>, String, Option<Vec<u8>>, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let name_of_device = |d: &DeviceId| -> Option<String> {
        c.query_row(
            "SELECT COALESCE(k.nickname, k.name) FROM devices d JOIN contacts k ON k.account = d.account WHERE d.device = ?1",
            [d.0],
            |r| r.get(0),
        )
        .ok()
    };
    let mut out: Vec<Reach> = Vec::new();
    for (account, name, device, last_seen) in rows {
        let Some(account) = AccountId::from_slice(&account) else {
            continue;
        };
        let device = device.and_then(|d| DeviceId::from_slice(&d));
        let peer = device.and_then(|d| status.and_then(|s| s.peers.iter().find(|p| p.device == d)));
        let public_relay = peer.is_some_and(|p| p.public_relay);
        let mut path = peer.map(|p| p.path.clone()).unwrap_or(net::Path::None);
        // Not connected, but a mailbox (the family's, or public ones) keeps its messages.
        if path == net::Path::None
            && device
                .is_some_and(|d| status.is_some_and(|s| s.public_mailboxes || s.mailbox_for(&d)))
        {
            path = net::Path::Mailbox;
        }
        let via = match &path {
            net::Path::Mesh { via } => name_of_device(via).or_else(|| Some(via.to_string())),
            _ => None,
        };
        let path = Path::from(&path);
        let connected = matches!(path, Path::Lan | Path::Direct | Path::Relayed);
        let last_seen = if connected {
            now_ms()
        } else {
            last_seen as u64
        };
        match out.iter_mut().find(|r| r.account == account) {
            Some(r) => {
                r.devices.extend(device);
                if path.rank() > r.path.rank() {
                    r.path = path;
                    r.via = via;
                    r.public_relay = public_relay;
                }
                r.last_seen_ms = r.last_seen_ms.max(last_seen);
            }
            None => out.push(Reach {
                account,
                name,
                path,
                via,
                public_relay,
                last_seen_ms: last_seen,
                devices: device.into_iter().collect(),
            }),
        }
    }
    Ok(out)
}

/// How a contact (or one of their devices) is reached right now, best first: a device's
/// [`net::Path`] without the device that carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    /// A direct connection inside a local network.
    Lan,
    /// A direct connection over the internet (possibly hole-punched through NAT).
    Direct,
    /// A connection through a relay (circuit relay v2).
    Relayed,
    /// Not connected, but a connected member is, and carries messages both ways.
    Mesh,
    /// Not connected to anyone who has it, but a mailbox (on a relay) keeps messages for it:
    /// not a live connection.
    Mailbox,
    None,
}

impl Path {
    pub fn as_str(self) -> &'static str {
        match self {
            Path::Lan => "lan",
            Path::Direct => "direct",
            Path::Relayed => "relayed",
            Path::Mesh => "mesh",
            Path::Mailbox => "mailbox",
            Path::None => "none",
        }
    }

    /// Better paths rank higher: the reachability shown is the best of a contact's devices.
    pub fn rank(self) -> u8 {
        match self {
            Path::Lan => 5,
            Path::Direct => 4,
            Path::Relayed => 3,
            Path::Mesh => 2,
            Path::Mailbox => 1,
            Path::None => 0,
        }
    }
}

impl From<&net::Path> for Path {
    fn from(p: &net::Path) -> Path {
        match p {
            net::Path::Lan => Path::Lan,
            net::Path::Direct => Path::Direct,
            net::Path::Relayed => Path::Relayed,
            net::Path::Mesh { .. } => Path::Mesh,
            net::Path::Mailbox => Path::Mailbox,
            net::Path::None => Path::None,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
