//! Content a member's modified client encrypts and sends, applied by another member's engine:
//! any group content (document updates, receipts, membership operations) and any yrs update
//! bytes, through decryption, the membership and ownership checks, the documents and the
//! projection. Nothing may panic, and the writer must keep working.
#![no_main]

use std::sync::OnceLock;

use hearth_core::envelope::content::{DocKey, GroupContent};
use hearth_core::{wire, ChatId, Node};
use libfuzzer_sys::fuzz_target;

struct Family {
    rt: tokio::runtime::Runtime,
    alice: Node,
    bob: Node,
    chat: ChatId,
    _dirs: Vec<tempfile::TempDir>,
}

/// Alice and Bob in a group; Bob is the one with a modified client.
fn family() -> &'static Family {
    static F: OnceLock<Family> = OnceLock::new();
    F.get_or_init(|| {
        // yrs runs under catch_unwind in the engine (the update is refused and the document
        // reloaded): a panic there is contained. Any other panic is a bug and aborts.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !hearth_core::doc::inside_yrs() {
                abort(info)
            }
        }));
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
        let (alice, bob, chat) = rt.block_on(async {
            let alice = Node::open(dirs[0].path()).await.expect("open");
            let bob = Node::open(dirs[1].path()).await.expect("open");
            alice.create_profile("Alice").await.expect("init");
            bob.create_profile("Bob").await.expect("init");
            let code = alice.create_invite(3600, vec![]).await.expect("invite");
            bob.accept_invite(&code).await.expect("accept");
            exchange(&alice, &bob, &dirs).await;
            let bob_id = alice.find_contact("Bob").await.expect("contact").account;
            let chat = alice.create_group("g", &[bob_id]).await.expect("group");
            exchange(&alice, &bob, &dirs).await;
            bob.send_message(&chat, "hello", None).await.expect("send");
            exchange(&alice, &bob, &dirs).await;
            (alice, bob, chat)
        });
        Family {
            rt,
            alice,
            bob,
            chat,
            _dirs: dirs,
        }
    })
}

async fn exchange(a: &Node, b: &Node, dirs: &[tempfile::TempDir]) {
    for _ in 0..3 {
        for (from, to, file) in [(a, b, "ab"), (b, a, "ba")] {
            let f = dirs[0].path().join(file);
            let since = to.version_vectors().await.expect("vv");
            from.export_bundle(&f, Some(since)).await.expect("export");
            to.import_bundle(&f).await.expect("import");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = family();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let content = if mode % 2 == 0 {
        match wire::decode::<GroupContent>(rest, 60 * 1024) {
            Ok(c) => c,
            Err(_) => return,
        }
    } else {
        GroupContent::Doc {
            doc: if mode % 4 == 1 { DocKey::Segment(0) } else { DocKey::Meta },
            client: u64::from(mode),
            update: rest.to_vec(),
        }
    };
    let chat = f.chat;
    f.rt.block_on(async {
        let Ok(env) = f
            .bob
            .modified_client(move |e| e.send_raw_group_content(&chat, content))
            .await
        else {
            return;
        };
        let _ = f.alice.ingest(vec![env]).await;
        // The writer still answers.
        f.alice.chats().await.expect("the engine keeps working");
    });
});
