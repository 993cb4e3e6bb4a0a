//! Schema and migrations, versioned with `PRAGMA user_version`.

use rusqlite::Connection;

use super::sql;
use crate::store::{StoreError, StoreResult};

/// Each entry brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = "
CREATE TABLE users (
    id BLOB PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL UNIQUE,
    password TEXT, doc TEXT NOT NULL);
CREATE TABLE sites (
    id BLOB PRIMARY KEY, name TEXT NOT NULL UNIQUE, owner BLOB NOT NULL, status TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX sites_owner ON sites(owner);
CREATE TABLE services (
    id BLOB PRIMARY KEY, site BLOB NOT NULL, unit TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX services_site ON services(site);
CREATE TABLE domains (
    id BLOB PRIMARY KEY, domain TEXT NOT NULL UNIQUE, site BLOB NOT NULL, doc TEXT NOT NULL);
CREATE INDEX domains_site ON domains(site);
CREATE TABLE databases (
    id BLOB PRIMARY KEY, site BLOB NOT NULL, type TEXT NOT NULL, doc TEXT NOT NULL);

-- Static host description, referenced by each server sample (rarely changes).
CREATE TABLE host_info (id INTEGER PRIMARY KEY, doc TEXT NOT NULL UNIQUE);

-- Raw server samples: ts in ms is the rowid (no extra index); percents in tenths,
-- load averages in hundredths; memory.used and totals come from host_info.
CREATE TABLE server_stats (
    ts INTEGER PRIMARY KEY, host INTEGER NOT NULL,
    cpu INTEGER, load1 INTEGER, load5 INTEGER, load15 INTEGER,
    mem_free INTEGER, mem_available INTEGER, mem_cached INTEGER, mem_buffers INTEGER, mem_pct INTEGER,
    disk_used INTEGER, disk_free INTEGER, disk_pct INTEGER,
    net_in INTEGER, net_out INTEGER, pkt_in INTEGER, pkt_out INTEGER,
    proc_total INTEGER, proc_running INTEGER, proc_sleeping INTEGER, proc_stopped INTEGER,
    uptime INTEGER, sites INTEGER, services INTEGER, users INTEGER,
    svc_running INTEGER, svc_stopped INTEGER);

-- Roll-ups: per bucket, the sample count, the sum of sample times, and per column the sum
-- (means) or the max (cumulative counters), plus peaks of the three percents.
CREATE TABLE server_rollup (
    res INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL, ts REAL NOT NULL,
    host INTEGER, cpu REAL, load1 REAL, load5 REAL, load15 REAL,
    mem_free REAL, mem_available REAL, mem_cached REAL, mem_buffers REAL, mem_pct REAL,
    disk_used REAL, disk_free REAL, disk_pct REAL,
    net_in INTEGER, net_out INTEGER, pkt_in INTEGER, pkt_out INTEGER,
    proc_total REAL, proc_running REAL, proc_sleeping REAL, proc_stopped REAL,
    uptime INTEGER, sites REAL, services REAL, users REAL, svc_running REAL, svc_stopped REAL,
    cpu_max INTEGER, mem_max INTEGER, disk_max INTEGER,
    PRIMARY KEY (res, bucket)) WITHOUT ROWID;

CREATE TABLE site_stats (
    site BLOB NOT NULL, ts INTEGER NOT NULL,
    cpu INTEGER, time_ms INTEGER, mem_used INTEGER, mem_pct INTEGER, mem_limit INTEGER,
    disk_used INTEGER, disk_pct INTEGER, disk_limit INTEGER, files INTEGER, cpu_limit INTEGER,
    svc_total INTEGER, svc_running INTEGER, svc_stopped INTEGER, svc_failed INTEGER,
    PRIMARY KEY (site, ts)) WITHOUT ROWID;

CREATE TABLE site_rollup (
    res INTEGER NOT NULL, site BLOB NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
    ts REAL NOT NULL,
    cpu REAL, time_ms INTEGER, mem_used REAL, mem_pct REAL, mem_limit REAL,
    disk_used REAL, disk_pct REAL, disk_limit REAL, files REAL, cpu_limit REAL,
    svc_total REAL, svc_running REAL, svc_stopped REAL, svc_failed REAL,
    cpu_max INTEGER, mem_max INTEGER, disk_max INTEGER,
    PRIMARY KEY (res, site, bucket)) WITHOUT ROWID;

-- How far each roll-up resolution has been computed (ms).
CREATE TABLE rollup_mark (res INTEGER PRIMARY KEY, until INTEGER NOT NULL);

CREATE TABLE alerts (
    id BLOB PRIMARY KEY, type TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,
    data TEXT NOT NULL, site BLOB, service BLOB, status TEXT NOT NULL,
    acknowledged_by BLOB, acknowledged_at INTEGER, created_at INTEGER NOT NULL,
    resolved_at INTEGER, resolved_by TEXT, clear_since INTEGER);
CREATE INDEX alerts_created ON alerts(created_at);
CREATE INDEX alerts_open ON alerts(status, created_at);

CREATE TABLE settings (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
";

/// Applies every migration past the file's `user_version`, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StoreError::Unavailable(format!(
            "database schema version {version} is newer than this apid ({known})"
        )));
    }
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", i + 1).map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}
