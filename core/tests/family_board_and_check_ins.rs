//! The family board: "I'm safe" check-ins reach every family member, and the board counts my
//! messages until their devices confirm them. Bundles are the only transport here.

mod support;

use hearth_core::message::Kind;
use hearth_core::settings::Settings;
use support::*;

#[tokio::test]
async fn a_check_in_reaches_everyone_and_waiting_counts_down() {
    let (mom, son) = contacts("Mom", "Son").await;
    let daughter = Peer::new("Daughter").await;
    connect(&mom, &daughter).await;
    let family = mom
        .node
        .create_group(
            "Family",
            &[
                mom.node.find_contact("Son").await.unwrap().account,
                mom.node.find_contact("Daughter").await.unwrap().account,
            ],
        )
        .await
        .unwrap();
    sync_all(&[&mom, &son, &daughter]).await;

    // Nothing sent yet: nobody waits for anything, nobody has checked in.
    let board = mom.node.family_board().await.unwrap();
    assert_eq!(board.entries.len(), 2);
    assert!(board.my_check_in_ms.is_none());
    assert!(board
        .entries
        .iter()
        .all(|e| e.waiting == 0 && e.check_in_ms.is_none()));

    // Two messages to the family, one to Son alone: Son waits for 3, Daughter for 2.
    mom.node
        .send_message(&family, "다들 괜찮아?", None)
        .await
        .unwrap();
    mom.node
        .send_message(&family, "전화가 안 돼", None)
        .await
        .unwrap();
    let dm_son = dm(&mom, "Son").await;
    mom.node
        .send_message(&dm_son, "어디야?", None)
        .await
        .unwrap();
    let waiting = |b: &hearth_core::board::Board, name: &str| {
        b.entries.iter().find(|e| e.name == name).unwrap().waiting
    };
    let board = mom.node.family_board().await.unwrap();
    assert_eq!(waiting(&board, "Son"), 3);
    assert_eq!(waiting(&board, "Daughter"), 2);

    // Son's device gets them and says so; Daughter's is still away.
    sync(&mom, &son).await;
    sync(&son, &mom).await;
    let board = mom.node.family_board().await.unwrap();
    assert_eq!(waiting(&board, "Son"), 0);
    assert_eq!(waiting(&board, "Daughter"), 2);

    // Son checks in: a check-in lands in every conversation he is part of, and Mom's board
    // shows it; Daughter sees it in the family group once she syncs.
    let sent = son.node.check_in().await.unwrap();
    assert_eq!(sent, 2, "the family group and the 1:1 with Mom");
    sync_all(&[&mom, &son, &daughter]).await;
    let board = mom.node.family_board().await.unwrap();
    let son_entry = board.entries.iter().find(|e| e.name == "Son").unwrap();
    let at = son_entry.check_in_ms.expect("Mom sees Son's check-in");
    assert!(at > 0);
    assert_eq!(
        waiting(&board, "Daughter"),
        0,
        "Daughter's device confirmed"
    );
    let msgs = daughter.node.messages(&family, 50, None).await.unwrap();
    let check_in = msgs.iter().find(|m| m.kind == Kind::CheckIn).unwrap();
    assert_eq!(check_in.author_name, "Son");
    assert_eq!(msgs.iter().filter(|m| m.kind == Kind::Text).count(), 2);
    assert!(son
        .node
        .family_board()
        .await
        .unwrap()
        .my_check_in_ms
        .is_some());
}

#[tokio::test]
async fn settings_persist_and_bad_relays_are_refused() {
    let p = Peer::new("Mom").await;
    assert_eq!(p.node.settings().await.unwrap(), Settings::default());
    p.node.set_lan_only(true).await.unwrap();
    let relay =
        "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
    p.node
        .set_relays(&[format!("  {relay} "), String::new()])
        .await
        .unwrap();
    p.node.set_relay_for_family(true).await.unwrap();
    assert_eq!(
        p.node.network_config().await.unwrap().serve_relay,
        Some(hearth_core::net::Config::default_relay_listen()),
        "the setting makes the node serve as a relay"
    );
    let err = p
        .node
        .set_relays(&["relay.example.com".into()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a relay address"), "{err}");
    p.node.shutdown().await.unwrap();
    let Peer { node, dir, .. } = p;
    drop(node);
    let p_dir = dir;
    let node = hearth_core::Node::open(p_dir.path()).await.unwrap();
    let s = node.settings().await.unwrap();
    assert!(s.lan_only);
    assert_eq!(s.relays, vec![relay.to_string()]);
    let cfg = node.network_config().await.unwrap();
    assert!(cfg.lan_only);
    assert_eq!(cfg.relays.len(), 1);
    assert!(s.relay_for_family);
}
