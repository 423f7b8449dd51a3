//! A registry proxy that enforces hallmark's trust policy in front of any OCI registry.
//!
//! Speaks the OCI distribution API (distribution-spec v1.1) to clients and forwards to one
//! upstream registry; image names in the policy are the upstream's (`UPSTREAM_HOST/repo`),
//! the names signatures are made for.
//!
//! - **Pulls.** A manifest GET or HEAD (by tag or by digest) is decided under the policy
//!   ([`hallmark_verify::Decider`], the same cached decisions as the admission webhook): the tag
//!   is resolved once, and an allowed image is served **at the digest verified**: the manifest
//!   is read by that digest, with the client's credentials, and its bytes are checked against
//!   it before they are served. A denial is `403` with an OCI error body
//!   (`{"errors":[{"code":"DENIED","message":...}]}`) naming the rule and the unmet
//!   requirement. Blobs stream through in constant memory. Signature and attestation artifacts
//!   (`sha256-<hex>.sig`, `.att`, the referrers API and its tag fallback) are always readable.
//! - **Pushes.** Blobs, manifests by digest and signature artifacts pass. A manifest pushed by
//!   *tag* is, with [`PushMode::Refuse`], forwarded only when the pushed digest already
//!   satisfies the policy (so an unsigned tag never exists upstream); with [`PushMode::Gate`]
//!   it passes, and the tag is served to nobody until it is signed.
//! - **Credentials.** A client's `Authorization` is forwarded with its own requests and the
//!   upstream's challenges are passed back, so `docker login` against the proxy works; the
//!   decisions read with the proxy's own registry client.
//! - Bad input (names that are not repository names, unknown paths) is a `4xx`; an upstream
//!   that cannot be reached is a `502` naming why.

mod ui;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use futures::TryStreamExt as _;
use hallmark_core::{Digest, RegistryRef};
use hallmark_policy::Decision;
use hallmark_verify::{Decider, DecisionLog};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Largest manifest read or accepted (bytes), as registries limit them.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// What happens to a manifest pushed by tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PushMode {
    /// Forwarded only when the pushed digest already satisfies the policy.
    #[default]
    Refuse,
    /// Forwarded; the tag is served to nobody until it satisfies the policy.
    Gate,
}

/// The proxy could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The upstream URL is not `http(s)://host[:port]`.
    #[error("--upstream {0:?}: expected http://HOST[:PORT] or https://HOST[:PORT]")]
    Upstream(String),
    /// The HTTP client could not be built.
    #[error("the upstream client: {0}")]
    Client(String),
}

/// What the proxy is built from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// The upstream registry, `http(s)://host[:port]`.
    pub upstream: String,
    /// Extra PEM CA certificates for an HTTPS upstream.
    pub upstream_ca: Option<Vec<u8>>,
    /// Tag pushes.
    pub push_mode: PushMode,
    /// Where decision lines go.
    pub decision_log: DecisionLog,
    /// Longest wait for the upstream's answer to one request (bodies stream on after it).
    pub upstream_timeout: Duration,
}

impl Config {
    /// Defaults for everything but the upstream.
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            upstream: upstream.into(),
            upstream_ca: None,
            push_mode: PushMode::default(),
            decision_log: DecisionLog::off(),
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    manifests_served: AtomicU64,
    manifests_denied: AtomicU64,
    pushes_refused: AtomicU64,
    forwarded: AtomicU64,
    upstream_errors: AtomicU64,
    bad_requests: AtomicU64,
}

struct Inner {
    config: Config,
    /// `http(s)://host[:port]`, no trailing slash.
    base: String,
    /// `host[:port]`: the registry part of the image names decided.
    host: String,
    http: reqwest::Client,
    decider: Decider,
    counters: Counters,
    /// The latest decisions, newest last (for the page).
    recent: std::sync::Mutex<std::collections::VecDeque<serde_json::Value>>,
}

/// Decisions the page keeps.
const RECENT: usize = 100;

/// The proxy; cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// What a `/v2/...` path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// `/v2/`
    Base,
    /// `/v2/NAME/manifests/REF`
    Manifest { name: &'a str, reference: &'a str },
    /// `/v2/NAME/blobs/...`, `/v2/NAME/tags/list`, `/v2/NAME/referrers/DIGEST`: passed through.
    Other { name: &'a str },
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v2/")?;
    if rest.is_empty() {
        return Some(Route::Base);
    }
    if let Some(i) = rest.rfind("/manifests/") {
        let (name, reference) = (&rest[..i], &rest[i + "/manifests/".len()..]);
        return Some(Route::Manifest { name, reference });
    }
    for marker in ["/blobs/", "/tags/list", "/referrers/"] {
        if let Some(i) = rest.find(marker) {
            return Some(Route::Other { name: &rest[..i] });
        }
    }
    None
}

/// A cosign / referrers-fallback artifact tag: `sha256-<64 hex>` with an optional suffix.
fn is_artifact_tag(reference: &str) -> bool {
    reference.strip_prefix("sha256-").is_some_and(|rest| {
        rest.len() >= 64
            && rest[..64].bytes().all(|b| b.is_ascii_hexdigit())
            && (rest.len() == 64 || rest.as_bytes()[64] == b'.')
    })
}

fn oci_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}]}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Request headers a client's request carries upstream.
const FORWARDED_REQUEST: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::ACCEPT,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::RANGE,
];

/// Response headers that are about one hop only.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "proxy-connection" | "te"
    )
}

impl Proxy {
    /// A proxy in front of `config.upstream`, deciding with `decider` (whose registry client
    /// must reach the same upstream).
    pub fn new(config: Config, decider: Decider) -> Result<Self, ProxyError> {
        let base = config.upstream.trim_end_matches('/').to_owned();
        let host = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| ProxyError::Upstream(config.upstream.clone()))?
            .to_owned();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("hallmark-proxy/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(config.upstream_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true);
        if let Some(pem) = &config.upstream_ca {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ProxyError::Client(e.to_string()))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| ProxyError::Client(hallmark_core::error::chain(&e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base,
                host,
                http,
                decider,
                counters: Counters::default(),
                recent: std::sync::Mutex::new(std::collections::VecDeque::new()),
            }),
        })
    }

    /// The decider.
    pub fn decider(&self) -> &Decider {
        &self.inner.decider
    }

    /// The proxy's routes: everything under `/v2/`, and the page under `/ui/`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v2", axum::routing::any(handle))
            .route("/v2/", axum::routing::any(handle))
            .route("/v2/{*rest}", axum::routing::any(handle))
            .with_state(self.clone())
            .merge(self.ui_router())
    }

    /// The page of signed states and its JSON API alone (`/ui/...`), for `hallmark ui`.
    pub fn ui_router(&self) -> Router {
        ui::router(self.clone())
    }

    /// The latest decisions of pulls and pushes, newest first.
    pub fn recent(&self) -> Vec<serde_json::Value> {
        let r = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.iter().rev().cloned().collect()
    }

    /// The proxy's metrics in the Prometheus text format.
    pub fn metrics(&self) -> String {
        use std::fmt::Write as _;
        let c = &self.inner.counters;
        let d = self.inner.decider.counters();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let registry = self.inner.decider.registry_stats();
        let mut out = String::new();
        for (name, help, v) in [
            (
                "hallmark_proxy_manifests_served_total",
                "Manifests served at a verified digest.",
                get(&c.manifests_served),
            ),
            (
                "hallmark_proxy_manifests_denied_total",
                "Manifest requests denied by the policy (403).",
                get(&c.manifests_denied),
            ),
            (
                "hallmark_proxy_pushes_refused_total",
                "Tag pushes refused (--push-mode refuse).",
                get(&c.pushes_refused),
            ),
            (
                "hallmark_proxy_forwarded_total",
                "Requests passed through to the upstream.",
                get(&c.forwarded),
            ),
            (
                "hallmark_proxy_upstream_errors_total",
                "Requests the upstream did not answer (502).",
                get(&c.upstream_errors),
            ),
            (
                "hallmark_proxy_bad_requests_total",
                "Requests refused as malformed (4xx).",
                get(&c.bad_requests),
            ),
            (
                "hallmark_proxy_verdict_cache_hits_total",
                "Decisions answered from the verdict cache.",
                get(&d.verdict_hits),
            ),
            (
                "hallmark_proxy_verifications_total",
                "Verifications started.",
                get(&d.verifications),
            ),
            (
                "hallmark_proxy_registry_requests_total",
                "Requests the decisions sent to the upstream.",
                registry.requests,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        out
    }

    fn bad(&self, status: StatusCode, code: &str, message: &str) -> Response {
        self.inner
            .counters
            .bad_requests
            .fetch_add(1, Ordering::Relaxed);
        oci_error(status, code, message)
    }

    fn upstream_down(&self, e: reqwest::Error) -> Response {
        self.inner
            .counters
            .upstream_errors
            .fetch_add(1, Ordering::Relaxed);
        oci_error(
            StatusCode::BAD_GATEWAY,
            "UNAVAILABLE",
            &format!(
                "the upstream registry {} did not answer: {}",
                self.inner.base,
                hallmark_core::error::chain(&e.without_url())
            ),
        )
    }

    /// Send `method path_and_query` upstream with the client's forwarded headers and `body`.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: reqwest::Body,
    ) -> Result<reqwest::Response, Response> {
        let url = format!("{}{path_and_query}", self.inner.base);
        let mut req = self.inner.http.request(method, url);
        for name in &FORWARDED_REQUEST {
            for value in headers.get_all(name) {
                req = req.header(name.clone(), value.clone());
            }
        }
        req.body(body)
            .send()
            .await
            .map_err(|e| self.upstream_down(e))
    }

    /// The upstream's answer as the client's: status, headers (an absolute `Location` into
    /// the upstream made relative), the body streamed.
    fn relay(&self, resp: reqwest::Response) -> Response {
        let status = resp.status();
        let mut out = Response::builder().status(status.as_u16());
        for (name, value) in resp.headers() {
            if hop_by_hop(name) {
                continue;
            }
            if name == header::LOCATION
                && let Ok(v) = value.to_str()
                && let Some(rest) = v.strip_prefix(&self.inner.base)
                && let Ok(relative) = HeaderValue::from_str(rest)
            {
                out = out.header(name, relative);
                continue;
            }
            out = out.header(name, value);
        }
        let body = Body::from_stream(resp.bytes_stream().map_err(std::io::Error::other));
        out.body(body)
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
    }

    async fn forward(&self, req: Request) -> Response {
        self.inner
            .counters
            .forwarded
            .fetch_add(1, Ordering::Relaxed);
        let (parts, body) = req.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/v2/", |p| p.as_str())
            .to_owned();
        let body = reqwest::Body::wrap_stream(body.into_data_stream());
        match self
            .send(parts.method, &path_and_query, &parts.headers, body)
            .await
        {
            Ok(resp) => self.relay(resp),
            Err(r) => r,
        }
    }

    fn log(
        &self,
        image: &str,
        decision: &Result<Arc<Decision>, String>,
        cache_hit: bool,
        what: &str,
    ) {
        let log = &self.inner.config.decision_log;
        let now = hallmark_verify::decision_log::now();
        let (digest, rule, result, reason) = match decision {
            Ok(d) => (
                Some(d.digest.clone()),
                d.rule.clone(),
                if d.allowed() { "allow" } else { "deny" },
                (!d.allowed()).then(|| d.denial()),
            ),
            Err(e) => (None, None, "error", Some(e.clone())),
        };
        let line = json!({
            "time": now, "request": what, "image": image, "digest": digest, "rule": rule,
            "result": result, "reason": reason, "cacheHit": cache_hit,
        });
        log.write(&line);
        let mut recent = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() >= RECENT {
            recent.pop_front();
        }
        recent.push_back(line);
    }

    /// A manifest pull: the client's own request goes upstream once (its credentials checked
    /// there, a tag resolved there); the digest of what came back is decided, and exactly those
    /// bytes are served when it is allowed.
    async fn pull(&self, req: Request, name: &str, reference: &str) -> Response {
        let head = req.method() == Method::HEAD;
        let path = format!("/v2/{name}/manifests/{reference}");
        let method = if head { Method::HEAD } else { Method::GET };
        let resp = match self
            .send(
                method,
                &path,
                req.headers(),
                reqwest::Body::from(Vec::new()),
            )
            .await
        {
            Ok(r) => r,
            Err(r) => return r,
        };
        if !resp.status().is_success() {
            return self.relay(resp);
        }
        let headers = resp.headers().clone();
        let (digest, bytes) = if head {
            let announced = headers
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| Digest::parse(v).ok());
            match (announced, Digest::parse(reference)) {
                (_, Ok(asked)) => (asked, None),
                (Some(d), Err(_)) => (d, None),
                (None, Err(_)) => {
                    return oci_error(
                        StatusCode::BAD_GATEWAY,
                        "MANIFEST_INVALID",
                        &format!(
                            "the upstream answered HEAD {path} without Docker-Content-Digest; pull by GET or by digest"
                        ),
                    );
                }
            }
        } else {
            let bytes = match read_bounded(resp, MAX_MANIFEST_BYTES).await {
                Ok(b) => b,
                Err(why) => {
                    return oci_error(
                        StatusCode::BAD_GATEWAY,
                        "MANIFEST_INVALID",
                        &format!("the upstream's manifest {name}:{reference}: {why}"),
                    );
                }
            };
            let digest = match Digest::parse(reference) {
                Ok(asked) => asked,
                Err(_) => Digest::sha256_of(&bytes),
            };
            if Digest::compute(digest.algorithm(), &bytes) != digest {
                return oci_error(
                    StatusCode::BAD_GATEWAY,
                    "MANIFEST_INVALID",
                    &format!(
                        "the upstream served bytes for {name}@{digest} that do not hash to it"
                    ),
                );
            }
            (digest, Some(bytes))
        };
        let image = if hallmark_core::is_valid_tag(reference) {
            format!("{}/{name}:{reference}@{digest}", self.inner.host)
        } else {
            format!("{}/{name}@{digest}", self.inner.host)
        };
        let Ok(parsed) = RegistryRef::parse(&image) else {
            return self.bad(
                StatusCode::BAD_REQUEST,
                "NAME_INVALID",
                &format!("expected an image reference, found {image:?}"),
            );
        };
        let decided = self.inner.decider.decide_ref(parsed, None).await;
        self.log(&image, &decided.result, decided.cache_hit, "pull");
        let decision = match decided.result {
            Ok(d) => d,
            Err(why) => {
                self.inner
                    .counters
                    .upstream_errors
                    .fetch_add(1, Ordering::Relaxed);
                return oci_error(
                    StatusCode::BAD_GATEWAY,
                    "UNAVAILABLE",
                    &format!("{image}: no decision: {why}"),
                );
            }
        };
        if !decision.allowed() {
            self.inner
                .counters
                .manifests_denied
                .fetch_add(1, Ordering::Relaxed);
            return oci_error(
                StatusCode::FORBIDDEN,
                "DENIED",
                &format!("{image}: {}", decision.denial()),
            );
        }
        self.inner
            .counters
            .manifests_served
            .fetch_add(1, Ordering::Relaxed);
        let mut out = Response::builder().status(200);
        for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::ETAG] {
            if let Some(v) = headers.get(&name) {
                out = out.header(name, v);
            }
        }
        out = out.header("docker-content-digest", digest.to_string());
        let body = bytes.map_or_else(Body::empty, Body::from);
        out.body(body)
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
    }

    /// A manifest pushed by tag: with `Refuse`, forwarded only when its digest already
    /// satisfies the policy.
    async fn push_tag(&self, req: Request, name: &str, tag: &str) -> Response {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_MANIFEST_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return self.bad(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "SIZE_INVALID",
                    &format!("expected a manifest of at most {MAX_MANIFEST_BYTES} bytes"),
                );
            }
        };
        let digest = Digest::sha256_of(&bytes);
        let image = format!("{}/{name}:{tag}@{digest}", self.inner.host);
        if let Ok(r) = RegistryRef::parse(&format!("{}/{name}:{tag}", self.inner.host)) {
            self.inner.decider.forget_tag(&r);
        }
        if self.inner.config.push_mode == PushMode::Refuse {
            let Ok(parsed) = RegistryRef::parse(&image) else {
                return self.bad(StatusCode::BAD_REQUEST, "TAG_INVALID", "expected a tag");
            };
            let decided = self.inner.decider.decide_ref(parsed, None).await;
            self.log(&image, &decided.result, decided.cache_hit, "push");
            let why = match &decided.result {
                Ok(d) if d.allowed() => None,
                Ok(d) => Some(d.denial()),
                Err(e) => Some(format!(
                    "no decision: {e} (push the manifest by digest and sign it before the tag)"
                )),
            };
            if let Some(why) = why {
                self.inner
                    .counters
                    .pushes_refused
                    .fetch_add(1, Ordering::Relaxed);
                return oci_error(
                    StatusCode::FORBIDDEN,
                    "DENIED",
                    &format!("push of {image} refused: {why}"),
                );
            }
        }
        self.inner
            .counters
            .forwarded
            .fetch_add(1, Ordering::Relaxed);
        let path = parts
            .uri
            .path_and_query()
            .map_or("", |p| p.as_str())
            .to_owned();
        match self
            .send(
                parts.method,
                &path,
                &parts.headers,
                reqwest::Body::from(bytes),
            )
            .await
        {
            Ok(resp) => self.relay(resp),
            Err(r) => r,
        }
    }
}

async fn read_bounded(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut resp = resp;
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > limit {
            return Err(format!("expected at most {limit} bytes, found more"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn handle(State(proxy): State<Proxy>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(route) = route(&path) else {
        return proxy.bad(
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "expected an OCI distribution API path under /v2/",
        );
    };
    let name = match &route {
        Route::Base => return proxy.forward(req).await,
        Route::Manifest { name, .. } | Route::Other { name } => *name,
    };
    if !hallmark_core::is_valid_name(name) || name.contains("..") {
        return proxy.bad(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            &format!("expected a repository name, found {name:?}"),
        );
    }
    let Route::Manifest { reference, .. } = route else {
        return proxy.forward(req).await;
    };
    let method = req.method().clone();
    let tagged = hallmark_core::is_valid_tag(reference);
    let by_digest = Digest::parse(reference).is_ok();
    if !tagged && !by_digest {
        return proxy.bad(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            &format!("expected a tag or a digest, found {reference:?}"),
        );
    }
    if is_artifact_tag(reference) {
        // Signatures, attestations and referrer fallbacks: always readable and writable.
        return proxy.forward(req).await;
    }
    match method {
        Method::GET | Method::HEAD => proxy.pull(req, name, reference).await,
        Method::PUT if tagged => proxy.push_tag(req, name, reference).await,
        _ => proxy.forward(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_routed_by_their_last_marker() {
        assert_eq!(route("/v2/"), Some(Route::Base));
        assert_eq!(
            route("/v2/team/app/manifests/1.0"),
            Some(Route::Manifest {
                name: "team/app",
                reference: "1.0"
            })
        );
        assert_eq!(
            route("/v2/a/manifests/b/manifests/latest"),
            Some(Route::Manifest {
                name: "a/manifests/b",
                reference: "latest"
            })
        );
        assert_eq!(
            route("/v2/team/app/blobs/uploads/"),
            Some(Route::Other { name: "team/app" })
        );
        assert_eq!(route("/v3/x"), None);
        assert!(is_artifact_tag(&format!("sha256-{}.sig", "a".repeat(64))));
        assert!(is_artifact_tag(&format!("sha256-{}", "a".repeat(64))));
        assert!(!is_artifact_tag("sha256-abc.sig"));
        assert!(hallmark_core::is_valid_tag("v1.0_rc-2"));
        assert!(!hallmark_core::is_valid_tag("../x"));
        assert!(!hallmark_core::is_valid_tag(".hidden"));
    }
}
