//! `dsse::Envelope::parse` and `verify` (and `attestation::verify_attestation`) on arbitrary
//! bytes with a fixed key: never panic, and a parsed envelope round-trips through `to_bytes`.
#![no_main]

use hallmark_core::{Digest, PublicKey};
use hallmark_sigstore::{attestation, dsse::Envelope};
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
    if let Ok(e) = Envelope::parse(data) {
        assert_eq!(Envelope::parse(&e.to_bytes()).as_ref(), Ok(&e));
        let _ = e.body();
        let _ = e.verify(std::slice::from_ref(&KEY));
        let _ = e.verify(&[]);
    }
    let _ = attestation::verify_attestation(data, &DIGEST, std::slice::from_ref(&KEY), None);
});
