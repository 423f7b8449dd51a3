//! Sigstore bundles v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`, protobuf-specs JSON
//! form), as cosign 3 attaches them to images as OCI 1.1 referrers.
//!
//! For images cosign signs an in-toto v1 statement (predicate type
//! `https://sigstore.dev/cosign/sign/v1`, subject = the image digest, `-a` annotations in the
//! subject's `annotations`) inside a DSSE envelope. hallmark verifies such bundles against public
//! keys; certificate (keyless) bundles are recognised and reported as not verifiable by key.

use crate::{
    attestation::check_statement,
    dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE},
    error::Rejection,
};
use hallmark_core::{Digest, PublicKey};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The predicate type of a cosign 3 image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The parts of a bundle hallmark reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Media type (must be v0.3).
    pub media_type: String,
    /// Keys, certificates, log entries.
    pub verification_material: VerificationMaterial,
    /// DSSE content.
    #[serde(default)]
    pub dsse_envelope: Option<Envelope>,
    /// Message-signature content.
    #[serde(default)]
    pub message_signature: Option<Value>,
}

/// Verification material.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A public-key hint (key-signed bundles).
    #[serde(default)]
    pub public_key: Option<Value>,
    /// A leaf certificate (keyless bundles).
    #[serde(default)]
    pub certificate: Option<Value>,
    /// A certificate chain (older bundles).
    #[serde(default)]
    pub x509_certificate_chain: Option<Value>,
    /// Transparency-log entries.
    #[serde(default)]
    pub tlog_entries: Vec<Value>,
}

/// What a verified bundle says.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    /// Fingerprint of the key that verified the envelope.
    pub key_fingerprint: String,
    /// The statement.
    pub statement: Value,
    /// The predicate type.
    pub predicate_type: String,
    /// The subject annotations (cosign's `-a`).
    pub annotations: BTreeMap<String, String>,
}

/// Parse bundle JSON.
pub fn parse(bytes: &[u8]) -> Result<Bundle, Rejection> {
    let b: Bundle = serde_json::from_slice(bytes).map_err(|e| Rejection::Malformed {
        reason: format!("Sigstore bundle: {e}"),
    })?;
    if b.media_type != crate::BUNDLE_V03_MEDIA_TYPE {
        return Err(Rejection::Malformed {
            reason: format!(
                "bundle mediaType is {:?}, expected {}",
                b.media_type,
                crate::BUNDLE_V03_MEDIA_TYPE
            ),
        });
    }
    Ok(b)
}

/// Verify a bundle attached to image `digest` with `keys`.
pub fn verify_image_bundle(
    bytes: &[u8],
    digest: &Digest,
    keys: &[PublicKey],
) -> Result<VerifiedBundle, Rejection> {
    let bundle = parse(bytes)?;
    let Some(envelope) = bundle.dsse_envelope.as_ref() else {
        return Err(Rejection::Malformed {
            reason:
                "image bundle has no dsseEnvelope (messageSignature bundles sign blobs, not images)"
                    .into(),
        });
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Rejection::Malformed {
            reason: format!(
                "DSSE payloadType is {:?}, expected {IN_TOTO_PAYLOAD_TYPE}",
                envelope.payload_type
            ),
        });
    }
    if envelope.signatures.len() != 1 {
        return Err(Rejection::Malformed {
            reason: format!(
                "bundle DSSE envelope must have exactly 1 signature, found {}",
                envelope.signatures.len()
            ),
        });
    }
    let (body, key_fingerprint) = match envelope.verify(keys) {
        Ok(v) => v,
        Err(Rejection::NoKeyVerifies { tried })
            if bundle.verification_material.certificate.is_some()
                || bundle
                    .verification_material
                    .x509_certificate_chain
                    .is_some() =>
        {
            return Err(Rejection::Malformed {
                reason: format!(
                    "bundle is signed with a certificate (keyless), not with the given key{} ({}); certificate verification is not supported yet",
                    if tried.len() == 1 { "" } else { "s" },
                    tried.join(", ")
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let statement = check_statement(&body, digest)?;
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let annotations = statement
        .get("subject")
        .and_then(Value::as_array)
        .and_then(|subjects| {
            subjects.iter().find(|s| {
                s.get("digest")
                    .and_then(|d| d.get(digest.algorithm_name()))
                    .and_then(Value::as_str)
                    == Some(digest.hex())
            })
        })
        .and_then(|s| s.get("annotations"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(VerifiedBundle {
        key_fingerprint,
        statement,
        predicate_type,
        annotations,
    })
}
