use hallmark_tlog::{EMPTY_ROOT, MemoryHashStore, tree::prove_consistency};
use hallmark_tlog_client::{
    CheckpointSummary, ClientError, MonitorState, monitor::check_transition,
};

fn tree(n: u8, salt: u8) -> MemoryHashStore {
    let mut s = MemoryHashStore::new();
    for i in 0..n {
        s.append_data(&[salt, i]).unwrap();
    }
    s
}

fn summary(s: &MemoryHashStore) -> CheckpointSummary {
    CheckpointSummary {
        origin: "log.example".into(),
        size: s.size(),
        root: s.root(),
    }
}

#[test]
fn transitions_accept_growth_and_reject_forks() {
    let small = tree(5, 0);
    let big = tree(13, 0);
    let proof = prove_consistency(5, 13, &big).unwrap();
    check_transition(&summary(&small), &summary(&big), &proof).unwrap();
    check_transition(&summary(&big), &summary(&big), &[]).unwrap();

    let empty = CheckpointSummary {
        origin: "log.example".into(),
        size: 0,
        root: EMPTY_ROOT,
    };
    check_transition(&empty, &summary(&big), &[]).unwrap();

    let inconsistent = |r: Result<(), ClientError>, what: &str| match r {
        Err(e @ ClientError::Inconsistent { .. }) => {
            let text = e.to_string();
            assert!(text.contains(what), "{text}");
            assert!(text.contains("previously verified"), "{text}");
            assert!(text.contains(&big.root().to_hex()) || text.contains(&small.root().to_hex()));
        }
        other => panic!("expected an inconsistency ({what}), found {other:?}"),
    };
    // Shrunk.
    inconsistent(
        check_transition(&summary(&big), &summary(&small), &[]),
        "shrank",
    );
    // Same size, another root.
    let forked = tree(13, 1);
    inconsistent(
        check_transition(&summary(&big), &summary(&forked), &[]),
        "same size",
    );
    // Grown from another history: the proof (of the forked log) does not verify.
    let forked_big = tree(20, 1);
    let proof = prove_consistency(13, 20, &forked_big).unwrap();
    inconsistent(
        check_transition(&summary(&big), &summary(&forked_big), &proof),
        "consistency proof",
    );
    // Another origin.
    let mut other = summary(&big);
    other.origin = "other.example".into();
    inconsistent(
        check_transition(&summary(&small), &other, &[]),
        "another log",
    );
}

#[test]
fn state_file_round_trip_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/state.json");
    assert_eq!(MonitorState::load(&path).unwrap(), None);
    let state = MonitorState {
        url: "http://127.0.0.1:1".into(),
        public_key: "pem".into(),
        origin: "o".into(),
        tree_size: 3,
        root_hash: "00".repeat(32),
        checkpoint: "note".into(),
    };
    state.save(&path).unwrap();
    assert_eq!(MonitorState::load(&path).unwrap(), Some(state));
    std::fs::write(&path, "not json").unwrap();
    assert!(matches!(
        MonitorState::load(&path),
        Err(ClientError::State { .. })
    ));
}
