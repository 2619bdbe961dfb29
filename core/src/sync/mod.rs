//! Sync logic without sockets: version vectors (what a device holds), bundles (envelopes
//! moved through a file), the network protocol's messages ([`protocol`]) and its decisions as a
//! state machine ([`session`]), and the store reads the network needs ([`store`]).

pub mod bundle;
pub mod dirty;
pub mod protocol;
pub mod session;
pub mod store;

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{DeviceId, TopicId};

/// Per topic, per author device: the highest contiguous seq held.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionVectors(pub BTreeMap<TopicId, BTreeMap<DeviceId, u64>>);

impl VersionVectors {
    pub fn get(&self, topic: &TopicId, author: &DeviceId) -> u64 {
        self.0
            .get(topic)
            .and_then(|v| v.get(author))
            .copied()
            .unwrap_or(0)
    }
}

/// What this device holds, for every topic it syncs.
pub fn version_vectors(conn: &Connection) -> Result<VersionVectors> {
    let mut st = conn.prepare_cached("SELECT topic, author, held FROM heads WHERE held > 0")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = VersionVectors::default();
    for row in rows {
        let (t, a, held) = row?;
        if let (Some(t), Some(a)) = (TopicId::from_slice(&t), DeviceId::from_slice(&a)) {
            out.0.entry(t).or_default().insert(a, held as u64);
        }
    }
    Ok(out)
}
