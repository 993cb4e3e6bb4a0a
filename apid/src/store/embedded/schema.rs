//! Schema and migrations, versioned with `PRAGMA user_version`.

use rusqlite::{Connection, Transaction};

use super::series::Series;
use super::snapshots::{SERVER, SITE};
use super::{packed, sql};
use crate::store::{StoreError, StoreResult};

/// A schema step: SQL, or Rust where rows must be rewritten.
enum Step {
    Sql(&'static str),
    Rust(fn(&Transaction<'_>) -> StoreResult<()>),
}

/// Each entry brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[Step] = &[Step::Sql(V1), Step::Rust(v2)];

/// V2: raw samples keep their numbers packed in one BLOB `v` (see `packed`), in the series'
/// column order; the V1 rows (one column per field) are rewritten.
fn v2(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.execute_batch(
        "ALTER TABLE server_stats RENAME TO server_stats_v1;
         ALTER TABLE site_stats RENAME TO site_stats_v1;
         CREATE TABLE server_stats (ts INTEGER PRIMARY KEY, v BLOB NOT NULL);
         CREATE TABLE site_stats (
             site BLOB NOT NULL, ts INTEGER NOT NULL, v BLOB NOT NULL,
             PRIMARY KEY (site, ts)) WITHOUT ROWID;",
    )
    .map_err(sql)?;
    for series in [&SERVER, &SITE] {
        repack(tx, series)?;
    }
    tx.execute_batch("DROP TABLE server_stats_v1; DROP TABLE site_stats_v1;")
        .map_err(sql)
}

fn repack(tx: &Transaction<'_>, series: &Series) -> StoreResult<()> {
    let names: Vec<&str> = series.cols.iter().map(|c| c.key).collect();
    let key = if series.keyed { "site" } else { "NULL" };
    let q = format!(
        "SELECT {key}, ts, {} FROM {}_v1",
        names.join(", "),
        series.raw
    );
    let mut st = tx.prepare(&q).map_err(sql)?;
    let mut rows = st.query([]).map_err(sql)?;
    let insert = if series.keyed {
        format!(
            "INSERT INTO {} (site, ts, v) VALUES (?1, ?2, ?3)",
            series.raw
        )
    } else {
        format!("INSERT INTO {} (ts, v) VALUES (?2, ?3)", series.raw)
    };
    let mut ins = tx.prepare(&insert).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let site: Option<Vec<u8>> = r.get(0).map_err(sql)?;
        let ts: i64 = r.get(1).map_err(sql)?;
        let mut vals = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            vals.push(r.get::<_, Option<i64>>(2 + i).map_err(sql)?.unwrap_or(0));
        }
        let blob = packed::pack(&vals);
        if series.keyed {
            ins.execute((site.unwrap_or_default(), ts, blob))
                .map_err(sql)?;
        } else {
            ins.execute(rusqlite::params![Option::<Vec<u8>>::None, ts, blob])
                .map_err(sql)?;
        }
    }
    Ok(())
}

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

-- Raw server samples (V1 layout; V2 keeps these numbers packed in one BLOB, see `v2`):
-- ts in ms is the rowid (no extra index); percents in tenths,
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
        match step {
            Step::Sql(q) => tx.execute_batch(q).map_err(sql)?,
            Step::Rust(f) => f(&tx)?,
        }
        tx.pragma_update(None, "user_version", i + 1).map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::model::Id;

    #[test]
    fn v2_repacks_the_v1_samples() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(V1).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        let site = Id::from_bytes([7; 12]);
        c.execute(
            "INSERT INTO server_stats (ts, host, cpu, mem_pct, disk_pct, net_in) \
             VALUES (1000, 1, 123, 456, 78, 9876543210)",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO site_stats (site, ts, cpu, time_ms, mem_pct, svc_failed) \
             VALUES (?1, 2000, 55, 4242, 186, 1)",
            [site.bytes()],
        )
        .unwrap();
        migrate(&mut c).unwrap();
        let version: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);

        let s = SERVER.latest(&c, None).unwrap().unwrap();
        assert_eq!(s.ts(), 1000);
        let key = |k: &str| SERVER.cols.iter().position(|c| c.key == k).unwrap();
        assert_eq!(s.vals[key("host")], 1.0);
        assert_eq!(s.vals[key("cpu")], 123.0);
        assert_eq!(s.vals[key("net_in")], 9_876_543_210.0);
        assert_eq!(s.vals[key("load1")], 0.0, "NULL reads as 0");
        assert_eq!(s.peaks, [123.0, 456.0, 78.0]);

        let t = SITE.latest(&c, Some(site)).unwrap().unwrap();
        assert_eq!(t.ts(), 2000);
        assert_eq!(
            (t.vals[0], t.vals[1], t.vals[3], t.vals[13]),
            (55.0, 4242.0, 186.0, 1.0)
        );
        assert!(
            SITE.latest(&c, Some(Id::from_bytes([8; 12])))
                .unwrap()
                .is_none()
        );
        let old: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the V1 tables are gone");
    }
}
