//! cosign's encrypted private key files.
//!
//! PEM label `ENCRYPTED COSIGN PRIVATE KEY` (written by hallmark, cosign 1.x, skopeo) or
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign 2+), around base64 of JSON:
//! `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<b64 32 bytes>"},
//!   "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},"ciphertext":"<b64>"}`.
//! The scrypt output (32 bytes) keys XSalsa20-Poly1305 (NaCl secretbox); the plaintext is PKCS#8
//! DER. hallmark writes N=32768, r=8, p=1 (the one set every tool reads) and reads
//! N in {32768, 65536, 131072}.

use crate::{error::KeyError, keys::SigningKey, secret::Passphrase};

/// PEM label hallmark writes (and cosign 1.x, skopeo and sigstore-rs read).
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// PEM label cosign 2+ writes.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// Encrypt a signing key into cosign's PEM format (label [`COSIGN_LABEL`], N=32768 r=8 p=1,
/// fresh random salt and nonce). Intermediate buffers are zeroized.
pub fn encrypt_cosign_key(key: &SigningKey, passphrase: &Passphrase) -> Result<String, KeyError> {
    todo!()
}

/// Decrypt a cosign/sigstore encrypted PEM key. `what` names the source (a path) in errors.
pub fn decrypt_cosign_key(
    pem: &str,
    passphrase: &Passphrase,
    what: &str,
) -> Result<SigningKey, KeyError> {
    todo!()
}

/// True if the text is a cosign/sigstore encrypted key (by PEM label), so callers know to ask
/// for a passphrase.
pub fn is_encrypted_cosign_key(pem: &str) -> bool {
    todo!()
}

/// Load a private key from PEM text: encrypted cosign/sigstore keys are decrypted with
/// `passphrase` (a `None` passphrase for an encrypted key is an error naming the need);
/// unencrypted PKCS#8/SEC1/PKCS#1 PEM is parsed as is.
pub fn load_private_key(
    pem: &str,
    passphrase: Option<&Passphrase>,
    what: &str,
) -> Result<SigningKey, KeyError> {
    todo!()
}
