//! Signer public keys (`hallmark_trust_client::repo::parse_public_key`: PEM `PUBLIC KEY` or
//! `CERTIFICATE`, as `docker trust signer add` reads them) and signer names (`signer_role`) on
//! arbitrary text: never panic; a parsed key has a key ID; a valid signer name gives
//! `targets/<name>`.
#![no_main]

use hallmark_trust_client::repo::{parse_public_key, signer_role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = parse_public_key(text) {
        assert_eq!(key.key_id().len(), 64);
    }
    if let Ok(role) = signer_role(text) {
        assert_eq!(role.strip_prefix("targets/"), Some(text));
        assert_ne!(text, "releases");
    }
});
