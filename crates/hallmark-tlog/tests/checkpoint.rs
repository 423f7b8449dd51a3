//! Checkpoints: formatting, strict parsing, signing and opening.

use hallmark_core::{KeyAlgorithm, SigningKey};
use hallmark_tlog::checkpoint::{Checkpoint, CheckpointError};
use hallmark_tlog::hash::{Hash, sha256};
use hallmark_tlog::note::{EcdsaNoteSigner, Ed25519NoteSigner, NoteError};

fn root() -> Hash {
    sha256(b"root")
}

#[test]
fn format_and_parse_round_trip() {
    let cp = Checkpoint::new("example.com/log42", 20852163, root()).expect("checkpoint");
    let text = cp.to_text();
    assert_eq!(
        text,
        format!("example.com/log42\n20852163\n{}\n", root().to_base64())
    );
    assert_eq!(Checkpoint::parse(&text).expect("parse"), cp);
    let ext = cp
        .clone()
        .with_extension("Timestamp: 1689748607742585419")
        .expect("extension");
    let text = ext.to_text();
    assert!(text.ends_with("\nTimestamp: 1689748607742585419\n"));
    assert_eq!(Checkpoint::parse(&text).expect("parse"), ext);
    // The empty tree.
    let empty = Checkpoint::new("o", 0, hallmark_tlog::EMPTY_ROOT).expect("checkpoint");
    assert_eq!(
        Checkpoint::parse(&empty.to_text()).expect("parse").size(),
        0
    );
    // Origins may contain spaces (Rekor v1's "<host> - <tree ID>").
    Checkpoint::parse(&format!(
        "rekor.sigstore.dev - 1193050959916656506\n1\n{}\n",
        root().to_base64()
    ))
    .expect("rekor v1 origin");
}

#[test]
fn malformed_checkpoints_are_rejected() {
    let r = root().to_base64();
    let cases = [
        (String::new(), "no final newline"),
        (format!("o\n1\n{r}"), "no final newline"),
        ("o\n".to_string(), "missing size"),
        ("o\n1\n".to_string(), "missing root"),
        (format!("\n1\n{r}\n"), "empty origin"),
        (format!("o\n01\n{r}\n"), "leading zero"),
        (format!("o\n-1\n{r}\n"), "negative"),
        (format!("o\n+1\n{r}\n"), "plus sign"),
        (format!("o\n 1\n{r}\n"), "space"),
        (format!("o\n18446744073709551616\n{r}\n"), "overflow"),
        (format!("o\n1\n{}\n", &r[..r.len() - 1]), "short base64"),
        (format!("o\n1\n{}\n", Hash::default().to_hex()), "hex root"),
        ("o\n1\nAAAA\n".to_string(), "3-byte root"),
        (format!("o\n1\n{r}\n\n"), "empty extension line"),
        (format!("o\n1\n{r}\nx\n\n"), "empty extension line"),
        (format!("o\x01\n1\n{r}\n"), "control character"),
    ];
    for (text, why) in cases {
        assert!(Checkpoint::parse(&text).is_err(), "{why}: {text:?}");
    }
    assert!(matches!(
        Checkpoint::parse("o\n01\nx\n"),
        Err(CheckpointError::BadSize { .. })
    ));
    assert!(Checkpoint::new("a\nb", 1, root()).is_err());
    assert!(Checkpoint::new("", 1, root()).is_err());
}

#[test]
fn sign_and_open_with_ed25519_and_ecdsa() {
    let ed = Ed25519NoteSigner::generate("example.com/log").expect("key");
    let ec = EcdsaNoteSigner::new(
        "example.com",
        SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key"),
    )
    .expect("signer");
    let cp = Checkpoint::new("example.com/log", 42, root()).expect("checkpoint");
    let signed = cp.sign(&[&ed, &ec]).expect("sign");
    for verifier in [
        &ed.verifier() as &dyn hallmark_tlog::NoteVerifier,
        &ec.verifier(),
    ] {
        let (opened, note) = Checkpoint::open(signed.as_bytes(), &[verifier]).expect("open");
        assert_eq!(opened, cp);
        assert_eq!(note.verified.len(), 1);
        assert_eq!(note.unverified.len(), 1);
        opened.expect_origin("example.com/log").expect("origin");
        assert!(matches!(
            opened.expect_origin("other"),
            Err(CheckpointError::OriginMismatch { .. })
        ));
    }
    let stranger = Ed25519NoteSigner::generate("example.com/log").expect("key");
    assert!(matches!(
        Checkpoint::open(signed.as_bytes(), &[&stranger.verifier()]),
        Err(CheckpointError::Note(NoteError::NoVerifiedSignature { .. }))
    ));
    // A validly signed note whose text is not a checkpoint.
    let note = hallmark_tlog::note::sign("hello\n", &[&ed]).expect("sign");
    assert!(matches!(
        Checkpoint::open(note.as_bytes(), &[&ed.verifier()]),
        Err(CheckpointError::MissingLine { .. })
    ));
}
