//! cosign's encrypted private key files.
//!
//! PEM label `ENCRYPTED COSIGN PRIVATE KEY` (written by hallmark, cosign 1.x, skopeo) or
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign 2+), around base64 of JSON:
//! `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<b64 32 bytes>"},
//!   "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},"ciphertext":"<b64>"}`.
//! The scrypt output (32 bytes) keys XSalsa20-Poly1305 (NaCl secretbox); the plaintext is PKCS#8
//! DER. hallmark writes N=32768, r=8, p=1 (the one set every tool reads) and reads
//! N in {32768, 65536, 131072}.

use crate::{error::KeyError, keys::SigningKey, pem_block, secret::Passphrase};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use crypto_secretbox::aead::{AeadInPlace as _, KeyInit as _};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// PEM label hallmark writes (and cosign 1.x, skopeo and sigstore-rs read).
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// PEM label cosign 2+ writes.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// scrypt log2(N) hallmark writes (N = 32768).
const WRITE_LOG_N: u8 = 15;
/// scrypt N values accepted when reading.
const ACCEPTED_N: [u64; 3] = [32768, 65536, 131072];
/// scrypt r and p (the only values accepted).
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Salt length hallmark writes.
const SALT_LEN: usize = 32;
/// XSalsa20 nonce length.
const NONCE_LEN: usize = 24;
/// Poly1305 tag length (prepended to the ciphertext, as NaCl does).
const TAG_LEN: usize = 16;
/// Length of the derived secretbox key.
const KEY_LEN: usize = 32;

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";

/// Labels accepted by [`load_private_key`], for errors.
const ALL_PRIVATE_LABELS: &str = "ENCRYPTED SIGSTORE PRIVATE KEY, ENCRYPTED COSIGN PRIVATE KEY, \
                                  PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE KEY";
/// Labels accepted by [`decrypt_cosign_key`], for errors.
const ENCRYPTED_LABELS: &str = "ENCRYPTED SIGSTORE PRIVATE KEY, ENCRYPTED COSIGN PRIVATE KEY";

/// Standard base64; padding optional when reading (Go writes it; tolerate its absence).
const B64_READ: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64_WRITE: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The JSON envelope. Field order is the order cosign writes.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// scrypt(passphrase, salt) -> 32-byte secretbox key, in zeroizing memory.
fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8],
    log_n: u8,
    what: &str,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let kdf_failed = |reason: String| KeyError::MalformedEnvelope {
        what: what.to_string(),
        reason,
    };
    let params = scrypt::Params::new(log_n, SCRYPT_R, SCRYPT_P)
        .map_err(|e| kdf_failed(format!("scrypt parameters rejected: {e}")))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(passphrase.expose(), salt, &params, &mut key[..])
        .map_err(|e| kdf_failed(format!("scrypt failed: {e}")))?;
    Ok(key)
}

/// Encrypt a signing key into cosign's PEM format (label [`COSIGN_LABEL`], N=32768 r=8 p=1,
/// fresh random salt and nonce). Intermediate buffers are zeroized.
pub fn encrypt_cosign_key(key: &SigningKey, passphrase: &Passphrase) -> Result<String, KeyError> {
    let what = "encrypting the private key";
    let rng_failed = |_| KeyError::MalformedEnvelope {
        what: what.to_string(),
        reason: "the system random number generator failed".to_string(),
    };
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(rng_failed)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(rng_failed)?;

    let derived = derive_key(passphrase, &salt, WRITE_LOG_N, what)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(&derived[..]));

    let pkcs8 = key.to_pkcs8_der();
    // Room for the tag up front, so encrypting in place never reallocates (which would leave
    // an unwiped copy of the plaintext behind).
    let mut buffer = Zeroizing::new(Vec::with_capacity(pkcs8.len() + TAG_LEN));
    buffer.extend_from_slice(&pkcs8);
    cipher
        .encrypt_in_place(Nonce::from_slice(&nonce), b"", &mut *buffer)
        .map_err(|_| KeyError::MalformedEnvelope {
            what: what.to_string(),
            reason: "secretbox encryption failed".to_string(),
        })?;

    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_NAME.to_string(),
            params: ScryptParams {
                n: 1u64 << WRITE_LOG_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: B64_WRITE.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.to_string(),
            nonce: B64_WRITE.encode(nonce),
        },
        ciphertext: B64_WRITE.encode(&buffer[..]),
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| KeyError::MalformedEnvelope {
        what: what.to_string(),
        reason: format!("cannot serialise the envelope: {e}"),
    })?;
    Ok(pem_block::encode(COSIGN_LABEL, &json))
}

/// Decrypt a cosign/sigstore encrypted PEM key. `what` names the source (a path) in errors.
pub fn decrypt_cosign_key(
    pem: &str,
    passphrase: &Passphrase,
    what: &str,
) -> Result<SigningKey, KeyError> {
    let block = pem_block::find(pem, what, |label| {
        label == COSIGN_LABEL || label == SIGSTORE_LABEL
    })?
    .map_err(|found| KeyError::UnexpectedLabel {
        what: what.to_string(),
        found: found.to_string(),
        expected: ENCRYPTED_LABELS,
    })?;
    let json = block.decode(what)?;
    let malformed = |reason: String| KeyError::MalformedEnvelope {
        what: what.to_string(),
        reason,
    };
    let envelope: Envelope = serde_json::from_slice(&json).map_err(|e| {
        malformed(format!(
            "expected JSON {{\"kdf\":{{\"name\",\"params\":{{\"N\",\"r\",\"p\"}},\"salt\"}},\
             \"cipher\":{{\"name\",\"nonce\"}},\"ciphertext\"}}: {e}"
        ))
    })?;
    if envelope.kdf.name != KDF_NAME {
        return Err(malformed(format!(
            "unsupported key derivation function {:?}; expected {KDF_NAME:?}",
            envelope.kdf.name
        )));
    }
    let ScryptParams { n, r, p } = envelope.kdf.params;
    if !ACCEPTED_N.contains(&n) || r != SCRYPT_R || p != SCRYPT_P {
        return Err(KeyError::UnsupportedKdf {
            what: what.to_string(),
            n,
            r,
            p,
        });
    }
    // n is a power of two from ACCEPTED_N, so this is exact.
    let log_n = u8::try_from(n.trailing_zeros())
        .map_err(|_| malformed(format!("scrypt N={n} is not a power of two")))?;
    if envelope.cipher.name != CIPHER_NAME {
        return Err(malformed(format!(
            "unsupported cipher {:?}; expected {CIPHER_NAME:?}",
            envelope.cipher.name
        )));
    }
    let field = |name: &str, value: &str| {
        B64_READ
            .decode(value)
            .map_err(|e| malformed(format!("{name} is not valid base64: {e}")))
    };
    let salt = field("kdf.salt", &envelope.kdf.salt)?;
    if salt.is_empty() {
        return Err(malformed(
            "kdf.salt is empty; expected a random salt".to_string(),
        ));
    }
    let nonce = field("cipher.nonce", &envelope.cipher.nonce)?;
    if nonce.len() != NONCE_LEN {
        return Err(malformed(format!(
            "cipher.nonce is {} bytes; expected {NONCE_LEN}",
            nonce.len()
        )));
    }
    let mut buffer = Zeroizing::new(field("ciphertext", &envelope.ciphertext)?);
    if buffer.len() <= TAG_LEN {
        return Err(malformed(format!(
            "ciphertext is {} bytes; expected more than the {TAG_LEN}-byte authentication tag",
            buffer.len()
        )));
    }

    let derived = derive_key(passphrase, &salt, log_n, what)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(&derived[..]));
    cipher
        .decrypt_in_place(Nonce::from_slice(&nonce), b"", &mut *buffer)
        .map_err(|_| KeyError::WrongPassphrase {
            what: what.to_string(),
        })?;
    let plaintext = buffer;

    if looks_like_sec1(&plaintext) {
        return Err(KeyError::InvalidKey {
            what: what.to_string(),
            reason: "the decrypted key is a SEC1 EC private key; expected PKCS#8 \
                     (cosign rejects this too; re-import the key from an `EC PRIVATE KEY` PEM)"
                .to_string(),
        });
    }
    SigningKey::from_pkcs8_der(&plaintext, what)
}

/// True when `der` starts like a SEC1 `ECPrivateKey` (SEQUENCE { INTEGER 1, OCTET STRING ...})
/// rather than PKCS#8 (SEQUENCE { INTEGER 0|1, SEQUENCE ... }).
fn looks_like_sec1(der: &[u8]) -> bool {
    let Some((&0x30, rest)) = der.split_first() else {
        return false;
    };
    // Skip the outer length.
    let rest = match rest.split_first() {
        Some((&len, rest)) if len < 0x80 => rest,
        Some((&len, rest)) => rest.get(usize::from(len & 0x7f)..).unwrap_or_default(),
        None => return false,
    };
    rest.starts_with(&[0x02, 0x01, 0x01, 0x04])
}

/// True if the text is a cosign/sigstore encrypted key (by PEM label), so callers know to ask
/// for a passphrase.
pub fn is_encrypted_cosign_key(pem: &str) -> bool {
    encrypted_label(pem).is_some()
}

/// The encrypted-key label of the first BEGIN line that has one.
fn encrypted_label(pem: &str) -> Option<&'static str> {
    pem.lines().find_map(|line| {
        let label = line
            .trim()
            .strip_prefix("-----BEGIN ")?
            .strip_suffix("-----")?;
        [COSIGN_LABEL, SIGSTORE_LABEL]
            .into_iter()
            .find(|&known| known == label)
    })
}

/// Load a private key from PEM text: encrypted cosign/sigstore keys are decrypted with
/// `passphrase` (a `None` passphrase for an encrypted key is an error naming the need);
/// unencrypted PKCS#8/SEC1/PKCS#1 PEM is parsed as is.
pub fn load_private_key(
    pem: &str,
    passphrase: Option<&Passphrase>,
    what: &str,
) -> Result<SigningKey, KeyError> {
    if let Some(label) = encrypted_label(pem) {
        return match passphrase {
            Some(passphrase) => decrypt_cosign_key(pem, passphrase, what),
            None => Err(KeyError::PassphraseRequired {
                what: what.to_string(),
                label,
            }),
        };
    }
    SigningKey::from_pem(pem, what).map_err(|e| match e {
        KeyError::UnexpectedLabel { what, found, .. } => KeyError::UnexpectedLabel {
            what,
            found,
            expected: ALL_PRIVATE_LABELS,
        },
        other => other,
    })
}
