//! Signing Docker Content Trust roles with keys outside the trust directory: a signer's key
//! in an HSM (PKCS#11), AWS KMS or Vault transit, reached through `hallmark-keys`.
//!
//! Notary 0.7.0 verifies an `ecdsa` key's signatures as ECDSA P-256 over SHA-256 of the
//! canonical `signed` bytes, encoded as raw `r || s` (method `ecdsa`), and lists the key as
//! keytype `ecdsa` with base64 DER SubjectPublicKeyInfo. An RSA key (2048 bits or more) is
//! keytype `rsa` with the same encoding, and its signatures are RSA PKCS#1 v1.5 with SHA-256,
//! notary's method `rsapkcs1v15` (what cosign-style backends sign with). hallmark-keys'
//! backends return cosign's ASN.1 DER ECDSA signatures; [`KeyRefSigner`] converts them to the
//! fixed form and checks each signature against the listed key before it is used. Other key
//! types are refused: notary's `ecdsa` method is ECDSA over SHA-256 whatever the curve, while
//! KMS and hallmark-keys sign P-384 over SHA-384, and `hallmark-tuf` (like the keys docker and
//! notary make) takes `ecdsa` keys on P-256 only; Ed25519 keys of key references are not
//! supported here.

use crate::error::TrustError;
use hallmark_core::{KeyAlgorithm, PublicKey};
use hallmark_tuf::{KeyType, TufKey};
use std::future::Future;
use std::pin::Pin;

/// The future a [`RoleSigner`] returns.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, TrustError>> + Send + 'a>>;

/// A key held outside the trust directory that signs TUF roles.
pub trait RoleSigner: Send + Sync + std::fmt::Debug {
    /// The public key as a delegation lists it; signatures are written under its key ID.
    fn key(&self) -> &TufKey;
    /// Where the key lives, for messages (redacted: never a PIN or a secret).
    fn reference(&self) -> &str;
    /// Notary's signature method of [`RoleSigner::sign`]'s output (`ecdsa`, `rsapkcs1v15`).
    fn method(&self) -> &'static str;
    /// Signs `message` (the canonical `signed` bytes): for `ecdsa`, raw `r || s` over
    /// SHA-256 of the message; for `rsapkcs1v15`, the PKCS#1 v1.5 SHA-256 signature.
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a>;
}

/// The delegation key for a public key from a key reference: an `ecdsa` key for ECDSA
/// P-256, an `rsa` key for RSA; any other type is refused with an error naming the
/// reference and the type.
pub fn delegation_key(public: &PublicKey, reference: &str) -> Result<TufKey, TrustError> {
    let key_type = match public.algorithm() {
        KeyAlgorithm::EcdsaP256 => KeyType::Ecdsa,
        KeyAlgorithm::Rsa => KeyType::Rsa,
        other => {
            return Err(TrustError::ExternalKey {
                reference: reference.to_string(),
                reason: format!(
                    "a {other} key cannot sign Docker Content Trust metadata: expected an ECDSA P-256 or RSA key, found {other} (notary's ecdsa signatures are over SHA-256, which the key backends do not make with P-384 keys, and DCT ecdsa keys are P-256; Ed25519 key references are not supported)"
                ),
            });
        }
    };
    TufKey::new(key_type, public.spki_der().to_vec()).map_err(|e| TrustError::ExternalKey {
        reference: reference.to_string(),
        reason: format!("public key: {e}"),
    })
}

/// Notary's signature method for a delegation key made by [`delegation_key`].
fn method_of(key: &TufKey) -> &'static str {
    match key.key_type() {
        KeyType::Rsa | KeyType::RsaX509 => "rsapkcs1v15",
        _ => "ecdsa",
    }
}

/// Converts an ASN.1 DER `ECDSA-Sig-Value` (RFC 3279) to the fixed `r || s` form with each
/// integer left-padded to `width` bytes. `None` unless the input is exactly one well-formed
/// SEQUENCE of two positive INTEGERs that fit.
pub fn ecdsa_der_to_fixed(der: &[u8], width: usize) -> Option<Vec<u8>> {
    fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = input.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = match first {
            l if l < 0x80 => (usize::from(l), rest),
            0x81 => {
                let (&l, rest) = rest.split_first()?;
                if l < 0x80 {
                    return None;
                }
                (usize::from(l), rest)
            }
            _ => return None,
        };
        if rest.len() < len {
            return None;
        }
        Some(rest.split_at(len))
    }
    fn uint(v: &[u8], width: usize) -> Option<Vec<u8>> {
        let (&first, _) = v.split_first()?;
        if first & 0x80 != 0 {
            return None;
        }
        // A leading zero is allowed only before a byte with the high bit set (minimal DER).
        if first == 0 && v.len() > 1 && v[1] & 0x80 == 0 {
            return None;
        }
        let v = if first == 0 { &v[1..] } else { v };
        if v.len() > width || v.iter().all(|b| *b == 0) {
            return None;
        }
        let mut out = vec![0u8; width - v.len()];
        out.extend_from_slice(v);
        Some(out)
    }
    let (body, rest) = tlv(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, body) = tlv(body, 0x02)?;
    let (s, body) = tlv(body, 0x02)?;
    if !body.is_empty() {
        return None;
    }
    let mut out = uint(r, width)?;
    out.extend(uint(s, width)?);
    Some(out)
}

/// A [`RoleSigner`] over a `hallmark-keys` signer (a key reference opened with
/// `KeyRef::open`, or any other [`hallmark_keys::Signer`]).
#[derive(Debug)]
pub struct KeyRefSigner<S> {
    inner: S,
    reference: String,
    key: TufKey,
}

impl<S: hallmark_keys::Signer + std::fmt::Debug> KeyRefSigner<S> {
    /// Wraps `inner`, opened from `reference` (redacted). Refuses keys notary cannot verify
    /// (anything but ECDSA P-256 and RSA), naming the reference and the key type.
    pub fn new(inner: S, reference: impl Into<String>) -> Result<Self, TrustError> {
        let reference = reference.into();
        let key = delegation_key(inner.public_key(), &reference)?;
        Ok(Self {
            inner,
            reference,
            key,
        })
    }
}

impl<S: hallmark_keys::Signer + std::fmt::Debug> RoleSigner for KeyRefSigner<S> {
    fn key(&self) -> &TufKey {
        &self.key
    }

    fn reference(&self) -> &str {
        &self.reference
    }

    fn method(&self) -> &'static str {
        method_of(&self.key)
    }

    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        Box::pin(async move {
            let der = self
                .inner
                .sign(message)
                .await
                .map_err(|e| TrustError::ExternalSigner(Box::new(e)))?;
            let method = method_of(&self.key);
            let raw = if method == "ecdsa" {
                ecdsa_der_to_fixed(&der, 32).ok_or_else(|| TrustError::ExternalKey {
                    reference: self.reference.clone(),
                    reason: format!(
                        "expected an ASN.1 DER ECDSA P-256 signature from the key backend, found {} bytes that are not one",
                        der.len()
                    ),
                })?
            } else {
                der
            };
            // Checked here in the form notary will verify.
            self.key
                .verify(&self.key.key_id(), method, message, &raw)
                .map_err(|e| TrustError::ExternalKey {
                    reference: self.reference.clone(),
                    reason: format!(
                        "the backend's signature does not verify with its public key: {e}"
                    ),
                })?;
            Ok(raw)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use hallmark_core::SigningKey;
    use hallmark_tuf::builder::Unsigned;
    use serde_json::json;

    #[tokio::test]
    async fn p256_signer_signs_roles_notary_verifies() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("P-256 key");
        let signer = KeyRefSigner::new(key, "pkcs11:token=t;object=k").expect("P-256 accepted");
        assert_eq!(signer.key().key_type(), KeyType::Ecdsa);
        let signed = hallmark_tuf::builder::new_targets(1, time::OffsetDateTime::now_utc());
        let mut pending = Unsigned::new(&signed).expect("canonical");
        let raw = signer.sign(pending.message()).await.expect("signs");
        assert_eq!(raw.len(), 64, "raw r||s");
        let id = signer.key().key_id();
        // A signature over other bytes is refused; the right one is accepted.
        let mut other = Unsigned::new(&json!({"version": 3})).expect("canonical");
        assert!(
            other
                .add_external(signer.key(), &id, "ecdsa", raw.clone())
                .is_err()
        );
        pending
            .add_external(signer.key(), &id, "ecdsa", raw)
            .expect("verifies");
        let file = pending.finish();
        let parsed: hallmark_tuf::Signed<hallmark_tuf::Targets> =
            hallmark_tuf::Signed::parse(&file, "targets/hsm").expect("parses");
        let keys = std::collections::BTreeMap::from([(id.clone(), signer.key().clone())]);
        hallmark_tuf::verify_threshold(&parsed, "targets/hsm", &keys, &[id], 1)
            .expect("verifies as notary would");
    }

    #[tokio::test]
    async fn rsa_signer_signs_with_rsapkcs1v15() {
        let key = SigningKey::generate(KeyAlgorithm::Rsa).expect("RSA key");
        let signer = KeyRefSigner::new(key, "awskms:///alias/rsa").expect("RSA accepted");
        assert_eq!(signer.key().key_type(), KeyType::Rsa);
        assert_eq!(signer.method(), "rsapkcs1v15");
        let signed = hallmark_tuf::builder::new_targets(1, time::OffsetDateTime::now_utc());
        let mut pending = Unsigned::new(&signed).expect("canonical");
        let sig = signer.sign(pending.message()).await.expect("signs");
        let id = signer.key().key_id();
        pending
            .add_external(signer.key(), &id, "rsapkcs1v15", sig)
            .expect("verifies");
        let file = pending.finish();
        let parsed: hallmark_tuf::Signed<hallmark_tuf::Targets> =
            hallmark_tuf::Signed::parse(&file, "targets/rsa").expect("parses");
        assert_eq!(parsed.signatures[0].method, "rsapkcs1v15");
        let keys = std::collections::BTreeMap::from([(id.clone(), signer.key().clone())]);
        hallmark_tuf::verify_threshold(&parsed, "targets/rsa", &keys, &[id], 1)
            .expect("verifies as notary would");
    }

    #[test]
    fn other_key_types_are_refused_naming_reference_and_type() {
        for algorithm in [KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519] {
            let key = SigningKey::generate(algorithm).expect("key");
            let err = KeyRefSigner::new(key, "awskms:///alias/big")
                .expect_err("refused")
                .to_string();
            assert!(
                err.contains("awskms:///alias/big")
                    && err.contains(algorithm.name())
                    && err.contains("expected an ECDSA P-256 or RSA key"),
                "{err}"
            );
        }
    }

    #[test]
    fn der_to_fixed_pads_and_strips() {
        // r = 0x80 (needs a leading zero in DER), s = 1.
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01];
        let fixed = ecdsa_der_to_fixed(&der, 32).expect("well-formed");
        assert_eq!(fixed.len(), 64);
        assert_eq!(fixed[31], 0x80);
        assert_eq!(fixed[63], 0x01);
        assert!(fixed[..31].iter().all(|b| *b == 0));
    }

    #[test]
    fn der_to_fixed_refuses_malformed() {
        // Trailing bytes, negative r, non-minimal zero, too wide, zero value.
        for bad in [
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00][..],
            &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01],
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01],
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x01],
        ] {
            assert_eq!(ecdsa_der_to_fixed(bad, 32), None, "{bad:02x?}");
        }
        let mut wide = vec![0x30, 0x26, 0x02, 0x21];
        wide.extend([0x7f; 33]);
        wide.extend([0x02, 0x01, 0x01]);
        assert_eq!(ecdsa_der_to_fixed(&wide, 32), None);
    }
}
