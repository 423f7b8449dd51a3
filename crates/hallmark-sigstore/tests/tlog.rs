//! Offline verification of transparency-log entries (`tlog`): cosign annotations and key-signed
//! bundles from an in-memory Rekor-v1-style log built with hallmark-tlog, accepted, and rejected
//! after each kind of tampering.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, PublicKey, SigningKey};
use hallmark_sigstore::{
    Rejection, TlogPolicy, TrustedLogs,
    bundle::{build_message_signature_bundle, verify_blob_bundle},
    rekor_set::{ExpectedSigner, check_hashedrekord},
    tlog::{TlogEntry, TlogError, verify_entry},
};
use hallmark_tlog::{
    Checkpoint, MemoryHashStore,
    note::EcdsaNoteSigner,
    rekor::{HashedRekord, SetPayload},
    tree::prove_inclusion,
};
use hallmark_tlog::{InclusionProof, LogEntry};
use serde_json::{Value, json};

const ORIGIN: &str = "tlog.example";
const BASE_URL: &str = "https://tlog.example";
const TIME: i64 = 1_763_791_935;

/// A Rekor-v1-style log in memory: P-256 key, checkpoints signed with the key name `ORIGIN`.
struct FakeLog {
    signer: EcdsaNoteSigner,
    store: MemoryHashStore,
    bodies: Vec<Vec<u8>>,
}

impl FakeLog {
    fn new() -> Self {
        Self {
            signer: EcdsaNoteSigner::new(
                ORIGIN,
                SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap(),
            )
            .unwrap(),
            store: MemoryHashStore::new(),
            bodies: Vec::new(),
        }
    }

    fn public(&self) -> &PublicKey {
        self.signer.key().public_key()
    }

    /// Log a signature over `artifact` by `signer`; the entry with its SET and inclusion proof.
    fn log(&mut self, artifact: &[u8], signature: &[u8], signer: &PublicKey) -> LogEntry {
        let body = HashedRekord {
            digest: Digest::sha256_of(artifact),
            signature: signature.to_vec(),
            signer_pem: signer.to_pem().into_bytes(),
        }
        .canonical_body();
        let index = self.store.append_data(&body).unwrap();
        self.bodies.push(body.clone());
        self.entry(index)
    }

    /// Log an arbitrary canonical body.
    fn log_body(&mut self, body: Vec<u8>) -> LogEntry {
        let index = self.store.append_data(&body).unwrap();
        self.bodies.push(body);
        self.entry(index)
    }

    /// Entry `index` with a proof against the current tree.
    fn entry(&self, index: u64) -> LogEntry {
        let body = self.bodies[index as usize].clone();
        let set = SetPayload::new(&body, TIME, self.public(), index as i64)
            .sign(self.signer.key())
            .unwrap();
        let size = self.store.size();
        let checkpoint = Checkpoint::new(ORIGIN, size, self.store.root())
            .unwrap()
            .sign(&[&self.signer])
            .unwrap();
        LogEntry {
            uuid: hallmark_tlog::rekor::entry_uuid(&body),
            body,
            integrated_time: TIME,
            log_id: self.public().fingerprint(),
            log_index: index as i64,
            signed_entry_timestamp: Some(set),
            inclusion_proof: Some(InclusionProof {
                log_index: index,
                root_hash: self.store.root(),
                tree_size: size,
                hashes: prove_inclusion(size, index, &self.store).unwrap(),
                checkpoint,
            }),
        }
    }

    /// The trusted_root.json `hallmark log trusted-root` prints for this log.
    fn trusted_root(&self) -> Value {
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": BASE_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(self.public().spki_der()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2025-01-01T00:00:00Z"},
                },
                "logId": {"keyId": STANDARD.encode(hex::decode(self.public().fingerprint()).unwrap())},
            }],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": [],
        })
    }

    fn logs(&self) -> TrustedLogs {
        TrustedLogs::from_trusted_root(self.trusted_root().to_string().as_bytes()).unwrap()
    }
}

struct Signed {
    signer: SigningKey,
    artifact: Vec<u8>,
    signature: Vec<u8>,
    entry: LogEntry,
}

fn signed_in(log: &mut FakeLog, artifact: &[u8]) -> Signed {
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    // A few other entries first, so the proof is not trivial.
    for i in 0..5u8 {
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let sig = other.sign(&[i]).unwrap();
        log.log(&[i], &sig, other.public_key());
    }
    let signature = signer.sign(artifact).unwrap();
    let entry = log.log(artifact, &signature, signer.public_key());
    for i in 5..7u8 {
        let sig = signer.sign(&[i]).unwrap();
        log.log(&[i], &sig, signer.public_key());
    }
    let entry = log.entry(entry.log_index as u64);
    Signed {
        signer,
        artifact: artifact.to_vec(),
        signature,
        entry,
    }
}

fn bundle_of(s: &Signed, entry: Value) -> Vec<u8> {
    build_message_signature_bundle(
        &s.artifact,
        &s.signature,
        s.signer.public_key(),
        vec![entry],
    )
    .to_string()
    .into_bytes()
}

fn verify_bundle(s: &Signed, bundle: &[u8], logs: &TrustedLogs) -> Result<(), Rejection> {
    verify_blob_bundle(
        bundle,
        &s.artifact,
        std::slice::from_ref(s.signer.public_key()),
        &TlogPolicy::Required(logs.clone()),
    )
    .map(|_| ())
}

fn tlog_error(r: Result<(), Rejection>) -> TlogError {
    match r {
        Err(Rejection::Tlog(e)) => e,
        other => panic!("expected a transparency-log rejection, found {other:?}"),
    }
}

#[test]
fn cosign_annotation_verifies_set_and_body() {
    let mut log = FakeLog::new();
    let s = signed_in(&mut log, b"payload bytes");
    let annotation = s.entry.to_cosign_annotation().unwrap();
    // The exact shape cosign (and rekor_set) reads.
    let v: Value = serde_json::from_str(&annotation).unwrap();
    assert_eq!(
        v["Payload"]["logIndex"].as_i64(),
        Some(s.entry.log_index),
        "{v}"
    );
    let entry = TlogEntry::from_annotation(annotation.as_bytes()).unwrap();
    assert!(entry.inclusion_proof.is_none());
    let verified = verify_entry(&entry, &log.logs()).unwrap();
    assert_eq!(verified.log_index, 5);
    assert_eq!(verified.integrated_time, TIME);
    assert_eq!(verified.base_url.as_deref(), Some(BASE_URL));
    check_hashedrekord(
        &entry.rekor.body,
        &s.artifact,
        &STANDARD.encode(&s.signature),
        ExpectedSigner::Key(s.signer.public_key()),
    )
    .unwrap();
    // Another signer is not what the entry records.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    assert!(
        check_hashedrekord(
            &entry.rekor.body,
            &s.artifact,
            &STANDARD.encode(&s.signature),
            ExpectedSigner::Key(other.public_key()),
        )
        .is_err()
    );

    // A SET altered by one bit.
    let mut bad: Value = v.clone();
    let mut set = STANDARD
        .decode(bad["SignedEntryTimestamp"].as_str().unwrap())
        .unwrap();
    let last = set.len() - 1;
    set[last] ^= 1;
    bad["SignedEntryTimestamp"] = STANDARD.encode(set).into();
    let e = TlogEntry::from_annotation(bad.to_string().as_bytes()).unwrap();
    assert!(matches!(
        verify_entry(&e, &log.logs()),
        Err(TlogError::BadSet { .. })
    ));
    // Another integrated time: the SET no longer covers it.
    let mut bad = v.clone();
    bad["Payload"]["integratedTime"] = (TIME + 1).into();
    let e = TlogEntry::from_annotation(bad.to_string().as_bytes()).unwrap();
    assert!(matches!(
        verify_entry(&e, &log.logs()),
        Err(TlogError::BadSet { .. })
    ));
    // Another log's trusted root.
    let other_log = FakeLog::new();
    assert!(matches!(
        verify_entry(&entry, &other_log.logs()),
        Err(TlogError::UnknownLog { .. })
    ));
}

#[test]
fn validity_window_of_the_log_key() {
    let mut log = FakeLog::new();
    let s = signed_in(&mut log, b"x");
    let mut root = log.trusted_root();
    root["tlogs"][0]["publicKey"]["validFor"]["start"] = "2030-01-01T00:00:00Z".into();
    let logs = TrustedLogs::from_trusted_root(root.to_string().as_bytes()).unwrap();
    let entry =
        TlogEntry::from_annotation(s.entry.to_cosign_annotation().unwrap().as_bytes()).unwrap();
    assert!(matches!(
        verify_entry(&entry, &logs),
        Err(TlogError::OutsideValidity { .. })
    ));
}

#[test]
fn key_signed_bundle_verifies_set_proof_and_checkpoint() {
    let mut log = FakeLog::new();
    let s = signed_in(&mut log, b"release artifact\n");
    let entry = s.entry.to_bundle_tlog_entry().unwrap();
    let logs = log.logs();
    let bundle = bundle_of(&s, entry.clone());
    verify_bundle(&s, &bundle, &logs).unwrap();

    // protojson: int64 as strings, hashes as base64.
    let b: Value = serde_json::from_slice(&bundle).unwrap();
    let e = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(e["logIndex"], "5");
    assert_eq!(e["inclusionProof"]["treeSize"], "8");
    assert_eq!(e["kindVersion"]["version"], "0.0.1");
    assert!(
        e["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .starts_with(ORIGIN)
    );

    // Another artifact.
    let r = verify_blob_bundle(
        &bundle,
        b"another artifact",
        std::slice::from_ref(s.signer.public_key()),
        &TlogPolicy::Required(logs.clone()),
    );
    assert!(matches!(r, Err(Rejection::Malformed { .. })), "{r:?}");

    // A proof hash altered.
    let mut bad = entry.clone();
    let h0 = bad["inclusionProof"]["hashes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = STANDARD.decode(h0).unwrap();
    raw[0] ^= 1;
    bad["inclusionProof"]["hashes"][0] = STANDARD.encode(raw).into();
    assert!(matches!(
        tlog_error(verify_bundle(&s, &bundle_of(&s, bad), &logs)),
        TlogError::BadInclusionProof { .. }
    ));

    // A checkpoint signed by another key (a proof for a tree the log never signed).
    let mut bad = entry.clone();
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let root =
        hallmark_tlog::Hash::from_base64(bad["inclusionProof"]["rootHash"].as_str().unwrap())
            .unwrap();
    let forged = Checkpoint::new(ORIGIN, 8, root)
        .unwrap()
        .sign(&[&EcdsaNoteSigner::new(ORIGIN, other).unwrap()])
        .unwrap();
    bad["inclusionProof"]["checkpoint"]["envelope"] = forged.into();
    assert!(matches!(
        tlog_error(verify_bundle(&s, &bundle_of(&s, bad), &logs)),
        TlogError::BadCheckpoint { .. }
    ));

    // A checkpoint of the log for another tree (older size).
    let mut bad = entry.clone();
    let other_cp = Checkpoint::new(ORIGIN, 7, root)
        .unwrap()
        .sign(&[&log.signer])
        .unwrap();
    bad["inclusionProof"]["checkpoint"]["envelope"] = other_cp.into();
    assert!(matches!(
        tlog_error(verify_bundle(&s, &bundle_of(&s, bad), &logs)),
        TlogError::BadCheckpoint { .. }
    ));

    // No inclusion proof: bundles v0.3 need one.
    let mut bad = entry.clone();
    bad.as_object_mut().unwrap().remove("inclusionProof");
    assert!(matches!(
        tlog_error(verify_bundle(&s, &bundle_of(&s, bad), &logs)),
        TlogError::BadInclusionProof { .. }
    ));

    // The trusted root of another log.
    let other_log = FakeLog::new();
    assert!(matches!(
        tlog_error(verify_bundle(&s, &bundle, &other_log.logs())),
        TlogError::UnknownLog { .. }
    ));

    // No entry at all, when one is required.
    let empty = build_message_signature_bundle(
        &s.artifact,
        &s.signature,
        s.signer.public_key(),
        Vec::new(),
    )
    .to_string();
    assert!(matches!(
        tlog_error(verify_bundle(&s, empty.as_bytes(), &logs)),
        TlogError::Missing { .. }
    ));
    // ... and accepted when entries are only checked if present.
    verify_blob_bundle(
        empty.as_bytes(),
        &s.artifact,
        std::slice::from_ref(s.signer.public_key()),
        &TlogPolicy::VerifyIfPresent(logs.clone()),
    )
    .unwrap();
}

/// Real public-good Rekor entries (a cosign 3 and a sigstore-rs bundle) verify against the
/// production trusted_root.json: SET, RFC 9162 inclusion proof, and the rekor.sigstore.dev
/// checkpoint signature; an altered proof or a root without that log is refused.
#[test]
fn real_rekor_bundle_entries_verify_offline() {
    use crate::support::vector;
    let logs =
        TrustedLogs::from_trusted_root(&vector("sigstore-rs/trust_root/prod/trusted_root.json"))
            .unwrap();
    for file in [
        "sigstore-rs/tests/data/bundle_v03.json",
        "cosign/pkg/cosign/testdata/oci-attestation.sigstore.json",
    ] {
        let bundle: Value = serde_json::from_slice(&vector(file)).unwrap();
        let raw = &bundle["verificationMaterial"]["tlogEntries"][0];
        let entry = TlogEntry::from_bundle_entry(raw).unwrap();
        assert!(entry.inclusion_proof.is_some(), "{file}");
        let v = verify_entry(&entry, &logs).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(v.inclusion.is_some(), "{file}");

        let mut bad = raw.clone();
        let h = bad["inclusionProof"]["hashes"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let mut bytes = STANDARD.decode(h).unwrap();
        bytes[31] ^= 0x80;
        bad["inclusionProof"]["hashes"][0] = STANDARD.encode(bytes).into();
        assert!(matches!(
            verify_entry(&TlogEntry::from_bundle_entry(&bad).unwrap(), &logs),
            Err(TlogError::BadInclusionProof { .. })
        ));
        let fake = FakeLog::new();
        assert!(matches!(
            verify_entry(&entry, &fake.logs()),
            Err(TlogError::UnknownLog { .. })
        ));
    }
}

/// A key-signed cosign 3 image bundle (DSSE) whose `dsse` 0.0.1 entry is in the log: accepted
/// under a required-log policy with its proof verified; an entry naming another key, or none,
/// is refused.
#[test]
fn key_signed_image_bundle_with_dsse_entry() {
    use hallmark_sigstore::{
        BUNDLE_V03_MEDIA_TYPE, SignatureCandidate, VerificationPolicy,
        bundle::COSIGN_SIGN_PREDICATE,
        candidate::CandidateSource,
        dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
        verify::verify_candidate,
    };
    let mut log = FakeLog::new();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let digest = Digest::sha256_of(b"an image manifest");
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": digest.hex()}}],
        "predicateType": COSIGN_SIGN_PREDICATE,
    }))
    .unwrap();
    let envelope = Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, &statement).unwrap();
    let dsse_body = |signer: &PublicKey| {
        serde_json::to_vec(&json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": "00".repeat(32)},
                "payloadHash": {"algorithm": "sha256", "value": Digest::sha256_of(&statement).hex()},
                "signatures": [{
                    "signature": envelope.signatures[0].sig,
                    "verifier": STANDARD.encode(signer.to_pem()),
                }],
            },
        }))
        .unwrap()
    };
    let bundle_with = |entries: Vec<Value>| SignatureCandidate {
        source: CandidateSource::Referrer {
            manifest: "sha256:00".into(),
        },
        media_type: BUNDLE_V03_MEDIA_TYPE.into(),
        body: serde_json::to_vec(&json!({
            "mediaType": BUNDLE_V03_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": "h"}, "tlogEntries": entries},
            "dsseEnvelope": serde_json::to_value(&envelope).unwrap(),
        }))
        .unwrap(),
        annotations: Default::default(),
    };
    let as_dsse = |e: &LogEntry| {
        let mut v = e.to_bundle_tlog_entry().unwrap();
        v["kindVersion"]["kind"] = "dsse".into();
        v
    };
    let policy = VerificationPolicy {
        keys: vec![key.public_key().clone()],
        tlog: TlogPolicy::Required(log.logs()),
        ..VerificationPolicy::default()
    };

    let entry = log.log_body(dsse_body(key.public_key()));
    let v = verify_candidate(&digest, &bundle_with(vec![as_dsse(&entry)]), &policy).unwrap();
    let t = v.tlog_entry.unwrap();
    assert_eq!(t.log_index, 0);
    assert!(t.inclusion.is_some());

    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let wrong = log.log_body(dsse_body(other.public_key()));
    let r = verify_candidate(&digest, &bundle_with(vec![as_dsse(&wrong)]), &policy);
    assert!(
        matches!(r, Err(Rejection::Tlog(TlogError::Body(_)))),
        "{r:?}"
    );
    let r = verify_candidate(&digest, &bundle_with(Vec::new()), &policy);
    assert!(
        matches!(r, Err(Rejection::Tlog(TlogError::Missing { .. }))),
        "{r:?}"
    );
    // Not checked by default.
    let plain = VerificationPolicy {
        keys: vec![key.public_key().clone()],
        ..VerificationPolicy::default()
    };
    assert!(
        verify_candidate(&digest, &bundle_with(Vec::new()), &plain)
            .unwrap()
            .tlog_entry
            .is_none()
    );
}
