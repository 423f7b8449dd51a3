//! Evidence collectors of the cosign formats: signatures (`.sig` simple signing and Sigstore
//! bundle referrers) and attestations (`.att` DSSE and in-toto bundle referrers).
//!
//! A collector fetches the candidates attached to one digest and checks each against the
//! keys, certificate roots and logs the matched rule names, with [`hallmark_sigstore`]'s pure
//! verifier. What verifies becomes a fact of the evidence (who signed, the signed identity
//! and annotations, the logs it is recorded in); what does not is kept with its reason, so a
//! denial can say what was found.

use crate::material::Material;
use hallmark_core::error::chain;
use hallmark_core::{Digest, ImageRef};
use hallmark_flows::{self as flow, Attachment};
use hallmark_oci::{OciError, Store};
use hallmark_policy::{
    ImageName,
    evidence::{
        AttestationEvidence, Collected, CollectionFailure, Evidence, RejectedCandidate,
        SignatureEvidence, Signer,
    },
    model::{Requirement, Rule, SignatureFormat},
};
use hallmark_sigstore::{
    BUNDLE_V03_MEDIA_TYPE, CertificateIdentity, CertificatePolicy, DSSE_MEDIA_TYPE,
    SignatureCandidate, TlogPolicy, TransparencyLog, VerificationPolicy, VerifiedSignature,
    certificate::UnixTime,
};
use std::collections::BTreeMap;

/// The name a policy matches an image by: `registry/repository` (Docker Hub normalised) or
/// `oci:DIR`, with the tag or digest the reference gave.
pub fn image_name(image: &ImageRef) -> ImageName {
    match image {
        ImageRef::Registry(r) => ImageName::from_registry_ref(r),
        ImageRef::Layout { path, tag, digest } => {
            let digest = digest.as_ref().map(ToString::to_string);
            ImageName::from_oci_path(path, tag.as_deref(), digest.as_deref())
        }
    }
}

/// Which signature sources to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Referrers {
    /// The `.sig` tag only (bundle referrers are read later if the decision needs them).
    IfNeeded,
    /// Bundle referrers only.
    Only,
}

/// What a collector found.
#[derive(Debug, Default)]
pub struct Collection {
    signatures: Vec<SignatureEvidence>,
    attestations: Vec<AttestationEvidence>,
    rejected: Vec<RejectedCandidate>,
    failures: Vec<CollectionFailure>,
}

impl Collection {
    /// Add what was found to `evidence`.
    pub fn into_evidence(self, evidence: &mut Evidence) {
        evidence.signatures.extend(self.signatures);
        evidence.attestations.extend(self.attestations);
        evidence.rejected.extend(self.rejected);
        evidence.failures.extend(self.failures);
    }
}

fn failure(what: Collected, message: String) -> CollectionFailure {
    CollectionFailure { what, message }
}

fn now() -> UnixTime {
    let secs = time::OffsetDateTime::now_utc().unix_timestamp();
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(secs).unwrap_or_default(),
    ))
}

/// The cosign requirements of a rule (require and anyOf).
fn cosign_requirements(
    rule: &Rule,
) -> impl Iterator<Item = &hallmark_policy::model::CosignRequirement> {
    rule.require
        .iter()
        .chain(&rule.any_of)
        .filter_map(|r| match r {
            Requirement::Cosign(c) => Some(c),
            _ => None,
        })
}

/// The ids of the logs `v`'s entry verifies in, among `log_ids`, and why it does not verify in
/// the others.
fn logged_in(
    digest: &Digest,
    candidate: &SignatureCandidate,
    base: &VerificationPolicy,
    log_ids: &[String],
    material: &Material,
) -> (Vec<String>, BTreeMap<String, String>) {
    let mut out = Vec::new();
    let mut failures = BTreeMap::new();
    for id in log_ids {
        let Some(logs) = material.logs(id) else {
            continue;
        };
        let policy = VerificationPolicy {
            tlog: TlogPolicy::Required(logs.clone()),
            ..base.clone()
        };
        match hallmark_sigstore::verify::verify_candidate(digest, candidate, &policy) {
            Ok(v) if v.tlog_entry.is_some() => out.push(id.clone()),
            Ok(_) => {
                failures.insert(id.clone(), "no transparency-log entry".to_owned());
            }
            Err(e) => {
                failures.insert(id.clone(), e.to_string());
            }
        }
    }
    (out, failures)
}

fn format_of(v: &VerifiedSignature) -> SignatureFormat {
    if v.format == "sigstore-bundle-v0.3" {
        SignatureFormat::Bundle
    } else {
        SignatureFormat::SimpleSigning
    }
}

/// Check signature candidates against every key and certificate root of `rule`'s cosign
/// requirements.
fn check_signatures(
    digest: &Digest,
    candidates: &[SignatureCandidate],
    rule: &Rule,
    material: &Material,
) -> Collection {
    let mut out = Collection::default();
    let mut key_ids: Vec<String> = Vec::new();
    // (trust source id, identity-free certificate policy)
    let mut cert_policies: Vec<(String, CertificatePolicy)> = Vec::new();
    let mut log_ids: Vec<String> = Vec::new();
    for c in cosign_requirements(rule) {
        for k in &c.keys {
            let id = k.id();
            if !key_ids.contains(&id) {
                key_ids.push(id);
            }
        }
        let rekor_from_requirement: Vec<hallmark_core::PublicKey> = c
            .tlog
            .iter()
            .flat_map(|t| &t.rekor_keys)
            .filter_map(|k| material.key(&k.id()).cloned())
            .collect();
        for trust in c.keyless.iter().chain(&c.certificates) {
            let id = trust.source.id();
            if cert_policies.iter().any(|(i, _)| *i == id) {
                continue;
            }
            let Some(roots) = material.roots(&id) else {
                continue;
            };
            let mut rekor_keys = roots.rekor_keys.clone();
            rekor_keys.extend(rekor_from_requirement.iter().cloned());
            let log = if rekor_keys.is_empty() {
                TransparencyLog::NotRequired { now: now() }
            } else {
                TransparencyLog::Required { rekor_keys }
            };
            cert_policies.push((
                id,
                CertificatePolicy {
                    trust: roots.certificates.clone(),
                    identity: CertificateIdentity::any_issued_by_trusted_roots(),
                    log,
                },
            ));
        }
        if let Some(t) = &c.tlog {
            for id in t.ids() {
                if !log_ids.contains(&id) {
                    log_ids.push(id);
                }
            }
        }
    }
    for rule_tlog in rule.require.iter().chain(&rule.any_of) {
        if let Requirement::Tlog(t) = rule_tlog {
            for id in t.ids() {
                if !log_ids.contains(&id) {
                    log_ids.push(id);
                }
            }
        }
    }
    for candidate in candidates {
        let mut verified_any = false;
        let mut reasons: Vec<String> = Vec::new();
        for id in &key_ids {
            let Some(key) = material.key(id) else {
                continue;
            };
            let policy = VerificationPolicy {
                keys: vec![key.clone()],
                ..VerificationPolicy::default()
            };
            match hallmark_sigstore::verify::verify_candidate(digest, candidate, &policy) {
                Ok(v) => {
                    verified_any = true;
                    let (logged, log_failures) =
                        logged_in(digest, candidate, &policy, &log_ids, material);
                    out.signatures.push(SignatureEvidence {
                        source: v.source.clone(),
                        format: format_of(&v),
                        signer: Signer::Key {
                            fingerprint: v.key_fingerprint.clone(),
                        },
                        docker_reference: v.docker_reference.clone(),
                        annotations: v.annotations.clone(),
                        logged_in: logged,
                        log_failures,
                    });
                }
                Err(r) => reasons.push(r.to_string()),
            }
        }
        for (id, cp) in &cert_policies {
            let policy = VerificationPolicy {
                certificates: Some(cp.clone()),
                ..VerificationPolicy::default()
            };
            match hallmark_sigstore::verify::verify_candidate(digest, candidate, &policy) {
                Ok(v) => {
                    verified_any = true;
                    let Some(cert) = v.certificate.clone() else {
                        continue;
                    };
                    let (logged, log_failures) =
                        logged_in(digest, candidate, &policy, &log_ids, material);
                    let subjects = cert
                        .emails
                        .iter()
                        .chain(&cert.uris)
                        .chain(&cert.dns_names)
                        .cloned()
                        .collect();
                    out.signatures.push(SignatureEvidence {
                        source: v.source.clone(),
                        format: format_of(&v),
                        signer: Signer::Certificate {
                            trust: id.clone(),
                            subjects,
                            issuer: cert.oidc_issuer.clone(),
                            fingerprint: v.key_fingerprint.clone(),
                        },
                        docker_reference: v.docker_reference.clone(),
                        annotations: v.annotations.clone(),
                        logged_in: logged,
                        log_failures,
                    });
                }
                Err(r) => reasons.push(r.to_string()),
            }
        }
        if !verified_any {
            reasons.dedup();
            out.rejected.push(RejectedCandidate {
                format: if candidate.media_type == BUNDLE_V03_MEDIA_TYPE {
                    "sigstore-bundle-v0.3"
                } else {
                    "cosign-simplesigning"
                },
                source: candidate.source.to_string(),
                reason: if reasons.is_empty() {
                    "no key or certificate root of the rule to check it with".to_owned()
                } else {
                    reasons.join("; ")
                },
            });
        }
    }
    out
}

/// Collect and check the signatures of `digest`.
pub async fn signatures(
    store: &Store,
    digest: &Digest,
    rule: &Rule,
    material: &Material,
    which: Referrers,
) -> Collection {
    let candidates: Result<Vec<SignatureCandidate>, String> = match which {
        Referrers::IfNeeded => flow::attachment_candidates(store, digest, Attachment::Signature)
            .await
            .map_err(|e| chain(&e)),
        Referrers::Only => match flow::bundle_candidates(store, digest).await {
            Ok(c) => Ok(c),
            // A registry or layout without referrers has no bundles.
            Err(hallmark_flows::SigstoreError::Oci(OciError::NotFound { .. })) => Ok(Vec::new()),
            Err(e) => Err(chain(&e)),
        },
    };
    match candidates {
        Ok(c) => check_signatures(digest, &c, rule, material),
        Err(e) => Collection {
            failures: vec![failure(Collected::Signatures, e)],
            ..Collection::default()
        },
    }
}

/// Collect and check the attestations of `digest` against the rule's attestation requirements.
pub async fn attestations(
    store: &Store,
    digest: &Digest,
    rule: &Rule,
    material: &Material,
) -> Collection {
    let mut out = Collection::default();
    let mut candidates =
        match flow::attachment_candidates(store, digest, Attachment::Attestation).await {
            Ok(c) => c,
            Err(e) => {
                out.failures
                    .push(failure(Collected::Attestations, chain(&e)));
                return out;
            }
        };
    match flow::bundle_candidates(store, digest).await {
        Ok(c) => candidates.extend(c),
        Err(hallmark_flows::SigstoreError::Oci(OciError::NotFound { .. })) => {}
        Err(e) => out
            .failures
            .push(failure(Collected::Attestations, chain(&e))),
    }
    let mut key_ids: Vec<String> = Vec::new();
    for r in rule.require.iter().chain(&rule.any_of) {
        if let Requirement::Attestation(a) = r {
            for k in &a.keys {
                let id = k.id();
                if !key_ids.contains(&id) {
                    key_ids.push(id);
                }
            }
        }
    }
    for candidate in &candidates {
        let mut verified_any = false;
        let mut reasons = Vec::new();
        for id in &key_ids {
            let Some(key) = material.key(id) else {
                continue;
            };
            let keys = std::slice::from_ref(key);
            let r = match candidate.media_type.as_str() {
                DSSE_MEDIA_TYPE => hallmark_sigstore::attestation::verify_attestation(
                    &candidate.body,
                    digest,
                    keys,
                    None,
                ),
                BUNDLE_V03_MEDIA_TYPE => {
                    hallmark_sigstore::bundle::verify_image_bundle(&candidate.body, digest, keys)
                        .map(|v| hallmark_sigstore::attestation::VerifiedAttestation {
                            key_fingerprint: v.key_fingerprint,
                            predicate_type: v.predicate_type,
                            statement: v.statement,
                        })
                }
                other => Err(hallmark_sigstore::Rejection::NotASignature {
                    media_type: other.to_owned(),
                }),
            };
            match r {
                // A signature bundle is not an attestation.
                Ok(v) if v.predicate_type == hallmark_sigstore::bundle::COSIGN_SIGN_PREDICATE => {}
                Ok(v) => {
                    verified_any = true;
                    out.attestations.push(AttestationEvidence {
                        source: candidate.source.to_string(),
                        signer: Signer::Key {
                            fingerprint: v.key_fingerprint,
                        },
                        predicate_type: v.predicate_type,
                        statement: v.statement,
                        logged_in: Vec::new(),
                    });
                }
                Err(e) => reasons.push(e.to_string()),
            }
        }
        if !verified_any && candidate.media_type == DSSE_MEDIA_TYPE {
            reasons.dedup();
            out.rejected.push(RejectedCandidate {
                format: "dsse-attestation",
                source: candidate.source.to_string(),
                reason: if reasons.is_empty() {
                    "no key of the rule to check it with".to_owned()
                } else {
                    reasons.join("; ")
                },
            });
        }
    }
    out
}
