//! `hallmark_notation::timestamp::parse` on arbitrary bytes: never panics; what parses has a
//! time range around its genTime, and checking its imprint or verifying it never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = hallmark_notation::timestamp::parse(data) else {
        return;
    };
    let range = token.info.range();
    assert!(range.earliest <= token.info.gen_time && token.info.gen_time <= range.latest);
    let _ = token.check_imprint(data);
    // The token's own certificates as roots: exercises the signer, signature and chain paths.
    let _ = token.verify(data, &token.certificates);
});
