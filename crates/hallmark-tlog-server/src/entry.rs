//! Validation of proposed `hashedrekord` 0.0.1 and `dsse` 0.0.1 entries, before anything is
//! queued.
//!
//! A `dsse` entry's signatures are checked over the envelope's DSSE pre-authentication
//! encoding with its verifiers (public keys or certificates' keys, the certificates not
//! validated, as in Rekor), each verifier paired with a signature as Rekor pairs them; the log
//! stores Rekor's canonical `dsse` body (hashes of the envelope and payload, each signature and
//! its verifier), not the envelope.
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
use hallmark_tlog::rekor::{DSSE_KIND, DsseRekord, HashedRekord, RekorError};
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

/// The most signatures, and the most verifiers, a `dsse` entry may have (Rekor sets no bound;
/// pairing them costs up to the product of the two in signature checks).
pub const MAX_DSSE_SIGNERS: usize = 16;

/// The kinds this log accepts, for messages.
const KINDS: &str = "hashedrekord 0.0.1 or dsse 0.0.1";

/// A proposed entry, parsed; its signature not checked.
enum Proposed {
    HashedRekord(HashedRekord),
    Dsse(DsseRekord),
}

fn parse(json: &[u8]) -> Result<Proposed, ApiError> {
    let unsupported = |kind: &str, api_version: &str| {
        ApiError::bad_request(format!(
            "the entry is kind {kind:?} apiVersion {api_version:?}; this log accepts {KINDS}"
        ))
    };
    let entry = match HashedRekord::parse(json) {
        Ok(e) => e,
        Err(RekorError::UnsupportedEntry { kind, .. }) if kind == DSSE_KIND => {
            return match DsseRekord::parse_proposed(json) {
                Ok(d) => Ok(Proposed::Dsse(d)),
                Err(RekorError::UnsupportedEntry { kind, api_version }) => {
                    Err(unsupported(&kind, &api_version))
                }
                Err(e) => Err(ApiError::bad_request(e.to_string())),
            };
        }
        Err(RekorError::UnsupportedEntry { kind, api_version }) => {
            return Err(unsupported(&kind, &api_version));
        }
        Err(e) => return Err(ApiError::bad_request(e.to_string())),
    };
    if entry.digest.algorithm_name() != "sha256" {
        return Err(ApiError::bad_request(format!(
            "spec.data.hash.algorithm is {:?}; this log accepts sha256",
            entry.digest.algorithm_name()
        )));
    }
    Ok(Proposed::HashedRekord(entry))
}

/// The leaf hash a proposed entry would have, without checking its signature (for lookups
/// by entry).
pub fn proposed_leaf_hash(json: &[u8]) -> Result<Hash, ApiError> {
    Ok(match parse(json)? {
        Proposed::HashedRekord(e) => e.leaf_hash(),
        // Which verifier made which signature is only known once they are checked.
        Proposed::Dsse(d) => hallmark_tlog::leaf_hash(&dsse_body(&d)?),
    })
}

/// Validate a proposed entry: shape, key type, and its signature.
pub fn validate(json: &[u8]) -> Result<ValidEntry, ApiError> {
    let body = match parse(json)? {
        Proposed::HashedRekord(entry) => {
            let key = signer_key(&entry.signer_pem)?;
            verify_digest_signature(&key, entry.digest.hex(), &entry.signature)?;
            entry.canonical_body()
        }
        Proposed::Dsse(entry) => dsse_body(&entry)?,
    };
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

/// Check a `dsse` entry's signatures over the envelope's DSSE pre-authentication encoding
/// with its verifiers, pairing them as Rekor does (a signature's `keyid`, when it has one,
/// must be the verifier's SSH key ID), and write the body the log stores.
fn dsse_body(entry: &DsseRekord) -> Result<Vec<u8>, ApiError> {
    // Pairing checks up to verifiers x signatures signatures (Rekor's order): bounded, so one
    // request cannot cost seconds of CPU.
    for (what, found) in [
        ("signatures in the envelope", entry.signatures.len()),
        ("verifiers", entry.verifiers.len()),
    ] {
        if found > MAX_DSSE_SIGNERS {
            return Err(ApiError::bad_request(format!(
                "the dsse entry has {found} {what}; this log accepts at most {MAX_DSSE_SIGNERS}"
            )));
        }
    }
    // Verifiers are parsed when pairing reaches them, as Rekor parses them: one after every
    // signature is paired is neither parsed nor checked.
    let mut keys: Vec<Option<(PublicKey, Option<String>)>> = vec![None; entry.verifiers.len()];
    let mut bad_key: Option<ApiError> = None;
    let pae = entry.pae();
    let paired = entry.pair(|v, s| {
        if bad_key.is_some() {
            return false;
        }
        let (key, id) = match &mut keys[v] {
            Some(parsed) => &*parsed,
            slot @ None => {
                let field = format!("spec.proposedContent.verifiers[{v}]");
                match signer_key_of(&entry.verifiers[v], &field) {
                    Ok(key) => {
                        let id = key.ssh_key_id();
                        &*slot.insert((key, id))
                    }
                    Err(e) => {
                        bad_key = Some(e);
                        return false;
                    }
                }
            }
        };
        let signature = &entry.signatures[s];
        let named =
            signature.keyid.is_empty() || id.as_ref().is_none_or(|id| *id == signature.keyid);
        named && key.verify(&pae, &signature.bytes).is_ok()
    });
    if let Some(e) = bad_key {
        return Err(e);
    }
    let signed = paired.map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(signed.canonical_body())
}

/// The public key of `spec.signature.publicKey.content`: a `PUBLIC KEY` PEM, or a
/// `CERTIFICATE` PEM whose subject key is used (the certificate itself is not validated, as
/// in Rekor).
pub fn signer_key(pem: &[u8]) -> Result<PublicKey, ApiError> {
    signer_key_of(pem, "spec.signature.publicKey.content")
}

/// The public key of a PEM public key or certificate given at `field`.
fn signer_key_of(pem: &[u8], field: &str) -> Result<PublicKey, ApiError> {
    let bad = |reason: String| ApiError::bad_request(format!("{field}: {reason}"));
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
