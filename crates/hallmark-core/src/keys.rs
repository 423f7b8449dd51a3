//! Public keys, signing keys, signing and verification (on aws-lc-rs).
//!
//! Algorithms and hashes follow cosign: ECDSA P-256 with SHA-256 and P-384 with SHA-384 (ASN.1
//! DER signatures), RSA PKCS#1 v1.5 with SHA-256 (2048-4096 bit), and pure Ed25519.

use crate::error::KeyError;

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
        todo!()
    }
    /// Parse the short name.
    pub fn from_name(s: &str) -> Option<Self> {
        todo!()
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
        todo!()
    }
    /// Parse a `PUBLIC KEY` PEM (the first such block; other blocks are ignored).
    /// `what` names the source in errors.
    pub fn from_pem(pem: &str, what: &str) -> Result<Self, KeyError> {
        todo!()
    }
    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
    /// `-----BEGIN PUBLIC KEY-----` PEM, LF line endings, trailing newline.
    pub fn to_pem(&self) -> String {
        todo!()
    }
    /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn fingerprint(&self) -> String {
        todo!()
    }
    /// Verify `signature` over `message` with this key's algorithm and hash.
    /// ECDSA signatures are ASN.1 DER.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        todo!()
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
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
    // implementation: an enum of aws-lc-rs key pairs + the PublicKey + Zeroizing<Vec<u8>> PKCS#8
}

impl SigningKey {
    /// Generate a fresh key. RSA keys are 3072 bits.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        todo!()
    }
    /// Parse PKCS#8 DER (EC, RSA or Ed25519). `what` names the source in errors.
    pub fn from_pkcs8_der(der: &[u8], what: &str) -> Result<Self, KeyError> {
        todo!()
    }
    /// Parse an unencrypted PEM: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` (SEC1) or
    /// `RSA PRIVATE KEY` (PKCS#1). Rejects curves other than P-256/P-384 and RSA keys under
    /// 2048 or over 4096 bits.
    pub fn from_pem(pem: &str, what: &str) -> Result<Self, KeyError> {
        todo!()
    }
    /// The PKCS#8 v1 DER encoding, in zeroizing memory.
    pub fn to_pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        todo!()
    }
    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        todo!()
    }
    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        todo!()
    }
    /// Sign `message` (hashing it with the algorithm's hash). ECDSA signatures are ASN.1 DER.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        todo!()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
    }
}
