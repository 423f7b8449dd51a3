//! Notary public keys (`ecdsa`, `ecdsa-x509`, `ed25519`, `rsa`, `rsa-x509`), key IDs, and
//! signature verification by `method`.

use crate::canonical::to_canonical;
use crate::error::TufError;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use spki::der::Decode as _;
use spki::der::Encode as _;
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// id-ecPublicKey
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / P-256
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// rsaEncryption
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The `keytype` of a Notary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA P-256; `public` is base64 DER SubjectPublicKeyInfo.
    Ecdsa,
    /// ECDSA P-256 in a certificate; `public` is base64 of a PEM certificate.
    EcdsaX509,
    /// Ed25519; `public` is base64 of the 32 raw key bytes.
    Ed25519,
    /// RSA; `public` is base64 DER SubjectPublicKeyInfo.
    Rsa,
    /// RSA in a certificate; `public` is base64 of a PEM certificate.
    RsaX509,
}

impl KeyType {
    /// The `keytype` string Notary writes.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ecdsa => "ecdsa",
            KeyType::EcdsaX509 => "ecdsa-x509",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa => "rsa",
            KeyType::RsaX509 => "rsa-x509",
        }
    }

    /// The key type for a `keytype` string.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "ecdsa" => KeyType::Ecdsa,
            "ecdsa-x509" => KeyType::EcdsaX509,
            "ed25519" => KeyType::Ed25519,
            "rsa" => KeyType::Rsa,
            "rsa-x509" => KeyType::RsaX509,
            _ => return None,
        })
    }

    /// The signature `method`s Notary's verifiers accept for this key type.
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            KeyType::Ecdsa | KeyType::EcdsaX509 => &["ecdsa"],
            KeyType::Ed25519 => &["eddsa"],
            KeyType::Rsa | KeyType::RsaX509 => &["rsapss", "rsapkcs1v15"],
        }
    }
}

/// What Notary's trust pinning reads from an `*-x509` key's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject common name (Notary requires it to equal the GUN).
    pub common_name: Option<String>,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: u64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: u64,
}

/// A Notary public key as listed in `keys` of root or delegations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TufKey {
    key_type: KeyType,
    certificate: Option<CertificateInfo>,
    /// The decoded `keyval.public` bytes (DER SPKI, PEM certificate text, or raw Ed25519).
    public: Vec<u8>,
    /// The verification key: raw EC point, PKCS#1 RSAPublicKey DER, or raw Ed25519 bytes.
    verify_bytes: Vec<u8>,
}

impl TufKey {
    /// Builds a key from its `keytype` and decoded `keyval.public` bytes.
    pub fn new(key_type: KeyType, public: Vec<u8>) -> Result<Self, TufError> {
        let invalid = |reason: String| TufError::InvalidKey {
            key_id: "(new key)".to_string(),
            reason,
        };
        let mut certificate = None;
        let verify_bytes = match key_type {
            KeyType::Ed25519 => {
                if public.len() != 32 {
                    return Err(invalid(format!(
                        "ed25519: expected 32 public key bytes, found {}",
                        public.len()
                    )));
                }
                public.clone()
            }
            KeyType::Ecdsa => spki_key(&public, false).map_err(invalid)?,
            KeyType::Rsa => spki_key(&public, true).map_err(invalid)?,
            KeyType::EcdsaX509 | KeyType::RsaX509 => {
                let text = std::str::from_utf8(&public)
                    .map_err(|_| invalid("certificate PEM is not UTF-8".to_string()))?;
                let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
                    .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
                if label != "CERTIFICATE" {
                    return Err(invalid(format!(
                        "expected PEM label CERTIFICATE, found {label}"
                    )));
                }
                let cert = x509_cert::Certificate::from_der(&der)
                    .map_err(|e| invalid(format!("certificate: {e}")))?;
                let spki_der = cert
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .map_err(|e| invalid(format!("certificate public key: {e}")))?;
                let tbs = cert.tbs_certificate();
                let common_name = tbs
                    .subject()
                    .common_name()
                    .map_err(|e| invalid(format!("certificate subject: {e}")))?
                    .map(|cn| cn.value().into_owned());
                certificate = Some(CertificateInfo {
                    common_name,
                    not_before: tbs.validity().not_before.to_unix_duration().as_secs(),
                    not_after: tbs.validity().not_after.to_unix_duration().as_secs(),
                });
                spki_key(&spki_der, key_type == KeyType::RsaX509).map_err(invalid)?
            }
        };
        Ok(Self {
            key_type,
            certificate,
            public,
            verify_bytes,
        })
    }

    /// Parses a key object `{"keytype":..,"keyval":{"public":"<base64>",..}}`.
    pub fn from_value(value: &serde_json::Value, listed_id: &str) -> Result<Self, TufError> {
        let invalid = |reason: String| TufError::InvalidKey {
            key_id: listed_id.to_string(),
            reason,
        };
        let key_type_name = value
            .get("keytype")
            .and_then(|v| v.as_str())
            .ok_or_else(|| invalid("expected a string keytype".to_string()))?;
        let key_type = KeyType::from_name(key_type_name).ok_or_else(|| {
            invalid(format!(
                "keytype {key_type_name:?} is not one of ecdsa, ecdsa-x509, ed25519, rsa, rsa-x509"
            ))
        })?;
        let public_b64 = value
            .get("keyval")
            .and_then(|v| v.get("public"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| invalid("expected a base64 string keyval.public".to_string()))?;
        let public = STANDARD
            .decode(public_b64)
            .map_err(|e| invalid(format!("keyval.public is not base64: {e}")))?;
        Self::new(key_type, public).map_err(|e| match e {
            TufError::InvalidKey { reason, .. } => invalid(reason),
            other => other,
        })
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The certificate fields of an `*-x509` key.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        self.certificate.as_ref()
    }

    /// The decoded `keyval.public` bytes.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The key ID: hex SHA-256 of the canonical JSON of
    /// `{"keytype":T,"keyval":{"private":null,"public":"<base64>"}}` (for x509 keys, of the
    /// certificate form).
    pub fn key_id(&self) -> String {
        let object = json!({
            "keytype": self.key_type.name(),
            "keyval": {"private": null, "public": STANDARD.encode(&self.public)},
        });
        // Strings and null only: canonicalisation cannot fail.
        let bytes = to_canonical(&object).unwrap_or_default();
        hex::encode(digest::digest(&digest::SHA256, &bytes))
    }

    /// Verifies `signature` made with `method` over `message` (the canonical `signed` bytes).
    pub fn verify(
        &self,
        key_id: &str,
        method: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TufError> {
        let algorithm: &'static dyn VerificationAlgorithm = match (self.key_type, method) {
            (KeyType::Ecdsa | KeyType::EcdsaX509, "ecdsa") => &sig::ECDSA_P256_SHA256_FIXED,
            (KeyType::Ed25519, "eddsa") => &sig::ED25519,
            (KeyType::Rsa | KeyType::RsaX509, "rsapss") => &sig::RSA_PSS_2048_8192_SHA256,
            (KeyType::Rsa | KeyType::RsaX509, "rsapkcs1v15") => &sig::RSA_PKCS1_2048_8192_SHA256,
            _ => {
                return Err(TufError::MethodMismatch {
                    key_id: key_id.to_string(),
                    key_type: self.key_type.name().to_string(),
                    method: method.to_string(),
                    expected: self.key_type.methods().join(", "),
                });
            }
        };
        UnparsedPublicKey::new(algorithm, &self.verify_bytes)
            .verify(message, signature)
            .map_err(|_| TufError::BadSignature {
                key_id: key_id.to_string(),
            })
    }
}

/// The key bytes aws-lc-rs verifies with, from DER SubjectPublicKeyInfo: the uncompressed
/// P-256 point, or the PKCS#1 RSAPublicKey.
fn spki_key(der: &[u8], rsa: bool) -> Result<Vec<u8>, String> {
    let spki =
        SubjectPublicKeyInfoRef::from_der(der).map_err(|e| format!("SubjectPublicKeyInfo: {e}"))?;
    let oid = spki.algorithm.oid;
    if rsa {
        if oid != OID_RSA_ENCRYPTION {
            return Err(format!(
                "expected an RSA key (rsaEncryption), found OID {oid}"
            ));
        }
    } else {
        if oid != OID_EC_PUBLIC_KEY {
            return Err(format!(
                "expected an EC key (id-ecPublicKey), found OID {oid}"
            ));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve != Some(OID_P256) {
            return Err(format!(
                "expected curve P-256, found {}",
                curve.map_or_else(|| "none".to_string(), |c| c.to_string())
            ));
        }
    }
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "public key BIT STRING has unused bits".to_string())
}
