//! A data directory holds message text, the search index and the store key: it is private to
//! its user (0700, every file in it 0600) from the moment it exists, and an older one is made
//! private when it is opened.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn assert_private(dir: &Path) {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            assert_private(&p);
        } else {
            assert_eq!(mode(&p) & 0o077, 0, "{} is {:o}", p.display(), mode(&p));
        }
    }
}

#[tokio::test]
async fn a_data_directory_and_everything_in_it_is_private() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("hearth");
    let node = hearth_core::Node::open(&dir).await.unwrap();
    node.create_profile("Mom").await.unwrap();
    let other = Peer::new("Kid").await;
    let code = node.create_invite(3600, vec![]).await.unwrap();
    other.node.accept_invite(&code).await.unwrap();
    // The write-ahead log and shared memory exist while the node runs.
    assert!(dir.join("hearth.db-wal").exists());
    assert_private(&dir);
    // A mailbox database, as a relay keeps.
    let relay = root.path().join("relay");
    hearth_core::storage::private::dir(&relay).unwrap();
    drop(hearth_core::mailbox::store::open(&relay.join("mailbox.db")).unwrap());
    assert_private(&relay);
    node.shutdown().await.unwrap();
    drop(node);

    // A directory from before, readable by everyone, is closed when opened.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.join("hearth.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let node = hearth_core::Node::open(&dir).await.unwrap();
    assert_private(&dir);
    node.shutdown().await.unwrap();
}
