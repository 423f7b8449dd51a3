//! A log's public key: its log ID, and opening the checkpoints it signs (pure).
//!
//! Which note signature belongs to the key is decided by the 4-byte key ID, never by the key
//! name (the name is the log operator's choice: Rekor v1 uses the host name): for ECDSA the ID
//! is `SHA-256(DER SPKI)[:4]` (C2SP type `0x02`, Rekor v1 and v2); for Ed25519 either the C2SP
//! `SHA-256(name || 0x0A || 0x01 || key)[:4]` or Rekor v1's SPKI hash.

use crate::{
    Checkpoint,
    hash::sha256,
    note::{
        self, EcdsaNoteVerifier, Ed25519NoteVerifier, Note, NoteVerifier, SIG_TYPE_ED25519,
        spki_key_hash,
    },
};
use hallmark_core::{KeyAlgorithm, PublicKey};
use thiserror::Error;

/// A log key is not usable, or a checkpoint is not signed by it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogKeyError {
    /// The key is of a type logs do not use.
    #[error("transparency log key: {reason}")]
    Unsupported {
        /// Why.
        reason: String,
    },
    /// A checkpoint does not parse, or is not signed by the key.
    #[error("checkpoint rejected: {reason}")]
    BadCheckpoint {
        /// Why.
        reason: String,
    },
}

/// A transparency log's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    key: PublicKey,
}

/// A checkpoint whose signature by the log key verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The name of the key that signed it (as written in the note).
    pub key_name: String,
    /// The whole signed note, as received.
    pub note: String,
}

impl LogKey {
    /// A log key: ECDSA P-256 (Rekor v1 and hallmark's log) or Ed25519.
    pub fn new(key: PublicKey) -> Result<Self, LogKeyError> {
        match key.algorithm() {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Ed25519 => Ok(Self { key }),
            other => Err(LogKeyError::Unsupported {
                reason: format!(
                    "{other} keys are not used by logs; expected ECDSA P-256 or Ed25519"
                ),
            }),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The Rekor v1 log ID: hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn rekor_v1_log_id(&self) -> String {
        self.key.fingerprint()
    }

    /// The 32-byte log ID a Sigstore trusted root lists for this key: the SHA-256 of the DER
    /// SPKI for ECDSA (Rekor v1, v2); for Ed25519 the C2SP key hash preimage
    /// `SHA-256(origin || 0x0A || 0x01 || key)` (rekor-tiles), which needs the origin.
    pub fn log_id_bytes(&self, origin: &str) -> [u8; 32] {
        match self.key.algorithm() {
            KeyAlgorithm::Ed25519 => {
                let mut buf = origin.as_bytes().to_vec();
                buf.push(b'\n');
                buf.push(SIG_TYPE_ED25519);
                buf.extend_from_slice(self.ed25519_raw());
                sha256(&buf).0
            }
            _ => sha256(self.key.spki_der()).0,
        }
    }

    fn ed25519_raw(&self) -> &[u8] {
        let der = self.key.spki_der();
        &der[der.len().saturating_sub(32)..]
    }

    /// The verifiers this key can be for a signature line named `name`.
    fn verifiers(&self, name: &str) -> Vec<Box<dyn NoteVerifier>> {
        let mut out: Vec<Box<dyn NoteVerifier>> = Vec::new();
        match self.key.algorithm() {
            KeyAlgorithm::Ed25519 => {
                let raw = self.ed25519_raw();
                if let Ok(v) = Ed25519NoteVerifier::new(name, raw) {
                    out.push(Box::new(v));
                }
                if let Ok(v) = Ed25519NoteVerifier::with_key_hash(
                    name,
                    raw,
                    spki_key_hash(self.key.spki_der()),
                ) {
                    out.push(Box::new(v));
                }
            }
            _ => {
                if let Ok(v) = EcdsaNoteVerifier::new(name, self.key.clone()) {
                    out.push(Box::new(v));
                }
            }
        }
        out
    }

    /// Open a signed checkpoint: at least one signature line must be this key's and verify;
    /// a line with this key's ID that does not verify rejects the note. Other lines (witness
    /// cosignatures, other keys) are ignored.
    pub fn open_checkpoint(&self, signed_note: &str) -> Result<VerifiedCheckpoint, LogKeyError> {
        let bad = |reason: String| LogKeyError::BadCheckpoint { reason };
        let parsed = Note::parse(signed_note.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let mut names: Vec<&str> = parsed
            .signatures()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        names.dedup();
        let verifiers: Vec<Box<dyn NoteVerifier>> =
            names.iter().flat_map(|n| self.verifiers(n)).collect();
        let refs: Vec<&dyn NoteVerifier> = verifiers.iter().map(|v| v.as_ref()).collect();
        let verified = note::open(signed_note.as_bytes(), &refs).map_err(|e| {
            bad(format!(
                "not signed by the log key sha256:{}: {e}",
                self.key.fingerprint()
            ))
        })?;
        let checkpoint =
            Checkpoint::parse(&verified.text).map_err(|e| bad(hallmark_core::error::chain(&e)))?;
        let key_name = verified
            .verified
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        Ok(VerifiedCheckpoint {
            checkpoint,
            key_name,
            note: signed_note.to_owned(),
        })
    }
}
