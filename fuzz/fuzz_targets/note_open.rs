//! `hallmark_tlog::note` on arbitrary bytes: parse, re-serialize, verify with fixed Ed25519 and
//! ECDSA keys. Never panics; a parsed note re-serializes to the same bytes; an opened note has
//! a verified signature.
#![no_main]

use hallmark_tlog::note::{self, EcdsaNoteVerifier, Ed25519NoteVerifier, Note, NoteVerifier};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static PETER: LazyLock<Ed25519NoteVerifier> = LazyLock::new(|| {
    Ed25519NoteVerifier::from_vkey(
        include_str!("../../crates/hallmark-tlog/tests/data/go-note/peter.vkey").trim_end(),
    )
    .expect("fixture vkey parses")
});
static REKOR: LazyLock<EcdsaNoteVerifier> = LazyLock::new(|| {
    let key = hallmark_core::PublicKey::from_pem(
        include_str!("../../crates/hallmark-tlog/tests/data/rekor-bundles/rekor.sigstore.dev.pub"),
        "rekor key",
    )
    .expect("fixture key parses");
    EcdsaNoteVerifier::new("rekor.sigstore.dev", key).expect("P-256 key")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = Note::parse(data) {
        assert_eq!(n.to_text().as_bytes(), data, "parse/serialize round trip");
        assert!(!n.signatures().is_empty());
        assert!(n.text().ends_with('\n'));
    }
    let known: [&dyn NoteVerifier; 2] = [&*PETER, &*REKOR];
    if let Ok(v) = note::open(data, &known) {
        assert!(!v.verified.is_empty());
    }
});
