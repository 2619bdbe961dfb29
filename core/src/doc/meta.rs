//! The meta document of a conversation: title and members, shared by all members.
//!
//! ```text
//! meta:    { title: string }
//! members: { <account hex>: bytes (postcard MemberRecord) }
//! ```
//!
//! A member record is replaced whole, so concurrent changes resolve last-writer-wins per
//! member, deterministically on every device. Removal keeps the record with the cut: the last
//! seq of each of the member's devices that is still accepted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yrs::{Any, Doc, Map, Out, ReadTxn, Transact};

use crate::identity::DeviceBundle;
use crate::ids::{AccountId, DeviceId};
use crate::wire;

const META: &str = "meta";
const MEMBERS: &str = "members";
const MAX_RECORD_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub name: String,
    pub bundles: Vec<DeviceBundle>,
    /// Set when removed (or left): per device, the last seq still accepted.
    pub removed: Option<BTreeMap<DeviceId, u64>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaState {
    pub title: String,
    pub members: BTreeMap<AccountId, MemberRecord>,
}

pub fn set_title(doc: &Doc, title: &str) -> Vec<u8> {
    let meta = doc.get_or_insert_map(META);
    let mut txn = doc.transact_mut();
    meta.insert(&mut txn, "title", title);
    txn.encode_update_v1()
}

pub fn set_member(doc: &Doc, account: &AccountId, record: &MemberRecord) -> Vec<u8> {
    let members = doc.get_or_insert_map(MEMBERS);
    let mut txn = doc.transact_mut();
    members.insert(
        &mut txn,
        account.to_string(),
        Any::from(wire::encode(record)),
    );
    txn.encode_update_v1()
}

/// Reads the state; records that do not decode or whose bundles do not verify are ignored.
pub fn read(doc: &Doc) -> MetaState {
    let meta = doc.get_or_insert_map(META);
    let members = doc.get_or_insert_map(MEMBERS);
    let txn = doc.transact();
    let title = match meta.get(&txn, "title") {
        Some(Out::Any(Any::String(s))) => s.to_string(),
        _ => String::new(),
    };
    let mut out = BTreeMap::new();
    for (k, v) in members.iter(&txn) {
        let Ok(account) = k.parse::<AccountId>() else {
            continue;
        };
        let Out::Any(Any::Buffer(bytes)) = v else {
            continue;
        };
        let Ok(rec) = wire::decode::<MemberRecord>(&bytes, MAX_RECORD_BYTES) else {
            continue;
        };
        if rec
            .bundles
            .iter()
            .all(|b| b.account == account && b.verify())
        {
            out.insert(account, rec);
        }
    }
    let _ = txn.state_vector();
    MetaState {
        title,
        members: out,
    }
}
