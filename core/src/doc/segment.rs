//! A message segment: one account's messages (root map `m`) and reactions (root map `x`).
//!
//! ```text
//! m: { <message id hex>: { t: sent-at HLC, b: body, r: reply-to id hex, e: edited-at, d: deleted,
//!                          k: kind ("c" = an "I'm safe" check-in; absent = text),
//!                          n: nonce hex (the id is MessageId::derive(owner, n)),
//!                          a: attachment (blob::BlobRef, encoded; fixed when sent) } }
//! x: { <message id hex>: emoji }      -- this account's reaction to any message
//! ```
//!
//! Deleting for everyone sets `d` and removes the body, so the text is garbage-collected from
//! the document rather than hidden.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use ts_rs::TS;
use yrs::any::Number;
use yrs::types::{Event, PathSegment};
use yrs::{Any, DeepObservable, Doc, Map, MapPrelim, MapRef, Out, Transact, TransactionMut};

use super::Error;
use crate::ids::MessageId;

/// Messages per segment: a segment stays a few hundred KiB at most.
pub const SEGMENT_MESSAGES: i64 = 1000;

const MESSAGES: &str = "m";
const REACTIONS: &str = "x";

/// What an applied update changed, collected by observers.
#[derive(Default, Debug)]
pub struct Changes {
    pub messages: BTreeSet<MessageId>,
    pub reactions: BTreeSet<MessageId>,
}

/// The fields of a message as stored in its author's segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub sent_at: u64,
    pub body: String,
    pub reply_to: Option<MessageId>,
    pub edited_at: Option<u64>,
    pub deleted: bool,
    pub kind: Kind,
    /// What the id was derived from with the owner's account ([`MessageId::derive`]).
    pub nonce: Option<[u8; 16]>,
    /// A photo, voice message or file; None when absent or unreadable (the message is then
    /// shown without it).
    pub attachment: Option<crate::blob::BlobRef>,
}

impl Fields {
    /// Is `id` the id this message's owner could have given it?
    pub fn id_is_owned_by(&self, id: &MessageId, owner: &crate::ids::AccountId) -> bool {
        self.nonce
            .is_some_and(|n| MessageId::derive(owner, &n) == *id)
    }
}

/// What a message is. Fixed when it is sent; an edit changes only the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "MessageKind")]
pub enum Kind {
    #[default]
    Text,
    /// "I'm safe": shown as a card in the chat and at the top of the family board.
    CheckIn,
}

impl Kind {
    /// The name used in the projection and in the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::CheckIn => "check_in",
        }
    }

    /// The kind a projection row names; a name this version does not know reads as text, as
    /// in the document.
    pub fn parse(name: &str) -> Kind {
        match name {
            "check_in" => Kind::CheckIn,
            _ => Kind::Text,
        }
    }
}

/// Installs observers that record which messages and reactions change.
pub fn observe(doc: &Doc) -> Arc<Mutex<Changes>> {
    let changes = Arc::new(Mutex::new(Changes::default()));
    let m = doc.get_or_insert_map(MESSAGES);
    let c = changes.clone();
    m.observe_deep("projection", move |txn, events| {
        let Ok(mut ch) = c.lock() else { return };
        for e in events.iter() {
            let path = e.path();
            if let Some(PathSegment::Key(k)) = path.front() {
                if let Ok(id) = k.parse() {
                    ch.messages.insert(id);
                }
            } else if let Event::Map(me) = e {
                for k in me.keys(txn).keys() {
                    if let Ok(id) = k.parse() {
                        ch.messages.insert(id);
                    }
                }
            }
        }
    });
    let x = doc.get_or_insert_map(REACTIONS);
    let c = changes.clone();
    x.observe_deep("projection", move |txn, events| {
        let Ok(mut ch) = c.lock() else { return };
        for e in events.iter() {
            if let Event::Map(me) = e {
                for k in me.keys(txn).keys() {
                    if let Ok(id) = k.parse() {
                        ch.reactions.insert(id);
                    }
                }
            }
        }
    });
    changes
}

fn messages(doc: &Doc) -> MapRef {
    doc.get_or_insert_map(MESSAGES)
}

fn encode(txn: TransactionMut) -> Vec<u8> {
    let update = txn.encode_update_v1();
    drop(txn);
    update
}

/// Adds a message with the id `MessageId::derive(owner, nonce)`.
#[allow(clippy::too_many_arguments)]
pub fn add_message(
    doc: &Doc,
    id: MessageId,
    nonce: [u8; 16],
    sent_at: u64,
    body: &str,
    reply_to: Option<MessageId>,
    kind: Kind,
    attachment: Option<&crate::blob::BlobRef>,
) -> Vec<u8> {
    let m = messages(doc);
    let mut txn = doc.transact_mut();
    let mut fields: Vec<(&str, Any)> = vec![
        ("t", int(sent_at)),
        ("b", Any::from(body)),
        ("n", Any::from(data_encoding::HEXLOWER.encode(&nonce))),
    ];
    if let Some(r) = reply_to {
        fields.push(("r", Any::from(r.to_string())));
    }
    if kind == Kind::CheckIn {
        fields.push(("k", Any::from("c")));
    }
    if let Some(a) = attachment {
        fields.push(("a", Any::from(a.encode())));
    }
    let prelim: MapPrelim = fields.into_iter().collect();
    m.insert(&mut txn, id.to_string(), prelim);
    encode(txn)
}

fn message_map<T: yrs::ReadTxn>(m: &MapRef, txn: &T, id: &MessageId) -> Option<MapRef> {
    match m.get(txn, &id.to_string()) {
        Some(Out::YMap(map)) => Some(map),
        _ => None,
    }
}

pub fn edit(doc: &Doc, id: MessageId, body: &str, at: u64) -> Result<Vec<u8>, Error> {
    let m = messages(doc);
    let mut txn = doc.transact_mut();
    let msg = message_map(&m, &txn, &id).ok_or(Error::NoSuchMessage)?;
    if matches!(msg.get(&txn, "d"), Some(Out::Any(Any::Bool(true)))) {
        return Err(Error::NoSuchMessage);
    }
    msg.insert(&mut txn, "b", body);
    msg.insert(&mut txn, "e", int(at));
    Ok(encode(txn))
}

pub fn delete(doc: &Doc, id: MessageId, at: u64) -> Result<Vec<u8>, Error> {
    let m = messages(doc);
    let mut txn = doc.transact_mut();
    let msg = message_map(&m, &txn, &id).ok_or(Error::NoSuchMessage)?;
    msg.remove(&mut txn, "b");
    msg.remove(&mut txn, "a");
    msg.insert(&mut txn, "d", true);
    msg.insert(&mut txn, "e", int(at));
    Ok(encode(txn))
}

/// Sets (or with `None` removes) this account's reaction to a message of anyone's.
pub fn react(doc: &Doc, target: MessageId, emoji: Option<&str>) -> Vec<u8> {
    let x = doc.get_or_insert_map(REACTIONS);
    let mut txn = doc.transact_mut();
    match emoji {
        Some(e) => {
            x.insert(&mut txn, target.to_string(), e);
        }
        None => {
            x.remove(&mut txn, &target.to_string());
        }
    }
    encode(txn)
}

fn int(v: u64) -> Any {
    Any::Number(Number::Int(v as i64))
}

fn as_u64(v: Option<Out>) -> Option<u64> {
    match v {
        Some(Out::Any(Any::Number(Number::Int(n)))) => u64::try_from(n).ok(),
        Some(Out::Any(Any::Number(Number::Float(f)))) if f >= 0.0 => Some(f as u64),
        _ => None,
    }
}

/// Reads a message's fields. Malformed values from a hostile author read as absent.
pub fn read(doc: &Doc, id: &MessageId) -> Option<Fields> {
    let m = messages(doc);
    let txn = doc.transact();
    let msg = message_map(&m, &txn, id)?;
    let body = match msg.get(&txn, "b") {
        Some(Out::Any(Any::String(s))) => s.to_string(),
        _ => String::new(),
    };
    let reply_to = match msg.get(&txn, "r") {
        Some(Out::Any(Any::String(s))) => s.parse().ok(),
        _ => None,
    };
    Some(Fields {
        sent_at: as_u64(msg.get(&txn, "t")).unwrap_or(0),
        body,
        reply_to,
        edited_at: as_u64(msg.get(&txn, "e")),
        deleted: matches!(msg.get(&txn, "d"), Some(Out::Any(Any::Bool(true)))),
        kind: match msg.get(&txn, "k") {
            Some(Out::Any(Any::String(k))) if &*k == "c" => Kind::CheckIn,
            _ => Kind::Text,
        },
        nonce: match msg.get(&txn, "n") {
            Some(Out::Any(Any::String(n))) => data_encoding::HEXLOWER
                .decode(n.as_bytes())
                .ok()
                .and_then(|v| v.try_into().ok()),
            _ => None,
        },
        attachment: match msg.get(&txn, "a") {
            Some(Out::Any(Any::Buffer(b))) => crate::blob::BlobRef::decode(&b),
            _ => None,
        },
    })
}

/// This account's reaction to `target`, if any.
pub fn reaction(doc: &Doc, target: &MessageId) -> Option<String> {
    let x = doc.get_or_insert_map(REACTIONS);
    let txn = doc.transact();
    match x.get(&txn, &target.to_string()) {
        Some(Out::Any(Any::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

/// Every message id in the segment (for checks and exports).
pub fn message_ids(doc: &Doc) -> Vec<MessageId> {
    let m = messages(doc);
    let txn = doc.transact();
    m.keys(&txn).filter_map(|k| k.parse().ok()).collect()
}

/// Every reaction target in the segment.
pub fn reaction_targets(doc: &Doc) -> Vec<MessageId> {
    let x = doc.get_or_insert_map(REACTIONS);
    let txn = doc.transact();
    x.keys(&txn).filter_map(|k| k.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{apply, check_update};

    #[test]
    fn updates_replay_on_another_replica_and_are_observed() {
        let a = Doc::with_client_id(1);
        let b = Doc::with_client_id(2);
        let changes = observe(&b);
        let id = MessageId::random();
        let u1 = add_message(&a, id, [3; 16], 42, "hello", None, Kind::Text, None);
        let u2 = edit(&a, id, "hello!", 43).unwrap();
        let target = MessageId::random();
        let u3 = react(&a, target, Some("❤️"));
        for u in [u1, u2, u3] {
            apply(&b, check_update(&u, 1).unwrap()).unwrap();
        }
        let f = read(&b, &id).unwrap();
        assert_eq!(f.body, "hello!");
        assert_eq!(f.edited_at, Some(43));
        assert_eq!(reaction(&b, &target).as_deref(), Some("❤️"));
        let ch = changes.lock().unwrap();
        assert!(ch.messages.contains(&id));
        assert!(ch.reactions.contains(&target));
        drop(ch);
        let u4 = delete(&a, id, 44).unwrap();
        apply(&b, check_update(&u4, 1).unwrap()).unwrap();
        let f = read(&b, &id).unwrap();
        assert!(f.deleted);
        assert_eq!(f.body, "");
    }

    #[test]
    fn foreign_client_ids_are_refused() {
        let a = Doc::with_client_id(7);
        let u = add_message(
            &a,
            MessageId::random(),
            [4; 16],
            1,
            "x",
            None,
            Kind::Text,
            None,
        );
        assert_eq!(check_update(&u, 8).unwrap_err(), Error::ForeignClient);
        assert!(check_update(&u, 7).is_ok());
        assert_eq!(
            check_update(&[1, 2, 3, 200], 7).unwrap_err(),
            Error::Malformed
        );
    }
}
