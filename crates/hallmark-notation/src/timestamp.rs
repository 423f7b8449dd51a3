//! RFC 3161 timestamp countersignatures, as notation verifies them (trust-store-trust-policy.md
//! §Signature Verification, "Authentic timestamp"; notation-go's verifier with tspclient-go):
//!
//! - [`parse`]: a `TimeStampToken` (RFC 3161 §2.4.2): a DER CMS `ContentInfo` holding a
//!   `SignedData` (RFC 5652 §5, version 3) whose encapsulated content is an `id-ct-TSTInfo`:
//!   version 1, policy, `messageImprint` (SHA-256/384/512 and the hashed message), serial
//!   number, `genTime` (fractional seconds allowed), accuracy, nonce.
//! - [`TimeStampToken::check_imprint`]: the `messageImprint` is the hash of the bytes
//!   timestamped. notation timestamps the envelope's signature value (the raw signature bytes,
//!   hashed with the algorithm the token names; notation asks with its signature's hash).
//! - [`TimeStampToken::verify`]: the imprint; the signer certificate chosen by the signed
//!   `signing-certificate-v2` attribute (RFC 5035, which the specification requires; by its
//!   `issuerSerial`, else by the signer identifier: issuer and serial number or subject key
//!   identifier) and its certificate hash; the `content-type` (`id-ct-TSTInfo`) and
//!   `message-digest` signed attributes (RFC 5652 §11); the signature over the DER `SET OF`
//!   signed attributes (RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA with SHA-256/384/512); the
//!   timestamping authority's chain, from the signer through the token's certificates to a root
//!   of the `tsa` trust stores, checked as the specification requires for a TSA (see
//!   [`chain::Purpose::Timestamping`]) at `genTime`; a `signing-time` attribute, if any, within
//!   that chain's validity.
//! - [`TstInfo::range`]: the time the token vouches for, `[genTime - accuracy, genTime +
//!   accuracy]`; without an accuracy, one second under the baseline policy of RFC 3628
//!   (`0.4.0.2023.1.1`), else none.
//!
//! Not here: BER-encoded tokens (tspclient-go converts BER to DER first; only DER is read
//! here), revocation of the timestamping chain.

use crate::chain::{self, ChainError, Purpose};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, Int, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Sequence, Tag, Tagged as _};
use spki::AlgorithmIdentifierOwned;
use time::{Duration, OffsetDateTime};
use x509_cert::Certificate;
use x509_cert::attr::Attributes;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// RFC 3628 §5.2: the baseline time-stamp policy (an accuracy of one second when none is given).
const BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const EC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The longest timestamping chain followed (leaf, intermediates, root).
const MAX_CHAIN: usize = 8;

/// Why a timestamp countersignature is not acceptable. Each names what was expected and what
/// was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The envelope has no timestamp, and the trust policy requires one.
    #[error(
        "expected an RFC 3161 timestamp countersignature (io.cncf.notary.timestampSignature) because {required_by}, found none in the envelope"
    )]
    Missing {
        /// Why one is required (the policy's `verifyTimestamp` and `tsa` stores).
        required_by: String,
    },
    /// Not the token's syntax.
    #[error(
        "expected an RFC 3161 TimeStampToken (a DER CMS SignedData of id-ct-TSTInfo), found {found}"
    )]
    Malformed {
        /// What was wrong.
        found: String,
    },
    /// A field of the token has another value than RFC 3161 / RFC 5652 allow.
    #[error("timestamp token {field}: expected {expected}, found {found}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is required.
        expected: String,
        /// What the token has.
        found: String,
    },
    /// An algorithm notation does not accept for timestamps.
    #[error("timestamp token {what}: expected {expected}, found {found}")]
    Algorithm {
        /// Which algorithm (message imprint, digest, signature).
        what: &'static str,
        /// The algorithms accepted.
        expected: &'static str,
        /// The token's algorithm.
        found: String,
    },
    /// The token timestamps other bytes than the envelope's signature.
    #[error(
        "timestamp messageImprint: expected the {algorithm} hash of the envelope's signature, {expected}, found {found}"
    )]
    MessageImprint {
        /// The token's hash algorithm.
        algorithm: &'static str,
        /// The hash of the signature, hex.
        expected: String,
        /// The token's hashed message, hex.
        found: String,
    },
    /// A signed attribute is absent or wrong.
    #[error("timestamp signed attribute {attribute}: expected {expected}, found {found}")]
    SignedAttribute {
        /// The attribute.
        attribute: &'static str,
        /// What is required.
        expected: String,
        /// What the token has.
        found: String,
    },
    /// The signer's certificate is not among the token's certificates.
    #[error(
        "timestamp signer: expected its certificate ({expected}) among the token's certificates, found none of {count}"
    )]
    SignerNotFound {
        /// How the signer is identified.
        expected: String,
        /// How many certificates the token carries.
        count: usize,
    },
    /// The token's signature does not verify with its signer's key.
    #[error(
        "timestamp signature: expected a signature by {signer} ({algorithm}), found one that does not verify"
    )]
    Signature {
        /// The signer's subject.
        signer: String,
        /// The signature algorithm.
        algorithm: &'static str,
    },
    /// The policy's `tsa` stores hold no certificate.
    #[error(
        "expected the certificates of the tsa trust stores {stores} to verify the timestamp with, found none"
    )]
    NoTrustedRoots {
        /// The stores named by the policy.
        stores: String,
    },
    /// The timestamping authority does not chain to a root of the `tsa` stores.
    #[error(
        "timestamping authority {subject}: expected a chain to a root of the tsa trust stores, found none (the chain stops at {reached})"
    )]
    Untrusted {
        /// The signer's subject.
        subject: String,
        /// The subject of the last certificate reached.
        reached: String,
    },
    /// The timestamping authority's chain breaks a rule of the specification.
    #[error("timestamping authority chain: {0}")]
    TsaChain(ChainError),
    /// The envelope's signing chain is not valid over the whole time the token vouches for.
    #[error("signing certificate chain at the timestamp: {0}")]
    SigningChain(ChainError),
}

fn malformed(found: impl Into<String>) -> TimestampError {
    TimestampError::Malformed {
        found: found.into(),
    }
}

/// A hash algorithm of timestamps (SHA-256, SHA-384, SHA-512; notation accepts no other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            SHA256 => Some(Self::Sha256),
            SHA384 => Some(Self::Sha384),
            SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn from_identifier(
        what: &'static str,
        alg: &AlgorithmIdentifierOwned,
    ) -> Result<Self, TimestampError> {
        Self::from_oid(&alg.oid).ok_or_else(|| TimestampError::Algorithm {
            what,
            expected: "SHA-256, SHA-384 or SHA-512",
            found: alg.oid.to_string(),
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// The hash of `bytes`.
    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        let alg = match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        };
        aws_lc_rs::digest::digest(alg, bytes).as_ref().to_vec()
    }
}

/// The time a timestamp vouches for: from `earliest` to `latest` (RFC 3161 `genTime` minus and
/// plus its accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeRange {
    /// `genTime - accuracy`.
    pub earliest: OffsetDateTime,
    /// `genTime + accuracy`.
    pub latest: OffsetDateTime,
}

impl std::fmt::Display for TimeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        write!(f, "[{}, {}]", show(self.earliest), show(self.latest))
    }
}

/// The content of a token (RFC 3161 §2.4.2 `TSTInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TstInfo {
    /// The TSA policy under which the token was issued (dotted OID).
    pub policy: String,
    /// The hash algorithm of the message imprint.
    pub hash_algorithm: HashAlgorithm,
    /// The hash of the timestamped bytes.
    pub hashed_message: Vec<u8>,
    /// The token's serial number (big-endian, as encoded).
    pub serial_number: Vec<u8>,
    /// `genTime`: when the token was created, by the TSA's clock.
    pub gen_time: OffsetDateTime,
    /// The accuracy of `genTime` (see [`TstInfo::range`] for the baseline policy's default).
    pub accuracy: Duration,
    /// The requester's nonce, if any (big-endian, as encoded).
    pub nonce: Option<Vec<u8>>,
}

impl TstInfo {
    /// `[genTime - accuracy, genTime + accuracy]`, saturating at the representable times.
    pub fn range(&self) -> TimeRange {
        TimeRange {
            earliest: self.gen_time.saturating_sub(self.accuracy),
            latest: self.gen_time.saturating_add(self.accuracy),
        }
    }
}

/// A parsed, unverified RFC 3161 `TimeStampToken`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TimeStampToken {
    /// The token's content.
    pub info: TstInfo,
    /// The certificates the token carries, DER (the TSA's chain, in any order, maybe without
    /// its root).
    pub certificates: Vec<Vec<u8>>,
    /// The DER `TSTInfo` (the signed content).
    content: Vec<u8>,
    signer_infos: Vec<SignerInfo>,
}

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The time the token vouches for.
    pub range: TimeRange,
    /// The timestamping authority's chain, DER, from its signing certificate to the trusted
    /// root.
    pub tsa_chain: Vec<Vec<u8>>,
}

// RFC 3161 §2.4.2 (IMPLICIT TAGS module).
#[derive(Clone, Debug, Sequence)]
struct TstInfoDer {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprintDer,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<AccuracyDer>,
    #[asn1(optional = "true")]
    ordering: Option<bool>,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    extensions: Option<x509_cert::ext::Extensions>,
}

#[derive(Clone, Debug, Sequence)]
struct MessageImprintDer {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Clone, Debug, Sequence)]
struct AccuracyDer {
    #[asn1(optional = "true")]
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

// RFC 5035 §3.
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Vec<Any>>,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    /// Absent: SHA-256 (the DEFAULT).
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// Parse a `TimeStampToken` (DER), without verifying it.
pub fn parse(bytes: &[u8]) -> Result<TimeStampToken, TimestampError> {
    let ci = ContentInfo::from_der(bytes)
        .map_err(|e| malformed(format!("no DER CMS ContentInfo: {e}")))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(TimestampError::Field {
            field: "content type",
            expected: format!("id-signedData ({ID_SIGNED_DATA})"),
            found: ci.content_type.to_string(),
        });
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| malformed(format!("no CMS SignedData: {e}")))?;
    if sd.version != CmsVersion::V3 {
        return Err(TimestampError::Field {
            field: "SignedData version",
            expected: "3".into(),
            found: format!("{}", sd.version as u8),
        });
    }
    let econtent_type = sd.encap_content_info.econtent_type;
    if econtent_type != ID_CT_TST_INFO {
        return Err(TimestampError::Field {
            field: "encapsulated content type",
            expected: format!("id-ct-TSTInfo ({ID_CT_TST_INFO})"),
            found: econtent_type.to_string(),
        });
    }
    let content = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("no encapsulated TSTInfo"))?
        .decode_as::<OctetString>()
        .map_err(|e| {
            malformed(format!(
                "the encapsulated content is not an OCTET STRING: {e}"
            ))
        })?
        .into_bytes()
        .into_vec();
    let info = tst_info(&content)?;
    let mut certificates = Vec::new();
    for choice in sd.certificates.iter().flat_map(|set| set.0.iter()) {
        if let CertificateChoices::Certificate(cert) = choice {
            certificates.push(
                cert.to_der()
                    .map_err(|e| malformed(format!("a certificate does not re-encode: {e}")))?,
            );
        }
    }
    Ok(TimeStampToken {
        info,
        certificates,
        content,
        signer_infos: sd.signer_infos.0.into_vec(),
    })
}

fn tst_info(der: &[u8]) -> Result<TstInfo, TimestampError> {
    let t = TstInfoDer::from_der(der).map_err(|e| malformed(format!("no TSTInfo: {e}")))?;
    if t.version != 1 {
        return Err(TimestampError::Field {
            field: "TSTInfo version",
            expected: "1".into(),
            found: t.version.to_string(),
        });
    }
    let hash_algorithm = HashAlgorithm::from_identifier(
        "messageImprint hash algorithm",
        &t.message_imprint.hash_algorithm,
    )?;
    let gen_time = generalized_time(&t.gen_time)?;
    let mut accuracy = Duration::ZERO;
    if let Some(a) = &t.accuracy {
        for (field, value) in [("accuracy millis", a.millis), ("accuracy micros", a.micros)] {
            if let Some(v) = value
                && v > 999
            {
                return Err(TimestampError::Field {
                    field,
                    expected: "1 to 999".into(),
                    found: v.to_string(),
                });
            }
        }
        let seconds = i64::try_from(a.seconds.unwrap_or(0)).map_err(|_| TimestampError::Field {
            field: "accuracy seconds",
            expected: "a representable number of seconds".into(),
            found: format!("{:?}", a.seconds),
        })?;
        accuracy = Duration::seconds(seconds)
            + Duration::milliseconds(i64::from(a.millis.unwrap_or(0)))
            + Duration::microseconds(i64::from(a.micros.unwrap_or(0)));
    }
    // tspclient-go: no accuracy (or a zero one) under the baseline policy means one second.
    if accuracy.is_zero() && t.policy == BASELINE_POLICY {
        accuracy = Duration::SECOND;
    }
    Ok(TstInfo {
        policy: t.policy.to_string(),
        hash_algorithm,
        hashed_message: t.message_imprint.hashed_message.into_bytes().into_vec(),
        serial_number: t.serial_number.as_bytes().to_vec(),
        gen_time,
        accuracy,
        nonce: t.nonce.map(|n| n.as_bytes().to_vec()),
    })
}

/// `YYYYMMDDhhmmss[.f+]Z` (RFC 3161 §2.4.2: UTC, fractional seconds allowed).
fn generalized_time(any: &Any) -> Result<OffsetDateTime, TimestampError> {
    let bad = |found: String| TimestampError::Field {
        field: "genTime",
        expected: "a GeneralizedTime YYYYMMDDhhmmss[.fraction]Z".into(),
        found,
    };
    if any.tag() != Tag::GeneralizedTime {
        return Err(bad(format!("tag {}", any.tag())));
    }
    let text = std::str::from_utf8(any.value()).map_err(|_| bad("non-ASCII bytes".into()))?;
    let body = text
        .strip_suffix('Z')
        .ok_or_else(|| bad(format!("{text:?} (not UTC)")))?;
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("{text:?}")));
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, TimestampError> {
        whole
            .get(r)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("{text:?}")))
    };
    let year = i32::try_from(num(0..4)?).map_err(|_| bad(format!("{text:?}")))?;
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            // Nanosecond precision; further digits do not change the range meaningfully.
            let digits: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
            digits.parse().map_err(|_| bad(format!("{text:?}")))?
        }
        Some(_) => return Err(bad(format!("{text:?}"))),
    };
    let to_u8 = |v: u32| u8::try_from(v).map_err(|_| bad(format!("{text:?}")));
    let month = time::Month::try_from(to_u8(num(4..6)?)?).map_err(|_| bad(format!("{text:?}")))?;
    let date = time::Date::from_calendar_date(year, month, to_u8(num(6..8)?)?)
        .map_err(|_| bad(format!("{text:?}")))?;
    let t = time::Time::from_hms_nano(
        to_u8(num(8..10)?)?,
        to_u8(num(10..12)?)?,
        to_u8(num(12..14)?)?,
        nanos,
    )
    .map_err(|_| bad(format!("{text:?}")))?;
    Ok(date.with_time(t).assume_utc())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn subject(der: &[u8]) -> String {
    Certificate::from_der(der)
        .map(|c| c.tbs_certificate().subject().to_string())
        .unwrap_or_else(|_| "an unreadable certificate".into())
}

/// The single value of the signed attribute `oid`, if present.
fn attribute<'a>(
    attrs: &'a Attributes,
    oid: ObjectIdentifier,
    name: &'static str,
) -> Result<Option<&'a Any>, TimestampError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || attr.values.len() != 1 {
        return Err(TimestampError::SignedAttribute {
            attribute: name,
            expected: "one attribute with one value".into(),
            found: "several".into(),
        });
    }
    Ok(attr.values.iter().next())
}

fn required<'a>(
    attrs: &'a Attributes,
    oid: ObjectIdentifier,
    name: &'static str,
) -> Result<&'a Any, TimestampError> {
    attribute(attrs, oid, name)?.ok_or_else(|| TimestampError::SignedAttribute {
        attribute: name,
        expected: "the attribute".into(),
        found: "none".into(),
    })
}

impl TimeStampToken {
    /// The token timestamps `message`: its `messageImprint` is `message`'s hash (for notation,
    /// `message` is the envelope's signature value).
    pub fn check_imprint(&self, message: &[u8]) -> Result<(), TimestampError> {
        let expected = self.info.hash_algorithm.digest(message);
        if expected != self.info.hashed_message {
            return Err(TimestampError::MessageImprint {
                algorithm: self.info.hash_algorithm.name(),
                expected: hex(&expected),
                found: hex(&self.info.hashed_message),
            });
        }
        Ok(())
    }

    /// Verify the token as a timestamp of `message` by a timestamping authority whose chain
    /// ends in one of `roots` (DER: the certificates of the policy's `tsa` stores): the imprint,
    /// the CMS signature and its signed attributes, the authority's chain. The first signer that
    /// verifies is taken (as tspclient-go does); otherwise the last signer's error is returned.
    pub fn verify(&self, message: &[u8], roots: &[Vec<u8>]) -> Result<Verified, TimestampError> {
        self.check_imprint(message)?;
        let mut last = TimestampError::SignedAttribute {
            attribute: "signerInfos",
            expected: "at least one signer".into(),
            found: "none".into(),
        };
        for signer in &self.signer_infos {
            match self.verify_signer(signer, roots) {
                Ok(tsa_chain) => {
                    return Ok(Verified {
                        range: self.info.range(),
                        tsa_chain,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn verify_signer(
        &self,
        signer: &SignerInfo,
        roots: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, TimestampError> {
        let attrs =
            signer
                .signed_attrs
                .as_ref()
                .ok_or_else(|| TimestampError::SignedAttribute {
                    attribute: "signedAttrs",
                    expected: "signed attributes (a timestamp signs its TSTInfo through them)"
                        .into(),
                    found: "none".into(),
                })?;
        let cert = self.signing_certificate(signer, attrs)?;

        // RFC 5652 §11.1: the content type signed is the encapsulated one.
        let content_type = required(attrs, ID_CONTENT_TYPE, "content-type")?
            .decode_as::<ObjectIdentifier>()
            .map_err(|e| TimestampError::SignedAttribute {
                attribute: "content-type",
                expected: "an OBJECT IDENTIFIER".into(),
                found: e.to_string(),
            })?;
        if content_type != ID_CT_TST_INFO {
            return Err(TimestampError::SignedAttribute {
                attribute: "content-type",
                expected: format!("id-ct-TSTInfo ({ID_CT_TST_INFO})"),
                found: content_type.to_string(),
            });
        }
        // RFC 5652 §11.2: the digest of the content, with the signer's digest algorithm.
        let digest_alg = HashAlgorithm::from_identifier("digest algorithm", &signer.digest_alg)?;
        let digest = required(attrs, ID_MESSAGE_DIGEST, "message-digest")?
            .decode_as::<OctetString>()
            .map_err(|e| TimestampError::SignedAttribute {
                attribute: "message-digest",
                expected: "an OCTET STRING".into(),
                found: e.to_string(),
            })?;
        let expected = digest_alg.digest(&self.content);
        if digest.as_bytes() != expected.as_slice() {
            return Err(TimestampError::SignedAttribute {
                attribute: "message-digest",
                expected: format!(
                    "the {} digest of the TSTInfo, {}",
                    digest_alg.name(),
                    hex(&expected)
                ),
                found: hex(digest.as_bytes()),
            });
        }

        // RFC 5652 §5.4: the signature is over the DER SET OF the signed attributes.
        let signed = attrs
            .to_der()
            .map_err(|e| TimestampError::SignedAttribute {
                attribute: "signedAttrs",
                expected: "attributes that encode as DER".into(),
                found: e.to_string(),
            })?;
        let parsed = Certificate::from_der(&cert).map_err(|e| {
            TimestampError::TsaChain(ChainError::Malformed {
                index: 0,
                reason: e.to_string(),
            })
        })?;
        let (algorithm, name) = signature_algorithm(signer, &parsed, digest_alg)?;
        let key = parsed
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| {
                TimestampError::TsaChain(ChainError::Malformed {
                    index: 0,
                    reason: "the subjectPublicKey has unused bits".into(),
                })
            })?;
        aws_lc_rs::signature::UnparsedPublicKey::new(algorithm, key)
            .verify(&signed, signer.signature.as_bytes())
            .map_err(|_| TimestampError::Signature {
                signer: subject(&cert),
                algorithm: name,
            })?;

        // The authority's chain to a trusted root, valid when the token was made.
        let tsa_chain = self.tsa_chain(&cert, roots)?;
        chain::validate_for(
            &tsa_chain,
            Purpose::Timestamping,
            self.info.gen_time.unix_timestamp(),
        )
        .map_err(TimestampError::TsaChain)?;
        if let Some(t) = attribute(attrs, ID_SIGNING_TIME, "signing-time")? {
            let t = x509_cert::time::Time::from_der(&t.to_der().map_err(|e| {
                TimestampError::SignedAttribute {
                    attribute: "signing-time",
                    expected: "a Time".into(),
                    found: e.to_string(),
                }
            })?)
            .map_err(|e| TimestampError::SignedAttribute {
                attribute: "signing-time",
                expected: "a UTCTime or GeneralizedTime".into(),
                found: e.to_string(),
            })?;
            let at = i64::try_from(t.to_unix_duration().as_secs())
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .ok_or_else(|| TimestampError::SignedAttribute {
                    attribute: "signing-time",
                    expected: "a representable time".into(),
                    found: t.to_string(),
                })?;
            chain::check_validity(&tsa_chain, at, at).map_err(TimestampError::TsaChain)?;
        }
        Ok(tsa_chain)
    }

    /// The signer's certificate, chosen as tspclient-go does: by the signed
    /// `signing-certificate-v2` attribute's `issuerSerial`, else by the (unsigned) signer
    /// identifier; its hash must be the attribute's `certHash`.
    fn signing_certificate(
        &self,
        signer: &SignerInfo,
        attrs: &Attributes,
    ) -> Result<Vec<u8>, TimestampError> {
        const NAME: &str = "signing-certificate-v2";
        let bad = |expected: &str, found: String| TimestampError::SignedAttribute {
            attribute: NAME,
            expected: expected.into(),
            found,
        };
        let v2: SigningCertificateV2 = required(attrs, ID_SIGNING_CERTIFICATE_V2, NAME)?
            .decode_as()
            .map_err(|e: der::Error| bad("a SigningCertificateV2 (RFC 5035)", e.to_string()))?;
        let id = v2
            .certs
            .first()
            .ok_or_else(|| bad("at least one ESSCertIDv2", "none".into()))?;
        let parsed: Vec<(&Vec<u8>, Certificate)> = self
            .certificates
            .iter()
            .filter_map(|der| Certificate::from_der(der).ok().map(|c| (der, c)))
            .collect();
        let issuer_serial_matches =
            |c: &Certificate, issuer: &x509_cert::name::Name, serial: &[u8]| {
                let tbs = c.tbs_certificate();
                tbs.serial_number().as_bytes() == serial
                    && tbs.issuer().to_der().ok() == issuer.to_der().ok()
            };
        let (found, wanted) = match &id.issuer_serial {
            Some(is) => {
                let Some(GeneralName::DirectoryName(issuer)) = is.issuer.first() else {
                    return Err(bad(
                        "an issuerSerial naming the issuer by a directory name",
                        "another kind of name".into(),
                    ));
                };
                (
                    parsed.iter().find(|(_, c)| {
                        issuer_serial_matches(c, issuer, is.serial_number.as_bytes())
                    }),
                    format!(
                        "issuer {issuer}, serial {}",
                        hex(is.serial_number.as_bytes())
                    ),
                )
            }
            None => match &signer.sid {
                SignerIdentifier::IssuerAndSerialNumber(isn) => (
                    parsed.iter().find(|(_, c)| {
                        issuer_serial_matches(c, &isn.issuer, isn.serial_number.as_bytes())
                    }),
                    format!(
                        "issuer {}, serial {}",
                        isn.issuer,
                        hex(isn.serial_number.as_bytes())
                    ),
                ),
                SignerIdentifier::SubjectKeyIdentifier(ski) => (
                    parsed.iter().find(|(_, c)| {
                        matches!(
                            c.tbs_certificate().get_extension::<SubjectKeyIdentifier>(),
                            Ok(Some((_, k))) if k == *ski
                        )
                    }),
                    format!("subject key identifier {}", hex(ski.0.as_bytes())),
                ),
            },
        };
        let Some((der, _)) = found else {
            return Err(TimestampError::SignerNotFound {
                expected: wanted,
                count: self.certificates.len(),
            });
        };
        let hash = match &id.hash_algorithm {
            None => HashAlgorithm::Sha256,
            Some(alg) => HashAlgorithm::from_identifier("signing-certificate-v2 hash", alg)?,
        };
        let actual = hash.digest(der);
        if actual.as_slice() != id.cert_hash.as_bytes() {
            return Err(bad(
                &format!(
                    "the {} hash of the signer's certificate, {}",
                    hash.name(),
                    hex(&actual)
                ),
                hex(id.cert_hash.as_bytes()),
            ));
        }
        Ok((*der).clone())
    }

    /// The chain from `leaf` through the token's certificates to a certificate of `roots`
    /// that issued the last one (a root of the store that is the leaf itself ends it too).
    fn tsa_chain(&self, leaf: &[u8], roots: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, TimestampError> {
        let mut chain = vec![leaf.to_vec()];
        while chain.len() <= MAX_CHAIN {
            let Some(current) = chain.last() else { break };
            if let Some(root) = roots.iter().find(|r| chain::issued_by(current, r)) {
                if root != current {
                    chain.push(root.clone());
                }
                return Ok(chain);
            }
            match self
                .certificates
                .iter()
                .find(|c| !chain.contains(c) && chain::issued_by(current, c))
            {
                Some(next) => chain.push(next.clone()),
                None => break,
            }
        }
        Err(TimestampError::Untrusted {
            subject: subject(leaf),
            reached: chain.last().map(|c| subject(c)).unwrap_or_default(),
        })
    }
}

/// The verification algorithm of a CMS signature (RFC 5652 §5.6), from the signer's signature
/// algorithm, its digest algorithm and the key of its certificate.
fn signature_algorithm(
    signer: &SignerInfo,
    cert: &Certificate,
    digest: HashAlgorithm,
) -> Result<
    (
        &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
        &'static str,
    ),
    TimestampError,
> {
    use HashAlgorithm::{Sha256, Sha384, Sha512};
    use aws_lc_rs::signature as sig;
    let oid = signer.signature_algorithm.oid;
    let unsupported = || TimestampError::Algorithm {
        what: "signature algorithm",
        expected: "RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA with SHA-256, SHA-384 or SHA-512",
        found: oid.to_string(),
    };
    let spki = cert.tbs_certificate().subject_public_key_info();
    let curve = if spki.algorithm.oid == EC_KEY {
        spki.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
    } else {
        None
    };
    let ecdsa = |hash: HashAlgorithm| -> Result<
        (&'static dyn sig::VerificationAlgorithm, &'static str),
        TimestampError,
    > {
        Ok(match (curve, hash) {
            (Some(P256), Sha256) => (&sig::ECDSA_P256_SHA256_ASN1, "ECDSA P-256 SHA-256"),
            (Some(P256), Sha384) => (&sig::ECDSA_P256_SHA384_ASN1, "ECDSA P-256 SHA-384"),
            (Some(P256), Sha512) => (&sig::ECDSA_P256_SHA512_ASN1, "ECDSA P-256 SHA-512"),
            (Some(P384), Sha256) => (&sig::ECDSA_P384_SHA256_ASN1, "ECDSA P-384 SHA-256"),
            (Some(P384), Sha384) => (&sig::ECDSA_P384_SHA384_ASN1, "ECDSA P-384 SHA-384"),
            (Some(P384), Sha512) => (&sig::ECDSA_P384_SHA512_ASN1, "ECDSA P-384 SHA-512"),
            (Some(P521), Sha256) => (&sig::ECDSA_P521_SHA256_ASN1, "ECDSA P-521 SHA-256"),
            (Some(P521), Sha384) => (&sig::ECDSA_P521_SHA384_ASN1, "ECDSA P-521 SHA-384"),
            (Some(P521), Sha512) => (&sig::ECDSA_P521_SHA512_ASN1, "ECDSA P-521 SHA-512"),
            (other, _) => {
                return Err(TimestampError::Algorithm {
                    what: "ECDSA signer key",
                    expected: "an EC key on P-256, P-384 or P-521",
                    found: other.map_or_else(|| "another key".to_owned(), |o| o.to_string()),
                });
            }
        })
    };
    let pkcs1 = |hash: HashAlgorithm| -> (&'static dyn sig::VerificationAlgorithm, &'static str) {
        match hash {
            Sha256 => (&sig::RSA_PKCS1_2048_8192_SHA256, "RSA PKCS#1 v1.5 SHA-256"),
            Sha384 => (&sig::RSA_PKCS1_2048_8192_SHA384, "RSA PKCS#1 v1.5 SHA-384"),
            Sha512 => (&sig::RSA_PKCS1_2048_8192_SHA512, "RSA PKCS#1 v1.5 SHA-512"),
        }
    };
    Ok(match oid {
        // rsaEncryption: the hash is the signer's digest algorithm.
        RSA => pkcs1(digest),
        SHA256_RSA => pkcs1(Sha256),
        SHA384_RSA => pkcs1(Sha384),
        SHA512_RSA => pkcs1(Sha512),
        // As tspclient-go: the digest algorithm's hash, MGF1 with it, salt of its length.
        RSA_PSS => match digest {
            Sha256 => (&sig::RSA_PSS_2048_8192_SHA256, "RSASSA-PSS SHA-256"),
            Sha384 => (&sig::RSA_PSS_2048_8192_SHA384, "RSASSA-PSS SHA-384"),
            Sha512 => (&sig::RSA_PSS_2048_8192_SHA512, "RSASSA-PSS SHA-512"),
        },
        ECDSA_SHA256 => ecdsa(Sha256)?,
        ECDSA_SHA384 => ecdsa(Sha384)?,
        ECDSA_SHA512 => ecdsa(Sha512)?,
        _ => return Err(unsupported()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    #[test]
    fn generalized_times_with_and_without_fractions() {
        use der::asn1::Any;
        let t = |s: &str| {
            super::generalized_time(&Any::new(der::Tag::GeneralizedTime, s.as_bytes()).unwrap())
        };
        assert_eq!(
            t("20240618062937Z").unwrap(),
            time::macros::datetime!(2024-06-18 06:29:37 UTC)
        );
        assert_eq!(
            t("20240618062937.25Z").unwrap(),
            time::macros::datetime!(2024-06-18 06:29:37.25 UTC)
        );
        for bad in [
            "20240618062937",
            "2024061806293Z",
            "20241318062937Z",
            "20240618062937.Z",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            super::parse(b"\x30\x03\x02\x01\x01"),
            Err(super::TimestampError::Malformed { .. })
        ));
    }
}
