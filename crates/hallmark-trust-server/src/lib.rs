//! hallmark's trust server: the Notary v1 server API of notary-server 0.7.0 (the
//! `/v2/<gun>/_trust/tuf/` paths Docker Content Trust clients and the `notary` CLI use), with
//! update validation as notary-server's `validateUpdate` does it, server-held timestamp (and
//! optionally snapshot) keys sealed at rest, SQLite (default) or PostgreSQL storage, rustls
//! TLS, and bearer-token or mTLS authentication of writes.
//!
//! - [`storage`]: files, keys, changefeed (sqlx).
//! - [`keys`]: sealing of server keys.
//! - [`api`]: the HTTP routes (axum 0.8), caching of current metadata per GUN.
//! - [`auth`], [`tls`]: who may write; TLS listener.
//!
//! Server-signed metadata is kept fresh by a background task: every
//! `resign_interval` it looks at the next `resign_batch` GUNs (round robin) and, for each
//! whose timestamp is in the last quarter of its 14-day lifetime, or whose server-held
//! snapshot is in the last quarter of its 3-year lifetime, stores a re-signed snapshot and/or
//! timestamp (version + 1) in one transaction with a changefeed record, as an update does.
//! notary-server itself re-signs only when an expired timestamp or snapshot is read; hallmark
//! keeps that on-read path (within `timestamp_refresh` of expiry) as a fallback. A snapshot
//! signed by the client cannot be re-signed: once it expires the server keeps serving it and
//! clients refuse it as expired.
//!
//! The TUF model, canonical JSON, signatures and the pure validation of an atomic update
//! ([`hallmark_tuf::server`]) are `hallmark-tuf`'s.

pub mod api;
pub mod auth;
pub mod errors;
pub mod keys;
pub mod multipart;
pub mod storage;
/// TLS setup (the one in `hallmark-serve`).
pub use hallmark_serve::tls;

pub use auth::{Auth, ExplicitlyUnauthenticated, TokenAuth};
pub use errors::{Code, NotaryError};
pub use hallmark_tuf::KeyType;

use crate::keys::{KeyError, Sealer};
use crate::storage::{Storage, StorageError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The lock file a SQLite server holds in its data directory.
pub const LOCK_FILE: &str = "trust.lock";

/// How to run a trust server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: the SQLite database (unless `database` is set), the key sealing
    /// material.
    pub data_dir: PathBuf,
    /// A `postgres://` URL; `None` for SQLite in the data directory.
    pub database: Option<String>,
    /// The type of newly generated server keys (`ecdsa`, or `ed25519`).
    pub key_type: KeyType,
    /// TLS certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Who may write.
    pub auth: Auth,
    /// GUN prefixes accepted (empty: every GUN), as notary-server's `repositories.gun_prefixes`.
    pub gun_prefixes: Vec<String>,
    /// Re-sign the timestamp when it is served and expires within this margin.
    pub timestamp_refresh: time::Duration,
    /// Passphrase for the key sealing key (else a key file in the data directory).
    pub key_passphrase: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// Connection limits: TLS handshake, header-read and idle timeouts, most connections at
    /// once.
    pub limits: hallmark_serve::Limits,
    /// `max-age` of current metadata (Notary: 300 s).
    pub current_max_age: u32,
    /// `max-age` of consistent (hash- or version-addressed) metadata (Notary: 30 days).
    pub consistent_max_age: u32,
    /// Internal (tests only; no command-line flag): lifetimes of server-signed metadata and
    /// the background re-signing thresholds. Defaults: Notary's 14 days / 3 years, re-signed in
    /// the last quarter of each.
    #[doc(hidden)]
    pub lifetimes: hallmark_tuf::server::Lifetimes,
    /// Internal (tests only): how often the background task looks for metadata to re-sign.
    #[doc(hidden)]
    pub resign_interval: Duration,
    /// Internal (tests only): at most this many GUNs are looked at per background tick.
    #[doc(hidden)]
    pub resign_batch: usize,
    /// Longest a request body may take to arrive (408 after; default 30 s).
    pub body_timeout: Duration,
    /// Request bodies held in memory at once, all requests together; an upload that does not
    /// fit gets 503 with `Retry-After` (default 256 MiB).
    pub body_budget: usize,
}

impl Config {
    /// Defaults for a data directory: SQLite, ecdsa keys, no TLS, anonymous writes on
    /// loopback only.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: None,
            key_type: KeyType::Ecdsa,
            tls: None,
            auth: Auth::LoopbackOnly,
            gun_prefixes: Vec::new(),
            timestamp_refresh: time::Duration::days(1),
            key_passphrase: None,
            limits: hallmark_serve::Limits::default(),
            current_max_age: 300,
            consistent_max_age: 2_592_000,
            lifetimes: hallmark_tuf::server::Lifetimes::default(),
            resign_interval: Duration::from_secs(60),
            resign_batch: 100,
            body_timeout: Duration::from_secs(30),
            body_budget: 256 << 20,
        }
    }
}

/// The server could not start or failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Server keys failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// TLS configuration failed.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The configuration is refused.
    #[error("{0}")]
    Config(String),
    /// The data directory is held by another server or cannot be made.
    #[error(transparent)]
    Setup(#[from] hallmark_serve::process::SetupError),
    /// I/O failed.
    #[error("{context}")]
    Io {
        /// What was done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

/// Checks that the listening address fits the authentication mode: anonymous writes
/// ([`Auth::LoopbackOnly`]) need a loopback address; mTLS needs TLS.
pub fn check_auth(addr: &SocketAddr, config: &Config) -> Result<(), ServerError> {
    match &config.auth {
        Auth::LoopbackOnly if !addr.ip().is_loopback() => Err(ServerError::Config(format!(
            "refusing to listen on {addr} with anonymous writes: expected a loopback address \
             (127.0.0.1, ::1), or --auth token|mtls, or --auth none to accept anonymous writes \
             from the network"
        ))),
        Auth::Mtls { .. } if config.tls.is_none() => Err(ServerError::Config(
            "--auth mtls needs TLS: expected --tls-cert and --tls-key".into(),
        )),
        _ => Ok(()),
    }
}

fn lock_data_dir(config: &Config) -> Result<Option<hallmark_serve::process::DirLock>, ServerError> {
    if config.database.is_some() {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(io(format!("create {}", config.data_dir.display())))?;
        return Ok(None);
    }
    Ok(Some(hallmark_serve::process::lock_data_dir(
        &config.data_dir,
        LOCK_FILE,
        "trust server",
    )?))
}

/// A trust server ready to be served: its routes and background work as a
/// [`hallmark_serve::Service`], and the TLS configuration its authentication needs.
#[derive(Debug)]
pub struct Opened {
    /// The routes (`/v2/<gun>/_trust/...`, `/_notary_server/health`) and what stops it.
    pub service: hallmark_serve::Service,
    /// TLS from `config.tls` (with the client CA under mTLS).
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Open storage, keys and the re-signing task for a server that will listen on `addr`.
pub async fn open(config: Config, addr: SocketAddr) -> Result<Opened, ServerError> {
    check_auth(&addr, &config)?;
    config.lifetimes.check().map_err(ServerError::Config)?;
    if config.resign_interval.is_zero() || config.resign_batch == 0 {
        return Err(ServerError::Config(format!(
            "re-signing: expected a positive interval and batch, found {:?} and {}",
            config.resign_interval, config.resign_batch
        )));
    }
    let lock = lock_data_dir(&config)?;
    let storage = match &config.database {
        None => Storage::open_sqlite(&config.data_dir).await?,
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ServerError::Config(format!(
                    "--database: expected a postgres:// URL, found {:?}",
                    url.split('@').next_back().unwrap_or_default()
                )));
            }
            Storage::open_postgres(url).await?
        }
    };
    let sealer = Sealer::open(
        &config.data_dir,
        config.key_passphrase.as_deref().map(Vec::as_slice),
    )?;
    if let Some((gun, key)) = storage.any_key().await? {
        sealer.unseal(&gun, &key)?;
    }
    let tls = match &config.tls {
        Some((cert, key)) => {
            let client_ca = match &config.auth {
                Auth::Mtls { client_ca } => Some(client_ca.as_slice()),
                _ => None,
            };
            Some(tls::server_config(cert, key, client_ca)?)
        }
        None => None,
    };
    let state = Arc::new(api::State::new(storage.clone(), sealer, &config));
    let (resign_stop, resign_stopped) = tokio::sync::watch::channel(false);
    let resigner = api::spawn_resigner(
        state.clone(),
        config.resign_interval,
        config.resign_batch,
        resign_stopped,
    );
    let service =
        hallmark_serve::Service::new("trust", &["/v2/", "/_notary_server/"], api::router(state))
            .on_stop(async move {
                let _lock = lock;
                // The re-signing task stops between GUNs (one re-signing is one transaction).
                let _ = resign_stop.send(true);
                let _ = tokio::time::timeout(Duration::from_secs(30), resigner).await;
                let _ = tokio::time::timeout(Duration::from_secs(10), storage.close()).await;
            });
    Ok(Opened { service, tls })
}

/// A running trust server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Server {
    /// Starts serving on `listener`; returns once it serves.
    pub async fn start(config: Config, listener: TcpListener) -> Result<Self, ServerError> {
        let addr = listener
            .local_addr()
            .map_err(io("the listener's address"))?;
        let limits = config.limits;
        let Opened { service, tls } = open(config, addr).await?;
        let app = service.router();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            let served = hallmark_serve::serve(listener, tls, app, limits, shutdown).await;
            service.stop().await;
            served.map_err(io("serving HTTP"))
        });
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops: finishes in-flight requests, closes storage.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Config(format!("the server task failed: {e}"))),
        }
    }
}
