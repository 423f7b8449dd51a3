//! The certificate chain of an envelope, checked as the Notary Project signature specification
//! requires (§Certificate Requirements) and anchored in a trust store:
//!
//! - ordered leaf → intermediates → root: each certificate is issued (subject = issuer, and
//!   signature verified) by the next; the last is a self-signed root; no SHA-1 signatures;
//! - CA certificates: basic constraints present and critical with `cA`, path length honoured,
//!   key usage with `keyCertSign`;
//! - the signing certificate (also when it is the root alone): basic constraints, if present,
//!   without `cA`; key usage present with `digitalSignature` and none of `keyEncipherment`,
//!   `dataEncipherment`, `keyAgreement`, `keyCertSign`, `cRLSign`, `encipherOnly`,
//!   `decipherOnly`; extended key usage, if present, without `anyExtendedKeyUsage`,
//!   `serverAuth`, `clientAuth`, `emailProtection` or `timeStamping`;
//! - RSA keys of at least 2048 bits, EC keys of at least 256;
//! - every certificate valid at the instant given (now, or the authentic signing time), or over
//!   a whole time range ([`check_validity`]: an RFC 3161 timestamp's);
//! - [`anchored`]: the root is one of the trust store's certificates (byte for byte).
//!
//! A timestamping authority's chain ([`Purpose::Timestamping`]) follows the same rules except
//! for its leaf's extended key usage: present, critical, and only `id-kp-timeStamping`
//! (RFC 3161 §2.3); CA certificates with an extended key usage must allow timestamping.
//!
//! Revocation (OCSP, CRL) is not checked; this is where it would go.

use time::OffsetDateTime;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

/// What a certificate chain is for: the rules of its leaf differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// An envelope's signing chain: code-signing leaf rules.
    CodeSigning,
    /// A timestamping authority's chain: the leaf's extended key usage is critical and only
    /// `id-kp-timeStamping`.
    Timestamping,
}

/// Why a chain is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate that is not X.509 DER.
    #[error("certificate {index} of the chain is not X.509 DER: {reason}")]
    Malformed {
        /// Its place in the chain (0 = the signing certificate).
        index: usize,
        /// Why.
        reason: String,
    },
    /// The chain is not ordered leaf to root.
    #[error(
        "certificate {index} of the chain: expected it to be issued by certificate {next} ({expected}), found {found}"
    )]
    Order {
        /// The certificate.
        index: usize,
        /// The one after it.
        next: usize,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A rule of the specification is broken.
    #[error("certificate {index} of the chain ({subject}): expected {expected}, found {found}")]
    Rule {
        /// Its place.
        index: usize,
        /// Its subject.
        subject: String,
        /// What the specification requires.
        expected: String,
        /// What the certificate has.
        found: String,
    },
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const EKU_ANY: &str = "2.5.29.37.0";
const EKU_SERVER: &str = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT: &str = "1.3.6.1.5.5.7.3.2";
const EKU_EMAIL: &str = "1.3.6.1.5.5.7.3.4";
const EKU_TIMESTAMP: &str = "1.3.6.1.5.5.7.3.8";

struct Cert {
    subject: Vec<u8>,
    subject_text: String,
    issuer: Vec<u8>,
    tbs: Vec<u8>,
    signature_oid: String,
    signature: Vec<u8>,
    key_oid: String,
    key_param: Option<String>,
    key: Vec<u8>,
    not_before: i64,
    not_after: i64,
    basic: Option<(bool, BasicConstraints)>,
    key_usage: Option<(bool, KeyUsage)>,
    eku: Option<(bool, Vec<String>)>,
}

fn parse(index: usize, der: &[u8]) -> Result<Cert, ChainError> {
    let bad = |reason: String| ChainError::Malformed { index, reason };
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
    let tbs = cert.tbs_certificate();
    let spki = tbs.subject_public_key_info();
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("the subjectPublicKey has unused bits".into()))?
        .to_vec();
    let validity = tbs.validity();
    let secs = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let basic = tbs
        .get_extension::<BasicConstraints>()
        .map_err(|e| bad(format!("basicConstraints: {e}")))?;
    let key_usage = tbs
        .get_extension::<KeyUsage>()
        .map_err(|e| bad(format!("keyUsage: {e}")))?;
    let eku = tbs
        .get_extension::<ExtendedKeyUsage>()
        .map_err(|e| bad(format!("extKeyUsage: {e}")))?
        .map(|(critical, e)| (critical, e.0.iter().map(ToString::to_string).collect()));
    Ok(Cert {
        subject: tbs.subject().to_der().map_err(|e| bad(e.to_string()))?,
        subject_text: tbs.subject().to_string(),
        issuer: tbs.issuer().to_der().map_err(|e| bad(e.to_string()))?,
        tbs: tbs.to_der().map_err(|e| bad(e.to_string()))?,
        signature_oid: cert.signature_algorithm().oid.to_string(),
        signature: cert
            .signature()
            .as_bytes()
            .ok_or_else(|| bad("the signature has unused bits".into()))?
            .to_vec(),
        key_oid: spki.algorithm.oid.to_string(),
        key_param: spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok())
            .map(|o| o.to_string()),
        key,
        not_before: secs(validity.not_before),
        not_after: secs(validity.not_after),
        basic,
        key_usage,
        eku,
    })
}

impl Cert {
    fn rule(
        &self,
        index: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ChainError {
        ChainError::Rule {
            index,
            subject: self.subject_text.clone(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// The key's size in bits (RSA modulus, EC curve).
    fn key_bits(&self) -> u32 {
        if self.key_oid == OID_RSA {
            return hallmark_core::keys::rsa_public_modulus_bits(&self.key)
                .and_then(|b| u32::try_from(b).ok())
                .unwrap_or(0);
        }
        match self.key_param.as_deref() {
            Some("1.2.840.10045.3.1.7") => 256,
            Some("1.3.132.0.34") => 384,
            Some("1.3.132.0.35") => 521,
            _ => 0,
        }
    }

    /// Does `issuer`'s key verify this certificate's signature?
    fn signed_by(&self, index: usize, issuer: &Cert) -> Result<(), ChainError> {
        use aws_lc_rs::signature as sig;
        let alg: &'static dyn sig::VerificationAlgorithm = match (
            self.signature_oid.as_str(),
            issuer.key_param.as_deref(),
        ) {
            ("1.2.840.113549.1.1.11", _) => &sig::RSA_PKCS1_2048_8192_SHA256,
            ("1.2.840.113549.1.1.12", _) => &sig::RSA_PKCS1_2048_8192_SHA384,
            ("1.2.840.113549.1.1.13", _) => &sig::RSA_PKCS1_2048_8192_SHA512,
            ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => &sig::ECDSA_P256_SHA256_ASN1,
            ("1.2.840.10045.4.3.3", Some("1.2.840.10045.3.1.7")) => &sig::ECDSA_P256_SHA384_ASN1,
            ("1.2.840.10045.4.3.2", Some("1.3.132.0.34")) => &sig::ECDSA_P384_SHA256_ASN1,
            ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => &sig::ECDSA_P384_SHA384_ASN1,
            ("1.2.840.10045.4.3.4", Some("1.3.132.0.35")) => &sig::ECDSA_P521_SHA512_ASN1,
            ("1.2.840.113549.1.1.5" | "1.2.840.10045.4.1", _) => {
                return Err(self.rule(index, "a signature algorithm other than SHA-1", "SHA-1"));
            }
            (other, _) => {
                return Err(self.rule(
                    index,
                    "an RSA PKCS#1 v1.5 or ECDSA signature with SHA-256/384/512 (RSASSA-PSS certificate signatures are not supported yet)",
                    format!("signature algorithm {other}"),
                ));
            }
        };
        sig::UnparsedPublicKey::new(alg, &issuer.key)
            .verify(&self.tbs, &self.signature)
            .map_err(|_| {
                self.rule(
                    index,
                    format!("a signature by {}", issuer.subject_text),
                    "a signature that does not verify",
                )
            })
    }

    fn check_key(&self, index: usize) -> Result<(), ChainError> {
        let bits = self.key_bits();
        let (min, kind) = if self.key_oid == OID_RSA {
            (2048, "RSA")
        } else if self.key_oid == OID_EC {
            (256, "EC")
        } else {
            return Err(self.rule(
                index,
                "an RSA or EC key",
                format!("key algorithm {}", self.key_oid),
            ));
        };
        if bits < min {
            return Err(self.rule(
                index,
                format!("an {kind} key of at least {min} bits"),
                format!("{bits} bits"),
            ));
        }
        Ok(())
    }

    fn check_leaf(&self, index: usize, purpose: Purpose) -> Result<(), ChainError> {
        self.check_leaf_usage(index)?;
        match purpose {
            Purpose::CodeSigning => self.check_code_signing_eku(index),
            Purpose::Timestamping => self.check_timestamping_eku(index),
        }
    }

    /// RFC 3161 §2.3 and the specification: the extended key usage of a timestamping
    /// certificate is present, critical, and exactly `id-kp-timeStamping`.
    fn check_timestamping_eku(&self, index: usize) -> Result<(), ChainError> {
        let expected = "a critical extended key usage with only timeStamping";
        match &self.eku {
            None => Err(self.rule(index, expected, "no extended key usage")),
            Some((false, _)) => {
                Err(self.rule(index, expected, "a non-critical extended key usage"))
            }
            Some((true, ekus)) if matches!(ekus.as_slice(), [only] if only == EKU_TIMESTAMP) => {
                Ok(())
            }
            Some((true, ekus)) => Err(self.rule(
                index,
                expected,
                format!("extended key usage {}", ekus.join(", ")),
            )),
        }
    }

    /// The leaf's basic constraints and key usage, the same for every purpose.
    fn check_leaf_usage(&self, index: usize) -> Result<(), ChainError> {
        if let Some((_, b)) = &self.basic
            && b.ca
        {
            return Err(self.rule(
                index,
                "basicConstraints without cA on the signing certificate",
                "cA=true",
            ));
        }
        let Some((_, ku)) = &self.key_usage else {
            return Err(self.rule(
                index,
                "keyUsage with digitalSignature on the signing certificate",
                "no keyUsage",
            ));
        };
        if !ku.digital_signature() {
            return Err(self.rule(index, "keyUsage digitalSignature", "keyUsage without it"));
        }
        for (set, name) in [
            (ku.key_encipherment(), "keyEncipherment"),
            (ku.data_encipherment(), "dataEncipherment"),
            (ku.key_agreement(), "keyAgreement"),
            (ku.key_cert_sign(), "keyCertSign"),
            (ku.crl_sign(), "cRLSign"),
            (ku.encipher_only(), "encipherOnly"),
            (ku.decipher_only(), "decipherOnly"),
        ] {
            if set {
                return Err(self.rule(
                    index,
                    format!("no {name} in the signing certificate's keyUsage"),
                    name,
                ));
            }
        }
        Ok(())
    }

    fn check_code_signing_eku(&self, index: usize) -> Result<(), ChainError> {
        if let Some((_, eku)) = &self.eku {
            for (oid, name) in [
                (EKU_ANY, "anyExtendedKeyUsage"),
                (EKU_SERVER, "serverAuth"),
                (EKU_CLIENT, "clientAuth"),
                (EKU_EMAIL, "emailProtection"),
                (EKU_TIMESTAMP, "timeStamping"),
            ] {
                if eku.iter().any(|e| e == oid) {
                    return Err(self.rule(index, "an extended key usage for code signing", name));
                }
            }
        }
        Ok(())
    }

    fn check_ca(&self, index: usize, below: usize, purpose: Purpose) -> Result<(), ChainError> {
        // A CA that restricts its extended key usage must allow timestamping for a TSA chain
        // (as the path validation notation relies on checks it).
        if purpose == Purpose::Timestamping
            && let Some((_, ekus)) = &self.eku
            && !ekus.iter().any(|e| e == EKU_TIMESTAMP || e == EKU_ANY)
        {
            return Err(self.rule(
                index,
                "an extended key usage allowing timeStamping on a CA of a timestamping chain",
                format!("extended key usage {}", ekus.join(", ")),
            ));
        }
        match &self.basic {
            Some((true, b)) if b.ca => {
                if let Some(max) = b.path_len_constraint
                    && below > usize::from(max) + 1
                {
                    return Err(self.rule(
                        index,
                        format!(
                            "at most {max} intermediate certificates below it (pathLenConstraint)"
                        ),
                        format!("{}", below - 1),
                    ));
                }
            }
            Some((critical, b)) => {
                return Err(self.rule(
                    index,
                    "critical basicConstraints with cA on a CA certificate",
                    format!("critical={critical}, cA={}", b.ca),
                ));
            }
            None => return Err(self.rule(index, "basicConstraints on a CA certificate", "none")),
        }
        match &self.key_usage {
            Some((_, ku)) if ku.key_cert_sign() => Ok(()),
            _ => Err(self.rule(index, "keyUsage keyCertSign on a CA certificate", "none")),
        }
    }
}

fn parse_all(chain: &[Vec<u8>]) -> Result<Vec<Cert>, ChainError> {
    let certs: Vec<Cert> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| parse(i, der))
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(ChainError::Malformed {
            index: 0,
            reason: "the chain is empty".into(),
        });
    }
    Ok(certs)
}

/// Check a code-signing `chain` (DER, leaf first) as the specification requires, every
/// certificate valid at `at` (Unix seconds).
pub fn validate(chain: &[Vec<u8>], at: i64) -> Result<(), ChainError> {
    validate_for(chain, Purpose::CodeSigning, at)
}

/// Check `chain` (DER, leaf first) for `purpose` as the specification requires, every
/// certificate valid at `at` (Unix seconds).
pub fn validate_for(chain: &[Vec<u8>], purpose: Purpose, at: i64) -> Result<(), ChainError> {
    validate_structure(chain, purpose)?;
    let at = OffsetDateTime::from_unix_timestamp(at).map_err(|e| ChainError::Malformed {
        index: 0,
        reason: format!("the instant {at} is not a representable time: {e}"),
    })?;
    check_validity(chain, at, at)
}

/// Check `chain` (DER, leaf first) for `purpose` as the specification requires, except when its
/// certificates are valid (see [`check_validity`]; notation checks that as part of the authentic
/// timestamp).
pub fn validate_structure(chain: &[Vec<u8>], purpose: Purpose) -> Result<(), ChainError> {
    let certs = parse_all(chain)?;
    if let Some(leaf) = certs.first() {
        leaf.check_leaf(0, purpose)?;
    }
    for (i, c) in certs.iter().enumerate() {
        c.check_key(i)?;
        match certs.get(i + 1) {
            Some(next) => {
                if c.issuer != next.subject {
                    return Err(ChainError::Order {
                        index: i,
                        next: i + 1,
                        expected: format!("issuer {}", next.subject_text),
                        found: "another issuer (the chain must be ordered leaf to root, one parent each)".into(),
                    });
                }
                c.signed_by(i, next)?;
                next.check_ca(i + 1, i + 1, purpose)?;
            }
            None => {
                if c.issuer != c.subject {
                    return Err(c.rule(
                        i,
                        "a self-signed root at the end of the chain",
                        "a certificate issued by another",
                    ));
                }
                c.signed_by(i, c)?;
            }
        }
    }
    Ok(())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn instant(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(if secs < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        time::macros::datetime!(9999-12-31 23:59:59 UTC)
    })
}

/// Every certificate of `chain` is valid over the whole of `[from, to]` (`from == to`: at one
/// instant). The error names the certificate, its validity and the time checked.
pub fn check_validity(
    chain: &[Vec<u8>],
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<(), ChainError> {
    for (i, c) in parse_all(chain)?.iter().enumerate() {
        let (not_before, not_after) = (instant(c.not_before), instant(c.not_after));
        if from < not_before || to > not_after {
            let (expected, checked) = if from == to {
                (
                    "a certificate valid at the instant checked",
                    format!("at {}", rfc3339(from)),
                )
            } else {
                (
                    "a certificate valid over the whole time range checked",
                    format!("over the whole of [{}, {}]", rfc3339(from), rfc3339(to)),
                )
            };
            return Err(c.rule(
                i,
                expected,
                format!(
                    "one valid from {} to {}, not {checked}",
                    rfc3339(not_before),
                    rfc3339(not_after)
                ),
            ));
        }
    }
    Ok(())
}

/// True when some certificate of `chain` has expired at `at` (its notAfter is before it), as
/// notation's `verifyTimestamp: afterCertExpiry` asks.
pub fn expired_at(chain: &[Vec<u8>], at: OffsetDateTime) -> Result<bool, ChainError> {
    Ok(parse_all(chain)?.iter().any(|c| at > instant(c.not_after)))
}

/// True when `issuer` (DER) issued `cert` (DER): its subject is `cert`'s issuer and its key
/// verifies `cert`'s signature. Unreadable certificates issue nothing.
pub fn issued_by(cert: &[u8], issuer: &[u8]) -> bool {
    match (parse(0, cert), parse(1, issuer)) {
        (Ok(c), Ok(i)) => c.issuer == i.subject && c.signed_by(0, &i).is_ok(),
        _ => false,
    }
}

/// True when the chain's root is one of `store`'s certificates (DER, byte for byte).
pub fn anchored(chain: &[Vec<u8>], store: &[Vec<u8>]) -> bool {
    chain
        .last()
        .is_some_and(|root| store.iter().any(|c| c == root))
}

/// The SHA-256 thumbprints of a chain, upper-case hex, leaf first (the signature manifest's
/// `io.cncf.notary.x509chain.thumbprint#S256`).
pub fn thumbprints(chain: &[Vec<u8>]) -> Vec<String> {
    chain
        .iter()
        .map(|der| {
            hallmark_core::Digest::sha256_of(der)
                .to_string()
                .trim_start_matches("sha256:")
                .to_uppercase()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_empty_chain_is_refused() {
        assert!(super::validate(&[], 0).is_err());
        assert!(!super::anchored(&[], &[vec![1]]));
    }
}
