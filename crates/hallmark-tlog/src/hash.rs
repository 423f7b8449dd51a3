//! RFC 6962 §2.1 (= RFC 9162 §2.1.1) hashing with SHA-256: leaf hashes, interior node hashes
//! and the hash of the empty tree.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use thiserror::Error;

/// Size of a [`Hash`] in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 Merkle tree hash (a leaf hash, an interior node hash or a root).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

/// The root of the empty tree, `SHA-256("")` (RFC 6962 `MTH({})`).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// A hash could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashError {
    /// The bytes are not 32 long.
    #[error("a tree hash is {expected} bytes, found {found}")]
    Length {
        /// Always [`HASH_SIZE`].
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The text is not in the expected encoding.
    #[error("expected a tree hash as {encoding}, found {found:?}")]
    Encoding {
        /// `"lower-case hex"` or `"standard base64"`.
        encoding: &'static str,
        /// The text given (truncated to 100 characters).
        found: String,
    },
}

fn truncated(s: &str) -> String {
    s.chars().take(100).collect()
}

impl Hash {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// A hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashError> {
        <[u8; HASH_SIZE]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashError::Length {
                expected: HASH_SIZE,
                found: bytes.len(),
            })
    }

    /// Lower-case hex (64 digits), as the Rekor v1 API writes hashes.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Parse 64 hex digits. Upper case is rejected, so one hash has one spelling.
    pub fn from_hex(s: &str) -> Result<Self, HashError> {
        let bad = || HashError::Encoding {
            encoding: "lower-case hex",
            found: truncated(s),
        };
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let bytes = hex::decode(s).map_err(|_| bad())?;
        Self::from_slice(&bytes)
    }

    /// Standard base64 with padding, as checkpoints and Sigstore bundles write hashes.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parse standard base64 (with padding, canonical trailing bits) of 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, HashError> {
        let bytes = STANDARD.decode(s).map_err(|_| HashError::Encoding {
            encoding: "standard base64",
            found: truncated(s),
        })?;
        Self::from_slice(&bytes)
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl std::fmt::Display for Hash {
    /// Lower-case hex.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; HASH_SIZE]> for Hash {
    fn from(bytes: [u8; HASH_SIZE]) -> Self {
        Hash(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn finish(digest: aws_lc_rs::digest::Digest) -> Hash {
    let mut out = [0u8; HASH_SIZE];
    out.copy_from_slice(digest.as_ref());
    Hash(out)
}

/// Plain SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    finish(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// The RFC 6962 leaf hash `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    finish(ctx.finish())
}

/// The RFC 6962 interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = 0x01;
    buf[1..=HASH_SIZE].copy_from_slice(&left.0);
    buf[1 + HASH_SIZE..].copy_from_slice(&right.0);
    sha256(&buf)
}

/// The root of the empty tree ([`EMPTY_ROOT`]).
pub fn empty_root() -> Hash {
    EMPTY_ROOT
}
