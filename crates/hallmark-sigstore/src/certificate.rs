//! X.509 certificates for cosign's certificate-based verification: Fulcio (keyless) and private
//! PKI signers.
//!
//! A signature made with a certificate carries the leaf PEM (layer annotation
//! `dev.sigstore.cosign/certificate`, or a bundle's `verificationMaterial.certificate`) and
//! possibly intermediates (`dev.sigstore.cosign/chain`). Verification:
//!
//! 1. the leaf chains, through the given and the configured intermediates, to a configured root
//!    ([`TrustedCertificates::verify`]), every certificate on the path being valid at one instant
//!    and allowing code signing;
//! 2. the leaf names the expected signer ([`CertificateIdentity`]);
//! 3. the leaf's public key ([`Certificate::public_key`]) verifies the signature, with the same
//!    check as key-based verification.
//!
//! The instant comes from [`TransparencyLog`]: the Rekor SET's `integratedTime` when a log is
//! required (Fulcio certificates live ten minutes, so the log is what proves the signature was
//! made while the certificate was valid), or the caller's clock otherwise.
//!
//! **Libraries.** Path validation is rustls-webpki's (the verifier rustls uses, on aws-lc-rs
//! signature algorithms): it checks validity at an arbitrary instant, basic constraints, path
//! length, name constraints and extended key usage through untrusted intermediates, which is
//! everything needed here. webpki does not expose e-mail SANs or arbitrary extensions, so those
//! fields are read with `x509-cert` (parsing only; the trust decision is webpki's, over the same
//! DER bytes).
//!
//! **Extended key usage.** Code signing (1.3.6.1.5.5.7.3.3) is required *if the certificate has
//! an EKU extension*, for every certificate of the path, which is what Go's `x509.Verify` with
//! `ExtKeyUsageCodeSigning` does for cosign and containers/image: Fulcio leaves and intermediates
//! carry it; private-PKI leaves often have no EKU extension at all.
//!
//! Everything here is pure: no I/O, no clock.

use crate::error::Rejection;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, PublicKey};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use thiserror::Error;
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::{
    der::{Decode as _, Encode as _, asn1::Utf8StringRef, oid::ObjectIdentifier},
    ext::pkix::{SubjectAltName, name::GeneralName},
};

pub use rustls_pki_types::UnixTime;

/// Fulcio's first OIDC issuer extension: the issuer URL as raw bytes (deprecated by Fulcio, still
/// present in every certificate it issues).
pub const OID_FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// Fulcio's OIDC issuer extension: the issuer URL as a DER UTF8String. Takes precedence over
/// [`OID_FULCIO_ISSUER_V1`].
pub const OID_FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// The code-signing extended key usage, 1.3.6.1.5.5.7.3.3.
pub const OID_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

const FULCIO_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_FULCIO_ISSUER_V1);
const FULCIO_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_FULCIO_ISSUER_V2);
/// DER content octets of 1.3.6.1.5.5.7.3.3 (what webpki compares).
const CODE_SIGNING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A certificate, chain, trust root or path is not acceptable. Values from the signature are
/// untrusted and shown for diagnosis only.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// The input is empty.
    #[error("{what}: empty, expected {expected}")]
    Empty {
        /// What was being read.
        what: String,
        /// What it must hold.
        expected: &'static str,
    },
    /// The input holds no PEM block, or a broken one.
    #[error("{what}: not PEM ({reason}), expected {expected}")]
    NotPem {
        /// What was being read.
        what: String,
        /// Why.
        reason: String,
        /// What it must hold.
        expected: &'static str,
    },
    /// A PEM block is not a certificate.
    #[error("{what}: PEM block is labelled {found:?}, expected CERTIFICATE")]
    WrongLabel {
        /// What was being read.
        what: String,
        /// The label found.
        found: String,
    },
    /// More than one certificate where exactly one is expected.
    #[error("{what}: {found} certificates, expected exactly one")]
    NotExactlyOne {
        /// What was being read.
        what: String,
        /// How many were found.
        found: usize,
    },
    /// The DER does not parse as an X.509 v3 certificate.
    #[error("{what}: malformed certificate: {reason}")]
    Malformed {
        /// What was being read.
        what: String,
        /// Why.
        reason: String,
    },
    /// The leaf's public key is not one hallmark verifies with.
    #[error("certificate sha256:{certificate}: public key: {reason}")]
    UnsupportedKey {
        /// sha256 of the certificate DER.
        certificate: String,
        /// Why.
        reason: String,
    },
    /// No root certificate is configured.
    #[error("no trusted root certificates: at least one root is required")]
    NoRoots,
    /// The leaf is not valid at the instant checked.
    #[error(
        "certificate {subject} is valid from {not_before} to {not_after}, not at {at} (the instant checked: {source_of_time})"
    )]
    NotValidAt {
        /// The leaf's SANs.
        subject: String,
        /// The instant checked (RFC 3339).
        at: String,
        /// Where the instant came from.
        source_of_time: &'static str,
        /// notBefore (RFC 3339).
        not_before: String,
        /// notAfter (RFC 3339).
        not_after: String,
    },
    /// A certificate on the path has an extended key usage without code signing.
    #[error(
        "certificate {subject}: its path to a trusted root does not allow code signing (extended key usage without {OID_CODE_SIGNING})"
    )]
    NotForCodeSigning {
        /// The leaf's SANs.
        subject: String,
    },
    /// An intermediate on the path is expired or not yet valid.
    #[error("certificate {subject}: an intermediate on its path is not valid at {at} ({reason})")]
    IntermediateNotValidAt {
        /// The leaf's SANs.
        subject: String,
        /// The instant checked (RFC 3339).
        at: String,
        /// webpki's reason.
        reason: String,
    },
    /// No path from the leaf to a trusted root.
    #[error(
        "certificate {subject} does not chain to a trusted root (expected one of {roots}): {reason}"
    )]
    Untrusted {
        /// The leaf's SANs.
        subject: String,
        /// The configured roots (sha256 of each root's DER).
        roots: String,
        /// webpki's reason.
        reason: String,
    },
    /// A Sigstore `trusted_root.json` is not usable.
    #[error("trusted root: {reason}")]
    BadTrustedRoot {
        /// Why.
        reason: String,
    },
}

/// A parsed X.509 certificate: its DER and the fields verification reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    spki_der: Vec<u8>,
    emails: Vec<String>,
    uris: Vec<String>,
    dns_names: Vec<String>,
    oidc_issuer: Option<String>,
    not_before: u64,
    not_after: u64,
}

impl Certificate {
    /// Parse DER; `what` names the source in errors.
    pub fn from_der(der: &[u8], what: &str) -> Result<Self, CertificateError> {
        let malformed = |reason: String| CertificateError::Malformed {
            what: what.to_owned(),
            reason,
        };
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let spki_der = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| malformed(format!("subjectPublicKeyInfo: {e}")))?;
        let (mut emails, mut uris, mut dns_names) = (Vec::new(), Vec::new(), Vec::new());
        if let Some((_, san)) = tbs
            .get_extension::<SubjectAltName>()
            .map_err(|e| malformed(format!("subjectAltName: {e}")))?
        {
            for name in san.0 {
                match name {
                    GeneralName::Rfc822Name(s) => emails.push(s.to_string()),
                    GeneralName::UniformResourceIdentifier(s) => uris.push(s.to_string()),
                    GeneralName::DnsName(s) => dns_names.push(s.to_string()),
                    _ => {}
                }
            }
        }
        let (mut issuer_v1, mut issuer_v2) = (None, None);
        for ext in tbs.extensions().into_iter().flatten() {
            if ext.extn_id == FULCIO_ISSUER_V1 {
                let raw = std::str::from_utf8(ext.extn_value.as_bytes())
                    .map_err(|_| malformed(format!("{OID_FULCIO_ISSUER_V1} is not UTF-8")))?;
                issuer_v1 = Some(raw.to_owned());
            } else if ext.extn_id == FULCIO_ISSUER_V2 {
                let s = Utf8StringRef::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                    malformed(format!(
                        "{OID_FULCIO_ISSUER_V2} is not a DER UTF8String: {e}"
                    ))
                })?;
                issuer_v2 = Some(s.as_str().to_owned());
            }
        }
        let validity = tbs.validity();
        Ok(Certificate {
            der: der.to_vec(),
            spki_der,
            emails,
            uris,
            dns_names,
            oidc_issuer: issuer_v2.or(issuer_v1),
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
        })
    }

    /// Parse a leaf certificate: exactly one `CERTIFICATE` PEM block (text around it is
    /// ignored, as Go's `pem.Decode` ignores it).
    pub fn from_leaf_pem(pem: &[u8], what: &str) -> Result<Self, CertificateError> {
        let mut certs = certificates_from_pem(pem, what, "one PEM CERTIFICATE block")?;
        if certs.len() != 1 {
            return Err(CertificateError::NotExactlyOne {
                what: what.to_owned(),
                found: certs.len(),
            });
        }
        certs.pop().ok_or(CertificateError::NotExactlyOne {
            what: what.to_owned(),
            found: 0,
        })
    }

    /// Parse a chain or a set of roots: one or more `CERTIFICATE` PEM blocks.
    pub fn chain_from_pem(pem: &[u8], what: &str) -> Result<Vec<Self>, CertificateError> {
        certificates_from_pem(pem, what, "one or more PEM CERTIFICATE blocks")
    }

    /// The DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Hex sha256 of the DER (how errors and reports name a certificate).
    pub fn sha256(&self) -> String {
        Digest::sha256_of(&self.der).hex().to_owned()
    }

    /// The subject public key, for verifying what the certificate signed.
    pub fn public_key(&self) -> Result<PublicKey, CertificateError> {
        PublicKey::from_spki_der_named(&self.spki_der, "certificate public key").map_err(|e| {
            CertificateError::UnsupportedKey {
                certificate: self.sha256(),
                reason: e.to_string(),
            }
        })
    }

    /// E-mail SANs (rfc822Name).
    pub fn emails(&self) -> &[String] {
        &self.emails
    }

    /// URI SANs.
    pub fn uris(&self) -> &[String] {
        &self.uris
    }

    /// DNS name SANs.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// The Fulcio OIDC issuer ([`OID_FULCIO_ISSUER_V2`], else [`OID_FULCIO_ISSUER_V1`]); `None`
    /// for certificates Fulcio did not issue.
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.oidc_issuer.as_deref()
    }

    /// notBefore, Unix seconds.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// notAfter, Unix seconds.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// The SANs, for messages: `email:a@b, uri:https://…, dns:host`.
    pub fn describe_subject(&self) -> String {
        let names: Vec<String> = self
            .emails
            .iter()
            .map(|e| format!("email:{e}"))
            .chain(self.uris.iter().map(|u| format!("uri:{u}")))
            .chain(self.dns_names.iter().map(|d| format!("dns:{d}")))
            .collect();
        if names.is_empty() {
            format!("sha256:{} (no e-mail, URI or DNS SAN)", self.sha256())
        } else {
            names.join(", ")
        }
    }

    /// What verification reports about the certificate.
    pub fn summary(&self) -> CertificateSummary {
        CertificateSummary {
            sha256: self.sha256(),
            emails: self.emails.clone(),
            uris: self.uris.clone(),
            dns_names: self.dns_names.clone(),
            oidc_issuer: self.oidc_issuer.clone(),
        }
    }
}

/// The signer named by a verified certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateSummary {
    /// Hex sha256 of the leaf DER.
    pub sha256: String,
    /// E-mail SANs.
    pub emails: Vec<String>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// The Fulcio OIDC issuer, if any.
    pub oidc_issuer: Option<String>,
}

/// Every `CERTIFICATE` block of `pem` (at least one).
fn certificates_from_pem(
    pem: &[u8],
    what: &str,
    expected: &'static str,
) -> Result<Vec<Certificate>, CertificateError> {
    if pem.iter().all(u8::is_ascii_whitespace) {
        return Err(CertificateError::Empty {
            what: what.to_owned(),
            expected,
        });
    }
    let not_pem = |reason: String| CertificateError::NotPem {
        what: what.to_owned(),
        reason,
        expected,
    };
    let text = std::str::from_utf8(pem).map_err(|_| not_pem("not UTF-8 text".into()))?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end = block
            .find("-----END ")
            .and_then(|e| block[e + 9..].find("-----").map(|d| e + 9 + d + 5))
            .ok_or_else(|| not_pem(format!("block {} has no END line", out.len() + 1)))?;
        let (label, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| not_pem(format!("block {}: {e}", out.len() + 1)))?;
        if label != "CERTIFICATE" {
            return Err(CertificateError::WrongLabel {
                what: what.to_owned(),
                found: label.to_owned(),
            });
        }
        out.push(Certificate::from_der(&der, what)?);
        rest = &block[end..];
    }
    if out.is_empty() {
        return Err(not_pem("no -----BEGIN CERTIFICATE----- block".into()));
    }
    Ok(out)
}

fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s after the epoch"))
}

/// Where the instant a certificate is checked at comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckTime {
    /// The `integratedTime` of a Rekor entry whose SET verified.
    RekorIntegratedTime(UnixTime),
    /// The verifier's clock.
    Now(UnixTime),
}

impl CheckTime {
    fn instant(self) -> UnixTime {
        match self {
            CheckTime::RekorIntegratedTime(t) | CheckTime::Now(t) => t,
        }
    }
    fn source(self) -> &'static str {
        match self {
            CheckTime::RekorIntegratedTime(_) => "the Rekor integratedTime",
            CheckTime::Now(_) => "now; no transparency log was required",
        }
    }
}

/// Root certificates, and intermediates the verifier configured (in addition to any chain the
/// signature carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCertificates {
    roots: Vec<Certificate>,
    intermediates: Vec<Certificate>,
}

impl TrustedCertificates {
    /// Roots (at least one) and configured intermediates. Each root must be usable as a trust
    /// anchor (webpki parses it).
    pub fn new(
        roots: Vec<Certificate>,
        intermediates: Vec<Certificate>,
    ) -> Result<Self, CertificateError> {
        if roots.is_empty() {
            return Err(CertificateError::NoRoots);
        }
        for r in &roots {
            let der = CertificateDer::from(r.der());
            webpki::anchor_from_trusted_cert(&der).map_err(|e| CertificateError::Malformed {
                what: format!("root certificate sha256:{}", r.sha256()),
                reason: format!("not usable as a trust anchor: {e}"),
            })?;
        }
        Ok(TrustedCertificates {
            roots,
            intermediates,
        })
    }

    /// From PEM: a roots file and optionally an intermediates file.
    pub fn from_pem(
        roots_pem: &[u8],
        intermediates_pem: Option<&[u8]>,
    ) -> Result<Self, CertificateError> {
        let roots = Certificate::chain_from_pem(roots_pem, "root certificates")?;
        let intermediates = match intermediates_pem {
            Some(p) => Certificate::chain_from_pem(p, "intermediate certificates")?,
            None => Vec::new(),
        };
        Self::new(roots, intermediates)
    }

    /// The roots.
    pub fn roots(&self) -> &[Certificate] {
        &self.roots
    }

    /// The configured intermediates.
    pub fn intermediates(&self) -> &[Certificate] {
        &self.intermediates
    }

    /// Check that `leaf` chains, through `chain` (untrusted, from the signature) and the
    /// configured intermediates, to a root, every certificate of the path being valid at `at`
    /// and allowing code signing.
    pub fn verify(
        &self,
        leaf: &Certificate,
        chain: &[Certificate],
        at: CheckTime,
    ) -> Result<(), CertificateError> {
        let instant = at.instant().as_secs();
        if instant < leaf.not_before || instant > leaf.not_after {
            return Err(CertificateError::NotValidAt {
                subject: leaf.describe_subject(),
                at: rfc3339(instant),
                source_of_time: at.source(),
                not_before: rfc3339(leaf.not_before),
                not_after: rfc3339(leaf.not_after),
            });
        }
        let root_ders: Vec<CertificateDer<'_>> = self
            .roots
            .iter()
            .map(|r| CertificateDer::from(r.der()))
            .collect();
        let anchors = root_ders
            .iter()
            .map(webpki::anchor_from_trusted_cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertificateError::Malformed {
                what: "root certificate".into(),
                reason: format!("not usable as a trust anchor: {e}"),
            })?;
        let intermediates: Vec<CertificateDer<'_>> = chain
            .iter()
            .chain(&self.intermediates)
            .map(|c| CertificateDer::from(c.der()))
            .collect();
        let leaf_der = CertificateDer::from(leaf.der());
        let ee = EndEntityCert::try_from(&leaf_der).map_err(|e| CertificateError::Malformed {
            what: format!("certificate {}", leaf.describe_subject()),
            reason: format!("rejected by the X.509 path validator: {e}"),
        })?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            at.instant(),
            KeyUsage::required_if_present(CODE_SIGNING_DER),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| match e {
            webpki::Error::RequiredEkuNotFoundContext(_) => CertificateError::NotForCodeSigning {
                subject: leaf.describe_subject(),
            },
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                CertificateError::IntermediateNotValidAt {
                    subject: leaf.describe_subject(),
                    at: rfc3339(instant),
                    reason: e.to_string(),
                }
            }
            other => CertificateError::Untrusted {
                subject: leaf.describe_subject(),
                roots: self
                    .roots
                    .iter()
                    .map(|r| format!("sha256:{}", r.sha256()))
                    .collect::<Vec<_>>()
                    .join(", "),
                reason: other.to_string(),
            },
        })
    }
}

/// A subject alternative name a certificate must carry (exact, case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectName {
    /// An e-mail SAN (containers/image `subjectEmail`).
    Email(String),
    /// A URI SAN (e.g. a GitHub Actions workflow identity).
    Uri(String),
    /// A DNS SAN (containers/image `subjectHostname`).
    Dns(String),
    /// An e-mail, URI or DNS SAN (cosign's `--certificate-identity`).
    Any(String),
}

impl SubjectName {
    fn matches(&self, c: &Certificate) -> bool {
        let has = |list: &[String], v: &str| list.iter().any(|x| x == v);
        match self {
            SubjectName::Email(v) => has(&c.emails, v),
            SubjectName::Uri(v) => has(&c.uris, v),
            SubjectName::Dns(v) => has(&c.dns_names, v),
            SubjectName::Any(v) => has(&c.emails, v) || has(&c.uris, v) || has(&c.dns_names, v),
        }
    }
}

impl std::fmt::Display for SubjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectName::Email(v) => write!(f, "email:{v}"),
            SubjectName::Uri(v) => write!(f, "uri:{v}"),
            SubjectName::Dns(v) => write!(f, "dns:{v}"),
            SubjectName::Any(v) => write!(f, "email, uri or dns:{v}"),
        }
    }
}

/// What the certificate's Fulcio OIDC issuer extension must say.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcIssuer {
    /// Exactly this issuer URL.
    Exact(String),
    /// Not checked: private-PKI certificates carry no OIDC issuer.
    NotChecked,
}

/// Who a certificate must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    subjects: Vec<SubjectName>,
    issuer: OidcIssuer,
}

impl CertificateIdentity {
    /// The certificate must carry `subject` and satisfy `issuer`.
    pub fn new(subject: SubjectName, issuer: OidcIssuer) -> Self {
        CertificateIdentity {
            subjects: vec![subject],
            issuer,
        }
    }

    /// Also require `subject` (containers/image's PKI `subjectEmail` + `subjectHostname`).
    pub fn and_subject(mut self, subject: SubjectName) -> Self {
        self.subjects.push(subject);
        self
    }

    /// Any certificate the trusted roots issued, whoever it names (cosign's identity regexps
    /// `.*`). Only sound with roots dedicated to the signers one trusts; never with Fulcio's.
    pub fn any_issued_by_trusted_roots() -> Self {
        CertificateIdentity {
            subjects: Vec::new(),
            issuer: OidcIssuer::NotChecked,
        }
    }

    /// The required subject names.
    pub fn subjects(&self) -> &[SubjectName] {
        &self.subjects
    }

    /// The issuer requirement.
    pub fn issuer(&self) -> &OidcIssuer {
        &self.issuer
    }

    /// Check `certificate` (already chained to a root) against this identity.
    pub fn check(&self, certificate: &Certificate) -> Result<(), Rejection> {
        if let OidcIssuer::Exact(want) = &self.issuer
            && certificate.oidc_issuer() != Some(want.as_str())
        {
            return Err(Rejection::CertificateIssuerMismatch {
                expected: want.clone(),
                found: certificate.oidc_issuer.clone(),
            });
        }
        if let Some(missing) = self.subjects.iter().find(|s| !s.matches(certificate)) {
            return Err(Rejection::CertificateIdentityMismatch {
                expected: missing.to_string(),
                found: certificate.describe_subject(),
            });
        }
        Ok(())
    }
}

/// Whether a transparency-log (Rekor) entry is required, which decides at which instant the
/// certificate must be valid.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TransparencyLog {
    /// A Rekor SET by one of these keys (ECDSA P-256) is required, for exactly this signature
    /// and certificate; the certificate must be valid at the entry's `integratedTime`. This is
    /// what Fulcio certificates need: they are valid for ten minutes.
    Required {
        /// Rekor public keys (any one).
        rekor_keys: Vec<PublicKey>,
    },
    /// No log is required; the certificate must be valid at `now` (the caller's clock). A
    /// Fulcio certificate is then rejected as expired, as containers/image rejects Fulcio
    /// without a Rekor key.
    NotRequired {
        /// The current time.
        now: UnixTime,
    },
}

/// Certificate-based verification: trust, identity and log requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificatePolicy {
    /// Roots and configured intermediates.
    pub trust: TrustedCertificates,
    /// Who the certificate must name.
    pub identity: CertificateIdentity,
    /// Whether a Rekor entry is required (and so the instant of the validity check).
    pub log: TransparencyLog,
}

/// The parts of a Sigstore `trusted_root.json` (protobuf-specs `TrustedRoot`, media type
/// `application/vnd.dev.sigstore.trustedroot+json;version=0.1`) hallmark uses: Fulcio
/// certificate authorities and Rekor (v1) log keys.
///
/// Each `certificateAuthorities[].certChain.certificates` lists an issuing chain, leaf-most first:
/// the last one is the root, the others are intermediates. Each `tlogs[].publicKey.rawBytes` is a
/// DER SubjectPublicKeyInfo whose sha256 must equal `logId.keyId`. Log keys that are not ECDSA
/// P-256 (Rekor v2 logs sign checkpoints, not SETs) are skipped. Validity windows (`validFor`)
/// and CT logs are not used.
#[derive(Debug, Clone, PartialEq)]
pub struct SigstoreTrustedRoot {
    /// Fulcio roots and intermediates.
    pub certificates: TrustedCertificates,
    /// Rekor keys usable for SETs.
    pub rekor_keys: Vec<PublicKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrustedRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    public_key: RawPublicKey,
    log_id: RawLogId,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    raw_bytes: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    cert_chain: RawChain,
}
#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

/// The media-type prefix of a trusted root.
pub const TRUSTED_ROOT_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.trustedroot";

impl SigstoreTrustedRoot {
    /// Parse `trusted_root.json`.
    pub fn parse(json: &[u8]) -> Result<Self, CertificateError> {
        let bad = |reason: String| CertificateError::BadTrustedRoot { reason };
        let raw: RawTrustedRoot = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if !raw.media_type.starts_with(TRUSTED_ROOT_MEDIA_TYPE_PREFIX) {
            return Err(bad(format!(
                "mediaType is {:?}, expected {TRUSTED_ROOT_MEDIA_TYPE_PREFIX}+json;version=0.1",
                raw.media_type
            )));
        }
        let (mut roots, mut intermediates) = (Vec::new(), Vec::new());
        for (i, ca) in raw.certificate_authorities.iter().enumerate() {
            let n = ca.cert_chain.certificates.len();
            for (j, c) in ca.cert_chain.certificates.iter().enumerate() {
                let what = format!("certificateAuthorities[{i}].certChain.certificates[{j}]");
                let der = STANDARD
                    .decode(c.raw_bytes.as_bytes())
                    .map_err(|_| bad(format!("{what}.rawBytes is not base64")))?;
                let cert = Certificate::from_der(&der, &what)?;
                if j + 1 == n {
                    roots.push(cert);
                } else {
                    intermediates.push(cert);
                }
            }
        }
        let mut rekor_keys = Vec::new();
        for (i, t) in raw.tlogs.iter().enumerate() {
            let Some(key) =
                crate::tlog::trusted_log_key(i, &t.public_key.raw_bytes, &t.log_id.key_id)
                    .map_err(bad)?
            else {
                continue;
            };
            rekor_keys.push(key);
        }
        if roots.is_empty() {
            return Err(bad("no certificateAuthorities".into()));
        }
        Ok(SigstoreTrustedRoot {
            certificates: TrustedCertificates::new(roots, intermediates)?,
            rekor_keys,
        })
    }
}
