//! A member cannot edit or delete someone else's message, even with a modified client that
//! crafts the document update by hand: the update is rejected and nothing changes.

mod support;

use hearth_core::doc::segment;
use hearth_core::envelope::content::DocKey;
use support::*;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, Update};

/// Bob's replica of Alice's segment, loaded into a document writing with `client`.
fn replica(state: &[u8], client: u64) -> Doc {
    let d = Doc::with_client_id(client);
    d.transact_mut()
        .apply_update(Update::decode_v1(state).unwrap())
        .unwrap();
    d
}

#[tokio::test]
async fn crafted_edit_and_delete_of_anothers_message_are_rejected() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    let msg = alice
        .node
        .send_message(&chat, "the original", None)
        .await
        .unwrap();
    sync(&alice, &bob).await;
    let alice_id = bob.node.find_contact("Alice").await.unwrap().account;
    let state = bob.node.segment_state(&chat, &alice_id, 0).await.unwrap();
    let alice_client = Update::decode_v1(&state)
        .unwrap()
        .insertions(true)
        .client_ids()
        .next()
        .unwrap()
        .get();

    // 1. Posing as Alice's client id: refused (the client id is bound to Alice's device).
    let forged = segment::edit(&replica(&state, alice_client), msg, "hijacked", 1).unwrap();
    bob.node
        .send_raw_doc_update(&chat, DocKey::Segment(0), alice_client, forged)
        .await
        .unwrap();
    // 2. With Bob's own client id, editing and deleting on top of Alice's message: it can only
    //    ever land in Bob's own segment, where Alice's message does not exist.
    let own = 4242;
    let edit = segment::edit(&replica(&state, own), msg, "hijacked", 2).unwrap();
    bob.node
        .send_raw_doc_update(&chat, DocKey::Segment(0), own, edit)
        .await
        .unwrap();
    let delete = segment::delete(&replica(&state, own + 1), msg, 3).unwrap();
    bob.node
        .send_raw_doc_update(&chat, DocKey::Segment(0), own + 1, delete)
        .await
        .unwrap();
    // 3. A new message in Bob's segment reusing Alice's message id.
    let dup = segment::add_message(
        &Doc::with_client_id(own + 2),
        msg,
        [7; 16],
        4,
        "hijacked",
        None,
        segment::Kind::Text,
        None,
    );
    bob.node
        .send_raw_doc_update(&chat, DocKey::Segment(0), own + 2, dup)
        .await
        .unwrap();

    sync(&bob, &alice).await;
    let m = alice.node.message(&msg).await.unwrap();
    assert_eq!(m.body, "the original");
    assert!(!m.deleted && m.edited_at.is_none());
    assert_eq!(alice.bodies(&chat).await, vec!["the original"]);
    assert!(alice.node.check().await.unwrap().ok());
    // Alice keeps talking afterwards: the bad envelopes did not block Bob's stream either.
    bob.node.send_message(&chat, "sorry", None).await.unwrap();
    sync(&bob, &alice).await;
    assert_eq!(alice.bodies(&chat).await, vec!["the original", "sorry"]);
}
