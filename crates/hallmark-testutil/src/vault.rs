//! A FIXTURE standing in for HashiCorp Vault's transit secrets engine: no Vault server can be
//! installed where these tests run. It is **not** Vault. It answers the documented transit
//! endpoints hallmark uses, in Vault's documented shapes, and really signs:
//!
//! - `GET /v1/transit/keys/:name`: `{"data": {"type", "latest_version", "keys": {"1":
//!   {"public_key": PEM, "name", "creation_time"}}, "supports_signing": true, ...}}`, 404 with
//!   `{"errors": []}` for an unknown key;
//! - `POST /v1/transit/keys/:name` with `{"type": "ecdsa-p256"}`: creates a key (204);
//! - `POST /v1/transit/sign/:name` with `{"input": base64, "hash_algorithm",
//!   "marshaling_algorithm": "asn1", "key_version"}`: `{"data": {"signature": "vault:v1:BASE64",
//!   "key_version": 1}}`, signed with a P-256 key the fixture holds (aws-lc-rs).
//!
//! Every request must carry `X-Vault-Token` (403 `{"errors": ["permission denied"]}` else).
//! [`VaultFixture::throttle_next`] makes the next N requests answer 429 as Vault's rate-limit
//! quotas do.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{KeyAlgorithm, SigningKey};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

#[derive(Default)]
struct Inner {
    keys: HashMap<String, (String, SigningKey)>,
    throttle: usize,
    sign_requests: usize,
    requests: Vec<String>,
}

type Shared = Arc<(String, Mutex<Inner>)>;

/// The running fixture; stopped (port closed) when dropped or by [`VaultFixture::stop`].
pub struct VaultFixture {
    addr: String,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for VaultFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultFixture")
            .field("addr", &self.addr)
            .finish()
    }
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.1.lock().unwrap_or_else(|p| p.into_inner())
}

fn check(
    state: &Shared,
    headers: &HeaderMap,
    what: String,
) -> Result<(), (StatusCode, Json<Value>)> {
    let mut inner = lock(state);
    inner.requests.push(what);
    if headers.get("x-vault-token").and_then(|v| v.to_str().ok()) != Some(state.0.as_str()) {
        return Err((
            StatusCode::FORBIDDEN,
            Json(json!({"errors": ["permission denied"]})),
        ));
    }
    if inner.throttle > 0 {
        inner.throttle -= 1;
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"errors": ["request path \"transit/sign\": rate limit quota exceeded"]})),
        ));
    }
    Ok(())
}

fn key_json(kind: &str, key: &SigningKey) -> Value {
    json!({"data": {
        "type": kind,
        "name": "key",
        "latest_version": 1,
        "min_available_version": 0,
        "min_decryption_version": 1,
        "min_encryption_version": 0,
        "deletion_allowed": false,
        "derived": false,
        "exportable": false,
        "allow_plaintext_backup": false,
        "supports_encryption": false,
        "supports_decryption": false,
        "supports_derivation": false,
        "supports_signing": true,
        "imported": false,
        "keys": {"1": {
            "creation_time": "2026-11-22T00:00:00.000000000Z",
            "name": "P-256",
            "public_key": key.public_key().to_pem(),
        }},
    }})
}

async fn read_key(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    if let Err(e) = check(&state, &headers, format!("GET keys/{name}")) {
        return e;
    }
    let inner = lock(&state);
    match inner.keys.get(&name) {
        Some((kind, key)) => (StatusCode::OK, Json(key_json(kind, key))),
        None => (StatusCode::NOT_FOUND, Json(json!({"errors": []}))),
    }
}

async fn create_key(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if let Err(e) = check(&state, &headers, format!("POST keys/{name}")) {
        return e;
    }
    let kind = body["type"].as_str().unwrap_or("aes256-gcm96").to_owned();
    if kind != "ecdsa-p256" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": [format!("fixture: only ecdsa-p256 keys, not {kind}")]})),
        );
    }
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)
        .unwrap_or_else(|e| panic!("fixture key generation: {e}"));
    lock(&state).keys.entry(name).or_insert((kind, key));
    (StatusCode::NO_CONTENT, Json(Value::Null))
}

async fn sign(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if let Err(e) = check(&state, &headers, format!("POST sign/{name}")) {
        return e;
    }
    let mut inner = lock(&state);
    inner.sign_requests += 1;
    let Some((_, key)) = inner.keys.get(&name) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["signing key not found"]})),
        );
    };
    let hash = body["hash_algorithm"].as_str().unwrap_or("sha2-256");
    let marshaling = body["marshaling_algorithm"].as_str().unwrap_or("asn1");
    if hash != "sha2-256" || marshaling != "asn1" || body["prehashed"].as_bool() == Some(true) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["fixture: only sha2-256, asn1, not prehashed"]})),
        );
    }
    let Some(input) = body["input"].as_str().and_then(|s| STANDARD.decode(s).ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["unable to decode input as base64"]})),
        );
    };
    let sig = key
        .sign(&input)
        .unwrap_or_else(|e| panic!("fixture signing: {e}"));
    (
        StatusCode::OK,
        Json(
            json!({"data": {"signature": format!("vault:v1:{}", STANDARD.encode(sig)), "key_version": 1}}),
        ),
    )
}

impl VaultFixture {
    /// Start on a free loopback port with root token `token`.
    ///
    /// # Panics
    ///
    /// If it cannot bind or start its runtime.
    pub fn start(token: &str) -> Self {
        let state: Shared = Arc::new((token.to_owned(), Mutex::new(Inner::default())));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("bind the Vault fixture: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("nonblocking: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local addr: {e}"))
            .to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/v1/transit/keys/{name}", get(read_key).post(create_key))
            .route("/v1/transit/sign/{name}", post(sign))
            .with_state(state.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("fixture runtime: {e}"));
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap_or_else(|e| panic!("fixture listener: {e}"));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Self {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `VAULT_ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token requests must carry.
    pub fn token(&self) -> &str {
        &self.state.0
    }

    /// Add an `ecdsa-p256` key named `name`; returns its public key PEM.
    pub fn add_p256_key(&self, name: &str) -> String {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)
            .unwrap_or_else(|e| panic!("fixture key generation: {e}"));
        let pem = key.public_key().to_pem();
        lock(&self.state)
            .keys
            .insert(name.to_owned(), ("ecdsa-p256".to_owned(), key));
        pem
    }

    /// Add a key of a type that cannot sign (`aes256-gcm96`).
    pub fn add_encryption_key(&self, name: &str) {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)
            .unwrap_or_else(|e| panic!("fixture key generation: {e}"));
        lock(&self.state)
            .keys
            .insert(name.to_owned(), ("aes256-gcm96".to_owned(), key));
    }

    /// Answer the next `n` requests with 429.
    pub fn throttle_next(&self, n: usize) {
        lock(&self.state).throttle = n;
    }

    /// How many sign requests were answered (not throttled).
    pub fn sign_requests(&self) -> usize {
        lock(&self.state).sign_requests
    }

    /// Every request seen (`METHOD path`), throttled ones included.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// Stop serving and close the port.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for VaultFixture {
    fn drop(&mut self) {
        self.stop();
    }
}
