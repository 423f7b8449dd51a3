//! Witnessing the log's checkpoints (C2SP tlog-witness, client side): each new checkpoint is
//! sent to every witness of the witness policy that has a URL, in parallel, with a consistency
//! proof from the size that witness holds (learnt from its 409 answers), each request bounded
//! by a timeout and retried a bounded number of times. The cosignatures that come back are
//! checked against the policy; the newest checkpoint whose cosignatures satisfy its quorum is
//! what `/checkpoint` serves. Appends never wait for witnesses.

use crate::log::LogCore;
use crate::storage::{Storage, StoredCheckpoint};
use hallmark_tlog::Hash;
use hallmark_tlog::note::Note;
use hallmark_tlog::witness::{AddCheckpoint, WitnessPolicy};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How long one `add-checkpoint` request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per witness per checkpoint (409 answers and failures).
const ATTEMPTS: usize = 3;
/// How often the latest checkpoint is looked at.
const POLL: Duration = Duration::from_millis(100);
/// The longest wait before a checkpoint that did not reach the quorum is sent again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The policy and the latest checkpoint that satisfied it.
#[derive(Debug)]
pub struct Witnessing {
    policy: WitnessPolicy,
    client: reqwest::Client,
    cosigned: RwLock<Option<Arc<StoredCheckpoint>>>,
}

impl Witnessing {
    /// Witnessing under `policy`.
    pub fn new(policy: WitnessPolicy) -> Self {
        Self {
            policy,
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_default(),
            cosigned: RwLock::new(None),
        }
    }

    /// The newest checkpoint (note with cosignature lines) whose cosignatures satisfy the
    /// quorum, if any yet.
    pub fn cosigned(&self) -> Option<Arc<StoredCheckpoint>> {
        self.cosigned.read().ok().and_then(|c| c.clone())
    }

    /// The policy.
    pub fn policy(&self) -> &WitnessPolicy {
        &self.policy
    }
}

/// Send the sequencer's checkpoints to the witnesses until `stop`.
pub(crate) async fn run<S: Storage>(core: Arc<LogCore<S>>, mut stop: watch::Receiver<bool>) {
    let Some(w) = core.witnessing.clone() else {
        return;
    };
    // The size each witness is known to hold (`None`: not known; 0 is tried first).
    let mut held: Vec<Option<u64>> = vec![None; w.policy.witnesses.len()];
    let mut done: Option<u64> = None;
    let mut backoff = POLL;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        if *stop.borrow() || !core.is_leading() {
            continue;
        }
        let Ok(checkpoint) = core.current().await else {
            continue;
        };
        if checkpoint.note.is_empty() || done == Some(checkpoint.size) {
            backoff = POLL;
            continue;
        }
        let requests = w
            .policy
            .witnesses
            .iter()
            .enumerate()
            .filter_map(|(i, witness)| {
                let url = witness.url.clone()?;
                let core = core.clone();
                let w = w.clone();
                let checkpoint = checkpoint.clone();
                let held = held[i];
                Some(async move { (i, cosign(&core, &w.client, &url, &checkpoint, held).await) })
            });
        let answers = futures::future::join_all(requests).await;
        let mut note = checkpoint.note.clone();
        for (i, answer) in answers {
            match answer {
                Ok((lines, size)) => {
                    held[i] = Some(size);
                    note.push_str(&lines);
                }
                Err((why, size)) => {
                    held[i] = size.or(held[i]);
                    tracing::warn!(witness = %w.policy.witnesses[i].name, size = checkpoint.size, error = %why, "witness did not cosign");
                }
            }
        }
        let satisfied = Note::parse(note.as_bytes())
            .ok()
            .is_some_and(|n| w.policy.check(&n).is_ok());
        if satisfied {
            if let Ok(mut c) = w.cosigned.write() {
                *c = Some(Arc::new(StoredCheckpoint {
                    size: checkpoint.size,
                    root: checkpoint.root,
                    note,
                }));
            }
            done = Some(checkpoint.size);
            backoff = POLL;
        } else {
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// One witness's cosignature lines for `checkpoint`, and the size it then holds; or why not,
/// with the size it said it holds.
async fn cosign<S: Storage>(
    core: &LogCore<S>,
    client: &reqwest::Client,
    url: &str,
    checkpoint: &StoredCheckpoint,
    held: Option<u64>,
) -> Result<(String, u64), (String, Option<u64>)> {
    let mut old = held.unwrap_or(0);
    let mut known = None;
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    for _ in 0..ATTEMPTS {
        if old > checkpoint.size {
            return Err((
                format!(
                    "the witness holds size {old}, after this checkpoint's {}",
                    checkpoint.size
                ),
                Some(old),
            ));
        }
        let proof = consistency(core, old, checkpoint.size)
            .await
            .map_err(|e| (e, known))?;
        let body = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: checkpoint.note.clone(),
        }
        .to_body();
        let response = match client.post(&endpoint).body(body).send().await {
            Ok(r) => r,
            Err(e) => return Err((format!("{endpoint}: {e}"), known)),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200 => return Ok((text, checkpoint.size)),
            409 => {
                let size = text
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| (format!("409 without a size: {text:?}"), known))?;
                known = Some(size);
                old = size;
            }
            other => {
                return Err((format!("{endpoint}: HTTP {other}: {}", text.trim()), known));
            }
        }
    }
    Err((
        format!("{endpoint}: no cosignature after {ATTEMPTS} attempts"),
        known,
    ))
}

/// The consistency proof from `old` to `new` (empty from 0 or to the same size).
async fn consistency<S: Storage>(
    core: &LogCore<S>,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, String> {
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    core.consistency_proof(old, new)
        .await
        .map(|(proof, _)| proof)
        .map_err(|e| format!("consistency proof {old} -> {new}: {e}"))
}
