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

impl DigestAlgorithm {
    /// The name as it appears in digest strings: `sha256`, `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }
    /// Parse the name as it appears in digest strings (`sha256`, `sha384`, `sha512`).
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
    fn aws_lc(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }
    /// The number of hex digits of a digest with this algorithm (64, 96 or 128).
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }
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
        let malformed = || DigestError::Malformed {
            found: s.to_string(),
        };
        let (alg, hex) = s.split_once(':').ok_or_else(malformed)?;
        // OCI grammar: algorithm-component [a-z0-9]+ separated by [+._-].
        let alg_ok = !alg.is_empty()
            && alg.split(['+', '.', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !alg_ok {
            return Err(malformed());
        }
        let algorithm =
            DigestAlgorithm::from_name(alg).ok_or_else(|| DigestError::UnsupportedAlgorithm {
                found: alg.to_string(),
            })?;
        if hex.len() != algorithm.hex_len()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(malformed());
        }
        Ok(Self {
            algorithm,
            hex: hex.to_string(),
        })
    }
    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self::compute(DigestAlgorithm::Sha256, bytes)
    }
    /// The digest of `bytes` with `algorithm`.
    pub fn compute(algorithm: DigestAlgorithm, bytes: &[u8]) -> Self {
        Self {
            algorithm,
            hex: hex::encode(aws_lc_rs::digest::digest(algorithm.aws_lc(), bytes).as_ref()),
        }
    }
    /// Check that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        let actual = Self::compute(self.algorithm, bytes);
        if actual.hex == self.hex {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                expected: self.to_string(),
                found: actual.to_string(),
            })
        }
    }
    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }
    /// The algorithm name as it appears in the digest string (`sha256`).
    pub fn algorithm_name(&self) -> &'static str {
        self.algorithm.name()
    }
    /// The lower-case hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
    /// The tag form cosign uses for attachments: `sha256-<hex>`.
    pub fn tag_form(&self) -> String {
        format!("{}-{}", self.algorithm_name(), self.hex)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm_name(), self.hex)
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A digest computed over content that arrives in pieces (a blob read as a stream): the same
/// digest [`Digest::compute`] gives for the whole content.
pub struct Hasher {
    algorithm: DigestAlgorithm,
    context: aws_lc_rs::digest::Context,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        Self {
            algorithm,
            context: aws_lc_rs::digest::Context::new(algorithm.aws_lc()),
        }
    }
    /// Feed the next piece of content.
    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
    }
    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest {
            algorithm: self.algorithm,
            hex: hex::encode(self.context.finish().as_ref()),
        }
    }
}
