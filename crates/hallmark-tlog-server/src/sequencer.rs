//! The sequencer: one task per log (one process per database holds the lease) that turns
//! queued submissions into batches.
//!
//! A batch is: every request waiting (up to `max_batch`, waiting at most `batch_wait` after
//! the first), duplicates removed (within the batch and against storage), indexes assigned,
//! the new stored hashes computed from the in-memory [`Frontier`] (no storage reads), one
//! signed checkpoint, and each entry's inclusion proof against it (an entry's SET is signed
//! when it is served, as Rekor v1 does, off this path). All of it is
//! committed in one transaction, and only then is each request answered. Signatures were
//! verified by the HTTP handlers before queueing; the sequencer verifies nothing again.
//!
//! With `HALLMARK_TLOG_TRACE` set, each committed batch prints its size and the time spent on
//! the duplicate check, preparation and commit to standard error.

use crate::error::{ApiError, StorageError};
use crate::log::{EntryView, LogCore};
use crate::storage::{Batch, QueueOutcome, Storage, StoredCheckpoint, StoredEntry};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::tree::{
    Frontier, StoredIndex, inclusion_proof_from_hashes, inclusion_proof_indexes, tree_hash_indexes,
};
use hallmark_tlog::{EMPTY_ROOT, Hash};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Where the answer to a submission goes.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A request of this process.
    Local(oneshot::Sender<Result<Ack, ApiError>>),
    /// A queued request of another process (PostgreSQL): the outcome is written to the queue.
    Queue(i64),
    /// Nobody (seeding).
    None,
}

/// A submission for the sequencer.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) leaf: Hash,
    pub(crate) body: Vec<u8>,
    pub(crate) reply: Reply,
}

/// The sequencer's answer.
#[derive(Debug)]
pub(crate) enum Ack {
    /// Appended in this batch.
    Created(EntryView),
    /// Already stored at this index.
    Existing(u64),
    /// This process is not the sequencer (any more): use the queue.
    NotLeader,
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Sign the checkpoint of a tree.
pub(crate) fn sign_checkpoint<S: Storage>(
    core: &LogCore<S>,
    size: u64,
    root: Hash,
) -> Result<StoredCheckpoint, ApiError> {
    let note = Checkpoint::new(&core.origin, size, root)
        .and_then(|c| c.sign(&[core.key.note_signer()]))
        .map_err(|e| ApiError::internal_error("signing the checkpoint", &e))?;
    Ok(StoredCheckpoint { size, root, note })
}

/// Load the tree's frontier from storage and check it against the latest checkpoint.
pub(crate) async fn load_state<S: Storage>(
    core: &LogCore<S>,
) -> Result<(Frontier, StoredCheckpoint), ApiError> {
    let latest = match core.storage.latest_checkpoint().await? {
        Some(c) => c,
        None => {
            let empty = sign_checkpoint(core, 0, EMPTY_ROOT)?;
            core.storage.init_checkpoint(&empty).await?;
            core.storage
                .latest_checkpoint()
                .await?
                .ok_or_else(|| ApiError::internal("startup", "no checkpoint after init"))?
        }
    };
    let indexes: Vec<u64> = tree_hash_indexes(latest.size)
        .map_err(|e| ApiError::internal_error("startup", &e))?
        .iter()
        .map(|i| i.get())
        .collect();
    let hashes = core.storage.read_hashes(&indexes).await?;
    let frontier = Frontier::from_hashes(latest.size, hashes)
        .map_err(|e| ApiError::internal_error("startup", &e))?;
    if frontier.root() != latest.root {
        return Err(ApiError::internal(
            "startup",
            StorageError::corrupt(format!(
                "the stored hashes give root {} for size {}, the checkpoint says {}",
                frontier.root(),
                latest.size,
                latest.root
            )),
        ));
    }
    Ok((frontier, latest))
}

/// A batch prepared for its commit: what is written, and who is answered once it is durable.
pub(crate) struct Staged {
    items: Vec<Pending>,
    batch: Batch,
    proofs: Vec<Vec<Hash>>,
    /// Leaf hash -> index, for every item (new, or found in the log or in the batch before).
    index_of: HashMap<Hash, u64>,
    /// Leaf hash -> position of its first occurrence in `items`, for the new ones.
    first: HashMap<Hash, usize>,
    /// The tree after this batch.
    frontier: Frontier,
    /// The checkpoint after this batch.
    checkpoint: Arc<StoredCheckpoint>,
    t_start: std::time::Instant,
    t_dedup: Duration,
    t_prepare: Duration,
}

impl Staged {
    /// The tree after this batch.
    pub(crate) fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// The checkpoint after this batch.
    pub(crate) fn checkpoint(&self) -> &Arc<StoredCheckpoint> {
        &self.checkpoint
    }

    /// Leaf hash -> index of the entries this batch appends.
    pub(crate) fn appended(&self) -> HashMap<Hash, u64> {
        self.batch
            .entries
            .iter()
            .map(|e| (e.leaf_hash, e.index))
            .collect()
    }

    /// The queue IDs this batch answers.
    pub(crate) fn queue_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.batch.queue_outcomes.iter().map(|(id, _)| *id)
    }

    /// Fail every request of this batch (it will not be committed).
    pub(crate) fn fail(self, e: &StorageError) {
        fail_all(self.items, e);
    }
}

/// Sequence one batch on `frontier` and commit it; on success the frontier is the new tree's.
pub(crate) async fn sequence_batch<S: Storage>(
    core: &LogCore<S>,
    frontier: &mut Frontier,
    items: Vec<Pending>,
) -> Result<(), StorageError> {
    let checkpoint = core
        .current()
        .await
        .map_err(|e| StorageError::corrupt(e.message.clone()))?;
    let staged = stage(core, frontier, &checkpoint, &HashMap::new(), items).await?;
    let next = staged.frontier.clone();
    finish(core, staged).await?;
    *frontier = next;
    Ok(())
}

/// Prepare a batch on the tree `frontier` (whose checkpoint is `checkpoint`): duplicates
/// removed (within the batch, against `pending` — leaves of a batch being committed, with
/// their indexes — and against storage), indexes assigned, stored hashes, checkpoint and
/// proofs computed. Nothing is written; on error every request is failed.
pub(crate) async fn stage<S: Storage>(
    core: &LogCore<S>,
    frontier: &Frontier,
    checkpoint: &Arc<StoredCheckpoint>,
    pending: &HashMap<Hash, u64>,
    items: Vec<Pending>,
) -> Result<Staged, StorageError> {
    let old_size = frontier.size();
    let t_start = std::time::Instant::now();
    // Duplicates within the batch: the first occurrence is the one appended.
    let mut first: HashMap<Hash, usize> = HashMap::with_capacity(items.len());
    let mut unique: Vec<Hash> = Vec::with_capacity(items.len());
    for (i, p) in items.iter().enumerate() {
        first.entry(p.leaf).or_insert_with(|| {
            if !pending.contains_key(&p.leaf) {
                unique.push(p.leaf);
            }
            i
        });
    }
    let mut existing: HashMap<Hash, u64> = match core.storage.find_leaf_hashes(&unique).await {
        Ok(v) => v.into_iter().collect(),
        Err(e) => {
            fail_all(items, &e);
            return Err(e);
        }
    };
    for p in &items {
        if let Some(&i) = pending.get(&p.leaf) {
            existing.insert(p.leaf, i);
        }
    }
    let now = now_unix();
    let mut index_of: HashMap<Hash, u64> = existing.clone();
    let mut entries: Vec<StoredEntry> = Vec::new();
    let mut next = old_size;
    for (i, p) in items.iter().enumerate() {
        if first.get(&p.leaf) == Some(&i) && !existing.contains_key(&p.leaf) {
            index_of.insert(p.leaf, next);
            entries.push(StoredEntry {
                index: next,
                leaf_hash: p.leaf,
                body: p.body.clone(),
                integrated_time: now,
                set: Vec::new(),
            });
            next += 1;
        }
    }
    first.retain(|leaf, _| !existing.contains_key(leaf));
    let t_dedup = t_start.elapsed();
    let prepared = prepare(core, frontier, checkpoint, entries).await;
    let t_prepare = t_start.elapsed() - t_dedup;
    let (new_frontier, batch_parts) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let err = StorageError::corrupt(e.message.clone());
            fail_all(items, &err);
            return Err(err);
        }
    };
    let (entries, first_hash_index, hashes, checkpoint, proofs) = batch_parts;
    let queue_outcomes: Vec<(i64, QueueOutcome)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p.reply {
            Reply::Queue(id) => Some((
                id,
                QueueOutcome {
                    index: index_of.get(&p.leaf).copied()?,
                    duplicate: first.get(&p.leaf) != Some(&i),
                },
            )),
            _ => None,
        })
        .collect();
    let checkpoint = Arc::new(checkpoint);
    let batch = Batch {
        old_size,
        entries,
        first_hash_index,
        hashes,
        checkpoint: checkpoint.as_ref().clone(),
        queue_outcomes,
    };
    Ok(Staged {
        items,
        batch,
        proofs,
        index_of,
        first,
        frontier: new_frontier,
        checkpoint,
        t_start,
        t_dedup,
        t_prepare,
    })
}

/// Commit a staged batch, publish its checkpoint and answer its requests (every
/// acknowledgement follows the durable commit). On error every request is failed.
pub(crate) async fn finish<S: Storage>(
    core: &LogCore<S>,
    staged: Staged,
) -> Result<(), StorageError> {
    let Staged {
        items,
        batch,
        proofs,
        index_of,
        first,
        checkpoint,
        t_start,
        t_dedup,
        t_prepare,
        ..
    } = staged;
    let t_commit = std::time::Instant::now();
    if let Err(e) = core.storage.commit(&batch).await {
        fail_all(items, &e);
        return Err(e);
    }
    if std::env::var_os("HALLMARK_TLOG_TRACE").is_some() {
        eprintln!(
            "batch {} new {}: dedup {:?} prepare {:?} wait {:?} commit {:?}",
            items.len(),
            batch.entries.len(),
            t_dedup,
            t_prepare,
            t_commit.duration_since(t_start) - t_dedup - t_prepare,
            t_commit.elapsed()
        );
    }
    if checkpoint.size != batch.old_size {
        core.set_latest(checkpoint.clone());
    }
    let mut created: HashMap<u64, (StoredEntry, Vec<Hash>)> = batch
        .entries
        .into_iter()
        .zip(proofs)
        .map(|(e, p)| (e.index, (e, p)))
        .collect();
    for (i, p) in items.into_iter().enumerate() {
        let Reply::Local(reply) = p.reply else {
            continue;
        };
        let Some(&index) = index_of.get(&p.leaf) else {
            continue;
        };
        let is_first = first.get(&p.leaf) == Some(&i);
        let ack = match created.remove(&index) {
            Some((entry, proof)) if is_first => Ack::Created(EntryView {
                entry,
                proof,
                checkpoint: checkpoint.clone(),
            }),
            Some(kept) => {
                created.insert(index, kept);
                Ack::Existing(index)
            }
            None => Ack::Existing(index),
        };
        let _ = reply.send(Ok(ack));
    }
    Ok(())
}

type Prepared = (
    Frontier,
    (
        Vec<StoredEntry>,
        u64,
        Vec<Hash>,
        StoredCheckpoint,
        Vec<Vec<Hash>>,
    ),
);

/// Hashes, checkpoint and proofs of the new entries (their SETs are signed when they are
/// served).
async fn prepare<S: Storage>(
    core: &LogCore<S>,
    frontier: &Frontier,
    current: &StoredCheckpoint,
    entries: Vec<StoredEntry>,
) -> Result<Prepared, ApiError> {
    let mut new_frontier = frontier.clone();
    let first_hash_index = frontier.next_stored_index().get();
    let leaves: Vec<Hash> = entries.iter().map(|e| e.leaf_hash).collect();
    let hashes = new_frontier
        .append_batch(&leaves)
        .map_err(|e| ApiError::internal_error("appending", &e))?;
    let size = new_frontier.size();
    let checkpoint = if size == frontier.size() {
        // Nothing new: no checkpoint to publish.
        current.clone()
    } else {
        sign_checkpoint(core, size, new_frontier.root())?
    };
    // Which older stored hashes the proofs need (one read for the batch).
    let mut plans = Vec::with_capacity(entries.len());
    let mut old: BTreeSet<u64> = BTreeSet::new();
    for e in &entries {
        let idx: Vec<u64> = inclusion_proof_indexes(size, e.index)
            .map_err(|err| ApiError::internal_error("inclusion proof", &err))?
            .iter()
            .map(|i| i.get())
            .collect();
        old.extend(idx.iter().copied().filter(|&i| i < first_hash_index));
        plans.push(idx);
    }
    // The older hashes an appended entry's proof needs are nodes of the old tree's frontier
    // (a left sibling made only of old leaves is one of its complete subtrees); anything else
    // is read from storage (not expected).
    let mut old_hashes: HashMap<u64, Hash> = HashMap::new();
    let mut start = 0u64;
    let mut nodes = frontier.hashes().iter();
    for level in (0..64u32).rev() {
        if frontier.size() & (1u64 << level) != 0 {
            if let (Some(h), Some(i)) = (nodes.next(), StoredIndex::new(level, start >> level)) {
                old_hashes.insert(i.get(), *h);
            }
            start += 1u64 << level;
        }
    }
    let missing: Vec<u64> = old
        .into_iter()
        .filter(|i| !old_hashes.contains_key(i))
        .collect();
    if !missing.is_empty() {
        let read = core.storage.read_hashes(&missing).await?;
        old_hashes.extend(missing.into_iter().zip(read));
    }
    let lookup = |i: u64| -> Option<Hash> {
        if i >= first_hash_index {
            hashes.get((i - first_hash_index) as usize).copied()
        } else {
            old_hashes.get(&i).copied()
        }
    };
    let mut proofs = Vec::with_capacity(entries.len());
    for (e, plan) in entries.iter().zip(&plans) {
        let got: Option<Vec<Hash>> = plan.iter().map(|&i| lookup(i)).collect();
        let got = got.ok_or_else(|| ApiError::internal("inclusion proof", "missing hash"))?;
        proofs.push(
            inclusion_proof_from_hashes(size, e.index, &got)
                .map_err(|err| ApiError::internal_error("inclusion proof", &err))?,
        );
    }
    Ok((
        new_frontier,
        (entries, first_hash_index, hashes, checkpoint, proofs),
    ))
}

fn fail_all(items: Vec<Pending>, e: &StorageError) {
    let conflict = matches!(e, StorageError::Conflict(_));
    for p in items {
        if let Reply::Local(reply) = p.reply {
            let _ = reply.send(if conflict {
                Ok(Ack::NotLeader)
            } else {
                Err(ApiError::unavailable(format!(
                    "the batch could not be committed: {}",
                    hallmark_core::error::chain(e)
                )))
            });
        }
    }
}

/// Gather a batch: wait for the first submission (or a queue poll tick), then take what else
/// arrives within `batch_wait`, up to `max_batch`.
async fn gather<S: Storage>(
    core: &LogCore<S>,
    rx: &mut mpsc::Receiver<Pending>,
    stop: &mut watch::Receiver<bool>,
    queue_tick: &mut tokio::time::Interval,
    committing: &HashSet<i64>,
) -> Option<Vec<Pending>> {
    let shared = core.storage.is_shared();
    let mut items = Vec::new();
    tokio::select! {
        p = rx.recv() => items.push(p?),
        _ = queue_tick.tick(), if shared => {}
        _ = stop.changed() => return None,
    }
    if shared {
        match core.storage.queued(0, core.tuning.max_batch as u32).await {
            Ok(q) => items.extend(
                q.into_iter()
                    .filter(|r| !committing.contains(&r.id))
                    .map(|r| Pending {
                        leaf: r.leaf_hash,
                        body: r.body,
                        reply: Reply::Queue(r.id),
                    }),
            ),
            Err(e) => eprintln!(
                "hallmark-tlog-server: reading the queue: {}",
                hallmark_core::error::chain(&e)
            ),
        }
    }
    let deadline = tokio::time::Instant::now() + core.tuning.batch_wait;
    while items.len() < core.tuning.max_batch {
        match rx.try_recv() {
            Ok(p) => items.push(p),
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                if core.tuning.batch_wait.is_zero() {
                    break;
                }
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(p)) => items.push(p),
                    _ => break,
                }
            }
        }
    }
    Some(items)
}

/// A batch being committed (by its own task) while the next one is prepared.
struct Committing {
    task: tokio::task::JoinHandle<Result<(), StorageError>>,
    /// Leaf hash -> index of the entries it appends.
    leaves: HashMap<Hash, u64>,
    /// The queued requests it answers.
    queue_ids: HashSet<i64>,
}

/// Wait for a committing batch (if any); its requests are answered by then.
async fn settle(committing: Option<Committing>) -> Result<(), StorageError> {
    match committing {
        None => Ok(()),
        Some(c) => c.task.await.unwrap_or_else(|e| {
            Err(StorageError::corrupt(format!(
                "the commit task failed: {e}"
            )))
        }),
    }
}

/// Run the sequencer until `stop` turns true: take the lease, load the tree, sequence batches;
/// on losing the lease or a failed commit, reload and try again.
pub(crate) async fn run<S: Storage>(
    core: Arc<LogCore<S>>,
    mut rx: mpsc::Receiver<Pending>,
    mut stop: watch::Receiver<bool>,
    ready: Option<oneshot::Sender<()>>,
) {
    let mut ready = ready;
    let mut queue_tick = tokio::time::interval(core.tuning.queue_poll);
    queue_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    'outer: loop {
        if *stop.borrow() {
            break;
        }
        let leading = match core.storage.try_lead().await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "hallmark-tlog-server: taking the sequencer lease: {}",
                    hallmark_core::error::chain(&e)
                );
                false
            }
        };
        if !leading {
            core.set_leading(false);
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            // Answer local submissions that raced in: they go through the queue.
            while let Ok(p) = rx.try_recv() {
                if let Reply::Local(reply) = p.reply {
                    let _ = reply.send(Ok(Ack::NotLeader));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => continue,
                _ = stop.changed() => break,
            }
        }
        let (mut frontier, latest) = match load_state(&core).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hallmark-tlog-server: loading the tree: {}", e.message);
                core.storage.resign().await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    _ = stop.changed() => break,
                }
            }
        };
        let latest = Arc::new(latest);
        core.set_latest(latest.clone());
        core.set_leading(true);
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        let mut last_lease_check = tokio::time::Instant::now();
        // The tree and checkpoint after the last staged batch, which may still be committing.
        let mut checkpoint = latest;
        let mut committing: Option<Committing> = None;
        loop {
            let no_queue_ids = HashSet::new();
            let busy_ids = committing.as_ref().map_or(&no_queue_ids, |c| &c.queue_ids);
            let Some(items) = gather(&core, &mut rx, &mut stop, &mut queue_tick, busy_ids).await
            else {
                let _ = settle(committing.take()).await;
                break 'outer;
            };
            if core.storage.is_shared() && last_lease_check.elapsed() > Duration::from_secs(1) {
                last_lease_check = tokio::time::Instant::now();
                if !core.storage.still_leading().await {
                    core.set_leading(false);
                    fail_all(items, &StorageError::Conflict("lost the lease".into()));
                    let _ = settle(committing.take()).await;
                    continue 'outer;
                }
            }
            if items.is_empty() {
                continue;
            }
            let no_leaves = HashMap::new();
            let pending = committing.as_ref().map_or(&no_leaves, |c| &c.leaves);
            // Prepared while the batch before commits (its leaves count as stored).
            let staged = stage(&core, &frontier, &checkpoint, pending, items).await;
            let previous = settle(committing.take()).await;
            let staged = match (staged, previous) {
                (Ok(s), Ok(())) => s,
                (staged, previous) => {
                    let e = match (staged, previous) {
                        (Ok(s), Err(e)) => {
                            // Prepared on a tree that was not committed: not committed either.
                            s.fail(&match &e {
                                StorageError::Conflict(m) => StorageError::Conflict(m.clone()),
                                other => StorageError::corrupt(other.to_string()),
                            });
                            e
                        }
                        (Err(e), _) => e,
                        (Ok(_), Ok(())) => unreachable!("handled above"),
                    };
                    eprintln!(
                        "hallmark-tlog-server: batch not committed: {}",
                        hallmark_core::error::chain(&e)
                    );
                    core.set_leading(false);
                    if matches!(e, StorageError::Conflict(_)) {
                        core.storage.resign().await;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue 'outer;
                }
            };
            frontier = staged.frontier().clone();
            checkpoint = staged.checkpoint().clone();
            let leaves = staged.appended();
            let queue_ids = staged.queue_ids().collect();
            let core2 = core.clone();
            committing = Some(Committing {
                task: tokio::spawn(async move { finish(&core2, staged).await }),
                leaves,
                queue_ids,
            });
        }
    }
    core.set_leading(false);
    rx.close();
    while let Ok(p) = rx.try_recv() {
        if let Reply::Local(reply) = p.reply {
            let _ = reply.send(Err(ApiError::unavailable("the log is shutting down")));
        }
    }
    core.storage.resign().await;
}
