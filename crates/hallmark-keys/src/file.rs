//! Keys in files and environment variables (PEM, cosign encrypted or plain).

use crate::{KeyRef, KeysError, OpenOptions};
use hallmark_core::{PublicKey, SigningKey, keyfile};
use zeroize::Zeroizing;

/// The PEM text of a file or `env://` reference, in zeroizing memory.
fn read_text(reference: &KeyRef, what: &'static str) -> Result<Zeroizing<String>, KeysError> {
    match reference {
        KeyRef::File(path) => {
            tracing::debug!(reference = %reference, what, path = %path.display(), "reading key file");
            std::fs::read_to_string(path)
                .map(Zeroizing::new)
                .map_err(|e| KeysError::Io {
                    reference: reference.to_string(),
                    what,
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
        }
        KeyRef::Env(var) => match std::env::var(var) {
            Ok(v) => {
                tracing::debug!(reference = %reference, what, variable = var.as_str(), "key from environment variable");
                Ok(Zeroizing::new(v))
            }
            Err(e) => Err(KeysError::InvalidReference {
                reference: reference.to_string(),
                reason: format!(
                    "expected a PEM key in environment variable {var}, found {}",
                    match e {
                        std::env::VarError::NotPresent => "it unset",
                        std::env::VarError::NotUnicode(_) => "a value that is not UTF-8",
                    }
                ),
            }),
        },
        _ => Err(KeysError::Unsupported {
            reference: reference.to_string(),
            reason: "not a file or env:// reference".to_owned(),
        }),
    }
}

/// Decode a private key from PEM text, asking for a passphrase only when it is encrypted.
pub(crate) fn decode_private(
    text: &str,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<SigningKey, KeysError> {
    let encrypted = keyfile::is_encrypted_cosign_key(text);
    tracing::debug!(reference, encrypted, "decoding private key");
    let pass = if encrypted {
        Some(
            (options.passphrase)(&format!("private key {reference}")).map_err(|reason| {
                KeysError::Passphrase {
                    reference: reference.to_owned(),
                    reason,
                }
            })?,
        )
    } else {
        None
    };
    keyfile::load_private_key(text, pass.as_ref(), "private key").map_err(|source| KeysError::Key {
        reference: reference.to_owned(),
        source,
    })
}

pub(crate) fn load_private(
    reference: &KeyRef,
    options: &OpenOptions<'_>,
) -> Result<SigningKey, KeysError> {
    let text = read_text(reference, "private key")?;
    decode_private(&text, &reference.to_string(), options)
}

pub(crate) fn load_public(
    reference: &KeyRef,
    options: &OpenOptions<'_>,
) -> Result<PublicKey, KeysError> {
    let text = read_text(reference, "key")?;
    let shown = reference.to_string();
    let is_public = text
        .lines()
        .any(|l| l.trim() == "-----BEGIN PUBLIC KEY-----");
    tracing::debug!(
        reference = shown,
        public_key_pem = is_public,
        "decoding key"
    );
    if is_public {
        return PublicKey::from_pem(&text, "public key").map_err(|source| KeysError::Key {
            reference: shown,
            source,
        });
    }
    Ok(decode_private(&text, &shown, options)?.public_key().clone())
}
