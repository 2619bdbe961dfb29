//! Membership operations as a group's members (and ex-members) could write them: the input
//! drives who signs what, naming which parents, at which time and seq; the harness signs
//! them (a fuzzer cannot forge signatures) and resolves the set. Resolving must never panic,
//! and must give the same group whatever order the operations arrive in.
#![no_main]

use std::sync::OnceLock;

use hearth_core::identity::{DeviceBundle, Identity};
use hearth_core::membership::{self, Change, Op, Record, SignedOp, Verified};
use hearth_core::{OpId, TopicId};
use libfuzzer_sys::fuzz_target;

const PEOPLE: usize = 5;

fn people() -> &'static Vec<(Identity, Record)> {
    static P: OnceLock<Vec<(Identity, Record)>> = OnceLock::new();
    P.get_or_init(|| {
        (0..PEOPLE)
            .map(|i| {
                let id = Identity::generate(format!("p{i}"));
                let record = Record {
                    name: format!("p{i}"),
                    bundles: vec![DeviceBundle::new(&id, [i as u8 + 1; 32], [9; 32])],
                };
                (id, record)
            })
            .collect()
    })
}

fn sign(author: usize, seq: u64, at: u64, parents: Vec<OpId>, change: Change) -> Option<Verified> {
    let op = Op {
        author: people()[author].0.device_id(),
        seq,
        at,
        parents,
        change,
    };
    SignedOp::sign(&op, &people()[author].0.device).verify().ok()
}

fuzz_target!(|data: &[u8]| {
    let p = people();
    let members = (0..3).map(|i| (p[i].0.account_id(), p[i].1.clone())).collect();
    let Some(create) = sign(
        0,
        0,
        1,
        vec![],
        Change::Create {
            topic: TopicId([7; 16]),
            title: "f".into(),
            members,
            nonce: [0; 16],
        },
    ) else {
        return;
    };
    let chat = membership::chat_id(&create.signed);
    let mut ops = vec![create];
    for chunk in data.chunks_exact(5).take(64) {
        let author = chunk[0] as usize % PEOPLE;
        let target = chunk[1] as usize % PEOPLE;
        let mut parents: Vec<OpId> = ops
            .iter()
            .enumerate()
            .filter(|(i, _)| chunk[2] & (1 << (i % 8)) != 0 || *i + 1 == ops.len() && chunk[2] == 0)
            .map(|(_, v)| v.id)
            .take(membership::MAX_PARENTS)
            .collect();
        parents.sort();
        parents.dedup();
        if parents.is_empty() {
            parents.push(ops[0].id);
        }
        let change = match chunk[3] % 3 {
            0 => Change::Add {
                account: p[target].0.account_id(),
                record: p[target].1.clone(),
            },
            1 => Change::Remove {
                account: p[target].0.account_id(),
                cut: vec![(p[target].0.device_id(), u64::from(chunk[4] % 4))],
            },
            _ => Change::Rename {
                title: format!("t{}", chunk[4]),
            },
        };
        if let Some(v) = sign(author, u64::from(chunk[4] % 8) + 1, u64::from(chunk[4]), parents, change) {
            ops.push(v);
        }
    }
    let a = membership::resolve(&chat, &ops);
    ops.reverse();
    let b = membership::resolve(&chat, &ops);
    assert_eq!(a, b, "resolution depends on arrival order");
});
