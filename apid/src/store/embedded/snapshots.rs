//! Server and site snapshots: compact numeric rows (see `series`), the static host
//! description stored once in `host_info`, site names and domains joined at read time.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::series::Series;
use super::{EmbeddedStore, sql};
use crate::model::time::round1;
use crate::model::{Domain, Id, ServerStats, Site, SiteStats, SystemInfo};
use crate::store::history::{
    Acc, Col, Host, SERVER_SHARED, SITE_COLS, SiteContext, server_cols, server_point, site_point,
};
use crate::store::{SnapshotStore, StoreError, StoreResult, Window};

/// The shared server columns, then the `host_info` row the sample refers to.
const SERVER_COLS: [Col; SERVER_SHARED + 1] = server_cols(&[Col::last("host", "")]);
const HOST: usize = SERVER_SHARED;

pub(super) const SERVER: Series = Series {
    raw: "server_stats",
    rollup: "server_rollup",
    keyed: false,
    cols: &SERVER_COLS,
    // cpu, mem_pct, disk_pct
    peaks: [0, 8, 11],
};

pub(super) const SITE: Series = Series {
    raw: "site_stats",
    rollup: "site_rollup",
    keyed: true,
    cols: SITE_COLS,
    // cpu, mem_pct, disk_pct
    peaks: [0, 3, 6],
};

/// The parts of a server sample that rarely change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct HostInfo {
    cores: u32,
    model: String,
    speed: u32,
    mem_total: u64,
    disk_total: u64,
    system: SystemInfo,
}

fn tenths(v: f64) -> i64 {
    (round1(v) * 10.0).round() as i64
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn host_id(c: &Connection, h: &HostInfo) -> StoreResult<i64> {
    let doc = serde_json::to_string(h).map_err(|e| StoreError::Internal(e.to_string()))?;
    let found: Option<i64> = c
        .prepare_cached("SELECT id FROM host_info WHERE doc = ?1")
        .map_err(sql)?
        .query_row([&doc], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    if let Some(id) = found {
        return Ok(id);
    }
    c.execute("INSERT INTO host_info (doc) VALUES (?1)", [&doc])
        .map_err(sql)?;
    Ok(c.last_insert_rowid())
}

fn server_row(c: &Connection, s: &ServerStats) -> StoreResult<()> {
    let host = HostInfo {
        cores: s.cpu.cores,
        model: s.cpu.model.clone(),
        speed: s.cpu.speed,
        mem_total: s.memory.total,
        disk_total: s.disk.total,
        system: s.system.clone(),
    };
    let host = host_id(c, &host)?;
    let hundredths = |v: f64| (v * 100.0).round() as i64;
    let vals = [
        tenths(s.cpu.percent),
        hundredths(s.cpu.load_avg.one),
        hundredths(s.cpu.load_avg.five),
        hundredths(s.cpu.load_avg.fifteen),
        int(s.memory.free),
        int(s.memory.available),
        int(s.memory.cached),
        int(s.memory.buffers),
        tenths(s.memory.percent),
        int(s.disk.used),
        int(s.disk.free),
        i64::from(s.disk.percent),
        int(s.network.bytes_in),
        int(s.network.bytes_out),
        int(s.network.packets_in),
        int(s.network.packets_out),
        i64::from(s.processes.total),
        i64::from(s.processes.running),
        i64::from(s.processes.sleeping),
        i64::from(s.processes.stopped),
        int(s.uptime),
        i64::from(s.totals.sites),
        i64::from(s.totals.services),
        i64::from(s.totals.users),
        i64::from(s.totals.services_running),
        i64::from(s.totals.services_stopped),
        host,
    ];
    SERVER.insert(c, None, s.timestamp.timestamp_millis(), &vals)
}

fn site_row(c: &Connection, s: &SiteStats) -> StoreResult<()> {
    let vals = [
        tenths(s.cpu.percent),
        int(s.cpu.time_ms),
        int(s.memory.used_bytes),
        tenths(s.memory.percent),
        int(s.memory.limit),
        int(s.disk.used_bytes),
        tenths(s.disk.percent),
        int(s.disk.limit),
        int(s.disk.file_count),
        tenths(s.limits.cpu),
        i64::from(s.services.total),
        i64::from(s.services.running),
        i64::from(s.services.stopped),
        i64::from(s.services.failed),
    ];
    SITE.insert(c, Some(s.site.id), s.timestamp.timestamp_millis(), &vals)
}

fn hosts(c: &Connection) -> StoreResult<HashMap<i64, HostInfo>> {
    let mut st = c
        .prepare_cached("SELECT id, doc FROM host_info")
        .map_err(sql)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(sql)?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, doc) = row.map_err(sql)?;
        let h = serde_json::from_str(&doc).map_err(|e| StoreError::Internal(e.to_string()))?;
        out.insert(id, h);
    }
    Ok(out)
}

fn to_server(a: &Acc, hosts: &HashMap<i64, HostInfo>, peaks: bool) -> ServerStats {
    let host = hosts
        .get(&(a.value(SERVER.cols, HOST).round() as i64))
        .cloned()
        .unwrap_or_default();
    let host = Host {
        cores: host.cores,
        model: host.model,
        speed: host.speed,
        mem_total: host.mem_total,
        disk_total: host.disk_total,
        system: host.system,
    };
    server_point(a, SERVER.cols, true, host, peaks)
}

fn site_context(c: &Connection, site: Id) -> StoreResult<SiteContext> {
    let doc: Option<String> = c
        .query_row("SELECT doc FROM sites WHERE id = ?1", [site.bytes()], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    let parsed: Option<Site> = doc.and_then(|d| serde_json::from_str(&d).ok());
    let mut st = c
        .prepare_cached("SELECT doc FROM domains WHERE site = ?1 ORDER BY domain")
        .map_err(sql)?;
    let domains = st
        .query_map(params![site.bytes()], |r| r.get::<_, String>(0))
        .map_err(sql)?
        .filter_map(|d| d.ok().and_then(|d| serde_json::from_str::<Domain>(&d).ok()))
        .collect();
    Ok(SiteContext::new(site, parsed, domains))
}

#[async_trait]
impl SnapshotStore for EmbeddedStore {
    async fn insert_snapshot(
        &self,
        server: Option<&ServerStats>,
        sites: &[SiteStats],
    ) -> StoreResult<()> {
        let server = server.cloned();
        let sites = sites.to_vec();
        self.call(move |c| {
            let tx = c.transaction().map_err(sql)?;
            if let Some(s) = &server {
                server_row(&tx, s)?;
            }
            for s in &sites {
                site_row(&tx, s)?;
            }
            tx.commit().map_err(sql)
        })
        .await
    }

    async fn latest_server_stats(&self) -> StoreResult<Option<ServerStats>> {
        self.call(|c| {
            let Some(a) = SERVER.latest(c, None)? else {
                return Ok(None);
            };
            Ok(Some(to_server(&a, &hosts(c)?, false)))
        })
        .await
    }

    async fn server_history(&self, window: Window, limit: usize) -> StoreResult<Vec<ServerStats>> {
        self.call(move |c| {
            let points = SERVER.history(c, None, window, limit)?;
            let hosts = hosts(c)?;
            Ok(points.iter().map(|a| to_server(a, &hosts, true)).collect())
        })
        .await
    }

    async fn latest_site_stats(&self, site: Id) -> StoreResult<Option<SiteStats>> {
        self.call(move |c| {
            let Some(a) = SITE.latest(c, Some(site))? else {
                return Ok(None);
            };
            Ok(Some(site_point(&a, true, &site_context(c, site)?, false)))
        })
        .await
    }

    async fn site_history(
        &self,
        site: Id,
        window: Window,
        limit: usize,
    ) -> StoreResult<Vec<SiteStats>> {
        self.call(move |c| {
            let points = SITE.history(c, Some(site), window, limit)?;
            let ctx = site_context(c, site)?;
            Ok(points
                .iter()
                .map(|a| site_point(a, true, &ctx, true))
                .collect())
        })
        .await
    }
}
