//! C2SP checkpoints (`c2sp.org/tlog-checkpoint`): the signed tree head of a log, as a signed
//! note whose text is
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, standard base64>
//! [<extension line>]...
//! ```

use crate::hash::Hash;
use crate::note::{self, NoteError, NoteSigner, NoteVerifier, VerifiedNote};
use thiserror::Error;

/// Why a checkpoint was rejected. Values from the checkpoint are untrusted and shown for
/// diagnosis.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note is bad or not signed by a known key.
    #[error("checkpoint note")]
    Note(#[from] NoteError),
    /// A line is missing.
    #[error("checkpoint has no {line} line")]
    MissingLine {
        /// `"origin"`, `"tree size"` or `"root hash"`.
        line: &'static str,
    },
    /// The text does not end with a newline.
    #[error("checkpoint text must end with a newline")]
    NoFinalNewline,
    /// The origin is empty or has a control character.
    #[error("invalid checkpoint origin {found:?}: {reason}")]
    BadOrigin {
        /// The origin.
        found: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The size line is not a canonical decimal u64.
    #[error(
        "invalid checkpoint tree size {found:?}: expected a decimal number without leading zeros"
    )]
    BadSize {
        /// The line.
        found: String,
    },
    /// The root line is not the base64 of 32 bytes.
    #[error("invalid checkpoint root hash {found:?}: expected standard base64 of 32 bytes")]
    BadRoot {
        /// The line.
        found: String,
    },
    /// An extension line is empty or has a control character.
    #[error("invalid checkpoint extension line {number}: expected non-empty text")]
    BadExtension {
        /// 1-based number among the extension lines.
        number: usize,
    },
    /// The checkpoint is for another log.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin expected.
        expected: String,
        /// The origin found.
        found: String,
    },
}

/// A log checkpoint (tree head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn bad_line(line: &str) -> bool {
    line.is_empty() || line.bytes().any(|b| b < 0x20)
}

impl Checkpoint {
    /// A checkpoint for `origin` (non-empty, one line; C2SP recommends a schema-less URL).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if bad_line(origin) {
            return Err(CheckpointError::BadOrigin {
                found: origin.to_owned(),
                reason: "expected a non-empty line without control characters",
            });
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Add an extension line (opaque to this crate; NOT RECOMMENDED by the specification).
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        if bad_line(line) {
            return Err(CheckpointError::BadExtension {
                number: self.extensions.len() + 1,
            });
        }
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Parse a checkpoint body (the note text).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NoFinalNewline)?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .ok_or(CheckpointError::MissingLine { line: "origin" })?;
        let size_line = lines
            .next()
            .ok_or(CheckpointError::MissingLine { line: "tree size" })?;
        let root_line = lines
            .next()
            .ok_or(CheckpointError::MissingLine { line: "root hash" })?;
        let mut checkpoint = Self::new(origin, parse_size(size_line)?, parse_root(root_line)?)?;
        for line in lines {
            checkpoint = checkpoint.with_extension(line)?;
        }
        Ok(checkpoint)
    }

    /// The checkpoint body (the note text).
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The signed checkpoint note.
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<String, CheckpointError> {
        Ok(note::sign(&self.to_text(), signers)?)
    }

    /// Verify a signed checkpoint note against the known keys and parse it.
    pub fn open(
        note_bytes: &[u8],
        known: &[&dyn NoteVerifier],
    ) -> Result<(Self, VerifiedNote), CheckpointError> {
        let verified = note::open(note_bytes, known)?;
        let checkpoint = Self::parse(&verified.text)?;
        Ok((checkpoint, verified))
    }

    /// Check that the checkpoint is for the log with `origin`.
    pub fn expect_origin(&self, origin: &str) -> Result<(), CheckpointError> {
        if self.origin == origin {
            Ok(())
        } else {
            Err(CheckpointError::OriginMismatch {
                expected: origin.to_owned(),
                found: self.origin.clone(),
            })
        }
    }
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let bad = || CheckpointError::BadSize {
        found: line.chars().take(100).collect(),
    };
    if line.is_empty()
        || !line.bytes().all(|b| b.is_ascii_digit())
        || (line.len() > 1 && line.starts_with('0'))
    {
        return Err(bad());
    }
    line.parse().map_err(|_| bad())
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    Hash::from_base64(line).map_err(|_| CheckpointError::BadRoot {
        found: line.chars().take(100).collect(),
    })
}
