//! Any bytes as a sync request or answer from a peer, decoded as libp2p's CBOR codec does, then
//! checked and compared with what this device holds, as the net task does.
#![no_main]

use std::collections::BTreeMap;

use hearth_core::sync::protocol::{self, Request, Response};
use hearth_core::sync::VersionVectors;
use hearth_core::{DeviceId, TopicId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = cbor4ii::serde::from_slice::<Request>(data) {
        if protocol::check(&req).is_ok() {
            if let Request::Sync { have, .. } = req {
                let theirs = protocol::from_wire(&have);
                let topic = TopicId([1; 16]);
                let mine = VersionVectors(BTreeMap::from([(
                    topic,
                    BTreeMap::from([(DeviceId([2; 32]), 5)]),
                )]));
                let _ = protocol::missing(&mine, &theirs, &[topic]);
            }
        }
    }
    if let Ok(Response::Sync { have, .. }) = cbor4ii::serde::from_slice::<Response>(data) {
        let _ = protocol::from_wire(&have);
    }
});
