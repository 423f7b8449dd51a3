//! Log entries as Rekor v1 returns them and as clients store them; checkpoints opened with a
//! log key.

#![allow(clippy::unwrap_used)]

use hallmark_core::{KeyAlgorithm, SigningKey};
use hallmark_tlog::{
    Checkpoint, LogEntry, LogKey, LogKeyError, MemoryHashStore,
    note::{EcdsaNoteSigner, Ed25519NoteSigner},
};

fn tree(n: u8, salt: u8) -> MemoryHashStore {
    let mut s = MemoryHashStore::new();
    for i in 0..n {
        s.append_data(&[salt, i]).unwrap();
    }
    s
}

#[test]
fn checkpoints_open_by_key_id_not_name() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let public = key.public_key().clone();
    let s = tree(4, 0);
    let note = Checkpoint::new("127.0.0.1:3000", 4, s.root())
        .unwrap()
        .sign(&[&EcdsaNoteSigner::new("any-name", key).unwrap()])
        .unwrap();
    let log_key = LogKey::new(public).unwrap();
    let v = log_key.open_checkpoint(&note).unwrap();
    assert_eq!(v.checkpoint.size(), 4);
    assert_eq!(v.key_name, "any-name");

    // Another key's checkpoint is rejected.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other_note = Checkpoint::new("127.0.0.1:3000", 4, s.root())
        .unwrap()
        .sign(&[&EcdsaNoteSigner::new("any-name", other).unwrap()])
        .unwrap();
    assert!(matches!(
        log_key.open_checkpoint(&other_note),
        Err(LogKeyError::BadCheckpoint { .. })
    ));
    // An altered size under a genuine signature.
    let altered = note.replacen("\n4\n", "\n5\n", 1);
    assert!(log_key.open_checkpoint(&altered).is_err());

    // Ed25519 log keys, with the C2SP key ID.
    let ed = Ed25519NoteSigner::generate("log.example").unwrap();
    let ed_note = Checkpoint::new("log.example", 4, s.root())
        .unwrap()
        .sign(&[&ed])
        .unwrap();
    let spki = hallmark_tlog::note::ed25519_spki(ed.verifier().public_key());
    let ed_key = LogKey::new(hallmark_core::PublicKey::from_spki_der(&spki).unwrap()).unwrap();
    assert_eq!(
        ed_key.open_checkpoint(&ed_note).unwrap().checkpoint.size(),
        4
    );
}

#[test]
fn rekor_v1_entry_response_and_stored_forms() {
    let response = br#"{"24296fb24b8ad77a7b2f7e1f3f1ae3d5b6d4e8f6b2f5b1a0c4d2e0f1a2b3c4d5e6f708192a3b4c5d6": {
        "body": "eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSJ9", "integratedTime": 1700000000,
        "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
        "logIndex": 42,
        "verification": {"signedEntryTimestamp": "MEUCIQ==",
          "inclusionProof": {"checkpoint": "cp\n", "hashes": ["0000000000000000000000000000000000000000000000000000000000000000"],
            "logIndex": 42, "rootHash": "1111111111111111111111111111111111111111111111111111111111111111", "treeSize": 43}}}}"#;
    let entries = LogEntry::parse_response(response).unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.body, br#"{"apiVersion":"0.0.1","kind":"dsse"}"#);
    assert_eq!(e.log_index, 42);
    assert_eq!(e.inclusion_proof.as_ref().unwrap().tree_size, 43);

    let annotation = e.to_cosign_annotation().unwrap();
    assert_eq!(
        annotation,
        r#"{"SignedEntryTimestamp":"MEUCIQ==","Payload":{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSJ9","integratedTime":1700000000,"logIndex":42,"logID":"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"}}"#
    );
    let t = e.to_bundle_tlog_entry().unwrap();
    assert_eq!(t["logIndex"], "42");
    assert_eq!(t["integratedTime"], "1700000000");
    assert_eq!(
        t["logId"]["keyId"],
        "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="
    );
    assert_eq!(t["inclusionProof"]["treeSize"], "43");
    assert_eq!(t["inclusionProof"]["checkpoint"]["envelope"], "cp\n");
    assert_eq!(
        t["canonicalizedBody"],
        "eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiZHNzZSJ9"
    );
    // The kind and version are the body's.
    assert_eq!(t["kindVersion"]["kind"], "dsse");
    assert_eq!(t["kindVersion"]["version"], "0.0.1");
    // A body that names no kind has no bundle form.
    let mut nameless = e.clone();
    nameless.body = br#"{"a":1}"#.to_vec();
    let err = nameless.to_bundle_tlog_entry().unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a body with kind and apiVersion"),
        "{err}"
    );
    // Malformed: a body that is not base64.
    assert!(
        LogEntry::parse_response(
            br#"{"x":{"body":"!","integratedTime":1,"logID":"00","logIndex":0}}"#
        )
        .is_err()
    );
}
