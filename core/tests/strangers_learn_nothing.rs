//! A stranger on the LAN, speaking our protocol with a plain libp2p client, learns nothing
//! about conversations even when it names a real topic id; a peer that sends garbage is cut
//! off, and the family keeps talking.

mod support;

use std::time::Duration;

use futures::StreamExt;
use hearth_core::reach::Path;
use hearth_core::sync::protocol::{Request, Response, PROTOCOL, VERSION};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, StreamProtocol, Swarm};
use serde_bytes::ByteBuf;
use support::*;

type Stranger = Swarm<request_response::cbor::Behaviour<Request, Response>>;

fn stranger() -> Stranger {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::cbor::Behaviour::new(
                [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build()
}

/// Sends one request and returns the response (None if the connection or stream failed).
async fn ask(s: &mut Stranger, addr: &Multiaddr, req: Request) -> Option<Response> {
    let peer = loop {
        if let Some(p) = s.connected_peers().next().copied() {
            break p;
        }
        s.dial(addr.clone()).unwrap();
        loop {
            match s.select_next_some().await {
                SwarmEvent::ConnectionEstablished { .. } => break,
                SwarmEvent::OutgoingConnectionError { .. } => return None,
                _ => {}
            }
        }
    };
    s.behaviour_mut().send_request(&peer, req);
    loop {
        match s.select_next_some().await {
            SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            }) => return Some(response),
            SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => return None,
            SwarmEvent::ConnectionClosed { .. } => return None,
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stranger_gets_nothing_and_garbage_is_cut_off() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    alice
        .node
        .send_message(&chat, "family only", None)
        .await
        .unwrap();
    eventually("bob receives", || async {
        bob.bodies(&chat).await.len() == 1
    })
    .await;
    let addr: Multiaddr = alice.node.network_status().await.unwrap().unwrap().listen[0]
        .parse()
        .unwrap();

    // The stranger even knows every topic id and author Alice holds (worst case).
    let vv = alice.node.version_vectors().await.unwrap();
    let have: Vec<_> = vv.0.keys().map(|t| (*t, vec![])).collect();
    let mut eve = stranger();
    let resp = ask(
        &mut eve,
        &addr,
        Request::Sync {
            version: VERSION,
            have,
            reach: vec![],
        },
    )
    .await;
    match resp {
        Some(Response::Sync {
            envelopes,
            have,
            reach,
            ..
        }) => {
            assert!(envelopes.is_empty(), "a stranger got envelopes");
            assert!(have.is_empty(), "a stranger learned which topics exist");
            assert!(reach.is_empty());
        }
        other => panic!("unexpected answer {other:?}"),
    }
    // Pushing envelopes for a real topic changes nothing.
    let f = alice.path("all.bundle");
    alice.node.export_bundle(&f, None).await.unwrap();
    let (envs, _) = hearth_core::sync::bundle::read(&mut std::fs::File::open(&f).unwrap()).unwrap();
    let resp = ask(
        &mut eve,
        &addr,
        Request::Push {
            version: VERSION,
            envelopes: envs.into_iter().map(ByteBuf::from).collect(),
        },
    )
    .await;
    assert!(
        matches!(resp, Some(Response::Pushed { new: 0 })),
        "{resp:?}"
    );

    // Garbage (an unknown protocol version) gets refused and the stranger disconnected.
    let resp = ask(
        &mut eve,
        &addr,
        Request::Push {
            version: 99,
            envelopes: vec![],
        },
    )
    .await;
    assert!(matches!(resp, Some(Response::Refused) | None), "{resp:?}");
    // A sync of a version we do not speak, from a fresh stranger.
    let mut raw = stranger();
    let _ = ask(
        &mut raw,
        &addr,
        Request::Sync {
            version: 0,
            have: vec![],
            reach: vec![],
        },
    )
    .await;

    // The family is unaffected.
    bob.node
        .send_message(&chat, "still here", None)
        .await
        .unwrap();
    eventually("alice still receives", || async {
        alice.bodies(&chat).await.len() == 2
    })
    .await;
}

async fn path_of(p: &Peer, name: &str) -> Option<Path> {
    p.node
        .reachability()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.path)
}

async fn tracked(p: &Peer) -> usize {
    p.node.network_status().await.unwrap().unwrap().tracked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_grows_no_state_and_is_nobodys_path() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let bob_device = bob.node.profile().await.unwrap().device;
    bob.node.stop_network().await.unwrap();
    eventually("Bob is unreachable for Alice", || async {
        path_of(&alice, "Bob").await == Some(Path::None)
    })
    .await;
    let before = tracked(&alice).await;
    let addr: Multiaddr = alice.node.network_status().await.unwrap().unwrap().listen[0]
        .parse()
        .unwrap();
    // A stranger loops sync requests naming thousands of fresh topics, and claims to reach
    // Bob (and a thousand made-up devices).
    let mut eve = stranger();
    for _ in 0..20 {
        let have = (0..4000)
            .map(|_| {
                (
                    hearth_core::TopicId::random(),
                    vec![(hearth_core::DeviceId(rand::random()), 7)],
                )
            })
            .collect();
        let mut reach: Vec<_> = (0..1000)
            .map(|_| hearth_core::DeviceId(rand::random()))
            .collect();
        reach[0] = bob_device;
        let resp = ask(
            &mut eve,
            &addr,
            Request::Sync {
                version: VERSION,
                have,
                reach,
            },
        )
        .await;
        assert!(matches!(resp, Some(Response::Sync { .. })), "{resp:?}");
    }
    // Alice holds one entry for the stranger's connection, nothing more; Bob is not "reachable
    // through" anyone.
    assert!(tracked(&alice).await <= before + 1);
    assert_eq!(path_of(&alice, "Bob").await, Some(Path::None));
    // When the stranger leaves, even that entry goes.
    drop(eve);
    eventually("the stranger's entry is gone", || async {
        tracked(&alice).await <= before
    })
    .await;
}
