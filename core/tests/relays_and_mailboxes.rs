//! Relays and blind mailboxes, in process on loopback: a real relay (`hearth_core::relay`),
//! real nodes configured with it, and a hostile libp2p peer speaking the same protocols.

mod support;

use std::time::Duration;

use futures::StreamExt;
use hearth_core::contacts::State;
use hearth_core::mailbox::protocol as mailbox;
use hearth_core::message::DeliveryState;
use hearth_core::reach::Path;
use hearth_core::relay;
use hearth_core::sync::protocol::{self as sync, Request, Response};
use hearth_core::TopicId;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, tcp, yamux, Multiaddr, StreamProtocol, Swarm};
use serde_bytes::ByteBuf;
use support::relays::*;
use support::*;

async fn status_of(
    p: &Peer,
    chat: &hearth_core::ChatId,
    id: &hearth_core::MessageId,
) -> Option<DeliveryState> {
    p.node
        .messages(chat, 100, None)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == *id)
        .and_then(|m| m.status)
}

/// The sender goes offline after handing the message to the mailbox; the recipient, coming
/// online later, gets it from the mailbox alone; the sender then learns it was delivered. The
/// relay's whole data directory holds no message text, no name and no member's key.
#[tokio::test(flavor = "multi_thread")]
async fn mailbox_holds_messages_for_the_offline_and_sees_only_ciphertext() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(relay_dir.path()).await;
    // Contacts through a file: neither knows where the other is on the network.
    let (grandma, grandson) = contacts("Grandma-Kim", "Grandson-Lee").await;
    let chat = dm(&grandma, "Grandson-Lee").await;

    grandma.node.start_network(with_relay(&addr)).await.unwrap();
    wait_kept(&grandma).await;
    let secret = "할머니 비밀번호는 1234야 — secret-plaintext-marker";
    let id = grandma
        .node
        .send_message(&chat, secret, None)
        .await
        .unwrap();
    eventually("handed to a mailbox", || async {
        status_of(&grandma, &chat, &id).await == Some(DeliveryState::InMailbox)
    })
    .await;
    grandma.node.stop_network().await.unwrap();

    grandson
        .node
        .start_network(with_relay(&addr))
        .await
        .unwrap();
    let his_chat = dm(&grandson, "Grandma-Kim").await;
    eventually("the grandson gets it from the mailbox", || async {
        grandson.bodies(&his_chat).await == vec![secret.to_string()]
    })
    .await;

    grandma.node.start_network(with_relay(&addr)).await.unwrap();
    eventually("Grandma learns it was delivered", || async {
        status_of(&grandma, &chat, &id).await == Some(DeliveryState::Delivered)
    })
    .await;
    let usage = relay.status().await.unwrap().mailbox;
    assert!(usage.envelopes > 0, "the mailbox held envelopes: {usage:?}");

    relay.stop().await.unwrap();
    let held = all_bytes_under(relay_dir.path());
    assert!(held.len() > 4096, "the relay's files were read");
    for needle in [
        secret.as_bytes(),
        "secret-plaintext-marker".as_bytes(),
        "Grandma-Kim".as_bytes(),
        "Grandson-Lee".as_bytes(),
    ] {
        assert!(
            !contains(&held, needle),
            "relay holds {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    for p in [&grandma, &grandson] {
        let key = std::fs::read(p.path("store.key")).unwrap();
        assert!(!contains(&held, &key), "relay holds a member's store key");
    }
}

/// A mailbox learns which devices use it, and no more of the family than the authors of what
/// is deposited: Dad is in the group but never uses this relay, so his device is on none of
/// its member lists, and his account appears nowhere in its files. (Before each device asked
/// only for itself, Mom's keep list named every member device of every conversation.) Dad's
/// device key does reach the relay as the signer of envelopes Mom forwards: the mailbox checks
/// signatures.
#[tokio::test(flavor = "multi_thread")]
async fn a_mailbox_learns_only_the_devices_that_use_it() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(relay_dir.path()).await;
    let mom = Peer::new("Mom").await;
    let son = Peer::new("Son").await;
    let dad = Peer::new("Dad").await;
    support::connect(&mom, &son).await;
    support::connect(&mom, &dad).await;
    let ids = [
        mom.node.find_contact("Son").await.unwrap().account,
        mom.node.find_contact("Dad").await.unwrap().account,
    ];
    let chat = mom.node.create_group("가족", &ids).await.unwrap();
    sync_all(&[&mom, &son, &dad]).await;
    let dad_id = dad.node.profile().await.unwrap();

    mom.node.start_network(with_relay(&addr)).await.unwrap();
    wait_kept(&mom).await;
    let id = mom
        .node
        .send_message(&chat, "dinner at seven", None)
        .await
        .unwrap();
    eventually("handed to a mailbox", || async {
        status_of(&mom, &chat, &id).await == Some(DeliveryState::InMailbox)
    })
    .await;
    mom.node.stop_network().await.unwrap();
    son.node.start_network(with_relay(&addr)).await.unwrap();
    eventually("Son gets it from the mailbox", || async {
        son.bodies(&chat).await == vec!["dinner at seven".to_string()]
    })
    .await;
    son.node.stop_network().await.unwrap();

    relay.stop().await.unwrap();
    let held = all_bytes_under(relay_dir.path());
    let mom_device = mom.node.profile().await.unwrap().device;
    assert!(
        contains(&held, &mom_device.0),
        "the relay's files were read"
    );
    let db = rusqlite::Connection::open(relay_dir.path().join("mailbox.db")).unwrap();
    let mut kept_for: Vec<Vec<u8>> = db
        .prepare("SELECT DISTINCT device FROM members")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    kept_for.sort();
    let son_device = son.node.profile().await.unwrap().device;
    let mut users = vec![mom_device.0.to_vec(), son_device.0.to_vec()];
    users.sort();
    assert_eq!(
        kept_for, users,
        "only the devices that use the mailbox are on its lists"
    );
    assert!(
        !contains(&held, &dad_id.account.0),
        "the relay learned Dad's account"
    );
}

/// Mom hands out an invite and goes offline; Son accepts it and his request waits in the
/// mailbox, where Mom fetches it later (she keeps her open invites' topics there, proving she
/// knows each invite's secret); her confirmation waits there for Son in turn. Neither is ever
/// online at the same time as the other.
#[tokio::test(flavor = "multi_thread")]
async fn an_invite_is_accepted_through_the_mailbox_while_the_inviter_is_away() {
    let d = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(d.path()).await;
    let mom = Peer::new("Mom").await;
    mom.node.start_network(with_relay(&addr)).await.unwrap();
    let code = mom.node.create_invite(3600, vec![]).await.unwrap();
    wait_kept(&mom).await;
    mom.node.stop_network().await.unwrap();

    let son = Peer::new("Son").await;
    son.node.accept_invite(&code).await.unwrap();
    son.node.use_invite_relays(&code).await.unwrap();
    son.node.start_network(with_relay(&addr)).await.unwrap();
    eventually("Son's request waits in the mailbox", || async {
        relay.status().await.unwrap().mailbox.envelopes > 0
    })
    .await;
    son.node.stop_network().await.unwrap();
    let held = relay.status().await.unwrap().mailbox.envelopes;

    mom.node.start_network(with_relay(&addr)).await.unwrap();
    eventually("Mom gets Son's request from the mailbox", || async {
        mom.node
            .find_contact("Son")
            .await
            .is_ok_and(|c| c.state == State::Connected)
    })
    .await;
    eventually("Mom's confirmation waits in the mailbox", || async {
        relay.status().await.unwrap().mailbox.envelopes > held
    })
    .await;
    mom.node.stop_network().await.unwrap();

    son.node.start_network(with_relay(&addr)).await.unwrap();
    eventually("Son learns Mom confirmed", || async {
        son.node
            .find_contact("Mom")
            .await
            .is_ok_and(|c| c.state == State::Connected)
    })
    .await;
}

/// Two relays: losing one changes nothing visible — the message still reaches the offline
/// member through the other's mailbox.
#[tokio::test(flavor = "multi_thread")]
async fn two_relays_are_used_redundantly() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (r1, a1) = start_relay(d1.path()).await;
    let (_r2, a2) = start_relay(d2.path()).await;
    let (mom, son) = contacts("Mom", "Son").await;
    let chat = dm(&mom, "Son").await;
    let both = hearth_core::net::Config {
        relays: vec![a1.clone(), a2.clone()],
        ..with_relay(&a1)
    };
    mom.node.start_network(both.clone()).await.unwrap();
    eventually("both mailboxes keep Mom's topics", || async {
        mom.node
            .network_status()
            .await
            .unwrap()
            .map(|s| s.relays.iter().filter(|r| r.kept > 0 && r.reserved).count() == 2)
            .unwrap_or(false)
    })
    .await;
    let id = mom
        .node
        .send_message(&chat, "both relays hold this", None)
        .await
        .unwrap();
    eventually("handed to a mailbox", || async {
        status_of(&mom, &chat, &id).await == Some(DeliveryState::InMailbox)
    })
    .await;
    // Both mailboxes hold it before one of them dies.
    eventually("relay 1 holds it", || async {
        r1.status().await.unwrap().mailbox.envelopes > 0
    })
    .await;
    mom.node.stop_network().await.unwrap();
    r1.stop().await.unwrap();
    son.node.start_network(both).await.unwrap();
    let his = dm(&son, "Mom").await;
    eventually("Son gets it through the surviving relay", || async {
        son.bodies(&his).await == vec!["both relays hold this".to_string()]
    })
    .await;
}

/// A relay travels in an invite: whoever accepts Mom's code is offered her relays, and starts
/// using them (at once, and kept in its settings) only after agreeing — never in LAN-only mode.
#[tokio::test(flavor = "multi_thread")]
async fn relays_travel_in_invites_and_are_used_only_when_agreed() {
    let d = tempfile::tempdir().unwrap();
    let (_relay, addr) = start_relay(d.path()).await;
    let mom = Peer::new("Mom").await;
    mom.node.start_network(with_relay(&addr)).await.unwrap();
    let code = mom.node.create_invite(3600, vec![]).await.unwrap();
    let inv = hearth_core::invite::Invite::decode(&code, 0).unwrap();
    assert!(
        inv.addrs
            .iter()
            .any(|a| a.starts_with(&format!("{addr}/p2p-circuit/p2p/"))),
        "Mom's invite carries her address through the relay: {:?}",
        inv.addrs
    );

    let son = Peer::new("Son").await;
    let open = hearth_core::net::Config {
        lan_only: false,
        ..loopback()
    };
    son.node.start_network(open).await.unwrap();
    // Accepting the code uses no relay of it: the app asks first.
    assert_eq!(
        son.node.invite_relays(&code).await.unwrap(),
        vec![addr.to_string()]
    );
    son.node.accept_invite(&code).await.unwrap();
    assert!(son.node.settings().await.unwrap().relays.is_empty());
    let status = son.node.network_status().await.unwrap().unwrap();
    assert!(status.relays.is_empty(), "{:?}", status.relays);
    // Son agrees.
    assert_eq!(
        son.node.use_invite_relays(&code).await.unwrap(),
        vec![addr.to_string()]
    );
    assert_eq!(
        son.node.settings().await.unwrap().relays,
        vec![addr.to_string()]
    );
    eventually("Son holds a reservation on Mom's relay", || async {
        son.node
            .network_status()
            .await
            .unwrap()
            .map(|s| s.relays.iter().any(|r| r.reserved))
            .unwrap_or(false)
    })
    .await;

    let grandpa = Peer::new("Grandpa").await;
    grandpa.node.set_lan_only(true).await.unwrap();
    let code = mom.node.create_invite(3600, vec![]).await.unwrap();
    assert!(grandpa.node.invite_relays(&code).await.unwrap().is_empty());
    grandpa.node.accept_invite(&code).await.unwrap();
    grandpa.node.use_invite_relays(&code).await.unwrap();
    assert!(
        grandpa.node.settings().await.unwrap().relays.is_empty(),
        "LAN-only mode learns no relay"
    );
}

/// "Mailbox only" is said of a contact only when a mailbox really keeps mail for them: this
/// mailbox has room for Grandson's topics but not for Aunt's, who came later.
#[tokio::test(flavor = "multi_thread")]
async fn mailbox_only_is_said_of_contacts_whose_mail_it_keeps() {
    let d = tempfile::tempdir().unwrap();
    let limits = hearth_core::mailbox::Limits {
        total_topics: 2,
        ..Default::default()
    };
    let (_relay, addr) = start_relay_with(d.path(), limits).await;
    let (grandma, _grandson) = contacts("Grandma", "Grandson").await;
    grandma.node.start_network(with_relay(&addr)).await.unwrap();
    wait_kept(&grandma).await;
    let aunt = Peer::new("Aunt").await;
    support::connect(&grandma, &aunt).await;
    let path_of = |name: &'static str| {
        let node = grandma.node.clone();
        async move {
            node.reachability()
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.name == name)
                .map(|r| r.path)
        }
    };
    eventually(
        "Grandson, offline, is reached through the mailbox",
        || async { path_of("Grandson").await == Some(Path::Mailbox) },
    )
    .await;
    // The mailbox is asked to keep Aunt's topics too, but has no room for them.
    assert_eq!(path_of("Aunt").await, Some(Path::None));
}

// ---- a hostile peer ----

#[derive(NetworkBehaviour)]
struct Stranger {
    relay: libp2p::relay::client::Behaviour,
    identify: libp2p::identify::Behaviour,
    rendezvous: libp2p::rendezvous::client::Behaviour,
    sync: request_response::cbor::Behaviour<Request, Response>,
    mailbox: request_response::cbor::Behaviour<mailbox::Request, mailbox::Response>,
}

fn stranger() -> Swarm<Stranger> {
    let big = 16 * 1024 * 1024;
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|key, relay| Stranger {
            relay,
            identify: libp2p::identify::Behaviour::new(libp2p::identify::Config::new(
                "/stranger/1".into(),
                key.public(),
            )),
            rendezvous: libp2p::rendezvous::client::Behaviour::new(key.clone()),
            sync: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(big)
                    .set_response_size_maximum(big),
                [(
                    StreamProtocol::new(sync::PROTOCOL),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            ),
            mailbox: request_response::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default(),
                [(
                    StreamProtocol::new(mailbox::PROTOCOL),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            ),
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

enum Answer {
    Sync(Response),
    Keep(mailbox::Response),
    Failed,
}

/// Sends one request and waits for its answer (or failure).
enum Ask {
    Sync(Request),
    Keep(mailbox::Request),
}

async fn ask(s: &mut Swarm<Stranger>, relay: &libp2p::PeerId, req: Ask) -> Answer {
    match req {
        Ask::Sync(r) => {
            s.behaviour_mut().sync.send_request(relay, r);
        }
        Ask::Keep(r) => {
            s.behaviour_mut().mailbox.send_request(relay, r);
        }
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
            .await
            .expect("answer in time")
        {
            SwarmEvent::Behaviour(StrangerEvent::Sync(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => return Answer::Sync(response),
            SwarmEvent::Behaviour(StrangerEvent::Mailbox(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => return Answer::Keep(response),
            SwarmEvent::Behaviour(StrangerEvent::Sync(
                request_response::Event::OutboundFailure { .. },
            ))
            | SwarmEvent::Behaviour(StrangerEvent::Mailbox(
                request_response::Event::OutboundFailure { .. },
            )) => return Answer::Failed,
            _ => {}
        }
    }
}

/// Every envelope a node holds, from a bundle of all of them.
async fn envelopes_of(p: &Peer) -> Vec<Vec<u8>> {
    let file = p.path("all.bundle");
    p.node.export_bundle(&file, None).await.unwrap();
    let (envs, damage) =
        hearth_core::sync::bundle::read(&mut std::fs::File::open(&file).unwrap()).unwrap();
    assert!(damage.is_none(), "{damage:?}");
    envs
}

/// A stranger who knows the family's topic ids and holds copies of its envelopes can neither
/// fetch, nor deposit, nor join; its answers are the same as for a topic nobody keeps, and no
/// answer lists who the members are.
#[tokio::test(flavor = "multi_thread")]
async fn strangers_cannot_use_the_mailbox_or_learn_who_is_in_it() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(relay_dir.path()).await;
    let (mom, _son) = contacts("Mom", "Son").await;
    let chat = dm(&mom, "Son").await;
    mom.node.start_network(with_relay(&addr)).await.unwrap();
    wait_kept(&mom).await;
    let id = mom
        .node
        .send_message(&chat, "for Son only", None)
        .await
        .unwrap();
    eventually("handed to a mailbox", || async {
        status_of(&mom, &chat, &id).await == Some(DeliveryState::InMailbox)
    })
    .await;
    let before = relay.status().await.unwrap().mailbox;
    let topics: Vec<TopicId> = mom
        .node
        .version_vectors()
        .await
        .unwrap()
        .0
        .keys()
        .copied()
        .collect();
    assert!(!topics.is_empty());
    let envs = envelopes_of(&mom).await;

    let mut s = stranger();
    let r = dial_relay(&mut s, &addr).await;
    let have: sync::WireHave = topics.iter().map(|t| (*t, vec![])).collect();
    // Fetch: nothing, and the mailbox's `have` says nothing either.
    match ask(
        &mut s,
        &r,
        Ask::Sync(Request::Sync {
            version: sync::VERSION,
            have: have.clone(),
            reach: vec![],
        }),
    )
    .await
    {
        Answer::Sync(Response::Sync {
            envelopes, have, ..
        }) => {
            assert!(
                envelopes.is_empty() && have.is_empty(),
                "a stranger fetched something"
            );
        }
        _ => panic!("no answer to a sync"),
    }
    // Deposit the family's own envelopes: refused, like a deposit for a topic nobody keeps.
    let push = |e: Vec<Vec<u8>>| {
        Ask::Sync(Request::Push {
            version: sync::VERSION,
            envelopes: e.into_iter().map(ByteBuf::from).collect(),
        })
    };
    let Answer::Sync(family) = ask(&mut s, &r, push(envs.clone())).await else {
        panic!("no answer")
    };
    assert_eq!(family, Response::Pushed { new: 0 });
    // Join: refused, and still nothing to fetch.
    let me = hearth_core::DeviceId(
        s.local_peer_id().as_ref().digest()[4..36]
            .try_into()
            .unwrap(),
    );
    // Without the topics' secrets: its own topic key for each, which cannot hash to the
    // family's topic.
    let keep = mailbox::Request::Keep {
        version: mailbox::VERSION,
        topics: topics
            .iter()
            .map(|t| {
                let own = hearth_core::mailbox::access::TopicSecret::for_group(t.as_bytes());
                (*t, own.proof(&me))
            })
            .collect(),
    };
    match ask(&mut s, &r, Ask::Keep(keep)).await {
        Answer::Keep(mailbox::Response::Kept { topics }) => {
            assert!(topics.is_empty(), "a stranger joined")
        }
        _ => panic!("no answer to keep"),
    }
    match ask(
        &mut s,
        &r,
        Ask::Sync(Request::Sync {
            version: sync::VERSION,
            have,
            reach: vec![],
        }),
    )
    .await
    {
        Answer::Sync(Response::Sync { envelopes, .. }) => assert!(envelopes.is_empty()),
        _ => panic!("no answer to a sync"),
    }
    assert_eq!(
        relay.status().await.unwrap().mailbox,
        before,
        "the stranger changed the mailbox"
    );
}

/// Floods from one peer: reservations beyond its share are denied, streams beyond what the
/// relay serves at once fail fast, an oversize frame is refused unread — and afterwards the
/// relay still serves everyone.
#[tokio::test(flavor = "multi_thread")]
async fn floods_and_oversize_frames_are_refused_and_the_relay_keeps_serving() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(relay_dir.path()).await;
    let mut s = stranger();
    let r = dial_relay(&mut s, &addr).await;

    // 40 reservations from one peer.
    for _ in 0..40 {
        s.listen_on(addr.clone().with(libp2p::multiaddr::Protocol::P2pCircuit))
            .unwrap();
    }
    let (mut accepted, mut ended) = (0, 0);
    while accepted + ended < 40 {
        match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
            .await
            .expect("reservation answers")
        {
            SwarmEvent::Behaviour(StrangerEvent::Relay(
                libp2p::relay::client::Event::ReservationReqAccepted { renewal: false, .. },
            )) => accepted += 1,
            SwarmEvent::ListenerClosed { .. } => ended += 1,
            _ => {}
        }
    }
    assert!(accepted <= 4, "{accepted} reservations for one peer");
    assert!(relay.status().await.unwrap().reservations <= 1);

    // 300 requests at once on one connection.
    for _ in 0..300 {
        s.behaviour_mut().sync.send_request(
            &r,
            Request::Sync {
                version: sync::VERSION,
                have: vec![],
                reach: vec![],
            },
        );
    }
    let (mut answered, mut failed) = (0, 0);
    while answered + failed < 300 {
        match tokio::time::timeout(Duration::from_secs(60), s.select_next_some())
            .await
            .expect("request outcomes")
        {
            SwarmEvent::Behaviour(StrangerEvent::Sync(request_response::Event::Message {
                ..
            })) => answered += 1,
            SwarmEvent::Behaviour(StrangerEvent::Sync(
                request_response::Event::OutboundFailure { .. },
            )) => failed += 1,
            _ => {}
        }
    }
    assert!(answered > 0, "the relay answered none");

    // An oversize frame (8 MiB of "envelopes"): refused without being stored.
    let huge = vec![ByteBuf::from(vec![7u8; 8 * 1024 * 1024])];
    let res = ask(
        &mut s,
        &r,
        Ask::Sync(Request::Push {
            version: sync::VERSION,
            envelopes: huge,
        }),
    )
    .await;
    assert!(
        matches!(res, Answer::Failed | Answer::Sync(Response::Refused)),
        "oversize frame accepted"
    );
    assert_eq!(relay.status().await.unwrap().mailbox.envelopes, 0);

    // Someone else is still served.
    let mut other = stranger();
    let r2 = dial_relay(&mut other, &addr).await;
    match ask(
        &mut other,
        &r2,
        Ask::Sync(Request::Sync {
            version: sync::VERSION,
            have: vec![],
            reach: vec![],
        }),
    )
    .await
    {
        Answer::Sync(Response::Sync { .. }) => {}
        _ => panic!("the relay stopped serving after the flood"),
    }
}

/// Asks the relay at `relay` for a reservation; true if it granted one.
async fn reserve(s: &mut Swarm<Stranger>, relay: &Multiaddr) -> bool {
    s.listen_on(relay.clone().with(libp2p::multiaddr::Protocol::P2pCircuit))
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
            .await
            .expect("a reservation answer")
        {
            SwarmEvent::Behaviour(StrangerEvent::Relay(
                libp2p::relay::client::Event::ReservationReqAccepted { .. },
            )) => return true,
            SwarmEvent::ListenerClosed { .. } | SwarmEvent::ConnectionClosed { .. } => {
                return false
            }
            _ => {}
        }
    }
}

/// Any libp2p implementation can use the relay: its identify answer lists the standard
/// protocols it serves — circuit relay v2 (hop), rendezvous, AutoNAT v2, ping, identify —
/// besides Hearth's sync and mailbox.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_speaks_the_standard_libp2p_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, addr) = start_relay(dir.path()).await;
    let mut s = stranger();
    s.dial(addr).unwrap();
    let info = loop {
        if let SwarmEvent::Behaviour(StrangerEvent::Identify(libp2p::identify::Event::Received {
            info,
            ..
        })) = tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
            .await
            .expect("the relay identifies itself")
        {
            break info;
        }
    };
    let spoken: Vec<String> = info.protocols.iter().map(|p| p.to_string()).collect();
    for p in [
        "/libp2p/circuit/relay/0.2.0/hop",
        "/rendezvous/1.0.0",
        "/libp2p/autonat/2/dial-request",
        "/ipfs/ping/1.0.0",
        "/ipfs/id/1.0.0",
        "/hearth/sync/1",
        "/hearth/mailbox/2",
    ] {
        assert!(spoken.iter().any(|s| s == p), "{p} not in {spoken:?}");
    }
    assert!(info.agent_version.starts_with("hearth-relay/"));
}

/// Peer ids cost nothing: one machine making up identities gets a household's share of the
/// relay (connections, and with them reservations), and a family on another address is
/// still served.
#[tokio::test(flavor = "multi_thread")]
async fn one_machine_with_many_identities_cannot_take_the_relays_slots() {
    const PER_SOURCE: u32 = 8;
    let dir = tempfile::tempdir().unwrap();
    let h = relay::start(relay::Config {
        data_dir: dir.path().to_path_buf(),
        listen: vec![
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            "/ip6/::1/tcp/0".parse().unwrap(),
        ],
        external: vec![],
        limits: Default::default(),
        max_per_source: PER_SOURCE,
    })
    .await
    .unwrap();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for _ in 0..500 {
        addrs = h
            .status()
            .await
            .unwrap()
            .addrs
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        if addrs.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        addrs.len(),
        2,
        "the relay listens on IPv4 and IPv6 loopback"
    );
    let v4 = addrs
        .iter()
        .find(|a| a.to_string().starts_with("/ip4/"))
        .unwrap()
        .clone();
    let v6 = addrs
        .iter()
        .find(|a| a.to_string().starts_with("/ip6/"))
        .unwrap()
        .clone();

    // 20 identities from 127.0.0.1.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        let mut s = stranger();
        s.dial(v4.clone()).unwrap();
        let connected = loop {
            match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
                .await
                .expect("an outcome in time")
            {
                SwarmEvent::ConnectionEstablished { .. } => break true,
                SwarmEvent::OutgoingConnectionError { .. }
                | SwarmEvent::ConnectionClosed { .. } => break false,
                _ => {}
            }
        };
        if connected {
            held.push(s);
        } else {
            refused += 1;
        }
    }
    assert_eq!(
        held.len(),
        PER_SOURCE as usize,
        "connections from one source"
    );
    assert_eq!(refused, 20 - PER_SOURCE as usize);

    // Each held identity asks for a reservation: no more than its connections allow.
    let mut reserved = 0;
    for s in held.iter_mut() {
        if reserve(s, &v4).await {
            reserved += 1;
        }
    }
    assert!(
        reserved >= 1 && reserved <= PER_SOURCE as usize / 2,
        "{reserved} reservations from one source in a burst"
    );
    assert!(h.status().await.unwrap().reservations <= PER_SOURCE as usize);

    // A family device on another address connects and reserves as usual.
    let mut family = stranger();
    dial_relay(&mut family, &v6).await;
    assert!(
        reserve(&mut family, &v6).await,
        "the family was refused a reservation"
    );
    // When the flood's connections go, their slots are free again.
    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut again = stranger();
        again.dial(v4.clone()).unwrap();
        let ok = loop {
            match tokio::time::timeout(Duration::from_secs(5), again.select_next_some()).await {
                Ok(SwarmEvent::ConnectionEstablished { .. }) => break true,
                Ok(SwarmEvent::OutgoingConnectionError { .. })
                | Ok(SwarmEvent::ConnectionClosed { .. })
                | Err(_) => break false,
                _ => {}
            }
        };
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a new connection from 127.0.0.1 is accepted again"
        );
    }
}

/// A device with a relay publishes nothing at the relay's rendezvous: someone who knows its
/// device id (or asks the relay for every registration) learns no address of it. Family reach
/// it by dialling through the relay.
#[tokio::test(flavor = "multi_thread")]
async fn nobody_finds_a_device_by_its_id_at_the_relay() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (_relay, addr) = start_relay(relay_dir.path()).await;
    let mom = Peer::new("Mom").await;
    mom.node.start_network(with_relay(&addr)).await.unwrap();
    let device = mom.node.profile().await.unwrap().device;
    eventually("Mom holds a reservation at the relay", || async {
        mom.node
            .network_status()
            .await
            .unwrap()
            .is_some_and(|s| s.relays.iter().any(|r| r.reserved))
    })
    .await;
    let mut s = stranger();
    let r = dial_relay(&mut s, &addr).await;
    let by_id = libp2p::rendezvous::Namespace::new(format!("hearth/{device}")).unwrap();
    for ns in [Some(by_id), None] {
        s.behaviour_mut()
            .rendezvous
            .discover(ns.clone(), None, None, r);
        let found = loop {
            match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
                .await
                .expect("discover answer")
            {
                SwarmEvent::Behaviour(StrangerEvent::Rendezvous(
                    libp2p::rendezvous::client::Event::Discovered { registrations, .. },
                )) => break registrations,
                SwarmEvent::Behaviour(StrangerEvent::Rendezvous(
                    libp2p::rendezvous::client::Event::DiscoverFailed { .. },
                )) => break vec![],
                _ => {}
            }
        };
        assert!(
            found
                .iter()
                .all(|reg| reg.record.peer_id().to_string() != device.to_string()),
            "{ns:?} found Mom: {found:?}"
        );
    }
}
