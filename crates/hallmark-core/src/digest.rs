//! Content digests as OCI uses them: `algorithm:hex`.

use crate::error::DigestError;

/// A digest algorithm hallmark computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256 (64 hex digits).
    Sha256,
    /// SHA-384 (96 hex digits).
    Sha384,
    /// SHA-512 (128 hex digits).
    Sha512,
}

/// A validated content digest, such as `sha256:9f86d0...`. The hex is lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    /// Parse `algorithm:hex`; rejects upper case hex, wrong lengths and unknown algorithms.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        todo!()
    }
    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        todo!()
    }
    /// The digest of `bytes` with `algorithm`.
    pub fn compute(algorithm: DigestAlgorithm, bytes: &[u8]) -> Self {
        todo!()
    }
    /// Check that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        todo!()
    }
    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }
    /// The algorithm name as it appears in the digest string (`sha256`).
    pub fn algorithm_name(&self) -> &'static str {
        todo!()
    }
    /// The lower-case hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
    /// The tag form cosign uses for attachments: `sha256-<hex>`.
    pub fn tag_form(&self) -> String {
        todo!()
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
