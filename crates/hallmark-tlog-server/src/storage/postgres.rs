//! PostgreSQL storage (`--database postgres://...`): several server processes may share one
//! database. One of them is the sequencer at a time: it holds a session advisory lock
//! (`pg_try_advisory_lock`) on a dedicated connection, which PostgreSQL releases when that
//! connection ends (also when the process is killed). The others write requests to the
//! `queue` table and wait for the sequencer to record their outcome; they retry for the lock
//! every few hundred milliseconds. Whatever happens to the lock, a batch commits only if the
//! stored tree is still the size the sequencer built on (checked in the transaction, and
//! enforced by the primary keys), so two sequencers can never both append.

use super::{
    Batch, QueueOutcome, QueuedRequest, Result, Storage, StoredCheckpoint, StoredEntry, hash_from,
    order_hashes, to_i64, to_u64,
};
use crate::error::StorageError;
use hallmark_tlog::Hash;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions as _, Connection as _, Row as _, SqlSafeStr as _};
use std::str::FromStr as _;
use std::time::Duration;
use tokio::sync::Mutex;

/// The advisory lock key of the sequencer lease ("hallmark" in ASCII).
pub const SEQUENCER_LOCK_KEY: i64 = 0x6861_6c6c_6d61_726b;

/// PostgreSQL storage.
#[derive(Debug)]
pub struct PgStorage {
    pool: PgPool,
    options: PgConnectOptions,
    lease: Mutex<Option<PgConnection>>,
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../../migrations/postgres/0001_init.sql").into_sql_str(),
        false,
    )])
}

impl PgStorage {
    /// Connect to `url` and apply the migrations (sqlx takes its own advisory lock while
    /// migrating, so concurrent starts are safe).
    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        migrator().run(&pool).await?;
        Ok(Self {
            pool,
            options,
            lease: Mutex::new(None),
        })
    }

    /// Close the pool and the lease connection.
    pub async fn close(&self) {
        self.resign().await;
        self.pool.close().await;
    }
}

fn entry_from_row(row: &PgRow) -> Result<StoredEntry> {
    Ok(StoredEntry {
        index: to_u64(row.try_get(0)?, "entry index")?,
        leaf_hash: hash_from(&row.try_get::<Vec<u8>, _>(1)?, "leaf hash")?,
        body: row.try_get(2)?,
        integrated_time: row.try_get(3)?,
        set: row.try_get(4)?,
    })
}

fn conflict_or(e: sqlx::Error) -> StorageError {
    match e.as_database_error() {
        Some(d) if d.is_unique_violation() => StorageError::Conflict(d.message().to_owned()),
        _ => StorageError::Database(e),
    }
}

impl Storage for PgStorage {
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        self.meta(key)
            .await?
            .ok_or_else(|| StorageError::corrupt(format!("meta {key} vanished")))
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        let row =
            sqlx::query("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(StoredCheckpoint {
                size: to_u64(r.try_get(0)?, "checkpoint size")?,
                root: hash_from(&r.try_get::<Vec<u8>, _>(1)?, "checkpoint root")?,
                note: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn init_checkpoint(&self, empty: &StoredCheckpoint) -> Result<()> {
        sqlx::query(
            "INSERT INTO checkpoints (size, root, note, created) \
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM checkpoints) \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(to_i64(empty.size))
        .bind(empty.root.as_bytes().as_slice())
        .bind(empty.note.as_str())
        .bind(crate::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>> {
        let ids: Vec<i64> = indexes.iter().map(|i| to_i64(*i)).collect();
        let rows = sqlx::query("SELECT idx, hash FROM hashes WHERE idx = ANY($1)")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok((
                    to_u64(r.try_get(0)?, "hash index")?,
                    hash_from(&r.try_get::<Vec<u8>, _>(1)?, "stored hash")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        order_hashes(indexes, rows)
    }

    async fn find_leaf_hashes(&self, leaves: &[Hash]) -> Result<Vec<(Hash, u64)>> {
        let keys: Vec<Vec<u8>> = leaves.iter().map(|h| h.as_bytes().to_vec()).collect();
        let rows = sqlx::query("SELECT leaf_hash, idx FROM entries WHERE leaf_hash = ANY($1)")
            .bind(keys)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    hash_from(&r.try_get::<Vec<u8>, _>(0)?, "leaf hash")?,
                    to_u64(r.try_get(1)?, "entry index")?,
                ))
            })
            .collect()
    }

    async fn entry_by_index(&self, index: u64) -> Result<Option<StoredEntry>> {
        sqlx::query(
            "SELECT idx, leaf_hash, body, integrated_time, set_sig FROM entries WHERE idx = $1",
        )
        .bind(to_i64(index))
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(entry_from_row)
        .transpose()
    }

    async fn entry_by_leaf_hash(&self, leaf: &Hash) -> Result<Option<StoredEntry>> {
        sqlx::query(
            "SELECT idx, leaf_hash, body, integrated_time, set_sig FROM entries \
             WHERE leaf_hash = $1",
        )
        .bind(leaf.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(entry_from_row)
        .transpose()
    }

    async fn entry_bodies(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let rows =
            sqlx::query("SELECT idx, body FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
                .bind(to_i64(start))
                .bind(to_i64(end))
                .fetch_all(&self.pool)
                .await?;
        if rows.len() as u64 != end.saturating_sub(start) {
            return Err(StorageError::corrupt(format!(
                "entries {start}..{end}: found {} rows",
                rows.len()
            )));
        }
        rows.iter().map(|r| Ok(r.try_get(1)?)).collect()
    }

    async fn commit(&self, batch: &Batch) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Serialize committers on the checkpoints table, then check the tree did not grow.
        sqlx::query("LOCK TABLE checkpoints IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let latest: Option<i64> = sqlx::query("SELECT MAX(size) FROM checkpoints")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if latest != Some(to_i64(batch.old_size)) {
            return Err(StorageError::Conflict(format!(
                "expected the stored tree size to be {}, found {latest:?}",
                batch.old_size
            )));
        }
        if !batch.entries.is_empty() {
            let e = &batch.entries;
            sqlx::query(
                "INSERT INTO entries (idx, leaf_hash, body, integrated_time, set_sig) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bytea[])",
            )
            .bind(e.iter().map(|e| to_i64(e.index)).collect::<Vec<i64>>())
            .bind(e.iter().map(|e| e.leaf_hash.as_bytes().to_vec()).collect::<Vec<Vec<u8>>>())
            .bind(e.iter().map(|e| e.body.clone()).collect::<Vec<Vec<u8>>>())
            .bind(e.iter().map(|e| e.integrated_time).collect::<Vec<i64>>())
            .bind(e.iter().map(|e| e.set.clone()).collect::<Vec<Vec<u8>>>())
            .execute(&mut *tx)
            .await
            .map_err(conflict_or)?;
        }
        if !batch.hashes.is_empty() {
            sqlx::query(
                "INSERT INTO hashes (idx, hash) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])",
            )
            .bind(
                (0..batch.hashes.len() as u64)
                    .map(|i| to_i64(batch.first_hash_index + i))
                    .collect::<Vec<i64>>(),
            )
            .bind(
                batch
                    .hashes
                    .iter()
                    .map(|h| h.as_bytes().to_vec())
                    .collect::<Vec<Vec<u8>>>(),
            )
            .execute(&mut *tx)
            .await
            .map_err(conflict_or)?;
        }
        let c = &batch.checkpoint;
        if c.size != batch.old_size {
            sqlx::query(
                "INSERT INTO checkpoints (size, root, note, created) VALUES ($1, $2, $3, $4)",
            )
            .bind(to_i64(c.size))
            .bind(c.root.as_bytes().as_slice())
            .bind(c.note.as_str())
            .bind(crate::now_unix())
            .execute(&mut *tx)
            .await
            .map_err(conflict_or)?;
        }
        if !batch.queue_outcomes.is_empty() {
            let q = &batch.queue_outcomes;
            sqlx::query(
                "UPDATE queue SET log_index = u.idx, duplicate = u.dup \
                 FROM UNNEST($1::bigint[], $2::bigint[], $3::bool[]) AS u(id, idx, dup) \
                 WHERE queue.id = u.id",
            )
            .bind(q.iter().map(|(id, _)| *id).collect::<Vec<i64>>())
            .bind(q.iter().map(|(_, o)| to_i64(o.index)).collect::<Vec<i64>>())
            .bind(q.iter().map(|(_, o)| o.duplicate).collect::<Vec<bool>>())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn try_lead(&self) -> Result<bool> {
        let mut lease = self.lease.lock().await;
        if let Some(conn) = lease.as_mut() {
            if conn.ping().await.is_ok() {
                return Ok(true);
            }
            *lease = None;
        }
        let mut conn = self.options.connect().await?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(SEQUENCER_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?
            .try_get(0)?;
        if got {
            *lease = Some(conn);
        } else {
            let _ = conn.close().await;
        }
        Ok(got)
    }

    async fn still_leading(&self) -> bool {
        let mut lease = self.lease.lock().await;
        match lease.as_mut() {
            Some(conn) => {
                let alive = tokio::time::timeout(Duration::from_secs(5), conn.ping())
                    .await
                    .is_ok_and(|r| r.is_ok());
                if !alive {
                    *lease = None;
                }
                alive
            }
            None => false,
        }
    }

    async fn resign(&self) {
        if let Some(conn) = self.lease.lock().await.take() {
            // Closing the session releases the advisory lock.
            let _ = conn.close().await;
        }
    }

    async fn enqueue(&self, leaf: &Hash, body: &[u8]) -> Result<i64> {
        Ok(
            sqlx::query("INSERT INTO queue (leaf_hash, body) VALUES ($1, $2) RETURNING id")
                .bind(leaf.as_bytes().as_slice())
                .bind(body)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    async fn queued(&self, after: i64, limit: u32) -> Result<Vec<QueuedRequest>> {
        let rows = sqlx::query(
            "SELECT id, leaf_hash, body FROM queue WHERE log_index IS NULL AND id > $1 \
             ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueuedRequest {
                    id: r.try_get(0)?,
                    leaf_hash: hash_from(&r.try_get::<Vec<u8>, _>(1)?, "queued leaf hash")?,
                    body: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn queue_outcome(&self, id: i64) -> Result<Option<QueueOutcome>> {
        let row = sqlx::query("SELECT log_index, duplicate FROM queue WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let index: Option<i64> = row.try_get(0)?;
        let duplicate: Option<bool> = row.try_get(1)?;
        match index {
            Some(i) => Ok(Some(QueueOutcome {
                index: to_u64(i, "queued entry index")?,
                duplicate: duplicate.unwrap_or(false),
            })),
            None => Ok(None),
        }
    }

    async fn dequeue(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM queue WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
