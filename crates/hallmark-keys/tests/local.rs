//! File and env keys through KeyRef, and the Signer trait over SigningKey and KeySigner.

use hallmark_core::{KeyAlgorithm, Passphrase, SigningKey, keyfile};
use hallmark_keys::{KeyRef, KeysError, OpenOptions, Signer};

fn fixed(pass: &'static str) -> impl Fn(&str) -> Result<Passphrase, String> + Send + Sync {
    move |_| Ok(Passphrase::new(pass.as_bytes().to_vec()))
}

fn no_passphrase(purpose: &str) -> Result<Passphrase, String> {
    Err(format!(
        "no passphrase for {purpose}: set HALLMARK_PASSWORD"
    ))
}

#[tokio::test]
async fn encrypted_file_key_signs_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let pem = keyfile::encrypt_cosign_key(&key, &Passphrase::new(b"correct horse".to_vec()))
        .expect("encrypt");
    let path = dir.path().join("cosign.key");
    std::fs::write(&path, pem).expect("write");
    let r = KeyRef::parse(path.to_str().expect("utf-8")).expect("parse");
    let pass = fixed("correct horse");
    let signer = r
        .open(&OpenOptions {
            passphrase: &pass,
            vars: None,
        })
        .await
        .expect("open");
    assert!(signer.is_local());
    assert_eq!(signer.public_key(), key.public_key());
    let sig = signer.sign(b"payload").await.expect("sign");
    key.public_key().verify(b"payload", &sig).expect("verifies");
    // The SigningKey itself is a Signer too (the fast path the flows use for files).
    let sig = Signer::sign(&key, b"payload").await.expect("sign");
    signer
        .public_key()
        .verify(b"payload", &sig)
        .expect("verifies");
}

#[tokio::test]
async fn wrong_passphrase_names_the_file_not_the_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let pem = keyfile::encrypt_cosign_key(&key, &Passphrase::new(b"right-pass-123".to_vec()))
        .expect("encrypt");
    let path = dir.path().join("k.key");
    std::fs::write(&path, pem).expect("write");
    let r = KeyRef::parse(path.to_str().expect("utf-8")).expect("parse");
    let pass = fixed("wrong-pass-456");
    let e = r
        .open(&OpenOptions {
            passphrase: &pass,
            vars: None,
        })
        .await
        .expect_err("wrong passphrase");
    let text = format!("{e} {e:?}");
    assert!(matches!(e, KeysError::Key { .. }), "{text}");
    assert!(text.contains("k.key"), "{text}");
    assert!(
        !text.contains("wrong-pass-456") && !text.contains("right-pass-123"),
        "{text}"
    );
}

/// A public key given where a private key is needed: the reference in the message, the PEM
/// label in its cause, each once (the CLI prints `message: cause`).
#[tokio::test]
async fn public_key_for_signing_names_reference_and_label_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let path = dir.path().join("cosign.pub");
    std::fs::write(&path, key.public_key().to_pem()).expect("write");
    let shown = path.to_str().expect("utf-8");
    let r = KeyRef::parse(shown).expect("parse");
    let pass = fixed("x");
    let e = r
        .open(&OpenOptions {
            passphrase: &pass,
            vars: None,
        })
        .await
        .expect_err("a public key does not sign");
    let chain = hallmark_core::error::chain(&e);
    assert_eq!(chain.matches(shown).count(), 1, "{chain}");
    assert_eq!(chain.matches("unexpected PEM label").count(), 1, "{chain}");
    assert!(!e.to_string().contains("PEM label"), "{e}");
    assert!(
        matches!(
            std::error::Error::source(&e).and_then(|s| s.downcast_ref::<hallmark_core::KeyError>()),
            Some(hallmark_core::KeyError::UnexpectedLabel { .. })
        ),
        "{chain}"
    );
}

#[tokio::test]
async fn missing_passphrase_source_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let pem = keyfile::encrypt_cosign_key(&key, &Passphrase::new(b"x".to_vec())).expect("encrypt");
    let path = dir.path().join("k.key");
    std::fs::write(&path, pem).expect("write");
    let r = KeyRef::parse(path.to_str().expect("utf-8")).expect("parse");
    let e = r
        .open(&OpenOptions {
            passphrase: &no_passphrase,
            vars: None,
        })
        .await
        .expect_err("no passphrase");
    assert!(matches!(e, KeysError::Passphrase { .. }), "{e}");
    assert!(e.to_string().contains("HALLMARK_PASSWORD"), "{e}");
}

#[tokio::test]
async fn public_key_of_a_public_pem_file_needs_no_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP384).expect("generate");
    let path = dir.path().join("k.pub");
    std::fs::write(&path, key.public_key().to_pem()).expect("write");
    let r = KeyRef::parse(path.to_str().expect("utf-8")).expect("parse");
    let public = r
        .public_key(&OpenOptions {
            passphrase: &no_passphrase,
            vars: None,
        })
        .await
        .expect("public key");
    assert_eq!(&public, key.public_key());
}

#[tokio::test]
async fn unset_env_variable_is_named() {
    let r = KeyRef::parse("env://HALLMARK_KEYS_TEST_SURELY_UNSET_VAR").expect("parse");
    let e = r
        .open(&OpenOptions::from_env())
        .await
        .expect_err("unset variable");
    assert!(
        e.to_string()
            .contains("HALLMARK_KEYS_TEST_SURELY_UNSET_VAR"),
        "{e}"
    );
}

#[tokio::test]
async fn generate_refuses_files() {
    let r = KeyRef::parse("some.key").expect("parse");
    let e = r
        .generate(&OpenOptions::from_env())
        .await
        .expect_err("files are not generated here");
    assert!(matches!(e, KeysError::Unsupported { .. }), "{e}");
}

#[tokio::test]
async fn key_signer_debug_shows_no_key_material() {
    use base64::Engine as _;
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let der = key.to_pkcs8_der();
    let pem = key.to_pkcs8_pem();
    let signer = hallmark_keys::KeySigner::from_signing_key(key, "memory");
    let shown = format!("{signer:?} {signer:#?}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for needle in [
        base64::engine::general_purpose::STANDARD.encode(&der[..]),
        format!("{:?}", &der[der.len() - 16..]),
        body,
    ] {
        assert!(!shown.contains(&needle), "{shown}");
    }
    assert!(shown.contains("memory"), "{shown}");
}
