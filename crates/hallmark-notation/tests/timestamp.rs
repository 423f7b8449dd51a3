//! RFC 3161 timestamp countersignatures: notation-go's timestamped envelopes and token, under the
//! policy of its `TestAuthenticTimestamp` (level strict, verifyTimestamp always, trust stores
//! `ca:valid-trust-store` and `tsa:test-timestamp`, any identity, scope `*`).

use super::{data, pem_der};
use base64::Engine as _;
use hallmark_notation::timestamp::{self, HashAlgorithm, TimestampError};
use hallmark_notation::trustpolicy::{self, Action, Check, TrustPolicy};
use hallmark_notation::verify::{self, Outcome, Stores};
use hallmark_notation::{Envelope, jws};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-03 00:00 UTC);
const TOKEN: &str = "verifier/testdata/timestamp/countersignature/TimeStampToken.p7s";
const TSA_ROOT: &str = "verifier/testdata/truststore/x509/tsa/test-timestamp/globalsignRoot.cer";
const STRICT_ALWAYS: &str = r#""ca:valid-trust-store","tsa:test-timestamp""#;

fn policy(level: &str, verify_timestamp: &str, stores: &str) -> TrustPolicy {
    let doc = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"test-timestamp","registryScopes":["*"],"signatureVerification":{{"level":"{level}","verifyTimestamp":"{verify_timestamp}"}},"trustStores":[{stores}],"trustedIdentities":["*"]}}]}}"#
    );
    trustpolicy::parse(doc.as_bytes())
        .unwrap()
        .select("registry.example/any/repository")
        .unwrap()
        .clone()
}

/// The stores as upstream's test data lays them out (the `ca` store's certificates this test
/// uses, the `tsa` store whole), plus `ca:expired-signer`: the self-signed certificate of
/// `jwsExpiredWithTimestamp.sig`, which upstream's store does not hold (its test checks the
/// timestamp step alone).
fn stores() -> Stores {
    let ca = [
        "verifier/testdata/truststore/x509/ca/valid-trust-store/TestTimestamp.crt",
        "verifier/testdata/truststore/x509/ca/valid-trust-store/TestTimestampNotYetValid.crt",
        "verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
    ]
    .iter()
    .flat_map(|p| verify::certificates(&data(p)).unwrap())
    .collect();
    let mut s = Stores::new();
    s.insert("ca:valid-trust-store".into(), ca);
    s.insert(
        "tsa:test-timestamp".into(),
        verify::certificates(&data(TSA_ROOT)).unwrap(),
    );
    s.insert(
        "ca:expired-signer".into(),
        sig_env("jwsExpiredWithTimestamp.sig").chain,
    );
    s.insert(
        "tsa:wrong-root".into(),
        vec![pem_der(
            "verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
        )],
    );
    s
}

fn sig_env(name: &str) -> Envelope {
    jws::parse(&data(&format!("verifier/testdata/timestamp/sigEnv/{name}"))).unwrap()
}

fn run(e: &Envelope, p: &TrustPolicy) -> Outcome {
    run_with(e, p, &stores())
}

fn run_with(e: &Envelope, p: &TrustPolicy, s: &Stores) -> Outcome {
    let target = (
        e.payload.media_type.as_str(),
        e.payload.digest.as_str(),
        e.payload.size,
    );
    verify::verify(e, p, s, target, NOW)
}

/// The failure of the authentic-timestamp check (which must be the enforced one).
fn timestamp_failure(out: &Outcome) -> String {
    let f = out
        .failure()
        .unwrap_or_else(|| panic!("expected a failure: {out:?}"));
    assert_eq!(f.check, Check::AuthenticTimestamp, "{out:?}");
    f.failure.clone().unwrap()
}

#[test]
fn notations_token_parses_and_verifies_against_its_tsa_root() {
    let token = timestamp::parse(&data(TOKEN)).unwrap();
    let info = &token.info;
    assert_eq!(info.gen_time, datetime!(2021-09-17 14:09:10 UTC));
    assert_eq!(info.policy, "1.3.6.1.4.1.4146.2.3");
    assert_eq!(info.hash_algorithm, HashAlgorithm::Sha256);
    assert_eq!(info.accuracy, time::Duration::SECOND);
    assert_eq!(
        info.serial_number,
        hex("59060eee873c26672a9400f24da094747988980e")
    );
    // upstream timestamped the bytes "notation".
    assert_eq!(
        info.hashed_message,
        HashAlgorithm::Sha256.digest(b"notation")
    );
    let range = info.range();
    assert_eq!(range.earliest, datetime!(2021-09-17 14:09:09 UTC));
    assert_eq!(range.latest, datetime!(2021-09-17 14:09:11 UTC));
    assert_eq!(
        range.to_string(),
        "[2021-09-17T14:09:09Z, 2021-09-17T14:09:11Z]"
    );
    // The TSA, its CA, GlobalSign R6 cross-signed by R3, and R3.
    assert_eq!(token.certificates.len(), 4);

    let root = data(TSA_ROOT);
    let verified = token
        .verify(b"notation", std::slice::from_ref(&root))
        .unwrap();
    assert_eq!(verified.range, range);
    // The TSA, its CA, and the store's self-signed R6 (not the token's cross-signed one).
    assert_eq!(verified.tsa_chain.len(), 3);
    assert_eq!(verified.tsa_chain[2], root);

    assert!(matches!(
        token.verify(b"mismatch", std::slice::from_ref(&root)),
        Err(TimestampError::MessageImprint {
            algorithm: "SHA-256",
            ..
        })
    ));
    let other =
        pem_der("verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem");
    let err = token.verify(b"notation", &[other]).unwrap_err();
    assert!(matches!(err, TimestampError::Untrusted { .. }), "{err}");
    assert!(
        err.to_string().contains("Globalsign TSA for Advanced - G4"),
        "{err}"
    );
}

#[test]
fn an_altered_token_is_refused_naming_what_broke() {
    let root = data(TSA_ROOT);
    let roots = std::slice::from_ref(&root);
    let good = data(TOKEN);

    // The last byte of the CMS signature.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    let err = timestamp::parse(&bad)
        .unwrap()
        .verify(b"notation", roots)
        .unwrap_err();
    assert!(matches!(err, TimestampError::Signature { .. }), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");

    // One second of genTime (2021-09-17 14:09:10 -> 14:09:11): the signed message digest no
    // longer matches the content.
    let at = find(&good, b"20210917140910Z");
    let mut bad = good.clone();
    bad[at + 13] = b'1';
    let token = timestamp::parse(&bad).unwrap();
    assert_eq!(token.info.gen_time, datetime!(2021-09-17 14:09:11 UTC));
    let err = token.verify(b"notation", roots).unwrap_err();
    assert!(
        matches!(
            err,
            TimestampError::SignedAttribute {
                attribute: "message-digest",
                ..
            }
        ),
        "{err}"
    );

    // Another content type than id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4 -> ...1.5).
    let oid = [
        0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
    ];
    let at = find(&good, &oid);
    let mut bad = good.clone();
    bad[at + oid.len() - 1] = 0x05;
    let err = timestamp::parse(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            TimestampError::Field {
                field: "encapsulated content type",
                ..
            }
        ),
        "{err}"
    );

    // Truncated.
    assert!(matches!(
        timestamp::parse(&good[..good.len() - 1]),
        Err(TimestampError::Malformed { .. })
    ));
}

#[test]
fn the_timestamp_is_over_the_envelopes_signature_value() {
    // notation timestamps the raw signature bytes (base64url-decoded), SHA-256 here.
    let bytes = data("verifier/testdata/timestamp/sigEnv/jwsWithTimestamp.sig");
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v["signature"].as_str().unwrap())
        .unwrap();
    let e = jws::parse(&bytes).unwrap();
    let token = timestamp::parse(e.timestamp.as_deref().unwrap()).unwrap();
    token.check_imprint(&signature).unwrap();
    assert!(
        token
            .check_imprint(v["signature"].as_str().unwrap().as_bytes())
            .is_err()
    );
    assert_eq!(token.info.gen_time, datetime!(2024-06-18 06:29:37 UTC));
}

#[test]
fn a_timestamped_envelope_passes_and_carries_its_time() {
    let out = run(
        &sig_env("jwsWithTimestamp.sig"),
        &policy("strict", "always", STRICT_ALWAYS),
    );
    assert!(out.passed, "{out:?}");
    let range = out.timestamp.unwrap();
    assert_eq!(range.earliest, datetime!(2024-06-18 06:29:36 UTC));
    assert_eq!(range.latest, datetime!(2024-06-18 06:29:38 UTC));
}

#[test]
fn without_a_timestamp_verify_timestamp_always_fails_naming_it() {
    let e = sig_env("withoutTimestamp.sig");
    let failure = timestamp_failure(&run(&e, &policy("strict", "always", STRICT_ALWAYS)));
    assert!(
        failure.contains("expected an RFC 3161 timestamp countersignature")
            && failure.contains("verifyTimestamp is always")
            && failure.contains("tsa:test-timestamp")
            && failure.contains("found none"),
        "{failure}"
    );
    // afterCertExpiry with an unexpired chain, or no tsa store: not required, valid now.
    for p in [
        policy("strict", "afterCertExpiry", STRICT_ALWAYS),
        policy("strict", "always", r#""ca:valid-trust-store""#),
    ] {
        let out = run(&e, &p);
        assert!(out.passed, "{out:?}");
        assert_eq!(out.timestamp, None);
    }
}

#[test]
fn an_expired_signing_certificate_passes_only_with_a_tsa_store() {
    // Valid on 2024-06-18 from 07:20:31 to 07:30:31, timestamped at 07:21:42 (±1 s).
    let e = sig_env("jwsExpiredWithTimestamp.sig");
    let both = r#""ca:expired-signer","tsa:test-timestamp""#;
    for verify_timestamp in ["always", "afterCertExpiry"] {
        let out = run(&e, &policy("strict", verify_timestamp, both));
        assert!(out.passed, "{verify_timestamp}: {out:?}");
        assert_eq!(
            out.timestamp.unwrap().earliest,
            datetime!(2024-06-18 07:21:41 UTC)
        );
    }
    // Without a tsa store the timestamp is not used: the certificate must be valid now.
    let failure = timestamp_failure(&run(
        &e,
        &policy("strict", "always", r#""ca:expired-signer""#),
    ));
    assert!(
        failure.contains("at verification time") && failure.contains("CN=testTSA"),
        "{failure}"
    );
    // permissive logs the authentic-timestamp failure, as notation does.
    let out = run(
        &e,
        &policy("permissive", "always", r#""ca:expired-signer""#),
    );
    assert!(out.passed, "{out:?}");
    let logged = out
        .checks
        .iter()
        .find(|c| c.check == Check::AuthenticTimestamp)
        .unwrap();
    assert_eq!(logged.action, Action::Log);
    assert!(logged.failure.is_some());
}

#[test]
fn a_timestamp_before_the_signing_certificate_is_valid_fails() {
    // The certificate is valid from 2099-09-18; the timestamp says 2024-06-19.
    let failure = timestamp_failure(&run(
        &sig_env("timestampBeforeNotBefore.sig"),
        &policy("strict", "always", STRICT_ALWAYS),
    ));
    assert!(
        failure.contains("signing certificate chain at the timestamp")
            && failure.contains("valid over the whole time range")
            && failure.contains("2099-09-18T11:54:34Z")
            && failure.contains("[2024-06-19T09:30:13Z, 2024-06-19T09:30:15Z]"),
        "{failure}"
    );
}

#[test]
fn the_timestamp_must_be_of_this_signature_and_by_a_trusted_tsa() {
    // upstream's "mismatched message": another token in the envelope.
    let mut e = sig_env("withoutTimestamp.sig");
    e.timestamp = Some(data(TOKEN));
    let failure = timestamp_failure(&run(&e, &policy("strict", "always", STRICT_ALWAYS)));
    assert!(
        failure.contains("messageImprint: expected the SHA-256 hash of the envelope's signature"),
        "{failure}"
    );
    // A tsa store without the TSA's root, and one the caller has no certificates for.
    let e = sig_env("jwsWithTimestamp.sig");
    let failure = timestamp_failure(&run(
        &e,
        &policy(
            "strict",
            "always",
            r#""ca:valid-trust-store","tsa:wrong-root""#,
        ),
    ));
    assert!(
        failure.contains("expected a chain to a root of the tsa trust stores"),
        "{failure}"
    );
    let failure = timestamp_failure(&run(
        &e,
        &policy(
            "strict",
            "always",
            r#""ca:valid-trust-store","tsa:does-not-exist""#,
        ),
    ));
    assert!(
        failure.contains("tsa:does-not-exist") && failure.contains("found none"),
        "{failure}"
    );
    // Garbage where the token should be.
    let mut e = sig_env("jwsWithTimestamp.sig");
    e.timestamp = Some(b"not a token".to_vec());
    let failure = timestamp_failure(&run(&e, &policy("strict", "always", STRICT_ALWAYS)));
    assert!(
        failure.contains("expected an RFC 3161 TimeStampToken"),
        "{failure}"
    );
}

#[test]
fn a_signing_authority_signature_does_not_use_timestamps() {
    // Under notary.x509.signingAuthority the authentic signing time vouches, not a TSA.
    let e = jws::parse(&data("internal/mock/testdata/sa_valid_sig_env.json")).unwrap();
    let root =
        pem_der("verifier/testdata/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem");
    let mut s = stores();
    s.insert("signingAuthority:valid-trust-store".into(), vec![root]);
    let p = policy(
        "strict",
        "always",
        r#""signingAuthority:valid-trust-store","tsa:test-timestamp""#,
    );
    let target = (
        e.payload.media_type.as_str(),
        e.payload.digest.as_str(),
        e.payload.size,
    );
    let out = verify::verify(&e, &p, &s, target, NOW);
    assert!(out.passed, "{out:?}");
    assert_eq!(out.timestamp, None);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

mod cose {
    //! The COSE envelopes of the same upstream test.
    use super::{NOW, STRICT_ALWAYS, data, policy, run, run_with, stores, timestamp_failure};
    use hallmark_notation::{COSE_MEDIA_TYPE, Envelope};
    use time::macros::datetime;

    fn cose_env(name: &str) -> Envelope {
        hallmark_notation::parse(
            &data(&format!("verifier/testdata/timestamp/sigEnv/{name}")),
            COSE_MEDIA_TYPE,
        )
        .unwrap()
    }

    #[test]
    fn a_timestamped_cose_envelope_passes() {
        let out = run(
            &cose_env("coseWithTimestamp.sig"),
            &policy("strict", "always", STRICT_ALWAYS),
        );
        assert!(out.passed, "{out:?}");
        let range = out.timestamp.unwrap();
        assert!(range.earliest < range.latest && range.latest < NOW);
    }

    #[test]
    fn a_timestamp_after_the_signing_certificate_expired_fails() {
        // Its self-signed certificate is not in upstream's store either (upstream checks the
        // timestamp step alone): a store of its own.
        let e = cose_env("timestampAfterNotAfter.sig");
        let mut s = stores();
        s.insert("ca:after-not-after".into(), e.chain.clone());
        let failure = timestamp_failure(&run_with(
            &e,
            &policy(
                "strict",
                "always",
                r#""ca:after-not-after","tsa:test-timestamp""#,
            ),
            &s,
        ));
        assert!(
            failure.contains("signing certificate chain at the timestamp")
                && failure.contains("valid over the whole time range"),
            "{failure}"
        );
        let range = hallmark_notation::timestamp::parse(e.timestamp.as_deref().unwrap())
            .unwrap()
            .info
            .range();
        assert!(range.latest > datetime!(2024-01-01 00:00 UTC), "{range}");
    }
}

#[test]
fn a_tsa_chain_needs_a_timestamping_leaf_and_a_signing_chain_refuses_one() {
    use hallmark_notation::chain::{self, Purpose};
    let token = timestamp::parse(&data(TOKEN)).unwrap();
    let tsa = token
        .verify(b"notation", &[data(TSA_ROOT)])
        .unwrap()
        .tsa_chain;
    let at = token.info.gen_time.unix_timestamp();
    chain::validate_for(&tsa, Purpose::Timestamping, at).unwrap();
    let err = chain::validate_for(&tsa, Purpose::CodeSigning, at).unwrap_err();
    assert!(err.to_string().contains("timeStamping"), "{err}");
    // A code-signing certificate is no TSA: its extended key usage is not only timeStamping.
    let alpine = sig_env("jwsWithTimestamp.sig").chain;
    let err = chain::validate_for(&alpine, Purpose::Timestamping, at).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a critical extended key usage with only timeStamping"),
        "{err}"
    );
    // Valid when the token was made, not at every time.
    let err = chain::validate_for(&tsa, Purpose::Timestamping, 0).unwrap_err();
    assert!(
        err.to_string().contains("valid at the instant checked"),
        "{err}"
    );
}
