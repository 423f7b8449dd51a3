//! Errors of signing and verification.

use crate::{certificate::CertificateError, rekor_set::RekorSetError, tlog::TlogError};
use hallmark_core::DigestError;
use thiserror::Error;

/// A simple-signing payload is malformed.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not JSON at all.
    #[error("payload is not JSON: {reason}")]
    NotJson {
        /// Parser message.
        reason: String,
    },
    /// A value that must be an object is not.
    #[error("payload field {object} is not a JSON object")]
    NotAnObject {
        /// Which.
        object: &'static str,
    },
    /// A value that must be a string is not.
    #[error("payload field {field} is not a string")]
    NotAString {
        /// Which.
        field: &'static str,
    },
    /// A required field is missing.
    #[error("payload {object} lacks required field {field:?}")]
    MissingField {
        /// Enclosing object.
        object: &'static str,
        /// Missing field.
        field: &'static str,
    },
    /// A field not allowed by the format.
    #[error("payload {object} has unexpected field {field:?}")]
    UnexpectedField {
        /// Enclosing object.
        object: &'static str,
        /// Unexpected field.
        field: String,
    },
    /// `critical.type` is wrong.
    #[error("payload type is {found:?}, expected \"cosign container image signature\"")]
    WrongType {
        /// What was found.
        found: String,
    },
    /// The digest in the payload is malformed.
    #[error("payload docker-manifest-digest")]
    BadDigest {
        /// Why.
        source: DigestError,
    },
}

/// Why one signature candidate was not accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rejection {
    /// The layer has no signature annotation (or it is empty).
    MissingSignature,
    /// The base64 signature does not decode.
    BadBase64,
    /// No given key verifies the signature.
    NoKeyVerifies {
        /// Fingerprints of the keys tried.
        tried: Vec<String>,
    },
    /// The payload is malformed.
    Payload(PayloadError),
    /// The payload signs another image.
    DigestMismatch {
        /// The image digest.
        expected: String,
        /// The digest in the payload.
        found: String,
    },
    /// An `-a key=value` claim is absent or different.
    AnnotationMismatch {
        /// Key.
        key: String,
        /// Expected value.
        expected: String,
        /// Found value, if any.
        found: Option<String>,
    },
    /// The docker-reference is not the expected repository.
    IdentityMismatch {
        /// Expected repository.
        expected: String,
        /// docker-reference found.
        found: String,
    },
    /// A bundle or envelope is malformed or of the wrong kind.
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The media type is not a signature.
    NotASignature {
        /// Media type found.
        media_type: String,
    },
    /// Certificate verification is required but the signature carries no certificate.
    MissingCertificate {
        /// Where a certificate was looked for.
        expected: &'static str,
    },
    /// The certificate, its chain or its path to a trusted root is not acceptable.
    Certificate(CertificateError),
    /// The certificate's OIDC issuer is not the expected one.
    CertificateIssuerMismatch {
        /// The expected issuer.
        expected: String,
        /// The issuer in the certificate, if any.
        found: Option<String>,
    },
    /// The certificate does not name the expected signer.
    CertificateIdentityMismatch {
        /// The subject name required.
        expected: String,
        /// The certificate's SANs.
        found: String,
    },
    /// The signature does not verify with the certificate's public key.
    CertificateSignature {
        /// sha256 of the certificate DER.
        certificate: String,
        /// Fingerprint of its public key.
        key_fingerprint: String,
    },
    /// The required Rekor entry is missing or not acceptable.
    Rekor(RekorSetError),
    /// A transparency-log entry is missing (when required) or does not verify.
    Tlog(TlogError),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::MissingSignature => f.write_str("no signature in the layer annotation dev.cosignproject.cosign/signature"),
            Rejection::BadBase64 => f.write_str("signature annotation dev.cosignproject.cosign/signature is not valid base64: expected standard base64 of the signature"),
            Rejection::NoKeyVerifies { tried } => {
                write!(f, "signature does not verify with the given key{} ({})", if tried.len() == 1 { "" } else { "s" }, tried.iter().map(|t| format!("sha256:{t}")).collect::<Vec<_>>().join(", "))
            }
            // A rejection is one line of a list, not an error chain: the payload error and
            // its cause are written here.
            Rejection::Payload(e) => f.write_str(&hallmark_core::error::chain(e)),
            Rejection::DigestMismatch { expected, found } => {
                write!(f, "payload signs {found}, expected the image digest {expected}")
            }
            Rejection::AnnotationMismatch { key, expected, found: Some(found) } => {
                write!(f, "annotation {key}: expected {expected:?}, found {found:?}")
            }
            Rejection::AnnotationMismatch { key, expected, found: None } => {
                write!(f, "annotation {key}: expected {expected:?}, found none")
            }
            Rejection::IdentityMismatch { expected, found } => {
                write!(f, "signed identity is {found:?}, expected repository {expected:?}")
            }
            Rejection::Malformed { reason } => write!(f, "malformed signature: {reason}"),
            Rejection::NotASignature { media_type } => {
                write!(f, "attachment of media type {media_type} is not a signature")
            }
            Rejection::MissingCertificate { expected } => {
                write!(f, "no signing certificate: expected {expected}, found none")
            }
            Rejection::Certificate(e) => write!(f, "{e}"),
            Rejection::CertificateIssuerMismatch { expected, found: Some(found) } => {
                write!(f, "certificate OIDC issuer is {found:?}, expected {expected:?}")
            }
            Rejection::CertificateIssuerMismatch { expected, found: None } => {
                write!(f, "certificate has no OIDC issuer extension, expected issuer {expected:?}")
            }
            Rejection::CertificateIdentityMismatch { expected, found } => {
                write!(f, "certificate names {found}, expected {expected}")
            }
            Rejection::CertificateSignature { certificate, key_fingerprint } => write!(
                f,
                "signature does not verify with the public key sha256:{key_fingerprint} of certificate sha256:{certificate}"
            ),
            Rejection::Rekor(e) => write!(f, "{e}"),
            Rejection::Tlog(e) => write!(f, "{e}"),
        }
    }
}

/// Verification of one image failed.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum VerifyError {
    /// No signatures at all.
    #[error(
        "no signatures found for {image}: expected a signature at tag {sig_tag} or a Sigstore bundle referrer, found none"
    )]
    NoSignatures {
        /// The image.
        image: String,
        /// The `.sig` tag looked up.
        sig_tag: String,
    },
    /// No attestations at all.
    #[error(
        "no attestations found for {image}: expected an attestation at tag {att_tag} or an in-toto bundle referrer, found none"
    )]
    NoAttestations {
        /// The image.
        image: String,
        /// The `.att` tag looked up.
        att_tag: String,
    },
    /// Attestations exist but none is valid.
    #[error("no valid attestation for {image}: {}", rejections_text(.rejections))]
    NoneValidAttestation {
        /// The image.
        image: String,
        /// One reason per candidate, with where it came from.
        rejections: Vec<(String, Rejection)>,
    },
    /// Signatures exist but none is valid.
    #[error("no valid signature for {image}: {}", rejections_text(.rejections))]
    NoneValid {
        /// The image.
        image: String,
        /// One reason per candidate, with where it came from.
        rejections: Vec<(String, Rejection)>,
    },
}

fn rejections_text(r: &[(String, Rejection)]) -> String {
    r.iter()
        .map(|(src, why)| format!("[{src}] {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An attachment manifest (`sha256-<hex>.sig` / `.att`) or its config is not usable.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigManifestError {
    /// A manifest or config is malformed.
    #[error("malformed {what} at {location}: {reason}")]
    Malformed {
        /// What.
        what: String,
        /// Where.
        location: String,
        /// Why.
        reason: String,
    },
    /// Too many layers in an attachment manifest.
    #[error("{location}: expected a signature manifest of at most {limit} layers, found {count}")]
    TooManyLayers {
        /// Where.
        location: String,
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
}
