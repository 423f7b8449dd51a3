//! Small, valid, deterministic sample images (one uncompressed tar layer holding one file),
//! for the quickstart, tests and benchmarks. Built in memory, no tools needed.

use crate::{error::OciError, store::Store};
use hallmark_core::Digest;

/// Build a sample image whose single layer holds `/hello.txt` with `content`, and write its
/// config, layer and manifest to `store` under `tag`. Returns the manifest digest. Different
/// `content` gives different digests; the same content gives the same digest.
pub async fn push_sample_image(store: &Store, tag: &str, content: &str) -> Result<Digest, OciError> {
    todo!()
}

/// Build a two-platform (linux/amd64, linux/arm64) index of sample images, pushing both
/// children by digest and the index under `tag`. Returns the index digest.
pub async fn push_sample_index(store: &Store, tag: &str, content: &str) -> Result<Digest, OciError> {
    todo!()
}
