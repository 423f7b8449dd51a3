//! Proof verification: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
//!
//! This is written from the RFC's verification algorithms and shares no code with the proof
//! generator in [`crate::tree`]. Before running an algorithm the proof length is checked
//! against the exact length a correct proof has for the given sizes (the "inner + border"
//! decomposition), so a malformed proof is reported as the wrong length rather than as a root
//! mismatch.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use thiserror::Error;

/// Why a proof was rejected. The values in it are untrusted input, shown for diagnosis.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}: expected an index below {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The first tree of a consistency proof is larger than the second.
    #[error("consistency proof from tree size {first} to {second}: expected first <= second")]
    SizeOrder {
        /// The first (older) tree size.
        first: u64,
        /// The second (newer) tree size.
        second: u64,
    },
    /// The proof does not have the number of hashes a proof for these sizes has.
    #[error("proof has {found} hashes, expected {expected} for these tree sizes")]
    WrongLength {
        /// The length a correct proof has.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The proof leads to another root than the one given for the tree of `size`.
    #[error("the proof gives root {computed} for tree size {size}, expected {expected}")]
    RootMismatch {
        /// The size of the tree whose root does not match.
        size: u64,
        /// The root given by the caller.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
    /// The proof does not fit the tree shape (only reachable for inputs the length check lets
    /// through, kept as the RFC's own check).
    #[error("malformed proof: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
}

fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `size`, or `None`
/// if `index >= size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Option<usize> {
    if index >= size {
        return None;
    }
    let inner = bit_len(index ^ (size - 1));
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    Some((inner + border) as usize)
}

/// The number of hashes in the consistency proof from `first` to `second` leaves, or `None` if
/// `first > second`. Zero when `first` is 0 or equals `second`.
pub fn consistency_proof_len(first: u64, second: u64) -> Option<usize> {
    if first > second {
        return None;
    }
    if first == 0 || first == second {
        return Some(0);
    }
    let inner = bit_len((first - 1) ^ (second - 1));
    let border = (first - 1).checked_shr(inner).unwrap_or(0).count_ones();
    // The levels below the lowest set bit of `first` are covered by one subtree hash, which is
    // left out when `first` is itself a power of two (the verifier knows it: it is the root).
    let shared = first.trailing_zeros();
    let seed = u32::from(!first.is_power_of_two());
    Some((seed + inner - shared + border) as usize)
}

/// The root an inclusion proof leads to for `leaf` at `index` in a tree of `size`
/// (RFC 9162 §2.1.3.2 steps 1-4).
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    let expected =
        inclusion_proof_len(index, size).ok_or(ProofError::IndexOutOfRange { index, size })?;
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::Malformed {
                reason: "the proof is longer than the path to the root",
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f != 0 && f & 1 == 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::Malformed {
            reason: "the proof is shorter than the path to the root",
        });
    }
    Ok(r)
}

/// Verify that `leaf` (a leaf hash) is leaf `index` of the tree of `size` whose root is
/// `root`, with an inclusion proof ordered from the leaf up (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf, index, size, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            size,
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Verify that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root` (RFC 9162 §2.1.4.2).
///
/// Sizes the RFC leaves out: `first == second` needs an empty proof and equal roots;
/// `first == 0` needs an empty proof and `first_root` = [`EMPTY_ROOT`] (C2SP tlog-witness also
/// sends an empty proof then).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected =
        consistency_proof_len(first, second).ok_or(ProofError::SizeOrder { first, second })?;
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    if first == 0 {
        if *first_root != EMPTY_ROOT {
            return Err(ProofError::RootMismatch {
                size: 0,
                expected: *first_root,
                computed: EMPTY_ROOT,
            });
        }
        return Ok(());
    }
    if first == second {
        if first_root != second_root {
            return Err(ProofError::RootMismatch {
                size: second,
                expected: *second_root,
                computed: *first_root,
            });
        }
        return Ok(());
    }
    // Step 1 (an empty proof) is excluded by the length check: a proof for 0 < first < second
    // has at least one hash.
    // Step 2: if `first` is a power of two, its root is the first value of the path.
    let (seed, rest) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        match proof.split_first() {
            Some((seed, rest)) => (*seed, rest),
            None => {
                return Err(ProofError::Malformed {
                    reason: "empty consistency proof",
                });
            }
        }
    };
    // Steps 3-4.
    let mut f = first - 1;
    let mut s = second - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Steps 5-6.
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if s == 0 {
            return Err(ProofError::Malformed {
                reason: "the proof is longer than the path to the root",
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f != 0 && f & 1 == 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(ProofError::Malformed {
            reason: "the proof is shorter than the path to the root",
        });
    }
    if fr != *first_root {
        return Err(ProofError::RootMismatch {
            size: first,
            expected: *first_root,
            computed: fr,
        });
    }
    if sr != *second_root {
        return Err(ProofError::RootMismatch {
            size: second,
            expected: *second_root,
            computed: sr,
        });
    }
    Ok(())
}
