//! Notary Project (notation) signature envelopes, pure (no I/O, no clock: times are passed in).
//!
//! Follows the Notary Project specifications (`notaryproject/specifications`, signature
//! specification v1.1: `signature-specification.md`, `signature-envelope-jws.md`,
//! `signature-envelope-cose.md`, `signing-scheme.md`) as notation-go / notation-core-go
//! implement them:
//!
//! - [`parse`]: an envelope of either format, by the media type it is stored under.
//! - [`jws::parse`]: the flattened JWS JSON serialization notation writes (`payload`,
//!   `protected`, `header`, `signature`, nothing else), its protected header with the `crit`
//!   rules (the signing scheme always critical, expiry and authentic signing time critical
//!   when present, no unknown critical attribute, no registered header listed), the unsigned
//!   header (`x5c` chain leaf first, `io.cncf.notary.timestampSignature`,
//!   `io.cncf.notary.signingAgent`; other unsigned keys are ignored, as notation does).
//! - [`cose::parse`]: `COSE_Sign1_Tagged` (CBOR tag 18), its protected header (`alg` as an
//!   integer, `crit` without integer labels 0 to 8, the content type, the notation attributes
//!   with times as CBOR tag 1 epoch integers) under the same rules on signed attributes as JWS
//!   (one implementation for both formats), the unprotected header (`x5chain`, label 33, an
//!   array of DER certificates or one; the timestamp token; the signing agent).
//! - [`Envelope::verify_integrity`]: the signature over the exact signing input (JWS
//!   `BASE64URL(protected) '.' BASE64URL(payload)`, COSE the `Sig_structure` over the protected
//!   header's bytes as received; ECDSA as fixed-width r || s in both), with the algorithm the
//!   leaf certificate's key dictates (RSASSA-PSS SHA-256/384/512 with salt length = hash length
//!   for RSA 2048/3072/4096, ECDSA P-256/P-384/P-521 for EC keys); an `alg` that does not match
//!   the key is refused (no algorithm substitution).
//! - [`Payload`]: the `targetArtifact` descriptor, checked against the manifest verified
//!   ([`Payload::check_target`]).
//! - [`sign`]: envelopes of both formats written byte for byte as notation writes them, without
//!   a key: [`sign::prepare`] gives the bytes to sign and the algorithm the signing
//!   certificate's key dictates, [`sign::Prepared::finish`] takes the signature (ECDSA as DER
//!   or r || s), checks it with that key and gives the envelope.
//!
//! - [`chain`]: the certificate chain checked as the specification requires (order, CA and
//!   signing-certificate rules, key sizes, validity at an instant) and anchored in a trust store.
//!
//! - [`trustpolicy`]: notation's trust policy document (version 1.0), validated and selected by
//!   repository as notation does.
//!
//! - [`verify`]: one envelope verified under one trust policy, check by check, with the trust
//!   stores' certificates (trust-store files read by the caller, [`verify::certificates`]).
//!
//! - [`timestamp`]: the RFC 3161 timestamp countersignature of a `notary.x509` envelope (a
//!   `TimeStampToken`: an RFC 5652 CMS SignedData of an RFC 3161 TSTInfo, with the RFC 5035
//!   `signing-certificate-v2` attribute RFC 5816 and the specification require) over the
//!   envelope's signature value, by a timestamping authority chained to a `tsa` trust store;
//!   [`verify`] holds the signing chain's validity to its time range when the trust policy's
//!   `verifyTimestamp` asks for it.
//!
//! Not here yet: writing timestamps ([`sign`] requests none), revocation (of signing and
//! timestamping chains), BER-encoded timestamp tokens.

mod attributes;
pub mod chain;
pub mod cose;
pub mod jws;
pub mod sign;
pub mod timestamp;
pub mod trustpolicy;
pub mod verify;

use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;

/// The payload media type notation signs.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// The JWS envelope media type (signature manifest layer).
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// The COSE envelope media type (signature manifest layer).
pub const COSE_MEDIA_TYPE: &str = "application/cose";

/// Why an envelope is not acceptable. Each names what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Not the envelope's syntax.
    #[error("expected a notation {format} envelope, found {found}")]
    Malformed {
        /// `JWS` or `COSE`.
        format: &'static str,
        /// What was wrong.
        found: String,
    },
    /// A signed attribute breaks the specification.
    #[error("signed attribute {attribute}: expected {expected}, found {found}")]
    Attribute {
        /// The attribute.
        attribute: &'static str,
        /// What the specification requires.
        expected: String,
        /// What the envelope has.
        found: String,
    },
    /// A critical attribute the verifier does not know.
    #[error(
        "unknown critical attribute {0:?}: an envelope whose critical attributes are not all understood must be refused"
    )]
    UnknownCritical(String),
    /// The certificate chain is absent or unreadable.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The signature algorithm does not match the signing certificate's key.
    #[error(
        "signature algorithm: the signing certificate's key requires {expected}, the envelope says {found}"
    )]
    AlgorithmMismatch {
        /// What the key dictates.
        expected: &'static str,
        /// What `alg` says.
        found: String,
    },
    /// The signature does not verify with the signing certificate's key.
    #[error("the signature does not verify with the signing certificate's key ({algorithm})")]
    Integrity {
        /// The algorithm used.
        algorithm: &'static str,
    },
    /// The payload names another artifact than the one verified.
    #[error("payload targetArtifact: expected {expected}, found {found}")]
    Target {
        /// The verified artifact's value.
        expected: String,
        /// The payload's value.
        found: String,
    },
    /// A signing request or the signature handed back for it cannot make an envelope.
    #[error("signing: expected {expected}, found {found}")]
    Sign {
        /// What writing an envelope needs.
        expected: String,
        /// What was given.
        found: String,
    },
    /// The media type names no envelope format.
    #[error("envelope media type: expected {JWS_MEDIA_TYPE} or {COSE_MEDIA_TYPE}, found {0:?}")]
    MediaType(String),
}

/// Read an envelope of either format, by the media type it is stored under (the signature
/// manifest's layer `mediaType`): [`JWS_MEDIA_TYPE`] or [`COSE_MEDIA_TYPE`].
pub fn parse(bytes: &[u8], media_type: &str) -> Result<Envelope, EnvelopeError> {
    match media_type {
        JWS_MEDIA_TYPE => jws::parse(bytes),
        COSE_MEDIA_TYPE => cose::parse(bytes),
        other => Err(EnvelopeError::MediaType(other.to_owned())),
    }
}

/// The signing scheme (`io.cncf.notary.signingScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningScheme {
    /// `notary.x509`: chain to a `ca` trust store; signing time untrusted (a timestamp may
    /// vouch for it).
    X509,
    /// `notary.x509.signingAuthority`: chain to a `signingAuthority` trust store; the signing
    /// time is authentic (signed by the authority).
    X509SigningAuthority,
}

impl SigningScheme {
    /// As written in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningScheme::X509 => "notary.x509",
            SigningScheme::X509SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// The six signature algorithms notation allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PSS with SHA-256 (RSA 2048).
    Ps256,
    /// RSASSA-PSS with SHA-384 (RSA 3072).
    Ps384,
    /// RSASSA-PSS with SHA-512 (RSA 4096).
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    /// The JWS `alg` name.
    pub fn jws_name(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }

    /// The COSE `alg` label (RFC 9053 / IANA COSE Algorithms).
    pub fn cose_label(self) -> i64 {
        match self {
            Algorithm::Ps256 => -37,
            Algorithm::Ps384 => -38,
            Algorithm::Ps512 => -39,
            Algorithm::Es256 => -7,
            Algorithm::Es384 => -35,
            Algorithm::Es512 => -36,
        }
    }

    const ALL: [Algorithm; 6] = [
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
    ];

    fn from_jws(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.jws_name() == name)
    }

    fn from_cose(label: i128) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| i128::from(a.cose_label()) == label)
    }

    /// The width in bytes of each of r and s in a fixed-size ECDSA signature (`None` for
    /// RSASSA-PSS).
    fn ecdsa_scalar_len(self) -> Option<usize> {
        match self {
            Algorithm::Es256 => Some(32),
            Algorithm::Es384 => Some(48),
            Algorithm::Es512 => Some(66),
            Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512 => None,
        }
    }

    fn verification(self) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        use aws_lc_rs::signature as sig;
        match self {
            Algorithm::Ps256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &sig::RSA_PSS_2048_8192_SHA512,
            // JWS and COSE carry ECDSA signatures as fixed-width r || s.
            Algorithm::Es256 => &sig::ECDSA_P256_SHA256_FIXED,
            Algorithm::Es384 => &sig::ECDSA_P384_SHA384_FIXED,
            Algorithm::Es512 => &sig::ECDSA_P521_SHA512_FIXED,
        }
    }
}

/// The signed attributes of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedAttributes {
    /// The signature algorithm.
    pub algorithm: Algorithm,
    /// The signing scheme.
    pub signing_scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (`notary.x509`; not trusted without a timestamp).
    pub signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.authenticSigningTime` (`notary.x509.signingAuthority`).
    pub authentic_signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<OffsetDateTime>,
    /// Extended attributes (other keys of the protected header), by name.
    pub extended: serde_json::Map<String, Value>,
    /// The critical attributes as listed.
    pub critical: Vec<String>,
}

impl SignedAttributes {
    /// True when the envelope has an expiry that has passed at `now`.
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.expiry.is_some_and(|e| e <= now)
    }
}

/// The signed payload: the artifact the signature is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Payload {
    /// `targetArtifact.mediaType`.
    pub media_type: String,
    /// `targetArtifact.digest`.
    pub digest: String,
    /// `targetArtifact.size`.
    pub size: u64,
    /// `targetArtifact.annotations` (user metadata).
    pub annotations: serde_json::Map<String, Value>,
}

impl Payload {
    /// The descriptor of the artifact to sign, without annotations.
    pub fn new(media_type: impl Into<String>, digest: impl Into<String>, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            digest: digest.into(),
            size,
            annotations: serde_json::Map::new(),
        }
    }

    /// With these annotations (notation's user metadata: string values; keys starting with
    /// `io.cncf.notary` are reserved).
    pub fn with_annotations(mut self, annotations: serde_json::Map<String, Value>) -> Self {
        self.annotations = annotations;
        self
    }

    fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let bad = |found: String| EnvelopeError::Malformed {
            format: "payload",
            found,
        };
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let t = v
            .get("targetArtifact")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no targetArtifact object".into()))?;
        let string = |k: &str| {
            t.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("no targetArtifact.{k} string")))
        };
        Ok(Self {
            media_type: string("mediaType")?,
            digest: string("digest")?,
            size: t
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("no targetArtifact.size number".into()))?,
            annotations: t
                .get("annotations")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// The payload names exactly this artifact (media type, digest and size, as notation
    /// checks them).
    pub fn check_target(
        &self,
        media_type: &str,
        digest: &str,
        size: u64,
    ) -> Result<(), EnvelopeError> {
        for (expected, found) in [
            (media_type.to_owned(), self.media_type.clone()),
            (digest.to_owned(), self.digest.clone()),
            (size.to_string(), self.size.to_string()),
        ] {
            if expected != found {
                return Err(EnvelopeError::Target { expected, found });
            }
        }
        Ok(())
    }
}

/// The envelope format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JWS JSON serialization (`application/jose+json`).
    Jws,
    /// `COSE_Sign1_Tagged` (`application/cose`).
    Cose,
}

impl Format {
    /// The envelope media type (the signature manifest layer's `mediaType`).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jws => JWS_MEDIA_TYPE,
            Format::Cose => COSE_MEDIA_TYPE,
        }
    }
}

/// A parsed envelope, ready for verification.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Envelope {
    /// JWS or COSE.
    pub format: Format,
    /// The signed attributes.
    pub attributes: SignedAttributes,
    /// The signed payload.
    pub payload: Payload,
    /// The certificate chain, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// `io.cncf.notary.timestampSignature` (an RFC 3161 TimeStampToken), unverified here.
    pub timestamp: Option<Vec<u8>>,
    /// `io.cncf.notary.signingAgent` (opaque, never validated).
    pub signing_agent: Option<String>,
    /// The exact signed bytes: JWS `BASE64URL(protected) '.' BASE64URL(payload)`, COSE the
    /// `Sig_structure` over the protected header as received.
    signing_input: Vec<u8>,
    /// The signature; ECDSA as fixed-width r || s in both formats.
    signature: Vec<u8>,
}

impl Envelope {
    /// The signature verifies over the exact signed bytes with the leaf certificate's key, and
    /// `alg` is the algorithm that key dictates. (Whether the chain is trusted is the trust
    /// store's question, not this one.)
    pub fn verify_integrity(&self) -> Result<(), EnvelopeError> {
        let leaf = self.chain.first().ok_or_else(|| {
            EnvelopeError::Chain("expected at least the signing certificate, found none".into())
        })?;
        let (expected, key) = key_algorithm(leaf)?;
        if expected != self.attributes.algorithm {
            return Err(EnvelopeError::AlgorithmMismatch {
                expected: expected.jws_name(),
                found: self.attributes.algorithm.jws_name().to_owned(),
            });
        }
        aws_lc_rs::signature::UnparsedPublicKey::new(expected.verification(), &key)
            .verify(&self.signing_input, &self.signature)
            .map_err(|_| EnvelopeError::Integrity {
                algorithm: expected.jws_name(),
            })
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// The algorithm a certificate's key dictates, and the key's raw public key bytes.
pub(crate) fn key_algorithm(der: &[u8]) -> Result<(Algorithm, Vec<u8>), EnvelopeError> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| {
        EnvelopeError::Chain(format!("the signing certificate is not X.509 DER: {e}"))
    })?;
    let spki = &cert.tbs_certificate().subject_public_key_info();
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| EnvelopeError::Chain("the signing key's BIT STRING has unused bits".into()))?
        .to_vec();
    let oid = spki.algorithm.oid.to_string();
    if oid == OID_RSA {
        // The modulus size decides: 2048 -> PS256, 3072 -> PS384, 4096 -> PS512.
        let bits = hallmark_core::keys::rsa_public_modulus_bits(&raw).ok_or_else(|| {
            EnvelopeError::Chain("the signing key is not an RSA public key".into())
        })?;
        let alg = match bits {
            2048 => Algorithm::Ps256,
            3072 => Algorithm::Ps384,
            4096 => Algorithm::Ps512,
            other => {
                return Err(EnvelopeError::Chain(format!(
                    "expected an RSA key of 2048, 3072 or 4096 bits, found {other} bits"
                )));
            }
        };
        return Ok((alg, raw));
    }
    if oid == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok())
            .map(|o| o.to_string())
            .unwrap_or_default();
        let alg = match curve.as_str() {
            OID_P256 => Algorithm::Es256,
            OID_P384 => Algorithm::Es384,
            OID_P521 => Algorithm::Es512,
            other => {
                return Err(EnvelopeError::Chain(format!(
                    "expected an EC key on P-256, P-384 or P-521, found curve {other:?}"
                )));
            }
        };
        return Ok((alg, raw));
    }
    Err(EnvelopeError::Chain(format!(
        "expected an RSA or EC signing key, found algorithm {oid}"
    )))
}

fn b64url(s: &str, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| EnvelopeError::Malformed {
            format: "JWS",
            found: format!("{what} is not unpadded base64url: {e}"),
        })
}
