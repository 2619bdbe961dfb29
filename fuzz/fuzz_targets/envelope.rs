//! Any bytes as an envelope, as every device and relay decodes them: form, signature, and the
//! pairwise parts inside.
#![no_main]

use hearth_core::envelope::content::{GroupPlain, PairwisePlain, MAX_CONTENT_BYTES};
use hearth_core::envelope::Envelope;
use hearth_core::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data) {
        let _ = env.verify_signature();
        let _ = env.pairwise_parts();
        let _ = Envelope::decode(&env.encode());
    }
    // Decrypted content as the engine decodes it.
    let _ = wire::decode::<GroupPlain>(data, MAX_CONTENT_BYTES);
    let _ = wire::decode::<PairwisePlain>(data, MAX_CONTENT_BYTES);
});
