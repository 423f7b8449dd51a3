//! Client of Rekor v1-compatible transparency logs: `hallmark log serve` and Rekor v1.
//!
//! - [`TlogClient`]: async HTTP (reqwest): log info, public key, entry upload (`hashedrekord`
//!   0.0.1; a 409 reuses the existing entry), entries by index or UUID, consistency proofs,
//!   C2SP checkpoint and entry bundles. Every response is size-bounded.
//! - [`LogEntry`] (re-exported from [`hallmark_tlog::entry`], where it lives): an entry with
//!   its SET and inclusion proof, and its two stored forms: cosign's
//!   `dev.sigstore.cosign/bundle` annotation and a Sigstore bundle `tlogEntries[]` item.
//! - [`LogKey`] (re-exported from [`hallmark_tlog::logkey`]): a log key, its log IDs, and
//!   checkpoint signature verification.
//! - [`monitor`]: "has the log stayed append-only since I last looked?": the last verified
//!   checkpoint is kept in a local state file; each run verifies a consistency proof from it to
//!   the current checkpoint and fails loudly on a fork or a rewrite.
//! - [`search`]: "was my key used?": every entry of the log, checked complete against the
//!   verified checkpoint root, filtered by signer key.
//!
//! Nothing a log returns is trusted before it is checked: checkpoints by the log key, proofs by
//! RFC 9162 verification ([`hallmark_tlog`]), entry bodies against what was submitted.

pub mod client;
pub mod monitor;
pub mod search;
pub mod witnessed;

pub use client::{LogInfo, TlogClient};
pub use hallmark_tlog::entry::{EntryError, InclusionProof, LogEntry};
pub use hallmark_tlog::logkey::{LogKey, LogKeyError, VerifiedCheckpoint};
pub use monitor::{CheckpointSummary, MonitorOutcome, MonitorState};
pub use search::{SearchHit, SearchReport};

use thiserror::Error;

/// A malformed entry from the log is a malformed response.
impl From<EntryError> for ClientError {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::Malformed { reason } => ClientError::BadResponse { reason },
            other => ClientError::BadResponse {
                reason: other.to_string(),
            },
        }
    }
}

/// The log-key errors keep their kind: an unusable key, or a checkpoint it does not sign.
impl From<LogKeyError> for ClientError {
    fn from(e: LogKeyError) -> Self {
        match e {
            LogKeyError::Unsupported { reason } => ClientError::BadLogKey { reason },
            LogKeyError::BadCheckpoint { reason } => ClientError::BadCheckpoint { reason },
            other => ClientError::BadLogKey {
                reason: other.to_string(),
            },
        }
    }
}

/// Why a log operation failed. Values from the log are untrusted and shown for diagnosis.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The log URL is not usable.
    #[error("transparency log URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// The log could not be reached.
    #[error("transparency log unreachable: {method} {url}: {reason}")]
    Unreachable {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An unexpected HTTP status.
    #[error("transparency log: {method} {url}: expected {expected}, found HTTP {status}: {body}")]
    Status {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// The statuses expected.
        expected: &'static str,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A response over the size limit.
    #[error("transparency log: {url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// A response that is not what the API defines.
    #[error("transparency log returned a malformed response: {reason}")]
    BadResponse {
        /// What is wrong.
        reason: String,
    },
    /// A witnessed log has no cosigned checkpoint covering an entry in time.
    #[error("transparency log: {reason}")]
    NoCosignedCheckpoint {
        /// What was expected and found.
        reason: String,
    },
    /// The log's key is not usable.
    #[error("transparency log key: {reason}")]
    BadLogKey {
        /// Why.
        reason: String,
    },
    /// A checkpoint does not verify or parse.
    #[error("checkpoint rejected: {reason}")]
    BadCheckpoint {
        /// Why.
        reason: String,
    },
    /// The log is not append-only: a fork, a rewrite or a rollback.
    #[error(
        "TRANSPARENCY LOG INCONSISTENCY ({what}): the log is not an extension of the checkpoint seen before; it was forked, rewritten or rolled back.\n  previously verified: {old}\n  now served:          {new}\n  {detail}"
    )]
    Inconsistent {
        /// What kind of inconsistency.
        what: &'static str,
        /// The checkpoint seen before.
        old: Box<CheckpointSummary>,
        /// The checkpoint served now.
        new: Box<CheckpointSummary>,
        /// Details.
        detail: String,
    },
    /// A local state file could not be read or written.
    #[error("monitor state {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}
