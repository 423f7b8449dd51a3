//! `Checkpoint::parse` on arbitrary text (with a format round trip) and `Checkpoint::open` on
//! arbitrary notes with the rekor.sigstore.dev key: never panics.
#![no_main]

use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::note::EcdsaNoteVerifier;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static REKOR: LazyLock<EcdsaNoteVerifier> = LazyLock::new(|| {
    let key = hallmark_core::PublicKey::from_pem(
        include_str!("../../crates/hallmark-tlog/tests/data/rekor-bundles/rekor.sigstore.dev.pub"),
        "rekor key",
    )
    .expect("fixture key parses");
    EcdsaNoteVerifier::new("rekor.sigstore.dev", key).expect("P-256 key")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cp) = Checkpoint::parse(text)
    {
        assert_eq!(cp.to_text(), text, "parse/format round trip");
        assert_eq!(Checkpoint::parse(&cp.to_text()).as_ref(), Ok(&cp));
    }
    let _ = Checkpoint::open(data, &[&*REKOR]);
});
