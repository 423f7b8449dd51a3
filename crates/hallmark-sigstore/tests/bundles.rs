//! Sigstore bundles v0.3: the keyless upstream bundles (rows 35 and 43) and key-signed bundles
//! built the way cosign 3 builds them for images.

use crate::support::*;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, SigningKey};
use hallmark_sigstore::{
    BUNDLE_V03_MEDIA_TYPE, IdentityCheck, SignatureCandidate, VerificationPolicy,
    attestation::{self, STATEMENT_V01, STATEMENT_V1},
    bundle::{self, COSIGN_SIGN_PREDICATE},
    candidate::CandidateSource,
    dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::Rejection,
    verify,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const RS_BUNDLE: &str = "sigstore-rs/tests/data/bundle_v03.json";
const RS_DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const CO_BUNDLE: &str = "cosign/pkg/cosign/testdata/oci-attestation.sigstore.json";
const CO_DIGEST: &str = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
const ZERO_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn edit(bytes: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn bundle_candidate(body: Vec<u8>) -> SignatureCandidate {
    SignatureCandidate {
        source: CandidateSource::Referrer {
            manifest: ZERO_DIGEST.into(),
        },
        media_type: BUNDLE_V03_MEDIA_TYPE.into(),
        body,
        annotations: BTreeMap::new(),
    }
}

fn assert_keyless(r: Result<bundle::VerifiedBundle, Rejection>, what: &str) {
    match r {
        Err(Rejection::Malformed { reason }) => {
            assert!(
                reason.contains("signed with a certificate (keyless)"),
                "{what}: {reason}"
            );
            assert!(
                reason.contains(&cosign_pub().fingerprint()),
                "{what}: {reason}"
            );
        }
        other => panic!("{what}: expected the keyless rejection, got {other:?}"),
    }
}

/// Rows 35 and 43: the upstream keyless bundles parse; key verification rejects them as
/// keyless; their statements name the expected subject digests.
#[test]
fn row35_row43_keyless_bundles() {
    for (file, subject, statement_type, predicate_type) in [
        (RS_BUNDLE, RS_DIGEST, STATEMENT_V1, COSIGN_SIGN_PREDICATE),
        (
            CO_BUNDLE,
            CO_DIGEST,
            STATEMENT_V01,
            attestation::CUSTOM_PREDICATE,
        ),
    ] {
        let bytes = vector(file);
        let b = bundle::parse(&bytes).unwrap();
        assert_eq!(b.media_type, BUNDLE_V03_MEDIA_TYPE);
        assert!(b.verification_material.certificate.is_some(), "{file}");
        assert!(b.verification_material.public_key.is_none(), "{file}");
        assert_eq!(b.verification_material.tlog_entries.len(), 1, "{file}");
        let envelope = b.dsse_envelope.as_ref().unwrap();
        assert_eq!(envelope.payload_type, IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(envelope.signatures.len(), 1);

        let d = digest(subject);
        assert_keyless(
            bundle::verify_image_bundle(&bytes, &d, &[cosign_pub()]),
            file,
        );
        // Through the verifier too.
        let r = verify::verify_candidate(
            &d,
            &bundle_candidate(bytes.clone()),
            &key_policy(vec![cosign_pub()]),
        );
        assert!(
            matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("keyless")),
            "{file}: {r:?}"
        );

        // The statement names the subject digest, and no other.
        let body = envelope.body().unwrap();
        let statement = attestation::check_statement(&body, &d).unwrap();
        assert_eq!(statement["_type"], statement_type);
        assert_eq!(statement["predicateType"], predicate_type);
        let zero = digest(ZERO_DIGEST);
        assert_eq!(
            attestation::check_statement(&body, &zero),
            Err(Rejection::DigestMismatch {
                expected: ZERO_DIGEST.into(),
                found: subject.into()
            })
        );

        // Tampered payloadType; 0 or 2 DSSE signatures.
        let r = bundle::verify_image_bundle(
            &edit(&bytes, |v| {
                v["dsseEnvelope"]["payloadType"] = "application/json".into()
            }),
            &d,
            &[cosign_pub()],
        );
        assert!(
            matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("payloadType")),
            "{file}: {r:?}"
        );
        for n in [0, 2] {
            let twice = edit(&bytes, |v| {
                let sig = v["dsseEnvelope"]["signatures"][0].clone();
                v["dsseEnvelope"]["signatures"] = Value::Array(vec![sig; n]);
            });
            let r = bundle::verify_image_bundle(&twice, &d, &[cosign_pub()]);
            assert!(
                matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains(&format!("exactly 1 signature, found {n}"))),
                "{file}: {r:?}"
            );
        }
        // Another media type.
        let r = bundle::parse(&edit(&bytes, |v| {
            v["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into()
        }));
        assert!(matches!(r, Err(Rejection::Malformed { .. })), "{file}");
    }
    // The in-toto v1 statement of row 35 has empty subject annotations and no name.
    let b = bundle::parse(&vector(RS_BUNDLE)).unwrap();
    let s: Value = serde_json::from_slice(&b.dsse_envelope.unwrap().body().unwrap()).unwrap();
    assert_eq!(s["subject"][0]["annotations"], json!({}));
    assert!(s["subject"][0].get("name").is_none());
}

/// A key-signed image bundle as cosign 3 writes it.
fn key_bundle(
    key: &SigningKey,
    subject: &Digest,
    annotations: Value,
    predicate_type: &str,
) -> Vec<u8> {
    let statement = json!({
        "_type": STATEMENT_V1,
        "subject": [{"digest": {"sha256": subject.hex()}, "annotations": annotations}],
        "predicateType": predicate_type,
    });
    let envelope = Envelope::sign(
        key,
        IN_TOTO_PAYLOAD_TYPE,
        &serde_json::to_vec(&statement).unwrap(),
    )
    .unwrap();
    let hint = STANDARD.encode(
        Digest::sha256_of(key.public_key().spki_der())
            .hex()
            .as_bytes(),
    );
    serde_json::to_vec(&json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": serde_json::to_value(&envelope).unwrap(),
    }))
    .unwrap()
}

#[test]
fn key_signed_bundle() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = digest(SAMPLE_DIGEST);
    let bytes = key_bundle(
        &key,
        &d,
        json!({"env": "prod", "team": "a"}),
        COSIGN_SIGN_PREDICATE,
    );
    let c = bundle_candidate(bytes.clone());
    let policy = key_policy(vec![key.public_key().clone()]);

    let v = verify::verify_candidate(&d, &c, &policy).unwrap();
    assert_eq!(v.format, "sigstore-bundle-v0.3");
    assert_eq!(v.key_fingerprint, key.public_key().fingerprint());
    assert_eq!(v.docker_reference, None);
    assert_eq!(v.annotations.get("env").map(String::as_str), Some("prod"));
    assert_eq!(v.payload["predicateType"], COSIGN_SIGN_PREDICATE);
    // Either key of a set.
    let both = key_policy(vec![other.public_key().clone(), key.public_key().clone()]);
    assert!(verify::verify_candidate(&d, &c, &both).is_ok());

    // Another key.
    let r = verify::verify_candidate(&d, &c, &key_policy(vec![other.public_key().clone()]));
    assert_eq!(
        r,
        Err(Rejection::NoKeyVerifies {
            tried: vec![other.public_key().fingerprint()]
        })
    );
    // Another image.
    let zero = digest(ZERO_DIGEST);
    let r = verify::verify_candidate(&zero, &c, &policy);
    assert_eq!(
        r,
        Err(Rejection::DigestMismatch {
            expected: ZERO_DIGEST.into(),
            found: SAMPLE_DIGEST.into()
        })
    );

    // `-a` claims against the subject annotations.
    let with = |pairs: &[(&str, &str)]| VerificationPolicy {
        annotations: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..policy.clone()
    };
    assert!(verify::verify_candidate(&d, &c, &with(&[("env", "prod"), ("team", "a")])).is_ok());
    assert_eq!(
        verify::verify_candidate(&d, &c, &with(&[("env", "dev")])),
        Err(Rejection::AnnotationMismatch {
            key: "env".into(),
            expected: "dev".into(),
            found: Some("prod".into())
        })
    );
    assert_eq!(
        verify::verify_candidate(&d, &c, &with(&[("owner", "x")])),
        Err(Rejection::AnnotationMismatch {
            key: "owner".into(),
            expected: "x".into(),
            found: None
        })
    );
    // A bundle names no repository, so a repository check cannot pass.
    let repo = VerificationPolicy {
        identity: IdentityCheck::Repository(SAMPLE_REPO.into()),
        ..policy.clone()
    };
    assert!(matches!(
        verify::verify_candidate(&d, &c, &repo),
        Err(Rejection::IdentityMismatch { .. })
    ));

    // Two DSSE signatures (even both valid) are refused.
    let twice = edit(&bytes, |v| {
        let sig = v["dsseEnvelope"]["signatures"][0].clone();
        v["dsseEnvelope"]["signatures"] = json!([sig.clone(), sig]);
    });
    let r = verify::verify_candidate(&d, &bundle_candidate(twice), &policy);
    assert!(
        matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("exactly 1 signature, found 2")),
        "{r:?}"
    );
    // A tampered payload does not verify.
    let tampered = edit(&bytes, |v| {
        let body = STANDARD
            .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let body = String::from_utf8(body).unwrap().replace("prod", "dev!");
        v["dsseEnvelope"]["payload"] = STANDARD.encode(body).into();
    });
    let r = verify::verify_candidate(&d, &bundle_candidate(tampered), &policy);
    assert!(matches!(r, Err(Rejection::NoKeyVerifies { .. })), "{r:?}");
    // A bundle for an attestation is not a signature.
    let att = bundle_candidate(key_bundle(
        &key,
        &d,
        json!({}),
        attestation::CUSTOM_PREDICATE,
    ));
    let r = verify::verify_candidate(&d, &att, &policy);
    assert!(matches!(r, Err(Rejection::NotASignature { .. })), "{r:?}");
    // A message-signature bundle signs blobs, not images.
    let blob = edit(&bytes, |v| {
        let o = v.as_object_mut().unwrap();
        o.remove("dsseEnvelope");
        o.insert(
            "messageSignature".into(),
            json!({"messageDigest": {"algorithm": "SHA2_256", "digest": ""}, "signature": ""}),
        );
    });
    let r = verify::verify_candidate(&d, &bundle_candidate(blob), &policy);
    assert!(
        matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("no dsseEnvelope")),
        "{r:?}"
    );
}
