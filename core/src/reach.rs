//! Reachability as the user sees it: for every contact, the best current path to any of their
//! devices (LAN, direct, relayed, via another member, mailbox only, none) and when they were last seen.

use rusqlite::Connection;
use serde::Serialize;

use crate::error::Result;
use crate::ids::{AccountId, DeviceId};
use crate::net::{Path, Status};

#[derive(Clone, Debug, Serialize)]
pub struct Reach {
    pub account: AccountId,
    pub name: String,
    /// lan, direct, relayed, mesh, mailbox or none.
    pub path: String,
    /// For mesh: the member whose device carries the messages.
    pub via: Option<String>,
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
        let path = device
            .and_then(|d| {
                status
                    .and_then(|s| s.peers.iter().find(|p| p.device == d))
                    .map(|p| p.path.clone())
            })
            .unwrap_or(
                if device.is_some_and(|d| status.is_some_and(|s| s.mailbox_for(&d))) {
                    Path::Mailbox
                } else {
                    Path::None
                },
            );
        let via = match &path {
            Path::Mesh { via } => name_of_device(via).or_else(|| Some(via.to_string())),
            _ => None,
        };
        let connected = matches!(path, Path::Lan | Path::Direct | Path::Relayed);
        let last_seen = if connected {
            now_ms()
        } else {
            last_seen as u64
        };
        match out.iter_mut().find(|r| r.account == account) {
            Some(r) => {
                r.devices.extend(device);
                if path.rank() > rank_name(&r.path) {
                    r.path = path.name().into();
                    r.via = via;
                }
                r.last_seen_ms = r.last_seen_ms.max(last_seen);
            }
            None => out.push(Reach {
                account,
                name,
                path: path.name().into(),
                via,
                last_seen_ms: last_seen,
                devices: device.into_iter().collect(),
            }),
        }
    }
    Ok(out)
}

fn rank_name(p: &str) -> u8 {
    match p {
        "lan" => Path::Lan.rank(),
        "direct" => Path::Direct.rank(),
        "relayed" => Path::Relayed.rank(),
        "mesh" => 2,
        "mailbox" => Path::Mailbox.rank(),
        _ => 0,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
