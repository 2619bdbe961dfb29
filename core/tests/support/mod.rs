//! Shared fixtures for behaviour tests: nodes in temporary directories and bundle exchange,
//! so a test reads as a story: `let (alice, bob) = contacts().await; alice.send(..); sync(..)`.
#![allow(dead_code)]

use std::path::PathBuf;

use hearth_core::sync::bundle::ImportReport;
use hearth_core::{ChatId, Node};
use tempfile::TempDir;

pub struct Peer {
    pub node: Node,
    pub dir: TempDir,
    pub name: String,
}

impl Peer {
    pub async fn new(name: &str) -> Peer {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Node::open(dir.path()).await.expect("open");
        node.init(name).await.expect("init");
        Peer {
            node,
            dir,
            name: name.into(),
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    pub async fn bodies(&self, chat: &ChatId) -> Vec<String> {
        self.node
            .messages(chat, 1000, None)
            .await
            .expect("messages")
            .into_iter()
            .map(|m| m.body)
            .collect()
    }
}

/// Moves everything `from` has that `to` lacks, through a bundle file.
pub async fn sync(from: &Peer, to: &Peer) -> ImportReport {
    let since = to.node.version_vectors().await.expect("vv");
    let file = from.path(&format!("to-{}.bundle", to.name));
    from.node
        .export_bundle(&file, Some(since))
        .await
        .expect("export");
    to.node.import_bundle(&file).await.expect("import")
}

/// Syncs both ways until nothing new moves.
pub async fn sync_both(a: &Peer, b: &Peer) {
    for _ in 0..4 {
        let r1 = sync(a, b).await;
        let r2 = sync(b, a).await;
        if r1.new == 0 && r2.new == 0 {
            return;
        }
    }
}

/// Syncs every pair until quiet.
pub async fn sync_all(peers: &[&Peer]) {
    for _ in 0..4 {
        let mut moved = 0;
        for a in peers {
            for b in peers {
                if a.name != b.name {
                    moved += sync(a, b).await.new;
                }
            }
        }
        if moved == 0 {
            return;
        }
    }
}

/// Two people who became contacts through an invite.
pub async fn contacts(a: &str, b: &str) -> (Peer, Peer) {
    let alice = Peer::new(a).await;
    let bob = Peer::new(b).await;
    connect(&alice, &bob).await;
    (alice, bob)
}

pub async fn connect(inviter: &Peer, acceptor: &Peer) {
    let code = inviter
        .node
        .create_invite(3600, vec![])
        .await
        .expect("invite");
    acceptor.node.accept_invite(&code).await.expect("accept");
    sync_both(inviter, acceptor).await;
}

/// The 1:1 conversation `p` has with the contact named `name`.
pub async fn dm(p: &Peer, name: &str) -> ChatId {
    p.node
        .find_contact(name)
        .await
        .expect("contact")
        .chat
        .expect("dm chat")
}
