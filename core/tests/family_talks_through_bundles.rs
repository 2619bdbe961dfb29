//! The whole offline data plane as a family uses it, with bundles as the only transport.

mod support;

use hearth_core::contacts::State;
use hearth_core::Error;
use support::*;

#[tokio::test]
async fn contacts_talk_one_to_one() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    for p in [&alice, &bob] {
        let cs = p.node.contacts().await.unwrap();
        assert_eq!(cs.len(), 1);
        assert_eq!(
            cs[0].state,
            State::Connected,
            "{} sees the contact connected",
            p.name
        );
    }
    let a_contacts = alice.node.contacts().await.unwrap();
    let b_contacts = bob.node.contacts().await.unwrap();
    assert_eq!(a_contacts[0].safety_number, b_contacts[0].safety_number);

    let chat = dm(&alice, "Bob").await;
    assert_eq!(dm(&bob, "Alice").await, chat);
    let hello = alice
        .node
        .send_message(&chat, "엄마가 전화했어", None)
        .await
        .unwrap();
    sync(&alice, &bob).await;
    assert_eq!(bob.bodies(&chat).await, vec!["엄마가 전화했어"]);
    assert_eq!(bob.node.chat(&chat).await.unwrap().unread, 1);
    bob.node.mark_read(&chat).await.unwrap();
    assert_eq!(bob.node.chat(&chat).await.unwrap().unread, 0);

    let reply = bob
        .node
        .send_message(&chat, "알았어, 지금 전화할게", Some(hello))
        .await
        .unwrap();
    bob.node.react(&hello, Some("❤️")).await.unwrap();
    sync(&bob, &alice).await;
    let m = alice.node.message(&reply).await.unwrap();
    assert_eq!(m.reply_to, Some(hello));
    let h = alice.node.message(&hello).await.unwrap();
    assert_eq!(h.reactions.len(), 1);
    assert_eq!(h.reactions[0].1, "❤️");

    alice
        .node
        .edit_message(&hello, "엄마가 두 번 전화했어")
        .await
        .unwrap();
    sync(&alice, &bob).await;
    let h = bob.node.message(&hello).await.unwrap();
    assert_eq!(h.body, "엄마가 두 번 전화했어");
    assert!(h.edited_at.is_some());

    // Search finds a two-syllable word inside a longer one.
    let found = bob.node.search_messages("엄마", None, 10).await.unwrap();
    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![hello]);
    assert_eq!(
        bob.node
            .search_messages("전화", Some(&chat), 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // Nobody edits or deletes someone else's message through the API.
    assert!(matches!(
        bob.node.edit_message(&hello, "hijacked").await,
        Err(Error::NotAllowed(_))
    ));
    assert!(matches!(
        bob.node.delete_message(&hello).await,
        Err(Error::NotAllowed(_))
    ));

    alice.node.delete_message(&hello).await.unwrap();
    bob.node.react(&hello, None).await.unwrap();
    sync_both(&alice, &bob).await;
    for p in [&alice, &bob] {
        let h = p.node.message(&hello).await.unwrap();
        assert!(h.deleted);
        assert_eq!(h.body, "");
        assert!(h.reactions.is_empty());
        assert!(p
            .node
            .search_messages("두 번", None, 10)
            .await
            .unwrap()
            .is_empty());
    }
    assert_eq!(
        alice.node.export_json(&chat).await.unwrap(),
        bob.node.export_json(&chat).await.unwrap()
    );
    assert_eq!(
        alice.node.export_yjs(&chat).await.unwrap(),
        bob.node.export_yjs(&chat).await.unwrap()
    );
    for p in [&alice, &bob] {
        let report = p.node.check().await.unwrap();
        assert!(report.ok(), "{report:?}");
    }
}

#[tokio::test]
async fn family_group_add_and_remove() {
    let mom = Peer::new("Mom").await;
    let dad = Peer::new("Dad").await;
    let kid = Peer::new("Kid").await;
    let aunt = Peer::new("Aunt").await;
    connect(&mom, &dad).await;
    connect(&mom, &kid).await;
    connect(&mom, &aunt).await;
    let dad_id = mom.node.find_contact("Dad").await.unwrap().account;
    let kid_id = mom.node.find_contact("Kid").await.unwrap().account;
    let aunt_id = mom.node.find_contact("Aunt").await.unwrap().account;

    let family = mom
        .node
        .create_group("우리 가족", &[dad_id, kid_id])
        .await
        .unwrap();
    mom.node
        .send_message(&family, "저녁 7시에 모여요", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    for p in [&dad, &kid] {
        let chat = p.node.chat(&family).await.unwrap();
        assert_eq!(chat.title, "우리 가족");
        assert_eq!(p.bodies(&family).await, vec!["저녁 7시에 모여요"]);
        assert_eq!(p.node.members(&family).await.unwrap().len(), 3);
    }
    // Dad and Kid are not contacts of each other, yet read each other.
    dad.node.send_message(&family, "네", None).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    assert_eq!(kid.bodies(&family).await, vec!["저녁 7시에 모여요", "네"]);

    mom.node.rename_group(&family, "가족").await.unwrap();
    mom.node.add_member(&family, &aunt_id).await.unwrap();
    mom.node
        .send_message(&family, "이모 왔어요", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid, &aunt]).await;
    // The new member reads from the moment she joined, not before.
    assert_eq!(aunt.bodies(&family).await, vec!["이모 왔어요"]);
    assert_eq!(dad.node.chat(&family).await.unwrap().title, "가족");
    kid.node
        .send_message(&family, "안녕 이모", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid, &aunt]).await;
    assert_eq!(aunt.bodies(&family).await, vec!["이모 왔어요", "안녕 이모"]);

    // Remove Kid: Kid cannot decrypt anything sent afterwards, by anyone.
    mom.node.remove_member(&family, &kid_id).await.unwrap();
    sync_all(&[&mom, &dad, &kid, &aunt]).await;
    mom.node
        .send_message(&family, "after removal from mom", None)
        .await
        .unwrap();
    dad.node
        .send_message(&family, "after removal from dad", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid, &aunt]).await;
    let kid_sees = kid.bodies(&family).await;
    assert!(
        !kid_sees.iter().any(|b| b.contains("after removal")),
        "{kid_sees:?}"
    );
    assert!(!kid.node.chat(&family).await.unwrap().active);
    assert!(matches!(
        kid.node.send_message(&family, "still here?", None).await,
        Err(Error::NotAllowed(_))
    ));
    for p in [&mom, &dad, &aunt] {
        let b = p.bodies(&family).await;
        assert!(
            b.contains(&"after removal from mom".to_string())
                && b.contains(&"after removal from dad".to_string()),
            "{}: {b:?}",
            p.name
        );
        assert_eq!(p.node.members(&family).await.unwrap().len(), 3);
    }
    // Everyone still in the group has the same history (Aunt from when she joined).
    let reference = mom.node.export_json(&family).await.unwrap();
    assert_eq!(dad.node.export_json(&family).await.unwrap(), reference);
    let all = mom.bodies(&family).await;
    let aunts = aunt.bodies(&family).await;
    assert_eq!(aunts[..], all[all.len() - aunts.len()..]);
    assert_eq!(aunts.len(), 4, "{aunts:?}");

    // Leaving: Aunt leaves and cannot send any more.
    aunt.node.leave_group(&family).await.unwrap();
    sync_all(&[&mom, &dad, &aunt]).await;
    assert_eq!(mom.node.members(&family).await.unwrap().len(), 2);
    for p in [&mom, &dad, &kid, &aunt] {
        assert!(p.node.check().await.unwrap().ok());
    }
}

#[tokio::test]
async fn invites_are_single_use_and_checked() {
    let alice = Peer::new("Alice").await;
    let bob = Peer::new("Bob").await;
    let carol = Peer::new("Carol").await;
    let code = alice.node.create_invite(3600, vec![]).await.unwrap();
    assert!(matches!(
        alice.node.accept_invite(&code).await,
        Err(Error::Invite(hearth_core::invite::Error::OwnInvite))
    ));
    bob.node.accept_invite(&code).await.unwrap();
    // Bob sees a pending contact until Alice confirms.
    assert_eq!(bob.node.contacts().await.unwrap()[0].state, State::Pending);
    sync_both(&alice, &bob).await;
    assert_eq!(
        bob.node.contacts().await.unwrap()[0].state,
        State::Connected
    );
    assert!(matches!(
        bob.node.accept_invite(&code).await,
        Err(Error::Invite(hearth_core::invite::Error::AlreadyContact))
    ));
    // Carol replays the same code: Alice refuses the request.
    carol.node.accept_invite(&code).await.unwrap();
    let report = sync(&carol, &alice).await;
    assert!(
        report
            .rejected
            .iter()
            .any(|r| r.contains("already been used")),
        "{report:?}"
    );
    assert_eq!(alice.node.contacts().await.unwrap().len(), 1);
    // A revoked code is refused too.
    let code2 = alice.node.create_invite(3600, vec![]).await.unwrap();
    alice.node.revoke_invite(&code2).await.unwrap();
    let dave = Peer::new("Dave").await;
    dave.node.accept_invite(&code2).await.unwrap();
    let report = sync(&dave, &alice).await;
    assert!(
        report.rejected.iter().any(|r| r.contains("revoked")),
        "{report:?}"
    );
    // Truncated and tampered codes never leave the device.
    let code3 = alice.node.create_invite(3600, vec![]).await.unwrap();
    assert!(matches!(
        dave.node.accept_invite(&code3[..code3.len() - 5]).await,
        Err(Error::Invite(_))
    ));
    // Contacts can be renamed, verified and blocked.
    let a = bob.node.find_contact("Alice").await.unwrap().account;
    bob.node.rename_contact(&a, Some("엄마")).await.unwrap();
    bob.node.set_verified(&a, true).await.unwrap();
    let c = bob.node.contact(&a).await.unwrap();
    assert_eq!((c.name.as_str(), c.verified), ("엄마", true));
    bob.node.set_blocked(&a, true).await.unwrap();
    let chat = dm(&alice, "Bob").await;
    alice
        .node
        .send_message(&chat, "are you there?", None)
        .await
        .unwrap();
    let report = sync(&alice, &bob).await;
    assert!(
        report.rejected.iter().any(|r| r.contains("blocked")),
        "{report:?}"
    );
    assert!(bob.bodies(&chat).await.is_empty());
}

#[tokio::test]
async fn second_process_gets_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _node = hearth_core::Node::open(dir.path()).await.unwrap();
    match hearth_core::Node::open(dir.path()).await {
        Err(Error::InUse(_)) => {}
        Err(e) => panic!("expected InUse, got {e}"),
        Ok(_) => panic!("expected InUse, got a second node"),
    }
}
