//! `hallmark_notation::jws::parse` on arbitrary bytes: never panics; what parses has a chain
//! and a payload, and checking its integrity never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = hallmark_notation::jws::parse(data) else {
        return;
    };
    assert!(!envelope.chain.is_empty());
    let _ = envelope.verify_integrity();
});
