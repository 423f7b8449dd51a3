//! A C2SP tlog-witness (`c2sp.org/tlog-witness`, with `c2sp.org/tlog-cosignature`
//! `cosignature/v1` Ed25519 cosignatures): for each log it follows, it holds the latest
//! checkpoint it cosigned and cosigns a new one only when a consistency proof leads to it from
//! the one it holds. A log that shows two different trees (a fork, a split view) gets at most
//! one of them cosigned.
//!
//! - `POST /add-checkpoint`: the request is decided by [`hallmark_tlog::witness::witness`]
//!   (400, 403, 404, 409 with the held size as `text/x.tlog.size`, 422), the new state is
//!   committed to SQLite (`witness.db`, WAL, `synchronous=FULL`) in a transaction that checks
//!   the held size has not moved, and only then is the cosignature line returned. Requests are
//!   decided one at a time, so two requests can never both move one log forward from the same
//!   size; after a crash the witness continues from what it committed.
//! - The witness key (Ed25519) is made at the first start (`witness-key.pem`, 0600) and its
//!   name stored with it; [`vkey`] prints the verifier key clients and logs configure.
//! - [`open`] gives a [`hallmark_serve::Service`] (`hallmark witness serve`, or mounted beside
//!   other services).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hallmark_core::{KeyAlgorithm, SigningKey};
use hallmark_tlog::note::{EcdsaNoteVerifier, Ed25519NoteVerifier, NoteVerifier};
use hallmark_tlog::witness::{
    AddCheckpoint, CosignatureSigner, Held, MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE, WitnessError,
};
use hallmark_tlog::{Hash, hash::HASH_SIZE};
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

/// The witness's key file in its data directory.
pub const KEY_FILE: &str = "witness-key.pem";
/// The database file in the data directory.
pub const DB_FILE: &str = "witness.db";
/// The lock file a witness holds in its data directory.
pub const LOCK_FILE: &str = "witness.lock";

/// Why a witness could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WitnessServerError {
    /// A configuration value is wrong.
    #[error("{0}")]
    Config(String),
    /// The data directory, its lock or the key file.
    #[error(transparent)]
    Setup(#[from] hallmark_serve::process::SetupError),
    /// The key file.
    #[error("witness key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The database.
    #[error("witness database: {0}")]
    Storage(#[from] sqlx::Error),
}

/// How to run a witness.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory (key, database, lock).
    pub data_dir: PathBuf,
    /// The witness's name (its cosignature key name), used at the first start and stored; a
    /// later start with another name is refused. `None`: the stored one, else `hallmark-witness`.
    pub name: Option<String>,
    /// The logs followed: origin → log verifier keys (C2SP note vkeys, Ed25519 or ECDSA).
    pub logs: Vec<(String, String)>,
}

/// A log verifier from a note vkey (Ed25519 `0x01` or ECDSA `0x02`).
pub fn log_verifier(vkey: &str) -> Result<Box<dyn NoteVerifier + Send + Sync>, String> {
    match Ed25519NoteVerifier::from_vkey(vkey) {
        Ok(v) => Ok(Box::new(v)),
        Err(ed) => EcdsaNoteVerifier::from_vkey(vkey)
            .map(|v| Box::new(v) as Box<dyn NoteVerifier + Send + Sync>)
            .map_err(|ec| format!("expected an Ed25519 or ECDSA note vkey: {ed}; {ec}")),
    }
}

struct Inner {
    logs: BTreeMap<String, Vec<Box<dyn NoteVerifier + Send + Sync>>>,
    signer: CosignatureSigner,
    db: SqlitePool,
    /// Requests are decided and committed one at a time.
    serial: Mutex<()>,
}

/// A running witness's state, shared by its handlers.
#[derive(Clone)]
pub struct Witness {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.inner.signer.name())
            .field("logs", &self.inner.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

async fn database(dir: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(dir.join(DB_FILE))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS held (
             origin TEXT PRIMARY KEY,
             size INTEGER NOT NULL CHECK (size >= 0),
             root BLOB NOT NULL,
             checkpoint TEXT NOT NULL,
             updated INTEGER NOT NULL
         );",
    )
    .execute(&db)
    .await?;
    Ok(db)
}

/// The witness key (made at the first start) and name (stored at the first start).
async fn identity(
    dir: &Path,
    db: &SqlitePool,
    name: Option<&str>,
) -> Result<CosignatureSigner, WitnessServerError> {
    let path = dir.join(KEY_FILE);
    let key_err = |reason: String| WitnessServerError::Key {
        path: path.display().to_string(),
        reason,
    };
    if !path.exists() {
        let key =
            SigningKey::generate(KeyAlgorithm::Ed25519).map_err(|e| key_err(e.to_string()))?;
        hallmark_serve::create_private_file_once(&path, key.to_pkcs8_pem().as_bytes())
            .map_err(|e| key_err(e.to_string()))?;
    }
    let pem = std::fs::read_to_string(&path).map_err(|e| key_err(e.to_string()))?;
    let key = SigningKey::from_pem(&pem, "witness key").map_err(|e| key_err(e.to_string()))?;
    let stored: Option<String> = sqlx::query("SELECT value FROM meta WHERE key = 'name'")
        .fetch_optional(db)
        .await?
        .map(|r| r.get(0));
    let name = match (stored, name) {
        (Some(s), Some(n)) if s != n => {
            return Err(WitnessServerError::Config(format!(
                "--name {n}: this witness is named {s} (its cosignatures carry that name); expected the same name or none"
            )));
        }
        (Some(s), _) => s,
        (None, n) => {
            let n = n.unwrap_or("hallmark-witness").to_owned();
            if !hallmark_tlog::note::is_valid_key_name(&n) {
                return Err(WitnessServerError::Config(format!(
                    "--name {n:?}: expected a name without spaces or '+'"
                )));
            }
            sqlx::query("INSERT INTO meta (key, value) VALUES ('name', ?)")
                .bind(&n)
                .execute(db)
                .await?;
            n
        }
    };
    CosignatureSigner::from_signing_key(&name, &key).map_err(|e| key_err(e.to_string()))
}

/// The verifier key (`<name>+<key ID>+<base64(0x04 || key)>`) of the witness in `dir`.
pub async fn vkey(dir: &Path) -> Result<String, WitnessServerError> {
    if !dir.join(KEY_FILE).exists() {
        return Err(WitnessServerError::Config(format!(
            "expected a witness data directory with {KEY_FILE}, found none in {} (start `hallmark witness serve` once)",
            dir.display()
        )));
    }
    let db = database(dir).await?;
    let signer = identity(dir, &db, None).await;
    db.close().await;
    Ok(signer?.verifier().vkey())
}

impl Witness {
    /// Open the witness of `config`: key, name, database, followed logs.
    pub async fn open(config: &Config) -> Result<Self, WitnessServerError> {
        let mut logs: BTreeMap<String, Vec<Box<dyn NoteVerifier + Send + Sync>>> = BTreeMap::new();
        for (origin, vkey) in &config.logs {
            let v = log_verifier(vkey)
                .map_err(|e| WitnessServerError::Config(format!("--log {origin}: {e}")))?;
            logs.entry(origin.clone()).or_default().push(v);
        }
        if logs.is_empty() {
            return Err(WitnessServerError::Config(
                "expected at least one --log ORIGIN=VKEY to witness, found none".into(),
            ));
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            WitnessServerError::Config(format!("{}: {e}", config.data_dir.display()))
        })?;
        let db = database(&config.data_dir).await?;
        let signer = match identity(&config.data_dir, &db, config.name.as_deref()).await {
            Ok(s) => s,
            Err(e) => {
                db.close().await;
                return Err(e);
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                logs,
                signer,
                db,
                serial: Mutex::new(()),
            }),
        })
    }

    /// The witness's verifier key.
    pub fn vkey(&self) -> String {
        self.inner.signer.verifier().vkey()
    }

    /// What the witness holds for `origin`.
    pub async fn held(&self, origin: &str) -> Result<Option<Held>, sqlx::Error> {
        let row = sqlx::query("SELECT size, root FROM held WHERE origin = ?")
            .bind(origin)
            .fetch_optional(&self.inner.db)
            .await?;
        Ok(row.and_then(|r| {
            let size: i64 = r.get(0);
            let root: Vec<u8> = r.get(1);
            let root: [u8; HASH_SIZE] = root.try_into().ok()?;
            Some(Held {
                size: u64::try_from(size).ok()?,
                root: Hash(root),
            })
        }))
    }

    /// Decide an `add-checkpoint` body: the cosignature line, or the refusal. State is
    /// committed before the line is made.
    pub async fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body).map_err(Refusal::Witness)?;
        let _one_at_a_time = self.inner.serial.lock().await;
        // The held state of the checkpoint's origin, read before the (pure) decision.
        let held = self
            .held(request.origin())
            .await
            .map_err(Refusal::Storage)?;
        let accepted =
            hallmark_tlog::witness::witness(&self.inner.logs, |_| held.clone(), &request)
                .map_err(Refusal::Witness)?;
        let size = i64::try_from(accepted.held.size)
            .map_err(|_| Refusal::Witness(WitnessError::Malformed("size too large".into())))?;
        let mut tx = self.inner.db.begin().await.map_err(Refusal::Storage)?;
        // The size held must still be the one the decision was made on.
        let moved = match &held {
            None => sqlx::query(
                "INSERT INTO held (origin, size, root, checkpoint, updated) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT(origin) DO NOTHING",
            )
            .bind(&accepted.origin)
            .bind(size)
            .bind(accepted.held.root.0.to_vec())
            .bind(&request.checkpoint)
            .bind(i64::try_from(now).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await,
            Some(h) => {
                sqlx::query(
                    "UPDATE held SET size = ?, root = ?, checkpoint = ?, updated = ?
                     WHERE origin = ? AND size = ? AND root = ?",
                )
                .bind(size)
                .bind(accepted.held.root.0.to_vec())
                .bind(&request.checkpoint)
                .bind(i64::try_from(now).unwrap_or(i64::MAX))
                .bind(&accepted.origin)
                .bind(i64::try_from(h.size).unwrap_or(i64::MAX))
                .bind(h.root.0.to_vec())
                .execute(&mut *tx)
                .await
            }
        }
        .map_err(Refusal::Storage)?
        .rows_affected();
        if moved != 1 {
            return Err(Refusal::Storage(sqlx::Error::Protocol(
                "the held checkpoint changed during the request".into(),
            )));
        }
        tx.commit().await.map_err(Refusal::Storage)?;
        tracing::info!(origin = %accepted.origin, size = accepted.held.size, "cosigned");
        self.inner
            .signer
            .cosign(&accepted.text, now)
            .map(|s| s.line())
            .map_err(|e| Refusal::Storage(sqlx::Error::Protocol(e.to_string())))
    }

    /// The routes: `POST /add-checkpoint`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/add-checkpoint", axum::routing::post(add_checkpoint))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self.clone())
    }

    /// Close the database.
    pub async fn close(&self) {
        self.inner.db.close().await;
    }
}

/// Why a request was not cosigned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The request is refused as tlog-witness says.
    #[error(transparent)]
    Witness(WitnessError),
    /// The state could not be read or committed (nothing was cosigned).
    #[error("the witness state could not be read or committed: {0}")]
    Storage(sqlx::Error),
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn add_checkpoint(State(w): State<Witness>, body: Bytes) -> Response {
    match w.add_checkpoint(&body, now_unix()).await {
        Ok(line) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            line,
        )
            .into_response(),
        Err(Refusal::Witness(WitnessError::Conflict { held, .. })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{held}\n"),
        )
            .into_response(),
        Err(Refusal::Witness(e)) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{e}\n"),
        )
            .into_response(),
        Err(e @ Refusal::Storage(_)) => {
            tracing::error!(error = %e, "witness storage");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{e}\n"),
            )
                .into_response()
        }
    }
}

/// Open the witness of `config` as a [`hallmark_serve::Service`] (it takes the data
/// directory's lock; its stop closes the database).
pub async fn open(
    config: &Config,
) -> Result<(hallmark_serve::Service, Witness), WitnessServerError> {
    let lock = hallmark_serve::process::lock_data_dir(&config.data_dir, LOCK_FILE, "witness")?;
    let witness = Witness::open(config).await?;
    let closer = witness.clone();
    let service = hallmark_serve::Service::new("witness", &["/add-checkpoint"], witness.router())
        .on_stop(async move {
            let _lock = lock;
            closer.close().await;
        });
    Ok((service, witness))
}
