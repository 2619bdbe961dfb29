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
}

/// Decodes a v1 update and checks that every inserted item uses `client`. Its declared counts
/// are checked first ([`bounds`]): yrs would reserve memory for them before reading.
pub fn check_update(bytes: &[u8], client: u64) -> Result<Update, Error> {
    bounds::check(bytes)?;
    let update = contained(|| Update::decode_v1(bytes))
        .map_err(|_| Error::Malformed)?
        .map_err(|_| Error::Malformed)?;
    let inserted = update.insertions(true);
    if inserted.client_ids().any(|c| c.get() != client) {
        return Err(Error::ForeignClient);
    }
    Ok(update)
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
