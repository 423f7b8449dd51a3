//! Public keys, signing keys, signing and verification (on aws-lc-rs).
//!
//! Algorithms and hashes follow cosign: ECDSA P-256 with SHA-256 and P-384 with SHA-384 (ASN.1
//! DER signatures), RSA PKCS#1 v1.5 with SHA-256 (2048-4096 bit), and pure Ed25519.

use crate::error::KeyError;
use crate::pem_block;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    UnparsedPublicKey, VerificationAlgorithm,
};
use spki::der::asn1::{OctetStringRef, UintRef};
use spki::der::{Decode as _, Reader as _, SliceReader, TagMode, TagNumber};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

/// id-ecPublicKey
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// rsaEncryption
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-Ed25519
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// prime256v1 / secp256r1 / P-256
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1 / P-384
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Smallest RSA modulus accepted for signing keys, in bits.
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted for signing keys, in bits.
pub const RSA_MAX_BITS: usize = 4096;

/// PEM labels [`SigningKey::from_pem`] accepts.
const PRIVATE_LABELS: &str = "PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE KEY";

/// A readable name for a curve OID, for error messages.
fn curve_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.10045.3.1.7" => "P-256 (prime256v1)".to_string(),
        "1.3.132.0.34" => "P-384 (secp384r1)".to_string(),
        "1.3.132.0.33" => "P-224 (secp224r1)".to_string(),
        "1.3.132.0.35" => "P-521 (secp521r1)".to_string(),
        "1.3.132.0.10" => "secp256k1".to_string(),
        "1.2.840.10045.3.1.1" => "P-192 (prime192v1)".to_string(),
        other => format!("curve OID {other}"),
    }
}

/// A readable name for a key algorithm OID, for error messages.
fn algorithm_oid_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.101.113" => "Ed448 (1.3.101.113)".to_string(),
        "1.3.101.110" => "X25519 (1.3.101.110)".to_string(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS (1.2.840.113549.1.1.10)".to_string(),
        "1.2.840.10040.4.1" => "DSA (1.2.840.10040.4.1)".to_string(),
        other => format!("OID {other}"),
    }
}

fn invalid_key(what: &str, reason: impl Into<String>) -> KeyError {
    KeyError::InvalidKey {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// The ECDSA algorithm for a curve OID, or an error naming the curve.
fn ec_algorithm_for_curve(
    curve: Option<ObjectIdentifier>,
    what: &str,
) -> Result<KeyAlgorithm, KeyError> {
    match curve {
        Some(c) if c == OID_P256 => Ok(KeyAlgorithm::EcdsaP256),
        Some(c) if c == OID_P384 => Ok(KeyAlgorithm::EcdsaP384),
        Some(c) => Err(invalid_key(
            what,
            format!(
                "ECDSA curve {} is not supported; expected P-256 or P-384",
                curve_name(&c)
            ),
        )),
        None => Err(invalid_key(
            what,
            "EC key without a named curve; expected P-256 or P-384",
        )),
    }
}

/// Number of bits of a big-endian unsigned integer.
fn bit_len(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    match bytes.first() {
        Some(&first) => bytes.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// The modulus size of a PKCS#1 `RSAPublicKey` (the subjectPublicKey of an RSA SPKI), in bits;
/// `None` when `der` is not one.
pub fn rsa_public_modulus_bits(der: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(der).ok()?;
    let bits = reader
        .sequence(|r| {
            let modulus: UintRef<'_> = r.decode()?;
            let _exponent: UintRef<'_> = r.decode()?;
            Ok::<_, spki::der::Error>(bit_len(modulus.as_bytes()))
        })
        .ok()?;
    reader.finish().ok()?;
    Some(bits)
}

/// The modulus size of a PKCS#1 `RSAPrivateKey`, in bits.
fn pkcs1_modulus_bits(der: &[u8]) -> Result<usize, spki::der::Error> {
    let mut reader = SliceReader::new(der)?;
    let bits = reader.sequence(|r| {
        let _version: UintRef<'_> = r.decode()?;
        let modulus: UintRef<'_> = r.decode()?;
        let rest = r.remaining_len();
        r.read_slice(rest)?;
        Ok::<_, spki::der::Error>(bit_len(modulus.as_bytes()))
    })?;
    reader.finish()?;
    Ok(bits)
}

/// Reject RSA moduli outside 2048-4096 bits with an error naming the size.
fn check_rsa_bits(bits: usize, what: &str) -> Result<(), KeyError> {
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(invalid_key(
            what,
            format!(
                "RSA key size {bits} bits is not supported; expected {RSA_MIN_BITS} to {RSA_MAX_BITS} bits"
            ),
        ))
    }
}

/// The parts of a PKCS#8 `PrivateKeyInfo` needed to pick a parser.
struct Pkcs8Info<'a> {
    algorithm: ObjectIdentifier,
    parameters: Option<ObjectIdentifier>,
    private_key: &'a [u8],
}

fn parse_pkcs8_info(der: &[u8]) -> Result<Pkcs8Info<'_>, spki::der::Error> {
    let mut reader = SliceReader::new(der)?;
    let info = reader.sequence(|r| {
        let _version: UintRef<'_> = r.decode()?;
        let alg: AlgorithmIdentifierRef<'_> = r.decode()?;
        let key: &OctetStringRef = r.decode()?;
        // Optional attributes and (PKCS#8 v2) public key.
        let rest = r.remaining_len();
        r.read_slice(rest)?;
        let (algorithm, parameters) = alg.oids()?;
        Ok::<_, spki::der::Error>(Pkcs8Info {
            algorithm,
            parameters,
            private_key: key.as_bytes(),
        })
    })?;
    reader.finish()?;
    Ok(info)
}

/// The named curve of a SEC1 `ECPrivateKey`, if it names one.
fn sec1_curve(der: &[u8]) -> Result<Option<ObjectIdentifier>, spki::der::Error> {
    let mut reader = SliceReader::new(der)?;
    let curve = reader.sequence(|r| {
        let _version: UintRef<'_> = r.decode()?;
        let _key: &OctetStringRef = r.decode()?;
        let curve = r.context_specific::<ObjectIdentifier>(TagNumber(0), TagMode::Explicit)?;
        let rest = r.remaining_len();
        r.read_slice(rest)?;
        Ok::<_, spki::der::Error>(curve)
    })?;
    reader.finish()?;
    Ok(curve)
}

/// The kind of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256, SHA-256, DER signatures. The default.
    EcdsaP256,
    /// ECDSA on NIST P-384, SHA-384, DER signatures.
    EcdsaP384,
    /// Ed25519 (pure).
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rsa,
}

impl KeyAlgorithm {
    /// A short name: `ecdsa-p256`, `ecdsa-p384`, `ed25519`, `rsa`.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Ed25519 => "ed25519",
            Self::Rsa => "rsa",
        }
    }
    /// Parse the short name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "ecdsa-p256" => Some(Self::EcdsaP256),
            "ecdsa-p384" => Some(Self::EcdsaP384),
            "ed25519" => Some(Self::Ed25519),
            "rsa" => Some(Self::Rsa),
            _ => None,
        }
    }
    /// The aws-lc-rs verification algorithm (hash included).
    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
            Self::EcdsaP384 => &sig::ECDSA_P384_SHA384_ASN1,
            Self::Ed25519 => &sig::ED25519,
            Self::Rsa => &sig::RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    /// The short name, as [`KeyAlgorithm::name`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A public key, parsed from a SubjectPublicKeyInfo.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    // implementation detail: raw key bytes aws-lc-rs takes (EC point, RSA PKCS#1, Ed25519 32 bytes)
    raw: Vec<u8>,
}

impl PublicKey {
    /// Parse DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_spki_der_named(der, "public key")
    }
    /// Parse DER SubjectPublicKeyInfo; `what` names the source in errors.
    pub fn from_spki_der_named(der: &[u8], what: &str) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| {
            invalid_key(
                what,
                format!("expected a DER SubjectPublicKeyInfo, found bytes that do not parse ({e})"),
            )
        })?;
        let (oid, params) = spki.algorithm.oids().map_err(|e| {
            invalid_key(
                what,
                format!(
                    "unsupported key algorithm parameters (expected a named curve or NULL): {e}"
                ),
            )
        })?;
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            ec_algorithm_for_curve(params, what)?
        } else if oid == OID_RSA_ENCRYPTION {
            KeyAlgorithm::Rsa
        } else if oid == OID_ED25519 {
            KeyAlgorithm::Ed25519
        } else {
            return Err(invalid_key(
                what,
                format!(
                    "unsupported public key algorithm {}; expected id-ecPublicKey (P-256/P-384), \
                     rsaEncryption or Ed25519",
                    algorithm_oid_name(&oid)
                ),
            ));
        };
        let raw = spki.subject_public_key.as_bytes().ok_or_else(|| {
            invalid_key(
                what,
                "the subjectPublicKey BIT STRING has unused bits; expected whole bytes",
            )
        })?;
        ParsedPublicKey::new(algorithm.verification(), raw).map_err(|e| {
            invalid_key(
                what,
                format!("invalid {} public key: {e}", algorithm.name()),
            )
        })?;
        Ok(Self {
            algorithm,
            spki_der: der.to_vec(),
            raw: raw.to_vec(),
        })
    }
    /// Parse a `PUBLIC KEY` PEM (the first such block; other blocks are ignored).
    /// `what` names the source in errors.
    pub fn from_pem(pem: &str, what: &str) -> Result<Self, KeyError> {
        match pem_block::find(pem, what, |label| label == "PUBLIC KEY")? {
            Ok(block) => Self::from_spki_der_named(&block.decode(what)?, what),
            Err(found) => Err(KeyError::UnexpectedLabel {
                what: what.to_string(),
                found: found.to_string(),
                expected: "PUBLIC KEY",
            }),
        }
    }
    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
    /// The key itself: the SubjectPublicKeyInfo's BIT STRING contents (for EC keys the
    /// uncompressed point, for RSA the `RSAPublicKey`, for Ed25519 the 32 bytes).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
    /// `-----BEGIN PUBLIC KEY-----` PEM, LF line endings, trailing newline.
    pub fn to_pem(&self) -> String {
        pem_block::encode("PUBLIC KEY", &self.spki_der)
    }
    /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn fingerprint(&self) -> String {
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki_der).as_ref())
    }
    /// The OpenSSH SHA-256 fingerprint of this key (`SHA256:` and the unpadded base64 SHA-256
    /// of its SSH wire encoding, RFC 4253 / RFC 5656 / RFC 8709), as `ssh-keygen -l` prints it.
    /// DSSE verifiers in Go (go-securesystemslib, used by Rekor) take it as a key's ID when a
    /// signature names one. `None` for keys SSH cannot encode (a compressed EC point).
    pub fn ssh_key_id(&self) -> Option<String> {
        use base64::Engine as _;
        fn string(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        fn mpint(out: &mut Vec<u8>, unsigned: &[u8]) {
            let trimmed = match unsigned.iter().position(|&b| b != 0) {
                Some(i) => &unsigned[i..],
                None => &[][..],
            };
            if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
                out.extend_from_slice(&(trimmed.len() as u32 + 1).to_be_bytes());
                out.push(0);
                out.extend_from_slice(trimmed);
            } else {
                string(out, trimmed);
            }
        }
        let mut wire = Vec::with_capacity(self.raw.len() + 64);
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                let (name, curve, len) = if self.algorithm == KeyAlgorithm::EcdsaP256 {
                    ("ecdsa-sha2-nistp256", "nistp256", 65)
                } else {
                    ("ecdsa-sha2-nistp384", "nistp384", 97)
                };
                if self.raw.len() != len || self.raw.first() != Some(&4) {
                    return None;
                }
                string(&mut wire, name.as_bytes());
                string(&mut wire, curve.as_bytes());
                string(&mut wire, &self.raw);
            }
            KeyAlgorithm::Ed25519 => {
                string(&mut wire, b"ssh-ed25519");
                string(&mut wire, &self.raw);
            }
            KeyAlgorithm::Rsa => {
                let mut reader = SliceReader::new(&self.raw).ok()?;
                let (n, e) = reader
                    .sequence(|r| {
                        let n: UintRef<'_> = r.decode()?;
                        let e: UintRef<'_> = r.decode()?;
                        Ok::<_, spki::der::Error>((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
                    })
                    .ok()?;
                string(&mut wire, b"ssh-rsa");
                mpint(&mut wire, &e);
                mpint(&mut wire, &n);
            }
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &wire);
        Some(format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.as_ref())
        ))
    }
    /// Verify `signature` over `message` with this key's algorithm and hash.
    /// ECDSA signatures are ASN.1 DER.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let bad = |reason: &'static str| KeyError::BadSignature {
            algorithm: self.algorithm.name(),
            fingerprint: self.fingerprint(),
            reason,
        };
        if signature.is_empty() {
            return Err(bad("the signature is empty"));
        }
        UnparsedPublicKey::new(self.algorithm.verification(), &self.raw)
            .verify(message, signature)
            .map_err(|_| bad("the signature does not match the message and key"))
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm.name())
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}
impl Eq for PublicKey {}

/// A private key able to sign. The private key material lives inside aws-lc (freed and wiped
/// by it on drop); the PKCS#8 bytes kept for export are zeroized on drop.
pub struct SigningKey {
    pair: KeyPairInner,
    algorithm: KeyAlgorithm,
    public: PublicKey,
    pkcs8: Zeroizing<Vec<u8>>,
}

/// The aws-lc-rs key pair.
enum KeyPairInner {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl SigningKey {
    /// Generate a fresh key. RSA keys are 3072 bits.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let what = "key generation";
        let failed = |_| {
            invalid_key(
                what,
                format!("aws-lc failed to generate a {} key", algorithm.name()),
            )
        };
        let pair = match algorithm {
            KeyAlgorithm::EcdsaP256 => KeyPairInner::Ecdsa(
                EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).map_err(failed)?,
            ),
            KeyAlgorithm::EcdsaP384 => KeyPairInner::Ecdsa(
                EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_ASN1_SIGNING).map_err(failed)?,
            ),
            KeyAlgorithm::Ed25519 => {
                KeyPairInner::Ed25519(Ed25519KeyPair::generate().map_err(failed)?)
            }
            KeyAlgorithm::Rsa => {
                KeyPairInner::Rsa(RsaKeyPair::generate(KeySize::Rsa3072).map_err(failed)?)
            }
        };
        Self::from_pair(pair, algorithm, what)
    }
    /// Parse PKCS#8 DER (EC, RSA or Ed25519). `what` names the source in errors.
    pub fn from_pkcs8_der(der: &[u8], what: &str) -> Result<Self, KeyError> {
        let info = parse_pkcs8_info(der).map_err(|e| {
            invalid_key(
                what,
                format!("expected a PKCS#8 PrivateKeyInfo, found DER that does not parse ({e})"),
            )
        })?;
        let rejected = |algorithm: KeyAlgorithm| {
            move |e: aws_lc_rs::error::KeyRejected| {
                invalid_key(
                    what,
                    format!("invalid {} PKCS#8 private key: {e}", algorithm.name()),
                )
            }
        };
        let (pair, algorithm) = if info.algorithm == OID_EC_PUBLIC_KEY {
            let algorithm = ec_algorithm_for_curve(info.parameters, what)?;
            let signing = match algorithm {
                KeyAlgorithm::EcdsaP384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            };
            let pair = EcdsaKeyPair::from_pkcs8(signing, der).map_err(rejected(algorithm))?;
            (KeyPairInner::Ecdsa(pair), algorithm)
        } else if info.algorithm == OID_RSA_ENCRYPTION {
            let bits = pkcs1_modulus_bits(info.private_key).map_err(|e| {
                invalid_key(
                    what,
                    format!("expected a PKCS#1 RSAPrivateKey inside the PKCS#8, found ({e})"),
                )
            })?;
            check_rsa_bits(bits, what)?;
            let pair = RsaKeyPair::from_pkcs8(der).map_err(rejected(KeyAlgorithm::Rsa))?;
            (KeyPairInner::Rsa(pair), KeyAlgorithm::Rsa)
        } else if info.algorithm == OID_ED25519 {
            let pair = Ed25519KeyPair::from_pkcs8(der).map_err(rejected(KeyAlgorithm::Ed25519))?;
            (KeyPairInner::Ed25519(pair), KeyAlgorithm::Ed25519)
        } else {
            return Err(invalid_key(
                what,
                format!(
                    "unsupported private key algorithm {}; expected id-ecPublicKey \
                     (P-256/P-384), rsaEncryption or Ed25519",
                    algorithm_oid_name(&info.algorithm)
                ),
            ));
        };
        Self::from_pair(pair, algorithm, what)
    }
    /// Parse SEC1 `ECPrivateKey` DER (the body of an `EC PRIVATE KEY` PEM): P-256 or P-384.
    pub fn from_sec1_der(der: &[u8], what: &str) -> Result<Self, KeyError> {
        let curve = sec1_curve(der).map_err(|e| {
            invalid_key(
                what,
                format!("expected a SEC1 ECPrivateKey, found DER that does not parse ({e})"),
            )
        })?;
        let candidates: &[KeyAlgorithm] = match curve {
            Some(_) => &[ec_algorithm_for_curve(curve, what)?],
            // No curve named: try each supported curve.
            None => &[KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384],
        };
        for &algorithm in candidates {
            let signing = match algorithm {
                KeyAlgorithm::EcdsaP384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            };
            if let Ok(pair) = EcdsaKeyPair::from_private_key_der(signing, der) {
                return Self::from_pair(KeyPairInner::Ecdsa(pair), algorithm, what);
            }
        }
        Err(invalid_key(
            what,
            "the SEC1 EC private key is not a valid P-256 or P-384 key",
        ))
    }
    /// Parse PKCS#1 `RSAPrivateKey` DER (the body of an `RSA PRIVATE KEY` PEM), 2048-4096 bits.
    pub fn from_pkcs1_der(der: &[u8], what: &str) -> Result<Self, KeyError> {
        let bits = pkcs1_modulus_bits(der).map_err(|e| {
            invalid_key(
                what,
                format!("expected a PKCS#1 RSAPrivateKey, found DER that does not parse ({e})"),
            )
        })?;
        check_rsa_bits(bits, what)?;
        let pair = RsaKeyPair::from_der(der)
            .map_err(|e| invalid_key(what, format!("invalid PKCS#1 RSA private key: {e}")))?;
        Self::from_pair(KeyPairInner::Rsa(pair), KeyAlgorithm::Rsa, what)
    }
    /// Parse an unencrypted PEM: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` (SEC1) or
    /// `RSA PRIVATE KEY` (PKCS#1). Rejects curves other than P-256/P-384 and RSA keys under
    /// 2048 or over 4096 bits.
    pub fn from_pem(pem: &str, what: &str) -> Result<Self, KeyError> {
        let block = pem_block::find(pem, what, |label| {
            matches!(label, "PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY")
        })?
        .map_err(|found| KeyError::UnexpectedLabel {
            what: what.to_string(),
            found: found.to_string(),
            expected: PRIVATE_LABELS,
        })?;
        let der = block.decode(what)?;
        match block.label {
            "EC PRIVATE KEY" => Self::from_sec1_der(&der, what),
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der, what),
            _ => Self::from_pkcs8_der(&der, what),
        }
    }
    /// The PKCS#8 v1 DER encoding, in zeroizing memory.
    pub fn to_pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }
    /// The unencrypted PKCS#8 `PRIVATE KEY` PEM (LF line endings, trailing newline), in
    /// zeroizing memory. For interchange with other tools; prefer the encrypted cosign format
    /// for storage.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem_block::encode("PRIVATE KEY", &self.pkcs8))
    }
    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
    /// Sign `message` (hashing it with the algorithm's hash). ECDSA signatures are ASN.1 DER.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::SigningFailed {
            algorithm: self.algorithm.name(),
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.pair {
            KeyPairInner::Ecdsa(pair) => {
                Ok(pair.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
            KeyPairInner::Ed25519(pair) => {
                Ok(pair.try_sign(message).map_err(failed)?.as_ref().to_vec())
            }
            KeyPairInner::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&sig::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
        }
    }

    /// Build from an aws-lc-rs key pair: derive the public key and the PKCS#8 v1 export.
    fn from_pair(
        pair: KeyPairInner,
        algorithm: KeyAlgorithm,
        what: &str,
    ) -> Result<Self, KeyError> {
        let export_failed =
            |_| invalid_key(what, format!("cannot export the {} key", algorithm.name()));
        let (spki, pkcs8): (PublicKeyX509Der<'static>, Zeroizing<Vec<u8>>) = match &pair {
            KeyPairInner::Ecdsa(p) => (
                p.public_key().as_der().map_err(export_failed)?,
                Zeroizing::new(p.to_pkcs8v1().map_err(export_failed)?.as_ref().to_vec()),
            ),
            KeyPairInner::Ed25519(p) => (
                p.public_key().as_der().map_err(export_failed)?,
                Zeroizing::new(p.to_pkcs8v1().map_err(export_failed)?.as_ref().to_vec()),
            ),
            KeyPairInner::Rsa(p) => {
                let der: Pkcs8V1Der<'static> = p.as_der().map_err(export_failed)?;
                (
                    p.public_key().as_der().map_err(export_failed)?,
                    Zeroizing::new(der.as_ref().to_vec()),
                )
            }
        };
        let public = PublicKey::from_spki_der_named(spki.as_ref(), what)?;
        if public.algorithm != algorithm {
            return Err(invalid_key(
                what,
                format!(
                    "expected a {} key, found a {} public key",
                    algorithm.name(),
                    public.algorithm.name()
                ),
            ));
        }
        Ok(Self {
            pair,
            algorithm,
            public,
            pkcs8,
        })
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm.name())
            .field("fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}
