//! The log's signing key: generated on first start, kept as a PKCS#8 PEM file (mode 0600) in
//! the data directory, never logged. It signs checkpoints (C2SP signed notes) and SETs.

use hallmark_core::{KeyAlgorithm, PublicKey, SigningKey};
use hallmark_tlog::note::{EcdsaNoteSigner, Ed25519NoteSigner, NoteSigner};
use hallmark_tlog::rekor::SetPayload;
use std::path::Path;
use thiserror::Error;

/// The file name of the log key in the data directory.
pub const LOG_KEY_FILE: &str = "log-key.pem";

/// The log key could not be loaded, created or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogKeyError {
    /// Reading or writing the key file failed.
    #[error("log key file {path}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no usable key.
    #[error("log key file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Signing failed.
    #[error("signing with the log key failed: {0}")]
    Signing(String),
}

/// The log key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogKeyType {
    /// ECDSA P-256 (the default; what Rekor v1 uses).
    #[default]
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

enum Signer {
    Ecdsa(EcdsaNoteSigner),
    Ed25519(Ed25519NoteSigner, SigningKey),
}

/// The log key with its note signer (key name = the log's origin).
pub struct LogKey {
    signer: Signer,
    public: PublicKey,
    log_id: String,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKey")
            .field("algorithm", &self.public.algorithm().name())
            .field("log_id", &self.log_id)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogKeyError + '_ {
    move |source| LogKeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Load the key at `dir/log-key.pem`, or generate one of `key_type` there (atomically: a
/// concurrent start of another process over the same directory reads the one written first).
pub fn load_or_create(dir: &Path, key_type: LogKeyType) -> Result<SigningKey, LogKeyError> {
    let path = dir.join(LOG_KEY_FILE);
    if !path.exists() {
        let algorithm = match key_type {
            LogKeyType::EcdsaP256 => KeyAlgorithm::EcdsaP256,
            LogKeyType::Ed25519 => KeyAlgorithm::Ed25519,
        };
        let key = SigningKey::generate(algorithm)
            .map_err(|e| LogKeyError::Signing(format!("key generation: {e}")))?;
        hallmark_serve::create_private_file_once(&path, key.to_pkcs8_pem().as_bytes())
            .map_err(io_err(&path))?;
    }
    let pem = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let key = SigningKey::from_pem(&pem, "log key").map_err(|e| LogKeyError::Invalid {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    match key.algorithm() {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Ed25519 => Ok(key),
        other => Err(LogKeyError::Invalid {
            path: path.display().to_string(),
            reason: format!("a {other} key; expected ECDSA P-256 or Ed25519"),
        }),
    }
}

impl LogKey {
    /// The log key signing notes as `origin`.
    pub fn new(key: SigningKey, origin: &str) -> Result<Self, LogKeyError> {
        let public = key.public_key().clone();
        let log_id = hallmark_tlog::rekor::log_id(&public);
        let signer = match key.algorithm() {
            KeyAlgorithm::EcdsaP256 => Signer::Ecdsa(
                EcdsaNoteSigner::new(origin, key)
                    .map_err(|e| LogKeyError::Signing(e.to_string()))?,
            ),
            _ => Signer::Ed25519(
                Ed25519NoteSigner::from_signing_key(origin, &key)
                    .map_err(|e| LogKeyError::Signing(e.to_string()))?,
                key,
            ),
        };
        Ok(Self {
            signer,
            public,
            log_id,
        })
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The log ID: hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The checkpoint verifier key (C2SP vkey), what witnesses and witness policies name the
    /// log by.
    pub fn vkey(&self) -> String {
        match &self.signer {
            Signer::Ecdsa(s) => s.verifier().vkey(),
            Signer::Ed25519(s, _) => s.verifier().vkey(),
        }
    }

    /// The checkpoint note signer.
    pub fn note_signer(&self) -> &dyn NoteSigner {
        match &self.signer {
            Signer::Ecdsa(s) => s,
            Signer::Ed25519(s, _) => s,
        }
    }

    /// The SET over an entry integrated at `index` and `integrated_time`.
    pub fn sign_set(
        &self,
        body: &[u8],
        integrated_time: i64,
        index: u64,
    ) -> Result<Vec<u8>, LogKeyError> {
        let payload = SetPayload::new(body, integrated_time, &self.public, index as i64);
        match &self.signer {
            Signer::Ecdsa(s) => payload
                .sign(s.key())
                .map_err(|e| LogKeyError::Signing(e.to_string())),
            // hallmark-tlog signs SETs with P-256 keys only; an Ed25519 log signs the same
            // canonical payload with its key (as sigstore clients verify Ed25519 SETs).
            Signer::Ed25519(_, key) => key
                .sign(&payload.canonical_bytes())
                .map_err(|e| LogKeyError::Signing(e.to_string())),
        }
    }
}
