//! Any file as a bundle (a USB stick from anyone).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hearth_core::sync::bundle::read(&mut &data[..]);
});
