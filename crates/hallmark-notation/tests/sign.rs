//! Writing envelopes: notation-core-go's conformance vectors byte for byte, notation's own
//! envelopes rewritten byte for byte from what they say, and envelopes signed with fresh keys
//! (ECDSA P-256/P-384/P-521, RSA-2048/3072 PSS) under a fresh chain read back and verified.

use super::data;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use coset::cbor::value::Value as Cbor;
use hallmark_notation::sign::{self, ExtendedAttribute, SignRequest};
use hallmark_notation::{
    Algorithm, EnvelopeError, Format, Payload, SigningScheme, chain, cose, jws,
};
use serde_json::Value;
use std::sync::OnceLock;
use time::OffsetDateTime;
use time::macros::datetime;

fn core_data(path: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/data/notation-core-go/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b64url(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn cbor(bytes: &[u8]) -> Cbor {
    coset::cbor::de::from_reader(bytes).unwrap()
}

fn cbor_bytes(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    coset::cbor::ser::into_writer(v, &mut out).unwrap();
    out
}

fn cose_items(bytes: &[u8]) -> Vec<Cbor> {
    match cbor(bytes) {
        Cbor::Tag(18, inner) => match *inner {
            Cbor::Array(a) => a,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// A test PKI: a self-signed P-256 root and a leaf of each key type, built as DER by hand.

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    match n {
        0..=0x7f => out.push(n as u8),
        0x80..=0xff => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

const OID_CN: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
const OID_BASIC_CONSTRAINTS: [u8; 5] = [0x06, 0x03, 0x55, 0x1d, 0x13];
const OID_KEY_USAGE: [u8; 5] = [0x06, 0x03, 0x55, 0x1d, 0x0f];
const OID_ECDSA_SHA256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

fn name(cn: &str) -> Vec<u8> {
    seq(&[tlv(
        0x31,
        &seq(&[OID_CN.to_vec(), tlv(0x0c, cn.as_bytes())]),
    )])
}

fn extension(oid: &[u8], value: Vec<u8>) -> Vec<u8> {
    seq(&[oid.to_vec(), tlv(0x01, &[0xff]), tlv(0x04, &value)])
}

/// A certificate for `spki`, signed by `issuer` (ECDSA P-256, SHA-256), valid 2020 to 2100.
fn certificate(
    serial: u8,
    issuer: (&str, &EcdsaKeyPair),
    subject: &str,
    spki: &[u8],
    ca: bool,
) -> Vec<u8> {
    let alg = seq(&[OID_ECDSA_SHA256.to_vec()]);
    let extensions = if ca {
        vec![
            extension(&OID_BASIC_CONSTRAINTS, seq(&[tlv(0x01, &[0xff])])),
            // keyCertSign, cRLSign
            extension(&OID_KEY_USAGE, tlv(0x03, &[0x01, 0x06])),
        ]
    } else {
        // digitalSignature
        vec![extension(&OID_KEY_USAGE, tlv(0x03, &[0x07, 0x80]))]
    };
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[serial]),
        alg.clone(),
        name(issuer.0),
        seq(&[tlv(0x17, b"200101000000Z"), tlv(0x18, b"21000101000000Z")]),
        name(subject),
        spki.to_vec(),
        tlv(0xa3, &seq(&extensions)),
    ]);
    let signature = issuer.1.sign(&SystemRandom::new(), &tbs).unwrap();
    seq(&[
        tbs,
        alg,
        tlv(0x03, &[&[0u8][..], signature.as_ref()].concat()),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    P256,
    P384,
    P521,
    Rsa2048,
    Rsa3072,
}

enum LeafKey {
    /// DER-signing key pair and the same key signing fixed-width r || s.
    Ec(EcdsaKeyPair, EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

struct Signer {
    chain: Vec<Vec<u8>>,
    key: LeafKey,
    algorithm: Algorithm,
}

impl Signer {
    fn generate(kind: Kind) -> Self {
        let root = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let root_spki = root.public_key().as_der().unwrap();
        let root_cert = certificate(
            1,
            ("Test Root", &root),
            "Test Root",
            root_spki.as_ref(),
            true,
        );
        let ec = |der: &'static sig::EcdsaSigningAlgorithm,
                  fixed: &'static sig::EcdsaSigningAlgorithm| {
            let k = EcdsaKeyPair::generate(der).unwrap();
            let pkcs8 = k.to_pkcs8v1().unwrap();
            let f = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref()).unwrap();
            LeafKey::Ec(k, f)
        };
        let rsa = |size| LeafKey::Rsa(RsaKeyPair::generate(size).unwrap());
        let (key, algorithm) = match kind {
            Kind::P256 => (
                ec(
                    &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                ),
                Algorithm::Es256,
            ),
            Kind::P384 => (
                ec(
                    &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                    &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
                ),
                Algorithm::Es384,
            ),
            Kind::P521 => (
                ec(
                    &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
                    &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
                ),
                Algorithm::Es512,
            ),
            Kind::Rsa2048 => (rsa(aws_lc_rs::rsa::KeySize::Rsa2048), Algorithm::Ps256),
            Kind::Rsa3072 => (rsa(aws_lc_rs::rsa::KeySize::Rsa3072), Algorithm::Ps384),
        };
        let spki = match &key {
            LeafKey::Ec(k, _) => k.public_key().as_der().unwrap().as_ref().to_vec(),
            LeafKey::Rsa(k) => k.public_key().as_der().unwrap().as_ref().to_vec(),
        };
        let leaf = certificate(2, ("Test Root", &root), "Test Signer", &spki, false);
        Self {
            chain: vec![leaf, root_cert],
            key,
            algorithm,
        }
    }

    /// One signer per kind for the whole test run (RSA keys are slow to make).
    fn of(kind: Kind) -> &'static Signer {
        static SIGNERS: [OnceLock<Signer>; 5] = [const { OnceLock::new() }; 5];
        SIGNERS[kind as usize].get_or_init(|| Signer::generate(kind))
    }

    /// ECDSA as ASN.1 DER (what this project's signers return), RSASSA-PSS.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            LeafKey::Ec(k, _) => k.sign(&rng, message).unwrap().as_ref().to_vec(),
            LeafKey::Rsa(k) => {
                let encoding: &'static dyn sig::RsaEncoding = match self.algorithm {
                    Algorithm::Ps256 => &sig::RSA_PSS_SHA256,
                    Algorithm::Ps384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(encoding, &rng, message, &mut out).unwrap();
                out
            }
        }
    }

    fn sign_fixed(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            LeafKey::Ec(_, f) => f
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
            LeafKey::Rsa(_) => self.sign(message),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn the_jws_protected_header_is_notation_core_gos_byte_for_byte() {
    // signature/jws/conformance_test.go: its fixed request, an ES256 key.
    let vector: Value =
        serde_json::from_slice(&core_data("signature/jws/testdata/conformance.json")).unwrap();
    let signer = Signer::of(Kind::P256);
    let mut request = SignRequest::new(
        Format::Jws,
        Payload::new("application/vnd.oci.image.manifest.v1+json", "sha256:0", 1),
        SigningScheme::X509,
        datetime!(2022-08-29 13:50:00 UTC),
        signer.chain.clone(),
    )
    .with_expiry(datetime!(2099-08-30 13:50:00 UTC))
    .with_signing_agent("NotationConformanceTest/1.0.0")
    .with_extended_attribute(ExtendedAttribute::new(
        "signedCritKey1",
        "signedCritValue1",
        true,
    ));
    for k in ["signedKey1", "signedKey2", "signedKey3", "signedKey4"] {
        request = request.with_extended_attribute(ExtendedAttribute::new(k, "signedValue1", false));
    }
    let prepared = sign::prepare(&request).unwrap();
    assert_eq!(prepared.algorithm(), Algorithm::Es256);
    assert_eq!(
        String::from_utf8(prepared.protected().to_vec()).unwrap(),
        String::from_utf8(b64url(vector["protected"].as_str().unwrap())).unwrap()
    );
    let signature = signer.sign(prepared.to_be_signed());
    let envelope = prepared.finish(&signature).unwrap();
    let written: Value = serde_json::from_slice(&envelope).unwrap();
    assert_eq!(
        written["header"]["io.cncf.notary.signingAgent"],
        vector["header"]["io.cncf.notary.signingAgent"]
    );
    assert_eq!(written["protected"], vector["protected"]);
    // signedCritKey1 is critical and means nothing to this reader: refused, as the
    // specification requires.
    assert_eq!(
        jws::parse(&envelope).unwrap_err(),
        EnvelopeError::UnknownCritical("signedCritKey1".into())
    );
}

#[test]
fn the_cose_protected_header_and_envelope_are_notation_core_gos_byte_for_byte() {
    // signature/cose/conformance_test.go: its fixed request, an RSA-3072 key (PS384).
    let vector: Value =
        serde_json::from_slice(&core_data("signature/cose/testdata/conformance.json")).unwrap();
    let hex = |path: &str| unhex(vector.pointer(path).unwrap().as_str().unwrap());
    let signer = Signer::of(Kind::Rsa3072);
    let request = SignRequest::new(
        Format::Cose,
        Payload::new("application/vnd.oci.image.manifest.v1+json", "sha256:0", 1),
        SigningScheme::X509,
        OffsetDateTime::from_unix_timestamp(vector["signingTime"].as_i64().unwrap()).unwrap(),
        signer.chain.clone(),
    )
    .with_expiry(OffsetDateTime::from_unix_timestamp(vector["expiry"].as_i64().unwrap()).unwrap())
    .with_signing_agent("NotationConformanceTest/1.0.0")
    .with_extended_attribute(ExtendedAttribute::new(
        "signedCritKey1",
        "signedCritValue1",
        true,
    ))
    .with_extended_attribute(ExtendedAttribute::new("signedKey1", "signedValue1", false));
    let prepared = sign::prepare(&request).unwrap();
    assert_eq!(prepared.algorithm(), Algorithm::Ps384);
    assert_eq!(prepared.protected(), hex("/protectedHeaders/cborHex"));
    // The bytes to sign: Sig_structure over exactly those bytes.
    assert_eq!(
        prepared.to_be_signed(),
        cbor_bytes(&Cbor::Array(vec![
            Cbor::Text("Signature1".into()),
            Cbor::Bytes(prepared.protected().to_vec()),
            Cbor::Bytes(vec![]),
            Cbor::Bytes(prepared.payload().to_vec()),
        ]))
    );
    let signature = signer.sign(prepared.to_be_signed());
    let envelope = prepared.finish(&signature).unwrap();
    // The envelope as the vector's, but for x5chain (which the vector leaves out), the payload
    // (the vector signs "hello COSE") and the signature (PSS is randomized).
    let mut items = cose_items(&envelope);
    let Cbor::Map(unprotected) = &mut items[1] else {
        panic!("unprotected")
    };
    let x5chain = unprotected.remove(0);
    assert_eq!(x5chain.0, Cbor::Integer(33.into()));
    assert_eq!(
        x5chain.1,
        Cbor::Array(signer.chain.iter().cloned().map(Cbor::Bytes).collect())
    );
    assert_eq!(cbor_bytes(&items[1]), hex("/unprotectedHeaders/cborHex"));
    let expected = cose_items(&hex("/expectedOutput/cborHex"));
    items[2] = Cbor::Bytes(unhex(vector["payload"].as_str().unwrap()));
    items[3] = expected[3].clone();
    assert_eq!(
        cbor_bytes(&Cbor::Tag(18, Box::new(Cbor::Array(items)))),
        hex("/expectedOutput/cborHex")
    );
    assert_eq!(
        cose::parse(&envelope).unwrap_err(),
        EnvelopeError::UnknownCritical("signedCritKey1".into())
    );
}

#[test]
fn notations_own_envelopes_are_rewritten_byte_for_byte() {
    // JWS: the request each envelope records, signed with its own signature.
    let original = data("internal/testdata/jws_signature.sig");
    let e = jws::parse(&original).unwrap();
    let request = SignRequest::new(
        Format::Jws,
        e.payload.clone(),
        e.attributes.signing_scheme,
        e.attributes.signing_time.unwrap(),
        e.chain.clone(),
    )
    .with_signing_agent(e.signing_agent.clone().unwrap());
    let json: Value = serde_json::from_slice(&original).unwrap();
    let prepared = sign::prepare(&request).unwrap();
    assert_eq!(
        prepared.payload(),
        b64url(json["payload"].as_str().unwrap())
    );
    let rewritten = prepared
        .finish(&b64url(json["signature"].as_str().unwrap()))
        .unwrap();
    assert_eq!(
        String::from_utf8(rewritten).unwrap(),
        String::from_utf8(original).unwrap()
    );

    // COSE, the same artifact and signer.
    let original = data("internal/testdata/cose_signature.sig");
    let e = cose::parse(&original).unwrap();
    let request = SignRequest::new(
        Format::Cose,
        e.payload.clone(),
        e.attributes.signing_scheme,
        e.attributes.signing_time.unwrap(),
        e.chain.clone(),
    )
    .with_signing_agent(e.signing_agent.clone().unwrap());
    let Cbor::Bytes(signature) = cose_items(&original).remove(3) else {
        panic!("signature")
    };
    let rewritten = sign::prepare(&request).unwrap().finish(&signature).unwrap();
    assert_eq!(rewritten, original);

    // notation-go's mock envelopes: expiry and the authentic signing time in the protected
    // header as notation writes them (their payloads were written by an older notation, in
    // the descriptor's field order).
    for name in ["ca_valid_sig_env.json", "sa_valid_sig_env.json"] {
        let original = data(&format!("internal/mock/testdata/{name}"));
        let e = jws::parse(&original).unwrap();
        let time = e
            .attributes
            .signing_time
            .or(e.attributes.authentic_signing_time)
            .unwrap();
        let mut request = SignRequest::new(
            Format::Jws,
            e.payload.clone(),
            e.attributes.signing_scheme,
            time,
            e.chain.clone(),
        );
        if let Some(expiry) = e.attributes.expiry {
            request = request.with_expiry(expiry);
        }
        let json: Value = serde_json::from_slice(&original).unwrap();
        assert_eq!(
            String::from_utf8(sign::prepare(&request).unwrap().protected().to_vec()).unwrap(),
            String::from_utf8(b64url(json["protected"].as_str().unwrap())).unwrap(),
            "{name}"
        );
    }
}

fn annotations() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("io.wabbit-networks.buildId".into(), "123".into());
    m.insert("note".into(), "<a & b>\n".into());
    m
}

fn request(format: Format, signer: &Signer, scheme: SigningScheme) -> SignRequest {
    SignRequest::new(
        format,
        Payload::new(
            "application/vnd.oci.image.manifest.v1+json",
            format!("sha256:{}", "ab".repeat(32)),
            1234,
        )
        .with_annotations(annotations()),
        scheme,
        datetime!(2025-06-01 12:34:56.789 +02:00),
        signer.chain.clone(),
    )
    .with_expiry(datetime!(2099-01-01 00:00:00.5 UTC))
    .with_signing_agent("hallmark/test")
}

#[test]
fn envelopes_signed_with_fresh_keys_read_back_and_verify() {
    let now = datetime!(2026-01-01 00:00 UTC);
    for kind in [
        Kind::P256,
        Kind::P384,
        Kind::P521,
        Kind::Rsa2048,
        Kind::Rsa3072,
    ] {
        let signer = Signer::of(kind);
        for format in [Format::Jws, Format::Cose] {
            for scheme in [SigningScheme::X509, SigningScheme::X509SigningAuthority] {
                let what = format!("{kind:?} {format:?} {scheme:?}");
                let req = request(format, signer, scheme);
                let prepared = sign::prepare(&req).unwrap();
                assert_eq!(prepared.algorithm(), signer.algorithm, "{what}");
                assert_eq!(prepared.format(), format, "{what}");
                let signature = signer.sign(prepared.to_be_signed());
                let bytes = prepared.finish(&signature).unwrap();
                let e = hallmark_notation::parse(&bytes, format.media_type()).unwrap();
                e.verify_integrity()
                    .unwrap_or_else(|err| panic!("{what}: {err}"));
                assert_eq!(e.format, format, "{what}");
                assert_eq!(e.attributes.algorithm, signer.algorithm, "{what}");
                assert_eq!(e.attributes.signing_scheme, scheme, "{what}");
                let signed_at = datetime!(2025-06-01 12:34:56 +02:00);
                match scheme {
                    SigningScheme::X509 => {
                        assert_eq!(e.attributes.signing_time, Some(signed_at), "{what}");
                        assert_eq!(e.attributes.authentic_signing_time, None, "{what}");
                    }
                    _ => {
                        assert_eq!(
                            e.attributes.authentic_signing_time,
                            Some(signed_at),
                            "{what}"
                        );
                        assert_eq!(e.attributes.signing_time, None, "{what}");
                    }
                }
                assert_eq!(
                    e.attributes.expiry,
                    Some(datetime!(2099-01-01 00:00 UTC)),
                    "{what}"
                );
                assert_eq!(e.payload, req.payload, "{what}");
                assert_eq!(e.chain, signer.chain, "{what}");
                assert_eq!(e.signing_agent.as_deref(), Some("hallmark/test"), "{what}");
                assert_eq!(e.timestamp, None, "{what}");
                chain::validate(&e.chain, now.unix_timestamp())
                    .unwrap_or_else(|err| panic!("{what}: {err}"));
            }
        }
    }
}

#[test]
fn ecdsa_signatures_are_taken_as_der_or_fixed_and_carried_fixed() {
    for kind in [Kind::P256, Kind::P384, Kind::P521] {
        let signer = Signer::of(kind);
        let width = match kind {
            Kind::P256 => 64,
            Kind::P384 => 96,
            _ => 132,
        };
        for format in [Format::Jws, Format::Cose] {
            let prepared = sign::prepare(&request(format, signer, SigningScheme::X509)).unwrap();
            let der = signer.sign(prepared.to_be_signed());
            let fixed = sign::ecdsa_der_to_fixed(&der, signer.algorithm).unwrap();
            assert_eq!(fixed.len(), width);
            let from_der = prepared.clone().finish(&der).unwrap();
            // ECDSA is randomized: a second, fixed-width signature gives another envelope that
            // verifies the same.
            let from_fixed = prepared
                .clone()
                .finish(&signer.sign_fixed(prepared.to_be_signed()))
                .unwrap();
            for bytes in [&from_der, &from_fixed] {
                let e = hallmark_notation::parse(bytes, format.media_type()).unwrap();
                e.verify_integrity().unwrap();
            }
            // The envelope holds r || s: the DER form's conversion.
            let carried = match format {
                Format::Jws => {
                    let v: Value = serde_json::from_slice(&from_der).unwrap();
                    b64url(v["signature"].as_str().unwrap())
                }
                _ => match cose_items(&from_der).remove(3) {
                    Cbor::Bytes(b) => b,
                    other => panic!("{other:?}"),
                },
            };
            assert_eq!(carried, fixed);

            // An envelope carrying the DER form is refused by the reader's integrity check, as
            // notation (Go's jwt and go-cose take r || s only) refuses it.
            let der_envelope = match format {
                Format::Jws => {
                    let mut v: Value = serde_json::from_slice(&from_der).unwrap();
                    v["signature"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(&der)
                        .into();
                    v.to_string().into_bytes()
                }
                _ => {
                    let mut items = cose_items(&from_der);
                    items[3] = Cbor::Bytes(der.clone());
                    cbor_bytes(&Cbor::Tag(18, Box::new(Cbor::Array(items))))
                }
            };
            let e = hallmark_notation::parse(&der_envelope, format.media_type()).unwrap();
            assert_eq!(
                e.verify_integrity(),
                Err(EnvelopeError::Integrity {
                    algorithm: signer.algorithm.jws_name()
                })
            );
        }
    }
}

#[test]
fn what_cannot_make_a_valid_envelope_is_refused_before_anything_is_written() {
    let signer = Signer::of(Kind::P256);
    let req = request(Format::Cose, signer, SigningScheme::X509);
    let prepared = sign::prepare(&req).unwrap();
    // A signature by another key, in either form.
    let p256_other = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let wrong = p256_other
        .sign(&SystemRandom::new(), prepared.to_be_signed())
        .unwrap();
    assert_eq!(
        prepared.clone().finish(wrong.as_ref()).unwrap_err(),
        EnvelopeError::Integrity { algorithm: "ES256" }
    );
    assert_eq!(
        prepared.clone().finish(&[7; 64]).unwrap_err(),
        EnvelopeError::Integrity { algorithm: "ES256" }
    );
    let err = prepared.clone().finish(&[7; 10]).unwrap_err().to_string();
    assert!(
        err.contains("an ES256 signature as ASN.1 DER or as 64 bytes r || s")
            && err.contains("found 10 bytes"),
        "{err}"
    );
    // A signature over other bytes.
    let elsewhere = signer.sign(b"something else");
    assert!(matches!(
        prepared.finish(&elsewhere),
        Err(EnvelopeError::Integrity { .. })
    ));

    let cases: Vec<(SignRequest, &str)> = vec![
        (
            {
                let mut r = req.clone();
                r.chain.clear();
                r
            },
            "expected the certificate chain, signing certificate first, found no certificate",
        ),
        (
            {
                let mut r = req.clone();
                r.chain = vec![b"not a certificate".to_vec()];
                r
            },
            "not X.509 DER",
        ),
        (
            {
                let mut r = req.clone();
                r.payload
                    .annotations
                    .insert("io.cncf.notary.x".into(), "1".into());
                r
            },
            "reserved io.cncf.notary prefix, found io.cncf.notary.x",
        ),
        (
            {
                let mut r = req.clone();
                r.payload.annotations.insert("n".into(), 1.into());
                r
            },
            "expected string annotation values, found n: 1",
        ),
        (
            req.clone().with_extended_attribute(ExtendedAttribute::new(
                "io.cncf.notary.expiry",
                1,
                false,
            )),
            "extended attributes with keys of their own",
        ),
        (
            req.clone()
                .with_extended_attribute(ExtendedAttribute::new("k", 1, false))
                .with_extended_attribute(ExtendedAttribute::new("k", 2, true)),
            "\"k\" twice",
        ),
        (
            {
                let mut r = req.clone();
                r.format = Format::Jws;
                r.signing_time = datetime!(2025-01-01 00:00 +01:00:30);
                r
            },
            "RFC 3339",
        ),
    ];
    for (r, needle) in cases {
        let err = sign::prepare(&r).unwrap_err().to_string();
        assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    }
}
