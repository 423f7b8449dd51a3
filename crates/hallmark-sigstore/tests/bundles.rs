//! Sigstore bundles v0.3: the keyless upstream bundles (rows 35 and 43), verified by key
//! (rejected) and by certificate (accepted with the upstream trust roots), and key-signed
//! bundles built the way cosign 3 builds them for images.

use crate::support::*;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, PublicKey, SigningKey};
use hallmark_sigstore::{
    BUNDLE_V03_MEDIA_TYPE, CertificateIdentity, CertificatePolicy, IdentityCheck, OidcIssuer,
    SignatureCandidate, SubjectName, TransparencyLog, TrustedCertificates, VerificationPolicy,
    attestation::{self, STATEMENT_V01, STATEMENT_V1},
    bundle::{self, COSIGN_SIGN_PREDICATE},
    candidate::CandidateSource,
    certificate::{Certificate, CertificateError, SigstoreTrustedRoot, UnixTime},
    dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::Rejection,
    rekor_set::{RekorBundle, RekorSetError},
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

const RS_TRUSTED_ROOT: &str = "sigstore-rs/trust_root/prod/trusted_root.json";
const CO_TRUSTED_ROOT: &str = "cosign/pkg/cosign/testdata/trusted_root_pgi.json";
const RS_CONSTANTS: &str = "sigstore-rs/extracted-from-tests/src/cosign/mod_rs";
const RS_IDENTITY: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";

fn trusted_root(file: &str) -> SigstoreTrustedRoot {
    SigstoreTrustedRoot::parse(&vector(file)).unwrap()
}

fn rs_identity() -> CertificateIdentity {
    CertificateIdentity::new(
        SubjectName::Uri(RS_IDENTITY.into()),
        OidcIssuer::Exact(GITHUB_ACTIONS.into()),
    )
}

fn rs_policy(rekor_keys: Vec<PublicKey>) -> CertificatePolicy {
    CertificatePolicy {
        trust: trusted_root(RS_TRUSTED_ROOT).certificates,
        identity: rs_identity(),
        log: TransparencyLog::Required { rekor_keys },
    }
}

fn rs_rekor_key() -> PublicKey {
    key(&format!("{RS_CONSTANTS}/REKOR_PUB_KEY.pem"))
}

/// The trusted roots: two Fulcio CAs (the second with an intermediate) and the public-good
/// Rekor key, whose log ID is its key ID.
#[test]
fn trusted_roots_parse() {
    for file in [RS_TRUSTED_ROOT, CO_TRUSTED_ROOT] {
        let t = trusted_root(file);
        assert_eq!(t.certificates.roots().len(), 2, "{file}");
        assert_eq!(t.certificates.intermediates().len(), 1, "{file}");
        assert_eq!(t.rekor_keys, vec![rekor_pub()], "{file}");
        assert_eq!(t.rekor_keys, vec![rs_rekor_key()], "{file}");
    }
    // A keyId that is not the key's sha256 is refused; so is another media type.
    let bad_id = edit(&vector(RS_TRUSTED_ROOT), |v| {
        v["tlogs"][0]["logId"]["keyId"] = STANDARD.encode([0u8; 32]).into();
    });
    assert!(matches!(
        SigstoreTrustedRoot::parse(&bad_id),
        Err(CertificateError::BadTrustedRoot { reason }) if reason.contains("keyId")
    ));
    let other = edit(&vector(RS_TRUSTED_ROOT), |v| {
        v["mediaType"] = "application/json".into();
    });
    assert!(SigstoreTrustedRoot::parse(&other).is_err());
    assert!(SigstoreTrustedRoot::parse(b"{}").is_err());
}

/// Row 35: the cosign 3 keyless bundle is accepted for its subject with the public-good trust
/// root, the workflow identity and the Rekor key; each listed variant is rejected.
#[test]
fn row35_keyless_bundle_verified_by_certificate() {
    let bytes = vector(RS_BUNDLE);
    let d = digest(RS_DIGEST);
    let policy = rs_policy(vec![rs_rekor_key()]);
    let v = bundle::verify_certificate_bundle(&bytes, &d, &policy).unwrap();
    assert_eq!(v.predicate_type, COSIGN_SIGN_PREDICATE);
    let cert = v.certificate.clone().unwrap();
    assert_eq!(cert.uris, vec![RS_IDENTITY.to_owned()]);
    assert_eq!(cert.oidc_issuer.as_deref(), Some(GITHUB_ACTIONS));
    assert!(cert.emails.is_empty());
    // Through the verifier: a policy with certificate trust and no keys.
    let vp = VerificationPolicy {
        certificates: Some(policy.clone()),
        ..VerificationPolicy::default()
    };
    let s = verify::verify_candidate(&d, &bundle_candidate(bytes.clone()), &vp).unwrap();
    assert_eq!(s.format, "sigstore-bundle-v0.3");
    assert_eq!(s.certificate, Some(cert));
    assert_eq!(s.key_fingerprint, v.key_fingerprint);
    // The Rekor key from the trusted root works as well.
    let from_root = rs_policy(trusted_root(RS_TRUSTED_ROOT).rekor_keys);
    assert!(bundle::verify_certificate_bundle(&bytes, &d, &from_root).is_ok());

    let check = |b: &[u8], p: &CertificatePolicy| bundle::verify_certificate_bundle(b, &d, p);
    // Wrong subject digest.
    assert_eq!(
        bundle::verify_certificate_bundle(&bytes, &digest(ZERO_DIGEST), &policy),
        Err(Rejection::DigestMismatch {
            expected: ZERO_DIGEST.into(),
            found: RS_DIGEST.into()
        })
    );
    // Wrong or missing Rekor key.
    assert_eq!(
        check(&bytes, &rs_policy(vec![cosign_pub()])),
        Err(Rejection::Rekor(RekorSetError::BadSet {
            tried: vec![cosign_pub().fingerprint()]
        }))
    );
    assert_eq!(
        check(&bytes, &rs_policy(vec![])),
        Err(Rejection::Rekor(RekorSetError::NoLogKeys))
    );
    // payloadType changed.
    let r = check(
        &edit(&bytes, |v| {
            v["dsseEnvelope"]["payloadType"] = "application/json".into()
        }),
        &policy,
    );
    assert!(
        matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains("payloadType")),
        "{r:?}"
    );
    // `_type` or `predicateType` changed: the logged payload hash no longer matches.
    for (field, value) in [
        ("_type", "https://in-toto.io/Statement/v0.1"),
        ("predicateType", "x"),
    ] {
        let changed = edit(&bytes, |v| {
            let body = STANDARD
                .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
                .unwrap();
            let mut s: Value = serde_json::from_slice(&body).unwrap();
            s[field] = value.into();
            v["dsseEnvelope"]["payload"] = STANDARD.encode(serde_json::to_vec(&s).unwrap()).into();
        });
        let r = check(&changed, &policy);
        assert!(
            matches!(
                r,
                Err(Rejection::Rekor(RekorSetError::PayloadHashMismatch { .. }))
            ),
            "{field}: {r:?}"
        );
    }
    // 0 or 2 DSSE signatures.
    for n in [0, 2] {
        let sigs = edit(&bytes, |v| {
            let sig = v["dsseEnvelope"]["signatures"][0].clone();
            v["dsseEnvelope"]["signatures"] = Value::Array(vec![sig; n]);
        });
        let r = check(&sigs, &policy);
        assert!(
            matches!(&r, Err(Rejection::Malformed { reason }) if reason.contains(&format!("exactly 1 signature, found {n}"))),
            "{r:?}"
        );
    }
    // 0 or 2 tlog entries.
    for n in [0, 2] {
        let entries = edit(&bytes, |v| {
            let e = v["verificationMaterial"]["tlogEntries"][0].clone();
            v["verificationMaterial"]["tlogEntries"] = Value::Array(vec![e; n]);
        });
        let r = check(&entries, &policy);
        assert!(
            matches!(&r, Err(Rejection::Rekor(RekorSetError::Malformed { reason })) if reason.contains(&format!("exactly 1 tlog entry, found {n}"))),
            "{r:?}"
        );
    }
    // A tampered tlog body (kind, apiVersion, envelopeHash, payloadHash, signature, verifier):
    // the SET no longer verifies.
    for pointer in [
        "/kind",
        "/apiVersion",
        "/spec/envelopeHash/value",
        "/spec/payloadHash/value",
        "/spec/signatures/0/signature",
        "/spec/signatures/0/verifier",
    ] {
        let tampered = edit(&bytes, |v| {
            let entry = &mut v["verificationMaterial"]["tlogEntries"][0];
            let body = STANDARD
                .decode(entry["canonicalizedBody"].as_str().unwrap())
                .unwrap();
            let mut b: Value = serde_json::from_slice(&body).unwrap();
            *b.pointer_mut(pointer).unwrap() = "AAAA".into();
            entry["canonicalizedBody"] = STANDARD.encode(serde_json::to_vec(&b).unwrap()).into();
        });
        let r = check(&tampered, &policy);
        assert!(
            matches!(r, Err(Rejection::Rekor(RekorSetError::BadSet { .. }))),
            "{pointer}: {r:?}"
        );
    }
    // Fulcio pool = the two old roots, which did not issue this certificate.
    let old_roots = TrustedCertificates::new(
        [1, 2]
            .iter()
            .flat_map(|n| {
                Certificate::chain_from_pem(
                    &vector(&format!("{RS_CONSTANTS}/FULCIO_CRT_{n}_PEM.pem")),
                    "old Fulcio root",
                )
                .unwrap()
            })
            .collect(),
        vec![],
    )
    .unwrap();
    let r = check(
        &bytes,
        &CertificatePolicy {
            trust: old_roots,
            ..policy.clone()
        },
    );
    assert!(
        matches!(
            r,
            Err(Rejection::Certificate(CertificateError::Untrusted { .. }))
        ),
        "{r:?}"
    );
    // Another identity or issuer.
    for identity in [
        CertificateIdentity::new(
            SubjectName::Any("wrong".into()),
            OidcIssuer::Exact(GITHUB_ACTIONS.into()),
        ),
        CertificateIdentity::new(
            SubjectName::Uri(RS_IDENTITY.into()),
            OidcIssuer::Exact("https://github.com/login/oauth".into()),
        ),
    ] {
        let r = check(
            &bytes,
            &CertificatePolicy {
                identity,
                ..policy.clone()
            },
        );
        assert!(
            matches!(
                r,
                Err(Rejection::CertificateIdentityMismatch { .. }
                    | Rejection::CertificateIssuerMismatch { .. })
            ),
            "{r:?}"
        );
    }
    // No log requirement: the certificate (valid ten minutes in April 2026) is checked at "now".
    let later = CertificatePolicy {
        log: TransparencyLog::NotRequired {
            now: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
        },
        ..policy.clone()
    };
    assert!(matches!(
        check(&bytes, &later),
        Err(Rejection::Certificate(CertificateError::NotValidAt { .. }))
    ));
    // No certificate material.
    let nocert = edit(&bytes, |v| {
        v["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("certificate");
    });
    assert!(matches!(
        check(&nocert, &policy),
        Err(Rejection::MissingCertificate { .. })
    ));
}

/// The `dsse` entry of row 35 records the envelope's payload hash, signature and certificate;
/// a genuine entry for another envelope or signer is refused.
#[test]
fn row35_dsse_tlog_body_consistency() {
    let b = bundle::parse(&vector(RS_BUNDLE)).unwrap();
    let envelope = b.dsse_envelope.clone().unwrap();
    let payload = envelope.body().unwrap();
    let rekor = RekorBundle::from_tlog_entry(&b.verification_material.tlog_entries[0]).unwrap();
    let leaf_der = STANDARD
        .decode(
            b.verification_material.certificate.as_ref().unwrap()["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let leaf = Certificate::from_der(&leaf_der, "leaf").unwrap();
    assert_eq!(
        bundle::check_dsse_entry(&rekor.body, &envelope, &payload, &leaf),
        Ok(())
    );
    assert_eq!(rekor.payload.integrated_time, 1775719409);
    assert_eq!(rekor.payload.log_index, 1261105807);

    let edit_body = |pointer: &str, value: Value| {
        let mut v: Value = serde_json::from_slice(&rekor.body).unwrap();
        *v.pointer_mut(pointer).unwrap() = value;
        serde_json::to_vec(&v).unwrap()
    };
    for (pointer, value) in [("/kind", "hashedrekord"), ("/apiVersion", "0.0.2")] {
        let r = bundle::check_dsse_entry(
            &edit_body(pointer, value.into()),
            &envelope,
            &payload,
            &leaf,
        );
        assert!(
            matches!(r, Err(RekorSetError::BadBody { .. })),
            "{pointer}: {r:?}"
        );
    }
    let r = bundle::check_dsse_entry(
        &edit_body("/spec/payloadHash/value", "00".into()),
        &envelope,
        &payload,
        &leaf,
    );
    assert!(
        matches!(r, Err(RekorSetError::PayloadHashMismatch { .. })),
        "{r:?}"
    );
    let other_sig = STANDARD.encode([1u8; 70]);
    let r = bundle::check_dsse_entry(
        &edit_body("/spec/signatures/0/signature", other_sig.into()),
        &envelope,
        &payload,
        &leaf,
    );
    assert!(
        matches!(r, Err(RekorSetError::SignatureMismatch { .. })),
        "{r:?}"
    );
    // Another certificate as verifier (row 43's).
    let co = bundle::parse(&vector(CO_BUNDLE)).unwrap();
    let co_der = STANDARD
        .decode(
            co.verification_material.certificate.as_ref().unwrap()["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let co_pem =
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &co_der).unwrap();
    let r = bundle::check_dsse_entry(
        &edit_body(
            "/spec/signatures/0/verifier",
            STANDARD.encode(co_pem).into(),
        ),
        &envelope,
        &payload,
        &leaf,
    );
    assert!(
        matches!(r, Err(RekorSetError::SignerMismatch { .. })),
        "{r:?}"
    );
    // Two logged signatures.
    let mut v: Value = serde_json::from_slice(&rekor.body).unwrap();
    let s = v["spec"]["signatures"][0].clone();
    v["spec"]["signatures"] = json!([s.clone(), s]);
    let r = bundle::check_dsse_entry(&serde_json::to_vec(&v).unwrap(), &envelope, &payload, &leaf);
    assert!(matches!(r, Err(RekorSetError::BadBody { .. })), "{r:?}");
}

/// Row 43: the keyless attestation bundle verifies for its subject with trusted_root_pgi.json
/// and any identity; not with another identity, nor for another image.
#[test]
fn row43_keyless_attestation_verified_by_certificate() {
    let bytes = vector(CO_BUNDLE);
    let d = digest(CO_DIGEST);
    let root = trusted_root(CO_TRUSTED_ROOT);
    let policy = |identity| CertificatePolicy {
        trust: root.certificates.clone(),
        identity,
        log: TransparencyLog::Required {
            rekor_keys: root.rekor_keys.clone(),
        },
    };
    let v = bundle::verify_certificate_bundle(
        &bytes,
        &d,
        &policy(CertificateIdentity::any_issued_by_trusted_roots()),
    )
    .unwrap();
    assert_eq!(v.predicate_type, attestation::CUSTOM_PREDICATE);
    let cert = v.certificate.unwrap();
    assert_eq!(cert.emails, vec!["cody@soyland.com".to_owned()]);
    assert_eq!(
        cert.oidc_issuer.as_deref(),
        Some("https://github.com/login/oauth")
    );
    // The exact identity too.
    let exact = CertificateIdentity::new(
        SubjectName::Any("cody@soyland.com".into()),
        OidcIssuer::Exact("https://github.com/login/oauth".into()),
    );
    assert!(bundle::verify_certificate_bundle(&bytes, &d, &policy(exact)).is_ok());
    // SubjectRegExp "wrong".
    let wrong = CertificateIdentity::new(SubjectName::Any("wrong".into()), OidcIssuer::NotChecked);
    assert_eq!(
        bundle::verify_certificate_bundle(&bytes, &d, &policy(wrong)),
        Err(Rejection::CertificateIdentityMismatch {
            expected: "email, uri or dns:wrong".into(),
            found: "email:cody@soyland.com".into()
        })
    );
    // Attached to another image.
    let r = bundle::verify_certificate_bundle(
        &bytes,
        &digest(SAMPLE_DIGEST),
        &policy(CertificateIdentity::any_issued_by_trusted_roots()),
    );
    assert!(matches!(r, Err(Rejection::DigestMismatch { .. })), "{r:?}");
    // As an image signature it is an attestation, not a signature.
    let vp = VerificationPolicy {
        certificates: Some(policy(CertificateIdentity::any_issued_by_trusted_roots())),
        ..VerificationPolicy::default()
    };
    let r = verify::verify_candidate(&d, &bundle_candidate(bytes), &vp);
    assert!(matches!(r, Err(Rejection::NotASignature { .. })), "{r:?}");
}
