//! `hallmark_notation::cose::parse` on arbitrary bytes: never panics; what parses has a chain
//! and a payload, and checking its integrity never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = hallmark_notation::cose::parse(data) else {
        return;
    };
    assert!(!envelope.chain.is_empty());
    assert_eq!(envelope.format, hallmark_notation::Format::Cose);
    let _ = envelope.verify_integrity();
});
