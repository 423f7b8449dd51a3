//! `bundle::parse` and `bundle::verify_image_bundle` on arbitrary bytes with a fixed key and
//! digest: never panic.
#![no_main]

use hallmark_core::{Digest, PublicKey};
use hallmark_sigstore::bundle;
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
    if let Ok(b) = bundle::parse(data) {
        if let Some(envelope) = &b.dsse_envelope {
            let _ = envelope.body();
        }
    }
    if let Ok(v) = bundle::verify_image_bundle(data, &DIGEST, std::slice::from_ref(&KEY)) {
        assert_eq!(v.key_fingerprint, KEY.fingerprint());
    }
});
