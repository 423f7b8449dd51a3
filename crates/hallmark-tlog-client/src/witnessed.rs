//! Entries proven against a witnessed checkpoint. A log served under a witness policy
//! (`hallmark log serve --witness-policy`) serves at `/checkpoint` only checkpoints its witnesses
//! cosigned, and 503 until there is one; the inclusion proof a log returns on upload is against
//! its newest checkpoint, which no witness has seen yet. [`cosigned_entry`] waits (bounded) for
//! a cosigned checkpoint that covers the entry and proves the entry against it from the log's
//! tiles, so a bundle carries a checkpoint a verifier with a witness policy accepts offline.

use crate::{ClientError, InclusionProof, LogEntry, TlogClient};
use hallmark_tlog::checkpoint::Checkpoint;
use hallmark_tlog::note::Note;
use std::time::Duration;

/// How often `/checkpoint` is read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// `entry` with its inclusion proof against the log's newest cosigned checkpoint, if the log
/// is witnessed (its `/checkpoint` carries cosignatures, or answers 503 while none covers the
/// tree yet); `entry` unchanged for a log that is not. Waits at most `wait`.
pub async fn cosigned_entry(
    client: &TlogClient,
    mut entry: LogEntry,
    wait: Duration,
) -> Result<LogEntry, ClientError> {
    let index = u64::try_from(entry.log_index).map_err(|_| ClientError::BadResponse {
        reason: format!(
            "expected a log index of 0 or more, found {}",
            entry.log_index
        ),
    })?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut witnessed = false;
    loop {
        let note = match client.checkpoint().await {
            Ok(Some(note)) => Some(note),
            Ok(None) => return Ok(entry),
            Err(ClientError::Status { status: 503, .. }) => {
                witnessed = true;
                None
            }
            Err(e) => return Err(e),
        };
        if let Some(text) = note {
            let parsed = Note::parse(text.as_bytes()).map_err(|e| ClientError::BadResponse {
                reason: format!("GET /checkpoint: {e}"),
            })?;
            // One signature, the log's own: the checkpoint is not witnessed.
            if parsed.signatures().len() <= 1 && !witnessed {
                return Ok(entry);
            }
            witnessed = true;
            let checkpoint =
                Checkpoint::parse(parsed.text()).map_err(|e| ClientError::BadResponse {
                    reason: format!("GET /checkpoint: {e}"),
                })?;
            if checkpoint.size() > index {
                let hashes = client
                    .inclusion_proof_from_tiles(index, checkpoint.size())
                    .await?;
                hallmark_tlog::verify_inclusion(
                    &hallmark_tlog::leaf_hash(&entry.body),
                    index,
                    checkpoint.size(),
                    &hashes,
                    checkpoint.root(),
                )
                .map_err(|e| ClientError::BadResponse {
                    reason: format!(
                        "the log's tiles do not prove entry {} in its cosigned checkpoint of size {}: {e}",
                        entry.log_index,
                        checkpoint.size()
                    ),
                })?;
                entry.inclusion_proof = Some(InclusionProof {
                    log_index: index,
                    root_hash: *checkpoint.root(),
                    tree_size: checkpoint.size(),
                    hashes,
                    checkpoint: text,
                });
                return Ok(entry);
            }
        }
        if tokio::time::Instant::now() + POLL > deadline {
            return Err(ClientError::NoCosignedCheckpoint {
                reason: format!(
                    "expected a checkpoint cosigned by the log's witnesses covering entry {} within {} s, found none{}",
                    entry.log_index,
                    wait.as_secs(),
                    if witnessed {
                        ""
                    } else {
                        " (the log answers no checkpoint)"
                    }
                ),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
