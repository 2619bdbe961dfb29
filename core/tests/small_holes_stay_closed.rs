//! Smaller holes a member or a stranger could use, each performed through a modified client:
//! claiming someone's yrs client id first, pre-claiming someone's message id, a message time
//! far in the future, and a contact request whose keys do not match its channel.

mod support;

use hearth_core::doc::segment;
use hearth_core::envelope::content::DocKey;
use std::sync::atomic::{AtomicU64, Ordering};

use hearth_core::clock::ManualClock;
use hearth_core::MessageId;
use support::*;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Update};

/// The yrs client id in one of `p`'s replicas of `owner`'s first segment.
async fn client_of(p: &Peer, chat: &hearth_core::ChatId, owner: &hearth_core::AccountId) -> u64 {
    let state = p.node.segment_state(chat, owner, 0).await.unwrap();
    Update::decode_v1(&state)
        .unwrap()
        .insertions(true)
        .client_ids()
        .next()
        .unwrap()
        .get()
}

async fn trio() -> (Peer, Peer, Peer, hearth_core::ChatId) {
    let alice = Peer::new("Alice").await;
    let bob = Peer::new("Bob").await;
    let carol = Peer::new("Carol").await;
    connect(&alice, &bob).await;
    connect(&alice, &carol).await;
    connect(&bob, &carol).await;
    let ids = [
        alice.node.find_contact("Bob").await.unwrap().account,
        alice.node.find_contact("Carol").await.unwrap().account,
    ];
    let group = alice.node.create_group("셋", &ids).await.unwrap();
    sync_all(&[&alice, &bob, &carol]).await;
    (alice, bob, carol, group)
}

#[tokio::test]
async fn claiming_someones_client_id_first_blocks_nobody() {
    let (alice, bob, carol, group) = trio().await;
    // Alice writes to Bob; Bob learns her client id.
    let dm_ab = dm(&alice, "Bob").await;
    alice
        .node
        .send_message(&dm_ab, "hi Bob", None)
        .await
        .unwrap();
    sync(&alice, &bob).await;
    let alice_id = bob.node.find_contact("Alice").await.unwrap().account;
    let alice_client = client_of(&bob, &dm_ab, &alice_id).await;
    // Bob writes first in the group with Alice's client id (in his own segment).
    let nonce = [5; 16];
    let bob_id = carol.node.find_contact("Bob").await.unwrap().account;
    let id = MessageId::derive(&bob_id, &nonce);
    let u = segment::add_message(
        &Doc::with_client_id(alice_client),
        id,
        nonce,
        1,
        "first!",
        None,
        segment::Kind::Text,
        None,
    );
    bob.node
        .send_raw_doc_update(&group, DocKey::Segment(0), alice_client, u)
        .await
        .unwrap();
    sync_all(&[&bob, &carol]).await;
    // Alice's messages in the group still arrive at Carol.
    alice
        .node
        .send_message(&group, "hello group", None)
        .await
        .unwrap();
    sync_all(&[&alice, &bob, &carol]).await;
    let bodies = carol.bodies(&group).await;
    assert!(bodies.contains(&"hello group".to_string()), "{bodies:?}");
    assert!(carol.node.check().await.unwrap().ok());
}

#[tokio::test]
async fn a_message_id_cannot_be_taken_from_its_author() {
    let (alice, bob, carol, group) = trio().await;
    // Alice writes in her chat with Bob; Bob copies the id into the group before Carol could
    // ever see it (and a message there with an id he did not derive from his account).
    let dm_ab = dm(&alice, "Bob").await;
    let msg = alice
        .node
        .send_message(&dm_ab, "just for Bob", None)
        .await
        .unwrap();
    sync(&alice, &bob).await;
    let bob_client = 777_001;
    let stolen = segment::add_message(
        &Doc::with_client_id(bob_client),
        msg,
        [0; 16],
        1,
        "squatting",
        None,
        segment::Kind::Text,
        None,
    );
    bob.node
        .send_raw_doc_update(&group, DocKey::Segment(0), bob_client, stolen)
        .await
        .unwrap();
    sync_all(&[&bob, &carol]).await;
    assert!(carol.bodies(&group).await.is_empty());
    assert!(carol.node.message(&msg).await.is_err());
    // Alice's own message keeps its id wherever it goes.
    let m = bob.node.message(&msg).await.unwrap();
    assert_eq!(m.body, "just for Bob");
    assert!(carol.node.check().await.unwrap().ok());
}

#[tokio::test]
async fn a_time_far_in_the_future_does_not_stop_unread_counting() {
    let clock = std::sync::Arc::new(ManualClock(AtomicU64::new(1_800_000_000_000)));
    let alice = Peer::on_clock("Alice", &clock).await;
    let bob = Peer::on_clock("Bob", &clock).await;
    connect(&alice, &bob).await;
    let chat = dm(&alice, "Bob").await;
    bob.node.send_message(&chat, "hello", None).await.unwrap();
    let bob_id = alice.node.find_contact("Bob").await.unwrap().account;
    let nonce = [9; 16];
    let u = segment::add_message(
        &Doc::with_client_id(4242),
        MessageId::derive(&bob_id, &nonce),
        nonce,
        u64::MAX >> 2,
        "from the future",
        None,
        segment::Kind::Text,
        None,
    );
    bob.node
        .send_raw_doc_update(&chat, DocKey::Segment(0), 4242, u)
        .await
        .unwrap();
    sync(&bob, &alice).await;
    alice.node.mark_read(&chat).await.unwrap();
    assert_eq!(alice.node.chat(&chat).await.unwrap().unread, 0);
    // A second later, Bob's ordinary message counts as unread and is the latest.
    clock.0.fetch_add(1000, Ordering::SeqCst);
    bob.node.send_message(&chat, "now", None).await.unwrap();
    sync(&bob, &alice).await;
    assert_eq!(alice.node.chat(&chat).await.unwrap().unread, 1);
    assert_eq!(
        alice.bodies(&chat).await,
        ["hello", "from the future", "now"]
    );
    assert!(alice.node.check().await.unwrap().ok());
}

#[tokio::test]
async fn a_contact_request_whose_keys_do_not_match_its_channel_is_refused() {
    let alice = Peer::new("Alice").await;
    let mallory = Peer::new("Mallory").await;
    let code = alice.node.create_invite(3600, vec![]).await.unwrap();
    // Mallory's bundle names someone else's Curve25519 key.
    mallory
        .node
        .modified_client(|e| e.present_curve_key([42; 32]))
        .await
        .unwrap();
    mallory.node.accept_invite(&code).await.unwrap();
    let report = sync(&mallory, &alice).await;
    assert!(
        report.rejected.iter().any(|r| r.contains("do not match")),
        "{report:?}"
    );
    assert!(alice.node.contacts().await.unwrap().is_empty());
    // The invite was not used up by the refused request: an honest person can still use it.
    let bob = Peer::new("Bob").await;
    bob.node.accept_invite(&code).await.unwrap();
    sync_both(&alice, &bob).await;
    assert_eq!(alice.node.contacts().await.unwrap().len(), 1);
}
