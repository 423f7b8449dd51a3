//! Witnessing, by the property each part defends: a cosignature verifies only over the
//! checkpoint it was made for (and what the C2SP text fixes: message, key ID, timestamp); the
//! witness cosigns only a checkpoint of a known log, signed by it, consistent with what it
//! holds (every tlog-witness refusal with its status); a fork or a rollback is never cosigned;
//! witness policies parse as Sigsum writes them and a quorum counts only valid cosignatures.

#![allow(clippy::unwrap_used)]

use hallmark_core::{KeyAlgorithm, SigningKey};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::hash::leaf_hash;
use hallmark_tlog::note::{Ed25519NoteSigner, Note, NoteVerifier};
use hallmark_tlog::tree::{MemoryHashStore, prove_consistency};
use hallmark_tlog::witness::{
    AddCheckpoint, CosignatureSigner, CosignatureVerifier, Held, PolicyError, WitnessError,
    WitnessPolicy, witness,
};
use std::collections::{BTreeMap, BTreeSet};

const ORIGIN: &str = "log.example.com/test";

struct Log {
    signer: Ed25519NoteSigner,
    store: MemoryHashStore,
}

impl Log {
    fn new() -> Self {
        Self {
            signer: Ed25519NoteSigner::generate(ORIGIN).unwrap(),
            store: MemoryHashStore::new(),
        }
    }
    fn grow(&mut self, n: u32, tag: &str) {
        for i in 0..n {
            self.store
                .append_leaf_hash(leaf_hash(format!("{tag}{i}").as_bytes()))
                .unwrap();
        }
    }
    fn checkpoint(&self) -> String {
        Checkpoint::new(ORIGIN, self.store.size(), self.store.root())
            .unwrap()
            .sign(&[&self.signer])
            .unwrap()
    }
    fn request(&self, old: u64) -> AddCheckpoint {
        AddCheckpoint {
            old_size: old,
            proof: prove_consistency(old, self.store.size(), &self.store).unwrap(),
            checkpoint: self.checkpoint(),
        }
    }
    fn held(&self) -> Held {
        Held {
            size: self.store.size(),
            root: self.store.root(),
        }
    }
}

type Logs = BTreeMap<String, Vec<Box<dyn NoteVerifier + Send + Sync>>>;

fn logs(log: &Log) -> Logs {
    let mut m: Logs = BTreeMap::new();
    m.insert(ORIGIN.into(), vec![Box::new(log.signer.verifier())]);
    m
}

#[test]
fn a_cosignature_verifies_over_its_checkpoint_only() {
    let w = CosignatureSigner::from_seed("witness.example.com", &[7u8; 32]).unwrap();
    let text = "log.example.com/test\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let line = w.cosign(text, 1_700_000_000).unwrap();
    let v = w.verifier();
    assert_eq!(v.timestamp_of(text, &line.signature), Some(1_700_000_000));
    // Another checkpoint, or the timestamp changed: not valid.
    assert_eq!(
        v.timestamp_of(&text.replace('5', "6"), &line.signature),
        None
    );
    let mut moved = line.signature.clone();
    moved[7] ^= 1;
    assert_eq!(v.timestamp_of(text, &moved), None);
    // The key ID is SHA-256(name || \n || 0x04 || key)[:4], and the vkey round-trips.
    let parsed = CosignatureVerifier::from_vkey(&v.vkey()).unwrap();
    assert_eq!(parsed, v);
    assert_eq!(line.key_hash, v.key_hash());
    assert!(v.vkey().starts_with("witness.example.com+"));
    // An Ed25519 note vkey (type 0x01) is not a cosignature key.
    let note_key = Ed25519NoteSigner::generate("witness.example.com").unwrap();
    let e = CosignatureVerifier::from_vkey(&note_key.verifier().vkey()).unwrap_err();
    assert!(e.to_string().contains("0x01"), "{e}");
    // A cosigned checkpoint is a note with one more signature line, verified as a note.
    let mut log = Log::new();
    log.grow(3, "a");
    let mut note = Note::parse(log.checkpoint().as_bytes()).unwrap();
    let cos = w.cosign(note.text(), 42).unwrap();
    let cosigned = format!("{}{}", note.to_text(), cos.line());
    note = Note::parse(cosigned.as_bytes()).unwrap();
    let verified = note.verify(&[&v]).unwrap();
    assert_eq!(verified.verified.len(), 1);
}

#[test]
fn the_witness_cosigns_a_consistent_checkpoint_and_refuses_each_bad_request() {
    let mut log = Log::new();
    log.grow(10, "a");
    let known = logs(&log);
    // First sight: old 0, empty proof.
    let first = witness(&known, |_| None, &log.request(0)).unwrap();
    assert_eq!(first.held, log.held());
    let held = log.held();
    log.grow(7, "b");
    let ok = witness(&known, |_| Some(held.clone()), &log.request(10)).unwrap();
    assert_eq!(ok.held.size, 17);

    // 409: the old size is not what the witness holds (answers with its size).
    let e = witness(&known, |_| Some(held.clone()), &log.request(5)).unwrap_err();
    assert_eq!(
        (e.status(), &e),
        (409, &WitnessError::Conflict { held: 10, old: 5 })
    );
    // 400: old after new.
    let mut r = log.request(17);
    r.old_size = 18;
    let e = witness(&known, |_| Some(held.clone()), &r).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    // 422: a proof that does not lead from the held root.
    let mut r = log.request(10);
    r.proof[0].0[0] ^= 1;
    let e = witness(&known, |_| Some(held.clone()), &r).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    // 404: a log the witness does not follow.
    let other = {
        let mut l = Log::new();
        l.grow(2, "x");
        l
    };
    let e = witness(&BTreeMap::new(), |_| None, &other.request(0)).unwrap_err();
    assert_eq!(e.status(), 404, "{e}");
    // 403: the right origin signed by another key.
    let e = witness(&known, |_| None, &other.request(0)).unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    // 400: not a request.
    assert_eq!(
        AddCheckpoint::parse(b"old x\n\n").unwrap_err().status(),
        400
    );
}

#[test]
fn a_fork_or_a_rollback_is_never_cosigned() {
    let mut log = Log::new();
    log.grow(8, "a");
    let known = logs(&log);
    let held = log.held();
    // A fork: another tree of the same size (and a larger one that does not extend the held).
    let mut fork = Log {
        signer: Ed25519NoteSigner::from_seed(ORIGIN, &[0u8; 32]).unwrap(),
        store: MemoryHashStore::new(),
    };
    let forked_known = {
        let mut m: Logs = BTreeMap::new();
        m.insert(ORIGIN.into(), vec![Box::new(fork.signer.verifier())]);
        m
    };
    fork.grow(8, "z");
    let e = witness(&forked_known, |_| Some(held.clone()), &fork.request(8)).unwrap_err();
    assert_eq!(e.status(), 422, "same size, other root: {e}");
    fork.grow(4, "z");
    let mut r = fork.request(8);
    r.proof = prove_consistency(8, 12, &fork.store).unwrap();
    let e = witness(&forked_known, |_| Some(held.clone()), &r).unwrap_err();
    assert_eq!(
        e.status(),
        422,
        "a larger tree not extending the held one: {e}"
    );
    // A rollback: a smaller tree than the one held.
    let mut small = Log {
        signer: Ed25519NoteSigner::from_seed(ORIGIN, &[0u8; 32]).unwrap(),
        store: MemoryHashStore::new(),
    };
    small.grow(4, "a");
    let e = witness(&forked_known, |_| Some(held.clone()), &small.request(4)).unwrap_err();
    assert_eq!(e.status(), 409, "{e}");
    let _ = known;
}

#[test]
fn add_checkpoint_requests_round_trip_and_are_bounded() {
    let mut log = Log::new();
    log.grow(100, "a");
    let held = log.held();
    log.grow(55, "b");
    let r = log.request(held.size);
    assert!(!r.proof.is_empty());
    assert_eq!(AddCheckpoint::parse(r.to_body().as_bytes()).unwrap(), r);
    let first = log.request(0);
    assert!(first.to_body().starts_with("old 0\n\n"));
    assert_eq!(
        AddCheckpoint::parse(first.to_body().as_bytes()).unwrap(),
        first
    );
    for bad in [
        "old 01\n\nx".to_owned(),
        "new 1\n\nx".to_owned(),
        format!("old 1\n{}\n\nx", "AAAA\n".repeat(64)),
        "old 1\nnot base64!\n\nx".into(),
    ] {
        let e = AddCheckpoint::parse(bad.as_bytes()).unwrap_err();
        assert_eq!(e.status(), 400, "{bad:?}: {e}");
    }
}

fn policy_witness(name: &str, seed: u8) -> (CosignatureSigner, String) {
    let s = CosignatureSigner::from_seed(&format!("{name}.example.com"), &[seed; 32]).unwrap();
    let vkey = s.verifier().vkey();
    (s, vkey)
}

#[test]
fn a_quorum_counts_valid_cosignatures_of_policy_witnesses_only() {
    let (a, ka) = policy_witness("a", 1);
    let (b, kb) = policy_witness("b", 2);
    let (c, kc) = policy_witness("c", 3);
    let text = format!(
        "# two of three, or c alone\nwitness A {ka} https://a.example.com\nwitness B {kb}\nwitness C {kc}\n\
         group two 2 A B C\ngroup either any two C\nquorum either\n"
    );
    let p = WitnessPolicy::parse(&text).unwrap();
    assert_eq!(p.witnesses.len(), 3);
    assert_eq!(p.witnesses[0].url.as_deref(), Some("https://a.example.com"));
    let set = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert!(p.satisfied_by(&set(&["A", "B"])));
    assert!(p.satisfied_by(&set(&["C"])));
    assert!(!p.satisfied_by(&set(&["A"])));

    let mut log = Log::new();
    log.grow(3, "a");
    let checkpoint = log.checkpoint();
    let note = Note::parse(checkpoint.as_bytes()).unwrap();
    let lines = |signers: &[&CosignatureSigner]| {
        let mut s = checkpoint.clone();
        for w in signers {
            s.push_str(&w.cosign(note.text(), 1).unwrap().line());
        }
        Note::parse(s.as_bytes()).unwrap()
    };
    assert_eq!(p.check(&lines(&[&a, &b])).unwrap(), set(&["A", "B"]));
    let e = p.check(&lines(&[&a])).unwrap_err();
    assert!(
        matches!(&e, PolicyError::QuorumNotMet { signed, .. } if signed == &["A".to_owned()]),
        "{e}"
    );
    assert!(e.to_string().contains("1 of [2 of [A, B, C], C]"), "{e}");
    // A cosignature by B over another checkpoint does not count for this one.
    let mut other = Log::new();
    other.grow(4, "b");
    let other_note = Note::parse(other.checkpoint().as_bytes()).unwrap();
    let stolen = b.cosign(other_note.text(), 1).unwrap().line();
    let mixed = format!("{}{}", lines(&[&a]).to_text(), stolen);
    assert!(p.check(&Note::parse(mixed.as_bytes()).unwrap()).is_err());
    let _ = c;
    // quorum none accepts anything.
    assert!(
        WitnessPolicy::parse("quorum none\n")
            .unwrap()
            .satisfied_by(&BTreeSet::new())
    );
}

#[test]
fn witness_policy_files_are_refused_line_by_line() {
    let (_, ka) = policy_witness("a", 1);
    for (text, needle) in [
        ("witness A KEY\nquorum A\n".to_owned(), "line 1"),
        (format!("witness A {ka}\n"), "quorum"),
        (format!("witness A {ka}\nquorum B\n"), "line 2"),
        (
            format!("witness A {ka}\nwitness A {ka}\nquorum A\n"),
            "twice",
        ),
        (
            format!("witness A {ka}\ngroup g 2 A\nquorum g\n"),
            "threshold",
        ),
        (format!("witness A {ka}\ngroup g any A B\nquorum g\n"), "B"),
        (format!("witness A {ka}\nquorum A\nquorum A\n"), "second"),
        ("frobnicate\nquorum none\n".to_owned(), "expected `log"),
    ] {
        let e = WitnessPolicy::parse(&text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?}: expected {needle:?} in {e}");
    }
    let _ = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
}
