//! Server and site snapshots: compact numeric rows (see `series`), the static host
//! description stored once in `host_info`, site names and domains joined at read time.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::series::{Acc, Agg, Series};
use super::{EmbeddedStore, sql};
use crate::model::time::{from_millis, round1};
use crate::model::{
    Cpu, Disk, Domain, DomainInfo, Id, Limits, LoadAvg, Memory, Network, PeakPercents, Ports,
    Processes, ServerStats, ServiceCounts, Site, SiteCpu, SiteDisk, SiteInfo, SiteMemory,
    SiteStats, SiteStatus, SystemInfo, Totals,
};
use crate::store::{SnapshotStore, StoreError, StoreResult, Window};

use Agg::{Last, Mean};

pub(super) const SERVER: Series = Series {
    raw: "server_stats",
    rollup: "server_rollup",
    keyed: false,
    cols: &[
        ("host", Last),
        ("cpu", Mean),
        ("load1", Mean),
        ("load5", Mean),
        ("load15", Mean),
        ("mem_free", Mean),
        ("mem_available", Mean),
        ("mem_cached", Mean),
        ("mem_buffers", Mean),
        ("mem_pct", Mean),
        ("disk_used", Mean),
        ("disk_free", Mean),
        ("disk_pct", Mean),
        ("net_in", Last),
        ("net_out", Last),
        ("pkt_in", Last),
        ("pkt_out", Last),
        ("proc_total", Mean),
        ("proc_running", Mean),
        ("proc_sleeping", Mean),
        ("proc_stopped", Mean),
        ("uptime", Last),
        ("sites", Mean),
        ("services", Mean),
        ("users", Mean),
        ("svc_running", Mean),
        ("svc_stopped", Mean),
    ],
    peaks: ["cpu", "mem_pct", "disk_pct"],
};

pub(super) const SITE: Series = Series {
    raw: "site_stats",
    rollup: "site_rollup",
    keyed: true,
    cols: &[
        ("cpu", Mean),
        ("time_ms", Last),
        ("mem_used", Mean),
        ("mem_pct", Mean),
        ("mem_limit", Mean),
        ("disk_used", Mean),
        ("disk_pct", Mean),
        ("disk_limit", Mean),
        ("files", Mean),
        ("cpu_limit", Mean),
        ("svc_total", Mean),
        ("svc_running", Mean),
        ("svc_stopped", Mean),
        ("svc_failed", Mean),
    ],
    peaks: ["cpu", "mem_pct", "disk_pct"],
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
        host,
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

fn u(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

fn u32_(v: f64) -> u32 {
    u32::try_from(u(v)).unwrap_or(u32::MAX)
}

fn to_server(a: &Acc, hosts: &HashMap<i64, HostInfo>, peaks: bool) -> ServerStats {
    let v = |i: usize| a.value(SERVER.cols, i);
    let host = hosts
        .get(&(v(0).round() as i64))
        .cloned()
        .unwrap_or_default();
    let available = u(v(6));
    ServerStats {
        cpu: Cpu {
            percent: round1(v(1) / 10.0),
            cores: host.cores,
            model: host.model,
            speed: host.speed,
            load_avg: LoadAvg {
                one: v(2) / 100.0,
                five: v(3) / 100.0,
                fifteen: v(4) / 100.0,
            },
        },
        memory: Memory {
            total: host.mem_total,
            used: host.mem_total.saturating_sub(available),
            free: u(v(5)),
            available,
            cached: u(v(7)),
            buffers: u(v(8)),
            percent: round1(v(9) / 10.0),
        },
        disk: Disk {
            total: host.disk_total,
            used: u(v(10)),
            free: u(v(11)),
            percent: u8::try_from(u(v(12))).unwrap_or(100),
        },
        network: Network {
            bytes_in: u(v(13)),
            bytes_out: u(v(14)),
            packets_in: u(v(15)),
            packets_out: u(v(16)),
        },
        processes: Processes {
            total: u32_(v(17)),
            running: u32_(v(18)),
            sleeping: u32_(v(19)),
            stopped: u32_(v(20)),
        },
        uptime: u(v(21)),
        totals: Totals {
            sites: u32_(v(22)),
            services: u32_(v(23)),
            users: u32_(v(24)),
            services_running: u32_(v(25)),
            services_stopped: u32_(v(26)),
        },
        system: host.system,
        timestamp: from_millis(a.ts()),
        max: peaks.then(|| PeakPercents {
            cpu: a.peaks[0] / 10.0,
            memory: a.peaks[1] / 10.0,
            disk: a.peaks[2],
        }),
    }
}

/// What a site sample shows besides its numbers, read from the panel data.
struct SiteContext {
    info: SiteInfo,
    domains: Vec<DomainInfo>,
    ports: Ports,
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
        .map(|d| DomainInfo {
            domain: d.domain,
            ssl: d.ssl.enabled,
        })
        .collect();
    Ok(match parsed {
        Some(s) => SiteContext {
            info: SiteInfo {
                id: s.id,
                name: s.name,
                display_name: s.display_name,
                status: s.status,
            },
            domains,
            ports: Ports {
                start: s.port_range.start,
                end: s.port_range.end,
            },
        },
        None => SiteContext {
            info: SiteInfo {
                id: site,
                name: String::new(),
                display_name: String::new(),
                status: SiteStatus::Deleted,
            },
            domains,
            ports: Ports::default(),
        },
    })
}

fn to_site(a: &Acc, ctx: &SiteContext, peaks: bool) -> SiteStats {
    let v = |i: usize| a.value(SITE.cols, i);
    let (mem_limit, disk_limit, cpu_limit) = (u(v(4)), u(v(7)), round1(v(9) / 10.0));
    SiteStats {
        cpu: SiteCpu {
            percent: round1(v(0) / 10.0),
            time_ms: u(v(1)),
        },
        memory: SiteMemory {
            used_bytes: u(v(2)),
            percent: round1(v(3) / 10.0),
            limit: mem_limit,
        },
        disk: SiteDisk {
            used_bytes: u(v(5)),
            percent: round1(v(6) / 10.0),
            limit: disk_limit,
            file_count: u(v(8)),
        },
        services: ServiceCounts {
            total: u32_(v(10)),
            running: u32_(v(11)),
            stopped: u32_(v(12)),
            failed: u32_(v(13)),
        },
        site: ctx.info.clone(),
        domains: ctx.domains.clone(),
        ports: ctx.ports,
        limits: Limits {
            memory: mem_limit,
            cpu: cpu_limit,
            disk: disk_limit,
        },
        timestamp: from_millis(a.ts()),
        max: peaks.then(|| PeakPercents {
            cpu: a.peaks[0] / 10.0,
            memory: a.peaks[1] / 10.0,
            disk: a.peaks[2] / 10.0,
        }),
    }
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
            Ok(Some(to_site(&a, &site_context(c, site)?, false)))
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
            Ok(points.iter().map(|a| to_site(a, &ctx, true)).collect())
        })
        .await
    }
}
