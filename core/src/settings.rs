//! Settings chosen by the person using this device, kept in the database so the app, the CLI
//! and a restarted node all agree: LAN-only mode, the family's relays, whether this device
//! serves as a relay for its family, and whether it uses the public network to find family.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Settings {
    /// Make no connection outside local networks.
    pub lan_only: bool,
    /// Relay peers as multiaddrs (with `/p2p/<id>`).
    pub relays: Vec<String>,
    /// Serve as a relay and mailbox for the family (port 4001; the device must stay on and be
    /// reachable).
    pub relay_for_family: bool,
    /// "Find family through the public internet": the public IPFS/libp2p network (its DHT and
    /// public relays), on unless turned off. Public nodes then see this device's IP address
    /// and that it looks for someone, never who or what it says.
    pub public_network: bool,
    /// "Leave messages in public mailboxes": envelopes for family not reached directly wait on
    /// public Nostr relays (`crate::nostr`), sealed under throwaway keys. On unless turned off.
    pub nostr: bool,
    /// The Nostr relays used as mailboxes (`wss://…`): the bundled list unless edited.
    pub nostr_relays: Vec<String>,
    /// Download photos and voice messages by themselves over every connection. Off: only over
    /// the LAN; elsewhere (relays, the internet, a phone's data plan) when tapped.
    pub fetch_media_everywhere: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lan_only: false,
            relays: Vec::new(),
            relay_for_family: false,
            public_network: true,
            nostr: true,
            nostr_relays: crate::nostr::DEFAULT_RELAYS
                .iter()
                .map(|r| r.to_string())
                .collect(),
            fetch_media_everywhere: false,
        }
    }
}

/// Longest relay list: a family needs two or three; this bounds a pasted mistake.
pub const MAX_RELAYS: usize = 16;

pub const LAN_ONLY: &str = "lan_only";
pub const RELAYS: &str = "relays";
pub const RELAY_FOR_FAMILY: &str = "relay_for_family";
pub const PUBLIC_NETWORK: &str = "public_network";
pub const NOSTR: &str = "nostr";
pub const NOSTR_RELAYS: &str = "nostr_relays";
pub const FETCH_MEDIA_EVERYWHERE: &str = "fetch_media_everywhere";

pub fn read(c: &Connection) -> Result<Settings> {
    let get = |key: &str| -> Result<Option<String>> {
        Ok(
            c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?,
        )
    };
    let corrupt = |key: &str| Error::Corrupt(format!("setting {key}"));
    let mut s = Settings::default();
    if let Some(v) = get(LAN_ONLY)? {
        s.lan_only = serde_json::from_str(&v).map_err(|_| corrupt(LAN_ONLY))?;
    }
    if let Some(v) = get(RELAYS)? {
        s.relays = serde_json::from_str(&v).map_err(|_| corrupt(RELAYS))?;
    }
    if let Some(v) = get(RELAY_FOR_FAMILY)? {
        s.relay_for_family = serde_json::from_str(&v).map_err(|_| corrupt(RELAY_FOR_FAMILY))?;
    }
    if let Some(v) = get(PUBLIC_NETWORK)? {
        s.public_network = serde_json::from_str(&v).map_err(|_| corrupt(PUBLIC_NETWORK))?;
    }
    if let Some(v) = get(NOSTR)? {
        s.nostr = serde_json::from_str(&v).map_err(|_| corrupt(NOSTR))?;
    }
    if let Some(v) = get(NOSTR_RELAYS)? {
        s.nostr_relays = serde_json::from_str(&v).map_err(|_| corrupt(NOSTR_RELAYS))?;
    }
    if let Some(v) = get(FETCH_MEDIA_EVERYWHERE)? {
        s.fetch_media_everywhere =
            serde_json::from_str(&v).map_err(|_| corrupt(FETCH_MEDIA_EVERYWHERE))?;
    }
    Ok(s)
}

/// A list as typed (one entry per line): entries trimmed, blank ones dropped, at most
/// [`MAX_RELAYS`] (`what` names them in the error).
pub fn entries(list: &[String], what: &str) -> Result<Vec<String>> {
    let out: Vec<String> = list
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    if out.len() > MAX_RELAYS {
        return Err(Error::Invalid(format!(
            "at most {MAX_RELAYS} {what} can be set"
        )));
    }
    Ok(out)
}

/// Checks a relay list: each entry must be a network address; blank lines are dropped.
pub fn check_relays(relays: &[String]) -> Result<Vec<String>> {
    let out = entries(relays, "relays")?;
    for r in &out {
        // The relay's peer id is part of its address: a reservation is made with that peer,
        // and only that peer is trusted as the family's mailbox.
        let ok = r
            .parse::<libp2p::Multiaddr>()
            .map(|a| crate::net::addr::relay_peer(&a).is_some())
            .unwrap_or(false);
        if !ok {
            return Err(Error::Invalid(format!(
                "not a relay address: {r} (expected something like /ip4/203.0.113.5/tcp/4001/p2p/12D3…)"
            )));
        }
    }
    Ok(out)
}
