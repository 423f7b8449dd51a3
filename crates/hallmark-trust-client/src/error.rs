//! Errors of the trust client. A variant with a cause says only its context; the cause is its
//! `source()` (see `hallmark_core::error`).

use hallmark_tuf::TufError;
use hallmark_tuf::keyfile::KeyFileError;
use std::path::PathBuf;

/// What went wrong talking to a trust server or using the trust directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Trust data did not verify.
    #[error("trust data for {gun} does not verify")]
    Verify {
        /// The repository.
        gun: String,
        /// The TUF failure.
        #[source]
        source: Box<TufError>,
    },
    /// Building or signing metadata failed.
    #[error("{what}")]
    Metadata {
        /// What was being built.
        what: String,
        /// The TUF failure.
        #[source]
        source: Box<TufError>,
    },
    /// A cached file of the trust directory is damaged.
    #[error(
        "cached trust data {path} is damaged ({reason}); expected metadata that verified when it was cached. Remove {dir} to trust the server's data again"
    )]
    CorruptCache {
        /// The damaged file.
        path: PathBuf,
        /// The cache directory of the repository.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The server's root is not the root trusted before (trust on first use or pinning).
    #[error(
        "root of trust for {gun} changed: expected root keys [{expected}] ({source_of_trust}), found [{found}] on the server without a valid rotation. If the repository was deliberately re-created, remove the cached trust data ({dir})"
    )]
    RootMismatch {
        /// The repository.
        gun: String,
        /// Key IDs trusted.
        expected: String,
        /// Key IDs the server's root lists.
        found: String,
        /// Where the trusted keys come from.
        source_of_trust: String,
        /// The cache directory.
        dir: PathBuf,
    },
    /// A private key file could not be read, decrypted or written.
    #[error("private key {path}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: Box<KeyFileError>,
    },
    /// No local private key for a role.
    #[error("no private key for {role} in {dir}: expected one of the key IDs [{key_ids}]")]
    MissingKey {
        /// The role.
        role: String,
        /// The private key directory.
        dir: PathBuf,
        /// Key IDs the role lists.
        key_ids: String,
    },
    /// A passphrase was needed and none could be had.
    #[error("{0}")]
    Passphrase(String),
    /// File system error.
    #[error("{path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// Transport failure.
    #[error("{url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{url}: server answered {status}{code}: {message}")]
    Server {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Notary's error code, e.g. ` (INVALID_UPDATE)`, or empty.
        code: String,
        /// The message or body.
        message: String,
    },
    /// A response was larger than allowed.
    #[error("{url}: response larger than the limit of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The repository has no trust data on the server.
    #[error("no trust data for {gun} on {server}: the repository is not initialised")]
    NotInitialised {
        /// The repository.
        gun: String,
        /// The server.
        server: String,
    },
    /// No signed target for a tag (docker's message).
    #[error("No valid trust data for {tag}")]
    NoTrustData {
        /// The tag.
        tag: String,
    },
    /// Invalid input.
    #[error("{0}")]
    Invalid(String),
    /// A key reference cannot be used for Docker Content Trust (wrong key type, a bad
    /// signature from its backend).
    #[error("key reference {reference}: {reason}")]
    ExternalKey {
        /// The reference, redacted.
        reference: String,
        /// What was expected and found.
        reason: String,
    },
    /// The backend of a key reference failed to sign: its error, which names the reference
    /// (redacted), as it is.
    #[error(transparent)]
    ExternalSigner(Box<dyn std::error::Error + Send + Sync>),
}

impl TrustError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
