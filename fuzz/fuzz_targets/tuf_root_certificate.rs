//! Notary root certificates (`hallmark_tuf::cert`): arbitrary text as an `ecdsa-x509` key's
//! certificate PEM (`certificate_key`, `canonical_key_id`, `TufKey::from_value`) never panics;
//! and `root_certificate` for a GUN from the fuzz bytes gives a certificate whose CN is that
//! GUN, valid from the given time for ten years, whose bare key ID is the signing key's.
#![no_main]

mod common;

use base64::Engine as _;
use hallmark_tuf::cert::{ROOT_CERT_VALIDITY, canonical_key_id, certificate_key, root_certificate};
use hallmark_tuf::{KeyType, TufKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = certificate_key(text) {
            assert_eq!(key.key_type(), KeyType::EcdsaX509);
            assert!(key.certificate().is_some());
            let _ = canonical_key_id(&key);
        }
        // Round trip through the key's JSON form, as root.json lists it.
        let value = serde_json::json!({
            "keytype": "ecdsa-x509",
            "keyval": {"private": null, "public": base64::engine::general_purpose::STANDARD.encode(data)},
        });
        if let Ok(key) = TufKey::from_value(&value, "fuzz") {
            assert_eq!(key.public(), data);
        }
    }
    if let Ok(key) = TufKey::new(KeyType::RsaX509, data.to_vec()) {
        let _ = canonical_key_id(&key);
    }

    // Notary's own certificate for an arbitrary GUN.
    let gun = String::from_utf8_lossy(data);
    if gun.len() > 255 {
        return;
    }
    let k = &*common::KEYS;
    let not_before = common::now();
    let pem = root_certificate(&k.root, &gun, not_before).expect("certificate for any GUN");
    let key = certificate_key(&pem).expect("own certificate parses");
    let info = key.certificate().expect("certificate info");
    assert_eq!(info.common_name.as_deref(), Some(&*gun));
    let nb = u64::try_from(not_before.unix_timestamp()).expect("positive");
    assert_eq!(info.not_before, nb);
    assert_eq!(
        info.not_after,
        nb + u64::try_from(ROOT_CERT_VALIDITY.whole_seconds()).expect("positive")
    );
    assert_eq!(
        canonical_key_id(&key).expect("bare key ID"),
        k.root.key_id()
    );
});
