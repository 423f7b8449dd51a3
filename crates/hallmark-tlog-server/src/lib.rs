//! hallmark's transparency log server: a Rekor v1 API subset over an RFC 6962 Merkle tree,
//! signed C2SP checkpoints and C2SP tlog-tiles, stored in SQLite (default) or PostgreSQL.
//!
//! - [`Server::start`] runs a log on a listener until [`Server::shutdown`]; the `hallmark log
//!   serve` command is a thin wrapper.
//! - Entries are `hashedrekord` 0.0.1; the signature over the artifact digest is checked before
//!   anything is queued ([`entry`]).
//! - Appends are batched by one sequencer ([`sequencer`]) and acknowledged only once the batch
//!   (entries, stored hashes, checkpoint) is committed ([`storage`]).
//! - Several processes may share one PostgreSQL database: one sequences (advisory lock), the
//!   others queue requests in the database and wait for their outcome ([`storage::postgres`]).
//!
//! The pure parts (tree, proofs, notes, checkpoints, tiles, Rekor bodies and SETs) are
//! `hallmark-tlog`'s.

pub mod api;
pub mod entry;
pub mod error;
pub mod log;
pub mod logkey;
pub mod sequencer;
pub mod storage;
pub mod witnessing;

pub use error::{ApiError, StorageError};
pub use log::{LogCore, Tuning};
pub use logkey::{LogKey, LogKeyError, LogKeyType};

use crate::sequencer::{Pending, Reply};
use crate::storage::Storage;
use crate::storage::postgres::PgStorage;
use crate::storage::sqlite::SqliteStorage;
use hallmark_tlog::note::is_valid_key_name;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub(crate) use sequencer::now_unix;

/// The lock file a SQLite log holds in its data directory (one server per directory).
pub const LOCK_FILE: &str = "log.lock";

/// How to run a log.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: the log key, and the SQLite database unless `database` is set.
    pub data_dir: PathBuf,
    /// A `postgres://` URL; `None` for SQLite in the data directory.
    pub database: Option<String>,
    /// The checkpoint origin (and note key name). Default: the one stored in the database,
    /// else the listening `host:port` at the first start.
    pub origin: Option<String>,
    /// The type of a newly generated log key.
    pub key_type: LogKeyType,
    /// Sequencer tunables.
    pub tuning: Tuning,
    /// Limit for any one HTTP request.
    pub request_timeout: Duration,
    /// Connection limits: header-read and idle timeouts, most connections at once.
    pub limits: hallmark_serve::Limits,
    /// Witnesses each checkpoint is sent to, and the quorum `/checkpoint` waits for.
    pub witness_policy: Option<hallmark_tlog::witness::WitnessPolicy>,
}

impl Config {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: None,
            origin: None,
            key_type: LogKeyType::default(),
            tuning: Tuning::default(),
            request_timeout: Duration::from_secs(60),
            limits: hallmark_serve::Limits::default(),
            witness_policy: None,
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
    /// The log key failed.
    #[error(transparent)]
    Key(#[from] LogKeyError),
    /// The configuration does not fit the stored log.
    #[error("{0}")]
    Config(String),
    /// I/O failed.
    #[error("{context}")]
    Io {
        /// What was done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The log failed while running.
    #[error("{0}")]
    Api(String),
    /// The data directory is held by another server or cannot be made.
    #[error(transparent)]
    Setup(#[from] hallmark_serve::process::SetupError),
}

impl From<ApiError> for ServerError {
    fn from(e: ApiError) -> Self {
        ServerError::Api(e.message)
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

/// Open the log's state over `storage`: key, origin, tree ID, checked against what the
/// database recorded at its first start.
async fn open_core<S: Storage>(
    storage: S,
    config: &Config,
    default_origin: &str,
) -> Result<(Arc<LogCore<S>>, mpsc::Receiver<Pending>), ServerError> {
    let signing_key = logkey::load_or_create(&config.data_dir, config.key_type)?;
    let origin = match &config.origin {
        Some(o) => {
            check_origin(o)?;
            let stored = storage.meta_init("origin", o).await?;
            if stored != *o {
                return Err(ServerError::Config(format!(
                    "the log's origin is {stored:?} (recorded at its first start), not {o:?}"
                )));
            }
            stored
        }
        None => match storage.meta("origin").await? {
            Some(o) => o,
            None => {
                check_origin(default_origin)?;
                storage.meta_init("origin", default_origin).await?
            }
        },
    };
    let key = LogKey::new(signing_key, &origin)?;
    let stored_id = storage.meta_init("log_id", key.log_id()).await?;
    if stored_id != key.log_id() {
        return Err(ServerError::Config(format!(
            "the database was written with log key {stored_id}, but {} holds key {}",
            config.data_dir.join(logkey::LOG_KEY_FILE).display(),
            key.log_id()
        )));
    }
    let mut random = [0u8; 8];
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| ServerError::Config("no randomness for the tree ID".into()))?;
    let fresh_tree_id = (u64::from_be_bytes(random) >> 1).max(1).to_string();
    let tree_id = storage.meta_init("tree_id", &fresh_tree_id).await?;
    let tree_id: u64 = tree_id
        .parse()
        .map_err(|_| ServerError::Config(format!("stored tree ID {tree_id:?} is not a number")))?;
    let (tx, rx) = mpsc::channel(config.tuning.max_batch.max(64) * 4);
    let empty = storage::StoredCheckpoint {
        size: 0,
        root: hallmark_tlog::EMPTY_ROOT,
        note: String::new(),
    };
    let core = LogCore::new(
        storage,
        key,
        origin,
        tree_id,
        config.tuning.clone(),
        empty,
        tx,
    )
    .with_witnessing(
        config
            .witness_policy
            .clone()
            .map(witnessing::Witnessing::new),
    );
    Ok((Arc::new(core), rx))
}

fn check_origin(origin: &str) -> Result<(), ServerError> {
    if is_valid_key_name(origin) {
        Ok(())
    } else {
        Err(ServerError::Config(format!(
            "invalid origin {origin:?}: expected a non-empty name without spaces or '+'"
        )))
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
        "log server",
    )?))
}

/// A running log server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Server {
    /// Start a log on `listener`; returns once it serves (the sequencer is running, or this
    /// process waits for the lease of another).
    pub async fn start(config: Config, listener: TcpListener) -> Result<Self, ServerError> {
        let addr = listener
            .local_addr()
            .map_err(io("the listener's address"))?;
        let limits = config.limits;
        let service = open(config, addr).await?;
        let app = service.router();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = hallmark_serve::serve(listener, None, app, limits, async move {
                let _ = stop_rx.await;
            })
            .await
            .map_err(io("serving HTTP"));
            service.stop().await;
            served
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

    /// Stop: finish in-flight requests, then the sequencer, then close storage.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Wait until the server stops.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Api(format!("the server task failed: {e}"))),
        }
    }
}

/// Open a log that will be reached at `addr` (its default origin): storage, key and
/// sequencer; returns once the sequencer runs (or waits for the lease of another process), as
/// a [`hallmark_serve::Service`] whose stop finishes the sequencer and closes storage.
pub async fn open(
    config: Config,
    addr: SocketAddr,
) -> Result<hallmark_serve::Service, ServerError> {
    let lock = lock_data_dir(&config)?;
    let default_origin = addr.to_string();
    let (router, stop) = match &config.database {
        None => {
            let storage = SqliteStorage::open(&config.data_dir).await?;
            let closer = storage.clone();
            match open_with(storage, &config, &default_origin).await {
                Ok((router, stop)) => {
                    let stop: Stop = Box::pin(async move {
                        stop.await;
                        closer.close().await;
                    });
                    (router, stop)
                }
                Err(e) => {
                    closer.close().await;
                    return Err(e);
                }
            }
        }
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ServerError::Config(format!(
                    "--database: expected a postgres:// URL, found {:?}",
                    url.split('@').next_back().unwrap_or_default()
                )));
            }
            let storage = PgStorage::open(url).await?;
            open_with(storage, &config, &default_origin).await?
        }
    };
    Ok(
        hallmark_serve::Service::new("log", &["/api/v1/log", "/checkpoint", "/tile/"], router)
            .on_stop(async move {
                let _lock = lock;
                stop.await;
            }),
    )
}

/// What stops an opened log's background work.
type Stop = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

async fn open_with<S: Storage>(
    storage: S,
    config: &Config,
    default_origin: &str,
) -> Result<(axum::Router, Stop), ServerError> {
    let (core, rx) = open_core(storage, config, default_origin).await?;
    let (seq_stop_tx, seq_stop_rx) = watch::channel(false);
    let (seq_ready_tx, seq_ready_rx) = oneshot::channel();
    let sequencer = tokio::spawn(sequencer::run(
        core.clone(),
        rx,
        seq_stop_rx,
        Some(seq_ready_tx),
    ));
    if seq_ready_rx.await.is_err() {
        return Err(ServerError::Api(
            "the sequencer stopped during startup".into(),
        ));
    }
    let app = api::router(core.clone(), config.request_timeout);
    let witnessing = tokio::spawn(witnessing::run(core.clone(), seq_stop_tx.subscribe()));
    let stop = Box::pin(async move {
        let _ = seq_stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(30), sequencer).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), witnessing).await;
        drop(core);
    });
    Ok((app, stop))
}

/// Append pre-built entries (canonical bodies) through the sequencer in batches of
/// `batch_size`, without HTTP and without verifying their signatures: for seeding benchmark
/// logs. Returns the tree size reached.
pub async fn seed(
    config: &Config,
    bodies: impl Iterator<Item = Vec<u8>>,
    batch_size: usize,
) -> Result<u64, ServerError> {
    let _lock = lock_data_dir(config)?;
    match &config.database {
        None => {
            let storage = SqliteStorage::open(&config.data_dir).await?;
            let closer = storage.clone();
            let r = seed_with(storage, config, bodies, batch_size).await;
            closer.close().await;
            r
        }
        Some(url) => seed_with(PgStorage::open(url).await?, config, bodies, batch_size).await,
    }
}

async fn seed_with<S: Storage>(
    storage: S,
    config: &Config,
    bodies: impl Iterator<Item = Vec<u8>>,
    batch_size: usize,
) -> Result<u64, ServerError> {
    let (core, _rx) = open_core(storage, config, "hallmark-seed").await?;
    if !core.storage.try_lead().await? {
        return Err(ServerError::Config(
            "another process is sequencing this log".into(),
        ));
    }
    let (mut frontier, latest) = sequencer::load_state(&core).await?;
    core.set_latest(Arc::new(latest));
    core.set_leading(true);
    let mut batch = Vec::with_capacity(batch_size);
    let mut bodies = bodies.peekable();
    while bodies.peek().is_some() {
        batch.clear();
        for body in bodies.by_ref().take(batch_size.max(1)) {
            batch.push(Pending {
                leaf: hallmark_tlog::leaf_hash(&body),
                body,
                reply: Reply::None,
            });
        }
        sequencer::sequence_batch(&core, &mut frontier, std::mem::take(&mut batch)).await?;
    }
    core.storage.resign().await;
    Ok(frontier.size())
}
