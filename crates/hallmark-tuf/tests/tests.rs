//! Integration tests of hallmark-tuf against metadata written by notary 0.7.0, and attacks
//! built by editing those files or by signing fresh metadata with generated keys.

#![allow(clippy::unwrap_used, missing_docs)]

mod keyfile;
mod server;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_tuf::canonical::{canonicalize, to_canonical};
use hallmark_tuf::{
    KeyType, Limits, RepoFiles, Root, Signed, Snapshot, Targets, Timestamp, TrustedVersions,
    TufError, TufKey, verify_repo, verify_root_chain,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const REPOS: [&str; 2] = ["ecdsa-signer", "ed25519-local"];

fn read(repo: &str, file: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/data/notary-0.7.0",
        repo,
        file,
    ]
    .iter()
    .collect();
    std::fs::read(path).unwrap()
}

/// The compact bytes notary uploads: `{"signed":<canonical>,"signatures":[..]}`.
fn wire_value(v: &Value) -> Vec<u8> {
    let mut out = b"{\"signed\":".to_vec();
    out.extend(to_canonical(&v["signed"]).unwrap());
    out.extend(b",\"signatures\":");
    out.extend(to_canonical(&v["signatures"]).unwrap());
    out.push(b'}');
    out
}

fn wire(repo: &str, file: &str) -> Vec<u8> {
    wire_value(&serde_json::from_slice(&read(repo, file)).unwrap())
}

fn value(repo: &str, file: &str) -> Value {
    serde_json::from_slice(&read(repo, file)).unwrap()
}

fn at(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

/// Inside every file's validity (the timestamp is valid 2026-11-22 .. 2026-12-06).
fn now() -> OffsetDateTime {
    at("2026-11-23T00:00:00Z")
}

struct Repo {
    root1: Vec<u8>,
    root2: Vec<u8>,
    timestamp: Vec<u8>,
    snapshot: Vec<u8>,
    targets: Vec<u8>,
    releases: Vec<u8>,
}

fn repo(name: &str) -> Repo {
    Repo {
        root1: wire(name, "1.root.json"),
        root2: wire(name, "root.json"),
        timestamp: wire(name, "timestamp.json"),
        snapshot: wire(name, "snapshot.json"),
        targets: wire(name, "targets.json"),
        releases: wire(name, "targets/releases.json"),
    }
}

impl Repo {
    fn files(&self) -> RepoFiles<'_> {
        RepoFiles {
            root_chain: vec![&self.root2],
            timestamp: &self.timestamp,
            snapshot: &self.snapshot,
            targets: &self.targets,
            delegations: vec![("targets/releases", &self.releases)],
        }
    }

    fn verify(&self, files: &RepoFiles<'_>) -> Result<hallmark_tuf::VerifiedRepo, TufError> {
        verify_repo(
            &self.root1,
            files,
            &TrustedVersions::default(),
            now(),
            &Limits::default(),
        )
    }
}

fn sign_value(key: &EcdsaKeyPair, key_id: &str, signed: &Value) -> Value {
    let bytes = to_canonical(signed).unwrap();
    let sig = key.sign(&SystemRandom::new(), &bytes).unwrap();
    json!({"keyid": key_id, "method": "ecdsa", "sig": STANDARD.encode(sig.as_ref())})
}

fn new_key() -> (EcdsaKeyPair, Value, String) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der: PublicKeyX509Der<'_> = key.public_key().as_der().unwrap();
    let spki = der.as_ref().to_vec();
    let id = TufKey::new(KeyType::Ecdsa, spki.clone()).unwrap().key_id();
    let object =
        json!({"keytype": "ecdsa", "keyval": {"private": null, "public": STANDARD.encode(&spki)}});
    (key, object, id)
}

// ---- canonical JSON ----

#[test]
fn canonical_json_matches_docker_go_encoder() {
    let got = canonicalize(br#"{ "b": "q\"b\\s<>&\n\u2028", "a": [1, -2, true, null], "A": {} }"#)
        .unwrap();
    assert_eq!(
        got,
        "{\"A\":{},\"a\":[1,-2,true,null],\"b\":\"q\\\"b\\\\s<>&\n\u{2028}\"}".as_bytes()
    );
    assert!(matches!(
        canonicalize(br#"{"a":1.5}"#),
        Err(TufError::FloatNotAllowed { .. })
    ));
}

#[test]
fn canonical_signed_bytes_verify_for_every_real_file() {
    for name in REPOS {
        let root: Signed<Root> = Signed::parse(&read(name, "root.json"), "root").unwrap();
        let root1: Signed<Root> = Signed::parse(&read(name, "1.root.json"), "root").unwrap();
        let targets: Signed<Targets> =
            Signed::parse(&read(name, "targets.json"), "targets").unwrap();
        let check = |bytes: &[u8], keys: &std::collections::BTreeMap<String, TufKey>| {
            let v: Value = serde_json::from_slice(bytes).unwrap();
            let signed = to_canonical(&v["signed"]).unwrap();
            let mut verified = 0;
            for s in v["signatures"].as_array().unwrap() {
                let key = &keys[s["keyid"].as_str().unwrap()];
                let sig = STANDARD.decode(s["sig"].as_str().unwrap()).unwrap();
                key.verify("k", s["method"].as_str().unwrap(), &signed, &sig)
                    .unwrap();
                verified += 1;
            }
            assert_eq!(verified, 1);
        };
        check(&read(name, "1.root.json"), &root1.signed.keys);
        check(&read(name, "root.json"), &root.signed.keys);
        check(&read(name, "timestamp.json"), &root.signed.keys);
        check(&read(name, "snapshot.json"), &root.signed.keys);
        check(&read(name, "targets.json"), &root.signed.keys);
        check(
            &read(name, "targets/releases.json"),
            &targets.signed.delegations.keys,
        );
    }
}

#[test]
fn wire_bytes_match_snapshot_and_timestamp_hashes() {
    for name in REPOS {
        let r = repo(name);
        let ts: Signed<Timestamp> = Signed::parse(&r.timestamp, "timestamp").unwrap();
        let snap: Signed<Snapshot> = Signed::parse(&r.snapshot, "snapshot").unwrap();
        hallmark_tuf::check_file_meta(
            "snapshot",
            "timestamp",
            ts.signed.meta.get("snapshot"),
            &r.snapshot,
        )
        .unwrap();
        hallmark_tuf::check_file_meta("root", "snapshot", snap.signed.meta.get("root"), &r.root2)
            .unwrap();
        hallmark_tuf::check_file_meta(
            "targets",
            "snapshot",
            snap.signed.meta.get("targets"),
            &r.targets,
        )
        .unwrap();
    }
}

// ---- model and keys ----

#[test]
fn key_ids_and_types_of_real_roots() {
    let root: Signed<Root> = Signed::parse(&read("ecdsa-signer", "root.json"), "root").unwrap();
    let root_role = root.signed.role("root").unwrap();
    assert_eq!(
        root_role.key_ids,
        ["6a1ec49dffbd87558ee1f7e01358e6262ace64540af0ebb7ed4fed01f874e6b0"]
    );
    let key = &root.signed.keys[&root_role.key_ids[0]];
    assert_eq!(key.key_type(), KeyType::EcdsaX509);
    assert!(key.public().starts_with(b"-----BEGIN CERTIFICATE-----"));
    assert_eq!(root.signed.version, 2);
    assert!(!root.signed.consistent_snapshot);

    let root: Signed<Root> = Signed::parse(&read("ed25519-local", "root.json"), "root").unwrap();
    let ts = root.signed.role("timestamp").unwrap();
    assert_eq!(
        root.signed.keys[&ts.key_ids[0]].key_type(),
        KeyType::Ed25519
    );

    let targets: Signed<Targets> =
        Signed::parse(&read("ecdsa-signer", "targets.json"), "targets").unwrap();
    let names: Vec<_> = targets
        .signed
        .delegations
        .roles
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["targets/releases", "targets/alice"]);
    assert_eq!(targets.signed.delegations.roles[0].paths, [""]);
    assert!(targets.signed.delegations.roles[0].allows("anything"));
}

#[test]
fn wrong_type_and_key_id_mismatch_are_rejected() {
    let err = Signed::<Timestamp>::parse(&read("ecdsa-signer", "snapshot.json"), "timestamp")
        .unwrap_err();
    assert_eq!(
        err,
        TufError::WrongType {
            what: "timestamp".into(),
            expected: "Timestamp".into(),
            found: "Snapshot".into()
        }
    );
    let text = String::from_utf8(read("ecdsa-signer", "root.json"))
        .unwrap()
        .replacen(
            "\"5c25066b2e9f7d2286013ea42fd6eba77a4e66727b8e393d6d6276e2112b796a\": {",
            "\"0c25066b2e9f7d2286013ea42fd6eba77a4e66727b8e393d6d6276e2112b796a\": {",
            1,
        );
    assert!(matches!(
        Signed::<Root>::parse(text.as_bytes(), "root"),
        Err(TufError::KeyIdMismatch { .. })
    ));
}

// ---- client verification ----

#[test]
fn real_repositories_verify_and_resolve_like_docker() {
    for name in REPOS {
        let r = repo(name);
        let verified = r.verify(&r.files()).unwrap();
        assert_eq!(verified.root.signed.version, 2);
        assert_eq!(verified.root_bytes, r.root2);
        let v2 = verified.resolve("v2").unwrap();
        assert_eq!(v2.role, "targets/releases");
        assert_eq!(v2.length, 9);
        let v3 = verified.resolve("v3").unwrap();
        assert_eq!(v3.role, "targets");
        assert!(verified.resolve("latest").is_none());
        let versions = verified.versions();
        assert_eq!(versions.delegations["targets/releases"], 1);

        // The next update from the pinned newest root and the remembered versions.
        let mut files = r.files();
        files.root_chain.clear();
        verify_repo(&r.root2, &files, &versions, now(), &Limits::default()).unwrap();
    }
    let r = repo("ecdsa-signer");
    let verified = r.verify(&r.files()).unwrap();
    assert_eq!(
        STANDARD.encode(verified.resolve("v2").unwrap().sha256),
        "ahOj84njes1krZ5ZHLxQMiRxeO4SrQW88ymrUbx488w="
    );
}

#[test]
fn expired_timestamp_is_rejected() {
    let r = repo("ecdsa-signer");
    let err = verify_repo(
        &r.root1,
        &r.files(),
        &TrustedVersions::default(),
        at("2026-12-07T00:00:00Z"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TufError::Expired {
            role: "timestamp".into(),
            version: 7,
            expires: "2026-12-06T06:14:02.510534277Z".into(),
            now: "2026-12-07T00:00:00Z".into()
        }
    );
}

#[test]
fn rolled_back_versions_are_rejected() {
    let r = repo("ecdsa-signer");
    let trusted = TrustedVersions {
        timestamp: 8,
        ..TrustedVersions::default()
    };
    // From the pinned root v2 (no rotation in this update).
    let mut files = r.files();
    files.root_chain.clear();
    let err = verify_repo(&r.root2, &files, &trusted, now(), &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        TufError::Rollback {
            role: "timestamp".into(),
            trusted: 8,
            found: 7
        }
    );
    // The real root v1 -> v2 rotated the snapshot key: a fast-forwarded timestamp and
    // snapshot trusted before are discarded, as TUF 5.3.11 says (but not without rotation).
    let fast_forwarded = TrustedVersions {
        timestamp: 100,
        snapshot: 100,
        ..TrustedVersions::default()
    };
    verify_repo(
        &r.root1,
        &r.files(),
        &fast_forwarded,
        now(),
        &Limits::default(),
    )
    .unwrap();
    let mut files = r.files();
    files.root_chain.clear();
    assert!(matches!(
        verify_repo(&r.root2, &files, &fast_forwarded, now(), &Limits::default()),
        Err(TufError::Rollback {
            trusted: 100,
            found: 7,
            ..
        })
    ));

    let mut trusted = TrustedVersions::default();
    trusted.delegations.insert("targets/releases".into(), 2);
    let err = verify_repo(&r.root1, &r.files(), &trusted, now(), &Limits::default()).unwrap_err();
    assert!(
        matches!(err, TufError::Rollback { role, trusted: 2, found: 1 } if role == "targets/releases")
    );

    // A root chain that goes back (or skips) a version.
    let err = verify_root_chain(&r.root2, &[&r.root1], &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        TufError::RootVersionNotConsecutive {
            expected: 3,
            found: 1
        }
    );
}

#[test]
fn wrong_snapshot_hash_is_rejected() {
    let r = repo("ecdsa-signer");
    // Same bytes reordered: same length, still validly signed, different hash.
    let v: Value = serde_json::from_slice(&r.snapshot).unwrap();
    let mut reordered = b"{\"signatures\":".to_vec();
    reordered.extend(to_canonical(&v["signatures"]).unwrap());
    reordered.extend(b",\"signed\":");
    reordered.extend(to_canonical(&v["signed"]).unwrap());
    reordered.push(b'}');
    assert_eq!(reordered.len(), r.snapshot.len());
    let mut files = r.files();
    files.snapshot = &reordered;
    let err = r.verify(&files).unwrap_err();
    assert!(
        matches!(&err, TufError::HashMismatch { role, listed_by, algorithm, .. }
            if role == "snapshot" && listed_by == "timestamp" && algorithm == "sha256"),
        "{err:?}"
    );

    // Mix and match: the other repository's snapshot.
    let other = repo("ed25519-local");
    let mut files = r.files();
    files.snapshot = &other.snapshot;
    assert!(matches!(
        r.verify(&files).unwrap_err(),
        TufError::HashMismatch { .. } | TufError::LengthMismatch { .. }
    ));

    // A targets file not listed as the snapshot says.
    let mut longer = r.targets.clone();
    longer.push(b' ');
    let mut files = r.files();
    files.targets = &longer;
    assert_eq!(
        r.verify(&files).unwrap_err(),
        TufError::LengthMismatch {
            role: "targets".into(),
            listed_by: "snapshot".into(),
            expected: 1035,
            found: 1036
        }
    );
}

#[test]
fn threshold_not_met_is_rejected() {
    let r = repo("ecdsa-signer");
    let mut v = value("ecdsa-signer", "timestamp.json");
    v["signatures"] = json!([]);
    let unsigned = wire_value(&v);
    let mut files = r.files();
    files.timestamp = &unsigned;
    assert_eq!(
        r.verify(&files).unwrap_err(),
        TufError::ThresholdNotMet {
            role: "timestamp".into(),
            threshold: 1,
            valid: 0
        }
    );

    // The same valid signature twice does not count twice.
    let mut v = value("ed25519-local", "timestamp.json");
    let sig = v["signatures"][0].clone();
    v["signatures"] = json!([sig.clone(), sig]);
    let mut signed = v["signed"].clone();
    signed["version"] = json!(7);
    let root: Signed<Root> = Signed::parse(&read("ed25519-local", "root.json"), "root").unwrap();
    let ts: Signed<Timestamp> = Signed::parse(&wire_value(&v), "timestamp").unwrap();
    let role = root.signed.role("timestamp").unwrap();
    let err = hallmark_tuf::verify_threshold(&ts, "timestamp", &root.signed.keys, &role.key_ids, 2)
        .unwrap_err();
    assert_eq!(
        err,
        TufError::ThresholdNotMet {
            role: "timestamp".into(),
            threshold: 2,
            valid: 1
        }
    );
}

#[test]
fn signature_by_a_wrong_key_is_rejected() {
    let r = repo("ecdsa-signer");
    let (key, _, other_id) = new_key();
    let v = value("ecdsa-signer", "timestamp.json");
    let real_id = v["signatures"][0]["keyid"].as_str().unwrap().to_string();
    // Claiming the timestamp key's ID, and under its own ID.
    for id in [real_id.as_str(), other_id.as_str()] {
        let mut forged = v.clone();
        forged["signatures"] = json!([sign_value(&key, id, &v["signed"])]);
        let bytes = wire_value(&forged);
        let mut files = r.files();
        files.timestamp = &bytes;
        assert_eq!(
            r.verify(&files).unwrap_err(),
            TufError::ThresholdNotMet {
                role: "timestamp".into(),
                threshold: 1,
                valid: 0
            }
        );
    }
    // The right key but a method that does not fit it.
    let mut wrong_method = v.clone();
    wrong_method["signatures"][0]["method"] = json!("eddsa");
    let bytes = wire_value(&wrong_method);
    let mut files = r.files();
    files.timestamp = &bytes;
    assert!(matches!(
        r.verify(&files).unwrap_err(),
        TufError::MethodMismatch { method, key_type, .. } if method == "eddsa" && key_type == "ecdsa"
    ));
}

#[test]
fn modified_signed_bytes_are_rejected() {
    for name in REPOS {
        let r = repo(name);
        let mut v = value(name, "timestamp.json");
        v["signed"]["version"] = json!(8);
        let bytes = wire_value(&v);
        let mut files = r.files();
        files.timestamp = &bytes;
        assert_eq!(
            r.verify(&files).unwrap_err(),
            TufError::ThresholdNotMet {
                role: "timestamp".into(),
                threshold: 1,
                valid: 0
            }
        );
    }
    // A delegation file edited and re-listed is caught by its signature.
    let r = repo("ecdsa-signer");
    let mut v = value("ecdsa-signer", "targets/releases.json");
    v["signed"]["targets"]["v2"]["length"] = json!(10);
    let bytes = wire_value(&v);
    let signed: Signed<Targets> = Signed::parse(&bytes, "targets/releases").unwrap();
    let targets: Signed<Targets> = Signed::parse(&r.targets, "targets").unwrap();
    let role = &targets.signed.delegations.roles[0];
    assert!(matches!(
        hallmark_tuf::verify_threshold(
            &signed,
            "targets/releases",
            &targets.signed.delegations.keys,
            &role.key_ids,
            role.threshold
        ),
        Err(TufError::ThresholdNotMet { .. })
    ));
}

#[test]
fn root_rotation_must_be_cross_signed() {
    // Rotate the real root (v2) to a new root key, signed only by the new key.
    let (key, object, id) = new_key();
    let v = value("ecdsa-signer", "root.json");
    let mut signed = v["signed"].clone();
    signed["version"] = json!(3);
    signed["keys"][&id] = object;
    signed["roles"]["root"]["keyids"] = json!([id]);
    let root3 =
        wire_value(&json!({"signed": signed, "signatures": [sign_value(&key, &id, &signed)]}));
    let root2 = wire("ecdsa-signer", "root.json");
    let err = verify_root_chain(&root2, &[&root3], &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        TufError::ThresholdNotMet {
            role: "root version 3 (by the keys of root version 2)".into(),
            threshold: 1,
            valid: 0
        }
    );

    // Fresh roots: A -> B signed by both verifies; signed by A only does not.
    let (a, a_obj, a_id) = new_key();
    let (b, b_obj, b_id) = new_key();
    let mut one = v["signed"].clone();
    one["version"] = json!(1);
    one["keys"][&a_id] = a_obj;
    one["roles"]["root"]["keyids"] = json!([a_id]);
    let root_a = wire_value(&json!({"signed": one, "signatures": [sign_value(&a, &a_id, &one)]}));
    let mut two = one.clone();
    two["version"] = json!(2);
    two["keys"][&b_id] = b_obj;
    two["roles"]["root"]["keyids"] = json!([b_id]);
    let both = wire_value(
        &json!({"signed": two, "signatures": [sign_value(&a, &a_id, &two), sign_value(&b, &b_id, &two)]}),
    );
    let (newest, _) = verify_root_chain(&root_a, &[&both], &Limits::default()).unwrap();
    assert_eq!(newest.signed.version, 2);
    let old_only = wire_value(&json!({"signed": two, "signatures": [sign_value(&a, &a_id, &two)]}));
    assert_eq!(
        verify_root_chain(&root_a, &[&old_only], &Limits::default()).unwrap_err(),
        TufError::ThresholdNotMet {
            role: "root version 2 (by its own keys)".into(),
            threshold: 1,
            valid: 0
        }
    );
}

#[test]
fn size_limits_and_missing_delegations() {
    let r = repo("ecdsa-signer");
    let limits = Limits {
        timestamp: 100,
        ..Limits::default()
    };
    assert!(matches!(
        verify_repo(&r.root1, &r.files(), &TrustedVersions::default(), now(), &limits),
        Err(TufError::TooLarge { role, limit: 100, .. }) if role == "timestamp"
    ));
    let mut files = r.files();
    files.delegations.clear();
    assert_eq!(
        r.verify(&files).unwrap_err(),
        TufError::MissingRole {
            role: "targets/releases".into()
        }
    );
    let mut files = r.files();
    files.delegations = vec![("targets/bob", &r.releases)];
    assert_eq!(
        r.verify(&files).unwrap_err(),
        TufError::NotDelegated {
            role: "targets/bob".into(),
            parent: "targets".into()
        }
    );
}

#[test]
fn root_certificates_are_checked_like_notary_trust_pinning() {
    for name in REPOS {
        let root: Signed<Root> = Signed::parse(&wire(name, "root.json"), "root").unwrap();
        let id = &root.signed.role("root").unwrap().key_ids[0];
        let cert = root.signed.keys[id].certificate().unwrap();
        assert_eq!(cert.common_name.as_deref(), Some("example.com/demo/app"));
        hallmark_tuf::check_root_certificates(&root, "example.com/demo/app", now()).unwrap();
        for (gun, when) in [
            ("example.com/demo/other", now()),
            ("example.com/demo/app", at("2037-01-01T00:00:00Z")),
        ] {
            assert!(matches!(
                hallmark_tuf::check_root_certificates(&root, gun, when),
                Err(TufError::NoValidRootCertificate { .. })
            ));
        }
    }
}

#[test]
fn rsa_and_ed25519_keys_verify_by_method() {
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
    let message = b"{\"_type\":\"Targets\"}";

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let der: PublicKeyX509Der<'_> = rsa.public_key().as_der().unwrap();
    let key = TufKey::new(KeyType::Rsa, der.as_ref().to_vec()).unwrap();
    for (method, alg) in [
        (
            "rsapss",
            &RSA_PSS_SHA256 as &dyn aws_lc_rs::signature::RsaEncoding,
        ),
        ("rsapkcs1v15", &RSA_PKCS1_SHA256),
    ] {
        let mut sig = vec![0u8; rsa.public_modulus_len()];
        rsa.sign(alg, &SystemRandom::new(), message, &mut sig)
            .unwrap();
        key.verify("k", method, message, &sig).unwrap();
        assert_eq!(
            key.verify("k", method, b"other", &sig),
            Err(TufError::BadSignature { key_id: "k".into() })
        );
    }
    assert!(matches!(
        key.verify("k", "ecdsa", message, &[0; 64]),
        Err(TufError::MethodMismatch { .. })
    ));

    let ed = Ed25519KeyPair::generate().unwrap();
    let key = TufKey::new(KeyType::Ed25519, ed.public_key().as_ref().to_vec()).unwrap();
    let sig = ed.sign(message);
    key.verify("k", "eddsa", message, sig.as_ref()).unwrap();
    assert!(matches!(
        key.verify("k", "ecdsa", message, sig.as_ref()),
        Err(TufError::MethodMismatch { .. })
    ));
    assert!(matches!(
        TufKey::new(KeyType::Ed25519, vec![0; 31]),
        Err(TufError::InvalidKey { .. })
    ));
    // An ecdsa key whose bytes are an Ed25519 SPKI is rejected.
    let ed_spki: PublicKeyX509Der<'_> = ed.public_key().as_der().unwrap();
    assert!(matches!(
        TufKey::new(KeyType::Ecdsa, ed_spki.as_ref().to_vec()),
        Err(TufError::InvalidKey { .. })
    ));
}

/// A whole repository signed with one generated key, with nested delegations
/// `targets/a` (paths `["v"]`) and `targets/a/b` (paths `[""]`).
fn fresh_repo(b_targets: Value) -> Result<hallmark_tuf::VerifiedRepo, TufError> {
    let (key, object, id) = new_key();
    let expires = "2030-01-01T00:00:00Z";
    let envelope = |signed: Value| {
        wire_value(&json!({"signed": signed, "signatures": [sign_value(&key, &id, &signed)]}))
    };
    let meta = |bytes: &[u8]| {
        let sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        json!({"length": bytes.len(), "hashes": {"sha256": STANDARD.encode(sha.as_ref())}})
    };
    let role = json!({"keyids": [id], "threshold": 1});
    let root = envelope(json!({
        "_type": "Root", "consistent_snapshot": false, "expires": expires, "version": 1,
        "keys": {&id: object},
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    }));
    let delegation = |name: &str, paths: Value| json!({"name": name, "keyids": [id], "threshold": 1, "paths": paths});
    let target = json!({"length": 9, "hashes": {"sha256": STANDARD.encode([7u8; 32])}});
    let targets = envelope(json!({
        "_type": "Targets", "expires": expires, "version": 1, "targets": {},
        "delegations": {"keys": {&id: object}, "roles": [delegation("targets/a", json!(["v"]))]},
    }));
    let a = envelope(json!({
        "_type": "Targets", "expires": expires, "version": 1, "targets": {"v1": target},
        "delegations": {"keys": {&id: object}, "roles": [delegation("targets/a/b", json!([""]))]},
    }));
    let b = envelope(json!({
        "_type": "Targets", "expires": expires, "version": 1, "targets": b_targets,
        "delegations": {"keys": {}, "roles": []},
    }));
    let snapshot = envelope(json!({
        "_type": "Snapshot", "expires": expires, "version": 1,
        "meta": {"root": meta(&root), "targets": meta(&targets), "targets/a": meta(&a), "targets/a/b": meta(&b)},
    }));
    let timestamp = envelope(json!({
        "_type": "Timestamp", "expires": expires, "version": 1,
        "meta": {"snapshot": meta(&snapshot)},
    }));
    let files = RepoFiles {
        root_chain: vec![],
        timestamp: &timestamp,
        snapshot: &snapshot,
        targets: &targets,
        delegations: vec![("targets/a/b", &b), ("targets/a", &a)],
    };
    verify_repo(
        &root,
        &files,
        &TrustedVersions::default(),
        now(),
        &Limits::default(),
    )
}

#[test]
fn nested_delegations_are_restricted_to_every_ancestor_path() {
    let target = json!({"length": 5, "hashes": {"sha256": STANDARD.encode([1u8; 32])}});
    let verified = fresh_repo(json!({"v9": target})).unwrap();
    assert_eq!(verified.delegations.len(), 2);
    let found = verified.resolve_in("v9", &["targets/a/b"]).unwrap();
    assert_eq!((found.role.as_str(), found.length), ("targets/a/b", 5));
    assert_eq!(verified.resolve_in("v1", &["targets/a"]).unwrap().length, 9);
    // Docker only looks in targets/releases and targets.
    assert!(verified.resolve("v9").is_none());

    assert_eq!(
        fresh_repo(json!({"w1": target})).unwrap_err(),
        TufError::TargetOutsideDelegatedPaths {
            role: "targets/a/b".into(),
            target: "w1".into(),
            paths: vec!["v".into()]
        }
    );
}

/// Metadata signed by `sign_metadata` parses, and its signatures verify with the key listed in
/// a root, for both key types notary generates; a changed byte breaks the signature.
#[test]
fn sign_metadata_round_trip() {
    use hallmark_tuf::{KeyType, PrivateKey, Signed, Timestamp, sign_metadata};
    for kt in [KeyType::Ecdsa, KeyType::Ed25519] {
        let key = PrivateKey::generate(kt).expect("generate");
        let signed = serde_json::json!({
            "_type": "Timestamp",
            "expires": "2030-01-01T00:00:00Z",
            "meta": {"snapshot": {"hashes": {"sha256": "AAAA"}, "length": 3}},
            "version": 2
        });
        let bytes = sign_metadata(&signed, &[&key]).expect("sign");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(
            text.starts_with("{\"signed\":{\"_type\":\"Timestamp\""),
            "{text}"
        );
        assert!(
            text.contains(&format!("\"keyid\":\"{}\"", key.key_id())),
            "{text}"
        );
        let parsed = Signed::<Timestamp>::parse(&bytes, "timestamp").expect("parse");
        assert_eq!(parsed.signatures.len(), 1);
        let s = &parsed.signatures[0];
        key.public_key()
            .verify(&s.key_id, &s.method, &parsed.signed_bytes, &s.sig)
            .expect("signature verifies");
        let mut other = parsed.signed_bytes.clone();
        let last = other.len() - 2;
        other[last] ^= 1;
        assert!(
            key.public_key()
                .verify(&s.key_id, &s.method, &other, &s.sig)
                .is_err()
        );
    }
    assert!(PrivateKey::generate(KeyType::Rsa).is_err());
}

#[test]
fn builder_refuses_names_canonical_json_cannot_carry() {
    use hallmark_tuf::builder;
    let mut targets = builder::new_targets(1, now() + builder::TARGETS_EXPIRY);
    let before = targets.clone();
    for (name, found) in [
        ("v1\n", r#""v1\n""#),
        ("a\u{1}b", r#""a\u{1}b""#),
        ("", r#""""#),
    ] {
        let err = builder::set_target(&mut targets, name, builder::target_value(&[7; 32], 42))
            .unwrap_err();
        assert_eq!(
            err,
            TufError::InvalidName {
                what: "target name".into(),
                expected: "a non-empty name without control characters".into(),
                found: found.into(),
            }
        );
        assert!(err.to_string().contains(found), "{err}");
    }
    let (_, key, _) = new_key();
    let key = TufKey::new(
        KeyType::Ecdsa,
        STANDARD
            .decode(key["keyval"]["public"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let err = builder::add_delegation(&mut targets, "targets/al\tice", &[&key], &[""]).unwrap_err();
    assert!(
        matches!(&err, TufError::InvalidName { what, found, .. }
            if what == "delegated role name" && found == r#""targets/al\tice""#),
        "{err}"
    );
    let err =
        builder::add_delegation(&mut targets, "targets/alice", &[&key], &["a\u{7}"]).unwrap_err();
    assert!(
        matches!(&err, TufError::InvalidName { what, .. } if what == "delegation path"),
        "{err}"
    );
    assert_eq!(targets, before, "nothing is written on refusal");
    // What the builder accepts parses back after canonical encoding.
    builder::set_target(&mut targets, "v1.0-ü", builder::target_value(&[7; 32], 42)).unwrap();
    builder::add_delegation(&mut targets, "targets/alice", &[&key], &[""]).unwrap();
    let parsed: Value = serde_json::from_slice(&to_canonical(&targets).unwrap()).unwrap();
    assert_eq!(parsed, targets);
}
