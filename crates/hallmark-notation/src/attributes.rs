//! The rules on signed attributes that both envelope formats share (signature-specification.md
//! §Signed Attributes, signature-envelope-jws.md and signature-envelope-cose.md §Protected
//! Header): each format reads its protected header into [`Protected`], a neutral form, and
//! [`check`] applies the rules once.

use crate::{Algorithm, EnvelopeError, SignedAttributes, SigningScheme};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use time::OffsetDateTime;

pub(crate) const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub(crate) const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(crate) const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub(crate) const EXPIRY: &str = "io.cncf.notary.expiry";
pub(crate) const TIMESTAMP: &str = "io.cncf.notary.timestampSignature";
pub(crate) const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
/// Attributes a verifier understands when marked critical.
pub(crate) const KNOWN_CRITICAL: [&str; 3] = [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY];
/// The notation attributes of the protected header (not extended attributes).
pub(crate) const NOTARY_SIGNED: [&str; 4] =
    [SIGNING_SCHEME, SIGNING_TIME, AUTHENTIC_SIGNING_TIME, EXPIRY];

pub(crate) fn attribute(
    attribute: &'static str,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> EnvelopeError {
    EnvelopeError::Attribute {
        attribute,
        expected: expected.into(),
        found: found.into(),
    }
}

/// A header value that should be text.
#[derive(Debug)]
pub(crate) enum RawText {
    /// Not in the header.
    Absent,
    /// Text.
    Text(String),
    /// Something else, described.
    Other(String),
}

/// A protected header as read by one format, before the shared rules.
#[derive(Debug)]
pub(crate) struct Protected {
    /// `alg`, already one of the six.
    pub algorithm: Algorithm,
    /// The critical attributes as listed (the format has refused what its own syntax forbids:
    /// registered JWS headers, COSE integer labels 0 to 8).
    pub critical: Vec<String>,
    /// The names of every attribute the header has, as `crit` would list them.
    pub names: BTreeSet<String>,
    /// `io.cncf.notary.signingScheme`.
    pub signing_scheme: RawText,
    /// `io.cncf.notary.signingTime`.
    pub signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.authenticSigningTime`.
    pub authentic_signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<OffsetDateTime>,
    /// Attributes other than the registered and notation ones.
    pub extended: Map<String, Value>,
}

/// The rules of the specification on the signed attributes: every critical attribute known and
/// present; the signing scheme one of the two; the signing scheme, authentic signing time and
/// expiry critical when present; the signing time its scheme requires present.
pub(crate) fn check(p: Protected) -> Result<SignedAttributes, EnvelopeError> {
    for c in &p.critical {
        if !KNOWN_CRITICAL.contains(&c.as_str()) {
            return Err(EnvelopeError::UnknownCritical(c.clone()));
        }
        if !p.names.contains(c) {
            return Err(attribute(
                "crit",
                "only attributes the header has",
                c.clone(),
            ));
        }
    }
    let signing_scheme = match &p.signing_scheme {
        RawText::Text(s) if s == SigningScheme::X509.as_str() => SigningScheme::X509,
        RawText::Text(s) if s == SigningScheme::X509SigningAuthority.as_str() => {
            SigningScheme::X509SigningAuthority
        }
        other => {
            let found = match other {
                RawText::Absent => "nothing".to_owned(),
                RawText::Text(s) => format!("{s:?}"),
                RawText::Other(d) => d.clone(),
            };
            return Err(attribute(
                SIGNING_SCHEME,
                "notary.x509 or notary.x509.signingAuthority",
                found,
            ));
        }
    };
    for must in [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY] {
        if p.names.contains(must) && !p.critical.iter().any(|c| c == must) {
            return Err(attribute(
                "crit",
                format!("{must} listed as critical"),
                format!("{:?}", p.critical),
            ));
        }
    }
    match (signing_scheme, p.signing_time, p.authentic_signing_time) {
        (SigningScheme::X509, None, _) => {
            return Err(attribute(
                SIGNING_TIME,
                "a signing time (required by notary.x509)",
                "nothing",
            ));
        }
        (SigningScheme::X509SigningAuthority, _, None) => {
            return Err(attribute(
                AUTHENTIC_SIGNING_TIME,
                "an authentic signing time (required by notary.x509.signingAuthority)",
                "nothing",
            ));
        }
        _ => {}
    }
    Ok(SignedAttributes {
        algorithm: p.algorithm,
        signing_scheme,
        signing_time: p.signing_time,
        authentic_signing_time: p.authentic_signing_time,
        expiry: p.expiry,
        extended: p.extended,
        critical: p.critical,
    })
}
