//! `.att` attestation layers: DSSE envelopes over in-toto v0.1 statements.

use crate::support::*;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, SigningKey};
use hallmark_sigstore::{
    DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION, SignatureCandidate,
    attestation::{self, CUSTOM_PREDICATE, STATEMENT_V01},
    bundle,
    candidate::CandidateSource,
    dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::Rejection,
    sigmanifest::{self, NewLayer},
    verify,
};
use serde_json::{Value, json};

const SLSA: &str = "https://slsa.dev/provenance/v0.2";

fn envelope_bytes(key: &SigningKey, payload_type: &str, statement: &[u8]) -> Vec<u8> {
    Envelope::sign(key, payload_type, statement)
        .unwrap()
        .to_bytes()
}

#[test]
fn attestation_layer_round_trip() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = digest(SAMPLE_DIGEST);
    let predicate =
        attestation::build_predicate(CUSTOM_PREDICATE, b"hello\n", "2025-01-01T00:00:00Z").unwrap();
    assert_eq!(
        predicate,
        json!({"Data": "hello\n", "Timestamp": "2025-01-01T00:00:00Z"})
    );
    let statement = attestation::build_statement(SAMPLE_REPO, &d, CUSTOM_PREDICATE, predicate);
    let s: Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(s["_type"], STATEMENT_V01);
    assert_eq!(
        s["subject"],
        json!([{"name": SAMPLE_REPO, "digest": {"sha256": d.hex()}}])
    );

    // As cosign attaches it: one layer of the `.att` manifest.
    let layer = NewLayer {
        media_type: DSSE_MEDIA_TYPE.into(),
        blob: envelope_bytes(&key, IN_TOTO_PAYLOAD_TYPE, &statement),
        annotations: [
            (
                PREDICATE_TYPE_ANNOTATION.to_owned(),
                CUSTOM_PREDICATE.to_owned(),
            ),
            (SIGNATURE_ANNOTATION.to_owned(), String::new()),
        ]
        .into(),
    };
    let appended = sigmanifest::append(None, &layer, "att").unwrap();
    let manifest: hallmark_oci_spec::ImageManifest =
        serde_json::from_slice(&appended.manifest).unwrap();
    assert_eq!(manifest.layers[0].media_type, DSSE_MEDIA_TYPE);
    let blob = &layer.blob;
    let env: Value = serde_json::from_slice(blob).unwrap();
    assert_eq!(env["payloadType"], IN_TOTO_PAYLOAD_TYPE);
    assert_eq!(env["signatures"][0]["keyid"], "");

    let keys = [key.public_key().clone()];
    for want in [Some(CUSTOM_PREDICATE), None] {
        let v = attestation::verify_attestation(blob, &d, &keys, want).unwrap();
        assert_eq!(v.predicate_type, CUSTOM_PREDICATE);
        assert_eq!(v.key_fingerprint, key.public_key().fingerprint());
        assert_eq!(v.statement["predicate"]["Data"], "hello\n");
    }
    // Wrong key, predicate type, digest.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let r = attestation::verify_attestation(blob, &d, &[other.public_key().clone()], None);
    assert_eq!(
        r,
        Err(Rejection::NoKeyVerifies {
            tried: vec![other.public_key().fingerprint()]
        })
    );
    let r = attestation::verify_attestation(blob, &d, &keys, Some(SLSA));
    assert!(
        matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("predicate type")),
        "{r:?}"
    );
    let zero = digest("sha256:0000000000000000000000000000000000000000000000000000000000000000");
    let r = attestation::verify_attestation(blob, &zero, &keys, None);
    assert_eq!(
        r,
        Err(Rejection::DigestMismatch {
            expected: zero.to_string(),
            found: d.to_string()
        })
    );
    // Wrong payloadType, even correctly signed.
    let json_typed = envelope_bytes(&key, "application/json", &statement);
    let r = attestation::verify_attestation(&json_typed, &d, &keys, None);
    assert!(
        matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("payloadType")),
        "{r:?}"
    );
    // payloadType changed after signing: PAE differs.
    let mut env2: Envelope = Envelope::parse(blob).unwrap();
    env2.payload_type = "application/vnd.in-toto+json ".into();
    let r = attestation::verify_attestation(&env2.to_bytes(), &d, &keys, None);
    assert!(matches!(r, Err(Rejection::Malformed { .. })), "{r:?}");
    // Payload tampered after signing.
    let mut env3 = Envelope::parse(blob).unwrap();
    env3.payload = STANDARD.encode(
        String::from_utf8(statement.clone())
            .unwrap()
            .replace("hello", "hullo"),
    );
    let r = attestation::verify_attestation(&env3.to_bytes(), &d, &keys, None);
    assert!(matches!(r, Err(Rejection::NoKeyVerifies { .. })), "{r:?}");
    // Not a statement.
    let r = attestation::verify_attestation(
        &envelope_bytes(&key, IN_TOTO_PAYLOAD_TYPE, b"{\"_type\":\"x\"}"),
        &d,
        &keys,
        None,
    );
    assert!(
        matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("_type")),
        "{r:?}"
    );
    // An attestation layer is not a signature.
    let c = SignatureCandidate {
        source: CandidateSource::AttachmentTag {
            tag: d.tag_form() + ".att",
            layer: 0,
        },
        media_type: DSSE_MEDIA_TYPE.into(),
        body: blob.clone(),
        annotations: layer.annotations.clone(),
    };
    let r = verify::verify_candidate(&d, &c, &key_policy(keys.to_vec()));
    assert_eq!(
        r,
        Err(Rejection::NotASignature {
            media_type: DSSE_MEDIA_TYPE.into()
        })
    );
}

/// Row 43's envelope (keyless) as an attestation: no key verifies it.
#[test]
fn row43_keyless_attestation_not_verified_by_key() {
    let b = bundle::parse(&vector(
        "cosign/pkg/cosign/testdata/oci-attestation.sigstore.json",
    ))
    .unwrap();
    let env = b.dsse_envelope.unwrap();
    let d = digest("sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4");
    let r = attestation::verify_attestation(
        &env.to_bytes(),
        &d,
        &[cosign_pub()],
        Some(CUSTOM_PREDICATE),
    );
    assert_eq!(
        r,
        Err(Rejection::NoKeyVerifies {
            tried: vec![cosign_pub().fingerprint()]
        })
    );
}

#[test]
fn predicate_type_names() {
    assert_eq!(
        attestation::predicate_type_uri("custom").unwrap(),
        CUSTOM_PREDICATE
    );
    assert_eq!(
        attestation::predicate_type_uri("slsaprovenance").unwrap(),
        SLSA
    );
    assert_eq!(
        attestation::predicate_type_uri("https://example.com/p").unwrap(),
        "https://example.com/p"
    );
    assert!(attestation::predicate_type_uri("nonsense").is_err());
    assert!(attestation::build_predicate(SLSA, b"not json", "t").is_err());
    assert!(attestation::build_predicate(CUSTOM_PREDICATE, &[0xff], "t").is_err());
}
