//! The proposed-entry parsers the log accepts (`hashedrekord` 0.0.1 and `dsse` 0.0.1) on
//! arbitrary bytes: never panic, and what parses writes a body that is JSON and parses back to
//! the same entry.
#![no_main]

use hallmark_tlog::rekor::{DsseRekord, HashedRekord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = HashedRekord::parse(data) {
        let body = e.canonical_body();
        let again = HashedRekord::parse(&body).expect("a canonical body parses");
        assert_eq!(again, e);
    }
    if let Ok(d) = DsseRekord::parse_proposed(data) {
        // Verifier v made signature v: a pairing exists when there are enough verifiers.
        if let Ok(signed) = d.pair(|v, s| v == s) {
            let body: serde_json::Value =
                serde_json::from_slice(&signed.canonical_body()).expect("the canonical body is JSON");
            assert_eq!(body["kind"], "dsse");
        }
        let again =
            DsseRekord::parse_proposed(&d.proposed_json()).expect("a proposed entry parses back");
        assert_eq!(again, d);
        let _ = d.pae();
    }
});
