//! A sender key that never comes, and a key share that can be decrypted again and again (an
//! Olm pre-key message to a kept fallback key), once made the writer loop forever: every
//! later send hung. Now the wait is bounded, the envelope is given up (and counted where the
//! user sees it), and everything after it is read.

mod support;

use std::future::Future;
use std::time::Duration;

use hearth_core::ChatId;
use support::*;

/// Fails the test instead of hanging it when the writer is stuck.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("the writer hung: {what}"))
}

async fn group(creator: &Peer, names: &[&str], title: &str) -> ChatId {
    let mut ids = Vec::new();
    for n in names {
        ids.push(creator.node.find_contact(n).await.unwrap().account);
    }
    creator.node.create_group(title, &ids).await.unwrap()
}

#[tokio::test]
async fn a_key_that_never_comes_does_not_stop_the_writer() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let carol = Peer::new("Carol").await;
    connect(&alice, &carol).await;
    let chat = group(&alice, &["Bob", "Carol"], "friends").await;
    sync_all(&[&alice, &bob, &carol]).await;
    bob.node.send_message(&chat, "hello", None).await.unwrap();
    // Bob's modified client: an envelope under a key it never shares, then a fresh key
    // (shared to Carol, who is not his contact, as an Olm pre-key message).
    bob.node
        .modified_client(move |e| e.send_under_unshared_key(&chat, 999))
        .await
        .unwrap();
    bob.node
        .modified_client(move |e| e.drop_sender_key(&chat))
        .await
        .unwrap();
    bob.node.send_message(&chat, "after", None).await.unwrap();
    within("syncing Bob's stream", sync_all(&[&alice, &bob, &carol])).await;
    within(
        "Carol sends",
        carol.node.send_message(&chat, "still here", None),
    )
    .await
    .unwrap();
    within("syncing", sync_all(&[&alice, &bob, &carol])).await;
    for p in [&alice, &carol] {
        assert_eq!(
            p.bodies(&chat).await,
            ["hello", "after", "still here"],
            "{}",
            p.name
        );
        // The user is told one message could not be decrypted.
        assert_eq!(
            p.node.chat(&chat).await.unwrap().undecryptable,
            1,
            "{}",
            p.name
        );
    }
}

#[tokio::test]
async fn a_member_added_after_a_removal_reads_a_sender_who_is_not_their_contact() {
    let mom = Peer::new("Mom").await;
    let dad = Peer::new("Dad").await;
    let kid = Peer::new("Kid").await;
    let aunt = Peer::new("Aunt").await;
    for p in [&dad, &kid, &aunt] {
        connect(&mom, p).await;
    }
    let chat = group(&mom, &["Dad", "Kid"], "가족").await;
    sync_all(&[&mom, &dad, &kid]).await;
    for p in [&mom, &dad, &kid] {
        p.node
            .send_message(&chat, &format!("hi from {}", p.name), None)
            .await
            .unwrap();
    }
    sync_all(&[&mom, &dad, &kid]).await;
    let kid_id = mom.node.find_contact("Kid").await.unwrap().account;
    mom.node.remove_member(&chat, &kid_id).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    // Dad's new key goes to Mom only; Aunt joins afterwards and gets it as a pre-key message.
    dad.node
        .send_message(&chat, "after removal", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad]).await;
    let aunt_id = mom.node.find_contact("Aunt").await.unwrap().account;
    mom.node.add_member(&chat, &aunt_id).await.unwrap();
    within("syncing the add", sync_all(&[&mom, &dad, &kid, &aunt])).await;
    within(
        "Dad sends",
        dad.node.send_message(&chat, "이모 어서 와요", None),
    )
    .await
    .unwrap();
    within("syncing", sync_all(&[&mom, &dad, &kid, &aunt])).await;
    within(
        "Aunt sends",
        aunt.node.send_message(&chat, "고마워요", None),
    )
    .await
    .unwrap();
    within("syncing", sync_all(&[&mom, &dad, &kid, &aunt])).await;
    let aunt_sees = aunt.bodies(&chat).await;
    assert!(
        aunt_sees.contains(&"이모 어서 와요".to_string()),
        "{aunt_sees:?}"
    );
    assert!(
        !aunt_sees.contains(&"hi from Dad".to_string()),
        "{aunt_sees:?}"
    );
    assert!(dad.bodies(&chat).await.contains(&"고마워요".to_string()));
    // History from before she joined is not reported as a failure.
    assert_eq!(aunt.node.chat(&chat).await.unwrap().undecryptable, 0);
}
