//! Typed errors of the core, and the one rule every hallmark error follows.
//!
//! **Each cause is said once.** A variant that wraps another error (a `source` field,
//! `#[source]` or `#[from]`) says only its own context in its message and leaves the cause to
//! [`Error::source`]; whoever prints the error walks the chain (the CLI prints
//! `context: cause: root cause`). A variant that prints an inner error's text keeps it as a
//! plain field (or a `reason` string) and has no source, and `#[error(transparent)]` forwards
//! both. Where an error has to become a string (a `reason` field, a log line, a JSON
//! document), [`chain`] gives the whole chain; where a transport error (reqwest, hyper, an SDK)
//! has to become one short line, [`root_cause`] gives its innermost cause.

use std::error::Error as StdError;
use thiserror::Error;

/// `e` and each of its causes, joined by `": "`, each said once: a cause whose text is already
/// part of what was written (a third-party error that repeats its source) is left out.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

/// The innermost cause of `e` (the last error of its `source()` chain), or `e` itself: for a
/// transport error this is the part that says what happened ("Connection refused (os error
/// 111)", "operation timed out", "invalid peer certificate: UnknownIssuer").
pub fn root_cause<'a>(e: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Error)]
    #[error("outer context")]
    struct Outer(#[source] Inner);

    #[derive(Debug, Error)]
    #[error("inner cause")]
    struct Inner(#[source] std::io::Error);

    /// A third-party error that repeats its source in its own text.
    #[derive(Debug, Error)]
    #[error("wrapper: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn chain_says_each_cause_once_and_root_cause_is_the_last() {
        let e = Outer(Inner(std::io::Error::other("root")));
        assert_eq!(chain(&e), "outer context: inner cause: root");
        assert_eq!(root_cause(&e).to_string(), "root");
        assert_eq!(
            chain(&Repeats(std::io::Error::other("refused"))),
            "wrapper: refused"
        );
        let leaf = std::io::Error::other("alone");
        assert_eq!(root_cause(&leaf).to_string(), "alone");
    }

    #[test]
    fn a_reference_digest_error_says_its_cause_only_through_source() {
        let e = ReferenceError::Digest {
            found: "x@sha256:abc".into(),
            source: DigestError::Malformed {
                found: "sha256:abc".into(),
            },
        };
        assert!(!e.to_string().contains("64 hex digits"), "{e}");
        assert_eq!(chain(&e).matches("64 hex digits").count(), 1);
    }
}

/// A digest string or a content check failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// The text is not `algorithm:hex`.
    #[error("invalid digest {found:?}: expected `sha256:<64 hex digits>` (or sha384/sha512)")]
    Malformed {
        /// What was given.
        found: String,
    },
    /// The algorithm is not one hallmark computes.
    #[error("unsupported digest algorithm {found:?}: expected sha256, sha384 or sha512")]
    UnsupportedAlgorithm {
        /// What was given.
        found: String,
    },
    /// Content did not hash to the expected digest.
    #[error("content digest mismatch: expected {expected}, found {found}")]
    Mismatch {
        /// The digest the content was supposed to have.
        expected: String,
        /// The digest it actually has.
        found: String,
    },
}

/// An image reference could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The reference does not follow the grammar.
    #[error(
        "invalid image reference {found:?}: {reason}; expected registry/repo:tag, registry/repo@sha256:<hex> or oci:DIR[:tag]"
    )]
    Invalid {
        /// What was given.
        found: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The digest part is malformed.
    #[error("invalid digest in image reference {found:?}")]
    Digest {
        /// What was given.
        found: String,
        /// Why the digest is bad.
        source: DigestError,
    },
}

/// A key, key file or signature operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM armour is broken or missing.
    #[error("{what}: not a PEM file ({reason}); expected a `-----BEGIN ...-----` block")]
    Pem {
        /// What was being read (a path or a description).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The PEM label is not one that is accepted here.
    #[error("{what}: unexpected PEM label {found:?}; expected one of {expected}")]
    UnexpectedLabel {
        /// What was being read.
        what: String,
        /// The label found.
        found: String,
        /// The accepted labels.
        expected: &'static str,
    },
    /// The encrypted key's JSON envelope is malformed.
    #[error("{what}: malformed encrypted key: {reason}")]
    MalformedEnvelope {
        /// What was being read.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// scrypt parameters outside the accepted set.
    #[error(
        "{what}: unsupported scrypt parameters N={n}, r={r}, p={p}; expected N in {{32768, 65536, 131072}}, r=8, p=1"
    )]
    UnsupportedKdf {
        /// What was being read.
        what: String,
        /// scrypt N.
        n: u64,
        /// scrypt r.
        r: u32,
        /// scrypt p.
        p: u32,
    },
    /// The key file is encrypted but no passphrase was supplied.
    #[error(
        "{what}: the private key is encrypted ({label}); a passphrase is required to decrypt it"
    )]
    PassphraseRequired {
        /// What was being read.
        what: String,
        /// The PEM label of the encrypted key.
        label: &'static str,
    },
    /// Decryption failed: the passphrase is wrong or the ciphertext was altered.
    #[error(
        "{what}: decryption failed: expected the passphrase this key was encrypted with, found one that does not open it (wrong passphrase, or the key file was modified)"
    )]
    WrongPassphrase {
        /// What was being read.
        what: String,
    },
    /// The DER key inside is not a supported key.
    #[error("{what}: unsupported or invalid key: {reason}")]
    InvalidKey {
        /// What was being read.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A signature did not verify.
    #[error("signature verification failed with {algorithm} key {fingerprint}: {reason}")]
    BadSignature {
        /// The key algorithm.
        algorithm: &'static str,
        /// The key fingerprint (sha256 of the SubjectPublicKeyInfo, hex).
        fingerprint: String,
        /// What failed.
        reason: &'static str,
    },
    /// Signing failed inside the crypto library.
    #[error("signing with {algorithm} key failed")]
    SigningFailed {
        /// The key algorithm.
        algorithm: &'static str,
    },
}
