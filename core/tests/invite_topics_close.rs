//! An invite's topic takes contact requests for this device and nothing else; a closed invite
//! answers a few refused people for a while and then its topic is gone, with whatever
//! strangers left there.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hearth_core::clock::ManualClock;
use hearth_core::contacts::State;
use hearth_core::envelope::{Envelope, Header, PairwisePart, PAIRWISE_KEY, VERSION};
use hearth_core::invite::Invite;
use hearth_core::{wire, DeviceId};
use support::*;

const START_MS: u64 = 1_800_000_000_000;

/// A validly signed pairwise envelope on `topic` addressed to some other device.
fn junk_on(topic: hearth_core::TopicId) -> Vec<u8> {
    let kp = libp2p_identity::ed25519::Keypair::generate();
    let header = Header {
        version: VERSION,
        topic,
        author: DeviceId(kp.public().to_bytes()),
        seq: 1,
        key: PAIRWISE_KEY,
    };
    let parts = vec![PairwisePart {
        to: DeviceId([7; 32]),
        kind: 0,
        body: vec![1; 200],
    }];
    Envelope::seal(header, wire::encode(&parts), &kp).encode()
}

#[tokio::test]
async fn an_invite_topic_keeps_nothing_that_is_not_a_request_for_us() {
    let alice = Peer::new("Alice").await;
    let code = alice.node.create_invite(3600, vec![]).await.unwrap();
    let topic = Invite::decode(&code, 0).unwrap().topic;
    let report = alice.node.ingest(vec![junk_on(topic)]).await.unwrap();
    assert_eq!(report.new, 0, "{report:?}");
    let vv = alice.node.version_vectors().await.unwrap();
    assert!(vv.0.get(&topic).is_none_or(|v| v.is_empty()), "{vv:?}");
}

#[tokio::test]
async fn a_closed_invite_refuses_a_few_and_then_is_gone() {
    let clock = Arc::new(ManualClock(AtomicU64::new(START_MS)));
    let alice = Peer::on_clock("Alice", &clock).await;
    let code = alice.node.create_invite(3600, vec![]).await.unwrap();
    let topic = Invite::decode(&code, 0).unwrap().topic;
    alice.node.revoke_invite(&code).await.unwrap();
    // Ten strangers use the revoked code: every request is refused, only four are answered.
    let mut strangers = Vec::new();
    for i in 0..10 {
        let s = Peer::on_clock(&format!("S{i}"), &clock).await;
        s.node.accept_invite(&code).await.unwrap();
        let report = sync(&s, &alice).await;
        assert!(
            report.rejected.iter().any(|r| r.contains("revoked")),
            "{report:?}"
        );
        sync(&alice, &s).await;
        strangers.push(s);
    }
    let mut told = 0;
    for s in &strangers {
        if s.node.contacts().await.unwrap()[0].state == State::Refused {
            told += 1;
        }
    }
    assert_eq!(told, 4);
    assert!(alice
        .node
        .version_vectors()
        .await
        .unwrap()
        .0
        .contains_key(&topic));

    // Past the refusal period, the topic is gone, and so is everything on it.
    clock.0.fetch_add(4 * 24 * 3600 * 1000, Ordering::SeqCst);
    // (The writer sweeps closed invites after its next piece of work.)
    alice.node.set_name("Alice").await.unwrap();
    assert!(!alice
        .node
        .version_vectors()
        .await
        .unwrap()
        .0
        .contains_key(&topic));
    let report = alice.node.ingest(vec![junk_on(topic)]).await.unwrap();
    assert!(
        report.rejected.iter().any(|r| r.contains("does not hold")),
        "{report:?}"
    );
}
