//! Private key files of a docker/notary trust directory (`<trust dir>/private/<key ID>.key`).
//!
//! Notary 0.7.0 (`tuf/utils/pkcs8.go`, `utils.go`) writes each private key as a PEM block
//! `ENCRYPTED PRIVATE KEY` with the PEM headers `role: <role>` and, for keys of one
//! repository, `gun: <gun>` (Go's `pem.Encode` writes them sorted, then a blank line). The body
//! is a PKCS#8 `EncryptedPrivateKeyInfo` encrypted with PBES2: PBKDF2 with its default PRF,
//! **HMAC-SHA1** (no `prf` field), an 8-byte salt and 2048 iterations, and **AES-256-CBC** with
//! a 16-byte IV and PKCS#7 padding.
//!
//! The decrypted `PrivateKeyInfo` is in notary's own flavour, which generic PKCS#8 parsers
//! reject, so it is read and written here by hand:
//!
//! - ECDSA: version **1** without a public key, algorithm `{id-ecPublicKey, prime256v1}`,
//!   the private key a SEC1 `ECPrivateKey` (Go's `x509.MarshalECPrivateKey`).
//! - Ed25519: version 0, algorithm OID `1.3.6.1.4.1.11591.15.1` (not RFC 8410's), the private
//!   key notary's 96 raw bytes `public || seed || public`.
//!
//! RSA keys are not supported. The key ID of a file is notary's ID of the public key
//! ([`TufKey::key_id`] of the `ecdsa` or `ed25519` key); for a root key that is not the ID of
//! the `ecdsa-x509` certificate listed in `root.json`.
//!
//! Pure: no file I/O. Only [`write_key_file`] draws randomness (salt and IV);
//! [`write_key_file_with`] takes them from the caller.

use crate::keys::{KeyType, TufKey};
use aws_lc_rs::cipher::{
    AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use spki::ObjectIdentifier;
use std::num::NonZeroU32;
use thiserror::Error;
use zeroize::Zeroizing;

/// The PEM label of a notary private key file.
pub const PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";
/// The PEM header naming the key's role.
pub const ROLE_HEADER: &str = "role";
/// The PEM header naming the key's repository (GUN).
pub const GUN_HEADER: &str = "gun";
/// PBKDF2 iterations notary 0.7.0 uses.
pub const NOTARY_PBKDF2_ITERATIONS: u32 = 2048;
/// Most PBKDF2 iterations accepted when reading, so a hostile file cannot stall the reader.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const OID_PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
const OID_HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
const OID_HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const OID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_NOTARY_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11591.15.1");

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Why a key file could not be read or written.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The PEM armour is missing or broken.
    #[error("key file: malformed PEM: {reason}")]
    Armor {
        /// What was wrong.
        reason: String,
    },
    /// The PEM label is not `ENCRYPTED PRIVATE KEY`.
    #[error("key file: expected a PEM block {expected:?}, found {found:?}")]
    WrongLabel {
        /// The label expected.
        expected: String,
        /// The label found.
        found: String,
    },
    /// The file has no `role` header.
    #[error("key file: expected a PEM header \"role\", found none")]
    MissingRole,
    /// The encrypted structure is not the PBES2 shape notary writes.
    #[error("key file: malformed encrypted key: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// An algorithm notary 0.7.0 does not write, or this module does not support.
    #[error("key file: unsupported {what}")]
    Unsupported {
        /// The algorithm or key kind.
        what: String,
    },
    /// Decryption failed: the passphrase is wrong (or the ciphertext was altered).
    #[error("key file: wrong passphrase")]
    WrongPassphrase,
    /// The decrypted key is not a valid key of its type.
    #[error("key file: invalid {key_type} private key: {reason}")]
    InvalidKey {
        /// `ecdsa` or `ed25519`.
        key_type: String,
        /// What was wrong.
        reason: String,
    },
    /// The platform's cryptography failed (random numbers, cipher setup).
    #[error("key file: cryptography failed: {reason}")]
    Crypto {
        /// What failed.
        reason: String,
    },
}

fn malformed(reason: impl Into<String>) -> KeyFileError {
    KeyFileError::Malformed {
        reason: reason.into(),
    }
}

fn crypto(reason: &str) -> KeyFileError {
    KeyFileError::Crypto {
        reason: reason.to_string(),
    }
}

/// The PEM headers of a key file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFileHeaders {
    /// Every `key: value` header line.
    pub headers: Vec<(String, String)>,
}

impl KeyFileHeaders {
    /// The value of the first header named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `role` header.
    pub fn role(&self) -> Option<&str> {
        self.get(ROLE_HEADER)
    }

    /// The `gun` header.
    pub fn gun(&self) -> Option<&str> {
        self.get(GUN_HEADER)
    }
}

/// One PEM block: its label, headers and decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label of the `-----BEGIN <label>-----` line.
    pub label: String,
    /// The header lines before the body.
    pub headers: KeyFileHeaders,
    /// The base64-decoded body.
    pub der: Vec<u8>,
}

/// Parses the first PEM block of `text`, keeping its headers (`key: value` lines up to the
/// first blank line, as Go's `encoding/pem` reads them).
pub fn parse_pem(text: &str) -> Result<PemBlock, KeyFileError> {
    let armor = |reason: &str| KeyFileError::Armor {
        reason: reason.to_string(),
    };
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let label = loop {
        let line = lines
            .next()
            .ok_or_else(|| armor("no -----BEGIN line"))?
            .trim_end();
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            break rest
                .strip_suffix("-----")
                .ok_or_else(|| armor("BEGIN line does not end in -----"))?
                .to_string();
        }
    };
    let mut headers = Vec::new();
    let mut body = String::new();
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("-----END ") {
            if rest.strip_suffix("-----") != Some(label.as_str()) {
                return Err(armor("END line does not match the BEGIN line"));
            }
            ended = true;
            break;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
                continue;
            }
            in_headers = false;
        }
        body.push_str(line.trim_start());
    }
    if !ended {
        return Err(armor("no -----END line"));
    }
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|e| armor(&format!("body is not base64: {e}")))?;
    Ok(PemBlock {
        label,
        headers: KeyFileHeaders { headers },
        der,
    })
}

/// Writes one PEM block as Go's `pem.Encode` does: headers sorted by name, a blank line after
/// them, the body in 64-column base64 lines.
pub fn write_pem(label: &str, headers: &[(&str, &str)], der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut sorted: Vec<&(&str, &str)> = headers.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in &sorted {
        out.push_str(&format!("{k}: {v}\n"));
    }
    if !sorted.is_empty() {
        out.push('\n');
    }
    let b64 = STANDARD.encode(der);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[derive(Clone)]
enum Secret {
    /// SEC1 `ECPrivateKey` DER of a P-256 key.
    Ecdsa(Zeroizing<Vec<u8>>),
    /// notary's 96 bytes `public || seed || public`.
    Ed25519(Zeroizing<Vec<u8>>),
}

/// A notary private key (ECDSA P-256 or Ed25519) with its public key.
#[derive(Clone)]
pub struct PrivateKey {
    secret: Secret,
    public: TufKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("key_type", &self.public.key_type())
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// An ECDSA P-256 key from its SEC1 `ECPrivateKey` DER (what notary keeps).
    pub fn from_ecdsa_sec1_der(der: &[u8]) -> Result<Self, KeyFileError> {
        let invalid = |reason: String| KeyFileError::InvalidKey {
            key_type: "ecdsa".to_string(),
            reason,
        };
        let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| invalid(e.to_string()))?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| invalid("public key cannot be encoded".to_string()))?;
        let public = TufKey::new(KeyType::Ecdsa, spki.as_ref().to_vec())
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            secret: Secret::Ecdsa(Zeroizing::new(der.to_vec())),
            public,
        })
    }

    /// An Ed25519 key from its 32-byte seed.
    pub fn from_ed25519_seed(seed: &[u8]) -> Result<Self, KeyFileError> {
        let invalid = |reason: String| KeyFileError::InvalidKey {
            key_type: "ed25519".to_string(),
            reason,
        };
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| invalid(e.to_string()))?;
        let public = pair.public_key().as_ref().to_vec();
        let mut raw = Zeroizing::new(Vec::with_capacity(96));
        raw.extend_from_slice(&public);
        raw.extend_from_slice(seed);
        raw.extend_from_slice(&public);
        Self::from_notary_ed25519(&raw)
    }

    /// An Ed25519 key from notary's 96 bytes `public || seed || public`.
    pub fn from_notary_ed25519(raw: &[u8]) -> Result<Self, KeyFileError> {
        let invalid = |reason: &str| KeyFileError::InvalidKey {
            key_type: "ed25519".to_string(),
            reason: reason.to_string(),
        };
        if raw.len() != 96 {
            return Err(invalid("expected 96 bytes (public || seed || public)"));
        }
        let (public, seed, again) = (&raw[..32], &raw[32..64], &raw[64..]);
        if public != again {
            return Err(invalid("the two copies of the public key differ"));
        }
        Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map_err(|_| invalid("the public key does not belong to the seed"))?;
        let public =
            TufKey::new(KeyType::Ed25519, public.to_vec()).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            secret: Secret::Ed25519(Zeroizing::new(raw.to_vec())),
            public,
        })
    }

    /// `ecdsa` or `ed25519`.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type()
    }

    /// The public key, as notary lists it in metadata.
    pub fn public_key(&self) -> &TufKey {
        &self.public
    }

    /// Notary's key ID of the public key; the key file is `private/<key ID>.key`.
    pub fn key_id(&self) -> String {
        self.public.key_id()
    }

    /// The private bytes notary keeps (SEC1 DER, or the 96 Ed25519 bytes).
    pub fn secret_bytes(&self) -> &[u8] {
        match &self.secret {
            Secret::Ecdsa(b) | Secret::Ed25519(b) => b,
        }
    }

    /// A new random key: `ecdsa` (P-256, what notary and docker make for every role) or
    /// `ed25519`. Other key types cannot be generated.
    pub fn generate(key_type: KeyType) -> Result<Self, KeyFileError> {
        match key_type {
            KeyType::Ecdsa => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| crypto("cannot generate an ECDSA P-256 key"))?;
                let der = pair
                    .private_key()
                    .as_der()
                    .map_err(|_| crypto("cannot encode the ECDSA private key"))?;
                Self::from_ecdsa_sec1_der(der.as_ref())
            }
            KeyType::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                aws_lc_rs::rand::fill(&mut seed[..])
                    .map_err(|_| crypto("no random numbers for an Ed25519 key"))?;
                Self::from_ed25519_seed(&seed[..])
            }
            other => Err(KeyFileError::Unsupported {
                what: format!("key generation for key type {}", other.name()),
            }),
        }
    }

    /// Signs `message` (the canonical `signed` bytes) the way notary does: `ecdsa` gives a raw
    /// r||s signature over SHA-256, `eddsa` a plain Ed25519 signature.
    pub fn sign(&self, message: &[u8]) -> Result<crate::Signature, KeyFileError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let (method, sig) = match &self.secret {
            Secret::Ecdsa(der) => {
                let pair =
                    EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                        .map_err(|_| crypto("cannot load the ECDSA private key"))?;
                let sig = pair
                    .sign(&rng, message)
                    .map_err(|_| crypto("ECDSA signing failed"))?;
                ("ecdsa", sig.as_ref().to_vec())
            }
            Secret::Ed25519(raw) => {
                let pair = Ed25519KeyPair::from_seed_and_public_key(&raw[32..64], &raw[..32])
                    .map_err(|_| crypto("cannot load the Ed25519 private key"))?;
                ("eddsa", pair.sign(message).as_ref().to_vec())
            }
        };
        Ok(crate::Signature {
            key_id: self.key_id(),
            method: method.to_string(),
            sig,
        })
    }
}

/// A decrypted key file.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The `role` header (`root`, `targets`, `snapshot`, or a delegation name such as `alice`).
    pub role: String,
    /// The `gun` header, if any.
    pub gun: Option<String>,
    /// The key.
    pub key: PrivateKey,
}

/// The file name notary gives a key in `private/`: `<key ID>.key`.
pub fn key_file_name(key: &PrivateKey) -> String {
    format!("{}.key", key.key_id())
}

/// Reads and decrypts a notary private key file.
pub fn read_key_file(text: &str, passphrase: &[u8]) -> Result<KeyFile, KeyFileError> {
    let block = parse_pem(text)?;
    if block.label != PEM_LABEL {
        return Err(KeyFileError::WrongLabel {
            expected: PEM_LABEL.to_string(),
            found: block.label,
        });
    }
    let role = block
        .headers
        .role()
        .ok_or(KeyFileError::MissingRole)?
        .to_string();
    let gun = block.headers.gun().map(str::to_string);
    let plain = decrypt_pkcs8(&block.der, passphrase)?;
    let key = parse_private_key_info(&plain)?;
    Ok(KeyFile { role, gun, key })
}

/// Encrypts `key` as notary does (fresh random salt and IV) and returns the PEM file. The
/// `gun` header is written when `gun` is given and the role is not `root`.
pub fn write_key_file(
    key: &PrivateKey,
    role: &str,
    gun: Option<&str>,
    passphrase: &[u8],
) -> Result<String, KeyFileError> {
    let mut salt = [0u8; 8];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| crypto("random salt"))?;
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| crypto("random IV"))?;
    write_key_file_with(key, role, gun, passphrase, &salt, &iv)
}

/// [`write_key_file`] with a given PBKDF2 salt and AES IV.
pub fn write_key_file_with(
    key: &PrivateKey,
    role: &str,
    gun: Option<&str>,
    passphrase: &[u8],
    salt: &[u8; 8],
    iv: &[u8; 16],
) -> Result<String, KeyFileError> {
    let plain = private_key_info(key);
    let der = encrypt_pkcs8(&plain, passphrase, salt, iv)?;
    let mut headers = vec![(ROLE_HEADER, role)];
    if let Some(gun) = gun.filter(|_| role != "root") {
        headers.push((GUN_HEADER, gun));
    }
    Ok(write_pem(PEM_LABEL, &headers, &der))
}

// ---- PKCS#8 / PBES2 ----

fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    iterations: u32,
    prf: pbkdf2::Algorithm,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let iterations = NonZeroU32::new(iterations).ok_or_else(|| malformed("zero iterations"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(prf, iterations, salt, passphrase, &mut out[..]);
    Ok(out)
}

fn encrypt_pkcs8(
    plain: &[u8],
    passphrase: &[u8],
    salt: &[u8; 8],
    iv: &[u8; 16],
) -> Result<Vec<u8>, KeyFileError> {
    let key = derive_key(
        passphrase,
        salt,
        NOTARY_PBKDF2_ITERATIONS,
        pbkdf2::PBKDF2_HMAC_SHA1,
    )?;
    let cipher = UnboundCipherKey::new(&AES_256, &key[..]).map_err(|_| crypto("AES key"))?;
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(cipher).map_err(|_| crypto("AES-CBC"))?;
    let mut data = plain.to_vec();
    cipher
        .less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(*iv)))
        .map_err(|_| crypto("AES-CBC encryption"))?;
    let pbkdf2_params = tlv(
        TAG_SEQUENCE,
        &[
            tlv(TAG_OCTET_STRING, salt),
            integer(NOTARY_PBKDF2_ITERATIONS),
        ]
        .concat(),
    );
    let kdf = tlv(TAG_SEQUENCE, &[oid(OID_PBKDF2), pbkdf2_params].concat());
    let enc = tlv(
        TAG_SEQUENCE,
        &[oid(OID_AES256_CBC), tlv(TAG_OCTET_STRING, iv)].concat(),
    );
    let pbes2 = tlv(TAG_SEQUENCE, &[kdf, enc].concat());
    let alg = tlv(TAG_SEQUENCE, &[oid(OID_PBES2), pbes2].concat());
    Ok(tlv(
        TAG_SEQUENCE,
        &[alg, tlv(TAG_OCTET_STRING, &data)].concat(),
    ))
}

fn decrypt_pkcs8(der: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let epki = whole(der, TAG_SEQUENCE, "EncryptedPrivateKeyInfo")?;
    let (alg, rest) = read_tlv(epki, TAG_SEQUENCE, "encryptionAlgorithm")?;
    let data = whole(rest, TAG_OCTET_STRING, "encryptedData")?;
    let (alg_oid, rest) = read_tlv(alg, TAG_OID, "encryption algorithm OID")?;
    if alg_oid != OID_PBES2.as_bytes() {
        return Err(KeyFileError::Unsupported {
            what: "encryption scheme (expected PBES2)".to_string(),
        });
    }
    let params = whole(rest, TAG_SEQUENCE, "PBES2-params")?;
    let (kdf, rest) = read_tlv(params, TAG_SEQUENCE, "keyDerivationFunc")?;
    let enc = whole(rest, TAG_SEQUENCE, "encryptionScheme")?;

    let (kdf_oid, rest) = read_tlv(kdf, TAG_OID, "key derivation OID")?;
    if kdf_oid != OID_PBKDF2.as_bytes() {
        return Err(KeyFileError::Unsupported {
            what: "key derivation function (expected PBKDF2)".to_string(),
        });
    }
    let kp = whole(rest, TAG_SEQUENCE, "PBKDF2-params")?;
    let (salt, rest) = read_tlv(kp, TAG_OCTET_STRING, "PBKDF2 salt")?;
    let (iterations, mut rest) = read_tlv(rest, TAG_INTEGER, "PBKDF2 iteration count")?;
    let iterations = parse_u32(iterations, "PBKDF2 iteration count")?;
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(malformed(format!(
            "PBKDF2 iteration count {iterations} outside 1..={MAX_PBKDF2_ITERATIONS}"
        )));
    }
    if rest.first() == Some(&TAG_INTEGER) {
        let (len, r) = read_tlv(rest, TAG_INTEGER, "PBKDF2 key length")?;
        if parse_u32(len, "PBKDF2 key length")? != 32 {
            return Err(malformed("PBKDF2 key length is not 32"));
        }
        rest = r;
    }
    let mut prf = pbkdf2::PBKDF2_HMAC_SHA1;
    if !rest.is_empty() {
        let prf_alg = whole(rest, TAG_SEQUENCE, "PBKDF2 prf")?;
        let (prf_oid, r) = read_tlv(prf_alg, TAG_OID, "PBKDF2 prf OID")?;
        if !(r.is_empty() || r == [TAG_NULL, 0]) {
            return Err(malformed("PBKDF2 prf parameters are not NULL"));
        }
        prf = if prf_oid == OID_HMAC_SHA1.as_bytes() {
            pbkdf2::PBKDF2_HMAC_SHA1
        } else if prf_oid == OID_HMAC_SHA256.as_bytes() {
            pbkdf2::PBKDF2_HMAC_SHA256
        } else {
            return Err(KeyFileError::Unsupported {
                what: "PBKDF2 prf (expected HMAC-SHA1 or HMAC-SHA256)".to_string(),
            });
        };
    }

    let (enc_oid, rest) = read_tlv(enc, TAG_OID, "encryption scheme OID")?;
    if enc_oid != OID_AES256_CBC.as_bytes() {
        return Err(KeyFileError::Unsupported {
            what: "cipher (expected AES-256-CBC)".to_string(),
        });
    }
    let iv = whole(rest, TAG_OCTET_STRING, "AES IV")?;
    let iv: [u8; 16] = iv
        .try_into()
        .map_err(|_| malformed("AES IV is not 16 bytes"))?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(malformed(
            "encryptedData is not a whole number of AES blocks",
        ));
    }

    let key = derive_key(passphrase, salt, iterations, prf)?;
    let cipher = UnboundCipherKey::new(&AES_256, &key[..]).map_err(|_| crypto("AES key"))?;
    let cipher = PaddedBlockDecryptingKey::cbc_pkcs7(cipher).map_err(|_| crypto("AES-CBC"))?;
    let mut buf = Zeroizing::new(data.to_vec());
    let plain_len = cipher
        .decrypt(
            buf.as_mut_slice(),
            DecryptionContext::Iv128(FixedLength::from(iv)),
        )
        .map_err(|_| KeyFileError::WrongPassphrase)?
        .len();
    buf.truncate(plain_len);
    // Like notary, a plaintext that is not a PrivateKeyInfo means a wrong passphrase.
    if read_tlv(&buf, TAG_SEQUENCE, "PrivateKeyInfo").map(|(_, r)| r.is_empty()) != Ok(true) {
        return Err(KeyFileError::WrongPassphrase);
    }
    Ok(buf)
}

fn private_key_info(key: &PrivateKey) -> Zeroizing<Vec<u8>> {
    let (version, alg, secret): (u32, Vec<u8>, &[u8]) = match &key.secret {
        Secret::Ecdsa(der) => (
            1,
            [oid(OID_EC_PUBLIC_KEY), oid(OID_P256)].concat(),
            der.as_slice(),
        ),
        Secret::Ed25519(raw) => (0, oid(OID_NOTARY_ED25519), raw.as_slice()),
    };
    let body = Zeroizing::new(
        [
            integer(version),
            tlv(TAG_SEQUENCE, &alg),
            tlv(TAG_OCTET_STRING, secret),
        ]
        .concat(),
    );
    Zeroizing::new(tlv(TAG_SEQUENCE, &body))
}

fn parse_private_key_info(der: &[u8]) -> Result<PrivateKey, KeyFileError> {
    let pki = whole(der, TAG_SEQUENCE, "PrivateKeyInfo")?;
    let (version, rest) = read_tlv(pki, TAG_INTEGER, "PrivateKeyInfo version")?;
    if parse_u32(version, "PrivateKeyInfo version")? > 1 {
        return Err(malformed("PrivateKeyInfo version is not 0 or 1"));
    }
    let (alg, rest) = read_tlv(rest, TAG_SEQUENCE, "privateKeyAlgorithm")?;
    // Trailing attributes or a public key after the private key are ignored, as Go does.
    let (secret, _) = read_tlv(rest, TAG_OCTET_STRING, "privateKey")?;
    let (alg_oid, params) = read_tlv(alg, TAG_OID, "private key algorithm OID")?;
    if alg_oid == OID_EC_PUBLIC_KEY.as_bytes() {
        let curve = whole(params, TAG_OID, "named curve")?;
        if curve != OID_P256.as_bytes() {
            return Err(KeyFileError::Unsupported {
                what: "elliptic curve (expected P-256)".to_string(),
            });
        }
        PrivateKey::from_ecdsa_sec1_der(secret)
    } else if alg_oid == OID_NOTARY_ED25519.as_bytes() {
        PrivateKey::from_notary_ed25519(secret)
    } else {
        Err(KeyFileError::Unsupported {
            what: "private key algorithm (expected ECDSA P-256 or Ed25519)".to_string(),
        })
    }
}

// ---- minimal DER ----

fn read_tlv<'a>(
    input: &'a [u8],
    tag: u8,
    what: &str,
) -> Result<(&'a [u8], &'a [u8]), KeyFileError> {
    let bad = || malformed(format!("{what}: bad DER"));
    let (&found, rest) = input.split_first().ok_or_else(bad)?;
    if found != tag {
        return Err(malformed(format!(
            "{what}: expected DER tag {tag:#04x}, found {found:#04x}"
        )));
    }
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok(rest.split_at(len))
}

fn whole<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8], KeyFileError> {
    let (content, rest) = read_tlv(input, tag, what)?;
    if !rest.is_empty() {
        return Err(malformed(format!("{what}: trailing bytes")));
    }
    Ok(content)
}

fn parse_u32(content: &[u8], what: &str) -> Result<u32, KeyFileError> {
    if content.is_empty() || content[0] & 0x80 != 0 {
        return Err(malformed(format!("{what}: not a non-negative INTEGER")));
    }
    let digits = match content {
        [0, rest @ ..] => rest,
        _ => content,
    };
    if digits.len() > 4 {
        return Err(malformed(format!("{what}: too large")));
    }
    Ok(digits.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn integer(n: u32) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    let mut content = bytes[skip..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    tlv(TAG_INTEGER, &content)
}

fn oid(oid: ObjectIdentifier) -> Vec<u8> {
    tlv(TAG_OID, oid.as_bytes())
}
