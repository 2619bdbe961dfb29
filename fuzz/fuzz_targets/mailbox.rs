//! Any bytes as a request to a relay's mailbox (keep, deposit, fetch), decoded as libp2p's CBOR
//! codec does and served against a real mailbox database, as the relay does.
#![no_main]

use std::sync::{Mutex, OnceLock};

use hearth_core::mailbox::access::TopicSecret;
use hearth_core::mailbox::protocol as mailbox;
use hearth_core::mailbox::{store, Limits};
use hearth_core::sync::protocol::{self, Request};
use hearth_core::DeviceId;
use libfuzzer_sys::fuzz_target;

struct Mailbox {
    _dir: tempfile::TempDir,
    conn: Mutex<rusqlite::Connection>,
}

fn mailbox() -> &'static Mailbox {
    static M: OnceLock<Mailbox> = OnceLock::new();
    M.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = store::open(&dir.path().join("mailbox.db")).expect("mailbox");
        Mailbox {
            _dir: dir,
            conn: Mutex::new(conn),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&who, data)) = data.split_first() else {
        return;
    };
    let device = DeviceId([who % 4; 32]);
    let limits = Limits {
        members_per_topic: 8,
        authors_per_topic: 8,
        ..Default::default()
    };
    let Ok(mut c) = mailbox().conn.lock() else {
        return;
    };
    if let Ok(req) = cbor4ii::serde::from_slice::<mailbox::Request>(data) {
        if mailbox::check(&req) {
            let mailbox::Request::Keep { topics, .. } = req;
            let _ = store::keep(&mut c, &device, &[who], &topics, 1, &limits);
            // The fuzzer cannot sign: the same topics again with proofs that hold, for secrets
            // made from the bytes it chose, so creation, joining and quotas are reached too.
            let proved: Vec<_> = topics
                .iter()
                .map(|(t, _)| {
                    let s = TopicSecret::for_group(t.as_bytes());
                    (s.topic(), s.proof(&device))
                })
                .collect();
            let _ = store::keep(&mut c, &device, &[who], &proved, 1, &limits);
        }
    }
    if let Ok(req) = cbor4ii::serde::from_slice::<Request>(data) {
        if protocol::check(&req).is_ok() {
            match req {
                Request::Push { envelopes, .. } => {
                    let envs: Vec<Vec<u8>> = envelopes.into_iter().map(|b| b.into_vec()).collect();
                    let _ = store::deposit(&mut c, &device, &envs, 1, &limits);
                }
                Request::Sync { have, .. } => {
                    let theirs = protocol::from_wire(&have);
                    if let Ok(topics) = store::topics_for(&c, &device) {
                        if let Ok(mine) = store::have(&c, &topics) {
                            let wants = protocol::missing(&mine, &theirs, &topics);
                            let _ = store::envelopes(&c, &wants);
                        }
                    }
                }
            }
        }
    }
});
