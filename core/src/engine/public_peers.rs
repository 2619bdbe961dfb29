//! Public network peers remembered between starts ([`crate::net::public`]): the newest
//! [`REMEMBERED_PEERS`], so a device restarted after the bootstrap peers went away still finds
//! the DHT and public relays.

use rusqlite::{params, Connection};

use super::Engine;
use crate::error::Result;
use crate::net::public::{ADDRS_PER_PEER, REMEMBERED_PEERS};

/// A remembered public peer: its id, public addresses, and whether it offered relay service.
pub type PublicPeer = (String, Vec<String>, bool);

impl Engine {
    pub fn remember_public_peer(
        &mut self,
        peer: &str,
        addrs: &[String],
        relay: bool,
    ) -> Result<()> {
        let addrs: Vec<&String> = addrs.iter().take(ADDRS_PER_PEER).collect();
        self.exec(
            "INSERT INTO public_peers (peer, addrs, relay, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (peer) DO UPDATE SET addrs = ?2, relay = ?3, seen_at = ?4",
            params![
                peer,
                serde_json::to_string(&addrs).unwrap_or_else(|_| "[]".into()),
                relay,
                self.hlc.wall_ms() as i64
            ],
        )?;
        self.exec(
            "DELETE FROM public_peers WHERE peer NOT IN
             (SELECT peer FROM public_peers ORDER BY seen_at DESC LIMIT ?1)",
            [REMEMBERED_PEERS as i64],
        )?;
        Ok(())
    }
}

/// The remembered public peers, newest first.
pub fn public_peers(c: &Connection) -> Result<Vec<PublicPeer>> {
    let mut st = c.prepare_cached(
        "SELECT peer, addrs, relay FROM public_peers ORDER BY seen_at DESC LIMIT ?1",
    )?;
    let rows = st.query_map([REMEMBERED_PEERS as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (peer, addrs, relay) = row?;
        let addrs: Vec<String> = serde_json::from_str(&addrs).unwrap_or_default();
        out.push((peer, addrs, relay));
    }
    Ok(out)
}
