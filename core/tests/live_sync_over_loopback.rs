//! Nodes on the network (loopback, no mDNS): contact requests, messages, groups and the mesh
//! travel live, and a device that was away catches up when it comes back.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_and_messages_travel_live() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    alice.node.send(&chat, "안녕, 들려?", None).await.unwrap();
    eventually("bob receives", || async { bob.bodies(&chat).await == vec!["안녕, 들려?"] }).await;
    bob.node.send(&chat, "응 잘 들려", None).await.unwrap();
    eventually("alice receives", || async { alice.bodies(&chat).await.len() == 2 }).await;
    let reach = alice.node.reachability().await.unwrap();
    assert_eq!(reach[0].path, "lan", "{reach:?}");
}
