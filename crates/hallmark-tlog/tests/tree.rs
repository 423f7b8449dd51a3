//! Root and proof generation against the naive RFC 6962 definitions.

use crate::naive;
use crate::prng::Rng;
use hallmark_tlog::hash::{EMPTY_ROOT, Hash, leaf_hash};
use hallmark_tlog::tree::{
    Frontier, HashReader, MAX_TREE_SIZE, MemoryHashStore, MemoryReadError, StoredIndex, TreeError,
    consistency_proof_from_hashes, consistency_proof_indexes, inclusion_proof_from_hashes,
    inclusion_proof_indexes, prove_consistency, prove_inclusion, stored_hash_count, stored_hashes,
    tree_hash, tree_hash_indexes,
};

fn store_of(data: &[Vec<u8>]) -> MemoryHashStore {
    let mut store = MemoryHashStore::new();
    for d in data {
        store.append_data(d).expect("append");
    }
    store
}

/// Go's StoredHashIndex, loop for loop, as an oracle.
fn go_stored_hash_index(level: u32, mut n: u64) -> u64 {
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut i = 0;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

#[test]
fn stored_index_layout_matches_go_and_splits_back() {
    // The first hashes: leaf 0, leaf 1, node(0..2), leaf 2, leaf 3, node(2..4), node(0..4).
    let expected = [
        (0, 0),
        (0, 1),
        (1, 0),
        (0, 2),
        (0, 3),
        (1, 1),
        (2, 0),
        (0, 4),
    ];
    for (i, (level, n)) in expected.into_iter().enumerate() {
        let idx = StoredIndex::new(level, n).expect("in range");
        assert_eq!(idx.get(), i as u64);
        assert_eq!(idx.split(), (level, n));
    }
    for level in 0..12 {
        for n in 0..300 {
            let idx = StoredIndex::new(level, n).expect("in range");
            assert_eq!(idx.get(), go_stored_hash_index(level, n), "({level}, {n})");
            assert_eq!(idx.split(), (level, n));
            assert_eq!(StoredIndex::from_u64(idx.get()), Some(idx));
        }
    }
    let mut rng = Rng::new(7);
    for _ in 0..2000 {
        let level = rng.range(0, 40) as u32;
        let n = rng.range(0, (MAX_TREE_SIZE >> level) - 1);
        let idx = StoredIndex::new(level, n).expect("in range");
        assert_eq!(idx.get(), go_stored_hash_index(level, n));
        assert_eq!(idx.split(), (level, n));
    }
    assert!(StoredIndex::new(63, 0).is_none());
    assert!(StoredIndex::new(0, MAX_TREE_SIZE).is_none());
    assert!(StoredIndex::new(62, 0).is_some());
    assert!(StoredIndex::from_u64(u64::MAX).is_none());
}

#[test]
fn stored_hash_count_is_the_store_length() {
    let mut store = MemoryHashStore::new();
    for n in 0..600u64 {
        assert_eq!(
            stored_hash_count(n).expect("size"),
            store.stored().len() as u64
        );
        assert_eq!(
            store.frontier().next_stored_index().get(),
            store.stored().len() as u64
        );
        store.append_data(&n.to_be_bytes()).expect("append");
    }
    assert!(matches!(
        stored_hash_count(MAX_TREE_SIZE + 1),
        Err(TreeError::TooLarge { .. })
    ));
}

#[test]
fn roots_and_proofs_match_rfc6962_for_sizes_1_to_64() {
    let data = naive::leaves(64);
    let store = store_of(&data);
    assert_eq!(tree_hash(0, &store).expect("root"), EMPTY_ROOT);
    for n in 1..=64usize {
        let d = &data[..n];
        let size = n as u64;
        assert_eq!(
            tree_hash(size, &store).expect("root"),
            naive::mth(d),
            "MTH({n})"
        );
        // A store holding exactly n leaves agrees with the larger one.
        let small = store_of(d);
        assert_eq!(small.root(), naive::mth(d));
        for m in 0..n {
            assert_eq!(
                prove_inclusion(size, m as u64, &store).expect("inclusion"),
                naive::path(m, d),
                "PATH({m}, D[{n}])"
            );
        }
        for m in 1..=n {
            assert_eq!(
                prove_consistency(m as u64, size, &store).expect("consistency"),
                naive::proof(m, d),
                "PROOF({m}, D[{n}])"
            );
        }
        assert!(
            prove_consistency(0, size, &store)
                .expect("consistency")
                .is_empty()
        );
    }
}

#[test]
fn roots_and_proofs_match_rfc6962_for_random_larger_sizes() {
    let mut rng = Rng::new(0x5eed);
    let data = naive::leaves(3000);
    let store = store_of(&data);
    for _ in 0..40 {
        let n = rng.range(65, 3000) as usize;
        let d = &data[..n];
        assert_eq!(tree_hash(n as u64, &store).expect("root"), naive::mth(d));
        let m = rng.range(0, n as u64 - 1) as usize;
        assert_eq!(
            prove_inclusion(n as u64, m as u64, &store).expect("inclusion"),
            naive::path(m, d),
            "PATH({m}, D[{n}])"
        );
        let m = rng.range(1, n as u64) as usize;
        assert_eq!(
            prove_consistency(m as u64, n as u64, &store).expect("consistency"),
            naive::proof(m, d),
            "PROOF({m}, D[{n}])"
        );
    }
}

#[test]
fn two_phase_api_equals_reader_api() {
    let store = store_of(&naive::leaves(1000));
    let read = |indexes: &[StoredIndex]| store.read_hashes(indexes).expect("read");
    for (size, index) in [(1000u64, 0u64), (1000, 999), (777, 500), (512, 511)] {
        let hashes = read(&inclusion_proof_indexes(size, index).expect("indexes"));
        assert_eq!(
            inclusion_proof_from_hashes(size, index, &hashes).expect("proof"),
            prove_inclusion(size, index, &store).expect("proof")
        );
        let hashes = read(&consistency_proof_indexes(index + 1, size).expect("indexes"));
        assert_eq!(
            consistency_proof_from_hashes(index + 1, size, &hashes).expect("proof"),
            prove_consistency(index + 1, size, &store).expect("proof")
        );
        // O(log n) reads.
        assert!(inclusion_proof_indexes(size, index).expect("i").len() <= 2 * 10);
        assert_eq!(
            tree_hash_indexes(size).expect("indexes").len(),
            size.count_ones() as usize
        );
    }
    // Wrong number of hashes is a typed error naming both counts.
    let err = inclusion_proof_from_hashes(1000, 3, &[Hash::default()]).expect_err("short");
    assert!(
        matches!(
            err,
            TreeError::HashCount {
                expected: 14,
                found: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn stored_hashes_frontier_and_batches_agree() {
    let data = naive::leaves(700);
    let mut one_by_one = MemoryHashStore::new();
    for (n, d) in data.iter().enumerate() {
        let expected = stored_hashes(n as u64, leaf_hash(d), &one_by_one).expect("stored hashes");
        let before = one_by_one.stored().len();
        one_by_one.append_data(d).expect("append");
        assert_eq!(&one_by_one.stored()[before..], &expected[..], "leaf {n}");
    }
    // Batches of uneven sizes, with a frontier reloaded from storage in between.
    let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    let mut batched = MemoryHashStore::new();
    let mut at = 0;
    for len in [1usize, 2, 5, 64, 128, 200, 300] {
        batched.append_batch(&leaves[at..at + len]).expect("batch");
        at += len;
        let reloaded = Frontier::from_reader(at as u64, &batched).expect("frontier");
        assert_eq!(&reloaded, batched.frontier());
        assert_eq!(reloaded.root(), naive::mth(&data[..at]));
    }
    assert_eq!(batched.stored(), one_by_one.stored());
    assert_eq!(Frontier::new().root(), EMPTY_ROOT);
}

struct ShortReader;
impl HashReader for ShortReader {
    type Error = MemoryReadError;
    fn read_hashes(&self, _: &[StoredIndex]) -> Result<Vec<Hash>, MemoryReadError> {
        Ok(vec![Hash::default()])
    }
}

#[test]
fn bad_arguments_and_readers_are_typed_errors() {
    let store = store_of(&naive::leaves(10));
    assert!(matches!(
        prove_inclusion(10, 10, &store),
        Err(TreeError::IndexOutOfRange {
            index: 10,
            size: 10
        })
    ));
    assert!(matches!(
        prove_inclusion(0, 0, &store),
        Err(TreeError::IndexOutOfRange { index: 0, size: 0 })
    ));
    assert!(matches!(
        prove_consistency(11, 10, &store),
        Err(TreeError::SizeOrder { old: 11, new: 10 })
    ));
    assert!(matches!(
        tree_hash(u64::MAX, &store),
        Err(TreeError::TooLarge { .. })
    ));
    // Reading beyond what is stored surfaces the reader's error.
    let err = tree_hash(11, &store).expect_err("not stored");
    assert!(matches!(err, TreeError::Read(_)), "{err}");
    assert!(!err.to_string().contains("is not stored"), "{err}");
    let msg = hallmark_core::error::chain(&err);
    assert_eq!(msg.matches("is not stored").count(), 1, "{msg}");
    // A reader returning the wrong number of hashes.
    let err = prove_inclusion(8, 3, &ShortReader).expect_err("short read");
    assert!(
        matches!(
            err,
            TreeError::HashCount {
                expected: 3,
                found: 1
            }
        ),
        "{err}"
    );
}
