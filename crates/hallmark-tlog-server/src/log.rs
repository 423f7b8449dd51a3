//! The log as the HTTP API sees it: storage, key, origin, the latest published checkpoint,
//! and the way in to the sequencer.

use crate::error::ApiError;
use crate::logkey::LogKey;
use crate::sequencer::{Ack, Pending, Reply};
use crate::storage::{Storage, StoredCheckpoint, StoredEntry};
use hallmark_tlog::Hash;
use hallmark_tlog::tree::{inclusion_proof_from_hashes, inclusion_proof_indexes};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Tunables of the sequencer and the API.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Most entries in one batch.
    pub max_batch: usize,
    /// How long the sequencer waits for more entries once it has one.
    pub batch_wait: Duration,
    /// How long a submission may wait to be sequenced.
    pub append_timeout: Duration,
    /// How often the sequencer polls the queue of other processes (PostgreSQL).
    pub queue_poll: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            batch_wait: Duration::from_millis(1),
            append_timeout: Duration::from_secs(30),
            queue_poll: Duration::from_millis(5),
        }
    }
}

/// What was appended or found.
#[derive(Debug, Clone)]
pub struct EntryView {
    /// The entry.
    pub entry: StoredEntry,
    /// Its inclusion proof in `checkpoint`'s tree.
    pub proof: Vec<Hash>,
    /// The checkpoint the proof is against.
    pub checkpoint: Arc<StoredCheckpoint>,
}

/// The outcome of a submission.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Newly appended (201).
    Created(EntryView),
    /// Already in the log (409).
    Existing(EntryView),
}

/// The shared state of one server process.
pub struct LogCore<S: Storage> {
    pub(crate) storage: S,
    pub(crate) key: LogKey,
    pub(crate) origin: String,
    pub(crate) tree_id: u64,
    pub(crate) tuning: Tuning,
    latest: RwLock<Arc<StoredCheckpoint>>,
    leading: AtomicBool,
    pub(crate) tx: mpsc::Sender<Pending>,
    /// The witness policy's state, when checkpoints are witnessed.
    pub(crate) witnessing: Option<Arc<crate::witnessing::Witnessing>>,
}

impl<S: Storage> std::fmt::Debug for LogCore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCore")
            .field("origin", &self.origin)
            .field("tree_id", &self.tree_id)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> LogCore<S> {
    pub(crate) fn new(
        storage: S,
        key: LogKey,
        origin: String,
        tree_id: u64,
        tuning: Tuning,
        latest: StoredCheckpoint,
        tx: mpsc::Sender<Pending>,
    ) -> Self {
        Self {
            storage,
            key,
            origin,
            tree_id,
            tuning,
            latest: RwLock::new(Arc::new(latest)),
            leading: AtomicBool::new(false),
            tx,
            witnessing: None,
        }
    }

    /// Witness checkpoints under `witnessing` (before the core is shared).
    pub(crate) fn with_witnessing(
        mut self,
        witnessing: Option<crate::witnessing::Witnessing>,
    ) -> Self {
        self.witnessing = witnessing.map(Arc::new);
        self
    }

    /// The consistency proof from `first` to `last` (1 <= first <= last <= the current size)
    /// and the root of `last`.
    pub async fn consistency_proof(
        &self,
        first: u64,
        last: u64,
    ) -> Result<(Vec<Hash>, Hash), ApiError> {
        let proof_idx = hallmark_tlog::tree::consistency_proof_indexes(first, last)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let root_idx = hallmark_tlog::tree::tree_hash_indexes(last)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let all: Vec<u64> = proof_idx
            .iter()
            .chain(root_idx.iter())
            .map(|i| i.get())
            .collect();
        let hashes = self.storage.read_hashes(&all).await?;
        let (p, r) = hashes.split_at(proof_idx.len());
        let proof = hallmark_tlog::tree::consistency_proof_from_hashes(first, last, p)
            .map_err(|e| ApiError::internal_error("consistency proof", &e))?;
        let root = hallmark_tlog::tree::tree_hash_from_hashes(last, r)
            .map_err(|e| ApiError::internal_error("tree root", &e))?;
        Ok((proof, root))
    }

    pub(crate) fn set_latest(&self, checkpoint: Arc<StoredCheckpoint>) {
        if let Ok(mut l) = self.latest.write() {
            *l = checkpoint;
        }
    }

    pub(crate) fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::SeqCst);
    }

    /// Whether this process is the sequencer.
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// The log key.
    pub fn key(&self) -> &LogKey {
        &self.key
    }

    /// The checkpoint origin (and note key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree ID (Rekor `treeID`).
    pub fn tree_id(&self) -> u64 {
        self.tree_id
    }

    /// The latest published checkpoint: from memory on the sequencer, else from storage.
    pub async fn current(&self) -> Result<Arc<StoredCheckpoint>, ApiError> {
        if self.is_leading()
            && let Ok(l) = self.latest.read()
        {
            return Ok(l.clone());
        }
        match self.storage.latest_checkpoint().await? {
            Some(c) => Ok(Arc::new(c)),
            None => Err(ApiError::unavailable("the log has no checkpoint yet")),
        }
    }

    /// The inclusion proof of leaf `index` in the tree of `checkpoint`.
    pub async fn prove(
        &self,
        index: u64,
        checkpoint: &StoredCheckpoint,
    ) -> Result<Vec<Hash>, ApiError> {
        let indexes = inclusion_proof_indexes(checkpoint.size, index)
            .map_err(|e| ApiError::internal_error("inclusion proof", &e))?;
        let raw: Vec<u64> = indexes.iter().map(|i| i.get()).collect();
        let hashes = self.storage.read_hashes(&raw).await?;
        inclusion_proof_from_hashes(checkpoint.size, index, &hashes)
            .map_err(|e| ApiError::internal_error("inclusion proof", &e))
    }

    /// A stored entry with its inclusion proof in the latest checkpoint.
    pub async fn view(&self, entry: StoredEntry) -> Result<EntryView, ApiError> {
        let checkpoint = self.current().await?;
        if entry.index >= checkpoint.size {
            // Committed by a sequencer after the checkpoint we read: read again.
            let checkpoint = match self.storage.latest_checkpoint().await? {
                Some(c) if entry.index < c.size => Arc::new(c),
                _ => return Err(ApiError::unavailable("the entry is not checkpointed yet")),
            };
            let proof = self.prove(entry.index, &checkpoint).await?;
            return Ok(EntryView {
                entry,
                proof,
                checkpoint,
            });
        }
        let proof = self.prove(entry.index, &checkpoint).await?;
        Ok(EntryView {
            entry,
            proof,
            checkpoint,
        })
    }

    /// The entry at `index`, with its proof, if stored.
    pub async fn view_index(&self, index: u64) -> Result<Option<EntryView>, ApiError> {
        match self.storage.entry_by_index(index).await? {
            Some(e) => Ok(Some(self.view(e).await?)),
            None => Ok(None),
        }
    }

    /// Append a validated entry (canonical body and its leaf hash); waits until it is
    /// committed, or found already stored.
    pub async fn append(&self, leaf: Hash, body: Vec<u8>) -> Result<Appended, ApiError> {
        let deadline = tokio::time::Instant::now() + self.tuning.append_timeout;
        if self.is_leading() {
            let (reply, rx) = oneshot::channel();
            let pending = Pending {
                leaf,
                body: body.clone(),
                reply: Reply::Local(reply),
            };
            if self.tx.send(pending).await.is_err() {
                return Err(ApiError::unavailable("the log is shutting down"));
            }
            match tokio::time::timeout_at(deadline, rx).await {
                Err(_) => {
                    return Err(ApiError::unavailable(
                        "timed out waiting for the entry to be sequenced",
                    ));
                }
                Ok(Err(_)) => return Err(ApiError::unavailable("the sequencer stopped")),
                Ok(Ok(Ok(Ack::Created(view)))) => return Ok(Appended::Created(view)),
                Ok(Ok(Ok(Ack::Existing(index)))) => {
                    return match self.view_index(index).await? {
                        Some(v) => Ok(Appended::Existing(v)),
                        None => Err(ApiError::internal(
                            "duplicate entry",
                            format!("entry {index} is not stored"),
                        )),
                    };
                }
                Ok(Ok(Ok(Ack::NotLeader))) => {
                    if !self.storage.is_shared() {
                        return Err(ApiError::unavailable("the sequencer is not running"));
                    }
                    // Leadership moved: go through the queue below.
                }
                Ok(Ok(Err(e))) => return Err(e),
            }
        }
        if !self.storage.is_shared() {
            return Err(ApiError::unavailable("the sequencer is not running yet"));
        }
        self.append_queued(leaf, body, deadline).await
    }

    /// Append through the queue table: for a process that is not the sequencer.
    async fn append_queued(
        &self,
        leaf: Hash,
        body: Vec<u8>,
        deadline: tokio::time::Instant,
    ) -> Result<Appended, ApiError> {
        if let Some(existing) = self.storage.entry_by_leaf_hash(&leaf).await? {
            return Ok(Appended::Existing(self.view(existing).await?));
        }
        let id = self.storage.enqueue(&leaf, &body).await?;
        let mut wait = Duration::from_millis(2);
        loop {
            if tokio::time::Instant::now() >= deadline {
                let _ = self.storage.dequeue(id).await;
                return Err(ApiError::unavailable(
                    "timed out waiting for the sequencer to take the entry",
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(20));
            if let Some(outcome) = self.storage.queue_outcome(id).await? {
                let _ = self.storage.dequeue(id).await;
                let view = self.view_index(outcome.index).await?.ok_or_else(|| {
                    ApiError::internal(
                        "queued entry",
                        format!("entry {} is not stored", outcome.index),
                    )
                })?;
                return Ok(if outcome.duplicate {
                    Appended::Existing(view)
                } else {
                    Appended::Created(view)
                });
            }
        }
    }
}
