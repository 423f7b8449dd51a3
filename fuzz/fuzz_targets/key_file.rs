//! `load_private_key` on arbitrary text with a fixed passphrase: never panics.
#![no_main]

use hallmark_core::Passphrase;
use hallmark_core::keyfile::{is_encrypted_cosign_key, load_private_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let passphrase = Passphrase::new(b"fuzz".to_vec());
    let _ = is_encrypted_cosign_key(text);
    if let Ok(key) = load_private_key(text, Some(&passphrase), "fuzz") {
        // A key that loads can sign, and its signature verifies.
        if let Ok(sig) = key.sign(b"fuzz") {
            assert!(key.public_key().verify(b"fuzz", &sig).is_ok());
        }
    }
    let _ = load_private_key(text, None, "fuzz");
});
