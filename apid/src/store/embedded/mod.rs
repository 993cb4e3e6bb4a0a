//! The embedded store: one SQLite file (bundled SQLite through rusqlite), default
//! `/var/lib/twoine/apid.db` ([`DEFAULT_PATH`]).
//!
//! Durability: WAL journal with `synchronous=NORMAL`. A transaction is committed once its
//! frames are in the WAL file; a process kill (even `kill -9`) cannot undo that, because the
//! bytes are in the kernel's page cache and the next open replays the WAL. NORMAL only skips the
//! fsync at each commit, which matters for a power loss (the last commits may be lost, the file
//! stays consistent), not for a process crash. Each poll is one transaction, so a crash loses at
//! most the in-flight snapshot.
//!
//! Blocking calls run on tokio's blocking pool (`spawn_blocking`) against one connection behind
//! a mutex: writes are serialized anyway, and the queries are short.

mod alerts;
mod packed;
mod panel;
mod retention;
mod schema;
mod series;
mod snapshots;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{StoreError, StoreResult};

/// Where the file lives by default (the configuration's default too: `config::DEFAULT_DB_PATH`).
pub const DEFAULT_PATH: &str = "/var/lib/twoine/apid.db";

/// The SQLite-backed store. Cheap to clone (shared connection).
#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedStore")
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(sql)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Internal("connection lock poisoned".to_owned()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
    }

    /// `PRAGMA integrity_check`: `Ok(())` when SQLite answers `ok`.
    pub async fn integrity_check(&self) -> StoreResult<()> {
        self.call(|c| {
            let answer: String = c
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(sql)?;
            if answer == "ok" {
                Ok(())
            } else {
                Err(StoreError::Internal(answer))
            }
        })
        .await
    }

    /// Bytes used by each table and index (SQLite's `dbstat`), for the benchmark.
    pub async fn table_bytes(&self) -> StoreResult<Vec<(String, u64)>> {
        self.call(|c| {
            let mut st = c
                .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY name")
                .map_err(sql)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql)?;
            rows.map(|r| {
                r.map(|(n, b)| (n, u64::try_from(b).unwrap_or(0)))
                    .map_err(sql)
            })
            .collect()
        })
        .await
    }
}

/// Maps a SQLite error to the store's error.
pub(crate) fn sql(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Reads an id column.
pub(crate) fn id_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<crate::model::Id> {
    let b: Vec<u8> = row.get(idx)?;
    crate::model::Id::from_slice(&b).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
    })
}
