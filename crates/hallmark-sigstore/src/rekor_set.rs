//! cosign's Rekor bundle annotation (`dev.sigstore.cosign/bundle`) and its Signed Entry
//! Timestamp (SET, Rekor v1's "inclusion promise").
//!
//! The annotation is cosign's `RekorBundle` JSON:
//! `{"SignedEntryTimestamp":"<b64>","Payload":{"body":"<b64>","integratedTime":N,"logIndex":N,"logID":"<hex>"}}`.
//! It is read as strictly as containers/image reads it: exactly these fields, integers as JSON
//! integers, `body` valid base64.
//!
//! The SET is Rekor's ECDSA P-256 / SHA-256 (ASN.1 DER) signature over the RFC 8785 canonical
//! JSON of the payload, which for this shape is the keys in sorted order without whitespace:
//! `{"body":"<b64 as given>","integratedTime":N,"logID":"<hex>","logIndex":N}`. The `logID` is
//! the lower-case hex SHA-256 of the DER SubjectPublicKeyInfo of the Rekor key.
//!
//! The `body` is the canonical Rekor entry; cosign key and keyless signatures log a
//! `hashedrekord` 0.0.1 entry: `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":
//! {"hash":{"algorithm":"sha256","value":"<hex sha256 of the payload>"}},"signature":{"content":
//! "<b64 signature>","publicKey":{"content":"<b64 of a PEM public key or certificate>"}}}}`.
//! [`verify`] checks that the entry records exactly the signature, payload and signer at hand,
//! so a genuine SET for another signature is rejected.
//!
//! Everything here is pure: no I/O, no clock.

use crate::{BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, candidate::SignatureCandidate};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::gojson;
use hallmark_core::{Digest, KeyAlgorithm, PublicKey};
use serde::Deserialize;
use thiserror::Error;

/// The only Rekor entry kind hallmark checks.
pub const HASHEDREKORD_KIND: &str = "hashedrekord";
/// The only `hashedrekord` API version hallmark checks.
pub const HASHEDREKORD_VERSION: &str = "0.0.1";

/// Why a Rekor bundle annotation was not accepted. Values found in the bundle are untrusted
/// and shown for diagnosis only.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RekorSetError {
    /// The signature layer has no `dev.sigstore.cosign/bundle` annotation.
    #[error("no Rekor bundle: the layer has no {BUNDLE_ANNOTATION} annotation")]
    MissingBundle,
    /// The signature layer has no (or an empty) signature annotation.
    #[error("no signature in the layer annotation {SIGNATURE_ANNOTATION}")]
    MissingSignature,
    /// The signature to check is not base64.
    #[error("the signature to check against the Rekor entry is not valid base64")]
    SignatureNotBase64,
    /// The annotation is not a well-formed RekorBundle.
    #[error("malformed Rekor bundle: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// No Rekor public key was given.
    #[error("no Rekor public key given: a Rekor SET cannot be checked without the log's key")]
    NoLogKeys,
    /// A Rekor key is not an ECDSA P-256 key (a configuration error).
    #[error("Rekor public key sha256:{fingerprint} is {found}, expected an ECDSA P-256 key")]
    UnsupportedLogKey {
        /// Fingerprint of the key.
        fingerprint: String,
        /// Its algorithm.
        found: &'static str,
    },
    /// The SET does not verify with any given Rekor key.
    #[error("the Rekor SET does not verify with the given Rekor key{} ({})", if .tried.len() == 1 { "" } else { "s" }, .tried.iter().map(|t| format!("sha256:{t}")).collect::<Vec<_>>().join(", "))]
    BadSet {
        /// Fingerprints of the Rekor keys tried.
        tried: Vec<String>,
    },
    /// The `logID` is not the ID of the Rekor key that signed the SET.
    #[error(
        "Rekor bundle logID is {found:?}, expected {expected} (the ID of the Rekor key that signed the SET)"
    )]
    LogIdMismatch {
        /// The ID of the key that verified the SET.
        expected: String,
        /// The `logID` in the bundle.
        found: String,
    },
    /// The entry body is not a readable `hashedrekord` entry.
    #[error("Rekor entry body: {reason}")]
    BadBody {
        /// What is wrong.
        reason: String,
    },
    /// The entry is not a `hashedrekord` 0.0.1 entry.
    #[error(
        "Rekor entry is {found_kind} {found_version}, expected {HASHEDREKORD_KIND} {HASHEDREKORD_VERSION}"
    )]
    UnsupportedEntry {
        /// `kind` found.
        found_kind: String,
        /// `apiVersion` found.
        found_version: String,
    },
    /// The entry hashes the payload with another algorithm.
    #[error("Rekor entry hash algorithm is {found:?}, expected \"sha256\"")]
    HashAlgorithm {
        /// The algorithm found.
        found: String,
    },
    /// The entry records the hash of another payload.
    #[error("Rekor entry records payload hash {found}, expected {expected} (the signed payload)")]
    PayloadHashMismatch {
        /// sha256 of the signed payload.
        expected: String,
        /// The hash in the entry.
        found: String,
    },
    /// The entry records another signature.
    #[error("signature in the Rekor entry does not match: expected {expected}, found {found}")]
    SignatureMismatch {
        /// The layer's base64 signature.
        expected: String,
        /// The base64 signature in the entry.
        found: String,
    },
    /// The entry's public key or certificate is not one PEM block.
    #[error("Rekor entry public key: {reason}")]
    BadLoggedSigner {
        /// What is wrong.
        reason: String,
    },
    /// The given signer certificate is not one PEM block.
    #[error("signer certificate: {reason}")]
    BadSignerCertificate {
        /// What is wrong.
        reason: String,
    },
    /// The entry names another signer.
    #[error("signer in the Rekor entry does not match: expected {expected}, found {found}")]
    SignerMismatch {
        /// The signer at hand.
        expected: String,
        /// The signer in the entry.
        found: String,
    },
}

/// The `Payload` of a RekorBundle: the fields the SET signs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RekorPayload {
    /// Base64 of the canonical entry, exactly as given.
    pub body: String,
    /// When the log integrated the entry (Unix seconds).
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// Index of the entry in the log.
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// Hex SHA-256 of the log key's SubjectPublicKeyInfo.
    #[serde(rename = "logID")]
    pub log_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

/// A parsed (not yet verified) RekorBundle annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorBundle {
    /// The decoded SET (an ASN.1 DER ECDSA signature).
    pub signed_entry_timestamp: Vec<u8>,
    /// The signed payload.
    pub payload: RekorPayload,
    /// The decoded entry body.
    pub body: Vec<u8>,
}

impl RekorBundle {
    /// Parse the annotation value.
    pub fn parse(bytes: &[u8]) -> Result<Self, RekorSetError> {
        let raw: RawBundle =
            serde_json::from_slice(bytes).map_err(|e| RekorSetError::Malformed {
                reason: e.to_string(),
            })?;
        let signed_entry_timestamp = STANDARD
            .decode(raw.signed_entry_timestamp.as_bytes())
            .map_err(|_| RekorSetError::Malformed {
                reason: "SignedEntryTimestamp is not base64".into(),
            })?;
        if signed_entry_timestamp.is_empty() {
            return Err(RekorSetError::Malformed {
                reason: "SignedEntryTimestamp is empty".into(),
            });
        }
        let body =
            STANDARD
                .decode(raw.payload.body.as_bytes())
                .map_err(|_| RekorSetError::Malformed {
                    reason: "Payload.body is not base64".into(),
                })?;
        Ok(RekorBundle {
            signed_entry_timestamp,
            payload: raw.payload,
            body,
        })
    }

    /// The same data from a Sigstore bundle's `verificationMaterial.tlogEntries[i]`
    /// (protobuf-specs JSON: int64 as strings, `logId.keyId` base64,
    /// `inclusionPromise.signedEntryTimestamp`, `canonicalizedBody`).
    pub fn from_tlog_entry(entry: &serde_json::Value) -> Result<Self, RekorSetError> {
        let malformed = |reason: &str| RekorSetError::Malformed {
            reason: format!("tlog entry: {reason}"),
        };
        let int = |field: &'static str| -> Result<i64, RekorSetError> {
            match entry.get(field) {
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                Some(serde_json::Value::Number(n)) => n.as_i64(),
                _ => None,
            }
            .ok_or_else(|| malformed(&format!("{field} is missing or not an integer")))
        };
        let string = |pointer: &str| -> Result<&str, RekorSetError> {
            entry
                .pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| malformed(&format!("{pointer} is missing or not a string")))
        };
        let b64 = |pointer: &str| -> Result<Vec<u8>, RekorSetError> {
            STANDARD
                .decode(string(pointer)?.as_bytes())
                .map_err(|_| malformed(&format!("{pointer} is not base64")))
        };
        let signed_entry_timestamp = b64("/inclusionPromise/signedEntryTimestamp")?;
        if signed_entry_timestamp.is_empty() {
            return Err(malformed("the inclusion promise is empty"));
        }
        let body_b64 = string("/canonicalizedBody")?.to_owned();
        let body = b64("/canonicalizedBody")?;
        let payload = RekorPayload {
            body: body_b64,
            integrated_time: int("integratedTime")?,
            log_index: int("logIndex")?,
            log_id: hex::encode(b64("/logId/keyId")?),
        };
        Ok(RekorBundle {
            signed_entry_timestamp,
            payload,
            body,
        })
    }

    /// The bytes the SET signs: the payload as RFC 8785 canonical JSON (hallmark-tlog's
    /// canonicalisation, the one hallmark's log signs with).
    pub fn canonical_payload(&self) -> Vec<u8> {
        let p = &self.payload;
        hallmark_tlog::rekor::SetPayload {
            body: p.body.clone(),
            integrated_time: p.integrated_time,
            log_id: p.log_id.clone(),
            log_index: p.log_index,
        }
        .canonical_bytes()
    }

    /// Verify the SET with one of `rekor_keys` (every one must be ECDSA P-256) and check that the
    /// `logID` names the key that verified it. Returns that key's fingerprint (= the log ID).
    pub fn verify_set(&self, rekor_keys: &[PublicKey]) -> Result<String, RekorSetError> {
        if rekor_keys.is_empty() {
            return Err(RekorSetError::NoLogKeys);
        }
        if let Some(k) = rekor_keys
            .iter()
            .find(|k| k.algorithm() != KeyAlgorithm::EcdsaP256)
        {
            return Err(RekorSetError::UnsupportedLogKey {
                fingerprint: k.fingerprint(),
                found: k.algorithm().name(),
            });
        }
        let message = self.canonical_payload();
        let key = rekor_keys
            .iter()
            .find(|k| k.verify(&message, &self.signed_entry_timestamp).is_ok())
            .ok_or_else(|| RekorSetError::BadSet {
                tried: rekor_keys.iter().map(PublicKey::fingerprint).collect(),
            })?;
        let log_id = key.fingerprint();
        if self.payload.log_id != log_id {
            return Err(RekorSetError::LogIdMismatch {
                expected: log_id,
                found: self.payload.log_id.clone(),
            });
        }
        Ok(log_id)
    }

    /// Parse the body as a `hashedrekord` 0.0.1 entry.
    pub fn hashed_rekord(&self) -> Result<HashedRekord, RekorSetError> {
        HashedRekord::parse(&self.body)
    }
}

/// The parts of a `hashedrekord` 0.0.1 entry hallmark checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedRekord {
    /// `spec.data.hash.algorithm`.
    pub hash_algorithm: String,
    /// `spec.data.hash.value` (hex).
    pub hash_value: String,
    /// `spec.signature.content` (base64), as given.
    pub signature: String,
    /// The decoded `spec.signature.publicKey.content`: a PEM public key or certificate.
    pub signer_pem: Vec<u8>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSpec {
    data: RawData,
    signature: RawSignature,
}
#[derive(Deserialize)]
struct RawData {
    hash: RawHash,
}
#[derive(Deserialize)]
struct RawHash {
    algorithm: String,
    value: String,
}
#[derive(Deserialize)]
struct RawSignature {
    content: String,
    #[serde(rename = "publicKey")]
    public_key: RawContent,
}
#[derive(Deserialize)]
struct RawContent {
    content: String,
}

impl HashedRekord {
    /// Parse a canonical entry body.
    pub fn parse(body: &[u8]) -> Result<Self, RekorSetError> {
        let bad = |reason: String| RekorSetError::BadBody { reason };
        let entry: RawEntry = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
        if entry.kind != HASHEDREKORD_KIND || entry.api_version != HASHEDREKORD_VERSION {
            return Err(RekorSetError::UnsupportedEntry {
                found_kind: entry.kind,
                found_version: entry.api_version,
            });
        }
        let spec: RawSpec =
            serde_json::from_value(entry.spec).map_err(|e| bad(format!("spec: {e}")))?;
        let signer_pem = STANDARD
            .decode(spec.signature.public_key.content.as_bytes())
            .map_err(|_| bad("spec.signature.publicKey.content is not base64".into()))?;
        Ok(HashedRekord {
            hash_algorithm: spec.data.hash.algorithm,
            hash_value: spec.data.hash.value,
            signature: spec.signature.content,
            signer_pem,
        })
    }
}

/// The signer a Rekor entry must name.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ExpectedSigner<'a> {
    /// The public key that verified the signature (the entry must log this `PUBLIC KEY`).
    Key(&'a PublicKey),
    /// The signing certificate, one PEM block (the entry must log this `CERTIFICATE`).
    CertificatePem(&'a [u8]),
}

/// The signer the entry logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoggedSigner {
    /// A public key: its fingerprint (hex sha256 of the SubjectPublicKeyInfo).
    PublicKey {
        /// Fingerprint.
        fingerprint: String,
    },
    /// A certificate: hex sha256 of its DER.
    Certificate {
        /// sha256 of the DER certificate.
        sha256: String,
    },
}

/// A Rekor bundle that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRekorEntry {
    /// When the log integrated the entry (Unix seconds), vouched for by the log.
    pub integrated_time: i64,
    /// Index of the entry in the log.
    pub log_index: i64,
    /// The log ID (= fingerprint of the Rekor key that verified the SET).
    pub log_id: String,
    /// The signer the entry logs.
    pub signer: LoggedSigner,
}

/// One PEM block, nothing else: (label, DER).
fn single_pem(bytes: &[u8]) -> Result<(String, Vec<u8>), String> {
    if bytes.is_empty() {
        return Err("empty, expected one PEM block".into());
    }
    let (label, der) =
        pem_rfc7468::decode_vec(bytes).map_err(|e| format!("not a single PEM block ({e})"))?;
    Ok((label.to_owned(), der))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).hex().to_owned()
}

/// Verify a RekorBundle annotation for one signature: `payload` (the signed layer bytes),
/// `signature_b64` (the layer's base64 signature), signed by `signer`, against `rekor_keys`.
pub fn verify(
    bundle_json: &[u8],
    rekor_keys: &[PublicKey],
    payload: &[u8],
    signature_b64: &str,
    signer: ExpectedSigner<'_>,
) -> Result<VerifiedRekorEntry, RekorSetError> {
    let bundle = RekorBundle::parse(bundle_json)?;
    let log_id = bundle.verify_set(rekor_keys)?;
    let signer = check_hashedrekord(&bundle.body, payload, signature_b64, signer)?;
    Ok(VerifiedRekorEntry {
        integrated_time: bundle.payload.integrated_time,
        log_index: bundle.payload.log_index,
        log_id,
        signer,
    })
}

/// Check that a `hashedrekord` 0.0.1 entry body records exactly this signature: `signature_b64`
/// (base64) over `payload` (its sha256), by `signer`. Returns the signer the entry logs.
pub fn check_hashedrekord(
    body: &[u8],
    payload: &[u8],
    signature_b64: &str,
    signer: ExpectedSigner<'_>,
) -> Result<LoggedSigner, RekorSetError> {
    let entry = HashedRekord::parse(body)?;

    let signature =
        gojson::decode_base64(signature_b64).map_err(|_| RekorSetError::SignatureNotBase64)?;
    let logged_signature =
        gojson::decode_base64(&entry.signature).map_err(|_| RekorSetError::BadBody {
            reason: "spec.signature.content is not base64".into(),
        })?;
    if signature.is_empty() || logged_signature != signature {
        return Err(RekorSetError::SignatureMismatch {
            expected: signature_b64.to_owned(),
            found: entry.signature,
        });
    }

    if entry.hash_algorithm != "sha256" {
        return Err(RekorSetError::HashAlgorithm {
            found: entry.hash_algorithm,
        });
    }
    let payload_hash = sha256_hex(payload);
    if entry.hash_value != payload_hash {
        return Err(RekorSetError::PayloadHashMismatch {
            expected: payload_hash,
            found: entry.hash_value,
        });
    }

    let (label, der) = single_pem(&entry.signer_pem)
        .map_err(|reason| RekorSetError::BadLoggedSigner { reason })?;
    let logged = match label.as_str() {
        "PUBLIC KEY" => LoggedSigner::PublicKey {
            fingerprint: sha256_hex(&der),
        },
        "CERTIFICATE" => LoggedSigner::Certificate {
            sha256: sha256_hex(&der),
        },
        other => {
            return Err(RekorSetError::BadLoggedSigner {
                reason: format!("PEM label is {other:?}, expected PUBLIC KEY or CERTIFICATE"),
            });
        }
    };
    let expected = match signer {
        ExpectedSigner::Key(key) => LoggedSigner::PublicKey {
            fingerprint: key.fingerprint(),
        },
        ExpectedSigner::CertificatePem(pem) => {
            let (label, der) =
                single_pem(pem).map_err(|reason| RekorSetError::BadSignerCertificate { reason })?;
            if label != "CERTIFICATE" {
                return Err(RekorSetError::BadSignerCertificate {
                    reason: format!("PEM label is {label:?}, expected CERTIFICATE"),
                });
            }
            LoggedSigner::Certificate {
                sha256: sha256_hex(&der),
            }
        }
    };
    if logged != expected {
        return Err(RekorSetError::SignerMismatch {
            expected: describe(&expected),
            found: describe(&logged),
        });
    }
    Ok(logged)
}

fn describe(s: &LoggedSigner) -> String {
    match s {
        LoggedSigner::PublicKey { fingerprint } => format!("public key sha256:{fingerprint}"),
        LoggedSigner::Certificate { sha256 } => format!("certificate sha256:{sha256}"),
    }
}

/// [`verify`] for a signature layer: the bundle and signature come from its annotations, the
/// payload is its body.
pub fn verify_candidate(
    candidate: &SignatureCandidate,
    rekor_keys: &[PublicKey],
    signer: ExpectedSigner<'_>,
) -> Result<VerifiedRekorEntry, RekorSetError> {
    let bundle = candidate
        .annotations
        .get(BUNDLE_ANNOTATION)
        .ok_or(RekorSetError::MissingBundle)?;
    let signature = candidate
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .filter(|s| !s.is_empty())
        .ok_or(RekorSetError::MissingSignature)?;
    verify(
        bundle.as_bytes(),
        rekor_keys,
        &candidate.body,
        signature,
        signer,
    )
}
