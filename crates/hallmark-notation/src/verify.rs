//! Verification of one envelope under one trust policy, in the order the specification gives
//! (trust-store-trust-policy.md §Signature Verification, Steps): integrity, authenticity (the
//! chain, anchored in a trust store of the scheme's type named by the policy, then a trusted
//! identity), expiry, authentic timestamp, the payload naming the artifact. Each check's failure
//! does what the policy's level and overrides say: fail (`Enforce`), be reported and go on
//! (`Log`), or not be made (`Skip`). Revocation is not checked (reported as skipped).
//!
//! When the chain's certificates must be valid is the authentic-timestamp check's question, as
//! in notation-go (`verifyAuthenticTimestamp`):
//!
//! - `notary.x509`: timestamp verification is required when the policy names a `tsa` store and
//!   its `verifyTimestamp` is `always` (the default), or `afterCertExpiry` and some certificate
//!   of the chain has expired. Then the envelope must carry an RFC 3161 timestamp of its
//!   signature that verifies against the policy's `tsa` stores ([`crate::timestamp`]), and
//!   every certificate of the chain must be valid over the whole time range the timestamp
//!   vouches for; a certificate that has expired since is accepted. Otherwise (a timestamp, if
//!   any, is not used) every certificate must be valid now.
//! - `notary.x509.signingAuthority`: every certificate must be valid at the authentic signing
//!   time (also checked by the authenticity step); a timestamp is not used.
//!
//! The authenticity step therefore checks the chain's rules without its validity period under
//! `notary.x509` (a permissive level logs an expired chain, as notation does).
//!
//! Trust-store files are read by the caller; [`certificates`] turns one file's bytes (PEM or
//! DER, one or more certificates) into DER certificates.

use crate::chain::{self, Purpose};
use crate::timestamp::{self, TimeRange, TimestampError};
use crate::trustpolicy::{Action, Check, TrustPolicy, TrustStore};
use crate::{Envelope, SigningScheme};
use std::cell::Cell;
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
    /// The time a verified RFC 3161 timestamp vouches for the signature was made in, when the
    /// policy required one and it verified.
    pub timestamp: Option<TimeRange>,
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
    let timestamp = Cell::new(None);
    let passed = run(Check::Integrity, &|| {
        envelope.verify_integrity().map_err(|e| e.to_string())?;
        let (media_type, digest, size) = target;
        envelope
            .payload
            .check_target(media_type, digest, size)
            .map_err(|e| e.to_string())
    }) && run(Check::Authenticity, &|| {
        // Under a signing authority the chain must be valid at the authentic signing time;
        // under notary.x509 its validity is the authentic timestamp's check (valid now, or over
        // a verified timestamp's range).
        match envelope.attributes.signing_scheme {
            SigningScheme::X509SigningAuthority => chain::validate(
                &envelope.chain,
                envelope
                    .attributes
                    .authentic_signing_time
                    .unwrap_or(now)
                    .unix_timestamp(),
            ),
            _ => chain::validate_structure(&envelope.chain, Purpose::CodeSigning),
        }
        .map_err(|e| e.to_string())?;
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
    }) && run(Check::AuthenticTimestamp, &|| {
        let range = authentic_timestamp(envelope, policy, stores, now)?;
        timestamp.set(range);
        Ok(())
    });
    if passed {
        // Not checked: no OCSP or CRL support yet.
        checks.push(CheckResult {
            check: Check::Revocation,
            action: Action::Skip,
            failure: None,
        });
    }
    Outcome {
        passed,
        checks,
        timestamp: timestamp.get(),
    }
}

/// The authentic-timestamp check: when the chain must be valid, and the timestamp that says so
/// (`Some` when one was required and verified).
fn authentic_timestamp(
    envelope: &Envelope,
    policy: &TrustPolicy,
    stores: &Stores,
    now: OffsetDateTime,
) -> Result<Option<TimeRange>, String> {
    let chain = &envelope.chain;
    if envelope.attributes.signing_scheme == SigningScheme::X509SigningAuthority {
        let at = envelope.attributes.authentic_signing_time.unwrap_or(now);
        chain::check_validity(chain, at, at).map_err(|e| {
            format!("at the authentic signing time (io.cncf.notary.authenticSigningTime): {e}")
        })?;
        return Ok(None);
    }
    let tsa: Vec<String> = policy
        .trust_stores
        .iter()
        .filter_map(|s| match s {
            TrustStore::Tsa(n) => Some(format!("tsa:{n}")),
            _ => None,
        })
        .collect();
    let required_by = if tsa.is_empty() {
        None
    } else if !policy.timestamp_after_cert_expiry {
        Some(format!(
            "the trust policy's verifyTimestamp is always and it names the tsa stores {}",
            tsa.join(", ")
        ))
    } else if chain::expired_at(chain, now).map_err(|e| e.to_string())? {
        Some(format!(
            "the trust policy's verifyTimestamp is afterCertExpiry, a certificate of the chain has expired and the policy names the tsa stores {}",
            tsa.join(", ")
        ))
    } else {
        None
    };
    let Some(required_by) = required_by else {
        // No timestamp verification: every certificate must be valid now.
        chain::check_validity(chain, now, now)
            .map_err(|e| format!("at verification time, without timestamp verification: {e}"))?;
        return Ok(None);
    };
    let token = envelope
        .timestamp
        .as_deref()
        .ok_or(TimestampError::Missing { required_by })
        .and_then(timestamp::parse)
        .map_err(|e| e.to_string())?;
    token
        .check_imprint(&envelope.signature)
        .map_err(|e| e.to_string())?;
    let roots: Vec<Vec<u8>> = tsa
        .iter()
        .filter_map(|n| stores.get(n))
        .flatten()
        .cloned()
        .collect();
    if roots.is_empty() {
        return Err(TimestampError::NoTrustedRoots {
            stores: tsa.join(", "),
        }
        .to_string());
    }
    let verified = token
        .verify(&envelope.signature, &roots)
        .map_err(|e| e.to_string())?;
    chain::check_validity(chain, verified.range.earliest, verified.range.latest)
        .map_err(|e| TimestampError::SigningChain(e).to_string())?;
    Ok(Some(verified.range))
}
