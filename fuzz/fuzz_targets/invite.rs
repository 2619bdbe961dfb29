//! Any text as an invite code (pasted, scanned, or typed wrong).
#![no_main]

use hearth_core::invite::Invite;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Invite::decode(&text, 0);
    let _ = Invite::decode(&text, u64::MAX);
});
