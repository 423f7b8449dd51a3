//! OCI image layout directories (image-spec v1.1 `image-layout.md`): `oci-layout`,
//! `index.json`, `blobs/<alg>/<hex>`. Tags are `org.opencontainers.image.ref.name`
//! annotations in `index.json`. Blobs are written to a temporary file and renamed, and
//! `index.json` is replaced atomically, so a crash never leaves a half-written layout.

use crate::{error::OciError, manifest::Descriptor, store::FetchedManifest};
use hallmark_core::Digest;
use std::path::{Path, PathBuf};

/// The annotation that names a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI image layout directory. Cheap to clone; index updates within one process are
/// serialised.
#[derive(Clone, Debug)]
pub struct Layout {
    path: PathBuf,
    // implementation: Arc<tokio::sync::Mutex<()>> for index.json updates
}

impl Layout {
    /// Open an existing layout (its `oci-layout` file must say version 1.0.0).
    pub fn open(path: &Path) -> Result<Self, OciError> {
        todo!()
    }
    /// Open, or initialise an empty layout at `path` (creating the directory).
    pub fn create(path: &Path) -> Result<Self, OciError> {
        todo!()
    }
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Get a manifest by tag or digest; verified.
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, OciError> {
        todo!()
    }
    /// Descriptor of a tag or digest, `None` if absent.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        todo!()
    }
    /// Read a blob, at most `max_bytes`, verified.
    pub async fn get_blob(&self, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, OciError> {
        todo!()
    }
    /// Write a blob (no-op if present).
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        todo!()
    }
    /// Write a manifest blob and record it in `index.json` (with a tag, replacing any entry
    /// with the same tag; untagged entries are added once).
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest, OciError> {
        todo!()
    }
    /// Manifests in `index.json` whose `subject` is `subject`.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        todo!()
    }
    /// Tags in `index.json`.
    pub async fn list_tags(&self) -> Result<Vec<String>, OciError> {
        todo!()
    }
}
