//! SQLite storage: `log.db` in the data directory, WAL journal, `synchronous=FULL` (a
//! committed batch survives power loss), one process per database (the server takes a lock
//! file in the data directory).

use super::{
    Batch, QueueOutcome, QueuedRequest, Result, Storage, StoredCheckpoint, StoredEntry, hash_from,
    order_hashes, to_i64, to_u64,
};
use crate::error::StorageError;
use hallmark_tlog::Hash;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row as _, SqlSafeStr as _, Sqlite};
use std::path::Path;
use std::time::Duration;

/// The database file name in the data directory.
pub const DB_FILE: &str = "log.db";

/// Rows per multi-row INSERT (SQLite allows 32766 bound parameters per statement).
const INSERT_CHUNK: usize = 1000;

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    /// Readers (WAL: they never block the writer).
    pool: SqlitePool,
    /// The sequencer's connection: commits never wait for readers.
    writer: SqlitePool,
    /// The sequencer's duplicate checks: the next batch is checked while one commits (WAL:
    /// it sees every committed batch; the sequencer knows the one committing).
    checker: SqlitePool,
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../../migrations/sqlite/0001_init.sql").into_sql_str(),
        false,
    )])
}

impl SqliteStorage {
    /// Open (creating if needed) `dir/log.db` and apply the migrations.
    pub async fn open(dir: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            // Statement journals of the multi-row INSERTs stay in memory.
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        migrator().run(&writer).await?;
        let checker = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer,
            checker,
        })
    }

    /// Close the pool (checkpoints the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
        self.checker.close().await;
        self.writer.close().await;
    }
}

fn entry_from_row(row: &SqliteRow) -> Result<StoredEntry> {
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

impl Storage for SqliteStorage {
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
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
             SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM checkpoints)",
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
        let mut rows = Vec::with_capacity(indexes.len());
        for chunk in indexes.chunks(INSERT_CHUNK) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT idx, hash FROM hashes WHERE idx IN (");
            let mut sep = q.separated(", ");
            for i in chunk {
                sep.push_bind(to_i64(*i));
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                rows.push((
                    to_u64(r.try_get(0)?, "hash index")?,
                    hash_from(&r.try_get::<Vec<u8>, _>(1)?, "stored hash")?,
                ));
            }
        }
        order_hashes(indexes, rows)
    }

    async fn find_leaf_hashes(&self, leaves: &[Hash]) -> Result<Vec<(Hash, u64)>> {
        let mut out = Vec::new();
        for chunk in leaves.chunks(INSERT_CHUNK) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT leaf_hash, idx FROM entries WHERE leaf_hash IN (");
            let mut sep = q.separated(", ");
            for h in chunk {
                sep.push_bind(h.as_bytes().to_vec());
            }
            q.push(")");
            for r in q.build().fetch_all(&self.checker).await? {
                out.push((
                    hash_from(&r.try_get::<Vec<u8>, _>(0)?, "leaf hash")?,
                    to_u64(r.try_get(1)?, "entry index")?,
                ));
            }
        }
        Ok(out)
    }

    async fn entry_by_index(&self, index: u64) -> Result<Option<StoredEntry>> {
        sqlx::query(
            "SELECT idx, leaf_hash, body, integrated_time, set_sig FROM entries WHERE idx = ?",
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
             WHERE leaf_hash = ?",
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
            sqlx::query("SELECT idx, body FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx")
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
        // One script in one transaction: a commit is three trips to SQLite's thread (BEGIN, the
        // script, COMMIT), not one per statement. The script's first statement stores the
        // checkpoint only if the stored tree is still `old_size` (RETURNING tells which; an
        // empty batch reads the size instead); the inserts follow; a moved tree or any failure
        // rolls everything back.
        let c = &batch.checkpoint;
        let grows = c.size != batch.old_size;
        let mut q: QueryBuilder<Sqlite> = if grows {
            let mut q =
                QueryBuilder::new("INSERT INTO checkpoints (size, root, note, created) SELECT ");
            q.push_bind(to_i64(c.size))
                .push(", ")
                .push_bind(c.root.as_bytes().to_vec())
                .push(", ")
                .push_bind(c.note.as_str())
                .push(", ")
                .push_bind(crate::now_unix())
                .push(" WHERE (SELECT MAX(size) FROM checkpoints) = ")
                .push_bind(to_i64(batch.old_size))
                .push(" RETURNING size;");
            q
        } else {
            // Nothing appended (every entry was a duplicate): only the check.
            QueryBuilder::new("SELECT MAX(size) FROM checkpoints;")
        };
        for chunk in batch.entries.chunks(INSERT_CHUNK) {
            q.push(" INSERT INTO entries (idx, leaf_hash, body, integrated_time, set_sig) ");
            q.push_values(chunk, |mut b, e| {
                b.push_bind(to_i64(e.index))
                    .push_bind(e.leaf_hash.as_bytes().to_vec())
                    .push_bind(e.body.as_slice())
                    .push_bind(e.integrated_time)
                    .push_bind(e.set.as_slice());
            });
            q.push(";");
        }
        let indexed: Vec<(i64, &Hash)> = batch
            .hashes
            .iter()
            .enumerate()
            .map(|(i, h)| (to_i64(batch.first_hash_index + i as u64), h))
            .collect();
        for chunk in indexed.chunks(INSERT_CHUNK * 2) {
            q.push(" INSERT INTO hashes (idx, hash) ");
            q.push_values(chunk, |mut b, (i, h)| {
                b.push_bind(*i).push_bind(h.as_bytes().to_vec());
            });
            q.push(";");
        }
        let mut tx = self.writer.begin().await?;
        let rows = q
            .build()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await
            .map_err(conflict_or)?;
        let stored: Option<i64> = rows.first().map(|r| r.try_get(0)).transpose()?;
        let expected = to_i64(if grows { c.size } else { batch.old_size });
        if stored != Some(expected) {
            let found: Option<i64> = sqlx::query("SELECT MAX(size) FROM checkpoints")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            return Err(StorageError::Conflict(format!(
                "expected the stored tree size to be {}, found {found:?}",
                batch.old_size
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn try_lead(&self) -> Result<bool> {
        Ok(true)
    }

    async fn still_leading(&self) -> bool {
        true
    }

    async fn resign(&self) {}

    async fn enqueue(&self, _leaf: &Hash, _body: &[u8]) -> Result<i64> {
        Err(StorageError::corrupt(
            "the SQLite storage has no request queue (one process per database)",
        ))
    }

    async fn queued(&self, _after: i64, _limit: u32) -> Result<Vec<QueuedRequest>> {
        Ok(Vec::new())
    }

    async fn queue_outcome(&self, _id: i64) -> Result<Option<QueueOutcome>> {
        Ok(None)
    }

    async fn dequeue(&self, _id: i64) -> Result<()> {
        Ok(())
    }
}
