//! The site point, the same from both backends: its numeric columns, its panel context, and
//! the conversion from an aggregate.

use super::{Acc, Col};
use crate::model::time::{from_millis, round1};
use crate::model::{
    Domain, DomainInfo, Id, Limits, PeakPercents, Ports, ServiceCounts, Site, SiteCpu, SiteDisk,
    SiteInfo, SiteMemory, SiteStats, SiteStatus,
};

/// A site sample's numeric fields, in the order [`site_point`] reads them. The keys are the
/// embedded store's column names and MongoDB's roll-up keys; percents and the CPU limit are
/// kept in tenths by the embedded store.
pub(crate) const SITE_COLS: &[Col] = &[
    Col::mean("cpu", "cpu.percent").per(10.0),
    Col::last("time_ms", "cpu.timeMs"),
    Col::mean("mem_used", "memory.usedBytes"),
    Col::mean("mem_pct", "memory.percent").per(10.0),
    Col::mean("mem_limit", "memory.limit"),
    Col::mean("disk_used", "disk.usedBytes"),
    Col::mean("disk_pct", "disk.percent").per(10.0),
    Col::mean("disk_limit", "disk.limit"),
    Col::mean("files", "disk.fileCount"),
    Col::mean("cpu_limit", "limits.cpu").per(10.0),
    Col::mean("svc_total", "services.total"),
    Col::mean("svc_running", "services.running"),
    Col::mean("svc_stopped", "services.stopped"),
    Col::mean("svc_failed", "services.failed"),
];

/// A non-negative count from a mean.
pub(crate) fn u(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

/// [`u`] as a `u32` (saturating).
pub(crate) fn u32_(v: f64) -> u32 {
    u32::try_from(u(v)).unwrap_or(u32::MAX)
}

/// What a site sample shows besides its numbers, read from the panel data.
#[derive(Debug, Clone)]
pub(crate) struct SiteContext {
    /// The site's identity.
    pub info: SiteInfo,
    /// Its domains.
    pub domains: Vec<DomainInfo>,
    /// Its port range.
    pub ports: Ports,
}

impl SiteContext {
    /// From the site (absent: shown as deleted, with no name) and its domains.
    pub fn new(id: Id, site: Option<Site>, domains: Vec<Domain>) -> Self {
        let domains = domains
            .into_iter()
            .map(|d| DomainInfo {
                domain: d.domain,
                ssl: d.ssl.enabled,
            })
            .collect();
        match site {
            Some(s) => Self {
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
            None => Self {
                info: SiteInfo {
                    id,
                    name: String::new(),
                    display_name: String::new(),
                    status: SiteStatus::Deleted,
                },
                domains,
                ports: Ports::default(),
            },
        }
    }
}

/// A site point from an aggregate over [`SITE_COLS`]. `scaled`: the values are in the
/// embedded store's units (divided by each column's scale); otherwise in the model's.
pub(crate) fn site_point<X>(a: &Acc<X>, scaled: bool, ctx: &SiteContext, peaks: bool) -> SiteStats {
    let cols = SITE_COLS;
    let scale = |i: usize| match cols.get(i) {
        Some(c) if scaled => c.scale,
        _ => 1.0,
    };
    let v = |i: usize| a.value(cols, i) / scale(i);
    let peak = |k: usize, col: usize| a.peaks[k] / scale(col);
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
        max: peaks.then(|| PeakPercents {
            cpu: peak(0, 0),
            memory: peak(1, 3),
            disk: peak(2, 6),
        }),
    }
}
