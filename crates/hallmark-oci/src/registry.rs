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
    blob::{BlobReader, MIN_TRANSFER_BYTES_PER_SEC, UPLOAD_CHUNK_BYTES},
    error::{OciError, TransportFailure},
    manifest::{Descriptor, ImageIndex, Manifest, essence, manifest_media_type, media_types},
    store::FetchedManifest,
};
use base64::Engine as _;
use hallmark_core::{Digest, RegistryRef};
use hallmark_oci_spec::auth::{self, BearerChallenge, Challenge};
use reqwest::{
    Method, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

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
        Self {
            max_manifest_bytes: 4 << 20,
            max_api_bytes: 1 << 20,
        }
    }
}

/// Where credentials come from. `Debug` never shows the password.
#[derive(Clone, Default)]
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

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::DockerConfig => f.write_str("DockerConfig"),
            Credentials::DockerConfigAt(path) => {
                f.debug_tuple("DockerConfigAt").field(path).finish()
            }
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
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
    /// Per-request timeout (default 60 s); blob transfers get longer, by their size, and are
    /// bounded by this much silence between reads instead.
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

/// Most `Link` pages followed by [`RegistryRepo::list_tags`].
const MAX_TAG_PAGES: usize = 1000;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Longest exponential backoff step.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How much of an error body goes into [`OciError::Status`].
const ERROR_BODY_BYTES: usize = 512;
/// The docker config key of Docker Hub.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A registry client; cheap to clone (shares the connection pool and token cache).
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("http", &self.inner.http_policy)
            .field("limits", &self.inner.limits)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    http_policy: HttpPolicy,
    limits: Limits,
    max_retries: u32,
    retry_base: Duration,
    timeout: Duration,
    credentials: Credentials,
    /// `registry \0 repository \0 actions` → the `Authorization` header that works there.
    auth_cache: RwLock<HashMap<Arc<str>, CachedAuth>>,
    /// Registry → the challenge it answered 401 with, so new scopes authenticate up front.
    challenges: RwLock<HashMap<Arc<str>, Challenge>>,
    /// One negotiation at a time per cache key (no token stampede from many tasks).
    negotiations: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
    /// Registry → credentials resolved from the configured source (`None`: anonymous).
    resolved: tokio::sync::Mutex<HashMap<Arc<str>, Option<Secret>>>,
    /// Attempts made and attempts that failed, for servers' metrics.
    requests: AtomicU64,
    failures: AtomicU64,
}

/// How many HTTP requests a [`RegistryClient`] (and its clones) has sent, and how many of them
/// failed (no answer, or a 429/5xx status), every retry counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RequestStats {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests that got no HTTP answer or a 429/5xx status.
    pub failures: u64,
}

#[derive(Clone)]
struct CachedAuth {
    header: HeaderValue,
    expires: Option<Instant>,
}

/// Resolved credentials; `Debug` shows no secret.
#[derive(Clone)]
enum Secret {
    Basic { username: String, password: String },
    IdentityToken(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Secret::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Secret {
    /// What kind of credential this is, for debug events.
    fn kind(&self) -> &'static str {
        match self {
            Secret::Basic { .. } => "username and password",
            Secret::IdentityToken(_) => "identity token",
        }
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RegistryClient {
    /// Build a client.
    pub fn new(options: RegistryOptions) -> Result<Self, OciError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("hallmark/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .read_timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(30)))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true);
        if let Some(pem) = &options.extra_ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| OciError::Client {
                    reason: format!(
                        "extra CA certificates: expected PEM certificates: {}",
                        hallmark_core::error::chain(&e)
                    ),
                })?;
            if certs.is_empty() {
                return Err(OciError::Client {
                    reason: "extra CA certificates: expected at least one PEM CERTIFICATE \
                             block, found none"
                        .into(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| OciError::Client {
            reason: hallmark_core::error::chain(&e),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                http_policy: options.http,
                limits: options.limits,
                max_retries: options.max_retries,
                retry_base: options.retry_base,
                timeout: options.timeout,
                credentials: options.credentials,
                auth_cache: RwLock::default(),
                challenges: RwLock::default(),
                negotiations: Mutex::default(),
                resolved: tokio::sync::Mutex::default(),
                requests: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        })
    }

    /// The requests this client and its clones have sent so far.
    pub fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            failures: self.inner.failures.load(Ordering::Relaxed),
        }
    }

    /// A handle on one repository.
    pub fn repository(&self, reference: &RegistryRef) -> RegistryRepo {
        let scheme =
            if self.inner.http_policy == HttpPolicy::AllowInsecureHttp || reference.is_loopback() {
                "http"
            } else {
                "https"
            };
        let origin = format!("{scheme}://{}", reference.api_host());
        let base = format!("{origin}/v2/{}", reference.repository);
        let key = |actions: &str| -> Arc<str> {
            format!(
                "{}\0{}\0{actions}",
                reference.registry, reference.repository
            )
            .into()
        };
        RegistryRepo {
            client: self.clone(),
            registry: reference.registry.as_str().into(),
            repository: reference.repository.as_str().into(),
            origin: format!("{origin}/").into(),
            base: base.into(),
            pull_key: key("pull"),
            push_key: key("pull,push"),
        }
    }

    /// The limits this client enforces.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }
}

/// One repository in one registry.
#[derive(Clone)]
pub struct RegistryRepo {
    client: RegistryClient,
    /// Registry as written in the reference (messages, credentials, cache keys).
    registry: Arc<str>,
    repository: Arc<str>,
    /// `scheme://api-host/`: authorization is sent only to URLs under it.
    origin: Arc<str>,
    /// `scheme://api-host/v2/<repository>`.
    base: Arc<str>,
    pull_key: Arc<str>,
    push_key: Arc<str>,
}

impl std::fmt::Debug for RegistryRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryRepo")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// How a blob upload starts.
#[derive(Debug)]
pub(crate) enum UploadStart {
    /// The registry mounted the blob from another repository; nothing to send.
    Mounted,
    /// An upload session at this URL.
    Session(url::Url),
}

/// One request, rebuilt for every attempt.
struct Req<'a> {
    method: Method,
    method_name: &'static str,
    url: &'a str,
    accept: Option<&'a str>,
    content_type: Option<&'a str>,
    body: Option<bytes::Bytes>,
    /// Other headers (`Content-Range` of an upload chunk).
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Overrides the client's timeout (blob transfers).
    timeout: Option<Duration>,
    /// Needs push access.
    push: bool,
}

impl<'a> Req<'a> {
    fn new(method: Method, url: &'a str) -> Self {
        let method_name = match method.as_str() {
            "GET" => "GET",
            "HEAD" => "HEAD",
            "PUT" => "PUT",
            "POST" => "POST",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            _ => "request",
        };
        Self {
            method,
            method_name,
            url,
            accept: None,
            content_type: None,
            body: None,
            headers: Vec::new(),
            timeout: None,
            push: false,
        }
    }
    fn accept(mut self, accept: &'a str) -> Self {
        self.accept = Some(accept);
        self
    }
    fn push(mut self) -> Self {
        self.push = true;
        self
    }
    fn body(self, content_type: &'a str, body: &[u8]) -> Self {
        self.bytes_body(content_type, bytes::Bytes::copy_from_slice(body))
    }
    /// A body shared (not copied) by every attempt.
    fn bytes_body(mut self, content_type: &'a str, body: bytes::Bytes) -> Self {
        self.content_type = Some(content_type);
        self.body = Some(body);
        self
    }
    fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
    fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl RegistryRepo {
    /// `registry/repository`.
    pub fn location(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The registry host as written in the reference.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path.
    pub fn repository_path(&self) -> &str {
        &self.repository
    }

    fn inner(&self) -> &Inner {
        &self.client.inner
    }

    /// GET a manifest by tag or digest (`reference` is `tag` or `sha256:...`), with the
    /// manifest Accept header; the body is checked against the digest (the requested one, or
    /// the `Docker-Content-Digest` header for tags, or computed). 404 → [`OciError::NotFound`].
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, OciError> {
        let requested = self.parse_reference(reference)?;
        let url = format!("{}/manifests/{reference}", self.base);
        let what = || format!("manifest {reference}");
        let resp = self
            .send(Req::new(Method::GET, &url).accept(media_types::MANIFEST_ACCEPT))
            .await?;
        let resp = self.expect_ok(resp, &url, what).await?;
        let content_type = header_str(resp.headers(), header::CONTENT_TYPE).map(str::to_owned);
        let header_digest = self.header_digest(resp.headers(), &what)?;
        let bytes = self
            .read_limited(resp, self.inner().limits.max_manifest_bytes, &what)
            .await?;
        let digest = match requested {
            Some(digest) => {
                self.verify(&digest, &bytes, &what)?;
                digest
            }
            None => {
                if let Some(header_digest) = &header_digest {
                    self.verify(header_digest, &bytes, &what)?;
                }
                Digest::sha256_of(&bytes)
            }
        };
        let media_type = manifest_media_type(&bytes, content_type.as_deref()).ok_or_else(|| {
            OciError::Malformed {
                what: what(),
                location: self.location(),
                reason: format!(
                    "expected a manifest (JSON with mediaType, config or manifests), found \
                     Content-Type {:?} and a body that is none",
                    content_type.as_deref().unwrap_or("")
                ),
            }
        })?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// HEAD a manifest: its descriptor, or `None` on 404.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        let requested = self.parse_reference(reference)?;
        let url = format!("{}/manifests/{reference}", self.base);
        let what = || format!("manifest {reference}");
        let resp = self
            .send(Req::new(Method::HEAD, &url).accept(media_types::MANIFEST_ACCEPT))
            .await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(self.status_error("HEAD", &url, "200", resp).await),
        }
        let headers = resp.headers();
        let header_digest = self.header_digest(headers, &what)?;
        let size = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        let media_type = header_str(headers, header::CONTENT_TYPE)
            .map(essence)
            .filter(|ct| is_manifest_media_type(ct))
            .map(str::to_owned);
        let digest = match (requested, header_digest) {
            (Some(requested), Some(found)) if requested != found => {
                return Err(OciError::DigestMismatch {
                    what: what(),
                    location: self.location(),
                    source: hallmark_core::DigestError::Mismatch {
                        expected: requested.to_string(),
                        found: found.to_string(),
                    },
                });
            }
            (Some(requested), _) => Some(requested),
            (None, found) => found,
        };
        match (digest, size, media_type) {
            (Some(digest), Some(size), Some(media_type)) if size > 0 => {
                Ok(Some(plain_descriptor(media_type, digest, size)))
            }
            // The registry left something out: fetch the manifest to describe it.
            _ => match self.get_manifest(reference).await {
                Ok(fetched) => Ok(Some(fetched.descriptor())),
                Err(OciError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// GET a blob, at most `max_bytes`, checked against `digest`.
    pub async fn get_blob(&self, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, OciError> {
        let url = format!("{}/blobs/{digest}", self.base);
        let what = || format!("blob {digest}");
        let resp = self.send(Req::new(Method::GET, &url)).await?;
        let resp = self.expect_ok(resp, &url, what).await?;
        let bytes = self.read_limited(resp, max_bytes, &what).await?;
        self.verify(digest, &bytes, &what)?;
        Ok(bytes)
    }

    /// True if the blob exists (HEAD).
    pub async fn has_blob(&self, digest: &Digest) -> Result<bool, OciError> {
        self.has_blob_for(digest, false).await
    }

    pub(crate) async fn has_blob_for(&self, digest: &Digest, push: bool) -> Result<bool, OciError> {
        let url = format!("{}/blobs/{digest}", self.base);
        let mut req = Req::new(Method::HEAD, &url);
        req.push = push;
        let resp = self.send(req).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error("HEAD", &url, "200 or 404", resp).await),
        }
    }

    /// Upload a blob (monolithic POST + PUT) unless it already exists; returns its digest.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        let digest = Digest::sha256_of(bytes);
        if self.has_blob_for(&digest, true).await? {
            return Ok(digest);
        }
        let post_url = format!("{}/blobs/uploads/", self.base);
        let resp = self.send(Req::new(Method::POST, &post_url).push()).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.status_error("POST", &post_url, "202", resp).await);
        }
        let location =
            header_str(resp.headers(), header::LOCATION).ok_or_else(|| OciError::Malformed {
                what: format!("upload session for blob {digest}"),
                location: self.location(),
                reason: "expected a Location header in the 202 answer, found none".into(),
            })?;
        let mut put_url = url::Url::parse(&post_url)
            .and_then(|base| base.join(location))
            .map_err(|e| OciError::Malformed {
                what: format!("upload location for blob {digest}"),
                location: self.location(),
                reason: format!("expected a URL, found {location:?}: {e}"),
            })?;
        put_url
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let put_url = String::from(put_url);
        drop(resp);
        let resp = self
            .send(
                Req::new(Method::PUT, &put_url)
                    .push()
                    .body("application/octet-stream", bytes),
            )
            .await?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => Ok(digest),
            _ => Err(self.status_error("PUT", &put_url, "201", resp).await),
        }
    }

    /// Open a blob for a streaming read, checked against `descriptor` while it is read (see
    /// [`BlobReader`]). A `Content-Length` other than the descriptor's size is refused before
    /// any byte is read.
    pub async fn open_blob(&self, descriptor: &Descriptor) -> Result<BlobReader, OciError> {
        let digest = &descriptor.digest;
        let url = format!("{}/blobs/{digest}", self.base);
        let what = || format!("blob {digest}");
        let resp = self
            .send(Req::new(Method::GET, &url).timeout(self.transfer_timeout(descriptor.size)))
            .await?;
        let resp = self.expect_ok(resp, &url, what).await?;
        let declared =
            header_str(resp.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(len) if len > descriptor.size => {
                return Err(OciError::TooLarge {
                    what: format!("{} (the descriptor's size)", what()),
                    location: self.location(),
                    limit: descriptor.size,
                });
            }
            Some(len) if len < descriptor.size => {
                return Err(OciError::SizeMismatch {
                    what: what(),
                    location: self.location(),
                    expected: descriptor.size,
                    found: len,
                });
            }
            _ => {}
        }
        Ok(BlobReader::http(
            resp,
            &self.registry,
            descriptor,
            self.location(),
        ))
    }

    /// Upload a blob read from `blob` in one upload session: `POST`, a `PATCH` per 8 MiB but
    /// the last, and the closing `PUT ?digest=` with the rest, sent only once the reader has
    /// verified every byte (the registry checks the digest again). On any error the session is deleted, so the registry
    /// discards what it received. Does not check whether the blob exists already.
    pub async fn put_blob_stream(&self, blob: &mut BlobReader) -> Result<(), OciError> {
        match self.start_upload(None).await? {
            UploadStart::Session(url) => self.upload(url, blob).await,
            UploadStart::Mounted => Ok(()),
        }
    }

    /// Open an upload session (`POST .../blobs/uploads/`); with `mount`, ask the registry to
    /// mount that digest from another of its repositories instead (`201`), which it may decline
    /// by opening a session (`202`).
    pub(crate) async fn start_upload(
        &self,
        mount: Option<(&Digest, &str)>,
    ) -> Result<UploadStart, OciError> {
        let mut post_url = format!("{}/blobs/uploads/", self.base);
        if let Some((digest, from)) = mount {
            post_url.push_str("?mount=");
            post_url.push_str(&digest.to_string());
            post_url.push_str("&from=");
            post_url.extend(url::form_urlencoded::byte_serialize(from.as_bytes()));
        }
        let resp = self.send(Req::new(Method::POST, &post_url).push()).await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => Ok(UploadStart::Mounted),
            StatusCode::ACCEPTED => Ok(UploadStart::Session(self.upload_location(
                &post_url,
                resp.headers(),
                "upload session",
            )?)),
            _ => Err(self
                .status_error(
                    "POST",
                    &post_url,
                    if mount.is_some() { "201 or 202" } else { "202" },
                    resp,
                )
                .await),
        }
    }

    /// Send `blob` into the session at `url`; the session is deleted if anything fails.
    pub(crate) async fn upload(
        &self,
        mut url: url::Url,
        blob: &mut BlobReader,
    ) -> Result<(), OciError> {
        let result = self.upload_chunks(&mut url, blob).await;
        if result.is_err() {
            // Best effort: the registry would expire the session anyway.
            let target = String::from(url);
            let deleted = self
                .send(
                    Req::new(Method::DELETE, &target)
                        .push()
                        .timeout(Duration::from_secs(10)),
                )
                .await
                .map(|resp| resp.status().as_u16());
            tracing::debug!(
                registry = %self.registry,
                blob = %blob.digest(),
                deleted = ?deleted.as_ref().ok(),
                "upload failed; upload session deleted"
            );
        }
        result
    }

    async fn upload_chunks(
        &self,
        url: &mut url::Url,
        blob: &mut BlobReader,
    ) -> Result<(), OciError> {
        let chunk_size = usize::try_from(blob.size())
            .unwrap_or(usize::MAX)
            .clamp(1, UPLOAD_CHUNK_BYTES);
        let mut buf = bytes::BytesMut::with_capacity(chunk_size);
        let mut offset = 0u64;
        while let Some(mut chunk) = blob.next_chunk().await? {
            while !chunk.is_empty() {
                // A full buffer goes out only when more follows: the last (or only) chunk
                // travels with the closing PUT, after the reader has verified the digest.
                if buf.len() == chunk_size {
                    let full =
                        std::mem::replace(&mut buf, bytes::BytesMut::with_capacity(chunk_size));
                    self.patch_chunk(url, offset, full.freeze()).await?;
                    offset += chunk_size as u64;
                }
                let take = (chunk_size - buf.len()).min(chunk.len());
                buf.extend_from_slice(&chunk.split_to(take));
            }
        }
        // Every byte read and verified: close the session with the rest.
        let digest = blob.digest().clone();
        let what = || format!("blob {digest}");
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let put_url = String::from(url.clone());
        let rest = buf.freeze();
        let resp = self
            .send(
                Req::new(Method::PUT, &put_url)
                    .push()
                    .timeout(self.transfer_timeout(rest.len() as u64))
                    .bytes_body("application/octet-stream", rest),
            )
            .await?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => {}
            _ => return Err(self.status_error("PUT", &put_url, "201", resp).await),
        }
        if let Some(found) = self.header_digest(resp.headers(), &what)?
            && found != digest
        {
            return Err(OciError::DigestMismatch {
                what: format!("{} (Docker-Content-Digest of the finished upload)", what()),
                location: self.location(),
                source: hallmark_core::DigestError::Mismatch {
                    expected: digest.to_string(),
                    found: found.to_string(),
                },
            });
        }
        Ok(())
    }

    /// `PATCH` one chunk at `offset` (`Content-Range: start-end`); `url` becomes the session
    /// URL the registry answers with.
    async fn patch_chunk(
        &self,
        url: &mut url::Url,
        offset: u64,
        chunk: bytes::Bytes,
    ) -> Result<(), OciError> {
        let end = offset + chunk.len() as u64 - 1;
        let target = String::from(url.clone());
        let range = HeaderValue::try_from(format!("{offset}-{end}"))
            .unwrap_or_else(|_| HeaderValue::from_static("0-0"));
        let timeout = self.transfer_timeout(chunk.len() as u64);
        let resp = self
            .send(
                Req::new(Method::PATCH, &target)
                    .push()
                    .header(header::CONTENT_RANGE, range)
                    .timeout(timeout)
                    .bytes_body("application/octet-stream", chunk),
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.status_error("PATCH", &target, "202", resp).await);
        }
        if let Some(range) = header_str(resp.headers(), header::RANGE)
            && range != format!("0-{end}")
            && range != format!("bytes=0-{end}")
        {
            return Err(OciError::Malformed {
                what: "blob upload session".into(),
                location: self.location(),
                reason: format!(
                    "expected the registry to hold bytes 0-{end} after a PATCH, found Range {range:?}"
                ),
            });
        }
        *url = self.upload_location(&target, resp.headers(), "upload session")?;
        Ok(())
    }

    /// The `Location` of an upload answer, resolved against the request URL.
    fn upload_location(
        &self,
        request_url: &str,
        headers: &HeaderMap,
        what: &str,
    ) -> Result<url::Url, OciError> {
        let location =
            header_str(headers, header::LOCATION).ok_or_else(|| OciError::Malformed {
                what: what.to_owned(),
                location: self.location(),
                reason: "expected a Location header in the 202 answer, found none".into(),
            })?;
        url::Url::parse(request_url)
            .and_then(|base| base.join(location))
            .map_err(|e| OciError::Malformed {
                what: what.to_owned(),
                location: self.location(),
                reason: format!("expected a URL in the Location header, found {location:?}: {e}"),
            })
    }

    /// The time a transfer of `bytes` may take in all: the client's timeout plus the size at
    /// a slow but working rate. Stalls are caught by the per-read timeout well before.
    fn transfer_timeout(&self, bytes: u64) -> Duration {
        self.inner()
            .timeout
            .saturating_add(Duration::from_secs(bytes / MIN_TRANSFER_BYTES_PER_SEC))
    }

    /// PUT a manifest under `reference` (a tag, or its own digest); returns its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        reference: &str,
    ) -> Result<Digest, OciError> {
        let what = || format!("manifest {reference}");
        let digest = match self.parse_reference(reference)? {
            Some(requested) => {
                self.verify(&requested, bytes, &what)?;
                requested
            }
            None => Digest::sha256_of(bytes),
        };
        let limit = self.inner().limits.max_manifest_bytes;
        if bytes.len() as u64 > limit {
            return Err(OciError::TooLarge {
                what: what(),
                location: self.location(),
                limit,
            });
        }
        let url = format!("{}/manifests/{reference}", self.base);
        let resp = self
            .send(Req::new(Method::PUT, &url).push().body(media_type, bytes))
            .await?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::OK | StatusCode::ACCEPTED => {}
            _ => return Err(self.status_error("PUT", &url, "201", resp).await),
        }
        if let Some(header_digest) = self.header_digest(resp.headers(), &what)? {
            self.verify(&header_digest, bytes, &what)?;
        }
        Ok(digest)
    }

    /// The referrers of `subject` via `GET /v2/<repo>/referrers/<digest>`; when the registry
    /// has no referrers API (404 or non-index answer) falls back to the tag schema
    /// (`sha256-<hex>` index). Optionally filtered by artifact type.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        let mut url = format!("{}/referrers/{subject}", self.base);
        if let Some(artifact_type) = artifact_type {
            url.push_str("?artifactType=");
            url.extend(url::form_urlencoded::byte_serialize(
                artifact_type.as_bytes(),
            ));
        }
        let resp = self
            .send(Req::new(Method::GET, &url).accept(media_types::OCI_INDEX))
            .await?;
        let from_api = match resp.status() {
            StatusCode::OK => {
                let what = || format!("referrers of {subject}");
                let bytes = self
                    .read_limited(resp, self.inner().limits.max_manifest_bytes, &what)
                    .await?;
                // A 200 is the referrers API answering: what it says must be an index. Taking
                // anything else for "no API" would carry no referrers and say nothing.
                match Manifest::parse(&bytes, None) {
                    Ok(Manifest::Index(index)) => Some(index.manifests),
                    Ok(Manifest::Image(_)) => {
                        return Err(OciError::Malformed {
                            what: what(),
                            location: self.location(),
                            reason: "expected an image index from the referrers API (HTTP 200), found an image manifest".into(),
                        });
                    }
                    Err(e) => {
                        return Err(OciError::Malformed {
                            what: what(),
                            location: self.location(),
                            reason: format!(
                                "expected an image index from the referrers API (HTTP 200): {e}"
                            ),
                        });
                    }
                }
            }
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => None,
            _ => return Err(self.status_error("GET", &url, "200 or 404", resp).await),
        };
        let manifests = match from_api {
            Some(manifests) => manifests,
            None => self.referrers_by_tag(subject).await?,
        };
        Ok(filter_artifact_type(manifests, artifact_type))
    }

    /// The tag-schema fallback: the index at `sha256-<hex>`.
    async fn referrers_by_tag(&self, subject: &Digest) -> Result<Vec<Descriptor>, OciError> {
        let tag = subject.tag_form();
        let fetched = match self.get_manifest(&tag).await {
            Ok(fetched) => fetched,
            Err(OciError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        match Manifest::parse(&fetched.bytes, Some(&fetched.media_type)) {
            Ok(Manifest::Index(ImageIndex { manifests, .. })) => Ok(manifests),
            Ok(Manifest::Image(_)) => Err(OciError::Malformed {
                what: format!("referrers tag {tag}"),
                location: self.location(),
                reason: format!("expected an image index, found {}", fetched.media_type),
            }),
            Err(e) => Err(OciError::Malformed {
                what: format!("referrers tag {tag}"),
                location: self.location(),
                reason: format!("expected an image index: {e}"),
            }),
        }
    }

    /// Tags of the repository (`GET /v2/<repo>/tags/list`, following `Link` pagination).
    pub async fn list_tags(&self) -> Result<Vec<String>, OciError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = || "tag list".to_owned();
        let mut url = format!("{}/tags/list", self.base);
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let resp = self
                .send(Req::new(Method::GET, &url).accept("application/json"))
                .await?;
            let resp = self.expect_ok(resp, &url, || "repository".into()).await?;
            let next = next_link(resp.headers());
            let bytes = self
                .read_limited(resp, self.inner().limits.max_api_bytes, &what)
                .await?;
            let page: TagList =
                serde_json::from_slice(&bytes).map_err(|e| OciError::Malformed {
                    what: what(),
                    location: self.location(),
                    reason: format!("expected {{\"tags\": [...]}}: {e}"),
                })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                None => return Ok(tags),
                Some(next) => {
                    url = url::Url::parse(&url)
                        .and_then(|base| base.join(&next))
                        .map(String::from)
                        .map_err(|e| OciError::Malformed {
                            what: what(),
                            location: self.location(),
                            reason: format!(
                                "expected a URL in the Link header, found {next:?}: {e}"
                            ),
                        })?;
                }
            }
        }
        Err(OciError::Malformed {
            what: what(),
            location: self.location(),
            reason: format!("expected at most {MAX_TAG_PAGES} pages, found more"),
        })
    }

    // ---- helpers ----

    /// `Some(digest)` when `reference` is a digest, `None` for a tag.
    fn parse_reference(&self, reference: &str) -> Result<Option<Digest>, OciError> {
        crate::store::parse_reference(reference, || self.location())
    }

    fn verify(
        &self,
        digest: &Digest,
        bytes: &[u8],
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<(), OciError> {
        digest
            .verify(bytes)
            .map_err(|source| OciError::DigestMismatch {
                what: what(),
                location: self.location(),
                source,
            })
    }

    /// `Docker-Content-Digest`, parsed, if present.
    fn header_digest(
        &self,
        headers: &HeaderMap,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<Option<Digest>, OciError> {
        let Some(value) = headers.get("docker-content-digest") else {
            return Ok(None);
        };
        let text = value.to_str().unwrap_or("<not text>");
        Digest::parse(text.trim())
            .map(Some)
            .map_err(|e| OciError::Malformed {
                what: what(),
                location: self.location(),
                reason: format!("Docker-Content-Digest header: {e}"),
            })
    }

    /// Read a body of at most `limit` bytes, checking `Content-Length` first.
    async fn read_limited(
        &self,
        mut resp: reqwest::Response,
        limit: u64,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<Vec<u8>, OciError> {
        let too_large = || OciError::TooLarge {
            what: what(),
            location: self.location(),
            limit,
        };
        let declared =
            header_str(resp.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let capacity = declared.unwrap_or(0).min(limit).min(16 << 20);
        let mut buf = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|source| self.transport_error(source))?
        {
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    fn transport_error(&self, e: reqwest::Error) -> OciError {
        transport_error(self.registry.as_ref(), e)
    }

    /// `resp` of a GET of `url` when it is 200; 404 is [`OciError::NotFound`] of `what`, any
    /// other status an [`OciError::Status`].
    async fn expect_ok(
        &self,
        resp: reqwest::Response,
        url: &str,
        what: impl FnOnce() -> String,
    ) -> Result<reqwest::Response, OciError> {
        match resp.status() {
            StatusCode::OK => Ok(resp),
            StatusCode::NOT_FOUND => Err(OciError::NotFound {
                what: what(),
                location: self.location(),
            }),
            _ => Err(self.status_error("GET", url, "200", resp).await),
        }
    }

    /// An [`OciError::Status`] with the start of the body.
    async fn status_error(
        &self,
        method: &'static str,
        url: &str,
        expected: &'static str,
        resp: reqwest::Response,
    ) -> OciError {
        status_error(method, url, expected, resp).await
    }

    /// Send with authentication: cached authorization, else anonymous; on 401 follow the
    /// challenge once.
    async fn send(&self, req: Req<'_>) -> Result<reqwest::Response, OciError> {
        let inner = self.inner();
        let same_origin = req.url.starts_with(&*self.origin);
        let key = if req.push {
            &self.push_key
        } else {
            &self.pull_key
        };
        let mut auth = if same_origin {
            self.cached_auth(key)
        } else {
            None
        };
        if same_origin && auth.is_none() {
            let known = read_lock(&inner.challenges).get(&*self.registry).cloned();
            if let Some(challenge) = known {
                auth = self.negotiate(key, &challenge, req.push, None).await?;
            }
        }
        let mut negotiated = false;
        loop {
            let resp = self.send_with_retries(&req, auth.as_ref()).await?;
            if resp.status() != StatusCode::UNAUTHORIZED || !same_origin {
                return Ok(resp);
            }
            if negotiated {
                tracing::debug!(
                    registry = %self.registry,
                    credentials = self.describe_credentials(),
                    "registry refused the credentials (401 after authorising)"
                );
                return Err(OciError::Auth {
                    registry: self.registry.to_string(),
                    reason: format!(
                        "{} {}: expected access with the {} credentials, registry answered 401 \
                         Unauthorized",
                        req.method_name,
                        req.url,
                        self.describe_credentials()
                    ),
                });
            }
            let challenge = parse_challenges(resp.headers()).ok_or_else(|| OciError::Auth {
                registry: self.registry.to_string(),
                reason: format!(
                    "{} {}: 401 Unauthorized without a usable WWW-Authenticate header \
                     (expected Bearer or Basic)",
                    req.method_name, req.url
                ),
            })?;
            drop(resp);
            tracing::debug!(
                registry = %self.registry,
                challenge = challenge.scheme(),
                "registry answered 401; authorising"
            );
            write_lock(&inner.challenges).insert(self.registry.clone(), challenge.clone());
            auth = self
                .negotiate(key, &challenge, req.push, auth.as_ref())
                .await?;
            negotiated = true;
        }
    }

    fn describe_credentials(&self) -> &'static str {
        match self.inner().credentials {
            Credentials::Anonymous => "anonymous",
            Credentials::Basic { .. } => "given",
            Credentials::DockerConfig | Credentials::DockerConfigAt(_) => "docker config",
        }
    }

    fn cached_auth(&self, key: &str) -> Option<HeaderValue> {
        let cache = read_lock(&self.inner().auth_cache);
        let entry = cache.get(key)?;
        if entry.expires.is_some_and(|at| at <= Instant::now()) {
            return None;
        }
        Some(entry.header.clone())
    }

    /// Obtain authorization for `key` from `challenge`. `stale` is the authorization that
    /// was just refused (if another task already replaced it, that one is used).
    async fn negotiate(
        &self,
        key: &Arc<str>,
        challenge: &Challenge,
        push: bool,
        stale: Option<&HeaderValue>,
    ) -> Result<Option<HeaderValue>, OciError> {
        let inner = self.inner();
        let lock = {
            let mut locks = inner
                .negotiations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(key.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(current) = self.cached_auth(key)
            && stale != Some(&current)
        {
            return Ok(Some(current));
        }
        let secret = self.credentials().await?;
        tracing::debug!(
            registry = %self.registry,
            scheme = challenge.scheme(),
            credentials = self.describe_credentials(),
            secret = secret.as_ref().map_or("none", Secret::kind),
            push,
            "negotiating registry authorisation"
        );
        let (header, expires) = match challenge {
            Challenge::Basic => match &secret {
                Some(Secret::Basic { username, password }) => {
                    (basic_header(username, password), None)
                }
                Some(Secret::IdentityToken(_)) => {
                    return Err(OciError::Auth {
                        registry: self.registry.to_string(),
                        reason: "registry asks for Basic auth, but the docker config holds an \
                                 identity token (usable only with Bearer token auth)"
                            .into(),
                    });
                }
                None => {
                    return Err(OciError::Auth {
                        registry: self.registry.to_string(),
                        reason: "registry asks for Basic auth; expected credentials, found none \
                                 (docker login, or give a username and password)"
                            .into(),
                    });
                }
            },
            Challenge::Bearer(BearerChallenge { realm, service, .. }) => {
                let actions = if push { "pull,push" } else { "pull" };
                let scope = format!("repository:{}:{actions}", self.repository);
                self.fetch_token(realm, service.as_deref(), &scope, secret.as_ref())
                    .await?
            }
        };
        write_lock(&inner.auth_cache).insert(
            key.clone(),
            CachedAuth {
                header: header.clone(),
                expires,
            },
        );
        Ok(Some(header))
    }

    /// The token flow: GET `realm?service=&scope=` (Basic credentials if any), or POST with
    /// the refresh token for an identity token.
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        secret: Option<&Secret>,
    ) -> Result<(HeaderValue, Option<Instant>), OciError> {
        let auth_err = |reason: String| OciError::Auth {
            registry: self.registry.to_string(),
            reason,
        };
        let mut realm_url = url::Url::parse(realm).map_err(|e| {
            auth_err(format!(
                "expected an absolute token realm URL, found {realm:?}: {e}"
            ))
        })?;
        match realm_url.scheme() {
            "https" => {}
            "http"
                if self.inner().http_policy == HttpPolicy::AllowInsecureHttp
                    || url_is_loopback(&realm_url) => {}
            "http" => {
                return Err(OciError::InsecureRefused {
                    registry: realm_url.host_str().unwrap_or(realm).to_owned(),
                });
            }
            other => {
                return Err(auth_err(format!(
                    "expected an http(s) token realm, found scheme {other:?}"
                )));
            }
        }
        let issued = Instant::now();
        let (token_url, body, basic);
        match secret {
            Some(Secret::IdentityToken(refresh)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                if let Some(service) = service {
                    form.append_pair("service", service);
                }
                form.append_pair("scope", scope);
                form.append_pair("client_id", "hallmark");
                form.append_pair("refresh_token", refresh);
                token_url = String::from(realm_url);
                body = Some(form.finish().into_bytes());
                basic = None;
            }
            other => {
                {
                    let mut query = realm_url.query_pairs_mut();
                    if let Some(service) = service {
                        query.append_pair("service", service);
                    }
                    query.append_pair("scope", scope);
                }
                token_url = String::from(realm_url);
                body = None;
                basic = match other {
                    Some(Secret::Basic { username, password }) => {
                        Some(basic_header(username, password))
                    }
                    _ => None,
                };
            }
        }
        let req = match &body {
            Some(body) => Req::new(Method::POST, &token_url)
                .accept("application/json")
                .body("application/x-www-form-urlencoded", body),
            None => Req::new(Method::GET, &token_url).accept("application/json"),
        };
        let resp = self.send_with_retries(&req, basic.as_ref()).await?;
        tracing::debug!(
            realm = strip_query(&token_url),
            scope,
            status = resp.status().as_u16(),
            "registry token endpoint"
        );
        match resp.status() {
            StatusCode::OK => {}
            s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(auth_err(format!(
                    "token endpoint {} refused scope {scope} with the {} credentials: HTTP {}",
                    strip_query(&token_url),
                    self.describe_credentials(),
                    s.as_u16()
                )));
            }
            _ => {
                return Err(
                    status_error(req.method_name, strip_query(&token_url), "200", resp).await,
                );
            }
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let what = || "token".to_owned();
        let bytes = self
            .read_limited(resp, self.inner().limits.max_api_bytes, &what)
            .await?;
        let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            auth_err(format!(
                "token endpoint: expected JSON with `token` or `access_token`: {e}"
            ))
        })?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                auth_err("token endpoint: expected `token` or `access_token`, found neither".into())
            })?;
        let mut header = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
            auth_err("token endpoint: the token contains characters not allowed in a header".into())
        })?;
        header.set_sensitive(true);
        // Tokens without expires_in last 60 s (distribution token spec); renew a bit early.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(10));
        Ok((header, Some(issued + lifetime.mul_f64(0.9))))
    }

    /// Credentials for this registry from the configured source, resolved once per client.
    async fn credentials(&self) -> Result<Option<Secret>, OciError> {
        let inner = self.inner();
        let path = match &inner.credentials {
            Credentials::Anonymous => return Ok(None),
            Credentials::Basic { username, password } => {
                return Ok(Some(Secret::Basic {
                    username: username.clone(),
                    password: password.clone(),
                }));
            }
            Credentials::DockerConfigAt(path) => Some((path.clone(), true)),
            Credentials::DockerConfig => docker_config_path().map(|p| (p, false)),
        };
        let Some((path, explicit)) = path else {
            return Ok(None);
        };
        let mut resolved = inner.resolved.lock().await;
        if let Some(found) = resolved.get(&*self.registry) {
            return Ok(found.clone());
        }
        let server = docker_config_key(&self.registry);
        let registry = self.registry.to_string();
        let shown_path = path.display().to_string();
        let found = tokio::task::spawn_blocking(move || {
            read_docker_credentials(&path, explicit, &server, &registry)
        })
        .await
        .map_err(|e| OciError::Auth {
            registry: self.registry.to_string(),
            reason: format!("reading docker credentials failed: {e}"),
        })??;
        tracing::debug!(
            registry = %self.registry,
            config = shown_path,
            found = found.as_ref().map_or("nothing", Secret::kind),
            "registry credentials from docker config"
        );
        resolved.insert(self.registry.clone(), found.clone());
        Ok(found)
    }

    /// One request with retries on 429/5xx and connection errors.
    async fn send_with_retries(
        &self,
        req: &Req<'_>,
        auth: Option<&HeaderValue>,
    ) -> Result<reqwest::Response, OciError> {
        let inner = self.inner();
        let mut retries = 0u32;
        // The request's timeout is the budget of all its attempts and the waits between them.
        let budget = req.timeout.unwrap_or(inner.timeout);
        let started = std::time::Instant::now();
        loop {
            let remaining = budget.saturating_sub(started.elapsed());
            let mut builder = inner.http.request(req.method.clone(), req.url);
            if let Some(accept) = req.accept {
                builder = builder.header(header::ACCEPT, accept);
            }
            if let Some(auth) = auth {
                builder = builder.header(header::AUTHORIZATION, auth.clone());
            }
            for (name, value) in &req.headers {
                builder = builder.header(name.clone(), value.clone());
            }
            builder = builder.timeout(remaining.max(Duration::from_millis(1)));
            if let Some(body) = &req.body {
                if let Some(ct) = req.content_type {
                    builder = builder.header(header::CONTENT_TYPE, ct);
                }
                builder = builder.body(body.clone());
            } else if req.method == Method::POST || req.method == Method::PUT {
                builder = builder.header(header::CONTENT_LENGTH, "0");
            }
            inner.requests.fetch_add(1, Ordering::Relaxed);
            match builder.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        inner.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!(
                        method = req.method_name,
                        url = strip_query(req.url),
                        status = status.as_u16(),
                        attempt = retries + 1,
                        auth = auth_scheme(auth),
                        "registry request"
                    );
                    if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) {
                        return Ok(resp);
                    }
                    let delay =
                        retry_after(resp.headers()).unwrap_or_else(|| self.backoff(retries));
                    if retries >= inner.max_retries || started.elapsed() + delay >= budget {
                        return Err(OciError::RetriesExhausted {
                            method: req.method_name,
                            url: strip_query(req.url).to_owned(),
                            attempts: retries + 1,
                            status: status.as_u16(),
                        });
                    }
                    tracing::debug!(
                        method = req.method_name,
                        url = strip_query(req.url),
                        status = status.as_u16(),
                        attempt = retries + 1,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "registry request: retrying"
                    );
                    drop(resp);
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    inner.failures.fetch_add(1, Ordering::Relaxed);
                    let e = e.without_url_query();
                    // A refused or dropped connection may work next time; a timeout, a
                    // redirect loop or an answer that is not HTTP will not.
                    let transient = e.is_connect()
                        || (e.is_request()
                            && !e.is_timeout()
                            && !e.is_redirect()
                            && classify(&e) != TransportFailure::NotHttp);
                    tracing::debug!(
                        method = req.method_name,
                        url = strip_query(req.url),
                        attempt = retries + 1,
                        transient,
                        error = %hallmark_core::error::chain(&e),
                        "registry request failed"
                    );
                    let delay = self.backoff(retries);
                    if !transient
                        || retries >= inner.max_retries
                        || started.elapsed() + delay >= budget
                    {
                        return Err(self.transport_error(e));
                    }
                    tokio::time::sleep(delay).await;
                }
            }
            retries += 1;
        }
    }

    fn backoff(&self, retries: u32) -> Duration {
        let factor = 1u32 << retries.min(16);
        self.inner()
            .retry_base
            .saturating_mul(factor)
            .min(MAX_BACKOFF)
    }
}

trait WithoutUrlQuery {
    fn without_url_query(self) -> Self;
}

impl WithoutUrlQuery for reqwest::Error {
    /// Token URLs carry scopes only, upload URLs carry state: drop the query anyway so error
    /// messages stay short and never echo anything a server put there.
    fn without_url_query(mut self) -> Self {
        if let Some(url) = self.url_mut() {
            url.set_query(None);
        }
        self
    }
}

async fn status_error(
    method: &'static str,
    url: &str,
    expected: &'static str,
    mut resp: reqwest::Response,
) -> OciError {
    let status = resp.status().as_u16();
    let mut buf = Vec::new();
    while buf.len() < ERROR_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(ERROR_BODY_BYTES);
    // The registry chooses these bytes: one line, no terminal controls.
    let body = String::from_utf8_lossy(&buf)
        .trim()
        .replace(['\n', '\r'], " ");
    let body = hallmark_core::text::escape_controls(&body).into_owned();
    OciError::Status {
        method,
        url: strip_query(url).to_owned(),
        expected,
        status,
        body,
    }
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The scheme of an `Authorization` value (`Bearer`, `Basic`), never its credentials.
fn auth_scheme(auth: Option<&HeaderValue>) -> &'static str {
    match auth.map(|v| {
        v.as_bytes()
            .split(|b| *b == b' ')
            .next()
            .unwrap_or_default()
    }) {
        None => "anonymous",
        Some(b"Bearer") => "Bearer",
        Some(b"Basic") => "Basic",
        Some(_) => "other",
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_manifest_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        media_types::OCI_MANIFEST
            | media_types::OCI_INDEX
            | media_types::DOCKER_MANIFEST
            | media_types::DOCKER_MANIFEST_LIST
    ) || (media_type.starts_with("application/vnd.") && media_type.ends_with("+json"))
}

pub(crate) fn plain_descriptor(media_type: String, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type,
        digest,
        size,
        annotations: None,
        platform: None,
        artifact_type: None,
    }
}

pub(crate) fn filter_artifact_type(
    mut descriptors: Vec<Descriptor>,
    artifact_type: Option<&str>,
) -> Vec<Descriptor> {
    if let Some(wanted) = artifact_type {
        descriptors.retain(|d| d.artifact_type.as_deref() == Some(wanted));
    }
    descriptors
}

fn basic_header(username: &str, password: &str) -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    // Base64 is always a valid header value.
    let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// `Retry-After` in seconds, capped.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = header_str(headers, header::RETRY_AFTER)?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let is_next = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next {
                let target = target.strip_prefix('<')?.strip_suffix('>')?;
                return Some(target.to_owned());
            }
        }
    }
    None
}

/// The challenge to answer among the `WWW-Authenticate` headers (Bearer preferred).
fn parse_challenges(headers: &HeaderMap) -> Option<Challenge> {
    auth::parse_challenges(
        headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

fn url_is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// The key docker uses for a registry in `config.json` and with credential helpers.
fn docker_config_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            DOCKER_HUB_CONFIG_KEY.to_owned()
        }
        other => other.to_owned(),
    }
}

/// A credential docker's `config.json` holds for a registry. `Debug` never shows the secret;
/// the secret is zeroized on drop.
#[derive(Clone)]
#[non_exhaustive]
pub enum DockerCredential {
    /// A user name and password (or token as password).
    UsernamePassword {
        /// User name.
        username: String,
        /// Password; never logged.
        password: zeroize::Zeroizing<String>,
    },
    /// An identity (OAuth refresh) token, as `docker login` stores for some registries.
    IdentityToken(zeroize::Zeroizing<String>),
}

impl std::fmt::Debug for DockerCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DockerCredential::UsernamePassword { username, .. } => f
                .debug_struct("UsernamePassword")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            DockerCredential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// The credential for `registry` (a host with optional port, `docker.io` for Docker Hub) from
/// docker's `config.json` in `$DOCKER_CONFIG` or `~/.docker`, looked up exactly as the registry
/// client does with [`Credentials::DockerConfig`]: `credHelpers` for the registry, else
/// `credsStore`, else the `auths` entry. A missing config file is `Ok(None)`. Blocking: it may
/// run a `docker-credential-<name>` helper found on `PATH`.
pub fn docker_credentials(registry: &str) -> Result<Option<DockerCredential>, OciError> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let server = docker_config_key(registry);
    Ok(
        read_docker_credentials(&path, false, &server, registry)?.map(|secret| match secret {
            Secret::Basic { username, password } => DockerCredential::UsernamePassword {
                username,
                password: zeroize::Zeroizing::new(password),
            },
            Secret::IdentityToken(token) => {
                DockerCredential::IdentityToken(zeroize::Zeroizing::new(token))
            }
        }),
    )
}

/// Read credentials for `server` from a docker config (blocking: may run a helper).
fn read_docker_credentials(
    path: &std::path::Path,
    explicit: bool,
    server: &str,
    registry: &str,
) -> Result<Option<Secret>, OciError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(source) => {
            return Err(OciError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let found =
        docker_credential::get_credential_from_reader(std::io::BufReader::new(file), server);
    let auth_err = |reason: String| OciError::Auth {
        registry: registry.to_owned(),
        reason,
    };
    match found {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(Some(Secret::Basic { username, password }))
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(Some(Secret::IdentityToken(token))),
        Err(E::NoCredentialConfigured) => Ok(None),
        Err(E::ConfigReadError | E::ConfigNotFound) => Err(OciError::Malformed {
            what: "docker config".into(),
            location: path.display().to_string(),
            reason: "expected JSON with auths/credsStore/credHelpers".into(),
        }),
        Err(E::HelperFailure { helper, .. }) => Err(auth_err(format!(
            "credential helper {helper} failed for {server} (run it by hand to see why)"
        ))),
        Err(E::HelperCommunicationError) => Err(auth_err(format!(
            "could not run the credential helper configured for {server} in {}",
            path.display()
        ))),
        Err(E::MalformedHelperResponse) => Err(auth_err(format!(
            "the credential helper for {server}: expected JSON with Username and Secret"
        ))),
        Err(E::CredentialDecodingError | E::CredentialMismatchError) => Err(auth_err(format!(
            "the `auth` entry for {server} in {}: expected base64 of user:password that agrees \
             with username/password",
            path.display()
        ))),
    }
}

/// What kind of transport failure `e` is.
fn classify(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_redirect() {
        TransportFailure::Redirects
    } else if e.is_connect() {
        TransportFailure::Connect
    } else if e.is_body() || e.is_decode() {
        TransportFailure::Body
    } else {
        let reason = hallmark_core::error::root_cause(e).to_string();
        if [
            "invalid HTTP",
            "message head is too large",
            "invalid header",
            "parse",
        ]
        .iter()
        .any(|m| reason.contains(m))
        {
            TransportFailure::NotHttp
        } else {
            TransportFailure::Other
        }
    }
}

/// An [`OciError::Transport`] for a transport error of `registry`: what happened, the URL
/// without its query, and the innermost cause only.
pub(crate) fn transport_error(registry: &str, e: reqwest::Error) -> OciError {
    let e = e.without_url_query();
    let url = e.url().map(|u| u.to_string()).unwrap_or_default();
    let e = e.without_url();
    let reason = hallmark_core::error::root_cause(&e).to_string();
    let failure = classify(&e);
    OciError::Transport {
        registry: registry.to_owned(),
        url,
        failure,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_auth_scheme_never_show_credentials() {
        let given = Credentials::Basic {
            username: "ci-bot".into(),
            password: "registry-pw-5c1d".into(),
        };
        let basic = Secret::Basic {
            username: "ci-bot".into(),
            password: "registry-pw-5c1d".into(),
        };
        let token = Secret::IdentityToken("refresh-tok-88ab".into());
        let shown = format!("{given:?} {given:#?} {basic:?} {token:?}");
        assert!(shown.contains("ci-bot"), "{shown}");
        for secret in ["registry-pw-5c1d", "refresh-tok-88ab"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let header = basic_header("ci-bot", "registry-pw-5c1d");
        assert!(!format!("{header:?}").contains("Y2ktYm90"), "{header:?}");
        assert_eq!(auth_scheme(Some(&header)), "Basic");
        let bearer = HeaderValue::from_static("Bearer abc.def");
        assert_eq!(auth_scheme(Some(&bearer)), "Bearer");
        assert_eq!(auth_scheme(None), "anonymous");
        assert_eq!(
            auth_scheme(Some(&HeaderValue::from_static("Negotiate zzz"))),
            "other"
        );
    }

    #[test]
    fn parses_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LINK,
            HeaderValue::from_static(r#"</v2/a/tags/list?last=x&n=2>; rel="next""#),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("/v2/a/tags/list?last=x&n=2")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn credentials_debug_hides_password() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
