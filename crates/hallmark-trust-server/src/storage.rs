//! Storage of TUF files, server keys (sealed) and the changefeed: SQLite (WAL, one writer
//! connection, `synchronous=FULL`) in the data directory, or PostgreSQL.
//!
//! Every update (uploaded roles plus the generated snapshot and timestamp) is written in one
//! transaction. A unique `(gun, role, version)` constraint and a "newer than stored" check
//! inside the transaction make racing publishers of the same base version fail with
//! [`StorageError::OldVersion`] (Notary's `VERSION`), as notary-server's SQL storage does.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row as _, SqlSafeStr as _};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// The SQLite database file in the data directory.
pub const DB_FILE: &str = "trust.db";

/// A storage failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A role's version is not newer than the stored one (a racing or stale update).
    #[error("{role}: version {version} is not newer than the stored version")]
    OldVersion {
        /// The role.
        role: String,
        /// The version that was to be written.
        version: u64,
    },
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

type Result<T> = std::result::Result<T, StorageError>;

/// A stored TUF file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// `signed.version`.
    pub version: u64,
    /// Hex SHA-256 of `data`.
    pub sha256: String,
    /// The bytes, verbatim.
    pub data: Vec<u8>,
    /// When it was stored (Unix nanoseconds).
    pub created_at: i64,
}

/// A stored server key (private part sealed).
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// `snapshot` or `timestamp`.
    pub role: String,
    /// The key ID.
    pub key_id: String,
    /// `ecdsa` or `ed25519`.
    pub key_type: String,
    /// The sealed private key.
    pub sealed: Vec<u8>,
}

/// One changefeed record.
#[derive(Debug, Clone)]
pub struct Change {
    /// Record ID.
    pub id: i64,
    /// The GUN.
    pub gun: String,
    /// The timestamp version (0 for deletions).
    pub version: u64,
    /// Hex SHA-256 of the timestamp ("" for deletions).
    pub sha256: String,
    /// `update` or `deletion`.
    pub category: String,
    /// Unix nanoseconds.
    pub created_at: i64,
}

/// A file to write.
#[derive(Debug, Clone)]
pub struct NewFile<'a> {
    /// Role.
    pub role: &'a str,
    /// Version.
    pub version: u64,
    /// Bytes.
    pub data: &'a [u8],
}

/// The database.
#[derive(Debug, Clone)]
pub enum Storage {
    /// SQLite: readers and one writer connection.
    Sqlite {
        /// Readers.
        read: SqlitePool,
        /// The writer.
        write: SqlitePool,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

fn migration(sql: &'static str) -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )])
}

/// Runs the same query code on whichever pool is configured (`$pool` is the reader pool).
macro_rules! with_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Storage::Sqlite { read: $pool, .. } => $body,
            Storage::Postgres($pool) => $body,
        }
    };
}

macro_rules! with_writer {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Storage::Sqlite { write: $pool, .. } => $body,
            Storage::Postgres($pool) => $body,
        }
    };
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    let n = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Storage {
    /// Opens (creating) `dir/trust.db`.
    pub async fn open_sqlite(dir: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        migration(include_str!("../migrations/sqlite/0001_init.sql"))
            .run(&write)
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Storage::Sqlite { read, write })
    }

    /// Connects to PostgreSQL and applies the migrations.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        migration(include_str!("../migrations/postgres/0001_init.sql"))
            .run(&pool)
            .await?;
        Ok(Storage::Postgres(pool))
    }

    /// Closes the pools.
    pub async fn close(&self) {
        match self {
            Storage::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Storage::Postgres(p) => p.close().await,
        }
    }

    /// Whether the database answers.
    pub async fn healthy(&self) -> bool {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// The current (highest-version) file of every role of `gun`.
    pub async fn current(&self, gun: &str) -> Result<BTreeMap<String, StoredFile>> {
        let sql = "SELECT f.role, f.version, f.sha256, f.data, f.created_at FROM tuf_files f \
                   JOIN (SELECT role, MAX(version) AS v FROM tuf_files WHERE gun = $1 GROUP BY role) m \
                   ON f.role = m.role AND f.version = m.v WHERE f.gun = $1";
        let mut out = BTreeMap::new();
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(gun).fetch_all(pool).await?;
            for row in rows {
                let role: String = row.try_get("role")?;
                out.insert(role, StoredFile {
                    version: to_u64(row.try_get("version")?),
                    sha256: row.try_get("sha256")?,
                    data: row.try_get("data")?,
                    created_at: row.try_get("created_at")?,
                });
            }
        });
        Ok(out)
    }

    /// The file of `role` with hex SHA-256 `sha256` (a 64-hex checksum), or, for longer
    /// checksums, the file whose SHA-384/512 matches (checked over the role's versions).
    pub async fn by_checksum(
        &self,
        gun: &str,
        role: &str,
        checksum: &str,
    ) -> Result<Option<StoredFile>> {
        if checksum.len() == 64 {
            let sql = "SELECT version, sha256, data, created_at FROM tuf_files \
                       WHERE gun = $1 AND role = $2 AND sha256 = $3 ORDER BY version DESC LIMIT 1";
            return with_pool!(self, pool => {
                let row = sqlx::query(sql).bind(gun).bind(role).bind(checksum).fetch_optional(pool).await?;
                match row {
                    Some(row) => Ok(Some(StoredFile {
                        version: to_u64(row.try_get("version")?),
                        sha256: row.try_get("sha256")?,
                        data: row.try_get("data")?,
                        created_at: row.try_get("created_at")?,
                    })),
                    None => Ok(None),
                }
            });
        }
        let alg = match checksum.len() {
            96 => &aws_lc_rs::digest::SHA384,
            128 => &aws_lc_rs::digest::SHA512,
            _ => return Ok(None),
        };
        let sql = "SELECT version, sha256, data, created_at FROM tuf_files \
                   WHERE gun = $1 AND role = $2 ORDER BY version DESC";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(gun).bind(role).fetch_all(pool).await?;
            for row in rows {
                let data: Vec<u8> = row.try_get("data")?;
                if hex::encode(aws_lc_rs::digest::digest(alg, &data)) == checksum {
                    return Ok(Some(StoredFile {
                        version: to_u64(row.try_get("version")?),
                        sha256: row.try_get("sha256")?,
                        data,
                        created_at: row.try_get("created_at")?,
                    }));
                }
            }
            Ok(None)
        })
    }

    /// Up to `limit` GUNs that have a timestamp, in name order, after `after` (for the
    /// background re-signing's round robin).
    pub async fn guns_after(&self, after: &str, limit: i64) -> Result<Vec<String>> {
        let sql = "SELECT DISTINCT gun FROM tuf_files WHERE role = 'timestamp' AND gun > $1 \
                   ORDER BY gun LIMIT $2";
        with_pool!(self, pool => {
            let rows = sqlx::query_scalar(sql).bind(after).bind(limit).fetch_all(pool).await?;
            Ok(rows)
        })
    }

    /// The file of `role` at `version`.
    pub async fn by_version(
        &self,
        gun: &str,
        role: &str,
        version: u64,
    ) -> Result<Option<StoredFile>> {
        let sql = "SELECT version, sha256, data, created_at FROM tuf_files \
                   WHERE gun = $1 AND role = $2 AND version = $3";
        with_pool!(self, pool => {
            let row = sqlx::query(sql).bind(gun).bind(role).bind(to_i64(version)).fetch_optional(pool).await?;
            match row {
                Some(row) => Ok(Some(StoredFile {
                    version: to_u64(row.try_get("version")?),
                    sha256: row.try_get("sha256")?,
                    data: row.try_get("data")?,
                    created_at: row.try_get("created_at")?,
                })),
                None => Ok(None),
            }
        })
    }

    /// Writes all `files` of one update in one transaction, plus a changefeed record for the
    /// timestamp. Fails with [`StorageError::OldVersion`] (and writes nothing) if any role
    /// already has this or a newer version.
    pub async fn apply(&self, gun: &str, files: &[NewFile<'_>]) -> Result<i64> {
        let now = now_nanos();
        with_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            for f in files {
                let newer: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(version) FROM tuf_files WHERE gun = $1 AND role = $2",
                )
                .bind(gun)
                .bind(f.role)
                .fetch_one(&mut *tx)
                .await?;
                if newer.is_some_and(|v| v >= to_i64(f.version)) {
                    return Err(StorageError::OldVersion { role: f.role.to_string(), version: f.version });
                }
                let r = sqlx::query(
                    "INSERT INTO tuf_files (gun, role, version, sha256, data, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(gun)
                .bind(f.role)
                .bind(to_i64(f.version))
                .bind(sha256_hex(f.data))
                .bind(f.data)
                .bind(now)
                .execute(&mut *tx)
                .await;
                match r {
                    Ok(_) => {}
                    Err(e) if unique_violation(&e) => {
                        return Err(StorageError::OldVersion { role: f.role.to_string(), version: f.version });
                    }
                    Err(e) => return Err(e.into()),
                }
                if f.role == "timestamp" {
                    sqlx::query(
                        "INSERT INTO changefeed (gun, version, sha256, category, created_at) \
                         VALUES ($1, $2, $3, 'update', $4)",
                    )
                    .bind(gun)
                    .bind(to_i64(f.version))
                    .bind(sha256_hex(f.data))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            match tx.commit().await {
                Ok(()) => Ok(now),
                Err(e) if unique_violation(&e) => Err(StorageError::OldVersion {
                    role: "timestamp".into(),
                    version: 0,
                }),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Deletes every TUF file of `gun` and records a deletion in the changefeed. Server keys
    /// are kept (as notary-server keeps them in its signer).
    pub async fn delete(&self, gun: &str) -> Result<()> {
        let now = now_nanos();
        with_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM tuf_files WHERE gun = $1").bind(gun).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO changefeed (gun, version, sha256, category, created_at) \
                 VALUES ($1, 0, '', 'deletion', $2)",
            )
            .bind(gun)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every server key of `gun`, oldest first.
    pub async fn keys(&self, gun: &str) -> Result<Vec<StoredKey>> {
        with_writer!(self, pool => {
            let rows = sqlx::query(
                "SELECT role, key_id, key_type, sealed FROM server_keys WHERE gun = $1 ORDER BY id",
            )
            .bind(gun)
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|row| {
                    Ok(StoredKey {
                        role: row.try_get("role")?,
                        key_id: row.try_get("key_id")?,
                        key_type: row.try_get("key_type")?,
                        sealed: row.try_get("sealed")?,
                    })
                })
                .collect()
        })
    }

    /// Any one sealed key (to check at startup that the sealing key opens it).
    pub async fn any_key(&self) -> Result<Option<(String, StoredKey)>> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT gun, role, key_id, key_type, sealed FROM server_keys ORDER BY id LIMIT 1")
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Ok(Some((row.try_get("gun")?, StoredKey {
                    role: row.try_get("role")?,
                    key_id: row.try_get("key_id")?,
                    key_type: row.try_get("key_type")?,
                    sealed: row.try_get("sealed")?,
                }))),
                None => Ok(None),
            }
        })
    }

    /// Stores a new server key.
    pub async fn insert_key(&self, gun: &str, key: &StoredKey) -> Result<()> {
        with_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO server_keys (gun, role, key_id, key_type, sealed, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(gun)
            .bind(&key.role)
            .bind(&key.key_id)
            .bind(&key.key_type)
            .bind(&key.sealed)
            .bind(now_nanos())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Changefeed records after (or, reversed, before) `change_id`, at most `records`, oldest
    /// first, of one GUN or all (notary-server's `GetChanges`).
    pub async fn changes(
        &self,
        gun: Option<&str>,
        change_id: i64,
        records: i64,
    ) -> Result<Vec<Change>> {
        let reversed = change_id < 0 || records < 0;
        let limit = records.abs();
        let mut sql = String::from(
            "SELECT id, gun, version, sha256, category, created_at FROM changefeed WHERE 1 = 1",
        );
        let mut n = 0;
        if gun.is_some() {
            n += 1;
            sql.push_str(&format!(" AND gun = ${n}"));
        }
        let id_bound = if reversed { change_id > 0 } else { true };
        if id_bound {
            n += 1;
            sql.push_str(&format!(
                " AND id {} ${n}",
                if reversed { "<" } else { ">" }
            ));
        }
        n += 1;
        sql.push_str(&format!(
            " ORDER BY id {} LIMIT ${n}",
            if reversed { "DESC" } else { "ASC" }
        ));
        let mut out: Vec<Change> = with_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            if let Some(g) = gun {
                q = q.bind(g);
            }
            if id_bound {
                q = q.bind(change_id);
            }
            q = q.bind(limit);
            let rows = q.fetch_all(pool).await?;
            rows.into_iter()
                .map(|row| -> Result<Change> {
                    Ok(Change {
                        id: row.try_get("id")?,
                        gun: row.try_get("gun")?,
                        version: to_u64(row.try_get("version")?),
                        sha256: row.try_get("sha256")?,
                        category: row.try_get("category")?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        });
        if reversed {
            out.reverse();
        }
        Ok(out)
    }
}
