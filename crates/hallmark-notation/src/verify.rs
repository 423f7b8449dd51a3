//! Verification of one envelope under one trust policy, in the order the specification gives
//! (trust-store-trust-policy.md §Signature Verification, Steps): integrity, authenticity (the
//! chain, anchored in a trust store of the scheme's type named by the policy, then a trusted
//! identity), expiry, authentic timestamp, the payload naming the artifact. Each check's failure
//! does what the policy's level and overrides say: fail (`Enforce`), be reported and go on
//! (`Log`), or not be made (`Skip`). Revocation is not checked (reported as skipped).
//!
//! Trust-store files are read by the caller; [`certificates`] turns one file's bytes (PEM or
//! DER, one or more certificates) into DER certificates.

use crate::chain;
use crate::trustpolicy::{Action, Check, TrustPolicy, TrustStore};
use crate::{Envelope, SigningScheme};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The certificates of named trust stores, by reference (`ca:NAME`, ...).
pub type Stores = BTreeMap<String, Vec<Vec<u8>>>;

/// The certificates in one trust-store file: PEM `CERTIFICATE` blocks, or one DER certificate.
pub fn certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "expected PEM or DER certificates, found neither".to_owned())?;
    hallmark_core::pem_certificates(text, "a trust-store file").map_err(|e| e.to_string())
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check.
    pub check: Check,
    /// What its failure does under the policy.
    pub action: Action,
    /// `None`: passed (or skipped); `Some(why)`: failed.
    pub failure: Option<String>,
}

/// The outcome of verifying one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// Verified: no enforced check failed.
    pub passed: bool,
    /// Each check made, in order; verification stops at the first enforced failure.
    pub checks: Vec<CheckResult>,
}

impl Outcome {
    /// The first enforced failure, if any.
    pub fn failure(&self) -> Option<&CheckResult> {
        self.checks
            .iter()
            .find(|c| c.action == Action::Enforce && c.failure.is_some())
    }
}

/// The subject attributes of a DER certificate, for trusted-identity matching.
fn subject_attributes(der: &[u8]) -> Result<Vec<(String, String)>, String> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
    // RFC 4514 text (most specific first); notation compares attribute sets.
    let text = cert.tbs_certificate().subject().to_string();
    let mut out = Vec::new();
    for part in text.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            let k = k.trim();
            let k = if k == "S" { "ST" } else { k };
            out.push((k.to_owned(), v.trim().to_owned()));
        }
    }
    Ok(out)
}

/// Verify `envelope` for the artifact (`media_type`, `digest`, `size`) under `policy`, with
/// the trust stores' certificates, at `now`.
pub fn verify(
    envelope: &Envelope,
    policy: &TrustPolicy,
    stores: &Stores,
    target: (&str, &str, u64),
    now: OffsetDateTime,
) -> Outcome {
    let mut checks = Vec::new();
    let mut run = |check: Check, result: &dyn Fn() -> Result<(), String>| -> bool {
        let action = policy.action(check);
        if action == Action::Skip {
            checks.push(CheckResult {
                check,
                action,
                failure: None,
            });
            return true;
        }
        let failure = result().err();
        let go_on = !(action == Action::Enforce && failure.is_some());
        checks.push(CheckResult {
            check,
            action,
            failure,
        });
        go_on
    };
    let passed = run(Check::Integrity, &|| {
        envelope.verify_integrity().map_err(|e| e.to_string())?;
        let (media_type, digest, size) = target;
        envelope
            .payload
            .check_target(media_type, digest, size)
            .map_err(|e| e.to_string())
    }) && run(Check::Authenticity, &|| {
        // The instant the chain must be valid at: the authentic signing time under a signing
        // authority, else now (a timestamp could vouch for the signing time; not checked yet).
        let at = match envelope.attributes.signing_scheme {
            SigningScheme::X509SigningAuthority => {
                envelope.attributes.authentic_signing_time.unwrap_or(now)
            }
            _ => now,
        };
        chain::validate(&envelope.chain, at.unix_timestamp()).map_err(|e| e.to_string())?;
        let wanted = |s: &TrustStore| match (envelope.attributes.signing_scheme, s) {
            (SigningScheme::X509, TrustStore::Ca(n)) => Some(format!("ca:{n}")),
            (SigningScheme::X509SigningAuthority, TrustStore::SigningAuthority(n)) => {
                Some(format!("signingAuthority:{n}"))
            }
            _ => None,
        };
        let names: Vec<String> = policy.trust_stores.iter().filter_map(wanted).collect();
        let anchored = names.iter().any(|n| {
            stores
                .get(n)
                .is_some_and(|certs| chain::anchored(&envelope.chain, certs))
        });
        if !anchored {
            return Err(format!(
                "expected the chain's root in one of the trust stores {} ({} signatures chain to {} stores), found it in none",
                if names.is_empty() {
                    "(none of the right type)".to_owned()
                } else {
                    names.join(", ")
                },
                envelope.attributes.signing_scheme.as_str(),
                match envelope.attributes.signing_scheme {
                    SigningScheme::X509SigningAuthority => "signingAuthority",
                    _ => "ca",
                }
            ));
        }
        let leaf = envelope
            .chain
            .first()
            .ok_or_else(|| "no signing certificate".to_owned())?;
        let subject = subject_attributes(leaf)?;
        if !policy.trusts_subject(&subject) {
            return Err(format!(
                "expected a signing certificate of a trusted identity, found subject {}",
                subject
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }) && run(Check::Expiry, &|| match envelope.attributes.expiry {
        Some(e) if e <= now => Err(format!(
            "expected a signature not expired at {now}, found one expired at {e}"
        )),
        _ => Ok(()),
    }) && run(
        Check::AuthenticTimestamp,
        &|| match envelope.attributes.signing_scheme {
            SigningScheme::X509SigningAuthority => Ok(()),
            _ => match &envelope.timestamp {
                // Without a timestamp every certificate must be valid now: the authenticity check
                // already held the chain to that.
                None => Ok(()),
                Some(_) => Err("RFC 3161 timestamp countersignatures are not verified yet".into()),
            },
        },
    );
    if passed {
        // Not checked: no OCSP or CRL support yet.
        checks.push(CheckResult {
            check: Check::Revocation,
            action: Action::Skip,
            failure: None,
        });
    }
    Outcome { passed, checks }
}
