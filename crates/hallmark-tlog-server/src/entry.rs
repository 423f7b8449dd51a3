//! Validation of proposed `hashedrekord` 0.0.1 entries, before anything is queued.
//!
//! hashedrekord signs the artifact *digest*: the signature is over the artifact whose SHA-256
//! is `spec.data.hash.value`, so it is checked with a prehashed verify (the digest is given,
//! not recomputed). `hallmark_core::PublicKey::verify` hashes its input, so this module uses
//! aws-lc-rs's `UnparsedPublicKey::verify_digest` directly (ECDSA P-256 and P-384 over a
//! SHA-256 digest, RSA PKCS#1 v1.5 with SHA-256). Ed25519 keys are rejected as unsupported:
//! Rekor verifies them as Ed25519ph over a SHA-512 digest, which a sha256 entry cannot carry.

use crate::error::ApiError;
use aws_lc_rs::digest::{Digest as LcDigest, SHA256};
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use hallmark_core::{KeyAlgorithm, PublicKey};
use hallmark_tlog::Hash;
use hallmark_tlog::rekor::HashedRekord;
use hallmark_tlog::tiles::MAX_ENTRY_SIZE;
use spki::SubjectPublicKeyInfoRef;
use spki::der::Decode as _;
use x509_cert::der::Encode as _;

/// A validated entry: its canonical body (the leaf data) and leaf hash.
#[derive(Debug, Clone)]
pub struct ValidEntry {
    /// The RFC 8785 canonical body.
    pub body: Vec<u8>,
    /// The RFC 6962 leaf hash of the body (the entry UUID).
    pub leaf_hash: Hash,
}

/// Parse a proposed entry without checking its signature (for lookups by entry).
pub fn parse_proposed(json: &[u8]) -> Result<HashedRekord, ApiError> {
    let entry = HashedRekord::parse(json).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if entry.digest.algorithm_name() != "sha256" {
        return Err(ApiError::bad_request(format!(
            "spec.data.hash.algorithm is {:?}; this log accepts sha256",
            entry.digest.algorithm_name()
        )));
    }
    Ok(entry)
}

/// Validate a proposed entry: shape, key type, and the signature over the digest.
pub fn validate(json: &[u8]) -> Result<ValidEntry, ApiError> {
    let entry = parse_proposed(json)?;
    let key = signer_key(&entry.signer_pem)?;
    verify_digest_signature(&key, entry.digest.hex(), &entry.signature)?;
    let body = entry.canonical_body();
    if body.len() > MAX_ENTRY_SIZE {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the canonical entry is {} bytes; entries are at most {MAX_ENTRY_SIZE} bytes",
                body.len()
            ),
        ));
    }
    let leaf_hash = hallmark_tlog::leaf_hash(&body);
    Ok(ValidEntry { body, leaf_hash })
}

/// The public key of `spec.signature.publicKey.content`: a `PUBLIC KEY` PEM, or a
/// `CERTIFICATE` PEM whose subject key is used (the certificate itself is not validated, as
/// in Rekor).
pub fn signer_key(pem: &[u8]) -> Result<PublicKey, ApiError> {
    let bad = |reason: String| {
        ApiError::bad_request(format!("spec.signature.publicKey.content: {reason}"))
    };
    let (label, der) = pem_rfc7468::decode_vec(pem).map_err(|e| {
        bad(format!(
            "expected base64 of a PEM public key or certificate ({e})"
        ))
    })?;
    let spki = match label {
        "PUBLIC KEY" => der,
        "CERTIFICATE" => {
            let cert = x509_cert::Certificate::from_der(&der)
                .map_err(|e| bad(format!("the certificate does not parse ({e})")))?;
            cert.tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|e| bad(format!("the certificate's key does not encode ({e})")))?
        }
        other => {
            return Err(bad(format!(
                "PEM label {other:?}; expected PUBLIC KEY or CERTIFICATE"
            )));
        }
    };
    PublicKey::from_spki_der_named(&spki, "signer public key").map_err(|e| bad(e.to_string()))
}

/// Verify `signature` over the SHA-256 digest `digest_hex` (prehashed).
pub fn verify_digest_signature(
    key: &PublicKey,
    digest_hex: &str,
    signature: &[u8],
) -> Result<(), ApiError> {
    let algorithm: &'static dyn VerificationAlgorithm = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
        KeyAlgorithm::EcdsaP384 => &sig::ECDSA_P384_SHA256_ASN1,
        KeyAlgorithm::Rsa => &sig::RSA_PKCS1_2048_8192_SHA256,
        other => {
            return Err(ApiError::bad_request(format!(
                "unsupported key type {other} for hashedrekord with a sha256 digest; \
                 expected ECDSA P-256, ECDSA P-384 or RSA"
            )));
        }
    };
    let digest_bytes = hex::decode(digest_hex)
        .map_err(|_| ApiError::bad_request("spec.data.hash.value: expected hex"))?;
    let digest = LcDigest::import_less_safe(&digest_bytes, &SHA256).map_err(|_| {
        ApiError::bad_request("spec.data.hash.value: expected 64 hex digits (SHA-256)")
    })?;
    let raw = raw_key(key.spki_der())?;
    UnparsedPublicKey::new(algorithm, raw)
        .verify_digest(&digest, signature)
        .map_err(|_| {
            ApiError::bad_request(
                "the signature does not verify over spec.data.hash with the given public key",
            )
        })
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo (what aws-lc-rs takes).
fn raw_key(spki_der: &[u8]) -> Result<&[u8], ApiError> {
    SubjectPublicKeyInfoRef::from_der(spki_der)
        .ok()
        .and_then(|s| s.subject_public_key.as_bytes())
        .ok_or_else(|| ApiError::bad_request("the public key does not parse"))
}
