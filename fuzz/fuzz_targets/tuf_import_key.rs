//! `hallmark_tuf::import::ecdsa_from_der` (unencrypted PKCS#8 / SEC1 keys, `docker trust key
//! load`) on arbitrary DER: never panics, and an imported key re-imports from the SEC1 bytes it
//! keeps to the same key ID, and signs what its public key verifies.
#![no_main]

use hallmark_tuf::PrivateKey;
use hallmark_tuf::import::ecdsa_from_der;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = ecdsa_from_der(data) else {
        return;
    };
    let again = PrivateKey::from_ecdsa_sec1_der(key.secret_bytes()).expect("kept SEC1 re-imports");
    assert_eq!(again.key_id(), key.key_id());
    let again = ecdsa_from_der(key.secret_bytes()).expect("kept SEC1 imports");
    assert_eq!(again.key_id(), key.key_id());
    let sig = key.sign(b"fuzz").expect("signs");
    key.public_key()
        .verify(&key.key_id(), &sig.method, b"fuzz", &sig.sig)
        .expect("own signature verifies");
    assert!(
        key.public_key()
            .verify(&key.key_id(), &sig.method, b"fuzZ", &sig.sig)
            .is_err()
    );
});
