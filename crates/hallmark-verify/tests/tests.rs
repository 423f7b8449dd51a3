//! The verifier end to end on OCI layouts (no server): a policy, signed and unsigned images,
//! each decision's verdict, rule, digest and reasons; and the setup errors a policy whose
//! keys cannot be loaded must give.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use hallmark_core::{ImageRef, KeyAlgorithm, SigningKey};
use hallmark_oci::{Store, layout::Layout, sample::SampleImage};
use hallmark_policy::{Policy, Verdict};
use hallmark_verify::{SetupError, TrustConfig, Verifier};
use std::path::Path;

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    key: SigningKey,
}

fn image(dir: &Path, tag: &str) -> ImageRef {
    ImageRef::parse(&format!("oci:{}:{tag}", dir.join("layout").display())).unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(&dir.path().join("layout")).unwrap();
    let store = Store::Layout(layout);
    SampleImage::build("signed", "amd64")
        .push(&store, Some("signed"))
        .await
        .unwrap();
    SampleImage::build("unsigned", "amd64")
        .push(&store, Some("unsigned"))
        .await
        .unwrap();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem()).unwrap();
    hallmark_flows::sign(
        &store,
        &image(dir.path(), "signed"),
        &key,
        &hallmark_flows::SignOptions::default(),
    )
    .await
    .unwrap();
    Fixture { dir, store, key }
}

fn policy(dir: &Path, text: &str) -> Policy {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    Policy::parse(text.as_bytes(), &path).unwrap()
}

const SIGNED_BY_K: &str = "apiVersion: hallmark/v1\nkind: Policy\ndefault: deny\nrules:\n  - name: layouts\n    images: [\"oci:**\"]\n    require:\n      - cosign: {keys: [k.pub]}\n";

#[tokio::test]
async fn a_signed_image_is_allowed_and_an_unsigned_one_denied_with_the_reason() {
    let f = fixture().await;
    let v = Verifier::new(policy(f.dir.path(), SIGNED_BY_K), TrustConfig { dct: None })
        .await
        .unwrap();
    let signed = v
        .decide(&f.store, &image(f.dir.path(), "signed"), None)
        .await
        .unwrap();
    assert_eq!(
        signed.decision.verdict,
        Verdict::Allow,
        "{:?}",
        signed.decision
    );
    assert_eq!(signed.decision.rule.as_deref(), Some("layouts"));
    assert_eq!(signed.decision.digest, signed.manifest.digest.to_string());
    assert!(signed.decision.requirements.iter().all(|r| r.met));

    let unsigned = v
        .decide(&f.store, &image(f.dir.path(), "unsigned"), None)
        .await
        .unwrap();
    assert_eq!(
        unsigned.decision.verdict,
        Verdict::Deny,
        "{:?}",
        unsigned.decision
    );
    assert!(!unsigned.decision.requirements[0].met);
    assert!(unsigned.decision.reason.is_some());
}

#[tokio::test]
async fn another_key_does_not_count() {
    let f = fixture().await;
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    std::fs::write(f.dir.path().join("k.pub"), other.public_key().to_pem()).unwrap();
    let v = Verifier::new(policy(f.dir.path(), SIGNED_BY_K), TrustConfig { dct: None })
        .await
        .unwrap();
    let d = v
        .decide(&f.store, &image(f.dir.path(), "signed"), None)
        .await
        .unwrap();
    assert_eq!(d.decision.verdict, Verdict::Deny, "{:?}", d.decision);
    let _ = &f.key;
}

#[tokio::test]
async fn a_key_the_policy_names_that_cannot_be_read_is_a_setup_error() {
    let f = fixture().await;
    std::fs::remove_file(f.dir.path().join("k.pub")).unwrap();
    let err = Verifier::new(policy(f.dir.path(), SIGNED_BY_K), TrustConfig { dct: None })
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::ReadKey { .. }), "{err:?}");
    assert!(err.to_string().contains("k.pub"), "{err}");

    // A private key where a public key is expected: the error says so.
    std::fs::write(
        f.dir.path().join("k.pub"),
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = Verifier::new(policy(f.dir.path(), SIGNED_BY_K), TrustConfig { dct: None })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
}

#[tokio::test]
async fn an_image_that_cannot_be_read_is_an_error_not_a_decision() {
    let f = fixture().await;
    let v = Verifier::new(policy(f.dir.path(), SIGNED_BY_K), TrustConfig { dct: None })
        .await
        .unwrap();
    let err = v
        .decide(&f.store, &image(f.dir.path(), "no-such-tag"), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-tag"), "{err}");
}

/// notation trust stores are read as notation reads them (trust-store-trust-policy.md): a
/// symbolic link, for the store or a file in it, is refused (it could point trust anywhere);
/// sub-directories are ignored; a store without certificates, or a file that is not one, is an
/// error naming the file, never an empty (or partial) trust store.
mod notation_trust_store {
    use hallmark_notation::trustpolicy::TrustStore;
    use hallmark_verify::notation::read_store;
    use std::path::{Path, PathBuf};

    fn root_pem() -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../hallmark-notation/tests/data/notation-go/verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
        );
        std::fs::read(p).unwrap()
    }

    fn store(root: &Path, name: &str) -> PathBuf {
        let d = root.join("x509/ca").join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn certificates_of_a_store_are_read_pem_and_der_and_sub_directories_ignored() {
        let t = tempfile::tempdir().unwrap();
        let d = store(t.path(), "acme");
        std::fs::write(d.join("root.pem"), root_pem()).unwrap();
        let der = hallmark_notation::verify::certificates(&root_pem()).unwrap();
        std::fs::write(d.join("root.der"), &der[0]).unwrap();
        std::fs::create_dir(d.join("nested")).unwrap();
        std::fs::write(d.join("nested/ignored.pem"), b"not read").unwrap();
        let certs = read_store(t.path(), &TrustStore::Ca("acme".into())).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(
            certs[0], certs[1],
            "the PEM and DER forms are one certificate"
        );
    }

    #[test]
    fn a_symbolic_link_is_refused_for_the_store_and_for_a_file() {
        let t = tempfile::tempdir().unwrap();
        let elsewhere = t.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("root.pem"), root_pem()).unwrap();
        std::fs::create_dir_all(t.path().join("x509/ca")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, t.path().join("x509/ca/linked")).unwrap();
        let e = read_store(t.path(), &TrustStore::Ca("linked".into())).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");

        let d = store(t.path(), "files");
        std::fs::write(d.join("real.pem"), root_pem()).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("root.pem"), d.join("link.pem")).unwrap();
        let e = read_store(t.path(), &TrustStore::Ca("files".into())).unwrap_err();
        assert!(e.contains("symbolic link") && e.contains("link.pem"), "{e}");
    }

    #[test]
    fn a_missing_or_empty_store_or_a_file_that_is_not_a_certificate_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let e = read_store(t.path(), &TrustStore::Ca("missing".into())).unwrap_err();
        assert!(e.contains("x509/ca/missing"), "{e}");
        store(t.path(), "empty");
        let e = read_store(t.path(), &TrustStore::Ca("empty".into())).unwrap_err();
        assert!(e.contains("found none"), "{e}");
        let d = store(t.path(), "junk");
        std::fs::write(d.join("root.pem"), root_pem()).unwrap();
        std::fs::write(d.join("notes.txt"), b"hello").unwrap();
        let e = read_store(t.path(), &TrustStore::Ca("junk".into())).unwrap_err();
        assert!(e.contains("notes.txt"), "{e}");
        // The store's type is part of its place: a ca store is not a signingAuthority store.
        let e = read_store(t.path(), &TrustStore::SigningAuthority("junk".into())).unwrap_err();
        assert!(e.contains("x509/signingAuthority/junk"), "{e}");
    }
}
