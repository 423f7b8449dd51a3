//! Errors of the flows.

use hallmark_core::KeyError;
use hallmark_oci::OciError;
use hallmark_sigstore::{SigManifestError, VerifyError};
use thiserror::Error;

/// A flow failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SigstoreError {
    /// Registry or layout access.
    #[error(transparent)]
    Oci(#[from] OciError),
    /// A key operation.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A signer (key file, token, KMS, Vault) failed to sign.
    #[error(transparent)]
    Signer(#[from] hallmark_keys::KeysError),
    /// Verification failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// An attachment manifest (`.sig` / `.att` / bundle referrer) or its config is malformed or
    /// full.
    #[error(transparent)]
    Attachment(#[from] SigManifestError),
    /// A manifest being copied, or the referrers tag index, is malformed.
    #[error("malformed {what} at {location}: {reason}")]
    Malformed {
        /// Which manifest.
        what: String,
        /// Its store location.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A notation envelope could not be written or does not verify.
    #[error(transparent)]
    Notation(#[from] hallmark_notation::EnvelopeError),
    /// Invalid input from the user.
    #[error("{0}")]
    Invalid(String),
    /// The transparency log refused or failed an upload (nothing was written to the store).
    #[error("transparency log upload failed, nothing was written")]
    Tlog(#[from] hallmark_tlog_client::ClientError),
}
