//! The Rekor bundle annotation parser and SET verification on arbitrary bytes, with the
//! public-good Rekor key: never panic.
#![no_main]

use hallmark_core::PublicKey;
use hallmark_sigstore::rekor_set::{self, ExpectedSigner, RekorBundle};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static REKOR: LazyLock<PublicKey> = LazyLock::new(|| {
    PublicKey::from_pem(
        include_str!("../../crates/hallmark-sigstore/tests/data/vectors/containers-image/signature/fixtures/rekor.pub"),
        "rekor.pub",
    )
    .expect("fixture key parses")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = RekorBundle::parse(data) {
        // The canonical payload is JSON with exactly the four signed fields.
        let canonical: serde_json::Value =
            serde_json::from_slice(&b.canonical_payload()).expect("canonical payload is JSON");
        assert_eq!(canonical.as_object().map(|o| o.len()), Some(4));
        assert_eq!(
            canonical["integratedTime"].as_i64(),
            Some(b.payload.integrated_time)
        );
        let _ = b.verify_set(std::slice::from_ref(&REKOR));
        let _ = b.hashed_rekord();
    }
    let _ = rekor_set::verify(
        data,
        std::slice::from_ref(&REKOR),
        b"payload",
        "MEUCIQ==",
        ExpectedSigner::Key(&REKOR),
    );
    let _ = rekor_set::verify(
        data,
        std::slice::from_ref(&REKOR),
        b"payload",
        "MEUCIQ==",
        ExpectedSigner::CertificatePem(data),
    );
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(b) = RekorBundle::from_tlog_entry(&v) {
            let _ = b.verify_set(std::slice::from_ref(&REKOR));
        }
    }
});
