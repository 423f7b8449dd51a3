//! notation's COSE envelopes (notation-go's test data), read and verified, and one altered copy
//! per rule the reader enforces.

use super::data;
use coset::cbor::value::Value;
use hallmark_notation::{
    Algorithm, COSE_MEDIA_TYPE, EnvelopeError, Format, JWS_MEDIA_TYPE, SigningScheme, cose,
};
use time::OffsetDateTime;

const ENVELOPE: &str = "internal/testdata/cose_signature.sig";

fn decode(bytes: &[u8]) -> Value {
    coset::cbor::de::from_reader(bytes).unwrap()
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    coset::cbor::ser::into_writer(v, &mut out).unwrap();
    out
}

/// The four items of the envelope's COSE_Sign1.
fn items(v: &mut Value) -> &mut Vec<Value> {
    match v {
        Value::Tag(18, inner) => match inner.as_mut() {
            Value::Array(a) => a,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

/// The valid envelope with its protected header map replaced by `edit` of it (the signature no
/// longer matches, but the reader's rules come first).
fn with_protected(edit: impl Fn(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let mut v = decode(&data(ENVELOPE));
    let a = items(&mut v);
    let Value::Bytes(p) = &a[0] else {
        panic!("protected")
    };
    let Value::Map(mut map) = decode(p) else {
        panic!("protected map")
    };
    edit(&mut map);
    a[0] = Value::Bytes(encode(&Value::Map(map)));
    encode(&v)
}

fn set(map: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => map.push((key, value)),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn notations_cose_envelope_verifies_and_names_the_same_artifact() {
    let bytes = data(ENVELOPE);
    let e = cose::parse(&bytes).unwrap();
    assert_eq!(e.format, Format::Cose);
    assert_eq!(e.attributes.algorithm, Algorithm::Ps256);
    assert_eq!(e.attributes.signing_scheme, SigningScheme::X509);
    assert_eq!(
        e.attributes.signing_time,
        Some(OffsetDateTime::from_unix_timestamp(0x640f_fbe2).unwrap())
    );
    assert_eq!(e.attributes.critical, vec!["io.cncf.notary.signingScheme"]);
    assert!(e.attributes.extended.is_empty());
    assert_eq!(e.signing_agent.as_deref(), Some("Notation/1.0.0"));
    assert_eq!(e.timestamp, None);
    e.verify_integrity().unwrap();
    let manifest = data(
        "internal/testdata/oci-layout/blobs/sha256/19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
    );
    e.payload
        .check_target(
            "application/vnd.oci.image.manifest.v1+json",
            &hallmark_core::Digest::sha256_of(&manifest).to_string(),
            manifest.len() as u64,
        )
        .unwrap();
    // The same signer as the JWS envelope of the same artifact.
    let jws = hallmark_notation::jws::parse(&data("internal/testdata/jws_signature.sig")).unwrap();
    assert_eq!(e.chain, jws.chain);
    assert_eq!(e.payload, jws.payload);

    // By media type.
    let by_type = hallmark_notation::parse(&bytes, COSE_MEDIA_TYPE).unwrap();
    assert_eq!(by_type.format, Format::Cose);
    let as_jws = hallmark_notation::parse(&bytes, JWS_MEDIA_TYPE).unwrap_err();
    assert!(
        matches!(as_jws, EnvelopeError::Malformed { format: "JWS", .. }),
        "{as_jws:?}"
    );
    let unknown = hallmark_notation::parse(&bytes, "application/json")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("application/jose+json")
            && unknown.contains("application/cose")
            && unknown.contains("\"application/json\""),
        "{unknown}"
    );
}

#[test]
fn timestamped_cose_envelopes_keep_their_timestamp_tokens() {
    for name in ["coseWithTimestamp.sig", "timestampAfterNotAfter.sig"] {
        let e = cose::parse(&data(&format!("verifier/testdata/timestamp/sigEnv/{name}"))).unwrap();
        let token = e.timestamp.as_deref().expect(name);
        // A DER SEQUENCE (CMS ContentInfo) filling the whole byte string.
        assert_eq!(token[0], 0x30, "{name}");
        assert!(token.len() > 1000, "{name}: {} bytes", token.len());
        e.verify_integrity().unwrap();
        assert_eq!(e.attributes.signing_scheme, SigningScheme::X509);
    }
}

#[test]
fn a_flipped_signature_byte_fails_integrity_and_another_alg_is_refused() {
    let mut v = decode(&data(ENVELOPE));
    let a = items(&mut v);
    let Value::Bytes(sig) = &mut a[3] else {
        panic!("signature")
    };
    sig[10] ^= 1;
    let e = cose::parse(&encode(&v)).unwrap();
    assert_eq!(
        e.verify_integrity(),
        Err(EnvelopeError::Integrity { algorithm: "PS256" })
    );

    // PS384 claimed over the RSA-2048 key that dictates PS256.
    let other = with_protected(|m| set(m, Value::Integer(1.into()), Value::Integer((-38).into())));
    assert_eq!(
        cose::parse(&other).unwrap().verify_integrity(),
        Err(EnvelopeError::AlgorithmMismatch {
            expected: "PS256",
            found: "PS384".into()
        })
    );
}

#[test]
fn each_rule_of_the_cose_protected_header_is_enforced_and_named() {
    let crit = Value::Integer(2.into());
    let scheme = "io.cncf.notary.signingScheme";
    let mut untagged = decode(&data(ENVELOPE));
    let untagged = encode(&Value::Array(items(&mut untagged).clone()));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "alg not one of the six",
            with_protected(|m| set(m, Value::Integer(1.into()), Value::Integer((-8).into()))),
            "signed attribute alg: expected -37 (PS256), -38 (PS384), -39 (PS512), -7 (ES256), -35 (ES384) or -36 (ES512), found -8",
        ),
        (
            "alg as text",
            with_protected(|m| set(m, Value::Integer(1.into()), text("PS256"))),
            "found the text \"PS256\"",
        ),
        (
            "crit without the signing scheme",
            with_protected(|m| set(m, crit.clone(), Value::Array(vec![]))),
            "expected io.cncf.notary.signingScheme listed as critical, found []",
        ),
        (
            "an unknown critical label",
            with_protected(|m| {
                m.push((text("io.example.mustUnderstand"), Value::Bool(true)));
                set(
                    m,
                    crit.clone(),
                    Value::Array(vec![text(scheme), text("io.example.mustUnderstand")]),
                );
            }),
            "unknown critical attribute \"io.example.mustUnderstand\"",
        ),
        (
            "an integer label 0-8 in crit",
            with_protected(|m| {
                set(
                    m,
                    crit.clone(),
                    Value::Array(vec![text(scheme), Value::Integer(1.into())]),
                );
            }),
            "signed attribute crit: expected no integer labels 0 to 8, found 1",
        ),
        (
            "a critical label the header does not have",
            with_protected(|m| {
                set(
                    m,
                    crit.clone(),
                    Value::Array(vec![text(scheme), text("io.cncf.notary.expiry")]),
                );
            }),
            "expected only attributes the header has, found io.cncf.notary.expiry",
        ),
        (
            "no crit",
            with_protected(|m| m.retain(|(k, _)| *k != crit)),
            "signed attribute crit: expected a list of critical attribute names, found nothing",
        ),
        (
            "another content type",
            with_protected(|m| set(m, Value::Integer(3.into()), text("application/json"))),
            "expected application/vnd.cncf.notary.payload.v1+json, found the text \"application/json\"",
        ),
        (
            "another signing scheme",
            with_protected(|m| set(m, text(scheme), text("notary.x509.v2"))),
            "expected notary.x509 or notary.x509.signingAuthority, found \"notary.x509.v2\"",
        ),
        (
            "a signing time without tag 1",
            with_protected(|m| {
                set(
                    m,
                    text("io.cncf.notary.signingTime"),
                    Value::Integer(1_678_769_122.into()),
                );
            }),
            "expected an epoch date/time (CBOR tag 1 over integer seconds), found the integer 1678769122",
        ),
        (
            "no signing time under notary.x509",
            with_protected(|m| m.retain(|(k, _)| *k != text("io.cncf.notary.signingTime"))),
            "required by notary.x509",
        ),
        (
            "a label twice",
            {
                let mut v = decode(&data(ENVELOPE));
                let a = items(&mut v);
                let Value::Bytes(p) = &a[0] else { panic!() };
                // The map's entry count plus one, then alg again.
                let mut p = p.clone();
                p[0] += 1;
                p.extend([0x01, 0x38, 0x24]);
                a[0] = Value::Bytes(p);
                encode(&v)
            },
            "the protected header label the integer 1 twice",
        ),
        (
            "an untagged COSE_Sign1",
            untagged,
            "expected a notation COSE envelope, found an untagged COSE_Sign1 (COSE_Sign1_Tagged, CBOR tag 18, is required)",
        ),
        (
            "another tag",
            {
                let mut v = decode(&data(ENVELOPE));
                let inner = items(&mut v).clone();
                encode(&Value::Tag(98, Box::new(Value::Array(inner))))
            },
            "CBOR tag 98 (COSE_Sign1_Tagged is tag 18)",
        ),
        (
            "not CBOR",
            vec![0xff, 0x00],
            "expected a notation COSE envelope, found an envelope that is not CBOR",
        ),
        (
            "a JWS envelope",
            data("internal/testdata/jws_signature.sig"),
            "found an envelope that is not CBOR",
        ),
        (
            "trailing bytes",
            {
                let mut b = data(ENVELOPE);
                b.push(0);
                b
            },
            "1 bytes after the envelope",
        ),
    ];
    for (what, bytes, needle) in cases {
        let err = cose::parse(&bytes).expect_err(what).to_string();
        assert!(
            err.contains(needle),
            "{what}: expected {needle:?} in {err:?}"
        );
    }
}

#[test]
fn x5chain_may_be_one_byte_string_and_must_be_there() {
    let mut v = decode(&data(ENVELOPE));
    let a = items(&mut v);
    let Value::Map(unprotected) = &mut a[1] else {
        panic!("unprotected")
    };
    let chain = unprotected
        .iter_mut()
        .find(|(k, _)| *k == Value::Integer(33.into()))
        .unwrap();
    let Value::Array(certs) = &chain.1 else {
        panic!("x5chain")
    };
    chain.1 = certs[0].clone();
    let single = cose::parse(&encode(&v)).unwrap();
    assert_eq!(single.chain.len(), 1);
    single.verify_integrity().unwrap();

    let Value::Map(unprotected) = &mut items(&mut v)[1] else {
        panic!("unprotected")
    };
    unprotected.retain(|(k, _)| *k != Value::Integer(33.into()));
    let err = cose::parse(&encode(&v)).unwrap_err();
    assert!(
        matches!(err, EnvelopeError::Chain(ref m) if m.contains("x5chain (label 33)")),
        "{err:?}"
    );
}

#[test]
fn every_truncation_and_byte_change_of_an_envelope_is_read_without_panicking() {
    let original = data(ENVELOPE);
    for len in 0..original.len() {
        assert!(cose::parse(&original[..len]).is_err(), "truncated to {len}");
    }
    let mut accepted = 0;
    for i in 0..original.len() {
        for x in [0x01, 0x80, 0xff] {
            let mut bytes = original.clone();
            bytes[i] ^= x;
            if let Ok(e) = cose::parse(&bytes) {
                accepted += 1;
                assert!(!e.chain.is_empty());
                let _ = e.verify_integrity();
            }
        }
    }
    // Changes in the certificate, the payload's strings or the signature still parse.
    assert!(accepted > 0);
}
