//! Nodes on the network (loopback, no mDNS): contact requests, messages, groups and the mesh
//! travel live, and a device that was away catches up when it comes back.

mod support;

use hearth_core::contacts::State;
use hearth_core::message::DeliveryState;
use hearth_core::reach::Path;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_and_messages_travel_live() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    alice
        .node
        .send_message(&chat, "안녕, 들려?", None)
        .await
        .unwrap();
    eventually("bob receives", || async {
        bob.bodies(&chat).await == vec!["안녕, 들려?"]
    })
    .await;
    bob.node
        .send_message(&chat, "응 잘 들려", None)
        .await
        .unwrap();
    eventually("alice receives", || async {
        alice.bodies(&chat).await.len() == 2
    })
    .await;
    let reach = alice.node.reachability().await.unwrap();
    assert_eq!(reach[0].path, Path::Lan, "{reach:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_and_read_receipts_come_back() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    let id = alice
        .node
        .send_message(&chat, "저녁 먹었어?", None)
        .await
        .unwrap();
    assert_eq!(
        alice.node.message(&id).await.unwrap().status,
        Some(DeliveryState::Queued)
    );
    eventually("delivered", || async {
        alice.node.message(&id).await.unwrap().status == Some(DeliveryState::Delivered)
    })
    .await;
    bob.node.mark_read(&chat).await.unwrap();
    eventually("read", || async {
        alice.node.message(&id).await.unwrap().status == Some(DeliveryState::Read)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_that_was_away_catches_up() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    bob.node.stop_network().await.unwrap();
    for i in 0..50 {
        alice
            .node
            .send_message(&chat, &format!("while you were away {i}"), None)
            .await
            .unwrap();
    }
    bob.node.start_network(loopback()).await.unwrap();
    eventually("bob has all 50", || async {
        bob.bodies(&chat).await.len() == 50
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_message_reaches_a_member_through_another_member() {
    // A and C are not contacts and never connect to each other; B knows both.
    let b = online("B").await;
    let a = online("A").await;
    let c = online("C").await;
    befriend_online(&b, &a).await;
    befriend_online(&b, &c).await;
    let group = family_group(&b, &[&a, &c]).await;
    a.node
        .send_message(&group, "from A, carried by B", None)
        .await
        .unwrap();
    eventually("C receives A's message", || async {
        c.bodies(&group)
            .await
            .contains(&"from A, carried by B".to_string())
    })
    .await;
    let a_account = c
        .node
        .members(&group)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name.is_empty() || m.name == "A")
        .map(|m| m.account);
    assert!(a_account.is_some());
    let status = c.node.network_status().await.unwrap().unwrap();
    let a_device = a.node.profile().await.unwrap().device;
    assert!(
        status
            .peers
            .iter()
            .any(|p| p.device == a_device && matches!(p.path, hearth_core::net::Path::Mesh { .. })),
        "{status:?}"
    );
    c.node
        .send_message(&group, "C answers", None)
        .await
        .unwrap();
    eventually("A receives C's reply", || async {
        a.bodies(&group).await.contains(&"C answers".to_string())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_invite_is_refused_live_with_a_reason() {
    let alice = online("Alice").await;
    let bob = online("Bob").await;
    let carol = online("Carol").await;
    let code = alice.node.create_invite(3600, vec![]).await.unwrap();
    bob.node.accept_invite(&code).await.unwrap();
    eventually("bob connected", || async {
        bob.node.contacts().await.unwrap()[0].state == State::Connected
    })
    .await;
    carol.node.accept_invite(&code).await.unwrap();
    eventually("carol told the code was used", || async {
        carol.node.contacts().await.unwrap()[0].refused.as_deref()
            == Some("this invite has already been used")
    })
    .await;
    assert_eq!(alice.node.contacts().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_catch_up_arrives_in_several_pipelined_batches() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    bob.node.stop_network().await.unwrap();
    // About 1.5 MB of envelopes: three or more sync batches.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..3000 {
        let n = alice.node.clone();
        let body = format!("catch-up {i:04} with some text to make the envelope a realistic size");
        set.spawn(async move { n.send_message(&chat, &body, None).await });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    bob.node.start_network(loopback()).await.unwrap();
    eventually("bob has all 3000", || async {
        let n = bob.node.messages(&chat, 5000, None).await.unwrap().len();
        n == 3000
    })
    .await;
    assert!(bob.node.check().await.unwrap().ok());
}

/// The network belongs to the node: dropping the last handle to a node (an app closed without
/// `shutdown()`, a panic unwinding) stops its network too, so its port is free again and no
/// task lingers holding the database open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_node_stops_its_network() {
    let p = online("Mom").await;
    let tcp: std::net::SocketAddr = {
        let status = p.node.network_status().await.unwrap().unwrap();
        let a = status
            .listen
            .iter()
            .find(|a| a.contains("/tcp/"))
            .expect("a TCP address")
            .clone();
        let mut parts = a.split('/').skip(1);
        let (_, ip, _, port) = (parts.next(), parts.next(), parts.next(), parts.next());
        format!("{}:{}", ip.unwrap(), port.unwrap())
            .parse()
            .unwrap()
    };
    assert!(
        tokio::net::TcpStream::connect(tcp).await.is_ok(),
        "listening at first"
    );
    let Peer { node, dir, .. } = p;
    drop(node);
    eventually("the port closes", || async {
        tokio::net::TcpStream::connect(tcp).await.is_err()
    })
    .await;
    // The data directory can be opened again at once: nothing holds its lock.
    let again = hearth_core::Node::open(dir.path()).await;
    assert!(again.is_ok(), "{:?}", again.err());
}
