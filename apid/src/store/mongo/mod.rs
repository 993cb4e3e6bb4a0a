//! The MongoDB store: Twoine's own database, with its collections and field names.
//!
//! Panel data (`users`, `sites`, `services`, `domains`, `databases`) is read as Twoine's
//! Mongoose models write it; statistics go to `server_stats` / `site_stats` (shaped as
//! CONTRACT §4, `timestamp` a BSON date, `site` an ObjectId), alerts to `alerts`, settings to the
//! one `monitoring_config` document. Twoine's schema expires stats after 24 h, so longer windows
//! come from our own roll-up collections `server_stats_rollups` / `site_stats_rollups`.
//!
//! Works against a standalone mongod 7: no transactions, change streams, client-level bulk
//! writes or update-with-sort. Writes that must survive a crash are journaled (`j: true`).
//! Twoine's indexes are never altered: only our missing ones are created (see [`indexes`]).

mod alerts;
mod convert;
mod indexes;
mod panel;
mod panel_write;
mod retention;
mod series;
mod snapshots;

use mongodb::bson::Document;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{CollectionOptions, WriteConcern};
use mongodb::{Client, Collection, Database};

use crate::store::{StoreError, StoreResult};

/// Collection names, as Twoine's Mongoose models name them (and ours for roll-ups).
pub mod collections {
    /// Twoine's users.
    pub const USERS: &str = "users";
    /// Twoine's sites.
    pub const SITES: &str = "sites";
    /// Twoine's services.
    pub const SERVICES: &str = "services";
    /// Twoine's domains.
    pub const DOMAINS: &str = "domains";
    /// Twoine's databases.
    pub const DATABASES: &str = "databases";
    /// Server samples (24 h TTL declared by Twoine).
    pub const SERVER_STATS: &str = "server_stats";
    /// Site samples (24 h TTL declared by Twoine).
    pub const SITE_STATS: &str = "site_stats";
    /// Alerts.
    pub const ALERTS: &str = "alerts";
    /// The settings document.
    pub const MONITORING_CONFIG: &str = "monitoring_config";
    /// Our 5-minute and 1-hour server roll-ups (unknown to Twoine).
    pub const SERVER_ROLLUPS: &str = "server_stats_rollups";
    /// Our 5-minute and 1-hour site roll-ups (unknown to Twoine).
    pub const SITE_ROLLUPS: &str = "site_stats_rollups";
    /// How far each roll-up resolution has been computed.
    pub const ROLLUP_MARKS: &str = "stats_rollup_marks";
}

/// MongoDB error code of a duplicate key.
const DUPLICATE_KEY: i32 = 11000;

/// The store over one MongoDB database.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
}

impl MongoStore {
    /// Connects to `uri`, uses database `db_name`, and creates our missing indexes.
    pub async fn connect(uri: &str, db_name: &str) -> StoreResult<Self> {
        let client = Client::with_uri_str(uri).await.map_err(err)?;
        Self::open(client.database(db_name)).await
    }

    /// Uses an already connected database and creates our missing indexes.
    pub async fn open(db: Database) -> StoreResult<Self> {
        let store = Self { db };
        indexes::ensure(&store.db).await?;
        Ok(store)
    }

    /// The database this store uses.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// A collection whose writes are journaled.
    fn coll(&self, name: &str) -> Collection<Document> {
        let wc = WriteConcern::builder().journal(true).build();
        self.db
            .collection_with_options(name, CollectionOptions::builder().write_concern(wc).build())
    }
}

/// The server's error code, if any (command or first write error).
pub(crate) fn error_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .and_then(|v| v.first())
            .map(|w| w.code)
            .or_else(|| im.write_concern_error.as_ref().map(|w| w.code)),
        _ => None,
    }
}

/// Maps a driver error: unreachable server → `Unavailable`, duplicate key → `Conflict`.
pub(crate) fn err(e: mongodb::error::Error) -> StoreError {
    if error_code(&e) == Some(DUPLICATE_KEY) {
        return StoreError::Conflict(e.to_string());
    }
    match e.kind.as_ref() {
        ErrorKind::Io(_)
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}
