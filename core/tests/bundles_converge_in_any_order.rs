//! Importing bundles in any order, with duplicates and missing pieces filled in later,
//! converges to the same history on every device (checked on the JSON and Yjs exports).

mod support;

use hearth_core::sync::bundle;
use hearth_core::Node;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use support::*;

/// Copies a closed node's data directory, so each trial starts from the same fresh replica.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn random_orders_duplicates_and_gaps_converge() {
    let mom = Peer::new("Mom").await;
    let dad = Peer::new("Dad").await;
    let kid = Peer::new("Kid").await;
    connect(&mom, &dad).await;
    connect(&mom, &kid).await;
    let ids = [
        mom.node.find_contact("Dad").await.unwrap().account,
        mom.node.find_contact("Kid").await.unwrap().account,
    ];
    let family = mom.node.create_group("family", &ids).await.unwrap();
    // Kid learns of the group and then goes quiet; the others talk.
    sync(&mom, &kid).await;
    sync_both(&mom, &dad).await;
    let mut last = None;
    for i in 0..30 {
        let (who, other) = if i % 3 == 0 {
            (&dad, &mom)
        } else {
            (&mom, &dad)
        };
        let id = who
            .node
            .send_message(&family, &format!("message {i}"), None)
            .await
            .unwrap();
        if i % 10 == 5 {
            who.node
                .edit_message(&id, &format!("message {i} (edited)"))
                .await
                .unwrap();
        }
        if i % 5 == 0 {
            sync_both(&mom, &dad).await;
            if let Some(prev) = last {
                other.node.react(&prev, Some("👍")).await.unwrap();
            }
        }
        last = Some(id);
    }
    mom.node.rename_group(&family, "우리 가족").await.unwrap();
    sync_both(&mom, &dad).await;
    let reference_json = mom.node.export_json(&family).await.unwrap();
    let reference_yjs = mom.node.export_yjs(&family).await.unwrap();
    assert_eq!(dad.node.export_json(&family).await.unwrap(), reference_json);

    // Everything Mom and Dad hold, as individual envelopes.
    let mut envelopes = Vec::new();
    for p in [&mom, &dad] {
        let f = p.path("all.bundle");
        p.node.export_bundle(&f, None).await.unwrap();
        envelopes.extend(
            bundle::read(&mut std::fs::File::open(&f).unwrap())
                .unwrap()
                .0,
        );
    }
    kid.node.shutdown().await.unwrap();
    let Peer {
        node: kid_node,
        dir: kid_dir,
        ..
    } = kid;
    drop(kid_node);

    let seed: u64 = std::env::var("HEARTH_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for trial in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(kid_dir.path(), dir.path());
        let node = Node::open(dir.path()).await.unwrap();
        let mut shuffled = envelopes.clone();
        shuffled.shuffle(&mut rng);
        // Duplicates.
        for _ in 0..rng.random_range(0..20) {
            let e = shuffled[rng.random_range(0..shuffled.len())].clone();
            shuffled.push(e);
        }
        shuffled.shuffle(&mut rng);
        // Missing pieces: a random part arrives first, the rest (and everything again) later.
        let cut = rng.random_range(0..shuffled.len());
        let (first, rest) = shuffled.split_at(cut);
        node.ingest(first.to_vec()).await.unwrap();
        node.ingest(rest.to_vec()).await.unwrap();
        node.ingest(shuffled.clone()).await.unwrap();
        assert_eq!(
            node.export_json(&family).await.unwrap(),
            reference_json,
            "trial {trial}, seed {seed}"
        );
        assert_eq!(
            node.export_yjs(&family).await.unwrap(),
            reference_yjs,
            "trial {trial}, seed {seed}"
        );
        assert!(node.check().await.unwrap().ok());
        node.shutdown().await.unwrap();
    }
}
