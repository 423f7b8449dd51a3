//! A registry client for the OCI distribution spec v1.1 (and docker registry v2).
//!
//! - Auth: anonymous first; on 401 it follows `WWW-Authenticate` (Bearer realm/service/scope
//!   token flow, or Basic), with credentials from docker's `config.json` (`auths`, `credsStore`,
//!   `credHelpers`) or given explicitly. Tokens are cached per registry and scope.
//! - Transport: HTTPS by default; plain HTTP for loopback registries (localhost, 127.0.0.0/8,
//!   ::1) or with [`HttpPolicy::AllowInsecureHttp`].
//! - Retries: 429 and 5xx, and connection errors, are retried with exponential backoff up to
//!   `max_retries` times (honouring `Retry-After` up to a bound).
//! - Limits: every response body is read up to a limit and refused past it.

use crate::{
    error::OciError,
    manifest::Descriptor,
    store::FetchedManifest,
};
use hallmark_core::{Digest, RegistryRef};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// Whether plain HTTP may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpPolicy {
    /// HTTPS, except for loopback registries, which are spoken to over plain HTTP.
    #[default]
    HttpsExceptLoopback,
    /// Plain HTTP to any registry (`--allow-http-registry`).
    AllowInsecureHttp,
}

/// Size limits on responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest accepted (default 4 MiB, as distribution allows).
    pub max_manifest_bytes: u64,
    /// Largest token / error / JSON API response accepted (default 1 MiB).
    pub max_api_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_manifest_bytes: 4 << 20, max_api_bytes: 1 << 20 }
    }
}

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// docker's `config.json` in `$DOCKER_CONFIG` or `~/.docker` (missing file: anonymous).
    #[default]
    DockerConfig,
    /// A specific docker `config.json`.
    DockerConfigAt(PathBuf),
    /// No credentials.
    Anonymous,
    /// Explicit username and password (or token as password).
    Basic {
        /// User name.
        username: String,
        /// Password; never logged.
        password: String,
    },
}

/// Client options.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// HTTP policy.
    pub http: HttpPolicy,
    /// Response limits.
    pub limits: Limits,
    /// Retries after the first attempt on 429/5xx/connection errors (default 4).
    pub max_retries: u32,
    /// First backoff delay, doubled each retry (default 200 ms).
    pub retry_base: Duration,
    /// Per-request timeout (default 60 s).
    pub timeout: Duration,
    /// Where credentials come from.
    pub credentials: Credentials,
    /// Extra PEM CA certificates to trust for HTTPS registries.
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            http: HttpPolicy::default(),
            limits: Limits::default(),
            max_retries: 4,
            retry_base: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
            credentials: Credentials::default(),
            extra_ca_pem: None,
        }
    }
}

/// A registry client; cheap to clone (shares the connection pool and token cache).
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<()>, // implementation: reqwest::Client, options, token cache
}

impl RegistryClient {
    /// Build a client.
    pub fn new(options: RegistryOptions) -> Result<Self, OciError> {
        todo!()
    }
    /// A handle on one repository.
    pub fn repository(&self, reference: &RegistryRef) -> RegistryRepo {
        todo!()
    }
}

/// One repository in one registry.
#[derive(Clone)]
pub struct RegistryRepo {
    // implementation: client + registry + repository
}

impl RegistryRepo {
    /// `registry/repository`.
    pub fn location(&self) -> String {
        todo!()
    }
    /// GET a manifest by tag or digest (`reference` is `tag` or `sha256:...`), with the
    /// manifest Accept header; the body is checked against the digest (the requested one, or
    /// the `Docker-Content-Digest` header for tags, or computed). 404 → [`OciError::NotFound`].
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, OciError> {
        todo!()
    }
    /// HEAD a manifest: its descriptor, or `None` on 404.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        todo!()
    }
    /// GET a blob, at most `max_bytes`, checked against `digest`.
    pub async fn get_blob(&self, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, OciError> {
        todo!()
    }
    /// True if the blob exists (HEAD).
    pub async fn has_blob(&self, digest: &Digest) -> Result<bool, OciError> {
        todo!()
    }
    /// Upload a blob (monolithic POST + PUT) unless it already exists; returns its digest.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        todo!()
    }
    /// PUT a manifest under `reference` (a tag, or its own digest); returns its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        reference: &str,
    ) -> Result<Digest, OciError> {
        todo!()
    }
    /// The referrers of `subject` via `GET /v2/<repo>/referrers/<digest>`; when the registry
    /// has no referrers API (404 or non-index answer) falls back to the tag schema
    /// (`sha256-<hex>` index). Optionally filtered by artifact type.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        todo!()
    }
    /// Tags of the repository (`GET /v2/<repo>/tags/list`, following `Link` pagination).
    pub async fn list_tags(&self) -> Result<Vec<String>, OciError> {
        todo!()
    }
}
