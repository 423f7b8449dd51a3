//! One type for "where an image lives": a registry repository or an OCI image layout.

use crate::{
    blob::{BlobCopy, BlobReader},
    error::OciError,
    layout::Layout,
    manifest::Descriptor,
    registry::{RegistryClient, RegistryRepo, UploadStart},
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
        crate::registry::plain_descriptor(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// A registry repository or an OCI image layout.
#[derive(Clone, Debug)]
pub enum Store {
    /// A repository in a registry.
    Registry(RegistryRepo),
    /// An OCI image layout directory.
    Layout(Layout),
}

impl Store {
    /// Open the store an image reference points into. A layout must already exist unless
    /// `create_layout` is true (then it is initialised).
    pub fn open(
        image: &ImageRef,
        client: &RegistryClient,
        create_layout: bool,
    ) -> Result<Self, OciError> {
        match image {
            ImageRef::Registry(reference) => Ok(Store::Registry(client.repository(reference))),
            ImageRef::Layout { path, .. } if create_layout => {
                Ok(Store::Layout(Layout::create(path)?))
            }
            ImageRef::Layout { path, .. } => Ok(Store::Layout(Layout::open(path)?)),
        }
    }
    /// `registry/repo` or `oci:DIR`, for messages.
    pub fn location(&self) -> String {
        match self {
            Store::Registry(repo) => repo.location(),
            Store::Layout(layout) => layout.location(),
        }
    }
    /// Get a manifest by tag or digest string.
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, OciError> {
        let fetched = match self {
            Store::Registry(repo) => repo.get_manifest(reference).await?,
            Store::Layout(layout) => layout.get_manifest(reference).await?,
        };
        // Every reader (verify, tree, copy) gets the same answer for what is not a manifest
        // at all.
        if let Some(found) = not_a_json_object(&fetched.bytes) {
            return Err(OciError::Malformed {
                what: format!("manifest {reference}"),
                location: self.location(),
                reason: format!("expected a manifest (a JSON object), found {found}"),
            });
        }
        Ok(fetched)
    }
    /// Resolve a tag or digest to a descriptor, `None` if absent.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        match self {
            Store::Registry(repo) => repo.head_manifest(reference).await,
            Store::Layout(layout) => layout.head_manifest(reference).await,
        }
    }
    /// Get a blob, at most `max_bytes`, verified against `digest`.
    pub async fn get_blob(&self, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, OciError> {
        match self {
            Store::Registry(repo) => repo.get_blob(digest, max_bytes).await,
            Store::Layout(layout) => layout.get_blob(digest, max_bytes).await,
        }
    }
    /// Store a blob (no-op if present); returns its digest.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        match self {
            Store::Registry(repo) => repo.put_blob(bytes).await,
            Store::Layout(layout) => layout.put_blob(bytes).await,
        }
    }
    /// Open a blob for a streaming read: chunks checked against `descriptor` (never more than
    /// its size; at the end exactly its size and its digest) while they are read. See
    /// [`BlobReader`].
    pub async fn open_blob(&self, descriptor: &Descriptor) -> Result<BlobReader, OciError> {
        match self {
            Store::Registry(repo) => repo.open_blob(descriptor).await,
            Store::Layout(layout) => layout.open_blob(descriptor).await,
        }
    }
    /// True if the blob is present (a layout: with the descriptor's size).
    pub async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, OciError> {
        match self {
            // Push scope: a copy asks this right before it uploads.
            Store::Registry(repo) => repo.has_blob_for(&descriptor.digest, true).await,
            Store::Layout(layout) => layout.has_blob(descriptor).await,
        }
    }
    /// Write a blob read from `blob`, in constant memory. Nothing is published unless every
    /// byte was read and verified: a layout renames its temporary file into place only then, a
    /// registry upload sends its closing `PUT ?digest=` only then (and the registry checks the
    /// digest again); on error the temporary file or the upload session is discarded.
    pub async fn put_blob_stream(&self, blob: &mut BlobReader) -> Result<(), OciError> {
        match self {
            Store::Registry(repo) => repo.put_blob_stream(blob).await,
            Store::Layout(layout) => layout.put_blob_stream(blob).await,
        }
    }
    /// Copy the blob `descriptor` names from `src` into this store, streaming it in constant
    /// memory (see [`Store::put_blob_stream`]), unless it is here already. Between two
    /// repositories of the same registry the registry is asked to mount it first.
    pub async fn copy_blob(
        &self,
        src: &Store,
        descriptor: &Descriptor,
    ) -> Result<BlobCopy, OciError> {
        if self.has_blob(descriptor).await? {
            return Ok(BlobCopy::AlreadyPresent);
        }
        if let (Store::Registry(from), Store::Registry(to)) = (src, self)
            && from.registry() == to.registry()
            && from.repository_path() != to.repository_path()
        {
            let mount = Some((&descriptor.digest, from.repository_path()));
            return match to.start_upload(mount).await? {
                UploadStart::Mounted => Ok(BlobCopy::Mounted),
                UploadStart::Session(url) => {
                    let mut blob = src.open_blob(descriptor).await?;
                    to.upload(url, &mut blob).await?;
                    Ok(BlobCopy::Copied)
                }
            };
        }
        let mut blob = src.open_blob(descriptor).await?;
        self.put_blob_stream(&mut blob).await?;
        Ok(BlobCopy::Copied)
    }
    /// Store a manifest, tagged with `tag` or untagged (by digest); returns its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest, OciError> {
        match self {
            Store::Registry(repo) => match tag {
                Some(tag) => repo.put_manifest(bytes, media_type, tag).await,
                None => {
                    let digest = Digest::sha256_of(bytes).to_string();
                    repo.put_manifest(bytes, media_type, &digest).await
                }
            },
            Store::Layout(layout) => layout.put_manifest(bytes, media_type, tag).await,
        }
    }
    /// Referrers of `subject` (registry: API with tag-schema fallback; layout: manifests in
    /// `index.json` whose `subject` is `subject`).
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        match self {
            Store::Registry(repo) => repo.referrers(subject, artifact_type).await,
            Store::Layout(layout) => layout.referrers(subject, artifact_type).await,
        }
    }
    /// All tags.
    pub async fn list_tags(&self) -> Result<Vec<String>, OciError> {
        match self {
            Store::Registry(repo) => repo.list_tags().await,
            Store::Layout(layout) => layout.list_tags().await,
        }
    }
}

/// `Some(digest)` when a manifest `reference` is a digest, `None` when it is a tag; a
/// malformed digest is an error naming `location`.
pub(crate) fn parse_reference(
    reference: &str,
    location: impl FnOnce() -> String,
) -> Result<Option<Digest>, OciError> {
    if !reference.contains(':') {
        return Ok(None);
    }
    Digest::parse(reference)
        .map(Some)
        .map_err(|e| OciError::Malformed {
            what: format!("manifest reference {reference:?}"),
            location: location(),
            reason: format!("expected a tag or a digest: {e}"),
        })
}

/// What `bytes` are when they are not a JSON object (judged by the first byte that is not
/// white space; the manifest's own parser says what else is wrong).
fn not_a_json_object(bytes: &[u8]) -> Option<&'static str> {
    match bytes.iter().find(|b| !b" \t\r\n".contains(b)) {
        Some(b'{') => None,
        Some(b'[') => Some("a JSON array"),
        Some(b'"') => Some("a JSON string"),
        Some(b'-' | b'0'..=b'9') => Some("a JSON number"),
        Some(b't' | b'f') => Some("a JSON boolean"),
        Some(b'n') => Some("JSON null"),
        Some(_) => Some("bytes that are not JSON"),
        None => Some("an empty body"),
    }
}
