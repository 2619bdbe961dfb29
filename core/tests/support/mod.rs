//! Shared fixtures for behaviour tests: nodes in temporary directories and bundle exchange,
//! so a test reads as a story: `let (alice, bob) = contacts().await; alice.send(..); sync(..)`.
#![allow(dead_code)]

pub mod nostr;
pub mod relays;

use std::path::PathBuf;

use hearth_core::contacts::State;
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
        // HEARTH_LOG=debug shows what the nodes do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("HEARTH_LOG"))
            .with_writer(std::io::stderr)
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Node::open(dir.path()).await.expect("open");
        node.create_profile(name).await.expect("init");
        Peer {
            node,
            dir,
            name: name.into(),
        }
    }

    /// A person on a clock the test sets (`hearth_core::clock::ManualClock`).
    pub async fn on_clock(
        name: &str,
        clock: &std::sync::Arc<hearth_core::clock::ManualClock>,
    ) -> Peer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = hearth_core::NodeConfig::new(dir.path());
        config.clock = clock.clone();
        let node = Node::open_with(config).await.expect("open");
        node.create_profile(name).await.expect("init");
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

/// Waits (up to 20 s) until `check` holds, re-checking on every node event and every 50 ms.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Networking on loopback only, without mDNS: tests never send multicast.
pub fn loopback() -> hearth_core::net::Config {
    hearth_core::net::Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        lan_only: true,
        mdns: false,
        // Never the real public network from a test.
        public_network: false,
        nostr_relays: Vec::new(),
        ..Default::default()
    }
}

/// A peer with networking on loopback only.
pub async fn online(name: &str) -> Peer {
    let p = Peer::new(name).await;
    p.node.start_network(loopback()).await.expect("network");
    eventually("listening", || async {
        !p.node
            .network_status()
            .await
            .unwrap()
            .unwrap()
            .listen
            .is_empty()
    })
    .await;
    p
}

/// Two online contacts, connected through an invite carried over the network.
pub async fn online_contacts(a: &str, b: &str) -> (Peer, Peer) {
    let alice = online(a).await;
    let bob = online(b).await;
    befriend_online(&alice, &bob).await;
    (alice, bob)
}

/// Makes two online peers contacts over the network: `acceptor` accepts `inviter`'s invite,
/// and each sees the other connected.
pub async fn befriend_online(inviter: &Peer, acceptor: &Peer) {
    let code = inviter.node.create_invite(3600, vec![]).await.unwrap();
    acceptor.node.accept_invite(&code).await.unwrap();
    for (p, other) in [(inviter, &acceptor.name), (acceptor, &inviter.name)] {
        eventually("contact connected on both sides", || async {
            p.node
                .contacts()
                .await
                .unwrap()
                .iter()
                .any(|c| c.state == State::Connected && c.name == *other)
        })
        .await;
    }
}

/// Where a peer listens, once it does.
pub async fn listen_addr(p: &Peer) -> String {
    eventually("listening", || async {
        !p.node
            .network_status()
            .await
            .unwrap()
            .unwrap()
            .listen
            .is_empty()
    })
    .await;
    p.node.network_status().await.unwrap().unwrap().listen[0].clone()
}

/// A group `creator` makes with its contacts `members`, once every member has joined it.
pub async fn family_group(creator: &Peer, members: &[&Peer]) -> ChatId {
    let mut ids = Vec::new();
    for m in members {
        ids.push(creator.node.find_contact(&m.name).await.unwrap().account);
    }
    let group = creator.node.create_group("family", &ids).await.unwrap();
    for p in members {
        eventually("joined the group", || async {
            p.node.chat(&group).await.is_ok()
        })
        .await;
    }
    group
}

/// The state of the attachment of message `id` in `chat`, as `p` shows it.
pub async fn attachment_state(
    p: &Peer,
    chat: &ChatId,
    id: &hearth_core::MessageId,
) -> Option<hearth_core::blob::store::BlobState> {
    p.node
        .messages(chat, 1000, None)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == *id)
        .and_then(|m| m.attachment)
        .map(|a| a.state)
}
