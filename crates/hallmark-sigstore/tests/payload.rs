//! The simple-signing payload: byte-exact building against cosign-made payloads, strict
//! parsing, and crypto-valid signatures over invalid payloads (row 28).

use crate::support::*;
use hallmark_sigstore::{
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SignatureCandidate,
    candidate::CandidateSource,
    error::{PayloadError, Rejection},
    payload, verify,
};
use std::collections::BTreeMap;

/// `payload::build` writes the payload cosign wrote, byte for byte.
#[test]
fn build_matches_cosign_payload_bytes() {
    let cosign_made = DirImage::load("dir-img-cosign-valid")
        .candidates
        .remove(0)
        .body;
    let built = payload::build(SAMPLE_REPO, &digest(SAMPLE_DIGEST), &BTreeMap::new());
    assert_eq!(
        String::from_utf8(built).unwrap(),
        String::from_utf8(cosign_made.clone()).unwrap()
    );
    // The same payload is in every cosign-made fixture for this image.
    for file in [
        "dir-img-cosign-valid-2/signature-2",
        "unknown-cosign-key.signature",
    ] {
        assert_eq!(
            candidate_from_file(&format!("{CI_FIXTURES}/{file}")).body,
            cosign_made,
            "{file}"
        );
    }
    // And for the Rekor fixture (another image, another repository).
    let rekor = candidate_from_file(&format!(
        "{CI_FIXTURES}/dir-img-cosign-key-rekor-valid/signature-1"
    ));
    let d = digest("sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a");
    assert_eq!(
        payload::build(
            "192.168.64.2:5000/cosign-signed/key-1",
            &d,
            &BTreeMap::new()
        ),
        rekor.body
    );
    // And rekor-payload of rekor_set_test.go.
    let rekor_payload = vector(&format!("{CI_TESTDATA}/rekor-payload"));
    let d = digest("sha256:fa93b01658e3a5a1686dc3ae55f170d8de487006fb53a28efcd12ab0710a2e5f");
    assert_eq!(
        payload::build(
            "192.168.64.2:5000/test-repo-2100826901021538654/alpine",
            &d,
            &BTreeMap::new()
        ),
        rekor_payload
    );
}

/// Annotations go to `optional`, sorted, Go-escaped; parse gives them back.
#[test]
fn build_with_annotations_round_trips() {
    let mut a = BTreeMap::new();
    a.insert("z".to_owned(), "<last>".to_owned());
    a.insert("a".to_owned(), "first & only".to_owned());
    let bytes = payload::build(SAMPLE_REPO, &digest(SAMPLE_DIGEST), &a);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.ends_with(r#""optional":{"a":"first \u0026 only","z":"\u003clast\u003e"}}"#),
        "{text}"
    );
    let parsed = payload::parse(&bytes).unwrap();
    assert_eq!(parsed.annotations(), a);
    assert_eq!(parsed.docker_reference, SAMPLE_REPO);
    assert_eq!(parsed.manifest_digest.to_string(), SAMPLE_DIGEST);
}

const VALID: &str = r#"{"critical":{"identity":{"docker-reference":"r.example/a"},"image":{"docker-manifest-digest":"sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"},"type":"cosign container image signature"},"optional":null}"#;

fn parse_with(
    f: impl FnOnce(&mut serde_json::Value),
) -> Result<payload::SimpleSigning, PayloadError> {
    let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    f(&mut v);
    payload::parse(&serde_json::to_vec(&v).unwrap())
}

/// Parsing is as strict as containers/image: exact fields, right types.
#[test]
fn parse_strictness() {
    assert!(payload::parse(VALID.as_bytes()).is_ok());
    assert!(parse_with(|_| {}).is_ok());
    // `optional` may be absent, null or an object.
    assert!(
        parse_with(|v| {
            v.as_object_mut().unwrap().remove("optional");
        })
        .is_ok()
    );
    let p = parse_with(|v| v["optional"] = serde_json::json!({"k": "v", "n": 1})).unwrap();
    assert_eq!(p.annotations().len(), 1);

    // Extra fields anywhere.
    for (path, object) in [
        (&[][..], "payload"),
        (&["critical"][..], "critical"),
        (&["critical", "identity"][..], "critical.identity"),
        (&["critical", "image"][..], "critical.image"),
    ] {
        let r = parse_with(|v| {
            let mut o = v;
            for p in path {
                o = &mut o[*p];
            }
            o["extra"] = serde_json::json!("x");
        });
        assert_eq!(
            r,
            Err(PayloadError::UnexpectedField {
                object,
                field: "extra".into()
            }),
            "{object}"
        );
    }
    // Missing fields.
    let r = parse_with(|v| {
        v.as_object_mut().unwrap().remove("critical");
    });
    assert_eq!(
        r,
        Err(PayloadError::MissingField {
            object: "payload",
            field: "critical"
        })
    );
    for (object, field) in [
        ("critical", "type"),
        ("critical", "identity"),
        ("critical", "image"),
    ] {
        let r = parse_with(|v| {
            v["critical"].as_object_mut().unwrap().remove(field);
        });
        assert_eq!(r, Err(PayloadError::MissingField { object, field }));
    }
    let r = parse_with(|v| {
        v["critical"]["image"]
            .as_object_mut()
            .unwrap()
            .remove("docker-manifest-digest");
    });
    assert_eq!(
        r,
        Err(PayloadError::MissingField {
            object: "critical.image",
            field: "docker-manifest-digest"
        })
    );
    // Wrong types.
    let r = parse_with(|v| v["critical"]["type"] = serde_json::json!(1));
    assert_eq!(
        r,
        Err(PayloadError::NotAString {
            field: "critical.type"
        })
    );
    let r =
        parse_with(|v| v["critical"]["identity"]["docker-reference"] = serde_json::json!(["x"]));
    assert_eq!(
        r,
        Err(PayloadError::NotAString {
            field: "critical.identity.docker-reference"
        })
    );
    let r =
        parse_with(|v| v["critical"]["image"]["docker-manifest-digest"] = serde_json::json!(null));
    assert_eq!(
        r,
        Err(PayloadError::NotAString {
            field: "critical.image.docker-manifest-digest"
        })
    );
    let r = parse_with(|v| v["critical"]["image"] = serde_json::json!("sha256:00"));
    assert_eq!(
        r,
        Err(PayloadError::NotAnObject {
            object: "critical.image"
        })
    );
    let r = parse_with(|v| v["critical"] = serde_json::json!([]));
    assert_eq!(r, Err(PayloadError::NotAnObject { object: "critical" }));
    // Wrong type constant, bad digest.
    let r = parse_with(|v| v["critical"]["type"] = serde_json::json!("atomic container signature"));
    assert_eq!(
        r,
        Err(PayloadError::WrongType {
            found: "atomic container signature".into()
        })
    );
    let r = parse_with(|v| {
        v["critical"]["image"]["docker-manifest-digest"] = serde_json::json!("sha256:ABC")
    });
    assert!(matches!(r, Err(PayloadError::BadDigest { .. })), "{r:?}");
    // `optional` of another kind.
    for bad in [
        serde_json::json!("x"),
        serde_json::json!(1),
        serde_json::json!([]),
        serde_json::json!(true),
    ] {
        let r = parse_with(|v| v["optional"] = bad.clone());
        assert_eq!(
            r,
            Err(PayloadError::NotAnObject { object: "optional" }),
            "{bad}"
        );
    }
    // Not JSON / not an object.
    assert!(matches!(
        payload::parse(b"&"),
        Err(PayloadError::NotJson { .. })
    ));
    assert_eq!(
        payload::parse(b"[]"),
        Err(PayloadError::NotAnObject { object: "payload" })
    );
}

fn extracted(name: &str) -> (Vec<u8>, String) {
    let dir = "containers-image/extracted-from-tests/signature/internal/sigstore_payload_test";
    (
        vector(&format!("{dir}/{name}.payload")),
        vector_text(&format!("{dir}/{name}.sig.b64"))
            .trim()
            .to_owned(),
    )
}

/// Row 28: signatures by cosign.pub over `&` and `{}` verify cryptographically, but the
/// payloads are rejected.
#[test]
fn row28_valid_signature_over_invalid_payload() {
    for (name, body) in [("nonjson", &b"&"[..]), ("emptyobject", &b"{}"[..])] {
        let (payload_bytes, sig) = extracted(name);
        assert_eq!(payload_bytes, body);
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sig).unwrap();
        cosign_pub().verify(&payload_bytes, &raw).unwrap();

        let c = SignatureCandidate {
            source: CandidateSource::File { name: name.into() },
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
            body: payload_bytes,
            annotations: [(SIGNATURE_ANNOTATION.to_owned(), sig)].into(),
        };
        let r =
            verify::verify_candidate(&digest(SAMPLE_DIGEST), &c, &key_policy(vec![cosign_pub()]));
        match (name, r) {
            ("nonjson", Err(Rejection::Payload(PayloadError::NotJson { .. }))) => {}
            (
                "emptyobject",
                Err(Rejection::Payload(PayloadError::MissingField {
                    object: "payload",
                    field: "critical",
                })),
            ) => {}
            (name, r) => panic!("{name}: unexpected {r:?}"),
        }
        // With another key it fails earlier, at the signature.
        let r =
            verify::verify_candidate(&digest(SAMPLE_DIGEST), &c, &key_policy(vec![cosign2_pub()]));
        assert!(matches!(r, Err(Rejection::NoKeyVerifies { .. })), "{r:?}");
    }
}
