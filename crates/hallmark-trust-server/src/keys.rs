//! The server's snapshot and timestamp keys: generated per GUN, sealed at rest with
//! AES-256-GCM under a key that never sits in the database.
//!
//! The sealing key is derived with PBKDF2-HMAC-SHA256 (600,000 iterations) from the
//! passphrase in [`PASSPHRASE_ENV`] and a random salt kept in the data directory
//! (`keys.salt`), or, without that variable, is 32 random bytes kept in the data directory
//! (`keys.secret`, mode 0600). The GUN, role and key ID are authenticated with each sealed
//! key, so a row copied to another GUN does not open.

use crate::storage::StoredKey;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use hallmark_tuf::{KeyType, PrivateKey};
use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::Path;
use thiserror::Error;
use zeroize::Zeroizing;

/// Environment variable with a passphrase for the sealing key (instead of a key file).
pub const PASSPHRASE_ENV: &str = "HALLMARK_TRUST_SERVER_KEY_PASSPHRASE";
/// The random sealing key file in the data directory (when no passphrase is set).
pub const SECRET_FILE: &str = "keys.secret";
/// The PBKDF2 salt file in the data directory (with a passphrase).
pub const SALT_FILE: &str = "keys.salt";

const PBKDF2_ITERATIONS: u32 = 600_000;

/// A key problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing the sealing key material failed.
    #[error("{context}")]
    Io {
        /// What was done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The sealing key file is not 32 bytes.
    #[error("{path}: expected a 32-byte sealing key, found {found} bytes")]
    BadSecret {
        /// The file.
        path: String,
        /// Its length.
        found: usize,
    },
    /// A sealed key does not open (another data directory's key, another passphrase, or
    /// tampering).
    #[error(
        "the server key {key_id} of {gun} cannot be unsealed: wrong sealing key or passphrase ({PASSPHRASE_ENV}, {SECRET_FILE}), or the row was altered"
    )]
    Unseal {
        /// The GUN.
        gun: String,
        /// The key ID.
        key_id: String,
    },
    /// Key generation or decoding failed.
    #[error("server key: {0}")]
    Key(String),
}

/// Seals and opens server private keys.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> KeyError {
    move |source| KeyError::Io { context, source }
}

fn write_new_0600(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("create {}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(format!("write {}", path.display())))
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, KeyError> {
    let mut b = Zeroizing::new([0u8; N]);
    aws_lc_rs::rand::fill(&mut b[..]).map_err(|_| KeyError::Key("no random numbers".into()))?;
    Ok(b)
}

impl Sealer {
    /// The sealing key of `data_dir`: from `passphrase` (with the salt file), else from the
    /// key file (created on first use).
    pub fn open(data_dir: &Path, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let key: Zeroizing<[u8; 32]> = match passphrase {
            Some(pass) => {
                let path = data_dir.join(SALT_FILE);
                if !path.exists() {
                    write_new_0600(&path, &random::<16>()?[..])?;
                }
                let salt = std::fs::read(&path).map_err(io(format!("read {}", path.display())))?;
                let mut out = Zeroizing::new([0u8; 32]);
                aws_lc_rs::pbkdf2::derive(
                    aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
                    NonZeroU32::new(PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN),
                    &salt,
                    pass,
                    &mut out[..],
                );
                out
            }
            None => {
                let path = data_dir.join(SECRET_FILE);
                if !path.exists() {
                    write_new_0600(&path, &random::<32>()?[..])?;
                }
                let bytes = Zeroizing::new(
                    std::fs::read(&path).map_err(io(format!("read {}", path.display())))?,
                );
                let arr: [u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| KeyError::BadSecret {
                            path: path.display().to_string(),
                            found: bytes.len(),
                        })?;
                Zeroizing::new(arr)
            }
        };
        let unbound =
            UnboundKey::new(&AES_256_GCM, &key[..]).map_err(|_| KeyError::Key("AES key".into()))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    fn aad(gun: &str, role: &str, key_id: &str) -> Vec<u8> {
        format!("hallmark-trust-server/v1\0{gun}\0{role}\0{key_id}").into_bytes()
    }

    /// Generates a new key for `gun`/`role` and returns it with its sealed row.
    pub fn generate(
        &self,
        gun: &str,
        role: &str,
        key_type: KeyType,
    ) -> Result<(PrivateKey, StoredKey), KeyError> {
        let key = PrivateKey::generate(key_type).map_err(|e| KeyError::Key(e.to_string()))?;
        let key_id = key.key_id();
        let nonce_bytes = random::<NONCE_LEN>()?;
        let mut sealed = Zeroizing::new(key.secret_bytes().to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*nonce_bytes),
                Aad::from(Self::aad(gun, role, &key_id)),
                &mut *sealed,
            )
            .map_err(|_| KeyError::Key("sealing failed".into()))?;
        let mut row = nonce_bytes.to_vec();
        row.extend_from_slice(&sealed);
        Ok((
            key,
            StoredKey {
                role: role.to_string(),
                key_id,
                key_type: key_type.name().to_string(),
                sealed: row,
            },
        ))
    }

    /// Opens a stored key.
    pub fn unseal(&self, gun: &str, stored: &StoredKey) -> Result<PrivateKey, KeyError> {
        let fail = || KeyError::Unseal {
            gun: gun.to_string(),
            key_id: stored.key_id.clone(),
        };
        if stored.sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = stored.sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(gun, &stored.role, &stored.key_id)),
                &mut buf,
            )
            .map_err(|_| fail())?;
        let key = match stored.key_type.as_str() {
            "ecdsa" => PrivateKey::from_ecdsa_sec1_der(plain),
            "ed25519" => PrivateKey::from_notary_ed25519(plain),
            other => {
                return Err(KeyError::Key(format!(
                    "unsupported stored key type {other:?}"
                )));
            }
        }
        .map_err(|e| KeyError::Key(e.to_string()))?;
        if key.key_id() != stored.key_id {
            return Err(fail());
        }
        Ok(key)
    }
}

/// The public key JSON notary-server answers for `*.key`:
/// `{"keytype":..,"keyval":{"public":..,"private":null}}`.
pub fn public_key_json(key: &PrivateKey) -> String {
    use base64::Engine as _;
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key().public());
    format!(
        "{{\"keytype\":\"{}\",\"keyval\":{{\"public\":\"{public}\",\"private\":null}}}}",
        key.key_type().name()
    )
}
