//! Notation's own envelopes (notation-go's test data), read and verified as notation does, and
//! one altered envelope per rule the reader enforces.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use base64::Engine as _;
use hallmark_notation::{Algorithm, EnvelopeError, SigningScheme, jws};
use serde_json::Value;
use time::macros::datetime;

mod timestamp;

mod cose;
mod sign;

fn data(path: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/data/notation-go/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn notations_envelopes_verify_as_their_readme_says() {
    let e = jws::parse(&data("internal/testdata/jws_signature.sig")).unwrap();
    assert_eq!(e.attributes.algorithm, Algorithm::Ps256);
    assert_eq!(e.attributes.signing_scheme, SigningScheme::X509);
    assert_eq!(
        e.attributes.signing_time,
        Some(datetime!(2023-03-14 16:10:02 +08:00))
    );
    e.verify_integrity().unwrap();
    // The payload names the manifest of the layout, byte for byte.
    let manifest = data(
        "internal/testdata/oci-layout/blobs/sha256/19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
    );
    let digest = hallmark_core::Digest::sha256_of(&manifest).to_string();
    e.payload
        .check_target(
            "application/vnd.oci.image.manifest.v1+json",
            &digest,
            manifest.len() as u64,
        )
        .unwrap();
    assert!(matches!(
        e.payload
            .check_target("application/vnd.oci.image.manifest.v1+json", &digest, 480),
        Err(EnvelopeError::Target { .. })
    ));

    let valid = jws::parse(&data("internal/mock/testdata/ca_valid_sig_env.json")).unwrap();
    assert_eq!(valid.attributes.algorithm, Algorithm::Ps384);
    assert_eq!(valid.chain.len(), 2, "leaf and root");
    valid.verify_integrity().unwrap();
    assert!(!valid.attributes.expired_at(datetime!(2026-12-03 00:00 UTC)));

    let sa = jws::parse(&data("internal/mock/testdata/sa_valid_sig_env.json")).unwrap();
    assert_eq!(
        sa.attributes.signing_scheme,
        SigningScheme::X509SigningAuthority
    );
    assert!(sa.attributes.authentic_signing_time.is_some());
    sa.verify_integrity().unwrap();

    let expired = jws::parse(&data("internal/mock/testdata/ca_expired_sig_env.json")).unwrap();
    expired.verify_integrity().unwrap();
    assert!(
        expired
            .attributes
            .expired_at(datetime!(2026-12-03 00:00 UTC))
    );

    // Its payload carries base64 padding, which the JWS encoding (unpadded base64url, Go's
    // RawURLEncoding in notation) does not allow: refused before any signature check.
    let corrupted = jws::parse(&data("internal/mock/testdata/ca_invalid_sig_env.json"));
    match corrupted {
        Err(EnvelopeError::Malformed { found, .. }) => {
            assert!(
                found.contains("payload is not unpadded base64url"),
                "{found}"
            );
        }
        other => panic!("expected the padded payload refused, found {other:?}"),
    }
    // The valid envelope with one byte of its signature changed fails integrity.
    let mut v: Value =
        serde_json::from_slice(&data("internal/mock/testdata/ca_valid_sig_env.json")).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut sig = b64.decode(v["signature"].as_str().unwrap()).unwrap();
    sig[10] ^= 1;
    v["signature"] = Value::String(b64.encode(sig));
    let tampered = jws::parse(v.to_string().as_bytes()).unwrap();
    assert_eq!(
        tampered.verify_integrity(),
        Err(EnvelopeError::Integrity { algorithm: "PS384" })
    );
}

/// The valid envelope with its protected header replaced by `edit` of it (the signature no
/// longer matches, but the reader's rules come first).
fn with_protected(edit: impl Fn(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&data("internal/mock/testdata/ca_valid_sig_env.json")).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut protected: Value =
        serde_json::from_slice(&b64.decode(v["protected"].as_str().unwrap()).unwrap()).unwrap();
    edit(protected.as_object_mut().unwrap());
    v["protected"] = Value::String(b64.encode(protected.to_string()));
    v.to_string().into_bytes()
}

#[test]
fn each_rule_of_the_protected_header_is_enforced_and_named() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown critical attribute",
            with_protected(|p| {
                p.insert("io.example.mustUnderstand".into(), Value::Bool(true));
                p["crit"]
                    .as_array_mut()
                    .unwrap()
                    .push("io.example.mustUnderstand".into());
            }),
            "unknown critical attribute",
        ),
        (
            "expiry not listed as critical",
            with_protected(|p| {
                p.insert(
                    "crit".into(),
                    serde_json::json!(["io.cncf.notary.signingScheme"]),
                );
            }),
            "io.cncf.notary.expiry listed as critical",
        ),
        (
            "no crit",
            with_protected(|p| {
                p.remove("crit");
            }),
            "crit",
        ),
        (
            "registered header in crit",
            with_protected(|p| p["crit"].as_array_mut().unwrap().push("alg".into())),
            "no registered header names",
        ),
        (
            "another signing scheme",
            with_protected(|p| {
                p.insert(
                    "io.cncf.notary.signingScheme".into(),
                    "notary.x509.v2".into(),
                );
            }),
            "notary.x509 or notary.x509.signingAuthority",
        ),
        (
            "alg none",
            with_protected(|p| {
                p.insert("alg".into(), "none".into());
            }),
            "PS256, PS384",
        ),
        (
            "another content type",
            with_protected(|p| {
                p.insert("cty".into(), "application/json".into());
            }),
            "application/vnd.cncf.notary.payload.v1+json",
        ),
        (
            "no signing time under notary.x509",
            with_protected(|p| {
                p.remove("io.cncf.notary.signingTime");
            }),
            "required by notary.x509",
        ),
        ("not JSON", b"{\"payload\": ".to_vec(), "invalid JSON"),
        (
            "an extra top-level member",
            {
                let mut v: Value =
                    serde_json::from_slice(&data("internal/mock/testdata/ca_valid_sig_env.json"))
                        .unwrap();
                v["signatures"] = serde_json::json!([]);
                v.to_string().into_bytes()
            },
            "only payload, protected, header and signature",
        ),
    ];
    for (what, bytes, needle) in cases {
        let err = jws::parse(&bytes).expect_err(what).to_string();
        assert!(
            err.contains(needle),
            "{what}: expected {needle:?} in {err:?}"
        );
    }
}

#[test]
fn an_algorithm_other_than_the_keys_is_refused_before_any_signature_check() {
    // PS256 claimed over the RSA-3072 key that dictates PS384.
    let bytes = with_protected(|p| {
        p.insert("alg".into(), "PS256".into());
    });
    let e = jws::parse(&bytes).unwrap();
    assert_eq!(
        e.verify_integrity(),
        Err(EnvelopeError::AlgorithmMismatch {
            expected: "PS384",
            found: "PS256".into()
        })
    );
}

fn pem_der(path: &str) -> Vec<u8> {
    let text = String::from_utf8(data(path)).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn the_chains_of_notations_envelopes_meet_the_certificate_rules_and_anchor_in_its_store() {
    use hallmark_notation::chain;
    let now = datetime!(2026-12-03 00:00 UTC).unix_timestamp();
    let root =
        pem_der("verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem");
    let valid = jws::parse(&data("internal/mock/testdata/ca_valid_sig_env.json")).unwrap();
    chain::validate(&valid.chain, now).unwrap();
    assert!(chain::anchored(&valid.chain, std::slice::from_ref(&root)));
    let alpine = jws::parse(&data("internal/testdata/jws_signature.sig")).unwrap();
    chain::validate(&alpine.chain, now).unwrap();
    assert!(
        !chain::anchored(&alpine.chain, std::slice::from_ref(&root)),
        "another root is not anchored in this store"
    );
    // Out of order: root first.
    let reversed: Vec<Vec<u8>> = valid.chain.iter().rev().cloned().collect();
    let err = chain::validate(&reversed, now).unwrap_err().to_string();
    assert!(
        err.contains("expected") && err.contains("found"),
        "the error names what was expected and found: {err}"
    );
    // Outside the certificates' validity.
    let later = datetime!(2200-01-01 00:00 UTC).unix_timestamp();
    let err = chain::validate(&valid.chain, later)
        .unwrap_err()
        .to_string();
    assert!(err.contains("valid at the instant checked"), "{err}");
    // Thumbprints as the signature manifest's annotation carries them.
    let t = chain::thumbprints(&valid.chain);
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
    }));
}

#[test]
fn the_specifications_trust_policy_loads_and_selects_as_notation_does() {
    use hallmark_notation::trustpolicy::{self, Action, Check, Level, TrustStore};
    // The example of trust-store-trust-policy.md.
    let doc = trustpolicy::parse(
        br#"{"version":"1.0","trustPolicies":[
 {"name":"wabbit-networks-images","registryScopes":["registry.acme-rockets.io/software/net-monitor"],
  "signatureVerification":{"level":"strict"},"trustStores":["ca:wabbit-networks"],
  "trustedIdentities":["x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools"]},
 {"name":"unsigned-image","registryScopes":["registry.wabbit-networks.io/software/unsigned/net-utils"],
  "signatureVerification":{"level":"skip"}},
 {"name":"use-expired-image","registryScopes":["registry.acme-rockets.io/software/legacy/metrics"],
  "signatureVerification":{"level":"strict","override":{"expiry":"log","revocation":"skip"}},
  "trustStores":["ca:acme-rockets"],"trustedIdentities":["*"]},
 {"name":"global","registryScopes":["*"],"signatureVerification":{"level":"permissive","verifyTimestamp":"afterCertExpiry"},
  "trustStores":["ca:acme-rockets","tsa:trusted-tsa"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let p = doc
        .select("registry.acme-rockets.io/software/net-monitor")
        .unwrap();
    assert_eq!(p.name, "wabbit-networks-images");
    assert_eq!(
        p.trust_stores,
        vec![TrustStore::Ca("wabbit-networks".into())]
    );
    let subject = |s: &str| trustpolicy::parse_dn(s).unwrap();
    assert!(p.trusts_subject(&subject(
        "C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools, CN=signer"
    )));
    assert!(!p.trusts_subject(&subject("C=US, ST=WA, O=acme-rockets.io")));
    assert_eq!(
        doc.select("registry.wabbit-networks.io/software/unsigned/net-utils")
            .unwrap()
            .action(Check::Integrity),
        Action::Skip
    );
    let expired = doc
        .select("registry.acme-rockets.io/software/legacy/metrics")
        .unwrap();
    assert_eq!(expired.action(Check::Expiry), Action::Log);
    assert_eq!(expired.action(Check::Revocation), Action::Skip);
    assert_eq!(expired.action(Check::Authenticity), Action::Enforce);
    let global = doc.select("registry.example/other/repo").unwrap();
    assert_eq!(global.name, "global");
    assert_eq!(global.level, Level::Permissive);
    assert_eq!(global.action(Check::Authenticity), Action::Enforce);
    assert_eq!(global.action(Check::Expiry), Action::Log);
    assert!(global.timestamp_after_cert_expiry);
}

#[test]
fn invalid_trust_policies_are_refused_naming_the_rule() {
    use hallmark_notation::trustpolicy;
    let policy = |p: &str| format!(r#"{{"version":"1.0","trustPolicies":[{p}]}}"#);
    let ok = r#"{"name":"a","registryScopes":["r.io/a/b"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["*"]}"#;
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"version":"2.0","trustPolicies":[]}"#.into(),
            "version \"1.0\"",
        ),
        (
            policy(&ok.replace("strict", "lenient")),
            "level strict, permissive, audit or skip",
        ),
        (
            policy(&ok.replace(
                r#""level":"strict""#,
                r#""level":"strict","override":{"integrity":"log"}"#,
            )),
            "no override of integrity",
        ),
        (
            policy(&ok.replace(
                r#""level":"strict""#,
                r#""level":"strict","override":{"expiry":"skip"}"#,
            )),
            "override expiry: enforce or log",
        ),
        (
            policy(
                &ok.replace(r#"["r.io/a/b"]"#, r#"["*"]"#)
                    .replace("strict", "skip")
                    .replace(r#","trustStores":["ca:s"],"trustedIdentities":["*"]"#, ""),
            ),
            "other than skip for the global scope",
        ),
        (
            policy(&ok.replace(r#"["r.io/a/b"]"#, r#"["r.io/a/*"]"#)),
            "fully qualified repositories",
        ),
        (
            policy(&ok.replace(r#"["r.io/a/b"]"#, r#"["r.io/a/b:1.0"]"#)),
            "fully qualified repositories",
        ),
        (
            policy(&ok.replace(r#"["ca:s"]"#, r#"["x509:s"]"#)),
            "ca:NAME, signingAuthority:NAME or tsa:NAME",
        ),
        (
            policy(&ok.replace(r#"["*"]"#, r#"["x509.subject: C=US, O=Notary"]"#)),
            "no ST",
        ),
        (
            policy(&ok.replace(r#","trustStores":["ca:s"]"#, "")),
            "trustStores and trustedIdentities",
        ),
        (
            format!(r#"{{"version":"1.0","trustPolicies":[{ok},{ok}]}}"#),
            "unique policy names",
        ),
        (
            format!(
                r#"{{"version":"1.0","trustPolicies":[{ok},{}]}}"#,
                ok.replace(r#""name":"a""#, r#""name":"b""#)
            ),
            "each repository in one policy's scopes",
        ),
    ];
    for (doc, needle) in cases {
        let e = trustpolicy::parse(doc.as_bytes())
            .expect_err(&doc)
            .to_string();
        assert!(e.contains(needle), "expected {needle:?} in {e:?} for {doc}");
    }
    assert_eq!(
        trustpolicy::parse_dn(r"C=US, ST=WA, O=Acme\, Inc., CN=a").unwrap()[2],
        ("O".to_owned(), "Acme, Inc.".to_owned())
    );
}

mod verification {
    //! One envelope under one trust policy, check by check, as notation-go's verifier tests set
    //! them up (its trust store and the identity of its test root).
    use super::{data, pem_der};
    use hallmark_notation::trustpolicy::{self, Action, Check};
    use hallmark_notation::verify::{self, Stores};
    use hallmark_notation::{Envelope, jws};
    use time::macros::datetime;

    const SCOPE: &str = "registry.acme-rockets.io/software/net-monitor";
    const IDENTITY: &str = "x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US";

    fn policy(level: &str, stores: &str, identity: &str) -> trustpolicy::TrustPolicy {
        let doc = format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"p","registryScopes":["{SCOPE}"],"signatureVerification":{{"level":"{level}"}},"trustStores":[{stores}],"trustedIdentities":["{identity}"]}}]}}"#
        );
        trustpolicy::parse(doc.as_bytes())
            .unwrap()
            .select(SCOPE)
            .unwrap()
            .clone()
    }

    fn stores() -> Stores {
        let root = verify::certificates(&data(
            "verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
        ))
        .unwrap();
        assert_eq!(root.len(), 1);
        assert_eq!(
            root[0],
            pem_der("verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem")
        );
        let mut s = Stores::new();
        s.insert("ca:valid-trust-store".into(), root.clone());
        s.insert("signingAuthority:valid-trust-store".into(), root);
        s
    }

    fn run(e: &Envelope, p: &trustpolicy::TrustPolicy) -> verify::Outcome {
        let target = (
            e.payload.media_type.as_str(),
            e.payload.digest.as_str(),
            e.payload.size,
        );
        verify::verify(e, p, &stores(), target, datetime!(2026-12-03 00:00 UTC))
    }

    fn envelope(name: &str) -> Envelope {
        jws::parse(&data(&format!("internal/mock/testdata/{name}"))).unwrap()
    }

    #[test]
    fn strict_passes_the_valid_envelope_and_stops_at_expiry() {
        let strict = policy("strict", r#""ca:valid-trust-store""#, IDENTITY);
        let ok = run(&envelope("ca_valid_sig_env.json"), &strict);
        assert!(ok.passed, "{ok:?}");
        let expired = run(&envelope("ca_expired_sig_env.json"), &strict);
        assert!(!expired.passed);
        assert_eq!(
            expired.failure().unwrap().check,
            Check::Expiry,
            "{expired:?}"
        );
        // Permissive logs the expiry and passes.
        let permissive = policy("permissive", r#""ca:valid-trust-store""#, IDENTITY);
        let logged = run(&envelope("ca_expired_sig_env.json"), &permissive);
        assert!(logged.passed, "{logged:?}");
        let expiry = logged
            .checks
            .iter()
            .find(|c| c.check == Check::Expiry)
            .unwrap();
        assert_eq!(expiry.action, Action::Log);
        assert!(expiry.failure.as_deref().unwrap().contains("expired"));
    }

    #[test]
    fn a_signing_authority_signature_needs_a_signing_authority_store() {
        let e = envelope("sa_valid_sig_env.json");
        let sa = policy(
            "strict",
            r#""signingAuthority:valid-trust-store""#,
            IDENTITY,
        );
        assert!(run(&e, &sa).passed);
        let ca_only = policy("strict", r#""ca:valid-trust-store""#, IDENTITY);
        let out = run(&e, &ca_only);
        assert!(!out.passed);
        let f = out.failure().unwrap();
        assert_eq!(f.check, Check::Authenticity);
        assert!(
            f.failure.as_deref().unwrap().contains("signingAuthority"),
            "{f:?}"
        );
    }

    #[test]
    fn another_identity_fails_authenticity_unless_the_level_only_logs_it() {
        let e = envelope("ca_valid_sig_env.json");
        let other = "x509.subject:C=US,ST=WA,O=Someone Else";
        let strict = policy("strict", r#""ca:valid-trust-store""#, other);
        let out = run(&e, &strict);
        assert_eq!(out.failure().unwrap().check, Check::Authenticity);
        assert!(
            out.failure()
                .unwrap()
                .failure
                .as_deref()
                .unwrap()
                .contains("trusted identity")
        );
        let audit = policy("audit", r#""ca:valid-trust-store""#, other);
        assert!(run(&e, &audit).passed);
    }

    #[test]
    fn a_signature_copied_to_another_artifact_fails_integrity_at_every_level() {
        let e = envelope("ca_valid_sig_env.json");
        for level in ["strict", "permissive", "audit"] {
            let p = policy(level, r#""ca:valid-trust-store""#, "*");
            let other = format!("sha256:{}", "0".repeat(64));
            let out = verify::verify(
                &e,
                &p,
                &stores(),
                (e.payload.media_type.as_str(), &other, e.payload.size),
                datetime!(2026-12-03 00:00 UTC),
            );
            assert!(!out.passed, "{level}");
            let f = out.failure().unwrap();
            assert_eq!(f.check, Check::Integrity, "{level}");
            assert!(f.failure.as_deref().unwrap().contains(&other), "{f:?}");
        }
    }
}
