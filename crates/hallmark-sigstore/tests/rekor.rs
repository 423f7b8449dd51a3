//! Rekor SETs in cosign's `dev.sigstore.cosign/bundle` annotation (rows 10, 11, 12, 22, 23,
//! 25, and the SET parts of rows 13, 35 and 43).

use crate::support::*;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, PublicKey, SigningKey};
use hallmark_sigstore::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, SIGNATURE_ANNOTATION,
    rekor_set::{self, ExpectedSigner, LoggedSigner, RekorBundle, RekorSetError},
    verify,
};
use serde_json::json;

const PUBLIC_GOOD_LOG_ID: &str = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";
const KEY_REKOR_REPO: &str = "192.168.64.2:5000/cosign-signed/key-1";

fn testdata(name: &str) -> Vec<u8> {
    vector(&format!("{CI_TESTDATA}/{name}"))
}

fn testdata_text(name: &str) -> String {
    String::from_utf8(testdata(name)).unwrap().trim().to_owned()
}

/// Row 22: rekor.pub is the public-good log key; its ID is the sha256 of its SPKI.
#[test]
fn row22_rekor_key_and_log_id() {
    let k = rekor_pub();
    assert_eq!(k.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(k.fingerprint(), PUBLIC_GOOD_LOG_ID);
    let rs_dir = "sigstore-rs/extracted-from-tests/src/cosign/mod_rs";
    assert_eq!(
        vector_text(&format!("{rs_dir}/REKOR_PUB_KEY_ID.txt")).trim(),
        PUBLIC_GOOD_LOG_ID
    );
    assert_eq!(key(&format!("{rs_dir}/REKOR_PUB_KEY.pem")), k);
}

/// Row 23: an RSA key is not accepted as a Rekor key.
#[test]
fn row23_rsa_rekor_key_is_a_configuration_error() {
    let rsa = key(&format!("{CI_FIXTURES}/some-rsa-key.pub"));
    let c = candidate_from_file(&format!(
        "{CI_FIXTURES}/dir-img-cosign-key-rekor-valid/signature-1"
    ));
    for keys in [vec![rsa.clone()], vec![rekor_pub(), rsa.clone()]] {
        let r = rekor_set::verify_candidate(&c, &keys, ExpectedSigner::Key(&cosign2_pub()));
        assert_eq!(
            r,
            Err(RekorSetError::UnsupportedLogKey {
                fingerprint: rsa.fingerprint(),
                found: "rsa"
            })
        );
    }
    let r = rekor_set::verify_candidate(&c, &[], ExpectedSigner::Key(&cosign2_pub()));
    assert_eq!(r, Err(RekorSetError::NoLogKeys));
}

/// Row 25: the SET of rekor_set_test.go verifies with rekor.pub, for its payload, signature
/// and certificate.
#[test]
fn row25_rekor_set_valid() {
    let (set, payload, sig, cert) = (
        testdata("rekor-set"),
        testdata("rekor-payload"),
        testdata_text("rekor-sig"),
        testdata("rekor-cert"),
    );
    let v = rekor_set::verify(
        &set,
        &[rekor_pub()],
        &payload,
        &sig,
        ExpectedSigner::CertificatePem(&cert),
    )
    .unwrap();
    assert_eq!(v.integrated_time, 1670870899);
    assert_eq!(v.log_index, 8949589);
    assert_eq!(v.log_id, PUBLIC_GOOD_LOG_ID);
    assert!(
        matches!(v.signer, LoggedSigner::Certificate { .. }),
        "{v:?}"
    );
    // Other Rekor keys next to the right one do no harm, in either order.
    for keys in [
        vec![rekor_pub(), cosign_pub()],
        vec![cosign_pub(), rekor_pub()],
    ] {
        assert_eq!(
            rekor_set::verify(
                &set,
                &keys,
                &payload,
                &sig,
                ExpectedSigner::CertificatePem(&cert)
            ),
            Ok(v.clone())
        );
    }
    // fixtures/ holds the same files.
    for name in ["rekor-set", "rekor-payload", "rekor-sig", "rekor.pub"] {
        assert_eq!(
            vector(&format!("{CI_FIXTURES}/{name}")),
            testdata(name),
            "{name}"
        );
    }
    assert_eq!(
        testdata("rekor-cert"),
        vector(&format!("{CI_FIXTURES}/fulcio-cert"))
    );
    // The parsed bundle and its canonical form.
    let b = RekorBundle::parse(&set).unwrap();
    let canonical = String::from_utf8(b.canonical_payload()).unwrap();
    assert!(
        canonical.starts_with("{\"body\":\"eyJhcGlWZXJzaW9uIjoiMC4wLjEi"),
        "{canonical}"
    );
    assert!(
        canonical.ends_with(&format!("\",\"integratedTime\":1670870899,\"logID\":\"{PUBLIC_GOOD_LOG_ID}\",\"logIndex\":8949589}}")),
        "{canonical}"
    );
    assert_eq!(
        b.hashed_rekord().unwrap().hash_value,
        Digest::sha256_of(&payload).hex()
    );
}

/// Row 25: every damaged input is rejected.
#[test]
fn row25_rekor_set_invalid() {
    let (set, payload, sig, cert) = (
        testdata("rekor-set"),
        testdata("rekor-payload"),
        testdata_text("rekor-sig"),
        testdata("rekor-cert"),
    );
    let run = |set: &[u8], keys: &[PublicKey], payload: &[u8], sig: &str, cert: &[u8]| {
        rekor_set::verify(
            set,
            keys,
            payload,
            sig,
            ExpectedSigner::CertificatePem(cert),
        )
    };
    let rekor = [rekor_pub()];
    // Non-matching Rekor key.
    assert_eq!(
        run(&set, &[cosign_pub()], &payload, &sig, &cert),
        Err(RekorSetError::BadSet {
            tried: vec![cosign_pub().fingerprint()]
        })
    );
    // Empty or garbage SET.
    for bad in [&b""[..], b"this is not JSON", b"{}", b"[]"] {
        let r = run(bad, &rekor, &payload, &sig, &cert);
        assert!(matches!(r, Err(RekorSetError::Malformed { .. })), "{r:?}");
    }
    // The signature truncated by one character (not base64) or by one quantum (another
    // signature).
    assert_eq!(
        run(&set, &rekor, &payload, &sig[..sig.len() - 1], &cert),
        Err(RekorSetError::SignatureNotBase64)
    );
    let r = run(&set, &rekor, &payload, &sig[..sig.len() - 4], &cert);
    assert!(
        matches!(r, Err(RekorSetError::SignatureMismatch { .. })),
        "{r:?}"
    );
    // The certificate empty, not PEM, or two PEMs.
    let two = [cert.clone(), cert.clone()].concat();
    for bad in [&b""[..], b"this is not PEM", &two] {
        let r = run(&set, &rekor, &payload, &sig, bad);
        assert!(
            matches!(r, Err(RekorSetError::BadSignerCertificate { .. })),
            "{r:?}"
        );
    }
    // Another certificate (the Fulcio intermediate), or a key instead of the certificate.
    let chain = vector(&format!("{CI_FIXTURES}/fulcio_v1.crt.pem"));
    let r = run(&set, &rekor, &payload, &sig, &chain);
    assert!(
        matches!(r, Err(RekorSetError::SignerMismatch { .. })),
        "{r:?}"
    );
    let r = rekor_set::verify(
        &set,
        &rekor,
        &payload,
        &sig,
        ExpectedSigner::Key(&cosign_pub()),
    );
    assert!(
        matches!(r, Err(RekorSetError::SignerMismatch { .. })),
        "{r:?}"
    );
    // Another payload.
    let other = testdata("rekor-payload")
        .into_iter()
        .map(|b| if b == b'a' { b'b' } else { b })
        .collect::<Vec<_>>();
    assert_eq!(
        run(&set, &rekor, &other, &sig, &cert),
        Err(RekorSetError::PayloadHashMismatch {
            expected: Digest::sha256_of(&other).hex().to_owned(),
            found: Digest::sha256_of(&payload).hex().to_owned(),
        })
    );
}

/// Edit the JSON of a RekorBundle annotation.
fn edit(set: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(set).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// The annotation is read strictly, and any change to the signed fields breaks the SET.
#[test]
fn rekor_bundle_strict_and_tamper_evident() {
    let (set, payload, sig, cert) = (
        testdata("rekor-set"),
        testdata("rekor-payload"),
        testdata_text("rekor-sig"),
        testdata("rekor-cert"),
    );
    let run = |set: &[u8]| {
        rekor_set::verify(
            set,
            &[rekor_pub()],
            &payload,
            &sig,
            ExpectedSigner::CertificatePem(&cert),
        )
    };
    assert!(run(&set).is_ok());
    // Shape.
    let malformed: Vec<Vec<u8>> = vec![
        edit(&set, |v| v["Extra"] = json!(1)),
        edit(&set, |v| v["Payload"]["extra"] = json!(1)),
        edit(&set, |v| {
            v["Payload"].as_object_mut().unwrap().remove("logID");
        }),
        edit(&set, |v| {
            v.as_object_mut().unwrap().remove("SignedEntryTimestamp");
        }),
        edit(&set, |v| {
            v["Payload"]["integratedTime"] = json!(1670870899.5)
        }),
        edit(&set, |v| v["Payload"]["logIndex"] = json!("8949589")),
        edit(&set, |v| v["Payload"]["body"] = json!("not base64!")),
        edit(&set, |v| v["SignedEntryTimestamp"] = json!("")),
    ];
    for m in &malformed {
        let r = run(m);
        assert!(
            matches!(r, Err(RekorSetError::Malformed { .. })),
            "{} -> {r:?}",
            String::from_utf8_lossy(m)
        );
    }
    // Signed fields.
    let tampered: Vec<Vec<u8>> = vec![
        edit(&set, |v| v["Payload"]["integratedTime"] = json!(1670870900)),
        edit(&set, |v| v["Payload"]["logIndex"] = json!(8949590)),
        edit(&set, |v| {
            v["Payload"]["logID"] = json!(PUBLIC_GOOD_LOG_ID.replace('c', "d"))
        }),
        edit(&set, |v| {
            let body = v["Payload"]["body"].as_str().unwrap();
            let decoded = String::from_utf8(STANDARD.decode(body).unwrap()).unwrap();
            v["Payload"]["body"] =
                json!(STANDARD.encode(decoded.replace("hashedrekord", "hashedRekord")));
        }),
    ];
    for t in &tampered {
        let r = run(t);
        assert_eq!(
            r,
            Err(RekorSetError::BadSet {
                tried: vec![PUBLIC_GOOD_LOG_ID.to_owned()]
            })
        );
    }
}

/// Rows 10 and 12: a key-signed image with a SET: accepted with every listed combination of
/// signing keys and Rekor keys; a SET for another signature is rejected.
#[test]
fn row10_key_and_rekor_valid() {
    let img = DirImage::load("dir-img-cosign-key-rekor-valid");
    let key_sets = [
        vec![cosign2_pub()],
        vec![cosign2_pub(), cosign_pub()],
        vec![cosign_pub(), cosign2_pub()],
    ];
    let rekor_sets = [
        vec![rekor_pub()],
        vec![rekor_pub(), cosign_pub()],
        vec![cosign_pub(), rekor_pub()],
    ];
    for keys in &key_sets {
        let ok = img
            .verify(KEY_REKOR_REPO, &repo_policy(keys.clone(), KEY_REKOR_REPO))
            .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].key_fingerprint, cosign2_pub().fingerprint());
        let signer = keys
            .iter()
            .find(|k| k.fingerprint() == ok[0].key_fingerprint)
            .unwrap();
        for rekor_keys in &rekor_sets {
            let v = rekor_set::verify_candidate(
                &img.candidates[0],
                rekor_keys,
                ExpectedSigner::Key(signer),
            )
            .unwrap();
            assert_eq!((v.integrated_time, v.log_index), (1674251859, 11608800));
            assert_eq!(v.log_id, PUBLIC_GOOD_LOG_ID);
            assert_eq!(
                v.signer,
                LoggedSigner::PublicKey {
                    fingerprint: cosign2_pub().fingerprint()
                }
            );
        }
    }
    // The entry logs cosign2.pub, not cosign.pub.
    let r = rekor_set::verify_candidate(
        &img.candidates[0],
        &[rekor_pub()],
        ExpectedSigner::Key(&cosign_pub()),
    );
    assert!(
        matches!(r, Err(RekorSetError::SignerMismatch { .. })),
        "{r:?}"
    );
}

/// Row 11: the SET removed, not a SET, or checked with the wrong Rekor key.
#[test]
fn row11_key_and_rekor_invalid() {
    let img = DirImage::load("dir-img-cosign-key-rekor-valid");
    let signer = cosign2_pub();
    let mut c = img.candidates[0].clone();
    c.annotations.remove(BUNDLE_ANNOTATION);
    assert_eq!(
        rekor_set::verify_candidate(&c, &[rekor_pub()], ExpectedSigner::Key(&signer)),
        Err(RekorSetError::MissingBundle)
    );
    c.annotations
        .insert(BUNDLE_ANNOTATION.into(), "this is not a valid SET".into());
    let r = rekor_set::verify_candidate(&c, &[rekor_pub()], ExpectedSigner::Key(&signer));
    assert!(matches!(r, Err(RekorSetError::Malformed { .. })), "{r:?}");
    let r = rekor_set::verify_candidate(
        &img.candidates[0],
        &[cosign_pub()],
        ExpectedSigner::Key(&signer),
    );
    assert_eq!(
        r,
        Err(RekorSetError::BadSet {
            tried: vec![cosign_pub().fingerprint()]
        })
    );
    // Signature annotation gone.
    let mut c = img.candidates[0].clone();
    c.annotations.remove(SIGNATURE_ANNOTATION);
    assert_eq!(
        rekor_set::verify_candidate(&c, &[rekor_pub()], ExpectedSigner::Key(&signer)),
        Err(RekorSetError::MissingSignature)
    );
}

/// Row 12: row 1's signature (by cosign.pub) carrying row 10's SET (for cosign2.pub's
/// signature): the signature verifies by key, the SET is genuine, but it is for another
/// signature.
#[test]
fn row12_set_for_another_signature() {
    let mut c = DirImage::load("dir-img-cosign-valid").candidates.remove(0);
    let rekor_c = DirImage::load("dir-img-cosign-key-rekor-valid")
        .candidates
        .remove(0);
    c.annotations.insert(
        BUNDLE_ANNOTATION.into(),
        rekor_c.annotations[BUNDLE_ANNOTATION].clone(),
    );
    let keys = vec![cosign_pub(), cosign2_pub()];
    let v = verify::verify_candidate(&digest(SAMPLE_DIGEST), &c, &repo_policy(keys, SAMPLE_REPO))
        .unwrap();
    assert_eq!(v.key_fingerprint, cosign_pub().fingerprint());
    let r = rekor_set::verify_candidate(&c, &[rekor_pub()], ExpectedSigner::Key(&cosign_pub()));
    assert_eq!(
        r,
        Err(RekorSetError::SignatureMismatch {
            expected: c.annotations[SIGNATURE_ANNOTATION].clone(),
            found: rekor_c.annotations[SIGNATURE_ANNOTATION].clone(),
        })
    );
    // Even with the SET's own signature in place, the payload differs.
    c.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        rekor_c.annotations[SIGNATURE_ANNOTATION].clone(),
    );
    let r = rekor_set::verify_candidate(&c, &[rekor_pub()], ExpectedSigner::Key(&cosign2_pub()));
    assert!(
        matches!(r, Err(RekorSetError::PayloadHashMismatch { .. })),
        "{r:?}"
    );
}

/// Rows 13/14 (SET part only): the keyless image's SET verifies for its certificate; it is
/// rejected with the wrong Rekor key and for a key signer. Certificates are not verified.
#[test]
fn row13_keyless_set_verifies_for_its_certificate() {
    let c = DirImage::load("dir-img-cosign-fulcio-rekor-valid")
        .candidates
        .remove(0);
    let cert = c.annotations[CERTIFICATE_ANNOTATION].clone();
    let v = rekor_set::verify_candidate(
        &c,
        &[rekor_pub()],
        ExpectedSigner::CertificatePem(cert.as_bytes()),
    )
    .unwrap();
    assert_eq!(v.integrated_time, 1674247893);
    assert_eq!(v.log_id, PUBLIC_GOOD_LOG_ID);
    let r = rekor_set::verify_candidate(
        &c,
        &[cosign_pub()],
        ExpectedSigner::CertificatePem(cert.as_bytes()),
    );
    assert!(matches!(r, Err(RekorSetError::BadSet { .. })), "{r:?}");
    let r = rekor_set::verify_candidate(&c, &[rekor_pub()], ExpectedSigner::Key(&cosign_pub()));
    assert!(
        matches!(r, Err(RekorSetError::SignerMismatch { .. })),
        "{r:?}"
    );
}

/// Rows 35 and 43 (inclusion promise only): the SET of a bundle's tlog entry verifies with the
/// public-good Rekor key, not with another key, and not once tampered.
#[test]
fn bundle_tlog_entry_inclusion_promise() {
    for (file, integrated_time, log_index) in [
        (
            "sigstore-rs/tests/data/bundle_v03.json",
            1775719409,
            1261105807,
        ),
        (
            "cosign/pkg/cosign/testdata/oci-attestation.sigstore.json",
            1740770291,
            175508996,
        ),
    ] {
        let bundle: serde_json::Value = serde_json::from_slice(&vector(file)).unwrap();
        let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
        let b = RekorBundle::from_tlog_entry(entry).unwrap();
        assert_eq!(
            (b.payload.integrated_time, b.payload.log_index),
            (integrated_time, log_index),
            "{file}"
        );
        assert_eq!(
            b.verify_set(&[rekor_pub()]).unwrap(),
            PUBLIC_GOOD_LOG_ID,
            "{file}"
        );
        assert!(
            matches!(
                b.verify_set(&[cosign_pub()]),
                Err(RekorSetError::BadSet { .. })
            ),
            "{file}"
        );
        // A dsse entry, not a hashedrekord.
        assert!(
            matches!(
                b.hashed_rekord(),
                Err(RekorSetError::UnsupportedEntry { .. })
            ),
            "{file}"
        );
        let mut t = entry.clone();
        t["integratedTime"] = json!((integrated_time + 1).to_string());
        let b = RekorBundle::from_tlog_entry(&t).unwrap();
        assert!(
            matches!(
                b.verify_set(&[rekor_pub()]),
                Err(RekorSetError::BadSet { .. })
            ),
            "{file}"
        );
        let mut t = entry.clone();
        t.as_object_mut().unwrap().remove("inclusionPromise");
        assert!(
            matches!(
                RekorBundle::from_tlog_entry(&t),
                Err(RekorSetError::Malformed { .. })
            ),
            "{file}"
        );
    }
}

/// A log of our own: a SET made with a generated key, over a hashedrekord entry for a
/// generated signing key, verifies; a wrong logID is caught even when the SET signs it.
#[test]
fn generated_log_round_trip() {
    let log = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let payload = b"{\"critical\":{}}";
    let sig = STANDARD.encode(signer.sign(payload).unwrap());
    let body = json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": Digest::sha256_of(payload).hex()}},
            "signature": {"content": sig, "publicKey": {"content": STANDARD.encode(signer.public_key().to_pem())}},
        },
    });
    let make = |log_id: &str| {
        let body_b64 = STANDARD.encode(serde_json::to_vec(&body).unwrap());
        let canonical = format!(
            "{{\"body\":\"{body_b64}\",\"integratedTime\":1700000000,\"logID\":\"{log_id}\",\"logIndex\":42}}"
        );
        let set = STANDARD.encode(log.sign(canonical.as_bytes()).unwrap());
        let bundle = json!({"SignedEntryTimestamp": set, "Payload": {"body": body_b64, "integratedTime": 1700000000, "logIndex": 42, "logID": log_id}});
        // The canonical form hallmark computes is the one signed.
        assert_eq!(
            RekorBundle::parse(&serde_json::to_vec(&bundle).unwrap())
                .unwrap()
                .canonical_payload(),
            canonical.as_bytes()
        );
        serde_json::to_vec(&bundle).unwrap()
    };
    let log_keys = [log.public_key().clone()];
    let good = make(&log.public_key().fingerprint());
    let v = rekor_set::verify(
        &good,
        &log_keys,
        payload,
        &sig,
        ExpectedSigner::Key(signer.public_key()),
    )
    .unwrap();
    assert_eq!((v.integrated_time, v.log_index), (1700000000, 42));
    assert_eq!(
        v.signer,
        LoggedSigner::PublicKey {
            fingerprint: signer.public_key().fingerprint()
        }
    );
    // Another signer key.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let r = rekor_set::verify(
        &good,
        &log_keys,
        payload,
        &sig,
        ExpectedSigner::Key(other.public_key()),
    );
    assert!(
        matches!(r, Err(RekorSetError::SignerMismatch { .. })),
        "{r:?}"
    );
    // A logID that is not the log key's.
    let wrong = make(PUBLIC_GOOD_LOG_ID);
    let r = rekor_set::verify(
        &wrong,
        &log_keys,
        payload,
        &sig,
        ExpectedSigner::Key(signer.public_key()),
    );
    assert_eq!(
        r,
        Err(RekorSetError::LogIdMismatch {
            expected: log.public_key().fingerprint(),
            found: PUBLIC_GOOD_LOG_ID.into()
        })
    );
}

/// The `dsse` 0.0.1 body hallmark's log stores is Rekor's, byte for byte: rebuilt from a
/// cosign bundle's envelope and certificate, it equals the body Rekor logged for it, except the
/// envelope hash (Rekor hashes the envelope JSON cosign submitted, which the bundle does not
/// keep; verifiers do not compare it).
#[test]
fn dsse_entry_body_is_rekors() {
    let bundle: serde_json::Value = serde_json::from_slice(&vector(
        "cosign/pkg/cosign/testdata/oci-attestation.sigstore.json",
    ))
    .unwrap();
    let b64 = |v: &serde_json::Value| STANDARD.decode(v.as_str().unwrap()).unwrap();
    let logged = b64(&bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]);
    let logged: serde_json::Value = serde_json::from_slice(&logged).unwrap();
    let verifier = b64(&logged["spec"]["signatures"][0]["verifier"]);
    let envelope = serde_json::to_string(&bundle["dsseEnvelope"]).unwrap();
    let entry = hallmark_tlog::rekor::DsseRekord::new(&envelope, vec![verifier.clone()]).unwrap();
    // One signature, one verifier: the only pairing.
    let signed = entry.pair(|_, _| true).unwrap();
    let ours = String::from_utf8(signed.canonical_body()).unwrap();
    let mut theirs = logged.clone();
    theirs["spec"]["envelopeHash"]["value"] =
        serde_json::Value::String(Digest::sha256_of(envelope.as_bytes()).hex().to_owned());
    let theirs = hallmark_tlog::jcs::canonicalize(&theirs).unwrap();
    assert_eq!(ours.as_bytes(), theirs.as_slice());
    // The proposed entry round-trips to the same entry.
    let again = hallmark_tlog::rekor::DsseRekord::parse_proposed(&entry.proposed_json()).unwrap();
    assert_eq!(again, entry);
    // No signatures, no verifier, or bad base64 are refused, naming the field.
    let mut none = bundle["dsseEnvelope"].clone();
    none["signatures"] = serde_json::json!([]);
    let err = hallmark_tlog::rekor::DsseRekord::new(&none.to_string(), vec![verifier.clone()])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a non-empty signatures array"),
        "{err}"
    );
    let mut bad = bundle["dsseEnvelope"].clone();
    bad["signatures"][0]["sig"] = serde_json::json!("not base64!");
    let err = hallmark_tlog::rekor::DsseRekord::new(&bad.to_string(), vec![verifier.clone()])
        .unwrap_err();
    assert!(err.to_string().contains("signatures[0].sig"), "{err}");
    let err = hallmark_tlog::rekor::DsseRekord::new(&envelope, vec![Vec::new()]).unwrap_err();
    assert!(err.to_string().contains("verifiers"), "{err}");
}
