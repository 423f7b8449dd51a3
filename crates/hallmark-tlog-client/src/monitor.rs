//! Log monitoring: is the log append-only since the checkpoint seen last?
//!
//! The first run trusts the checkpoint it is served (trust on first use) and records it, with
//! the log key that signed it, in a state file. Every later run verifies the current checkpoint
//! with the recorded key, fetches the consistency proof from the recorded tree to the current
//! one and verifies it (RFC 9162 §2.1.4.2). A smaller tree, another root at the same size, a
//! proof that does not verify, another origin or a checkpoint not signed by the recorded key is
//! an error naming both checkpoints; the state file is only replaced after success.

use crate::{ClientError, LogKey, TlogClient, VerifiedCheckpoint};
use hallmark_core::PublicKey;
use hallmark_tlog::{Checkpoint, EMPTY_ROOT, Hash, verify_consistency};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The state kept between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// The log URL the state was recorded for.
    pub url: String,
    /// The log key (PEM) that signed the recorded checkpoint.
    pub public_key: String,
    /// The checkpoint origin.
    pub origin: String,
    /// The recorded tree size.
    pub tree_size: u64,
    /// The recorded root hash (hex).
    pub root_hash: String,
    /// The recorded signed checkpoint.
    pub checkpoint: String,
}

/// A checkpoint in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSummary {
    /// Origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

impl std::fmt::Display for CheckpointSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "origin {:?}, tree size {}, root {}",
            self.origin,
            self.size,
            self.root.to_hex()
        )
    }
}

impl From<&Checkpoint> for CheckpointSummary {
    fn from(c: &Checkpoint) -> Self {
        Self {
            origin: c.origin().to_owned(),
            size: c.size(),
            root: *c.root(),
        }
    }
}

/// What a successful run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorOutcome {
    /// No state before: the current checkpoint is trusted on first use.
    FirstSeen {
        /// The checkpoint recorded.
        checkpoint: CheckpointSummary,
    },
    /// The same tree as before.
    Unchanged {
        /// The checkpoint.
        checkpoint: CheckpointSummary,
    },
    /// The log grew, and the consistency proof verified.
    Grew {
        /// The checkpoint before.
        old: CheckpointSummary,
        /// The checkpoint now.
        new: CheckpointSummary,
    },
}

impl MonitorState {
    /// Read a state file; `None` if it does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, ClientError> {
        let err = |reason: String| ClientError::State {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| err(format!("not a monitor state file: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// Write the state file atomically (temporary file, then rename), creating directories.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        let err = |reason: String| ClientError::State {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        json.push(b'\n');
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, &json).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e.to_string())
        })
    }

    /// The recorded checkpoint.
    pub fn summary(&self) -> Result<CheckpointSummary, ClientError> {
        Ok(CheckpointSummary {
            origin: self.origin.clone(),
            size: self.tree_size,
            root: Hash::from_hex(&self.root_hash).map_err(|_| ClientError::State {
                path: String::new(),
                reason: format!("root_hash {:?} is not a hex SHA-256", self.root_hash),
            })?,
        })
    }

    fn log_key(&self) -> Result<PublicKey, ClientError> {
        PublicKey::from_pem(&self.public_key, "the recorded log key").map_err(|e| {
            ClientError::State {
                path: String::new(),
                reason: e.to_string(),
            }
        })
    }
}

/// Check that `new` extends `old` with `proof` (pure). `proof` is only read when the tree grew.
pub fn check_transition(
    old: &CheckpointSummary,
    new: &CheckpointSummary,
    proof: &[Hash],
) -> Result<(), ClientError> {
    let fail = |what: &'static str, detail: String| ClientError::Inconsistent {
        what,
        old: Box::new(old.clone()),
        new: Box::new(new.clone()),
        detail,
    };
    if new.origin != old.origin {
        return Err(fail(
            "another log",
            "the checkpoint origin changed: this URL now serves another log".into(),
        ));
    }
    if new.size < old.size {
        return Err(fail(
            "the tree shrank",
            format!(
                "the log now has {} entries, {} fewer than it committed to",
                new.size,
                old.size - new.size
            ),
        ));
    }
    if new.size == old.size {
        if new.root != old.root {
            return Err(fail(
                "another root at the same size",
                "two different trees were signed for the same size: a fork".into(),
            ));
        }
        return Ok(());
    }
    if old.size == 0 {
        if old.root != EMPTY_ROOT {
            return Err(fail(
                "bad empty tree",
                "the recorded empty tree has a non-empty root".into(),
            ));
        }
        return Ok(());
    }
    verify_consistency(old.size, new.size, &old.root, &new.root, proof).map_err(|e| {
        fail(
            "the consistency proof does not verify",
            format!("the log could not prove that the old tree is a prefix of the new one: {e}"),
        )
    })
}

/// The current checkpoint, verified with `key`, consistent with the log info it came in.
pub async fn current_checkpoint(
    client: &TlogClient,
    key: &LogKey,
) -> Result<VerifiedCheckpoint, ClientError> {
    let info = client.log_info().await?;
    let verified = key.open_checkpoint(&info.signed_tree_head)?;
    let cp = &verified.checkpoint;
    if cp.size() != info.tree_size || cp.root() != &info.root_hash {
        return Err(ClientError::BadResponse {
            reason: format!(
                "GET /api/v1/log: treeSize {} / rootHash {} differ from its signed checkpoint (size {}, root {})",
                info.tree_size,
                info.root_hash.to_hex(),
                cp.size(),
                cp.root().to_hex()
            ),
        });
    }
    Ok(verified)
}

/// One monitoring run against `previous` (none: trust on first use, with `trusted_key` or the
/// key the log serves). Returns what was found and the state to record; the caller saves it.
pub async fn check(
    client: &TlogClient,
    previous: Option<&MonitorState>,
    trusted_key: Option<&PublicKey>,
) -> Result<(MonitorOutcome, MonitorState), ClientError> {
    let key = match (previous, trusted_key) {
        (Some(p), Some(t)) => {
            let recorded = p.log_key()?;
            if recorded.spki_der() != t.spki_der() {
                return Err(ClientError::BadLogKey {
                    reason: format!(
                        "the state records log key sha256:{}, but the trusted key given is sha256:{}",
                        recorded.fingerprint(),
                        t.fingerprint()
                    ),
                });
            }
            recorded
        }
        (Some(p), None) => p.log_key()?,
        (None, Some(t)) => t.clone(),
        (None, None) => client.public_key().await?,
    };
    let log_key = LogKey::new(key.clone())?;
    let current = match current_checkpoint(client, &log_key).await {
        Ok(c) => c,
        Err(ClientError::BadCheckpoint { reason }) if previous.is_some() => {
            return Err(ClientError::BadCheckpoint {
                reason: format!(
                    "the log's current checkpoint is not signed by the key recorded before (sha256:{}): {reason}. The log changed keys or this URL serves another log",
                    key.fingerprint()
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let new = CheckpointSummary::from(&current.checkpoint);
    let state = MonitorState {
        url: client.base_url(),
        public_key: key.to_pem(),
        origin: new.origin.clone(),
        tree_size: new.size,
        root_hash: new.root.to_hex(),
        checkpoint: current.note.clone(),
    };
    let Some(previous) = previous else {
        return Ok((MonitorOutcome::FirstSeen { checkpoint: new }, state));
    };
    let old = previous.summary()?;
    let proof = if new.size > old.size && old.size > 0 && new.origin == old.origin {
        client.consistency_proof(old.size, new.size).await?
    } else {
        Vec::new()
    };
    check_transition(&old, &new, &proof)?;
    let outcome = if new.size == old.size {
        MonitorOutcome::Unchanged { checkpoint: new }
    } else {
        MonitorOutcome::Grew { old, new }
    };
    Ok((outcome, state))
}
