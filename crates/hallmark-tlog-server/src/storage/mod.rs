//! Storage of the log behind one trait, [`Storage`], with two implementations over sqlx:
//! [`sqlite::SqliteStorage`] (the default: `log.db` in the data directory, WAL,
//! `synchronous=FULL`) and [`postgres::PgStorage`] (`--database postgres://...`, several
//! server processes over one database).
//!
//! Tables (the same in both; migrations are embedded):
//!
//! | table | columns | what |
//! |---|---|---|
//! | `entries` | `idx` PK, `leaf_hash` UNIQUE, `body`, `integrated_time`, `set_sig` | one row per leaf; the unique leaf hash is the duplicate check |
//! | `hashes` | `idx` PK, `hash` | every stored tree hash (Go tlog layout, [`hallmark_tlog::tree`]); tiles are read from here |
//! | `checkpoints` | `size` PK, `root`, `note`, `created` | every checkpoint the log published |
//! | `meta` | `key` PK, `value` | origin, tree ID, log key SPKI |
//! | `queue` (PostgreSQL) | `id`, `leaf_hash`, `body`, `log_index`, `duplicate` | requests of processes that are not the sequencer |
//!
//! A batch (its entries, their stored hashes and the new checkpoint) is committed in one
//! transaction; the primary keys make a second sequencer's conflicting batch fail as a whole.

pub mod postgres;
pub mod sqlite;

use crate::error::StorageError;
use hallmark_tlog::Hash;
use std::future::Future;

/// One stored entry.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Leaf index.
    pub index: u64,
    /// RFC 6962 leaf hash of the body.
    pub leaf_hash: Hash,
    /// The canonical body (leaf data).
    pub body: Vec<u8>,
    /// When the log integrated it, Unix seconds.
    pub integrated_time: i64,
    /// The SignedEntryTimestamp stored by earlier versions; empty for entries appended now
    /// (their SET is signed each time they are served, as Rekor v1 does).
    pub set: Vec<u8>,
}

/// A published checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed checkpoint note.
    pub note: String,
}

/// A request written to the queue by a process that is not the sequencer.
#[derive(Debug, Clone)]
pub struct QueuedRequest {
    /// Queue row ID.
    pub id: i64,
    /// Leaf hash of the body.
    pub leaf_hash: Hash,
    /// Canonical body.
    pub body: Vec<u8>,
}

/// The outcome the sequencer wrote for a queued request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOutcome {
    /// The entry's index.
    pub index: u64,
    /// Whether the entry was already in the log.
    pub duplicate: bool,
}

/// Everything one sequencer batch writes, committed atomically.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The tree size before the batch.
    pub old_size: u64,
    /// New entries, at consecutive indexes from `old_size`.
    pub entries: Vec<StoredEntry>,
    /// Index of the first new stored hash.
    pub first_hash_index: u64,
    /// The new stored hashes.
    pub hashes: Vec<Hash>,
    /// The checkpoint of the new tree.
    pub checkpoint: StoredCheckpoint,
    /// Outcomes of queued requests in this batch (queue ID, outcome).
    pub queue_outcomes: Vec<(i64, QueueOutcome)>,
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StorageError>;

/// The log's storage. Every method is one short database round trip (or transaction).
pub trait Storage: Send + Sync + 'static {
    /// A meta value.
    fn meta(&self, key: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Set a meta value unless one is present; returns the value now stored.
    fn meta_init(&self, key: &str, value: &str) -> impl Future<Output = Result<String>> + Send;

    /// The latest checkpoint.
    fn latest_checkpoint(&self) -> impl Future<Output = Result<Option<StoredCheckpoint>>> + Send;

    /// Publish the checkpoint of the empty tree unless a checkpoint exists.
    fn init_checkpoint(&self, empty: &StoredCheckpoint) -> impl Future<Output = Result<()>> + Send;

    /// Stored hashes by index, in the order asked; every one must exist.
    fn read_hashes(&self, indexes: &[u64]) -> impl Future<Output = Result<Vec<Hash>>> + Send;

    /// The indexes of the stored entries with these leaf hashes (those that exist).
    fn find_leaf_hashes(
        &self,
        leaves: &[Hash],
    ) -> impl Future<Output = Result<Vec<(Hash, u64)>>> + Send;

    /// The entry at `index`.
    fn entry_by_index(
        &self,
        index: u64,
    ) -> impl Future<Output = Result<Option<StoredEntry>>> + Send;

    /// The entry with leaf hash `leaf`.
    fn entry_by_leaf_hash(
        &self,
        leaf: &Hash,
    ) -> impl Future<Output = Result<Option<StoredEntry>>> + Send;

    /// Bodies of entries `start..end`, in order.
    fn entry_bodies(
        &self,
        start: u64,
        end: u64,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>>> + Send;

    /// Commit a batch atomically; [`StorageError::Conflict`] if another sequencer appended.
    fn commit(&self, batch: &Batch) -> impl Future<Output = Result<()>> + Send;

    /// Whether several processes may share this storage (then one sequences at a time).
    fn is_shared(&self) -> bool;

    /// Try to become the sequencer (PostgreSQL: a session advisory lock on a dedicated
    /// connection). `Ok(true)` while held. Always `true` for unshared storage.
    fn try_lead(&self) -> impl Future<Output = Result<bool>> + Send;

    /// Whether the sequencer lease is still held (checks the dedicated connection).
    fn still_leading(&self) -> impl Future<Output = bool> + Send;

    /// Give up the sequencer lease.
    fn resign(&self) -> impl Future<Output = ()> + Send;

    /// Queue a request for the sequencer (shared storage only); returns its queue ID.
    fn enqueue(&self, leaf: &Hash, body: &[u8]) -> impl Future<Output = Result<i64>> + Send;

    /// Queued requests not yet sequenced with an ID above `after`, oldest first.
    fn queued(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<QueuedRequest>>> + Send;

    /// The outcome of a queued request, once sequenced.
    fn queue_outcome(&self, id: i64) -> impl Future<Output = Result<Option<QueueOutcome>>> + Send;

    /// Remove a queued request (after its outcome was read, or when giving up).
    fn dequeue(&self, id: i64) -> impl Future<Output = Result<()>> + Send;
}

pub(crate) fn hash_from(bytes: &[u8], what: &str) -> Result<Hash> {
    Hash::from_slice(bytes).map_err(|e| StorageError::corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StorageError::corrupt(format!("{what} is negative: {v}")))
}

/// Put rows fetched for `indexes` (unordered, maybe with repeats asked) in the order asked.
pub(crate) fn order_hashes(indexes: &[u64], rows: Vec<(u64, Hash)>) -> Result<Vec<Hash>> {
    let map: std::collections::HashMap<u64, Hash> = rows.into_iter().collect();
    indexes
        .iter()
        .map(|i| {
            map.get(i)
                .copied()
                .ok_or_else(|| StorageError::corrupt(format!("stored hash {i} is missing")))
        })
        .collect()
}
