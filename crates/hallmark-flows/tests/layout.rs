//! The flows end to end on OCI image layouts: sign, verify, attest, tree, copy.

use hallmark_core::{ImageRef, KeyAlgorithm, SigningKey};
use hallmark_flows::{
    Attachment, AttestOptions, SignOptions, SigstoreError, attest, copy, sign, tree,
    verify_attestations, verify_image,
};
use hallmark_oci::{Store, layout::Layout, sample::SampleImage};
use hallmark_sigstore::{VerificationPolicy, VerifyError};
use std::path::Path;

const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

async fn sample_layout(dir: &Path) -> (Store, ImageRef) {
    let store = Store::Layout(Layout::create(dir).unwrap());
    SampleImage::build("hello", "amd64")
        .push(&store, Some("v1"))
        .await
        .unwrap();
    let image = ImageRef::parse(&format!("oci:{}:v1", dir.display())).unwrap();
    (store, image)
}

fn policy(key: &SigningKey) -> VerificationPolicy {
    VerificationPolicy {
        keys: vec![key.public_key().clone()],
        ..VerificationPolicy::default()
    }
}

#[tokio::test]
async fn sign_verify_attest_tree_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (store, image) = sample_layout(&dir.path().join("src")).await;
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();

    let signed = sign(&store, &image, &key, &SignOptions::default())
        .await
        .unwrap();
    assert_eq!(signed.len(), 1);
    assert!(signed[0].added);
    assert_eq!(signed[0].tag, Attachment::Signature.tag(&signed[0].digest));
    // The same signature again is not appended.
    let again = sign(&store, &image, &key, &SignOptions::default())
        .await
        .unwrap();
    assert!(!again[0].added);
    assert_eq!(again[0].manifest_digest, signed[0].manifest_digest);

    let verified = verify_image(&store, &image, &policy(&key)).await.unwrap();
    assert_eq!(verified.digest, signed[0].digest);
    assert_eq!(verified.signatures.len(), 1);

    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    match verify_image(&store, &image, &policy(&other)).await {
        Err(SigstoreError::Verify(VerifyError::NoneValid { .. })) => {}
        r => panic!("expected NoneValid, got {r:?}"),
    }

    let options = AttestOptions {
        predicate_type: PREDICATE_TYPE.into(),
        predicate: serde_json::json!({"buildType": "test"}),
        replace: false,
    };
    let attested = attest(&store, &image, &key, &options).await.unwrap();
    assert!(attested.added);
    let (digest, attestations) = verify_attestations(
        &store,
        &image,
        std::slice::from_ref(key.public_key()),
        Some(PREDICATE_TYPE),
    )
    .await
    .unwrap();
    assert_eq!(digest, signed[0].digest);
    assert_eq!(attestations.len(), 1);

    let t = tree(&store, &image).await.unwrap();
    assert_eq!(t.signatures.len(), 1);
    assert_eq!(t.attestations.len(), 1);
    assert_eq!(
        t.attestations[0].predicate_type.as_deref(),
        Some(PREDICATE_TYPE)
    );

    let dst_dir = dir.path().join("dst");
    let dst = Store::Layout(Layout::create(&dst_dir).unwrap());
    let report = copy(&store, &image, &dst, Some("v1")).await.unwrap();
    assert_eq!(report.attachments.len(), 2);
    let dst_image = ImageRef::parse(&format!("oci:{}:v1", dst_dir.display())).unwrap();
    let copied = verify_image(&dst, &dst_image, &policy(&key)).await.unwrap();
    assert_eq!(copied.digest, signed[0].digest);
}

#[tokio::test]
async fn unsigned_image_has_no_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let (store, image) = sample_layout(dir.path()).await;
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    match verify_image(&store, &image, &policy(&key)).await {
        Err(SigstoreError::Verify(VerifyError::NoSignatures { .. })) => {}
        r => panic!("expected NoSignatures, got {r:?}"),
    }
}
