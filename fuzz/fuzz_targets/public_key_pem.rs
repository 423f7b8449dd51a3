//! `PublicKey::from_pem` on arbitrary text and `from_spki_der` on arbitrary bytes.
#![no_main]

use hallmark_core::PublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::from_spki_der(data) {
        // What parses re-encodes and parses to the same key.
        let again = PublicKey::from_pem(&key.to_pem(), "fuzz");
        assert!(again.is_ok_and(|k| k == key));
        let _ = key.verify(b"fuzz", data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = PublicKey::from_pem(text, "fuzz")
    {
        assert!(PublicKey::from_spki_der(key.spki_der()).is_ok_and(|k| k == key));
    }
});
