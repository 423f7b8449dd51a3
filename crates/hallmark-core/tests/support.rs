//! Shared helpers: test data paths and small builders.

use hallmark_core::Passphrase;
use std::path::PathBuf;

/// Path of a file under `tests/data/`.
pub(crate) fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Bytes of a file under `tests/data/`.
pub(crate) fn data(rel: &str) -> Vec<u8> {
    let path = data_path(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Text of a file under `tests/data/`.
pub(crate) fn text(rel: &str) -> String {
    String::from_utf8(data(rel)).unwrap()
}

/// A passphrase from a string.
pub(crate) fn pass(s: &str) -> Passphrase {
    Passphrase::new(s.as_bytes().to_vec())
}
