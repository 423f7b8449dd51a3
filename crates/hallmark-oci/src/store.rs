//! One type for "where an image lives": a registry repository or an OCI image layout.

use crate::{
    error::OciError, layout::Layout, manifest::Descriptor, registry::{RegistryClient, RegistryRepo},
};
use hallmark_core::{Digest, ImageRef};

/// A manifest as fetched: its exact bytes, media type, and (verified) digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// Media type (Content-Type, descriptor media type, or the JSON's `mediaType`).
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
}

impl FetchedManifest {
    /// A descriptor for this manifest.
    pub fn descriptor(&self) -> Descriptor {
        todo!()
    }
}

/// A registry repository or an OCI image layout.
#[derive(Clone)]
pub enum Store {
    /// A repository in a registry.
    Registry(RegistryRepo),
    /// An OCI image layout directory.
    Layout(Layout),
}

impl Store {
    /// Open the store an image reference points into. A layout must already exist unless
    /// `create_layout` is true (then it is initialised).
    pub fn open(image: &ImageRef, client: &RegistryClient, create_layout: bool) -> Result<Self, OciError> {
        todo!()
    }
    /// `registry/repo` or `oci:DIR`, for messages.
    pub fn location(&self) -> String {
        todo!()
    }
    /// Get a manifest by tag or digest string.
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, OciError> {
        todo!()
    }
    /// Resolve a tag or digest to a descriptor, `None` if absent.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        todo!()
    }
    /// Get a blob, at most `max_bytes`, verified against `digest`.
    pub async fn get_blob(&self, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, OciError> {
        todo!()
    }
    /// Store a blob (no-op if present); returns its digest.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        todo!()
    }
    /// Store a manifest, tagged with `tag` or untagged (by digest); returns its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest, OciError> {
        todo!()
    }
    /// Referrers of `subject` (registry: API with tag-schema fallback; layout: manifests in
    /// `index.json` whose `subject` is `subject`).
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        todo!()
    }
    /// All tags.
    pub async fn list_tags(&self) -> Result<Vec<String>, OciError> {
        todo!()
    }
}
