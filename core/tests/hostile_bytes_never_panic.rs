//! Random and mutated bytes thrown at every decoder, and at a live node's ingest path:
//! always a typed error, never a panic, and the node keeps working afterwards.

mod support;

use hearth_core::doc;
use hearth_core::envelope::content::{GroupPlain, PairwisePlain};
use hearth_core::envelope::{Envelope, PairwisePart};
use hearth_core::invite::Invite;
use hearth_core::membership::SignedOp;
use hearth_core::sync::bundle;
use hearth_core::wire;
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use support::*;

fn all_decoders(bytes: &[u8]) {
    let _ = Envelope::decode_verified(bytes);
    let _ = wire::decode::<GroupPlain>(bytes, 65536);
    let _ = wire::decode::<PairwisePlain>(bytes, 65536);
    let _ = wire::decode::<Vec<PairwisePart>>(bytes, 65536);
    if let Ok(op) = wire::decode::<SignedOp>(bytes, 65536) {
        let _ = op.verify();
    }
    if let Ok(u) = doc::check_update(bytes, 1) {
        let _ = doc::apply(&yrs::Doc::with_client_id(9), u);
    }
    let _ = bundle::read(&mut &bytes[..]);
    let _ = Invite::decode(&String::from_utf8_lossy(bytes), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        all_decoders(&bytes);
    }
}

#[test]
fn mutated_yrs_updates() {
    let d = yrs::Doc::with_client_id(5);
    let id = hearth_core::MessageId::random();
    let u = doc::segment::add_message(
        &d,
        id,
        [1; 16],
        1,
        "hello there",
        None,
        doc::segment::Kind::Text,
        None,
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..20_000 {
        let mut m = u.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..m.len());
            m[i] = rng.random();
        }
        if rng.random_range(0..4) == 0 {
            m.truncate(rng.random_range(0..m.len()));
        }
        all_decoders(&m);
    }
}

#[tokio::test]
async fn mutated_envelopes_into_a_live_node() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    for i in 0..5 {
        alice
            .node
            .send_message(&chat, &format!("hi {i}"), None)
            .await
            .unwrap();
    }
    let f = alice.path("all.bundle");
    alice.node.export_bundle(&f, None).await.unwrap();
    let (envs, _) = bundle::read(&mut std::fs::File::open(&f).unwrap()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut hostile = Vec::new();
    for _ in 0..3000 {
        let mut e = envs[rng.random_range(0..envs.len())].clone();
        for _ in 0..rng.random_range(1..3) {
            let i = rng.random_range(0..e.len());
            e[i] ^= 1 << rng.random_range(0..8);
        }
        hostile.push(e);
    }
    let originals: Vec<Envelope> = envs.iter().map(|e| Envelope::decode(e).unwrap()).collect();
    let accepted: Vec<Vec<u8>> = hostile
        .iter()
        .filter(|h| Envelope::decode_verified(h).is_ok())
        .cloned()
        .collect();
    // A mutation may only verify if it is another encoding of the very same envelope.
    for a in &accepted {
        let e = Envelope::decode(a).unwrap();
        assert!(originals
            .iter()
            .any(|o| o.header == e.header && o.ciphertext == e.ciphertext));
    }
    let report = bob.node.ingest(hostile).await.unwrap();
    assert_eq!(report.rejected.len() + report.duplicate + report.new, 3000);
    assert!(report.new <= accepted.len());
    // The real ones still arrive, none is taken for equivocation, and the node still works.
    let report = bob.node.ingest(envs).await.unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(bob.bodies(&chat).await.len(), 5);
    assert!(bob.node.check().await.unwrap().ok());
}

#[tokio::test]
async fn validly_signed_envelopes_from_strangers_and_replays_are_refused() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    alice.node.send_message(&chat, "hello", None).await.unwrap();
    // A stranger who somehow knows every topic id signs envelopes for them with its own key.
    let stranger = libp2p_identity::ed25519::Keypair::generate();
    let author = hearth_core::DeviceId(stranger.public().to_bytes());
    let vv = bob.node.version_vectors().await.unwrap();
    let forged: Vec<Vec<u8>> =
        vv.0.keys()
            .map(|topic| {
                let header = hearth_core::envelope::Header {
                    version: 1,
                    topic: *topic,
                    author,
                    seq: 1,
                    key: 1,
                };
                Envelope::seal(header, vec![1, 2, 3], &stranger).encode()
            })
            .collect();
    assert!(!forged.is_empty());
    let report = bob.node.ingest(forged.clone()).await.unwrap();
    assert_eq!(report.new, 0);
    assert_eq!(report.rejected.len(), forged.len());
    assert!(
        report.rejected.iter().all(|r| r.contains("not a member")),
        "{report:?}"
    );
    // Replaying what Bob already has changes nothing.
    let f = alice.path("all.bundle");
    alice.node.export_bundle(&f, None).await.unwrap();
    let (envs, _) = bundle::read(&mut std::fs::File::open(&f).unwrap()).unwrap();
    bob.node.ingest(envs.clone()).await.unwrap();
    let again = bob.node.ingest(envs.clone()).await.unwrap();
    assert_eq!((again.new, again.duplicate), (0, envs.len()));
}

/// A device restored from a copy of its data directory writes a different envelope under a
/// seq it already used: receivers refuse the second one as equivocation and keep the first.
#[tokio::test]
async fn a_forked_device_is_caught_equivocating() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    let support::Peer { node, dir, .. } = alice;
    node.shutdown().await.unwrap();
    drop(node);
    let copy = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() && !e.file_name().to_string_lossy().ends_with(".lock") {
            std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
        }
    }
    let original = hearth_core::Node::open(dir.path()).await.unwrap();
    let fork = hearth_core::Node::open(copy.path()).await.unwrap();
    original
        .send_message(&chat, "the real one", None)
        .await
        .unwrap();
    fork.send_message(&chat, "the fork", None).await.unwrap();
    let since = bob.node.version_vectors().await.unwrap();
    for (node, file) in [(&original, "a.bundle"), (&fork, "b.bundle")] {
        let f = copy.path().join(file);
        node.export_bundle(&f, Some(since.clone())).await.unwrap();
        let report = bob.node.import_bundle(&f).await.unwrap();
        if file == "b.bundle" {
            assert!(
                report
                    .rejected
                    .iter()
                    .any(|r| r.contains("same author and seq")),
                "{report:?}"
            );
        }
    }
    assert_eq!(bob.bodies(&chat).await, vec!["the real one"]);
    // ... and Bob is told: Alice's contact is marked, so the app can say her device is forked.
    let alice_contact = bob.node.find_contact("Alice").await.unwrap();
    assert!(alice_contact.equivocated);
}

/// lib0's unsigned LEB128, as yrs writes it.
fn leb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A member's modified client sends document updates of shapes yrs 0.28.1 mishandles (found by
/// the `engine` fuzz target under AddressSanitizer: a use-after-free on the receiver): one that
/// reaches back into history the receiver holds, one with a gap after it, one with empty and
/// foreign sections. Each is refused before yrs sees it (`doc::check_update`,
/// `doc::check_continues`; their unit test fails without them, and AddressSanitizer in the fuzz
/// target shows what yrs did): the receiver's replica does not change, and the member's next
/// honest message arrives.
#[tokio::test]
async fn a_member_s_crafted_document_shapes_are_refused_before_yrs() {
    use hearth_core::envelope::content::DocKey;
    let (alice, bob) = contacts("Alice", "Bob").await;
    let chat = dm(&bob, "Alice").await;
    for t in ["one", "two"] {
        bob.node.send_message(&chat, t, None).await.unwrap();
    }
    sync(&bob, &alice).await;
    assert_eq!(alice.bodies(&chat).await, ["one", "two"]);
    // Bob's client id and clock in his segment, from his own replica.
    let me = bob.node.profile().await.unwrap().account;
    let state = bob.node.segment_state(&chat, &me, 0).await.unwrap();
    let (client, held) = {
        use yrs::updates::decoder::Decode;
        let u = yrs::Update::decode_v1(&state).unwrap();
        let sv = u.state_vector();
        let (c, k) = sv.iter().next().expect("Bob's client");
        (c.get(), u64::from(*k))
    };
    let gc_at = |clock: u64| {
        let mut u = vec![1, 1];
        leb(client, &mut u);
        leb(clock, &mut u);
        u.extend([0, 1, 0]); // a GC range of length 1; an empty delete set
        u
    };
    let crafted = [
        gc_at(1),                                          // reaches back into what Alice holds
        gc_at(held + 1_000_000),                           // far past the end: a gap
        vec![4, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], // empty and foreign sections
    ];
    let before = alice.node.segment_state(&chat, &me, 0).await.unwrap();
    for u in crafted {
        bob.node
            .send_raw_doc_update(&chat, DocKey::Segment(0), client, u)
            .await
            .unwrap();
    }
    sync(&bob, &alice).await;
    assert_eq!(
        alice.node.segment_state(&chat, &me, 0).await.unwrap(),
        before,
        "Alice's replica of Bob's segment did not change"
    );
    bob.node.send_message(&chat, "three", None).await.unwrap();
    sync(&bob, &alice).await;
    assert_eq!(alice.bodies(&chat).await, ["one", "two", "three"]);
    assert!(alice.node.check().await.unwrap().ok());
}
