//! Why a verifier could not be built, or could not decide.

use hallmark_oci::OciError;
use std::path::PathBuf;
use thiserror::Error;

/// Loading what the policy names failed: the policy cannot be enforced as written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A key file could not be read.
    #[error("key {path} named in the policy could not be read")]
    ReadKey {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key could not be parsed or loaded.
    #[error("key {key} named in the policy: {reason}")]
    Key {
        /// The key as the policy names it.
        key: String,
        /// Why, with what was expected and found.
        reason: String,
    },
    /// A key reference (KMS, token, Vault, secret) could not be opened.
    #[error("key {key} named in the policy")]
    KeyRef {
        /// The reference as the policy names it (PINs redacted).
        key: String,
        /// Why.
        #[source]
        source: hallmark_keys::KeysError,
    },
    /// A certificate root, trusted root or log key file could not be read.
    #[error("{what} {path} named in the policy could not be read")]
    ReadFile {
        /// What the file is.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A certificate root or trusted root is not acceptable.
    #[error("{what} {source_id} named in the policy: {reason}")]
    Trust {
        /// What it is.
        what: &'static str,
        /// Where it came from.
        source_id: String,
        /// Why.
        reason: String,
    },
}

/// A decision could not be made at all (a failure to read the image itself; failures to
/// read its signatures or trust data are evidence and end in a denial with the reason).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecideError {
    /// The image's manifest could not be read.
    #[error("{image}: the image could not be read")]
    Resolve {
        /// The image as given.
        image: String,
        /// Why.
        #[source]
        source: OciError,
    },
}
