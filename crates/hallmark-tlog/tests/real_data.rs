//! Real Rekor (rekor.sigstore.dev) inclusion proofs, checkpoints and SETs from published
//! Sigstore bundles (sigstore-rs and cosign test data).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::PublicKey;
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::hash::{Hash, leaf_hash};
use hallmark_tlog::note::{EcdsaNoteVerifier, Note};
use hallmark_tlog::proof::{ProofError, verify_inclusion};
use hallmark_tlog::rekor::SetPayload;
use serde_json::Value;

const BUNDLES: [&str; 2] = [
    "rekor-bundles/sigstore-rs-bundle_v03.json",
    "rekor-bundles/cosign-oci-attestation.sigstore.json",
];

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).expect("test data")
}

fn rekor_key() -> PublicKey {
    let pem = String::from_utf8(data("rekor-bundles/rekor.sigstore.dev.pub")).expect("utf-8");
    PublicKey::from_pem(&pem, "rekor.sigstore.dev").expect("key")
}

struct Entry {
    body_b64: String,
    leaf: Hash,
    index: u64,
    size: u64,
    root: Hash,
    hashes: Vec<Hash>,
    checkpoint: String,
    key_id: Vec<u8>,
    value: Value,
}

fn int(v: &Value) -> u64 {
    v.as_str().expect("int64 string").parse().expect("integer")
}

fn entries() -> Vec<Entry> {
    BUNDLES
        .iter()
        .map(|path| {
            let bundle: Value = serde_json::from_slice(&data(path)).expect("json");
            let e = bundle["verificationMaterial"]["tlogEntries"][0].clone();
            let proof = &e["inclusionProof"];
            let b64 = |v: &Value| {
                STANDARD
                    .decode(v.as_str().expect("string"))
                    .expect("base64")
            };
            let body_b64 = e["canonicalizedBody"].as_str().expect("body").to_owned();
            Entry {
                leaf: leaf_hash(&b64(&e["canonicalizedBody"])),
                body_b64,
                index: int(&proof["logIndex"]),
                size: int(&proof["treeSize"]),
                root: Hash::from_slice(&b64(&proof["rootHash"])).expect("root"),
                hashes: proof["hashes"]
                    .as_array()
                    .expect("hashes")
                    .iter()
                    .map(|h| Hash::from_slice(&b64(h)).expect("hash"))
                    .collect(),
                checkpoint: proof["checkpoint"]["envelope"]
                    .as_str()
                    .expect("envelope")
                    .to_owned(),
                key_id: b64(&e["logId"]["keyId"]),
                value: e,
            }
        })
        .collect()
}

#[test]
fn real_rekor_inclusion_proofs_verify() {
    for e in entries() {
        verify_inclusion(&e.leaf, e.index, e.size, &e.hashes, &e.root).expect("real proof");
        // Tampering is detected.
        let mut bad = e.hashes.clone();
        bad[3].0[0] ^= 1;
        assert!(matches!(
            verify_inclusion(&e.leaf, e.index, e.size, &bad, &e.root),
            Err(ProofError::RootMismatch { .. })
        ));
        assert!(verify_inclusion(&e.leaf, e.index + 1, e.size, &e.hashes, &e.root).is_err());
        assert!(matches!(
            verify_inclusion(&e.leaf, e.index, e.size, &e.hashes[1..], &e.root),
            Err(ProofError::WrongLength { .. })
        ));
    }
}

#[test]
fn real_rekor_checkpoints_verify_with_the_spki_key_id() {
    let verifier = EcdsaNoteVerifier::new("rekor.sigstore.dev", rekor_key()).expect("verifier");
    for e in entries() {
        // The note key ID is the first 4 bytes of the log ID (SHA-256 of the SPKI).
        let note = Note::parse(e.checkpoint.as_bytes()).expect("note");
        assert_eq!(note.signatures()[0].key_hash.to_be_bytes(), e.key_id[..4]);
        let (cp, verified) =
            Checkpoint::open(e.checkpoint.as_bytes(), &[&verifier]).expect("real checkpoint");
        assert_eq!(verified.verified.len(), 1);
        assert_eq!(cp.origin(), "rekor.sigstore.dev - 1193050959916656506");
        assert_eq!(cp.size(), e.size);
        assert_eq!(cp.root(), &e.root);
        assert!(cp.extensions().is_empty());
        // Re-formatting reproduces the signed text.
        assert_eq!(cp.to_text(), note.text());
        // A changed size is rejected.
        let forged = e.checkpoint.replacen(
            &format!("\n{}\n", e.size),
            &format!("\n{}\n", e.size + 1),
            1,
        );
        assert!(Checkpoint::open(forged.as_bytes(), &[&verifier]).is_err());
    }
}

#[test]
fn real_rekor_sets_verify() {
    for e in entries() {
        let payload = SetPayload {
            body: e.body_b64.clone(),
            integrated_time: int(&e.value["integratedTime"]) as i64,
            log_id: hex::encode(&e.key_id),
            log_index: int(&e.value["logIndex"]) as i64,
        };
        let set = STANDARD
            .decode(
                e.value["inclusionPromise"]["signedEntryTimestamp"]
                    .as_str()
                    .expect("set"),
            )
            .expect("base64");
        payload.verify(&rekor_key(), &set).expect("real SET");
    }
}
