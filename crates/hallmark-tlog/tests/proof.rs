//! RFC 9162 verification against the generator, and rejection of malformed proofs.

use crate::naive;
use crate::prng::Rng;
use hallmark_tlog::hash::{EMPTY_ROOT, Hash, leaf_hash};
use hallmark_tlog::proof::{
    ProofError, consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof,
    verify_consistency, verify_inclusion,
};
use hallmark_tlog::tree::{MemoryHashStore, prove_consistency, prove_inclusion, tree_hash};

fn store(n: usize) -> (MemoryHashStore, Vec<Hash>) {
    let mut store = MemoryHashStore::new();
    let mut leaves = Vec::new();
    for d in naive::leaves(n) {
        leaves.push(leaf_hash(&d));
        store.append_data(&d).expect("append");
    }
    (store, leaves)
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[bit / 8 % 32] ^= 1 << (bit % 8);
    Hash(b)
}

#[test]
fn inclusion_proofs_verify_and_mutations_fail() {
    let (store, leaves) = store(70);
    let mut rng = Rng::new(1);
    for size in 1..=70u64 {
        let root = tree_hash(size, &store).expect("root");
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = prove_inclusion(size, index, &store).expect("proof");
            assert_eq!(inclusion_proof_len(index, size), Some(proof.len()));
            verify_inclusion(&leaf, index, size, &proof, &root).expect("valid proof");
            // Wrong leaf, wrong root.
            assert!(verify_inclusion(&flip(&leaf, 3), index, size, &proof, &root).is_err());
            assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, 0)).is_err());
            // Each proof hash altered.
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], rng.range(0, 255) as usize);
                assert!(matches!(
                    verify_inclusion(&leaf, index, size, &bad, &root),
                    Err(ProofError::RootMismatch { .. })
                ));
            }
            // Truncated and extended.
            if !proof.is_empty() {
                let err = verify_inclusion(&leaf, index, size, &proof[1..], &root)
                    .expect_err("truncated");
                assert_eq!(
                    err,
                    ProofError::WrongLength {
                        expected: proof.len(),
                        found: proof.len() - 1
                    }
                );
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert!(matches!(
                verify_inclusion(&leaf, index, size, &longer, &root),
                Err(ProofError::WrongLength { .. })
            ));
            // Another index. (Another size can legitimately accept the same proof when the
            // path has the same shape, e.g. leaf 0 of sizes 3 and 4.)
            if index + 1 < size {
                assert!(verify_inclusion(&leaf, index + 1, size, &proof, &root).is_err());
            }
        }
        assert_eq!(
            verify_inclusion(&leaves[0], size, size, &[], &root),
            Err(ProofError::IndexOutOfRange { index: size, size })
        );
    }
    assert_eq!(
        root_from_inclusion_proof(&leaves[0], 0, 0, &[]),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
}

#[test]
fn consistency_proofs_verify_and_mutations_fail() {
    let (store, _) = store(70);
    let roots: Vec<Hash> = (0..=70)
        .map(|n| tree_hash(n, &store).expect("root"))
        .collect();
    for second in 1..=70u64 {
        for first in 0..=second {
            let proof = prove_consistency(first, second, &store).expect("proof");
            assert_eq!(consistency_proof_len(first, second), Some(proof.len()));
            let (r1, r2) = (&roots[first as usize], &roots[second as usize]);
            verify_consistency(first, second, r1, r2, &proof).expect("valid proof");
            if first > 0 {
                assert!(verify_consistency(first, second, &flip(r1, 9), r2, &proof).is_err());
            }
            if first > 0 {
                // (From the empty tree every tree is consistent: nothing binds the second root.)
                assert!(verify_consistency(first, second, r1, &flip(r2, 9), &proof).is_err());
            }
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], 77);
                assert!(matches!(
                    verify_consistency(first, second, r1, r2, &bad),
                    Err(ProofError::RootMismatch { .. })
                ));
            }
            if !proof.is_empty() {
                assert!(matches!(
                    verify_consistency(first, second, r1, r2, &proof[..proof.len() - 1]),
                    Err(ProofError::WrongLength { .. })
                ));
            }
            let mut longer = proof.clone();
            longer.push(*r2);
            assert!(matches!(
                verify_consistency(first, second, r1, r2, &longer),
                Err(ProofError::WrongLength { .. })
            ));
            if first > 1 && first < second {
                assert!(
                    verify_consistency(first - 1, second, &roots[first as usize - 1], r2, &proof)
                        .is_err()
                );
            }
        }
        assert_eq!(
            verify_consistency(second + 1, second, &roots[0], &roots[0], &[]),
            Err(ProofError::SizeOrder {
                first: second + 1,
                second
            })
        );
    }
    // Size 0: only the empty root with an empty proof.
    verify_consistency(0, 5, &EMPTY_ROOT, &roots[5], &[]).expect("empty tree");
    assert!(verify_consistency(0, 5, &roots[1], &roots[5], &[]).is_err());
    // Same size: equal roots, empty proof.
    assert!(matches!(
        verify_consistency(5, 5, &roots[4], &roots[5], &[]),
        Err(ProofError::RootMismatch { size: 5, .. })
    ));
    assert!(matches!(
        verify_consistency(5, 5, &roots[5], &roots[5], &[roots[5]]),
        Err(ProofError::WrongLength {
            expected: 0,
            found: 1
        })
    ));
}

#[test]
fn random_large_sizes_verify() {
    let mut rng = Rng::new(99);
    let mut store = MemoryHashStore::new();
    let mut leaves = Vec::new();
    for i in 0..20_000u32 {
        let h = leaf_hash(&i.to_be_bytes());
        leaves.push(h);
        store.append_leaf_hash(h).expect("append");
    }
    for _ in 0..300 {
        let size = rng.range(1, 20_000);
        let index = rng.range(0, size - 1);
        let root = tree_hash(size, &store).expect("root");
        let proof = prove_inclusion(size, index, &store).expect("proof");
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root).expect("inclusion");
        let first = rng.range(1, size);
        let old_root = tree_hash(first, &store).expect("root");
        let proof = prove_consistency(first, size, &store).expect("proof");
        verify_consistency(first, size, &old_root, &root, &proof).expect("consistency");
    }
}

#[test]
fn extreme_sizes_do_not_overflow() {
    let h = Hash::default();
    for (index, size) in [(u64::MAX - 1, u64::MAX), (0, u64::MAX), (1 << 63, u64::MAX)] {
        let len = inclusion_proof_len(index, size).expect("len");
        assert!(len <= 128);
        assert!(verify_inclusion(&h, index, size, &vec![h; len], &h).is_err());
    }
    for (first, second) in [(1, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX)] {
        let len = consistency_proof_len(first, second).expect("len");
        assert!(len <= 128);
        assert!(verify_consistency(first, second, &h, &h, &vec![h; len]).is_err());
    }
}
