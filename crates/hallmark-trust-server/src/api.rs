//! The HTTP API of notary-server 0.7.0 (`server/server.go` RootHandler):
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/v2/` | `{}` |
//! | POST | `/v2/<gun>/_trust/tuf/` | atomic multipart update (parts `files`, filename = role) |
//! | GET | `/v2/<gun>/_trust/tuf/<role>.json` | current; `Cache-Control: public, max-age=300, s-maxage=300, must-revalidate` |
//! | GET | `/v2/<gun>/_trust/tuf/<role>.<sha256/384/512 hex>.json`, `<version>.<role>.json` | consistent; `max-age=2592000` |
//! | GET, POST | `/v2/<gun>/_trust/tuf/{snapshot,timestamp}.key` | get-or-create, rotate |
//! | DELETE | `/v2/<gun>/_trust/tuf/` | delete the GUN's metadata |
//! | GET | `/v2/<gun>/_trust/changefeed`, `/v2/_trust/changefeed` | `change_id`, `records` |
//! | GET | `/_notary_server/health`, `/metrics` | |
//!
//! Anything else is `404 METADATA_NOT_FOUND`. The current files of each GUN are cached in
//! memory with their response headers (replaced on every update of the GUN; with PostgreSQL,
//! where other processes may write, cached for at most one second).

use crate::auth::{Action, Auth, unauthorized};
use crate::errors::{Code, NotaryError};
use crate::keys::{Sealer, public_key_json};
use crate::storage::{NewFile, Storage, StorageError, StoredFile};
use crate::{Config, multipart};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hallmark_serve::Peer;
use hallmark_tuf::KeyType;
use hallmark_tuf::builder::go_time;
use hallmark_tuf::server::{self, ServerKey, Update};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Largest update request (Notary's largest metadata download: 100 MiB).
pub const MAX_UPDATE_BYTES: usize = 100 << 20;
/// Largest body of any other request.
pub const MAX_OTHER_BYTES: usize = 1 << 20;
/// How many GUNs' current files are kept in memory at most (the cache is emptied past it).
pub const MAX_CACHED_GUNS: usize = 10_000;

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// A current file with its precomputed headers.
#[derive(Debug)]
struct CachedFile {
    version: u64,
    sha256: String,
    data: Bytes,
    last_modified: HeaderValue,
    /// For timestamps: when to re-sign it on read.
    refresh_at: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct RepoCache {
    files: BTreeMap<String, Arc<CachedFile>>,
    loaded: Instant,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Metrics {
    requests: AtomicU64,
    metadata_reads: AtomicU64,
    cache_misses: AtomicU64,
    updates_accepted: AtomicU64,
    updates_rejected: AtomicU64,
    timestamps_signed: AtomicU64,
    keys_created: AtomicU64,
    deletions: AtomicU64,
}

/// New server keys a minute anonymous requests may cause (when writes are not authenticated).
const KEY_CREATION_PER_MINUTE: f64 = 60.0;
/// How many of them may come at once.
const KEY_CREATION_BURST: f64 = 60.0;

/// Shared server state.
#[derive(Debug)]
pub struct State {
    storage: Storage,
    sealer: Sealer,
    key_type: KeyType,
    auth: Auth,
    gun_prefixes: Vec<String>,
    refresh: time::Duration,
    lifetimes: server::Lifetimes,
    cache_ttl: Option<Duration>,
    cache: RwLock<HashMap<String, Arc<RepoCache>>>,
    /// Bumped by every invalidation (under the cache's write lock): a load that started
    /// before an invalidation must not put what it read into the cache.
    cache_epoch: AtomicU64,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// When each GUN's timestamp was last re-signed (or tried) on read: at most once a minute.
    refreshed: Mutex<HashMap<String, Instant>>,
    /// Server keys created on anonymous requests: a token bucket (tokens, last refill).
    key_creations: Mutex<(f64, Instant)>,
    /// Request bodies in memory, in KiB, all requests together.
    body_budget: Arc<tokio::sync::Semaphore>,
    /// Longest a request body may take to arrive.
    body_timeout: Duration,
    metrics: Metrics,
    current_cc: HeaderValue,
    consistent_cc: HeaderValue,
}

impl State {
    /// State over `storage`.
    pub fn new(storage: Storage, sealer: Sealer, config: &Config) -> Self {
        let cache_ttl = matches!(storage, Storage::Postgres(_)).then_some(Duration::from_secs(1));
        let cc =
            |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("no-cache"));
        Self {
            storage,
            sealer,
            key_type: config.key_type,
            auth: config.auth.clone(),
            gun_prefixes: config.gun_prefixes.clone(),
            refresh: config.timestamp_refresh,
            lifetimes: config.lifetimes,
            cache_ttl,
            cache: RwLock::new(HashMap::new()),
            cache_epoch: AtomicU64::new(0),
            locks: Mutex::new(HashMap::new()),
            refreshed: Mutex::new(HashMap::new()),
            key_creations: Mutex::new((KEY_CREATION_BURST, Instant::now())),
            body_budget: Arc::new(tokio::sync::Semaphore::new(
                (config.body_budget / 1024).clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            )),
            body_timeout: config.body_timeout,
            metrics: Metrics::default(),
            current_cc: cc(format!(
                "public, max-age={0}, s-maxage={0}, must-revalidate",
                config.current_max_age
            )),
            consistent_cc: cc(format!(
                "public, max-age={0}, s-maxage={0}",
                config.consistent_max_age
            )),
        }
    }

    /// Whether a server key may be created now. When writes are authenticated, creating a
    /// key needs the same authorization as a write (checked before); when they are not
    /// (loopback-only or `--auth none`), creations are rate-limited so anonymous requests
    /// cannot grow the key table without bound.
    fn anonymous_key_creation_allowed(&self) -> bool {
        if !matches!(self.auth, Auth::LoopbackOnly | Auth::AnonymousAnywhere(_)) {
            return true;
        }
        let mut bucket = self
            .key_creations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = &mut *bucket;
        let now = Instant::now();
        *tokens = (*tokens
            + now.duration_since(*last).as_secs_f64() * KEY_CREATION_PER_MINUTE / 60.0)
            .min(KEY_CREATION_BURST);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn gun_lock(&self, gun: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() > MAX_CACHED_GUNS {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(gun.to_string()).or_default().clone()
    }

    fn invalidate(&self, gun: &str) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        self.cache_epoch.fetch_add(1, Ordering::AcqRel);
        cache.remove(gun);
    }

    async fn repo(&self, gun: &str) -> Result<Arc<RepoCache>, NotaryError> {
        if let Some(r) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(gun)
            && self.cache_ttl.is_none_or(|ttl| r.loaded.elapsed() < ttl)
        {
            return Ok(r.clone());
        }
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.cache_epoch.load(Ordering::Acquire);
        let current = self.storage.current(gun).await.map_err(storage_error)?;
        let files: BTreeMap<String, Arc<CachedFile>> = current
            .into_iter()
            .map(|(role, f)| {
                let refresh_at =
                    (role == "timestamp").then(|| timestamp_expiry(&f.data) - self.refresh);
                (role, Arc::new(cached(f, refresh_at)))
            })
            .collect();
        let repo = Arc::new(RepoCache {
            files,
            loaded: Instant::now(),
        });
        if !repo.files.is_empty() {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            // An update committed (and invalidated) while this was read: what was read may be
            // older than what is stored; serve it this once, never from the cache.
            if self.cache_epoch.load(Ordering::Acquire) == epoch {
                if cache.len() >= MAX_CACHED_GUNS {
                    cache.clear();
                }
                cache.insert(gun.to_string(), repo.clone());
            }
        }
        Ok(repo)
    }

    async fn server_keys(&self, gun: &str) -> Result<Vec<ServerKey>, NotaryError> {
        let stored = self.storage.keys(gun).await.map_err(storage_error)?;
        stored
            .iter()
            .map(|k| {
                Ok(ServerKey {
                    role: k.role.clone(),
                    key: self.sealer.unseal(gun, k).map_err(|e| {
                        NotaryError::new(
                            Code::Unknown,
                            Value::String(hallmark_core::error::chain(&e)),
                        )
                    })?,
                })
            })
            .collect()
    }
}

fn timestamp_expiry(data: &[u8]) -> OffsetDateTime {
    hallmark_tuf::Signed::<hallmark_tuf::Timestamp>::parse(data, "timestamp")
        .map(|t| t.signed.expires.at)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `Last-Modified` as notary-server writes it (Go's `time.RFC1123` of a UTC time: `... UTC`).
pub fn last_modified(nanos: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} UTC",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn cached(f: StoredFile, refresh_at: Option<OffsetDateTime>) -> CachedFile {
    CachedFile {
        version: f.version,
        sha256: f.sha256,
        last_modified: HeaderValue::from_str(&last_modified(f.created_at))
            .unwrap_or(HeaderValue::from_static("")),
        data: Bytes::from(f.data),
        refresh_at,
    }
}

fn storage_error(e: StorageError) -> NotaryError {
    match e {
        // notary-server's detail is its empty `ErrOldVersion` struct.
        StorageError::OldVersion { .. } => NotaryError::raw(Code::Version, "{}".into()),
        _ => NotaryError::bare(Code::Unknown),
    }
}

/// The router: every path goes through [`handle`].
pub fn router(state: Arc<State>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`.
    Base,
    /// `/_notary_server/health`.
    Health,
    /// `/metrics`.
    Metrics,
    /// `/v2/_trust/changefeed`.
    ChangefeedAll,
    /// `/v2/<gun>/_trust/changefeed`.
    Changefeed(String),
    /// `/v2/<gun>/_trust/tuf/`.
    Tuf(String),
    /// `/v2/<gun>/_trust/tuf/<role>.key`.
    Key(String, String),
    /// `/v2/<gun>/_trust/tuf/<role>.json`.
    Current(String, String),
    /// `/v2/<gun>/_trust/tuf/<role>.<hex>.json`.
    Checksum(String, String, String),
    /// `/v2/<gun>/_trust/tuf/<version>.<role>.json`.
    Version(String, String, u64),
    /// Nothing.
    NotFound,
}

/// Whether a role matches notary-server's `tufRole` pattern:
/// `root|targets(?:/[^/\s]+)*|snapshot|timestamp`.
fn route_role(role: &str) -> bool {
    server::valid_role(role)
}

fn is_hex_checksum(s: &str) -> bool {
    matches!(s.len(), 64 | 96 | 128) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses a request path.
pub fn route(path: &str) -> Route {
    match path {
        "/v2/" | "/v2" => return Route::Base,
        "/_notary_server/health" => return Route::Health,
        "/metrics" => return Route::Metrics,
        "/v2/_trust/changefeed" => return Route::ChangefeedAll,
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::NotFound;
    };
    if let Some(gun) = rest.strip_suffix("/_trust/changefeed") {
        return if gun.is_empty() || gun.contains('*') {
            Route::NotFound
        } else {
            Route::Changefeed(gun.to_string())
        };
    }
    let Some((gun, file)) = rest.split_once("/_trust/tuf/") else {
        return Route::NotFound;
    };
    if gun.is_empty() || gun.contains('*') {
        return Route::NotFound;
    }
    let gun = gun.to_string();
    if file.is_empty() {
        return Route::Tuf(gun);
    }
    if let Some(role) = file.strip_suffix(".key") {
        return if role == "snapshot" || role == "timestamp" {
            Route::Key(gun, role.to_string())
        } else {
            Route::NotFound
        };
    }
    let Some(stem) = file.strip_suffix(".json") else {
        return Route::NotFound;
    };
    if let Some((v, role)) = stem.split_once('.')
        && !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && route_role(role)
    {
        return match v.parse() {
            Ok(v) => Route::Version(gun, role.to_string(), v),
            Err(_) => Route::NotFound,
        };
    }
    if let Some((role, sum)) = stem.rsplit_once('.')
        && is_hex_checksum(sum)
        && route_role(role)
    {
        return Route::Checksum(gun, role.to_string(), sum.to_ascii_lowercase());
    }
    if route_role(stem) {
        Route::Current(gun, stem.to_string())
    } else {
        Route::NotFound
    }
}

/// No such route: notary-server's `NotFoundHandler` (no detail).
fn not_found() -> NotaryError {
    NotaryError::bare(Code::MetadataNotFound)
}

/// A route that names metadata which does not exist: detail `{}` (notary-server's empty
/// `ErrNotFound` struct).
fn missing() -> NotaryError {
    NotaryError::raw(Code::MetadataNotFound, "{}".into())
}

async fn handle(
    AxState(state): AxState<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let (body, _held) = match read_body(&state, body).await {
        Ok(read) => read,
        Err(e) => return e.into_response(),
    };
    match dispatch(&state, peer, &method, &uri, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            if matches!(
                e.code,
                Code::InvalidUpdate
                    | Code::Version
                    | Code::MalformedJson
                    | Code::MalformedUpload
                    | Code::NoFilename
                    | Code::InvalidRole
            ) && method == Method::POST
            {
                state
                    .metrics
                    .updates_rejected
                    .fetch_add(1, Ordering::Relaxed);
            }
            e.into_response()
        }
    }
}

/// Read a request body within the server's limits: at most [`MAX_UPDATE_BYTES`] (413), in
/// the body timeout (408), and only while the bodies of all requests together fit the body
/// budget (503 with `Retry-After`, before a byte is read). Returns the body and its share of
/// the budget, held until the request is answered.
async fn read_body(
    state: &State,
    body: axum::body::Body,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), NotaryError> {
    let too_large = || {
        NotaryError::new(
            Code::TooLarge,
            json!(format!("the request body exceeds {MAX_UPDATE_BYTES} bytes")),
        )
    };
    // The length the request declares (none, or Content-Length: 0, is an empty body; only a
    // chunked body has no known length).
    let declared = axum::body::HttpBody::size_hint(&body)
        .exact()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > MAX_UPDATE_BYTES) {
        return Err(too_large());
    }
    if declared == Some(0) {
        return Ok((Bytes::new(), None));
    }
    // Without a length, the budget of the largest body is reserved.
    let kib = declared.unwrap_or(MAX_UPDATE_BYTES).div_ceil(1024).max(1);
    let permit = u32::try_from(kib)
        .ok()
        .and_then(|kib| state.body_budget.clone().try_acquire_many_owned(kib).ok())
        .ok_or_else(|| {
            NotaryError::new(
                Code::Unavailable,
                json!("too many request bodies in memory; try again later"),
            )
        })?;
    match tokio::time::timeout(
        state.body_timeout,
        axum::body::to_bytes(body, MAX_UPDATE_BYTES),
    )
    .await
    {
        Err(_) => Err(NotaryError::new(
            Code::BodyTimeout,
            json!(format!(
                "the request body did not arrive within {} s",
                state.body_timeout.as_secs()
            )),
        )),
        Ok(Err(e)) => {
            // axum reports the limit as http-body-util's LengthLimitError ("length limit
            // exceeded"), and anything else the client did as other errors.
            let limit = hallmark_core::error::chain(&e).contains("length limit exceeded");
            Err(if limit {
                too_large()
            } else {
                NotaryError::bare(Code::MalformedUpload)
            })
        }
        Ok(Ok(bytes)) => Ok((bytes, Some(permit))),
    }
}

async fn dispatch(
    state: &State,
    peer: Peer,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, NotaryError> {
    let route = route(uri.path());
    if !matches!((&route, method), (Route::Tuf(_), &Method::POST)) && body.len() > MAX_OTHER_BYTES {
        return Err(NotaryError::new(
            Code::TooLarge,
            json!(format!("the request body exceeds {MAX_OTHER_BYTES} bytes")),
        ));
    }
    match (route, method.clone()) {
        (Route::Base, Method::GET) => {
            if matches!(state.auth, Auth::Token(_)) {
                authorize(state, peer, headers, "", Action::Ping)?;
            }
            Ok(plain(Bytes::from_static(b"{}")))
        }
        (Route::Health, Method::GET) => {
            if state.storage.healthy().await {
                Ok(plain(Bytes::from_static(b"{}")))
            } else {
                Ok((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{\"storage\":\"unavailable\"}",
                )
                    .into_response())
            }
        }
        (Route::Metrics, Method::GET) => Ok(metrics(state)),
        (Route::ChangefeedAll, Method::GET) => {
            // Every GUN's changes: notary-server asks for `*` (on the empty repository name).
            authorize(state, peer, headers, "", Action::All)?;
            changefeed(state, None, uri).await
        }
        (Route::Changefeed(gun), Method::GET) => {
            check_gun(state, &gun)?;
            changefeed(state, Some(&gun), uri).await
        }
        (Route::Tuf(gun), Method::POST) => {
            check_gun(state, &gun)?;
            authorize(state, peer, headers, &gun, Action::Push)?;
            update(state, &gun, headers, &body).await
        }
        (Route::Tuf(gun), Method::DELETE) => {
            check_gun(state, &gun)?;
            authorize(state, peer, headers, &gun, Action::All)?;
            let lock = state.gun_lock(&gun);
            let _guard = lock.lock().await;
            state.storage.delete(&gun).await.map_err(storage_error)?;
            state.invalidate(&gun);
            state.metrics.deletions.fetch_add(1, Ordering::Relaxed);
            Ok(StatusCode::OK.into_response())
        }
        (Route::Key(gun, role), m @ (Method::GET | Method::POST)) => {
            check_gun(state, &gun)?;
            let rotate = m == Method::POST;
            authorize(
                state,
                peer,
                headers,
                &gun,
                if rotate { Action::All } else { Action::Push },
            )?;
            key(state, &gun, &role, rotate).await
        }
        (Route::Current(gun, role), Method::GET) => {
            check_gun(state, &gun)?;
            get_current(state, &gun, &role).await
        }
        (Route::Checksum(gun, role, sum), Method::GET) => {
            check_gun(state, &gun)?;
            let repo = state.repo(&gun).await?;
            if let Some(f) = repo.files.get(&role).filter(|f| f.sha256 == sum) {
                return Ok(file_response(
                    f.data.clone(),
                    f.last_modified.clone(),
                    state.consistent_cc.clone(),
                    state,
                ));
            }
            let f = state
                .storage
                .by_checksum(&gun, &role, &sum)
                .await
                .map_err(storage_error)?
                .ok_or_else(missing)?;
            let f = cached(f, None);
            Ok(file_response(
                f.data,
                f.last_modified,
                state.consistent_cc.clone(),
                state,
            ))
        }
        (Route::Version(gun, role, v), Method::GET) => {
            check_gun(state, &gun)?;
            let repo = state.repo(&gun).await?;
            if let Some(f) = repo.files.get(&role).filter(|f| f.version == v) {
                return Ok(file_response(
                    f.data.clone(),
                    f.last_modified.clone(),
                    state.consistent_cc.clone(),
                    state,
                ));
            }
            let f = state
                .storage
                .by_version(&gun, &role, v)
                .await
                .map_err(storage_error)?
                .ok_or_else(missing)?;
            let f = cached(f, None);
            Ok(file_response(
                f.data,
                f.last_modified,
                state.consistent_cc.clone(),
                state,
            ))
        }
        _ => Err(not_found()),
    }
}

fn plain(body: Bytes) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, TEXT_PLAIN);
    r
}

fn file_response(
    data: Bytes,
    last_modified: HeaderValue,
    cache_control: HeaderValue,
    state: &State,
) -> Response {
    state.metrics.metadata_reads.fetch_add(1, Ordering::Relaxed);
    let mut r = data.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, TEXT_PLAIN);
    h.insert(header::CACHE_CONTROL, cache_control);
    h.insert(header::LAST_MODIFIED, last_modified);
    r
}

fn check_gun(state: &State, gun: &str) -> Result<(), NotaryError> {
    // A GUN is a repository name (`..`, `/abs`, `a%00b` are not).
    if !hallmark_core::is_valid_name(gun) {
        return Err(NotaryError::new(
            Code::InvalidGun,
            Value::String(gun.to_string()),
        ));
    }
    if !state.gun_prefixes.is_empty()
        && !state
            .gun_prefixes
            .iter()
            .any(|p| gun.starts_with(p.as_str()))
    {
        return Err(NotaryError::new(
            Code::InvalidGun,
            Value::String(gun.to_string()),
        ));
    }
    Ok(())
}

fn authorize(
    state: &State,
    peer: Peer,
    headers: &HeaderMap,
    gun: &str,
    action: Action,
) -> Result<(), NotaryError> {
    match &state.auth {
        Auth::LoopbackOnly | Auth::AnonymousAnywhere(_) => Ok(()),
        Auth::Mtls { .. } => {
            if peer.client_cert {
                Ok(())
            } else {
                Err(unauthorized(
                    None,
                    gun,
                    action,
                    "a client certificate is required for writes",
                ))
            }
        }
        Auth::Token(token) => {
            let challenge = Some(token.challenge(gun, action));
            let Some(value) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(unauthorized(
                    challenge,
                    gun,
                    action,
                    "a bearer token is required for writes",
                ));
            };
            let Some(jwt) = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
            else {
                return Err(unauthorized(
                    challenge,
                    gun,
                    action,
                    "expected a Bearer token",
                ));
            };
            let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
            token
                .check(jwt.trim(), gun, action, now)
                .map_err(|reason| unauthorized(challenge, gun, action, &reason))
        }
    }
}

async fn get_current(state: &State, gun: &str, role: &str) -> Result<Response, NotaryError> {
    let repo = state.repo(gun).await?;
    let f = repo.files.get(role).ok_or_else(missing)?;
    if let Some(at) = f.refresh_at
        && OffsetDateTime::now_utc() >= at
        && refresh_due(state, gun)
    {
        refresh_timestamp(state, gun).await?;
        let repo = state.repo(gun).await?;
        let f = repo.files.get(role).ok_or_else(missing)?;
        return Ok(file_response(
            f.data.clone(),
            f.last_modified.clone(),
            state.current_cc.clone(),
            state,
        ));
    }
    Ok(file_response(
        f.data.clone(),
        f.last_modified.clone(),
        state.current_cc.clone(),
        state,
    ))
}

/// Whether a re-signing of `gun`'s timestamp may be tried now (not within the last minute, so
/// a GUN whose timestamp cannot be re-signed does not cost a database round trip per read).
fn refresh_due(state: &State, gun: &str) -> bool {
    let mut map = state.refreshed.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if map
        .get(gun)
        .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60))
    {
        return false;
    }
    if map.len() > MAX_CACHED_GUNS {
        map.clear();
    }
    map.insert(gun.to_string(), now);
    true
}

/// Re-signs the GUN's timestamp if it is close to expiry (under the GUN's update lock).
async fn refresh_timestamp(state: &State, gun: &str) -> Result<(), NotaryError> {
    let lock = state.gun_lock(gun);
    let _guard = lock.lock().await;
    let current = state.storage.current(gun).await.map_err(storage_error)?;
    let (Some(root), Some(ts), Some(snapshot)) = (
        current.get("root"),
        current.get("timestamp"),
        current.get("snapshot"),
    ) else {
        return Ok(());
    };
    let keys = state.server_keys(gun).await?;
    let now = OffsetDateTime::now_utc();
    if let Some(u) = server::refresh_timestamp(
        &root.data,
        &ts.data,
        &snapshot.data,
        &keys,
        now,
        state.refresh,
        state.lifetimes.timestamp,
    ) {
        match state
            .storage
            .apply(
                gun,
                &[NewFile {
                    role: "timestamp",
                    version: u.version,
                    data: &u.data,
                }],
            )
            .await
        {
            Ok(_) | Err(StorageError::OldVersion { .. }) => {}
            Err(e) => return Err(storage_error(e)),
        }
        state
            .metrics
            .timestamps_signed
            .fetch_add(1, Ordering::Relaxed);
    }
    state.invalidate(gun);
    Ok(())
}

/// Starts the background re-signing: every `interval` (first tick after one interval), the
/// next `batch` GUNs in name order (wrapping around) are looked at with [`resign_gun`]. Stops
/// when `stop` turns true (checked between GUNs, so a re-signing is never cut short).
pub fn spawn_resigner(
    state: Arc<State>,
    interval: Duration,
    batch: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cursor = String::new();
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => return,
            }
            let guns = match state.storage.guns_after(&cursor, limit).await {
                Ok(g) => g,
                Err(_) => continue,
            };
            match guns.last() {
                Some(last) if guns.len() >= batch => cursor = last.clone(),
                _ => cursor.clear(),
            }
            for gun in guns {
                if *stop.borrow() {
                    return;
                }
                // A failure (database, unsealing) is retried on the next round.
                let _ = resign_gun(&state, &gun).await;
            }
        }
    })
}

/// Re-signs `gun`'s timestamp, and its snapshot when the server holds the snapshot key, if
/// either is within its re-signing threshold of expiry ([`server::resign`]): one
/// transaction under the GUN's update lock, with a changefeed record for the timestamp, then
/// the cached files are dropped. A racing update (another process on the same PostgreSQL
/// database) wins: the re-signing then fails on the version check and is skipped. Returns
/// whether anything was stored.
pub async fn resign_gun(state: &State, gun: &str) -> Result<bool, NotaryError> {
    let lock = state.gun_lock(gun);
    let _guard = lock.lock().await;
    let current = state.storage.current(gun).await.map_err(storage_error)?;
    let (Some(root), Some(ts), Some(snapshot)) = (
        current.get("root"),
        current.get("timestamp"),
        current.get("snapshot"),
    ) else {
        return Ok(false);
    };
    let now = OffsetDateTime::now_utc();
    if !server::resign_due(&snapshot.data, &ts.data, now, &state.lifetimes) {
        return Ok(false);
    }
    let keys = state.server_keys(gun).await?;
    let files = server::resign(
        &root.data,
        &snapshot.data,
        &ts.data,
        &keys,
        now,
        &state.lifetimes,
    )?;
    if files.is_empty() {
        return Ok(false);
    }
    let new: Vec<NewFile<'_>> = files
        .iter()
        .map(|u| NewFile {
            role: &u.role,
            version: u.version,
            data: &u.data,
        })
        .collect();
    let result = state.storage.apply(gun, &new).await;
    state.invalidate(gun);
    match result {
        Ok(_) => {
            state
                .metrics
                .timestamps_signed
                .fetch_add(1, Ordering::Relaxed);
            Ok(true)
        }
        Err(StorageError::OldVersion { .. }) => Ok(false),
        Err(e) => Err(storage_error(e)),
    }
}

/// Parses the uploaded parts into updates (Notary's handler order of errors).
pub fn parse_upload(content_type: Option<&str>, body: &[u8]) -> Result<Vec<Update>, NotaryError> {
    let boundary = content_type
        .and_then(multipart::boundary)
        .ok_or_else(|| NotaryError::bare(Code::MalformedUpload))?;
    let parts = multipart::parse(body, &boundary)
        .ok_or_else(|| NotaryError::bare(Code::MalformedUpload))?;
    let mut updates = Vec::with_capacity(parts.len());
    for part in parts {
        let filename = part
            .disposition
            .as_deref()
            .and_then(multipart::filename)
            .ok_or_else(|| NotaryError::bare(Code::NoFilename))?;
        let role = filename.strip_suffix(".json").unwrap_or(&filename);
        if role.is_empty() {
            return Err(NotaryError::bare(Code::NoFilename));
        }
        if !server::valid_role(role) {
            return Err(NotaryError::new(
                Code::InvalidRole,
                Value::String(role.to_string()),
            ));
        }
        let value: Value = serde_json::from_slice(part.body)
            .map_err(|_| NotaryError::bare(Code::MalformedJson))?;
        let signed = value
            .get("signed")
            .ok_or_else(|| NotaryError::bare(Code::MalformedJson))?;
        let version = match signed.get("version") {
            None => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| NotaryError::bare(Code::MalformedJson))?,
        };
        updates.push(Update {
            role: role.to_string(),
            version,
            data: part.body.to_vec(),
        });
    }
    if updates.is_empty() {
        return Err(NotaryError::bare(Code::MalformedUpload));
    }
    Ok(updates)
}

async fn update(
    state: &State,
    gun: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, NotaryError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let updates = parse_upload(content_type, body)?;
    let lock = state.gun_lock(gun);
    let _guard = lock.lock().await;
    let current: BTreeMap<String, Vec<u8>> = state
        .storage
        .current(gun)
        .await
        .map_err(storage_error)?
        .into_iter()
        .map(|(r, f)| (r, f.data))
        .collect();
    let keys = state.server_keys(gun).await?;
    let apply = server::validate_update_with(
        gun,
        &current,
        updates,
        &keys,
        OffsetDateTime::now_utc(),
        &state.lifetimes,
    )?;
    let files: Vec<NewFile<'_>> = apply
        .iter()
        .map(|u| NewFile {
            role: &u.role,
            version: u.version,
            data: &u.data,
        })
        .collect();
    let result = state.storage.apply(gun, &files).await;
    state.invalidate(gun);
    match result {
        Ok(_) => {}
        Err(e @ StorageError::OldVersion { .. }) => return Err(storage_error(e)),
        Err(_) => return Err(NotaryError::bare(Code::Updating)),
    }
    state
        .metrics
        .updates_accepted
        .fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .timestamps_signed
        .fetch_add(1, Ordering::Relaxed);
    Ok(StatusCode::OK.into_response())
}

async fn key(state: &State, gun: &str, role: &str, rotate: bool) -> Result<Response, NotaryError> {
    let lock = state.gun_lock(gun);
    let _guard = lock.lock().await;
    if !rotate {
        let stored = state.storage.keys(gun).await.map_err(storage_error)?;
        if let Some(k) = stored.iter().rev().find(|k| k.role == role) {
            let key = state.sealer.unseal(gun, k).map_err(|e| {
                NotaryError::new(
                    Code::Unknown,
                    Value::String(hallmark_core::error::chain(&e)),
                )
            })?;
            return Ok(plain(Bytes::from(public_key_json(&key))));
        }
    }
    if !state.anonymous_key_creation_allowed() {
        return Err(NotaryError::new(
            Code::TooManyRequests,
            json!(format!(
                "expected at most {KEY_CREATION_PER_MINUTE} new server keys a minute from anonymous requests; try again later"
            )),
        ));
    }
    let (key, row) = state
        .sealer
        .generate(gun, role, state.key_type)
        .map_err(|e| {
            NotaryError::new(
                Code::Unknown,
                Value::String(hallmark_core::error::chain(&e)),
            )
        })?;
    state
        .storage
        .insert_key(gun, &row)
        .await
        .map_err(storage_error)?;
    state.metrics.keys_created.fetch_add(1, Ordering::Relaxed);
    Ok(plain(Bytes::from(public_key_json(&key))))
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_string())
    })
}

async fn changefeed(state: &State, gun: Option<&str>, uri: &Uri) -> Result<Response, NotaryError> {
    let records_text = query_param(uri, "records").unwrap_or_default();
    // notary-server parses with strconv.ParseInt(records, 10, 32) and quotes Go's error.
    let records: i32 = records_text.parse().map_err(|_| {
        let why = if !records_text.is_empty()
            && records_text
                .trim_start_matches(['-', '+'])
                .bytes()
                .all(|b| b.is_ascii_digit())
            && records_text.len() > 1
        {
            "value out of range"
        } else {
            "invalid syntax"
        };
        NotaryError::new(
            Code::InvalidParameters,
            Value::String(format!(
                "invalid records parameter: strconv.ParseInt: parsing {}: {why}",
                Value::String(records_text.clone())
            )),
        )
    })?;
    let records = if records == 0 {
        100
    } else {
        i64::from(records)
    };
    let change_id = query_param(uri, "change_id").unwrap_or_default();
    let change_id: i64 = if change_id.is_empty() {
        0
    } else {
        change_id
            .parse::<i32>()
            .map(i64::from)
            .map_err(|_| NotaryError::raw(Code::InvalidParameters, "{}".into()))?
    };
    let changes = state
        .storage
        .changes(gun, change_id, records)
        .await
        .map_err(storage_error)?;
    // Go's json.Marshal of notary's changefeedResponse: fields in declaration order.
    let mut body = format!("{{\"count\":{},\"records\":[", changes.len());
    for (i, c) in changes.iter().enumerate() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.created_at))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"ID\":{},\"CreatedAt\":{},\"GUN\":{},\"Version\":{},\"SHA256\":{},\"Category\":{}}}",
            Value::String(c.id.to_string()),
            Value::String(go_time(at)),
            Value::String(c.gun.clone()),
            c.version,
            Value::String(c.sha256.clone()),
            Value::String(c.category.clone()),
        ));
    }
    body.push_str("]}");
    Ok(plain(Bytes::from(body)))
}

fn metrics(state: &State) -> Response {
    let m = &state.metrics;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "hallmark_trust_http_requests_total",
            "HTTP requests received.",
            &m.requests,
        ),
        (
            "hallmark_trust_metadata_reads_total",
            "Metadata files served.",
            &m.metadata_reads,
        ),
        (
            "hallmark_trust_cache_misses_total",
            "Reads of a GUN's current files from the database.",
            &m.cache_misses,
        ),
        (
            "hallmark_trust_updates_accepted_total",
            "Updates stored.",
            &m.updates_accepted,
        ),
        (
            "hallmark_trust_updates_rejected_total",
            "Updates refused.",
            &m.updates_rejected,
        ),
        (
            "hallmark_trust_timestamps_signed_total",
            "Timestamps signed by the server.",
            &m.timestamps_signed,
        ),
        (
            "hallmark_trust_keys_created_total",
            "Server keys generated.",
            &m.keys_created,
        ),
        (
            "hallmark_trust_deletions_total",
            "GUNs deleted.",
            &m.deletions,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let sum = "a".repeat(64);
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(
            route("/v2/docker.io/library/alpine/_trust/tuf/"),
            Route::Tuf("docker.io/library/alpine".into())
        );
        assert_eq!(
            route("/v2/g/_trust/tuf/root.json"),
            Route::Current("g".into(), "root".into())
        );
        assert_eq!(
            route("/v2/g/_trust/tuf/targets/releases.json"),
            Route::Current("g".into(), "targets/releases".into())
        );
        assert_eq!(
            route("/v2/g/_trust/tuf/3.root.json"),
            Route::Version("g".into(), "root".into(), 3)
        );
        assert_eq!(
            route(&format!("/v2/g/_trust/tuf/snapshot.{sum}.json")),
            Route::Checksum("g".into(), "snapshot".into(), sum.clone())
        );
        assert_eq!(
            route("/v2/g/_trust/tuf/timestamp.key"),
            Route::Key("g".into(), "timestamp".into())
        );
        assert_eq!(route("/v2/g/_trust/tuf/targets.key"), Route::NotFound);
        assert_eq!(route("/v2/g/_trust/tuf/nope.json"), Route::NotFound);
        assert_eq!(
            route("/v2/g/_trust/changefeed"),
            Route::Changefeed("g".into())
        );
        assert_eq!(route("/v2/_trust/changefeed"), Route::ChangefeedAll);
        assert_eq!(route("/elsewhere"), Route::NotFound);
    }

    #[test]
    fn last_modified_like_go() {
        // 2026-11-22T06:14:02Z
        assert_eq!(
            last_modified(1_795_328_042_000_000_000),
            "Sun, 22 Nov 2026 06:14:02 UTC"
        );
    }
}
