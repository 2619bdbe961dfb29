//! Group membership is signed operations with rules; each attack below is performed through a
//! modified client (`Node::modified_client`, `send_raw_doc_update`) and changes nothing on the
//! honest devices.

mod support;

use hearth_core::envelope::content::DocKey;
use hearth_core::ids::AccountId;
use hearth_core::membership::Change;
use hearth_core::{ChatId, Error};
use support::*;
use yrs::{Any, Doc, Map, Transact};

/// Mom, Dad and Kid in a group Mom made; Dad and Kid are contacts of Mom only.
async fn family() -> (Peer, Peer, Peer, ChatId) {
    let mom = Peer::new("Mom").await;
    let dad = Peer::new("Dad").await;
    let kid = Peer::new("Kid").await;
    connect(&mom, &dad).await;
    connect(&mom, &kid).await;
    let ids = [account(&mom, "Dad").await, account(&mom, "Kid").await];
    let chat = mom.node.create_group("우리 가족", &ids).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    (mom, dad, kid, chat)
}

async fn account(p: &Peer, name: &str) -> AccountId {
    p.node.find_contact(name).await.unwrap().account
}

async fn member_names(p: &Peer, chat: &ChatId) -> Vec<String> {
    let mut v: Vec<String> = p
        .node
        .members(chat)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    v.sort();
    v
}

/// What the meta document used to hold: `members` → account hex → record bytes.
fn crafted_meta_update(client: u64, account: &AccountId, record: Option<Vec<u8>>) -> Vec<u8> {
    let d = Doc::with_client_id(client);
    let members = d.get_or_insert_map("members");
    let mut txn = d.transact_mut();
    match record {
        Some(bytes) => {
            members.insert(&mut txn, account.to_string(), Any::from(bytes));
        }
        None => {
            members.remove(&mut txn, &account.to_string());
        }
    }
    txn.encode_update_v1()
}

#[tokio::test]
async fn crafted_meta_updates_change_no_one() {
    let (mom, dad, kid, chat) = family().await;
    kid.node
        .send_message(&chat, "학교 끝났어요", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    let kid_id = account(&mom, "Kid").await;
    let dad_id = account(&mom, "Dad").await;
    let stranger = hearth_core::identity::Identity::generate("X".into());
    // Dad's modified client: Kid "removed" with a cut of 0, his own record deleted, a stranger
    // added — the three things a meta update could do before.
    for (n, update) in [
        crafted_meta_update(9001, &kid_id, Some(vec![1, 2, 3])),
        crafted_meta_update(9002, &dad_id, None),
        crafted_meta_update(9003, &stranger.account_id(), Some(vec![0; 64])),
    ]
    .into_iter()
    .enumerate()
    {
        dad.node
            .send_raw_doc_update(&chat, DocKey::Meta, 9001 + n as u64, update)
            .await
            .unwrap();
    }
    sync_all(&[&mom, &dad, &kid]).await;
    for p in [&mom, &kid] {
        assert_eq!(member_names(p, &chat).await, ["Dad", "Kid", "Mom"]);
        assert_eq!(p.bodies(&chat).await, ["학교 끝났어요"]);
    }
    // Kid keeps his seq numbers: what he sends next arrives (no equivocation).
    kid.node
        .send_message(&chat, "저녁 뭐예요?", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    assert_eq!(mom.bodies(&chat).await, ["학교 끝났어요", "저녁 뭐예요?"]);
    // Dad can still be removed, and then gets no new key.
    mom.node.remove_member(&chat, &dad_id).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    mom.node.send_message(&chat, "after", None).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    assert!(!dad.bodies(&chat).await.contains(&"after".to_string()));
    assert_eq!(kid.bodies(&chat).await.last().unwrap(), "after");
    for p in [&mom, &dad, &kid] {
        assert!(p.node.check().await.unwrap().ok());
    }
}

#[tokio::test]
async fn nobody_can_be_added_to_a_one_to_one_chat() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let carol = Peer::new("Carol").await;
    connect(&bob, &carol).await;
    let chat = dm(&bob, "Alice").await;
    let carol_id = account(&bob, "Carol").await;
    // Through the meta document, and through a signed Add operation.
    bob.node
        .send_raw_doc_update(
            &chat,
            DocKey::Meta,
            7,
            crafted_meta_update(7, &carol_id, Some(vec![0; 32])),
        )
        .await
        .unwrap();
    let record = hearth_core::membership::Record {
        name: "Carol".into(),
        bundles: vec![],
    };
    bob.node
        .modified_client(move |e| {
            e.forge_member_op(
                &chat,
                Change::Add {
                    account: carol_id,
                    record,
                },
                Some(vec![hearth_core::OpId(chat.0)]),
                None,
            )
        })
        .await
        .unwrap();
    assert!(matches!(
        bob.node.add_member(&chat, &carol_id).await,
        Err(Error::NotAllowed(_))
    ));
    sync_all(&[&alice, &bob]).await;
    assert_eq!(member_names(&alice, &chat).await, ["Alice", "Bob"]);
    bob.node
        .send_message(&chat, "still just us", None)
        .await
        .unwrap();
    sync_all(&[&alice, &bob]).await;
    assert_eq!(alice.bodies(&chat).await, ["still just us"]);
}

#[tokio::test]
async fn a_removal_keeps_history_and_the_removed_cannot_undo_it() {
    let (mom, dad, kid, chat) = family().await;
    connect(&dad, &kid).await;
    kid.node.send_message(&chat, "before", None).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    let kid_id = account(&mom, "Kid").await;
    // Dad removes Kid with a cut of 0 (a modified client; an honest one sends what it holds).
    let kid_device = kid.node.profile().await.unwrap().device;
    dad.node
        .modified_client(move |e| {
            e.forge_member_op(
                &chat,
                Change::Remove {
                    account: kid_id,
                    cut: vec![(kid_device, 0)],
                },
                None,
                None,
            )
        })
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    // Kid is out, but what he already said stays on every device.
    for p in [&mom, &dad] {
        assert_eq!(member_names(p, &chat).await, ["Dad", "Mom"]);
        assert_eq!(p.bodies(&chat).await, ["before"]);
        assert!(p.node.check().await.unwrap().ok());
    }
    assert!(!kid.node.chat(&chat).await.unwrap().active);

    // Kid's modified client, now an ex-member:
    let before_removal: Vec<_> = kid
        .node
        .modified_client(move |e| e.member_ops(&chat))
        .await
        .unwrap()
        .into_iter()
        .filter(|op| {
            let v = op.verify().unwrap();
            !matches!(v.op.change, Change::Remove { .. })
        })
        .collect();
    let heads: Vec<_> = before_removal.iter().map(|o| o.id()).collect();
    let accomplice = Peer::new("Accomplice").await;
    connect(&kid, &accomplice).await;
    let acc_id = account(&kid, "Accomplice").await;
    // 1. removes Mom, backdated, as if he had not seen his own removal;
    let mom_id = account(&kid, "Mom").await;
    let mom_device = mom.node.profile().await.unwrap().device;
    let h1 = heads.clone();
    kid.node
        .modified_client(move |e| {
            e.forge_member_op(
                &chat,
                Change::Remove {
                    account: mom_id,
                    cut: vec![(mom_device, 0)],
                },
                Some(h1),
                Some(1),
            )
        })
        .await
        .unwrap();
    // 2. invites Dad (his contact) back into the group with the operations from before his
    //    removal, and with the old invitation format;
    let dad_id = account(&kid, "Dad").await;
    let ops = before_removal.clone();
    kid.node
        .modified_client(move |e| e.send_ops_to(&dad_id, &chat, ops))
        .await
        .unwrap();
    kid.node
        .modified_client(move |e| e.send_legacy_invite(&dad_id, &chat))
        .await
        .unwrap();
    // 3. invites an accomplice with the same stale operations.
    let ops = before_removal;
    kid.node
        .modified_client(move |e| e.send_ops_to(&acc_id, &chat, ops))
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid, &accomplice]).await;

    for p in [&mom, &dad] {
        assert_eq!(member_names(p, &chat).await, ["Dad", "Mom"], "{}", p.name);
    }
    // The members talk; the ex-member (and whoever he invited) reads nothing of it.
    mom.node
        .send_message(&chat, "after from mom", None)
        .await
        .unwrap();
    dad.node
        .send_message(&chat, "after from dad", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid, &accomplice]).await;
    assert_eq!(
        mom.bodies(&chat).await,
        ["before", "after from mom", "after from dad"]
    );
    assert_eq!(dad.bodies(&chat).await, mom.bodies(&chat).await);
    assert_eq!(kid.bodies(&chat).await, ["before"]);
    if accomplice.node.chat(&chat).await.is_ok() {
        assert!(accomplice.bodies(&chat).await.is_empty());
    }
}

#[tokio::test]
async fn members_who_remove_each_other_are_both_out_on_every_device() {
    let (mom, dad, kid, chat) = family().await;
    let dad_id = account(&mom, "Dad").await;
    let mom_id = account(&dad, "Mom").await;
    // Concurrent: neither has seen the other's removal.
    mom.node.remove_member(&chat, &dad_id).await.unwrap();
    dad.node.remove_member(&chat, &mom_id).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    for p in [&mom, &dad, &kid] {
        assert_eq!(member_names(p, &chat).await, ["Kid"], "{}", p.name);
    }
    assert!(kid.node.chat(&chat).await.unwrap().active);
    assert!(!mom.node.chat(&chat).await.unwrap().active);
}

#[tokio::test]
async fn a_new_member_learns_a_removal_the_adder_had_not_seen() {
    let (mom, dad, kid, chat) = family().await;
    let aunt = Peer::new("Aunt").await;
    connect(&mom, &aunt).await;
    let kid_id = account(&mom, "Kid").await;
    let aunt_id = account(&mom, "Aunt").await;
    // Dad removes Kid while Mom, not knowing, adds Aunt.
    dad.node.remove_member(&chat, &kid_id).await.unwrap();
    mom.node.add_member(&chat, &aunt_id).await.unwrap();
    sync_all(&[&mom, &dad, &kid, &aunt]).await;
    for p in [&mom, &dad, &aunt] {
        assert_eq!(
            member_names(p, &chat).await,
            ["Aunt", "Dad", "Mom"],
            "{}",
            p.name
        );
    }
    aunt.node
        .send_message(&chat, "안녕하세요", None)
        .await
        .unwrap();
    dad.node
        .send_message(&chat, "어서 와요", None)
        .await
        .unwrap();
    sync_all(&[&mom, &dad, &kid, &aunt]).await;
    for p in [&mom, &dad, &aunt] {
        let b = p.bodies(&chat).await;
        assert!(
            b.contains(&"안녕하세요".to_string()) && b.contains(&"어서 와요".to_string()),
            "{}: {b:?}",
            p.name
        );
    }
    let kid_sees = kid.bodies(&chat).await;
    assert!(!kid_sees
        .iter()
        .any(|b| b == "안녕하세요" || b == "어서 와요"));
}

/// An account with `devices` made-up devices, as a hostile member could add.
fn many_devices(name: &str, devices: usize) -> (AccountId, hearth_core::membership::Record) {
    use hearth_core::identity::{DeviceBundle, Identity};
    let account = libp2p_identity::ed25519::Keypair::generate();
    let bundles = (0..devices)
        .map(|i| {
            let id = Identity {
                account: account.clone(),
                device: libp2p_identity::ed25519::Keypair::generate(),
                name: name.into(),
            };
            DeviceBundle::new(&id, [i as u8 + 1; 32], [i as u8 + 101; 32])
        })
        .collect();
    let record = hearth_core::membership::Record {
        name: name.into(),
        bundles,
    };
    (AccountId(account.public().to_bytes()), record)
}

#[tokio::test]
async fn key_shares_reach_everyone_however_many_devices_a_member_adds() {
    let (mom, dad, kid, chat) = family().await;
    for p in [&mom, &dad, &kid] {
        p.node
            .send_message(&chat, &format!("hi from {}", p.name), None)
            .await
            .unwrap();
    }
    sync_all(&[&mom, &dad, &kid]).await;
    // Dad's modified client adds 30 accounts of 8 devices each.
    let mut fake = Vec::new();
    for i in 0..30 {
        let (account, record) = many_devices(&format!("fake{i}"), 8);
        fake.push(account);
        dad.node
            .modified_client(move |e| {
                e.forge_member_op(&chat, Change::Add { account, record }, None, None)
            })
            .await
            .unwrap();
    }
    sync_all(&[&mom, &dad, &kid]).await;
    assert_eq!(mom.node.members(&chat).await.unwrap().len(), 33);
    // Mom removes one: everyone's next key share goes to some 240 devices at once.
    mom.node.remove_member(&chat, &fake[0]).await.unwrap();
    sync_all(&[&mom, &dad, &kid]).await;
    mom.node
        .send_message(&chat, "still readable", None)
        .await
        .unwrap();
    kid.node.send_message(&chat, "me too", None).await.unwrap();
    let report = sync(&mom, &kid).await;
    assert!(
        !report.rejected.iter().any(|r| r.contains("exceeds")),
        "{report:?}"
    );
    sync_all(&[&mom, &dad, &kid]).await;
    for p in [&mom, &dad, &kid] {
        let b = p.bodies(&chat).await;
        assert!(
            b.contains(&"still readable".to_string()) && b.contains(&"me too".to_string()),
            "{}: {b:?}",
            p.name
        );
    }
}
