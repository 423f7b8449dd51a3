//! Pure verification of an image's signatures: no I/O, no clock.
//!
//! `verify_signatures(image, digest, candidates, policy)` accepts the image when at least one
//! candidate passes every check, in this order: it is a signature (media type), its signature
//! verifies with one of the policy's keys, its payload is well formed, it signs exactly
//! `digest`, it carries every required annotation, and (when asked) it names the expected
//! repository.
//!
//! With [`VerificationPolicy::certificates`] set, a layer carrying a certificate
//! (`dev.sigstore.cosign/certificate`) is verified by that certificate instead of by a key: the
//! Rekor SET when the policy requires a log (its `integratedTime` is the instant the certificate
//! must be valid at), the path to a trusted root, the certificate identity, then the signature
//! with the certificate's key, then the same payload, digest and claim checks (see
//! [`crate::certificate`]).

use crate::{
    BUNDLE_V03_MEDIA_TYPE, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    bundle::{self, COSIGN_SIGN_PREDICATE},
    candidate::SignatureCandidate,
    certificate::{
        Certificate, CertificatePolicy, CertificateSummary, CheckTime, TransparencyLog, UnixTime,
    },
    error::{Rejection, VerifyError},
    payload,
    rekor_set::{self, ExpectedSigner, RekorSetError},
    tlog::{self, TlogEntry, TlogError, TlogPolicy, VerifiedTlogEntry},
};
use hallmark_core::{Digest, PublicKey, RegistryRef, gojson};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether the signed docker-reference is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdentityCheck {
    /// Not checked (cosign's behaviour).
    #[default]
    Any,
    /// The signed docker-reference must name this repository (`registry/repo`; a tag or digest in
    /// the signed reference is ignored, as containers/image's `matchRepository` does).
    Repository(String),
}

/// What a signature must satisfy.
#[derive(Debug, Clone, Default)]
pub struct VerificationPolicy {
    /// Accepted keys (any one).
    pub keys: Vec<PublicKey>,
    /// Required annotations (`-a key=value`).
    pub annotations: BTreeMap<String, String>,
    /// Identity check.
    pub identity: IdentityCheck,
    /// Certificate-based verification (Fulcio or private PKI). When set, a signature carrying a
    /// certificate is verified with it (and not with `keys`); when `keys` is empty, a signature
    /// without a certificate is rejected.
    pub certificates: Option<CertificatePolicy>,
    /// Transparency-log entries of key-verified signatures: not checked, checked when present,
    /// or required.
    pub tlog: TlogPolicy,
}

/// A signature that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedSignature {
    /// Where it was found.
    pub source: String,
    /// `cosign-simplesigning` or `sigstore-bundle-v0.3`.
    pub format: &'static str,
    /// Fingerprint (sha256 hex of SubjectPublicKeyInfo) of the key that verified it (for a
    /// certificate, of the certificate's key).
    pub key_fingerprint: String,
    /// The certificate that verified it, for certificate-based verification.
    pub certificate: Option<CertificateSummary>,
    /// The signed docker-reference (simple signing only).
    pub docker_reference: Option<String>,
    /// The payload (simple signing JSON or the in-toto statement).
    pub payload: Value,
    /// Annotations (simple signing `optional` strings, or the bundle subject annotations).
    pub annotations: BTreeMap<String, String>,
    /// The transparency-log entry verified under [`VerificationPolicy::tlog`], if any.
    pub tlog_entry: Option<VerifiedTlogEntry>,
}

fn same_repository(signed: &str, expected: &str) -> bool {
    match (RegistryRef::parse(signed), RegistryRef::parse(expected)) {
        (Ok(a), Ok(b)) => a.repository_name() == b.repository_name(),
        _ => signed == expected,
    }
}

fn check_claims(
    annotations: &BTreeMap<String, String>,
    docker_reference: Option<&str>,
    policy: &VerificationPolicy,
) -> Result<(), Rejection> {
    for (k, v) in &policy.annotations {
        match annotations.get(k) {
            Some(found) if found == v => {}
            found => {
                return Err(Rejection::AnnotationMismatch {
                    key: k.clone(),
                    expected: v.clone(),
                    found: found.cloned(),
                });
            }
        }
    }
    if let IdentityCheck::Repository(expected) = &policy.identity {
        match docker_reference {
            Some(r) if same_repository(r, expected) => {}
            Some(r) => {
                return Err(Rejection::IdentityMismatch {
                    expected: expected.clone(),
                    found: r.to_owned(),
                });
            }
            None => {
                return Err(Rejection::IdentityMismatch {
                    expected: expected.clone(),
                    found: "(none: a Sigstore bundle names no repository)".into(),
                });
            }
        }
    }
    Ok(())
}

/// The instant a certificate must be valid at, after the log check `log` asks for.
pub(crate) fn check_time(
    log: &TransparencyLog,
    rekor: impl FnOnce(&[PublicKey]) -> Result<i64, RekorSetError>,
) -> Result<CheckTime, Rejection> {
    match log {
        TransparencyLog::Required { rekor_keys } => {
            let integrated = rekor(rekor_keys).map_err(Rejection::Rekor)?;
            let secs = u64::try_from(integrated).map_err(|_| {
                Rejection::Rekor(RekorSetError::Malformed {
                    reason: format!("integratedTime {integrated} is negative"),
                })
            })?;
            Ok(CheckTime::RekorIntegratedTime(UnixTime::since_unix_epoch(
                std::time::Duration::from_secs(secs),
            )))
        }
        TransparencyLog::NotRequired { now } => Ok(CheckTime::Now(*now)),
    }
}

/// Certificate path of a simple-signing layer: Rekor (when required), chain, identity, then
/// the signature with the certificate's key. Returns the key fingerprint and the certificate.
fn verify_layer_certificate(
    candidate: &SignatureCandidate,
    sig_b64: &str,
    sig: &[u8],
    pem: &str,
    policy: &CertificatePolicy,
) -> Result<(String, Certificate), Rejection> {
    let leaf = Certificate::from_leaf_pem(pem.as_bytes(), CERTIFICATE_ANNOTATION)
        .map_err(Rejection::Certificate)?;
    let chain = match candidate.annotations.get(CHAIN_ANNOTATION) {
        Some(c) => Certificate::chain_from_pem(c.as_bytes(), CHAIN_ANNOTATION)
            .map_err(Rejection::Certificate)?,
        None => Vec::new(),
    };
    let at = check_time(&policy.log, |rekor_keys| {
        let bundle = candidate
            .annotations
            .get(crate::BUNDLE_ANNOTATION)
            .ok_or(RekorSetError::MissingBundle)?;
        rekor_set::verify(
            bundle.as_bytes(),
            rekor_keys,
            &candidate.body,
            sig_b64,
            ExpectedSigner::CertificatePem(pem.as_bytes()),
        )
        .map(|entry| entry.integrated_time)
    })?;
    policy
        .trust
        .verify(&leaf, &chain, at)
        .map_err(Rejection::Certificate)?;
    policy.identity.check(&leaf)?;
    let key = leaf.public_key().map_err(Rejection::Certificate)?;
    key.verify(&candidate.body, sig)
        .map_err(|_| Rejection::CertificateSignature {
            certificate: leaf.sha256(),
            key_fingerprint: key.fingerprint(),
        })?;
    Ok((key.fingerprint(), leaf))
}

/// The `dev.sigstore.cosign/bundle` annotation of a key-verified simple-signing layer, under
/// `policy`: verified against the trusted logs and checked to record this signature.
fn check_layer_tlog(
    candidate: &SignatureCandidate,
    sig_b64: &str,
    key: &PublicKey,
    policy: &TlogPolicy,
) -> Result<Option<VerifiedTlogEntry>, Rejection> {
    let Some(logs) = policy.logs() else {
        return Ok(None);
    };
    let Some(annotation) = candidate.annotations.get(crate::BUNDLE_ANNOTATION) else {
        if policy.is_required() {
            return Err(Rejection::Tlog(TlogError::Missing {
                expected: "a dev.sigstore.cosign/bundle layer annotation (the signature was not logged)",
            }));
        }
        return Ok(None);
    };
    let entry = TlogEntry::from_annotation(annotation.as_bytes()).map_err(Rejection::Tlog)?;
    let verified = tlog::verify_entry(&entry, logs).map_err(Rejection::Tlog)?;
    rekor_set::check_hashedrekord(
        &entry.rekor.body,
        &candidate.body,
        sig_b64,
        ExpectedSigner::Key(key),
    )
    .map_err(|e| Rejection::Tlog(TlogError::Body(e)))?;
    Ok(Some(verified))
}

/// Check one candidate.
pub fn verify_candidate(
    digest: &Digest,
    candidate: &SignatureCandidate,
    policy: &VerificationPolicy,
) -> Result<VerifiedSignature, Rejection> {
    match candidate.media_type.as_str() {
        SIMPLE_SIGNING_MEDIA_TYPE => {
            let sig_b64 = candidate
                .annotations
                .get(SIGNATURE_ANNOTATION)
                .filter(|s| !s.is_empty())
                .ok_or(Rejection::MissingSignature)?;
            let sig = gojson::decode_base64(sig_b64).map_err(|_| Rejection::BadBase64)?;
            let mut tlog_entry = None;
            let (key_fingerprint, certificate) = match (
                &policy.certificates,
                candidate.annotations.get(CERTIFICATE_ANNOTATION),
            ) {
                (Some(cp), Some(pem)) => {
                    let leaf = verify_layer_certificate(candidate, sig_b64, &sig, pem, cp)?;
                    (leaf.0, Some(leaf.1.summary()))
                }
                (Some(_), None) if policy.keys.is_empty() => {
                    return Err(Rejection::MissingCertificate {
                        expected: "a dev.sigstore.cosign/certificate layer annotation",
                    });
                }
                _ => {
                    let key = policy
                        .keys
                        .iter()
                        .find(|k| k.verify(&candidate.body, &sig).is_ok())
                        .ok_or_else(|| Rejection::NoKeyVerifies {
                            tried: policy.keys.iter().map(PublicKey::fingerprint).collect(),
                        })?;
                    tlog_entry = check_layer_tlog(candidate, sig_b64, key, &policy.tlog)?;
                    (key.fingerprint(), None)
                }
            };
            let parsed = payload::parse(&candidate.body).map_err(Rejection::Payload)?;
            if &parsed.manifest_digest != digest {
                return Err(Rejection::DigestMismatch {
                    expected: digest.to_string(),
                    found: parsed.manifest_digest.to_string(),
                });
            }
            let annotations = parsed.annotations();
            check_claims(&annotations, Some(&parsed.docker_reference), policy)?;
            Ok(VerifiedSignature {
                source: candidate.source.to_string(),
                format: "cosign-simplesigning",
                key_fingerprint,
                certificate,
                docker_reference: Some(parsed.docker_reference),
                payload: parsed.json,
                annotations,
                tlog_entry,
            })
        }
        BUNDLE_V03_MEDIA_TYPE => {
            let (v, tlog_entry) = match &policy.certificates {
                Some(cp) if policy.keys.is_empty() || bundle::has_certificate(&candidate.body) => (
                    bundle::verify_certificate_bundle(&candidate.body, digest, cp)?,
                    None,
                ),
                _ => {
                    let v = bundle::verify_image_bundle(&candidate.body, digest, &policy.keys)?;
                    let key = policy
                        .keys
                        .iter()
                        .find(|k| k.fingerprint() == v.key_fingerprint);
                    let entry = match key {
                        Some(key) => {
                            bundle::verify_bundle_tlog(&candidate.body, key, &policy.tlog)?
                        }
                        None => None,
                    };
                    (v, entry)
                }
            };
            if v.predicate_type != COSIGN_SIGN_PREDICATE {
                return Err(Rejection::NotASignature {
                    media_type: format!(
                        "{BUNDLE_V03_MEDIA_TYPE} with predicate {}",
                        v.predicate_type
                    ),
                });
            }
            check_claims(&v.annotations, None, policy)?;
            Ok(VerifiedSignature {
                source: candidate.source.to_string(),
                format: "sigstore-bundle-v0.3",
                key_fingerprint: v.key_fingerprint,
                certificate: v.certificate,
                docker_reference: None,
                payload: v.statement,
                annotations: v.annotations,
                tlog_entry,
            })
        }
        other => Err(Rejection::NotASignature {
            media_type: other.to_owned(),
        }),
    }
}

/// Verify an image: at least one candidate must pass. Returns every passing signature.
pub fn verify_signatures(
    image: &str,
    digest: &Digest,
    candidates: &[SignatureCandidate],
    policy: &VerificationPolicy,
) -> Result<Vec<VerifiedSignature>, VerifyError> {
    if candidates.is_empty() {
        return Err(VerifyError::NoSignatures {
            image: image.to_owned(),
            sig_tag: format!("{}.sig", digest.tag_form()),
        });
    }
    let mut ok = Vec::new();
    let mut rejections = Vec::new();
    for c in candidates {
        match verify_candidate(digest, c, policy) {
            Ok(v) => ok.push(v),
            Err(r) => rejections.push((c.source.to_string(), r)),
        }
    }
    if ok.is_empty() {
        return Err(VerifyError::NoneValid {
            image: image.to_owned(),
            rejections,
        });
    }
    Ok(ok)
}
