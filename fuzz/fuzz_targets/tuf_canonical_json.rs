//! `hallmark_tuf::canonical` on arbitrary bytes: never panics; canonical bytes without raw
//! control characters re-parse to the same JSON value, and canonicalising them again is the
//! identity.
#![no_main]

use hallmark_tuf::canonical::{canonicalize, to_canonical};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(canonical) = to_canonical(&value) else {
        return;
    };
    // Control characters are written raw, as notary's encoder (OLPC canonical JSON) does:
    // no JSON parser reads those back.
    if canonical.iter().any(|b| *b < 0x20) {
        return;
    }
    let reparsed: Value = serde_json::from_slice(&canonical).expect("canonical JSON parses");
    assert_eq!(reparsed, value, "canonical JSON keeps the value");
    assert_eq!(
        canonicalize(&canonical).expect("canonical JSON canonicalises"),
        canonical,
        "canonicalisation is idempotent"
    );
});
