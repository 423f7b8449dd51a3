//! The log's Merkle tree as a sequence of stored hashes, and proof generation over it.
//!
//! Every complete (perfect) subtree hash is stored exactly once, at a dense *stored hash index*
//! (the scheme of Go's `golang.org/x/mod/sumdb/tlog`): leaf `n` is written at
//! [`StoredIndex::new`]`(0, n)`, immediately followed by the hashes of the subtrees it completes,
//! in increasing level. The stored hashes of a tree of size `s` are therefore the indexes
//! `0..`[`stored_hash_count`]`(s)`, an append-only sequence, and tiles
//! ([`crate::tiles`]) are slices of it.
//!
//! With that layout, a root, an inclusion proof or a consistency proof needs at most about
//! `2 log2(n)` stored hashes, fetched in one [`HashReader::read_hashes`] call. For storage that
//! cannot implement the synchronous [`HashReader`] (an async database), each operation is also
//! available in two halves: `*_indexes` says which stored hashes are needed, and
//! `*_from_hashes` computes the result from them.
//!
//! Proofs are produced as RFC 6962 §2.1.1 `PATH` / §2.1.2 `PROOF` define them (= RFC 9162
//! §2.1.3.1 and §2.1.4.1): ordered from the leaf (or smaller tree) towards the root.

use crate::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use thiserror::Error;

/// The largest tree size supported: 2^62 leaves (stored hash indexes then stay below 2^63).
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Why a tree operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The [`HashReader`] failed.
    #[error("reading stored hashes failed")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The [`HashReader`] (or the caller of a `*_from_hashes` function) gave the wrong number
    /// of hashes.
    #[error("expected {expected} stored hashes, found {found}")]
    HashCount {
        /// How many stored hashes the operation needs.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}: expected an index below {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger to a smaller tree.
    #[error(
        "consistency proof from tree size {old} to {new}: expected the old size to be at most the new size"
    )]
    SizeOrder {
        /// The old (first) tree size.
        old: u64,
        /// The new (second) tree size.
        new: u64,
    },
    /// The tree size is beyond [`MAX_TREE_SIZE`].
    #[error("tree size {size} is larger than the supported maximum {max}")]
    TooLarge {
        /// The size given.
        size: u64,
        /// [`MAX_TREE_SIZE`].
        max: u64,
    },
}

fn check_size(size: u64) -> Result<(), TreeError> {
    if size > MAX_TREE_SIZE {
        Err(TreeError::TooLarge {
            size,
            max: MAX_TREE_SIZE,
        })
    } else {
        Ok(())
    }
}

/// The position of a complete subtree hash in the dense stored hash sequence.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct StoredIndex(u64);

/// `StoredHashIndex` without range checks; callers guarantee `(n + 1) << level <= MAX_TREE_SIZE`.
fn raw_index(level: u32, n: u64) -> u64 {
    // Node (level, n) is stored right after the last leaf it covers and the subtrees that
    // leaf completes below it. Leaf m is stored at m + m/2 + m/4 + ... = 2m - popcount(m).
    let last_leaf = (n << level) | ((1u64 << level) - 1);
    2 * last_leaf - u64::from(last_leaf.count_ones()) + u64::from(level)
}

impl StoredIndex {
    /// The index of the hash of the subtree at `level` (0 = leaves) number `n`, which covers
    /// leaves `n * 2^level .. (n + 1) * 2^level`. `None` if that range goes beyond
    /// [`MAX_TREE_SIZE`].
    pub fn new(level: u32, n: u64) -> Option<Self> {
        if level > MAX_TREE_SIZE.trailing_zeros() || n >= MAX_TREE_SIZE >> level {
            return None;
        }
        Some(Self(raw_index(level, n)))
    }

    /// The index of leaf `n`'s hash.
    pub fn leaf(n: u64) -> Option<Self> {
        Self::new(0, n)
    }

    /// A raw index, if it is one a tree of at most [`MAX_TREE_SIZE`] leaves has.
    pub fn from_u64(index: u64) -> Option<Self> {
        (index < stored_hash_count_unchecked(MAX_TREE_SIZE)).then_some(Self(index))
    }

    /// The raw index.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The inverse of [`StoredIndex::new`]: `(level, n)`.
    pub fn split(self) -> (u32, u64) {
        let index = self.0;
        // Leaf m is stored at 2m - popcount(m) <= index, so m >= index / 2; walk up from there.
        let mut n = index / 2;
        let mut at = raw_index(0, n);
        loop {
            // Leaf n is written with the 1 + tz(n + 1) hashes of the subtrees it completes.
            let next = at + 1 + u64::from((n + 1).trailing_zeros());
            if next > index {
                break;
            }
            n += 1;
            at = next;
        }
        let level = (index - at) as u32;
        (level, n >> level)
    }
}

impl std::fmt::Display for StoredIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn stored_hash_count_unchecked(size: u64) -> u64 {
    2 * size - u64::from(size.count_ones())
}

/// How many hashes a tree of `size` leaves stores (= the stored index of the next leaf).
pub fn stored_hash_count(size: u64) -> Result<u64, TreeError> {
    check_size(size)?;
    Ok(stored_hash_count_unchecked(size))
}

/// Reads stored hashes by index. Implemented by storage (and by [`crate::tiles::TileHashReader`]).
pub trait HashReader {
    /// The storage's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hashes at `indexes`, in the same order; exactly `indexes.len()` of them or an error.
    /// The indexes the functions of this module ask for are mostly, not always, increasing.
    fn read_hashes(&self, indexes: &[StoredIndex]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;
    fn read_hashes(&self, indexes: &[StoredIndex]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(indexes)
    }
}

fn read_all<R: HashReader + ?Sized>(
    reader: &R,
    indexes: &[StoredIndex],
) -> Result<Vec<Hash>, TreeError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader
        .read_hashes(indexes)
        .map_err(|e| TreeError::Read(Box::new(e)))?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::HashCount {
            expected: indexes.len(),
            found: hashes.len(),
        });
    }
    Ok(hashes)
}

/// Largest power of two `<= n` (`n > 0`).
fn pow2_floor(n: u64) -> u64 {
    1 << (63 - n.leading_zeros())
}

/// RFC 6962's split point: the largest power of two `< n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    pow2_floor(n - 1)
}

/// Stored indexes of the complete subtrees whose concatenation is leaves `lo..hi`.
/// `lo` is aligned to each piece (true everywhere this is called).
fn subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<StoredIndex>) {
    while lo < hi {
        let k = pow2_floor(hi - lo);
        let level = k.trailing_zeros();
        debug_assert_eq!(lo & (k - 1), 0, "misaligned subtree");
        out.push(StoredIndex(raw_index(level, lo >> level)));
        lo += k;
    }
}

/// Stored hashes handed out in the order their indexes were planned.
struct Cursor<'a> {
    hashes: &'a [Hash],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(hashes: &'a [Hash], expected: usize) -> Result<Self, TreeError> {
        if hashes.len() != expected {
            return Err(TreeError::HashCount {
                expected,
                found: hashes.len(),
            });
        }
        Ok(Self { hashes, pos: 0 })
    }

    fn take(&mut self, count: usize) -> Result<&'a [Hash], TreeError> {
        let end = self.pos + count;
        let slice = self.hashes.get(self.pos..end).ok_or(TreeError::HashCount {
            expected: end,
            found: self.hashes.len(),
        })?;
        self.pos = end;
        Ok(slice)
    }
}

/// The hash of leaves `lo..hi` from the complete subtree hashes [`subtree_indexes`] planned.
fn subtree_hash(lo: u64, hi: u64, cursor: &mut Cursor<'_>) -> Result<Hash, TreeError> {
    let pieces = cursor.take((hi - lo).count_ones() as usize)?;
    let mut iter = pieces.iter().rev();
    let mut hash = match iter.next() {
        Some(h) => *h,
        None => return Ok(EMPTY_ROOT),
    };
    for left in iter {
        hash = node_hash(left, &hash);
    }
    Ok(hash)
}

/// The stored hashes [`tree_hash_from_hashes`] needs for the root of a tree of `size`: one per
/// set bit of `size` (the tree's complete subtrees, left to right).
pub fn tree_hash_indexes(size: u64) -> Result<Vec<StoredIndex>, TreeError> {
    check_size(size)?;
    let mut out = Vec::with_capacity(size.count_ones() as usize);
    subtree_indexes(0, size, &mut out);
    Ok(out)
}

/// The root of a tree of `size` from the hashes at [`tree_hash_indexes`]`(size)`.
pub fn tree_hash_from_hashes(size: u64, hashes: &[Hash]) -> Result<Hash, TreeError> {
    check_size(size)?;
    let mut cursor = Cursor::new(hashes, size.count_ones() as usize)?;
    subtree_hash(0, size, &mut cursor)
}

/// The root (RFC 6962 `MTH`) of the tree of the first `size` leaves.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, TreeError> {
    let indexes = tree_hash_indexes(size)?;
    let hashes = read_all(reader, &indexes)?;
    tree_hash_from_hashes(size, &hashes)
}

fn inclusion_indexes(lo: u64, hi: u64, index: u64, out: &mut Vec<StoredIndex>) {
    if hi - lo == 1 {
        return;
    }
    let k = split_point(hi - lo);
    if index < lo + k {
        inclusion_indexes(lo, lo + k, index, out);
        subtree_indexes(lo + k, hi, out);
    } else {
        subtree_indexes(lo, lo + k, out);
        inclusion_indexes(lo + k, hi, index, out);
    }
}

fn inclusion_path(
    lo: u64,
    hi: u64,
    index: u64,
    cursor: &mut Cursor<'_>,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError> {
    if hi - lo == 1 {
        return Ok(());
    }
    let k = split_point(hi - lo);
    if index < lo + k {
        inclusion_path(lo, lo + k, index, cursor, out)?;
        out.push(subtree_hash(lo + k, hi, cursor)?);
    } else {
        let left = subtree_hash(lo, lo + k, cursor)?;
        inclusion_path(lo + k, hi, index, cursor, out)?;
        out.push(left);
    }
    Ok(())
}

fn check_inclusion_args(size: u64, index: u64) -> Result<(), TreeError> {
    check_size(size)?;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    Ok(())
}

/// The stored hashes [`inclusion_proof_from_hashes`] needs.
pub fn inclusion_proof_indexes(size: u64, index: u64) -> Result<Vec<StoredIndex>, TreeError> {
    check_inclusion_args(size, index)?;
    let mut out = Vec::new();
    inclusion_indexes(0, size, index, &mut out);
    Ok(out)
}

/// The inclusion proof of leaf `index` in the tree of `size`, from the hashes at
/// [`inclusion_proof_indexes`]`(size, index)`.
pub fn inclusion_proof_from_hashes(
    size: u64,
    index: u64,
    hashes: &[Hash],
) -> Result<Vec<Hash>, TreeError> {
    let expected = inclusion_proof_indexes(size, index)?.len();
    let mut cursor = Cursor::new(hashes, expected)?;
    let mut out = Vec::with_capacity(64);
    inclusion_path(0, size, index, &mut cursor, &mut out)?;
    Ok(out)
}

/// The inclusion proof (RFC 6962 `PATH(index, D[size])`, audit path) of leaf `index` in the
/// tree of the first `size` leaves (Go `tlog.ProveRecord`).
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    reader: &R,
) -> Result<Vec<Hash>, TreeError> {
    let indexes = inclusion_proof_indexes(size, index)?;
    let hashes = read_all(reader, &indexes)?;
    inclusion_proof_from_hashes(size, index, &hashes)
}

fn consistency_indexes(lo: u64, hi: u64, old: u64, out: &mut Vec<StoredIndex>) {
    if old == hi {
        if lo != 0 {
            subtree_indexes(lo, hi, out);
        }
        return;
    }
    let k = split_point(hi - lo);
    if old <= lo + k {
        consistency_indexes(lo, lo + k, old, out);
        subtree_indexes(lo + k, hi, out);
    } else {
        subtree_indexes(lo, lo + k, out);
        consistency_indexes(lo + k, hi, old, out);
    }
}

fn consistency_path(
    lo: u64,
    hi: u64,
    old: u64,
    cursor: &mut Cursor<'_>,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError> {
    if old == hi {
        if lo != 0 {
            out.push(subtree_hash(lo, hi, cursor)?);
        }
        return Ok(());
    }
    let k = split_point(hi - lo);
    if old <= lo + k {
        consistency_path(lo, lo + k, old, cursor, out)?;
        out.push(subtree_hash(lo + k, hi, cursor)?);
    } else {
        let left = subtree_hash(lo, lo + k, cursor)?;
        consistency_path(lo + k, hi, old, cursor, out)?;
        out.push(left);
    }
    Ok(())
}

fn check_consistency_args(old: u64, new: u64) -> Result<(), TreeError> {
    check_size(new)?;
    if old > new {
        return Err(TreeError::SizeOrder { old, new });
    }
    Ok(())
}

/// The stored hashes [`consistency_proof_from_hashes`] needs.
pub fn consistency_proof_indexes(old: u64, new: u64) -> Result<Vec<StoredIndex>, TreeError> {
    check_consistency_args(old, new)?;
    let mut out = Vec::new();
    if old != 0 && old != new {
        consistency_indexes(0, new, old, &mut out);
    }
    Ok(out)
}

/// The consistency proof from tree size `old` to `new`, from the hashes at
/// [`consistency_proof_indexes`]`(old, new)`.
pub fn consistency_proof_from_hashes(
    old: u64,
    new: u64,
    hashes: &[Hash],
) -> Result<Vec<Hash>, TreeError> {
    let expected = consistency_proof_indexes(old, new)?.len();
    let mut cursor = Cursor::new(hashes, expected)?;
    let mut out = Vec::with_capacity(64);
    if old != 0 && old != new {
        consistency_path(0, new, old, &mut cursor, &mut out)?;
    }
    Ok(out)
}

/// The consistency proof (RFC 6962 `PROOF(old, D[new])`) between the trees of the first `old`
/// and `new` leaves (Go `tlog.ProveTree`). Empty when `old` is 0 or equals `new`, which is what
/// RFC 9162 verifiers and C2SP witnesses expect then.
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, TreeError> {
    let indexes = consistency_proof_indexes(old, new)?;
    let hashes = read_all(reader, &indexes)?;
    consistency_proof_from_hashes(old, new, &hashes)
}

/// The stored hashes to write when appending leaf `n` (whose leaf hash is `leaf`) to a tree
/// of `n` leaves: the leaf hash, then the hash of every subtree it completes, in increasing
/// level. They go at [`StoredIndex::leaf`]`(n)` onwards. Reads up to `log2(n)` earlier hashes
/// (Go `tlog.StoredHashesForRecordHash`). A log appending batches should prefer [`Frontier`],
/// which reads nothing.
pub fn stored_hashes<R: HashReader + ?Sized>(
    n: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, TreeError> {
    check_size(n.saturating_add(1))?;
    let completed = (n + 1).trailing_zeros();
    // The left siblings of the completed subtrees, highest level first (increasing index).
    let indexes: Vec<StoredIndex> = (0..completed)
        .rev()
        .map(|level| StoredIndex(raw_index(level, (n >> level) - 1)))
        .collect();
    let siblings = read_all(reader, &indexes)?;
    let mut out = Vec::with_capacity(1 + completed as usize);
    let mut hash = leaf;
    out.push(hash);
    for left in siblings.iter().rev() {
        hash = node_hash(left, &hash);
        out.push(hash);
    }
    Ok(out)
}

/// The right edge of a tree: the hashes of its complete subtrees (one per set bit of the size,
/// largest first). Enough to append leaves and compute the root without reading storage.
///
/// A log server keeps one in memory; on start it loads it with [`Frontier::from_reader`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of `size` from the hashes at [`tree_hash_indexes`]`(size)`.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, TreeError> {
        check_size(size)?;
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(TreeError::HashCount {
                expected,
                found: hashes.len(),
            });
        }
        Ok(Self {
            size,
            nodes: hashes,
        })
    }

    /// Load the frontier of a tree of `size` from storage (one read of `popcount(size)` hashes).
    pub fn from_reader<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Self, TreeError> {
        let indexes = tree_hash_indexes(size)?;
        Self::from_hashes(size, read_all(reader, &indexes)?)
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The complete subtree hashes, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.nodes
    }

    /// The tree's root (RFC 6962 `MTH`); [`EMPTY_ROOT`] for the empty tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(mut hash) = iter.next().copied() else {
            return EMPTY_ROOT;
        };
        for left in iter {
            hash = node_hash(left, &hash);
        }
        hash
    }

    /// The stored index the next appended leaf's hashes start at.
    pub fn next_stored_index(&self) -> StoredIndex {
        StoredIndex(stored_hash_count_unchecked(self.size))
    }

    /// Append one leaf hash; push the stored hashes it produces (the leaf hash and the subtree
    /// hashes it completes, the same as [`stored_hashes`]) to `out`. Returns the leaf's index.
    pub fn append(&mut self, leaf: Hash, out: &mut Vec<Hash>) -> Result<u64, TreeError> {
        check_size(self.size + 1)?;
        let index = self.size;
        let mut hash = leaf;
        out.push(hash);
        let mut bits = index;
        while bits & 1 == 1 {
            // Each trailing one bit of the old size is a subtree of the same height to merge with.
            let Some(left) = self.nodes.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            out.push(hash);
            bits >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
        Ok(index)
    }

    /// Append a batch of leaf hashes and return every stored hash they produce, in stored index
    /// order starting at the old [`Frontier::next_stored_index`] (about two per leaf).
    pub fn append_batch(&mut self, leaves: &[Hash]) -> Result<Vec<Hash>, TreeError> {
        check_size(self.size.saturating_add(leaves.len() as u64))?;
        let mut out = Vec::with_capacity(leaves.len() * 2 + 64);
        for leaf in leaves {
            self.append(*leaf, &mut out)?;
        }
        Ok(out)
    }
}

/// The in-memory [`HashReader`] read an index that is not stored.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("stored hash index {index} is not stored: expected an index below {stored}")]
#[non_exhaustive]
pub struct MemoryReadError {
    /// The index asked for.
    pub index: u64,
    /// How many hashes are stored.
    pub stored: u64,
}

/// All stored hashes in memory: for tests, tools and small logs.
#[derive(Clone, Debug, Default)]
pub struct MemoryHashStore {
    hashes: Vec<Hash>,
    frontier: Frontier,
}

impl MemoryHashStore {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a leaf by its leaf hash; returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> Result<u64, TreeError> {
        self.frontier.append(leaf, &mut self.hashes)
    }

    /// Append a leaf by its data (hashed with [`leaf_hash`]); returns its index.
    pub fn append_data(&mut self, data: &[u8]) -> Result<u64, TreeError> {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Append a batch of leaf hashes.
    pub fn append_batch(&mut self, leaves: &[Hash]) -> Result<(), TreeError> {
        let stored = self.frontier.append_batch(leaves)?;
        self.hashes.extend_from_slice(&stored);
        Ok(())
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The current frontier.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Every stored hash, in stored index order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemoryHashStore {
    type Error = MemoryReadError;

    fn read_hashes(&self, indexes: &[StoredIndex]) -> Result<Vec<Hash>, Self::Error> {
        indexes
            .iter()
            .map(|i| {
                usize::try_from(i.0)
                    .ok()
                    .and_then(|at| self.hashes.get(at))
                    .copied()
                    .ok_or(MemoryReadError {
                        index: i.0,
                        stored: self.hashes.len() as u64,
                    })
            })
            .collect()
    }
}
