//! Signed notes: Go's reference vectors, Ed25519 and ECDSA keys, and malformed notes.

use hallmark_core::{KeyAlgorithm, PublicKey, SigningKey};
use hallmark_tlog::note::{
    self, EcdsaNoteSigner, EcdsaNoteVerifier, Ed25519NoteSigner, Ed25519NoteVerifier,
    MAX_NOTE_SIZE, MAX_SIGNATURES, Note, NoteError, NoteSigner, NoteVerifier, ed25519_spki,
    is_valid_key_name, spki_key_hash, verifier_from_vkey,
};

const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";

fn data(path: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("test data")
}

fn line(path: &str) -> String {
    data(path).trim_end().to_owned()
}

fn peter() -> Ed25519NoteVerifier {
    Ed25519NoteVerifier::from_vkey(&line("go-note/peter.vkey")).expect("peter vkey")
}

fn enoch() -> Ed25519NoteVerifier {
    Ed25519NoteVerifier::from_vkey(&line("go-note/enoch.vkey")).expect("enoch vkey")
}

/// The note with only Peter's signature line.
fn peter_note() -> String {
    let note = data("go-note/peter-enoch.note");
    let mut lines: Vec<&str> = note.split_inclusive('\n').collect();
    lines.pop();
    lines.concat()
}

#[test]
fn go_reference_signer_reproduces_the_published_note() {
    let signer = Ed25519NoteSigner::from_skey(&line("go-note/peter.skey")).expect("skey");
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_hash(), 0xc74f20a3);
    assert_eq!(signer.verifier(), peter());
    assert_eq!(peter().vkey(), line("go-note/peter.vkey"));
    // Ed25519 is deterministic: our signature is Go's, byte for byte.
    assert_eq!(note::sign(TEXT, &[&signer]).expect("sign"), peter_note());
}

#[test]
fn go_reference_open_semantics() {
    let both = data("go-note/peter-enoch.note");
    let (p, e) = (peter(), enoch());

    let n = note::open(both.as_bytes(), &[&p]).expect("open");
    assert_eq!(n.text, TEXT);
    assert_eq!(n.verified.len(), 1);
    assert_eq!(n.verified[0].key_label(), "PeterNeumann+c74f20a3");
    assert_eq!(n.unverified.len(), 1);
    assert_eq!(n.unverified[0].key_label(), "EnochRoot+af0cfe78");

    let n = note::open(both.as_bytes(), &[&p, &e]).expect("open");
    assert_eq!(n.verified.len(), 2);
    assert!(n.unverified.is_empty());

    let err = note::open(both.as_bytes(), &[]).expect_err("no known key");
    assert!(
        matches!(err, NoteError::NoVerifiedSignature { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("EnochRoot+af0cfe78"), "{err}");

    // A known key's bad signature rejects the whole note.
    let peter_sig = peter_note()[TEXT.len() + 1..].to_owned();
    let bad = format!("{TEXT}\n{}ABCD{}", &peter_sig[..60], &peter_sig[60..]);
    assert_eq!(
        note::open(bad.as_bytes(), &[&p]).expect_err("bad sig"),
        NoteError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_hash: 0xc74f20a3
        }
    );
    // ...but an unknown key's is only reported as unverified.
    let n = note::open(bad.as_bytes(), &[&e]);
    assert!(matches!(n, Err(NoteError::NoVerifiedSignature { .. })));

    // Repeated signatures count once.
    let repeated = format!("{TEXT}\n{peter_sig}{peter_sig}");
    let n = note::open(repeated.as_bytes(), &[&p]).expect("open");
    assert_eq!(n.verified.len(), 1);

    // Up to MAX_SIGNATURES lines, not more.
    let many = format!("{TEXT}\n{}", peter_sig.repeat(MAX_SIGNATURES));
    note::open(many.as_bytes(), &[&p]).expect("100 signatures");
    let too_many = format!("{TEXT}\n{}", peter_sig.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        note::open(too_many.as_bytes(), &[&p]).expect_err("101"),
        NoteError::TooManySignatures {
            max: MAX_SIGNATURES
        }
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let p = peter();
    let sig = peter_note()[TEXT.len() + 1..].to_owned();
    let cases: Vec<Vec<u8>> = vec![
        TEXT.into(),
        format!("{TEXT}\n").into(),
        format!("{TEXT}\n{}", &sig[..sig.len() - 1]).into(),
        format!("\x01{TEXT}\n{sig}").into(),
        [b"\xff".as_slice(), format!("{TEXT}\n{sig}").as_bytes()].concat(),
        format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n").into(),
        format!("{TEXT}\n{sig}Unexpected line.\n").into(),
        format!("{TEXT}\n{}", sig.replace("\u{2014} ", "- ")).into(),
        format!("{TEXT}\n{}", sig.replace("PeterNeumann", "Peter+Neumann")).into(),
        format!("{TEXT}\n\u{2014} PeterNeumann x08go/Z=\n").into(),
        format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n").into(),
        format!("{TEXT}\n\u{2014} PeterNeumann \n").into(),
        format!("{TEXT}\r\n{sig}").into(),
    ];
    for case in cases {
        let result = note::open(&case, &[&p]);
        assert!(
            result.is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(&case)
        );
    }
    let big = format!("{}\n\n{sig}", "a".repeat(MAX_NOTE_SIZE));
    assert!(matches!(
        Note::parse(big.as_bytes()),
        Err(NoteError::TooLarge { .. })
    ));
    assert!(matches!(
        Note::parse(b"a\x00\n\n"),
        Err(NoteError::ControlCharacter { offset: 1, byte: 0 })
    ));
    // The text may contain blank lines: the last one separates the signatures.
    let text = "a\n\nb\n";
    let signer = Ed25519NoteSigner::generate("example.com/log").expect("key");
    let signed = note::sign(text, &[&signer]).expect("sign");
    let n = note::open(signed.as_bytes(), &[&signer.verifier()]).expect("open");
    assert_eq!(n.text, text);
}

#[test]
fn vkey_manglings_are_rejected() {
    let vkey = line("go-note/peter.vkey");
    let b = vkey.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                assert!(Ed25519NoteVerifier::from_vkey(s).is_err(), "{s}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            assert!(verifier_from_vkey(s).is_err(), "{s}");
        }
    }
    // Go's: wrong key length and unknown algorithm, each with an adjusted key hash.
    assert!(
        verifier_from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert!(
        verifier_from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .is_err()
    );
    let skey = line("go-note/peter.skey");
    for cut in 1..skey.len() {
        assert!(Ed25519NoteSigner::from_skey(&skey[..cut]).is_err());
    }
}

#[test]
fn key_names() {
    for good in ["a", "example.com/log42", "rekor.sigstore.dev", "ü"] {
        assert!(is_valid_key_name(good), "{good}");
    }
    for bad in ["", "a b", "a+b", "a\u{a0}b", "a\u{2003}b", "a\tb"] {
        assert!(!is_valid_key_name(bad), "{bad:?}");
        assert!(Ed25519NoteSigner::generate(bad).is_err());
    }
}

#[test]
fn ecdsa_notes_use_the_spki_key_id() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let fingerprint = key.public_key().fingerprint();
    let signer = EcdsaNoteSigner::new("log.example", key).expect("signer");
    assert_eq!(
        format!("{:08x}", signer.key_hash()),
        fingerprint[..8],
        "key ID = SHA-256(SPKI)[:4]"
    );
    let verifier = signer.verifier();
    let signed = note::sign("hello\n", &[&signer]).expect("sign");
    note::open(signed.as_bytes(), &[&verifier]).expect("verifies");
    // vkey round trip.
    let vkey = verifier.vkey();
    assert!(vkey.starts_with(&format!("log.example+{}+Aj", &fingerprint[..8])));
    let parsed = verifier_from_vkey(&vkey).expect("vkey");
    note::open(signed.as_bytes(), &[parsed.as_ref()]).expect("verifies");
    // Another name with the same key is another key.
    let other =
        EcdsaNoteVerifier::new("other.example", verifier.public_key().clone()).expect("verifier");
    assert!(note::open(signed.as_bytes(), &[&other]).is_err());
    // Only P-256.
    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).expect("key");
    assert!(matches!(
        EcdsaNoteSigner::new("x", ed),
        Err(NoteError::BadKey { .. })
    ));
}

#[test]
fn transparency_dev_ecdsa_vkey_of_rekor() {
    // The ECDSA vkey of rekor.sigstore.dev as transparency-dev spells it.
    let vkey = "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=";
    let v = EcdsaNoteVerifier::from_vkey(vkey).expect("vkey");
    let pem = data("rekor-bundles/rekor.sigstore.dev.pub");
    let key = PublicKey::from_pem(&pem, "rekor key").expect("key");
    assert_eq!(v.public_key(), &key);
    assert_eq!(v.key_hash(), 0xc0d23d6a);
    assert_eq!(v.vkey(), vkey);
    // Go's note package does not read type 0x02 keys as Ed25519.
    assert!(Ed25519NoteVerifier::from_vkey(vkey).is_err());
}

#[test]
fn ed25519_from_signing_key_and_rekor_v1_key_id() {
    let key = SigningKey::generate(KeyAlgorithm::Ed25519).expect("key");
    let signer = Ed25519NoteSigner::from_signing_key("log.example", &key).expect("signer");
    let verifier = signer.verifier();
    // The signer's public key is the SigningKey's.
    assert_eq!(
        ed25519_spki(verifier.public_key()),
        key.public_key().spki_der()
    );
    let signed = note::sign("x\n", &[&signer]).expect("sign");
    note::open(signed.as_bytes(), &[&verifier]).expect("open");

    // A Rekor v1 style Ed25519 key ID (SPKI hash) is a different key ID.
    let rekor_v1_id = spki_key_hash(key.public_key().spki_der());
    assert_ne!(rekor_v1_id, signer.key_hash());
    let v1 = Ed25519NoteVerifier::with_key_hash("log.example", verifier.public_key(), rekor_v1_id)
        .expect("verifier");
    assert!(note::open(signed.as_bytes(), &[&v1]).is_err());

    struct V1Signer<'a>(&'a Ed25519NoteSigner, u32);
    impl NoteSigner for V1Signer<'_> {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn key_hash(&self) -> u32 {
            self.1
        }
        fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError> {
            self.0.sign(text)
        }
    }
    let signed = note::sign("x\n", &[&V1Signer(&signer, rekor_v1_id)]).expect("sign");
    note::open(signed.as_bytes(), &[&v1]).expect("open");
    assert!(matches!(
        Ed25519NoteSigner::from_signing_key(
            "x",
            &SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key")
        ),
        Err(NoteError::BadKey { .. })
    ));
}

#[test]
fn sign_rejects_bad_text_and_adds_cosignatures() {
    let signer = Ed25519NoteSigner::generate("a.example").expect("key");
    for bad in ["", "no newline", "tab\there\n", "cr\r\n"] {
        assert!(
            matches!(note::sign(bad, &[&signer]), Err(NoteError::BadText { .. })),
            "{bad:?}"
        );
    }
    assert_eq!(note::sign("x\n", &[]), Err(NoteError::NoSigners));
    // A witness adds its signature to a note the log signed.
    let witness = Ed25519NoteSigner::generate("witness.example").expect("key");
    let signed = note::sign("x\n", &[&signer]).expect("sign");
    let mut parsed = Note::parse(signed.as_bytes()).expect("parse");
    parsed.sign(&[&witness]).expect("cosign");
    let both = parsed.to_text();
    let n = note::open(both.as_bytes(), &[&signer.verifier(), &witness.verifier()]).expect("open");
    assert_eq!(n.verified.len(), 2);
    assert!(both.starts_with(&signed));
}
