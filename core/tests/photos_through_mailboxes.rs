//! Photos, voice messages and files through a family relay's mailbox, in process on loopback:
//! the sender deposits what it sends with the relay, a member who was offline when it was sent
//! (and who never meets the sender) fetches it from there, and a stranger speaking the same
//! protocols neither fetches nor deposits anything.

mod support;

use std::time::Duration;

use futures::StreamExt;
use hearth_core::blob::protocol::{self as blob, Part};
use hearth_core::blob::store::BlobState;
use hearth_core::blob::BlobId;
use hearth_core::blob::Kind;
use hearth_core::mailbox::blob_protocol as deposit;
use hearth_core::node::Outgoing;
use hearth_core::TopicId;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, tcp, yamux, StreamProtocol, Swarm};
use serde_bytes::ByteBuf;
use support::relays::*;
use support::*;

async fn deposited(p: &Peer) -> u64 {
    p.node
        .network_status()
        .await
        .unwrap()
        .map_or(0, |s| s.blobs_deposited)
}

/// A file of about 700 KB (three chunks) that says what it is on every line.
fn letter() -> Vec<u8> {
    (0..20_000)
        .flat_map(|i| format!("line {i:05} of grandma-letter-plaintext\n").into_bytes())
        .collect()
}

/// Grandma sends a file while her grandson is offline and goes offline herself before he comes
/// back: he gets the message from the mailbox, asks for the file, and gets it whole from the
/// relay alone. The relay's files hold none of its plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_waits_in_the_family_relays_mailbox_for_a_member_who_was_offline() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(relay_dir.path()).await;
    // Contacts through a file: neither knows where the other is on the network.
    let (grandma, grandson) = contacts("Grandma-Kim", "Grandson-Lee").await;
    // He asks the mailbox to keep their conversation first, as a member's device does
    // whenever it is online; then he goes away.
    grandson
        .node
        .start_network(with_relay(&addr))
        .await
        .unwrap();
    wait_kept(&grandson).await;
    grandson.node.stop_network().await.unwrap();

    let chat = dm(&grandma, "Grandson-Lee").await;
    grandma.node.start_network(with_relay(&addr)).await.unwrap();
    wait_kept(&grandma).await;
    let data = letter();
    let id = grandma
        .node
        .send_attachment(
            &chat,
            "",
            None,
            Outgoing::bytes(Kind::File, "letter.txt", "text/plain", data.clone()),
        )
        .await
        .unwrap();
    let blob = grandma.node.attachment(&id).await.unwrap().blob;
    eventually("the relay holds the whole file", || async {
        deposited(&grandma).await == 1
    })
    .await;
    let usage = relay.status().await.unwrap().mailbox;
    assert_eq!(usage.blobs, 1, "{usage:?}");
    grandma.node.stop_network().await.unwrap();

    grandson
        .node
        .start_network(with_relay(&addr))
        .await
        .unwrap();
    let his_chat = dm(&grandson, "Grandma-Kim").await;
    eventually("the message arrives from the mailbox", || async {
        attachment_state(&grandson, &his_chat, &id).await.is_some()
    })
    .await;
    // Grandma is offline: the relay is the only source. (It listens on loopback, a local
    // address, so the file may come by itself; across homes it waits for this tap, as
    // `cli/tests/beyond_the_lan.rs` shows.)
    grandson.node.fetch_blob(&blob).await.unwrap();
    eventually("he gets the whole file from the relay", || async {
        attachment_state(&grandson, &his_chat, &id).await == Some(BlobState::Complete)
    })
    .await;
    assert_eq!(grandson.node.blob_bytes(&blob).await.unwrap(), data);

    relay.stop().await.unwrap();
    let held = all_bytes_under(relay_dir.path());
    assert!(held.len() > data.len(), "the relay's files were read");
    for needle in [&b"grandma-letter-plaintext"[..], b"letter.txt"] {
        assert!(
            !contains(&held, needle),
            "relay holds {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}

#[derive(NetworkBehaviour)]
struct Stranger {
    blob: request_response::cbor::Behaviour<blob::Request, blob::Response>,
    deposit: request_response::cbor::Behaviour<deposit::Request, deposit::Response>,
}

fn stranger() -> Swarm<Stranger> {
    let big = 4 * 1024 * 1024;
    fn codec<Q, A>(big: u64) -> request_response::cbor::codec::Codec<Q, A> {
        request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(big)
            .set_response_size_maximum(big)
    }
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| Stranger {
            blob: request_response::Behaviour::with_codec(
                codec(big),
                [(
                    StreamProtocol::new(blob::PROTOCOL),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            ),
            deposit: request_response::Behaviour::with_codec(
                codec(big),
                [(
                    StreamProtocol::new(deposit::PROTOCOL),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            ),
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

enum Ask {
    Blob(blob::Request),
    Deposit(deposit::Request),
}

#[derive(Debug)]
enum Answer {
    Blob(blob::Response),
    Deposit(deposit::Response),
}

async fn ask(s: &mut Swarm<Stranger>, relay: &libp2p::PeerId, req: Ask) -> Answer {
    match req {
        Ask::Blob(r) => {
            s.behaviour_mut().blob.send_request(relay, r);
        }
        Ask::Deposit(r) => {
            s.behaviour_mut().deposit.send_request(relay, r);
        }
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.select_next_some())
            .await
            .expect("answer in time")
        {
            SwarmEvent::Behaviour(StrangerEvent::Blob(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => return Answer::Blob(response),
            SwarmEvent::Behaviour(StrangerEvent::Deposit(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => return Answer::Deposit(response),
            SwarmEvent::Behaviour(StrangerEvent::Blob(
                request_response::Event::OutboundFailure { error, .. },
            ))
            | SwarmEvent::Behaviour(StrangerEvent::Deposit(
                request_response::Event::OutboundFailure { error, .. },
            )) => panic!("request failed: {error}"),
            _ => {}
        }
    }
}

/// A stranger who knows the family's topic and the blob's id (both leak no key) and replays
/// every byte the sender deposited — a modified client speaking the blob protocols — cannot
/// fetch the blob, learn whether it is there, or deposit anything: not the blob's own parts
/// under the family's topic, not a blob of its own. The relay holds exactly what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_fetch_or_deposit_blobs_at_a_mailbox() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (relay, addr) = start_relay(relay_dir.path()).await;
    let (mom, _son) = contacts("Mom", "Son").await;
    let chat = dm(&mom, "Son").await;
    mom.node.start_network(with_relay(&addr)).await.unwrap();
    wait_kept(&mom).await;
    let data: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let id = mom
        .node
        .send_attachment(
            &chat,
            "",
            None,
            Outgoing::bytes(Kind::File, "plan.bin", "application/octet-stream", data),
        )
        .await
        .unwrap();
    let blob: BlobId = mom.node.attachment(&id).await.unwrap().blob;
    eventually("the relay holds the whole file", || async {
        deposited(&mom).await == 1
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
    // Every part, as the sender deposited it (the stranger watched the wire, say).
    let dir = mom.path("blobs").join(blob.to_string());
    let manifest = std::fs::read(dir.join("manifest")).unwrap();
    let chunk = std::fs::read(dir.join("0")).unwrap();
    assert_eq!(hearth_core::blob::crypt::id_of(&manifest), blob);

    let mut s = stranger();
    let r = dial_relay(&mut s, &addr).await;
    for part in [Part::Manifest, Part::Chunk(0), Part::Chunk(1)] {
        let a = ask(&mut s, &r, Ask::Blob(blob::Request { blob, part })).await;
        assert!(
            matches!(a, Answer::Blob(blob::Response::Refused)),
            "{part:?}: {a:?}"
        );
    }
    // An unknown blob gets the same answers: nothing says which blobs are there.
    let unknown = BlobId([9; 32]);
    let a = ask(
        &mut s,
        &r,
        Ask::Blob(blob::Request {
            blob: unknown,
            part: Part::Manifest,
        }),
    )
    .await;
    assert!(matches!(a, Answer::Blob(blob::Response::Refused)), "{a:?}");
    for b in [blob, unknown] {
        let a = ask(
            &mut s,
            &r,
            Ask::Deposit(deposit::Request::Held {
                topic: topics[0],
                blob: b,
            }),
        )
        .await;
        assert!(
            matches!(a, Answer::Deposit(deposit::Response::Unknown)),
            "{a:?}"
        );
    }
    for topic in &topics {
        let a = ask(
            &mut s,
            &r,
            Ask::Deposit(deposit::Request::Put {
                topic: *topic,
                blob,
                part: Part::Manifest,
                bytes: ByteBuf::from(manifest.clone()),
            }),
        )
        .await;
        assert!(
            matches!(a, Answer::Deposit(deposit::Response::Refused)),
            "{a:?}"
        );
    }
    let a = ask(
        &mut s,
        &r,
        Ask::Deposit(deposit::Request::Put {
            topic: topics[0],
            blob,
            part: Part::Chunk(0),
            bytes: ByteBuf::from(chunk),
        }),
    )
    .await;
    assert!(
        matches!(a, Answer::Deposit(deposit::Response::Refused)),
        "{a:?}"
    );
    // Its own "blob", a manifest that hashes to its id, under the family's topic.
    let own = vec![3u8; 32];
    let a = ask(
        &mut s,
        &r,
        Ask::Deposit(deposit::Request::Put {
            topic: topics[0],
            blob: hearth_core::blob::crypt::id_of(&own),
            part: Part::Manifest,
            bytes: ByteBuf::from(own),
        }),
    )
    .await;
    assert!(
        matches!(a, Answer::Deposit(deposit::Response::Refused)),
        "{a:?}"
    );
    assert_eq!(relay.status().await.unwrap().mailbox, before);
}
