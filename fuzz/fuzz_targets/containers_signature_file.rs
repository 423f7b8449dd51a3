//! `SignatureCandidate::from_containers_dir_file` on arbitrary bytes, then verification of what
//! parses with a fixed key and digest: never panics.
#![no_main]

use hallmark_core::{Digest, PublicKey};
use hallmark_sigstore::{
    SignatureCandidate, VerificationPolicy, candidate::CONTAINERS_SIGSTORE_PREFIX, verify,
};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KEY: LazyLock<PublicKey> = LazyLock::new(|| {
    PublicKey::from_pem(
        include_str!("../../crates/hallmark-sigstore/tests/data/vectors/containers-image/signature/fixtures/cosign.pub"),
        "cosign.pub",
    )
    .expect("fixture key parses")
});
static DIGEST: LazyLock<Digest> = LazyLock::new(|| Digest::sha256_of(b"fuzz"));

fuzz_target!(|data: &[u8]| {
    // Both with the input as is and behind the sigstore prefix, so the JSON is reached.
    let prefixed = [CONTAINERS_SIGSTORE_PREFIX, data].concat();
    for bytes in [data, &prefixed[..]] {
        match SignatureCandidate::from_containers_dir_file("signature-1", bytes) {
            None => assert!(!bytes.starts_with(CONTAINERS_SIGSTORE_PREFIX)),
            Some(Err(_)) => {}
            Some(Ok(c)) => {
                let policy = VerificationPolicy {
                    keys: vec![KEY.clone()],
                    ..VerificationPolicy::default()
                };
                let _ = verify::verify_candidate(&DIGEST, &c, &policy);
                let _ = verify::verify_signatures("fuzz", &DIGEST, &[c], &policy);
            }
        }
    }
});
