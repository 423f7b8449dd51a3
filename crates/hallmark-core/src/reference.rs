//! Image references: `registry/repo:tag`, `registry/repo@sha256:...`, `oci:DIR[:tag]`.

use crate::{digest::Digest, error::ReferenceError};
use std::path::PathBuf;

/// A reference to an image in a registry.
///
/// Follows docker's grammar: the first path component is the registry when it contains a `.` or
/// a `:` or is `localhost`; otherwise the registry is `docker.io` (and one-component names get
/// `library/`). Both a tag and a digest may be given (`repo:tag@sha256:...`): the digest wins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    /// Registry host\[:port\] as written (`docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path, lower case, e.g. `demo/app`.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest, if given.
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// Parse a registry reference (without a transport prefix).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        todo!()
    }
    /// `registry/repository` as cosign writes it into `docker-reference` (Docker Hub as
    /// `index.docker.io`, as go-containerregistry names it).
    pub fn repository_name(&self) -> String {
        todo!()
    }
    /// The host to talk to over HTTP (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        todo!()
    }
    /// A copy that points at `digest` (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Self {
        todo!()
    }
    /// A copy that points at `tag` (digest dropped).
    pub fn with_tag(&self, tag: &str) -> Self {
        todo!()
    }
    /// True when the registry host is a loopback name or address
    /// (`localhost`, 127.0.0.0/8, `::1`), with or without a port.
    pub fn is_loopback(&self) -> bool {
        todo!()
    }
}

impl std::fmt::Display for RegistryRef {
    /// `registry/repo[:tag][@digest]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
    }
}

/// An image, in a registry or in an OCI image layout directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// `registry/repo[:tag][@digest]`
    Registry(RegistryRef),
    /// `oci:DIR[:tag][@digest]`: an OCI image layout. The tag is the
    /// `org.opencontainers.image.ref.name` annotation in `index.json`.
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// Tag, if given.
        tag: Option<String>,
        /// Digest, if given.
        digest: Option<Digest>,
    },
}

impl ImageRef {
    /// Parse `oci:DIR[:tag][@digest]` or a registry reference (`docker://` prefix allowed).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        todo!()
    }
    /// The digest, if the reference names one.
    pub fn digest(&self) -> Option<&Digest> {
        todo!()
    }
    /// The tag, if the reference names one.
    pub fn tag(&self) -> Option<&str> {
        todo!()
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
    }
}
