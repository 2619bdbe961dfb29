//! The yrs (Yjs) documents of a conversation.
//!
//! A conversation is **message segments** (and a meta document reserved for shared settings;
//! no update to it is accepted today: title and members are signed membership operations,
//! see [`crate::membership`]). A segment belongs to one account and holds a slice of that account's messages
//! (at most [`segment::SEGMENT_MESSAGES`]) and the reactions that account gave. Slicing by
//! author is what makes the ownership rules structural: an update to a segment is accepted only
//! from a device of the segment's owner, so nobody can edit or delete someone else's message,
//! and no operation ever loads a whole history.
//!
//! Every update is checked before it is applied ([`check_update`]): it must decode, and every
//! item it inserts must carry the client id its envelope declared, a client id bound to the
//! author device. yrs decoding runs under `catch_unwind` as a second line of defence: input
//! from the network must never take the process down.

pub mod bounds;
pub mod segment;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

thread_local! {
    static INSIDE_YRS: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread runs yrs on someone else's bytes under `catch_unwind`. A panic hook
/// can thus tell a contained failure of the document engine (turned into an error; the
/// document is reloaded from storage) from a bug: the fuzz targets abort on any other panic.
/// (Fuzzing found a sequence of a member's segment updates that makes yrs 0.28.1 panic while
/// integrating a skip; it is contained here.)
pub fn inside_yrs() -> bool {
    INSIDE_YRS.with(Cell::get)
}

fn contained<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let was = INSIDE_YRS.with(|c| c.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    INSIDE_YRS.with(|c| c.set(was));
    r
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("document update does not decode")]
    Malformed,
    #[error("document update writes with a client id its author does not own")]
    ForeignClient,
    #[error("document update tries to change someone else's content")]
    NotOwner,
    #[error("document update could not be applied: {0}")]
    Apply(String),
    #[error("no such message in this conversation")]
    NoSuchMessage,
    #[error("document update rewrites history this document already has")]
    Rewrites,
}

/// Decodes a v1 update and checks that every inserted item uses `client`. Its declared counts
/// are checked first ([`bounds`]): yrs would reserve memory for them before reading.
pub fn check_update(bytes: &[u8], client: u64) -> Result<Update, Error> {
    // One transaction of one device: at most one section, its own, with blocks in it (an
    // update that only deletes has none). Anything else (several sections, empty ones, other
    // clients') comes from merging or crafting; yrs 0.28.1 mishandles some of it.
    match bounds::check(bytes)?.as_slice() {
        [] => {}
        [s] if s.client == client && s.blocks > 0 => {}
        [s] if s.client != client => return Err(Error::ForeignClient),
        _ => return Err(Error::Malformed),
    }
    let update = contained(|| Update::decode_v1(bytes))
        .map_err(|_| Error::Malformed)?
        .map_err(|_| Error::Malformed)?;
    let inserted = update.insertions(true);
    if inserted.client_ids().any(|c| c.get() != client) {
        return Err(Error::ForeignClient);
    }
    Ok(update)
}

/// Refuses an update that does not start exactly where `doc`'s history of its client ends (or,
/// for a client it holds nothing of yet, anywhere: a member who joined later starts mid-way).
/// An honest device's update is the diff of one of its transactions, and envelopes are applied
/// in order, so it always does. One that reaches back makes yrs 0.28.1 free a block it still
/// uses while trimming the known part, and one with a gap is stashed as pending, where later
/// updates can do the same (both found by the `engine` fuzz target under AddressSanitizer):
/// memory corruption on every other member's device. Nothing honest is refused.
pub fn check_continues(doc: &Doc, update: &Update) -> Result<(), Error> {
    let held = doc.transact().state_vector();
    for (client, clock) in update.state_vector_lower().iter() {
        let h = held.get(client);
        // A member who joined later holds none of the history before (it cannot decrypt it):
        // the first update it gets of a client may start anywhere. After that, exactly on.
        if *clock < h || (h > 0 && *clock > h) {
            return Err(Error::Rewrites);
        }
    }
    Ok(())
}

/// Applies a checked update. A panic inside yrs is turned into an error; the caller must then
/// drop this in-memory document and reload it from storage.
pub fn apply(doc: &Doc, update: Update) -> Result<(), Error> {
    contained(|| {
        let mut txn = doc.transact_mut();
        txn.apply_update(update)
            .map_err(|e| Error::Apply(e.to_string()))
    })
    .map_err(|_| Error::Apply("document engine failure".into()))?
}

/// A new document for a client id, loaded from a snapshot and pending updates (all v1).
pub fn load(client: u64, snapshot: &[u8], updates: &[Vec<u8>]) -> Result<Doc, Error> {
    let doc = Doc::with_client_id(client);
    for bytes in std::iter::once(snapshot).chain(updates.iter().map(Vec::as_slice)) {
        let u = contained(|| Update::decode_v1(bytes))
            .map_err(|_| Error::Malformed)?
            .map_err(|_| Error::Malformed)?;
        apply(&doc, u)?;
    }
    Ok(doc)
}

/// The whole document as one v1 update.
pub fn snapshot(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MessageId;

    /// What the `engine` fuzz target found: after honest updates, a one-block update reaching
    /// back into known history (a GC range at clock 1 of the same client). yrs would free a
    /// block it still uses; it is refused before yrs sees it. Honest updates, applied in order
    /// on another device, all continue.
    #[test]
    fn updates_that_rewrite_known_history_are_refused() {
        let author = Doc::with_client_id(1);
        let reader = Doc::with_client_id(2);
        let id = MessageId::random();
        let honest = vec![
            segment::add_message(
                &author,
                id,
                [1; 16],
                1,
                "저녁 7시",
                None,
                segment::Kind::Text,
                None,
            ),
            segment::add_message(
                &author,
                MessageId::random(),
                [2; 16],
                2,
                "ok",
                None,
                segment::Kind::Text,
                None,
            ),
            segment::edit(&author, id, "저녁 8시", 3).unwrap(),
            segment::react(&author, id, Some("👍")),
            segment::delete(&author, id, 4).unwrap(),
        ];
        for u in &honest {
            let u = check_update(u, 1).unwrap();
            check_continues(&reader, &u).unwrap();
            apply(&reader, u).unwrap();
        }
        let crafted = [1, 1, 1, 1, 0, 1, 0];
        let u = check_update(&crafted, 1).expect("it decodes and uses the author's client");
        assert_eq!(check_continues(&reader, &u), Err(Error::Rewrites));
        // The same honest update twice reaches back too.
        let again = check_update(&honest[0], 1).unwrap();
        assert_eq!(check_continues(&reader, &again), Err(Error::Rewrites));
        // A gap (a block from clock 9 when 4 are held) would wait as pending: refused too.
        let gap = check_update(&[1, 1, 1, 9, 0, 1, 0], 1).unwrap();
        assert_eq!(check_continues(&reader, &gap), Err(Error::Rewrites));
        // Sections: empty, several, or another client's.
        assert_eq!(
            check_update(&[4, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1).err(),
            Some(Error::Malformed)
        );
        assert_eq!(
            check_update(&[1, 1, 5, 0, 0, 1, 0], 1).err(),
            Some(Error::ForeignClient)
        );
        // A skip range never comes from one transaction.
        assert_eq!(
            check_update(&[1, 1, 1, 5, 10, 3, 0], 1).err(),
            Some(Error::Malformed)
        );
    }
}
