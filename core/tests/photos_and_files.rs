//! Photos, voice messages and files between nodes on loopback: the message (with its preview)
//! travels like any other, the chunks follow by the blob protocol from whoever has them, and
//! nothing a member, an ex-member or a stranger sends can make a device keep wrong bytes.

mod support;

use hearth_core::blob::store::BlobState;
use hearth_core::blob::Kind;
use hearth_core::node::Outgoing;
use hearth_core::{ChatId, MessageId};
use support::*;

/// A camera-like JPEG with an EXIF block holding a location.
fn camera_photo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 3 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 92)
        .encode_image(&img)
        .unwrap();
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08GPS 37.5665N 126.9780E".to_vec();
    exif.resize(64, 0);
    let mut app1 = vec![0xff, 0xe1];
    app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(&exif);
    [&plain[..2], &app1[..], &plain[2..]].concat()
}

fn photo(bytes: Vec<u8>) -> Outgoing {
    Outgoing::bytes(Kind::Photo, "fridge.jpg", "image/jpeg", bytes)
}

/// A reference to someone else's blob as a modified client writes it: the blob's id, with a
/// size and a name of its choosing, and no key.
fn naming(blob: hearth_core::blob::BlobId, size: u64, name: &str) -> hearth_core::blob::BlobRef {
    hearth_core::blob::BlobRef {
        id: blob,
        key: [0; 32],
        size,
        kind: Kind::File,
        mime: "application/octet-stream".into(),
        name: name.into(),
        preview: vec![],
        width: 0,
        height: 0,
        duration_ms: 0,
        waveform: vec![],
    }
}

fn file(name: &str, bytes: Vec<u8>) -> Outgoing {
    Outgoing::bytes(Kind::File, name, "application/octet-stream", bytes)
}

/// Mallory, Alice and Bob online, Mallory a contact of both; Alice and Bob of each other if
/// `all`.
async fn mallory_alice_bob(all: bool) -> (Peer, Peer, Peer) {
    let mallory = online("Mallory").await;
    let alice = online("Alice").await;
    let bob = online("Bob").await;
    befriend_online(&mallory, &alice).await;
    befriend_online(&mallory, &bob).await;
    if all {
        befriend_online(&alice, &bob).await;
    }
    (mallory, alice, bob)
}

async fn complete(p: &Peer, chat: &ChatId, id: &MessageId) -> bool {
    attachment_state(p, chat, id).await == Some(BlobState::Complete)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_travels_between_two_nodes_stripped_and_previewed() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    let mut progress = bob.node.subscribe();
    let original = camera_photo(3000, 2000);
    let id = alice
        .node
        .send_attachment(&chat, "the fridge", None, photo(original))
        .await
        .unwrap();
    let sent = alice.node.attachment(&id).await.unwrap();
    assert_eq!(sent.state, BlobState::Complete);
    assert_eq!((sent.width, sent.height), (Some(2048), Some(1365)));
    assert!(sent
        .preview
        .as_deref()
        .unwrap()
        .starts_with("data:image/jpeg;base64,"));
    eventually("Bob has the whole photo", || complete(&bob, &chat, &id)).await;
    let got = bob.node.blob_bytes(&sent.blob).await.unwrap();
    assert_eq!(got, alice.node.blob_bytes(&sent.blob).await.unwrap());
    assert!(
        !got.windows(7).any(|w| w == b"37.5665"),
        "the location travelled"
    );
    let img = image::load_from_memory(&got).unwrap();
    assert_eq!((img.width(), img.height()), (2048, 1365));
    let m = bob.node.message(&id).await.unwrap();
    assert_eq!(m.body, "the fridge");
    let a = m.attachment.unwrap();
    assert_eq!(
        (a.kind, a.name.as_str(), a.mime.as_str()),
        (Kind::Photo, "fridge.jpg", "image/jpeg")
    );
    assert_eq!(a.preview, sent.preview);
    // Progress reached the subscriber, chunk by chunk, up to the whole.
    let mut last = None;
    while let Ok(e) = progress.try_recv() {
        if let hearth_core::Event::BlobProgress { blob, have, of } = e {
            assert_eq!(blob, sent.blob);
            last = Some((have, of));
        }
    }
    let (have, of) = last.expect("no progress event");
    assert_eq!(have, of);
    // Saved back to disk, byte for byte.
    let out = bob.path("saved.jpg");
    bob.node.save_blob(&sent.blob, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_has_the_blob_serves_it_to_one_the_author_never_meets() {
    // A and C never connect; B knows both. B fetches A's file on the LAN, and serves it to C.
    let b = online("B").await;
    let a = online("A").await;
    let c = online("C").await;
    befriend_online(&b, &a).await;
    befriend_online(&b, &c).await;
    let group = family_group(&b, &[&a, &c]).await;
    let data: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let id = a
        .node
        .send_attachment(&group, "", None, file("plan.bin", data.clone()))
        .await
        .unwrap();
    eventually("C has the file from B", || complete(&c, &group, &id)).await;
    let blob = c.node.attachment(&id).await.unwrap().blob;
    assert_eq!(c.node.blob_bytes(&blob).await.unwrap(), data);
    let a_device = a.node.profile().await.unwrap().device;
    let status = c.node.network_status().await.unwrap().unwrap();
    assert!(
        !status.peers.iter().any(|p| p.device == a_device
            && matches!(
                p.path,
                hearth_core::net::Path::Lan | hearth_core::net::Path::Direct
            )),
        "C reached A directly: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_blob_is_shown_damaged_and_the_conversation_goes_on() {
    let (mallory, bob) = online_contacts("Mallory", "Bob").await;
    let chat = dm(&mallory, "Bob").await;
    // A modified client seals under one key and announces another.
    let bad = mallory
        .node
        .send_attachment_that_does_not_open(&chat, file("x.bin", vec![7; 300_000]))
        .await
        .unwrap();
    eventually("Bob fetched it", || async {
        !matches!(
            attachment_state(&bob, &chat, &bad).await,
            None | Some(BlobState::PreviewOnly) | Some(BlobState::Downloading { .. })
        )
    })
    .await;
    let blob = bob.node.attachment(&bad).await.unwrap().blob;
    let e = bob.node.blob_bytes(&blob).await.unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    assert!(matches!(
        attachment_state(&bob, &chat, &bad).await,
        Some(BlobState::Damaged { .. })
    ));
    // The same blob id named again with a wrong key cannot spoil a good blob either.
    let good = mallory
        .node
        .send_attachment(&chat, "", None, file("ok.bin", vec![9; 10_000]))
        .await
        .unwrap();
    let mut r = mallory.node.attachment(&good).await.unwrap();
    eventually("Bob has the good one", || complete(&bob, &chat, &good)).await;
    r.state = BlobState::Complete;
    let good_blob = r.blob;
    let spoiled = naming(good_blob, 10_000, "ok.bin");
    mallory
        .node
        .send_attachment_ref(&chat, spoiled)
        .await
        .unwrap();
    mallory
        .node
        .send_message(&chat, "still talking", None)
        .await
        .unwrap();
    eventually("the conversation goes on", || async {
        bob.bodies(&chat)
            .await
            .contains(&"still talking".to_string())
    })
    .await;
    assert_eq!(
        bob.node.blob_bytes(&good_blob).await.unwrap(),
        vec![9; 10_000]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_damaged_on_disk_are_fetched_again() {
    let (alice, bob) = online_contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    let data: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    let id = alice
        .node
        .send_attachment(&chat, "", None, file("a.bin", data.clone()))
        .await
        .unwrap();
    eventually("Bob has it", || complete(&bob, &chat, &id)).await;
    let blob = bob.node.attachment(&id).await.unwrap().blob;
    // Bob's disk flips a bit in one chunk and cuts another short.
    let dir = bob.dir.path().join("blobs").join(blob.to_string());
    let mut c1 = std::fs::read(dir.join("1")).unwrap();
    c1[100] ^= 0x40;
    std::fs::write(dir.join("1"), c1).unwrap();
    let c2 = std::fs::read(dir.join("2")).unwrap();
    std::fs::write(dir.join("2"), &c2[..c2.len() / 2]).unwrap();
    let e = bob.node.blob_bytes(&blob).await.unwrap_err();
    assert_eq!(e.kind(), "not_found", "{e}");
    eventually("fetched again and whole", || async {
        bob.node.blob_bytes(&blob).await.ok() == Some(data.clone())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_travels_in_a_bundle_and_tampered_parts_are_refused() {
    let (alice, bob) = contacts("Alice", "Bob").await;
    let chat = dm(&alice, "Bob").await;
    let data: Vec<u8> = (0..900_000u32).map(|i| (i * 7 % 255) as u8).collect();
    let id = alice
        .node
        .send_attachment(&chat, "on the stick", None, file("scan.bin", data.clone()))
        .await
        .unwrap();
    let since = bob.node.version_vectors().await.unwrap();
    let stick = alice.path("stick.bundle");
    alice.node.export_bundle(&stick, Some(since)).await.unwrap();
    // Someone with the stick flips a byte inside the third chunk (a USB stick going bad, or a
    // stranger): that part is refused, everything else kept.
    let mut bytes = std::fs::read(&stick).unwrap();
    let at = bytes.len() - 300_000;
    bytes[at] ^= 0x01;
    let tampered = alice.path("tampered.bundle");
    std::fs::write(&tampered, &bytes).unwrap();
    let r = bob.node.import_bundle(&tampered).await.unwrap();
    assert_eq!(r.new, 1, "{r:?}");
    assert_eq!(r.blob_parts, 4, "manifest and 3 of 4 chunks: {r:?}");
    assert!(r.rejected.iter().any(|x| x.contains("blob parts")), "{r:?}");
    assert!(matches!(
        attachment_state(&bob, &chat, &id).await,
        Some(BlobState::Downloading { have: 3, of: 4 })
    ));
    let r = bob.node.import_bundle(&stick).await.unwrap();
    assert_eq!(r.blob_parts, 5, "{r:?}");
    assert!(complete(&bob, &chat, &id).await);
    let blob = bob.node.attachment(&id).await.unwrap().blob;
    assert_eq!(bob.node.blob_bytes(&blob).await.unwrap(), data);
    // A stranger importing the same stick keeps no part of a blob no message of theirs names.
    let stranger = Peer::new("Stranger").await;
    let r = stranger.node.import_bundle(&stick).await.unwrap();
    assert_eq!(r.blob_parts, 0, "{r:?}");
    assert!(!stranger
        .dir
        .path()
        .join("blobs")
        .join(blob.to_string())
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_before_the_send_cannot_fetch_the_photo() {
    // Alice is the hub: Bob and Kid are her contacts, and both in her family group.
    let alice = online("Alice").await;
    let bob = online("Bob").await;
    let kid = online("Kid").await;
    befriend_online(&alice, &bob).await;
    befriend_online(&alice, &kid).await;
    let kid_account = alice.node.find_contact("Kid").await.unwrap().account;
    let ids = [
        alice.node.find_contact("Bob").await.unwrap().account,
        kid_account,
    ];
    let group = alice.node.create_group("family", &ids).await.unwrap();
    for p in [&bob, &kid] {
        eventually("joined", || async { p.node.chat(&group).await.is_ok() }).await;
    }
    let kids_old = kid.node.send_message(&group, "hi all", None).await.unwrap();
    eventually("Alice has Kid's message", || async {
        alice.bodies(&group).await.contains(&"hi all".to_string())
    })
    .await;
    alice
        .node
        .remove_member(&group, &kid_account)
        .await
        .unwrap();
    let id = alice
        .node
        .send_attachment(&group, "", None, photo(camera_photo(800, 600)))
        .await
        .unwrap();
    eventually("Bob has the photo", || complete(&bob, &group, &id)).await;
    // Kid never gets the message, so never its key...
    assert!(kid.node.message(&id).await.is_err());
    // ...and a modified client that learnt the blob id (and even the key) and asks for it
    // is refused by every member.
    let mut r_wire = alice.node.attachment(&id).await.unwrap();
    r_wire.state = BlobState::Complete;
    let full = hearth_core::blob::BlobRef {
        id: r_wire.blob,
        key: [0; 32],
        size: r_wire.size,
        kind: Kind::Photo,
        mime: r_wire.mime.clone(),
        name: r_wire.name.clone(),
        preview: vec![],
        width: 0,
        height: 0,
        duration_ms: 0,
        waveform: vec![],
    };
    kid.node
        .modified_client(move |e| e.plant_attachment(&kids_old, &full))
        .await
        .unwrap();
    kid.node.fetch_blob(&r_wire.blob).await.unwrap();
    eventually("Alice refused Kid's requests", || async {
        alice
            .node
            .network_status()
            .await
            .unwrap()
            .unwrap()
            .blob_requests_refused
            > 0
    })
    .await;
    let dir = kid.dir.path().join("blobs").join(r_wire.blob.to_string());
    let chunks_on_disk = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(chunks_on_disk, 0, "Kid got parts of the photo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_chunks_from_a_member_are_refused_and_fetched_from_another() {
    let (mallory, alice, bob) = mallory_alice_bob(true).await;
    let ids = [
        mallory.node.find_contact("Alice").await.unwrap().account,
        mallory.node.find_contact("Bob").await.unwrap().account,
    ];
    let group = mallory.node.create_group("family", &ids).await.unwrap();
    for p in [&alice, &bob] {
        eventually("joined", || async { p.node.chat(&group).await.is_ok() }).await;
    }
    bob.node.stop_network().await.unwrap();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let id = alice
        .node
        .send_attachment(&group, "", None, file("a.bin", data.clone()))
        .await
        .unwrap();
    eventually("Mallory has it", || complete(&mallory, &group, &id)).await;
    let blob = alice.node.attachment(&id).await.unwrap().blob;
    // Mallory's modified client serves a chunk with one bit changed.
    let at = mallory
        .dir
        .path()
        .join("blobs")
        .join(blob.to_string())
        .join("1");
    let mut c = std::fs::read(&at).unwrap();
    c[5] ^= 0x80;
    std::fs::write(&at, c).unwrap();
    alice.node.stop_network().await.unwrap();
    bob.node.start_network(loopback()).await.unwrap();
    eventually("Bob refused Mallory's chunk", || async {
        bob.node
            .network_status()
            .await
            .unwrap()
            .is_some_and(|s| s.blob_parts_refused > 0)
    })
    .await;
    assert!(!complete(&bob, &group, &id).await);
    alice.node.start_network(loopback()).await.unwrap();
    let at = listen_addr(&alice).await;
    bob.node.dial(&at).await.unwrap();
    eventually("Bob has it whole, from Alice", || {
        complete(&bob, &group, &id)
    })
    .await;
    assert_eq!(bob.node.blob_bytes(&blob).await.unwrap(), data);
}

/// A member's modified client names someone else's blob with a wrong size, and Bob sees that
/// message first: the blob's manifest, not the first message naming it, says how many chunks
/// it has, so Bob still gets Alice's file whole (before, he would have refused every manifest
/// for it, from anyone, for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_size_seen_first_cannot_stop_a_blob() {
    let (mallory, alice, bob) = mallory_alice_bob(true).await;
    let group = family_group(&mallory, &[&alice, &bob]).await;
    bob.node.stop_network().await.unwrap();
    mallory.node.stop_network().await.unwrap();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 17 % 239) as u8).collect();
    let id = alice
        .node
        .send_attachment(&group, "", None, file("a.bin", data.clone()))
        .await
        .unwrap();
    let blob = alice.node.attachment(&id).await.unwrap().blob;
    // Mallory knows the id (she saw it, say) and names it in her chat with Bob, 20 chunks
    // long instead of 3.
    let to_bob = dm(&mallory, "Bob").await;
    let wrong = naming(blob, 5_000_000, "a.bin");
    mallory
        .node
        .send_attachment_ref(&to_bob, wrong)
        .await
        .unwrap();
    // Bob gets that alone: a stick with what Alice does not have (their chat, not the group).
    let stick = mallory.path("to-bob.bundle");
    let since = alice.node.version_vectors().await.unwrap();
    mallory
        .node
        .export_bundle(&stick, Some(since))
        .await
        .unwrap();
    bob.node.import_bundle(&stick).await.unwrap();
    let from_mallory = dm(&bob, "Mallory").await;
    let seen = bob
        .node
        .messages(&from_mallory, 100, None)
        .await
        .unwrap()
        .into_iter()
        .find_map(|m| m.attachment)
        .expect("Mallory's message, first");
    assert_eq!((seen.blob, seen.size), (blob, 5_000_000));
    assert_eq!(
        attachment_state(&bob, &group, &id).await,
        None,
        "Alice's came after"
    );
    bob.node.start_network(loopback()).await.unwrap();
    let at = listen_addr(&alice).await;
    bob.node.dial(&at).await.unwrap();
    eventually("Bob has Alice's file whole", || complete(&bob, &group, &id)).await;
    assert_eq!(bob.node.blob_bytes(&blob).await.unwrap(), data);
}

/// The other way round: Mallory tells Bob, who is not in the group where Alice sent a 600 KB
/// file, that its blob id is a 10 KB file. Bob's device asks for it by itself (a LAN peer);
/// the manifest it gets names three chunks where the only message it has says one, so it is
/// refused: a message cannot turn a small attachment into a large download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_longer_than_its_message_says_is_refused() {
    let (mallory, alice, bob) = mallory_alice_bob(false).await;
    let group = family_group(&mallory, &[&alice]).await;
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 19 % 233) as u8).collect();
    let id = alice
        .node
        .send_attachment(&group, "", None, file("big.bin", data))
        .await
        .unwrap();
    eventually("Mallory has it", || complete(&mallory, &group, &id)).await;
    let blob = alice.node.attachment(&id).await.unwrap().blob;
    let to_bob = dm(&mallory, "Bob").await;
    let small = naming(blob, 10_000, "small.bin");
    let said = mallory
        .node
        .send_attachment_ref(&to_bob, small)
        .await
        .unwrap();
    let from_mallory = dm(&bob, "Mallory").await;
    eventually("Bob refused the manifest", || async {
        bob.node
            .network_status()
            .await
            .unwrap()
            .is_some_and(|s| s.blob_parts_refused > 0)
    })
    .await;
    assert!(!complete(&bob, &from_mallory, &said).await);
    let kept = std::fs::read_dir(bob.path("blobs").join(blob.to_string()))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(kept, 0, "nothing of it is on Bob's disk");
}
