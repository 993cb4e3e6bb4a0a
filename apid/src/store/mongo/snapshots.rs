//! `server_stats` and `site_stats`: one Twoine-shaped document per sample (CONTRACT §4 field
//! names, `timestamp` a BSON date, `site` an ObjectId in site samples), history from
//! [`super::series`].

use async_trait::async_trait;
use mongodb::bson::{Document, doc};

use super::collections::{DOMAINS, SERVER_ROLLUPS, SERVER_STATS, SITE_ROLLUPS, SITE_STATS, SITES};
use super::convert::{all_parsed, date, oid, parse};
use super::series::{Acc, Agg, Series};
use super::{MongoStore, err};
use crate::model::time::{from_millis, round1};
use crate::model::{
    Cpu, Disk, Domain, DomainInfo, Id, Limits, LoadAvg, Memory, Network, PeakPercents, Ports,
    Processes, ServerStats, ServiceCounts, Site, SiteCpu, SiteDisk, SiteInfo, SiteMemory,
    SiteStats, SiteStatus, SystemInfo, Totals,
};
use crate::store::{SnapshotStore, StoreError, StoreResult, Window};

use Agg::{Last, Mean};

pub(super) const SERVER: Series = Series {
    raw: SERVER_STATS,
    rollup: SERVER_ROLLUPS,
    keyed: false,
    cols: &[
        ("cpu", "cpu.percent", Mean),
        ("cores", "cpu.cores", Mean),
        ("speed", "cpu.speed", Mean),
        ("load1", "cpu.loadAvg.one", Mean),
        ("load5", "cpu.loadAvg.five", Mean),
        ("load15", "cpu.loadAvg.fifteen", Mean),
        ("mem_total", "memory.total", Mean),
        ("mem_free", "memory.free", Mean),
        ("mem_available", "memory.available", Mean),
        ("mem_cached", "memory.cached", Mean),
        ("mem_buffers", "memory.buffers", Mean),
        ("mem_pct", "memory.percent", Mean),
        ("disk_total", "disk.total", Mean),
        ("disk_used", "disk.used", Mean),
        ("disk_free", "disk.free", Mean),
        ("disk_pct", "disk.percent", Mean),
        ("net_in", "network.bytesIn", Last),
        ("net_out", "network.bytesOut", Last),
        ("pkt_in", "network.packetsIn", Last),
        ("pkt_out", "network.packetsOut", Last),
        ("proc_total", "processes.total", Mean),
        ("proc_running", "processes.running", Mean),
        ("proc_sleeping", "processes.sleeping", Mean),
        ("proc_stopped", "processes.stopped", Mean),
        ("uptime", "uptime", Last),
        ("sites", "totals.sites", Mean),
        ("services", "totals.services", Mean),
        ("users", "totals.users", Mean),
        ("svc_running", "totals.servicesRunning", Mean),
        ("svc_stopped", "totals.servicesStopped", Mean),
    ],
    peaks: ["cpu.percent", "memory.percent", "disk.percent"],
    carried: &[("model", "cpu.model"), ("system", "system")],
};

pub(super) const SITE: Series = Series {
    raw: SITE_STATS,
    rollup: SITE_ROLLUPS,
    keyed: true,
    cols: &[
        ("cpu", "cpu.percent", Mean),
        ("time_ms", "cpu.timeMs", Last),
        ("mem_used", "memory.usedBytes", Mean),
        ("mem_pct", "memory.percent", Mean),
        ("mem_limit", "memory.limit", Mean),
        ("disk_used", "disk.usedBytes", Mean),
        ("disk_pct", "disk.percent", Mean),
        ("disk_limit", "disk.limit", Mean),
        ("files", "disk.fileCount", Mean),
        ("cpu_limit", "limits.cpu", Mean),
        ("svc_total", "services.total", Mean),
        ("svc_running", "services.running", Mean),
        ("svc_stopped", "services.stopped", Mean),
        ("svc_failed", "services.failed", Mean),
    ],
    peaks: ["cpu.percent", "memory.percent", "disk.percent"],
    carried: &[],
};

fn to_doc<T: serde::Serialize>(v: &T) -> StoreResult<Document> {
    mongodb::bson::to_document(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A server sample as stored: the API shape, `timestamp` a BSON date, no `max`.
pub(super) fn server_doc(s: &ServerStats) -> StoreResult<Document> {
    let mut d = to_doc(s)?;
    d.remove("max");
    d.insert("timestamp", date(s.timestamp));
    Ok(d)
}

/// A site sample as stored: `site` the site's ObjectId, `timestamp` a BSON date, no `max`.
pub(super) fn site_doc(s: &SiteStats) -> StoreResult<Document> {
    let mut d = to_doc(s)?;
    d.remove("max");
    d.insert("site", oid(s.site.id));
    d.insert("timestamp", date(s.timestamp));
    Ok(d)
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

fn to_server(a: &Acc) -> ServerStats {
    let v = |i: usize| a.value(SERVER.cols, i);
    let (total, available) = (u(v(6)), u(v(8)));
    let model = a.carried.get_str("model").unwrap_or_default().to_owned();
    let system: SystemInfo = a
        .carried
        .get_document("system")
        .ok()
        .and_then(|d| parse(d.clone()).ok())
        .unwrap_or_default();
    ServerStats {
        cpu: Cpu {
            percent: round1(v(0)),
            cores: u32_(v(1)),
            model,
            speed: u32_(v(2)),
            load_avg: LoadAvg {
                one: (v(3) * 100.0).round() / 100.0,
                five: (v(4) * 100.0).round() / 100.0,
                fifteen: (v(5) * 100.0).round() / 100.0,
            },
        },
        memory: Memory {
            total,
            used: total.saturating_sub(available),
            free: u(v(7)),
            available,
            cached: u(v(9)),
            buffers: u(v(10)),
            percent: round1(v(11)),
        },
        disk: Disk {
            total: u(v(12)),
            used: u(v(13)),
            free: u(v(14)),
            percent: u8::try_from(u(v(15))).unwrap_or(100),
        },
        network: Network {
            bytes_in: u(v(16)),
            bytes_out: u(v(17)),
            packets_in: u(v(18)),
            packets_out: u(v(19)),
        },
        processes: Processes {
            total: u32_(v(20)),
            running: u32_(v(21)),
            sleeping: u32_(v(22)),
            stopped: u32_(v(23)),
        },
        uptime: u(v(24)),
        totals: Totals {
            sites: u32_(v(25)),
            services: u32_(v(26)),
            users: u32_(v(27)),
            services_running: u32_(v(28)),
            services_stopped: u32_(v(29)),
        },
        system,
        timestamp: from_millis(a.ts()),
        max: Some(PeakPercents {
            cpu: a.peaks[0],
            memory: a.peaks[1],
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

async fn site_context(s: &MongoStore, site: Id) -> StoreResult<SiteContext> {
    let found = s
        .coll(SITES)
        .find_one(doc! { "_id": oid(site) })
        .await
        .map_err(err)?
        .and_then(|d| parse::<Site>(d).ok());
    let cursor = s
        .coll(DOMAINS)
        .find(doc! { "site": oid(site) })
        .sort(doc! { "domain": 1 })
        .await
        .map_err(err)?;
    let domains = all_parsed::<Domain>(cursor)
        .await?
        .into_iter()
        .map(|d| DomainInfo {
            domain: d.domain,
            ssl: d.ssl.enabled,
        })
        .collect();
    Ok(match found {
        Some(site) => SiteContext {
            info: SiteInfo {
                id: site.id,
                name: site.name,
                display_name: site.display_name,
                status: site.status,
            },
            domains,
            ports: Ports {
                start: site.port_range.start,
                end: site.port_range.end,
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

fn to_site(a: &Acc, ctx: &SiteContext) -> SiteStats {
    let v = |i: usize| a.value(SITE.cols, i);
    let (mem_limit, disk_limit, cpu_limit) = (u(v(4)), u(v(7)), round1(v(9)));
    SiteStats {
        cpu: SiteCpu {
            percent: round1(v(0)),
            time_ms: u(v(1)),
        },
        memory: SiteMemory {
            used_bytes: u(v(2)),
            percent: round1(v(3)),
            limit: mem_limit,
        },
        disk: SiteDisk {
            used_bytes: u(v(5)),
            percent: round1(v(6)),
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
        max: Some(PeakPercents {
            cpu: a.peaks[0],
            memory: a.peaks[1],
            disk: a.peaks[2],
        }),
    }
}

/// A stored raw site sample, with the panel context filled in.
fn read_site_doc(mut d: Document, ctx: SiteContext) -> StoreResult<SiteStats> {
    d.remove("_id");
    let info =
        mongodb::bson::to_bson(&ctx.info).map_err(|e| StoreError::Internal(e.to_string()))?;
    d.insert("site", info);
    let domains =
        mongodb::bson::to_bson(&ctx.domains).map_err(|e| StoreError::Internal(e.to_string()))?;
    d.insert("domains", domains);
    d.insert(
        "ports",
        doc! { "start": i32::from(ctx.ports.start), "end": i32::from(ctx.ports.end) },
    );
    parse(d)
}

#[async_trait]
impl SnapshotStore for MongoStore {
    async fn insert_snapshot(
        &self,
        server: Option<&ServerStats>,
        sites: &[SiteStats],
    ) -> StoreResult<()> {
        // No transactions on a standalone mongod: site samples first, then the server sample,
        // each journaled; a crash between them loses part of this one poll only.
        if !sites.is_empty() {
            let docs = sites
                .iter()
                .map(site_doc)
                .collect::<StoreResult<Vec<_>>>()?;
            self.coll(SITE_STATS)
                .insert_many(docs)
                .ordered(false)
                .await
                .map_err(err)?;
        }
        if let Some(s) = server {
            self.coll(SERVER_STATS)
                .insert_one(server_doc(s)?)
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    async fn latest_server_stats(&self) -> StoreResult<Option<ServerStats>> {
        match SERVER.latest(self, None).await? {
            Some(mut d) => {
                d.remove("_id");
                parse(d).map(Some)
            }
            None => Ok(None),
        }
    }

    async fn server_history(&self, window: Window, limit: usize) -> StoreResult<Vec<ServerStats>> {
        let points = SERVER.history(self, None, window, limit).await?;
        Ok(points.iter().map(to_server).collect())
    }

    async fn latest_site_stats(&self, site: Id) -> StoreResult<Option<SiteStats>> {
        let Some(d) = SITE.latest(self, Some(site)).await? else {
            return Ok(None);
        };
        let ctx = site_context(self, site).await?;
        read_site_doc(d, ctx).map(Some)
    }

    async fn site_history(
        &self,
        site: Id,
        window: Window,
        limit: usize,
    ) -> StoreResult<Vec<SiteStats>> {
        let points = SITE.history(self, Some(site), window, limit).await?;
        if points.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = site_context(self, site).await?;
        Ok(points.iter().map(|a| to_site(a, &ctx)).collect())
    }
}
