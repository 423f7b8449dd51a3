//! A whole Rekor-v1-style log cycle with this crate's parts, checked the way a client checks
//! a Sigstore bundle: batch append, checkpoint signed with the log's ECDSA key (note key ID =
//! first 4 bytes of the log ID), inclusion proof against the checkpoint root, SET, then a
//! consistency proof to a later checkpoint.

use hallmark_core::{Digest, KeyAlgorithm, SigningKey};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::hash::leaf_hash;
use hallmark_tlog::note::{EcdsaNoteSigner, Note, NoteVerifier};
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::rekor::{HashedRekord, SetPayload, log_id};
use hallmark_tlog::tree::{MemoryHashStore, prove_consistency, prove_inclusion};

#[test]
fn rekor_v1_style_log_cycle() {
    let signer = EcdsaNoteSigner::new(
        "tlog.example.com",
        SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key"),
    )
    .expect("signer");
    let log_key = signer.key().public_key().clone();
    let origin = "tlog.example.com - 42";
    let mut store = MemoryHashStore::new();

    // Integrate a batch of hashedrekord entries.
    let entries: Vec<HashedRekord> = (0..300u32)
        .map(|i| HashedRekord {
            digest: Digest::sha256_of(&i.to_be_bytes()),
            signature: vec![i as u8; 71],
            signer_pem: log_key.to_pem().into_bytes(),
        })
        .collect();
    let bodies: Vec<Vec<u8>> = entries.iter().map(HashedRekord::canonical_body).collect();
    let leaves: Vec<_> = bodies.iter().map(|b| leaf_hash(b)).collect();
    store.append_batch(&leaves).expect("append");
    let size = store.size();
    let checkpoint = Checkpoint::new(origin, size, store.root())
        .expect("checkpoint")
        .sign(&[&signer])
        .expect("sign");

    // What the log hands out for entry 123.
    let index = 123u64;
    let proof = prove_inclusion(size, index, &store).expect("proof");
    let payload = SetPayload::new(
        &bodies[index as usize],
        1_763_791_935,
        &log_key,
        index as i64,
    );
    let set = payload.sign(signer.key()).expect("SET");

    // Client side: the note key ID is the first 4 bytes of the log ID.
    let note = Note::parse(checkpoint.as_bytes()).expect("note");
    assert_eq!(
        format!("{:08x}", note.signatures()[0].key_hash),
        log_id(&log_key)[..8]
    );
    let verifier = signer.verifier();
    let (cp, _) =
        Checkpoint::open(checkpoint.as_bytes(), &[&verifier as &dyn NoteVerifier]).expect("open");
    cp.expect_origin(origin).expect("origin");
    verify_inclusion(
        &leaf_hash(&bodies[index as usize]),
        index,
        cp.size(),
        &proof,
        cp.root(),
    )
    .expect("inclusion");
    payload.verify(&log_key, &set).expect("SET");

    // The log grows; the next checkpoint is consistent with the first.
    let more: Vec<_> = (0..1000u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    store.append_batch(&more).expect("append");
    let next = Checkpoint::new(origin, store.size(), store.root())
        .expect("checkpoint")
        .sign(&[&signer])
        .expect("sign");
    let (cp2, _) = Checkpoint::open(next.as_bytes(), &[&verifier]).expect("open");
    let consistency = prove_consistency(cp.size(), cp2.size(), &store).expect("proof");
    verify_consistency(cp.size(), cp2.size(), cp.root(), cp2.root(), &consistency)
        .expect("consistency");
}
