//! Errors of key references and key backends. Every message names the reference (redacted:
//! never a PIN or a secret value) and what was expected and found.

use hallmark_core::KeyError;
use thiserror::Error;

/// Why a key reference could not be parsed, opened or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The reference string is malformed.
    #[error("key reference {reference}: {reason}")]
    InvalidReference {
        /// The reference, redacted.
        reference: String,
        /// What was expected and found.
        reason: String,
    },
    /// The reference names a backend this build does not include or that cannot do this.
    #[error("key reference {reference}: {reason}")]
    Unsupported {
        /// The reference, redacted.
        reference: String,
        /// Why.
        reason: String,
    },
    /// A passphrase was needed and could not be had.
    #[error("key reference {reference}: {reason}")]
    Passphrase {
        /// The reference, redacted.
        reference: String,
        /// Why (names the environment variables to set).
        reason: String,
    },
    /// The key material is invalid, or the passphrase is wrong. The message names the
    /// reference; the key error (its cause) names what was being read: `private key`,
    /// `public key`.
    #[error("key reference {reference}")]
    Key {
        /// The reference, redacted.
        reference: String,
        /// The key error.
        source: KeyError,
    },
    /// Reading a key file failed.
    #[error("reading {what} {path}: {reason}")]
    Io {
        /// The reference, redacted.
        reference: String,
        /// `private key` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The key backend (token, KMS, secret manager, Vault) refused or failed.
    #[error("key reference {reference}: {backend}: {reason}")]
    Backend {
        /// The reference, redacted.
        reference: String,
        /// Which backend: `PKCS#11`, `AWS KMS`, `AWS Secrets Manager`, `Vault transit`.
        backend: &'static str,
        /// What went wrong (never a secret).
        reason: String,
    },
    /// The backend returned a signature that does not verify with the key's public key.
    #[error(
        "key reference {reference}: {backend} returned a signature that does not verify with the key's public key ({reason})"
    )]
    BadSignature {
        /// The reference, redacted.
        reference: String,
        /// Which backend.
        backend: &'static str,
        /// Details.
        reason: String,
    },
}
