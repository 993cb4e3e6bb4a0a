//! Pure arithmetic of a poll: agent answers in, CONTRACT §4 shapes out. No I/O, no clock.

use twoine_proto::v1 as pb;

use crate::model::{
    Cpu, Disk, DomainInfo, Limits, LoadAvg, Memory, Network, Ports, Processes, ServerStats,
    ServiceCounts, Site, SiteCpu, SiteDisk, SiteInfo, SiteMemory, SiteStats, SystemInfo, Timestamp,
    Totals,
};

const MB: f64 = 1024.0 * 1024.0;

/// Busy jiffies and all jiffies of one `/proc/stat` line. Guest time is already inside user
/// and nice, so it is not added again.
pub fn busy_and_total(t: &pb::CpuTimes) -> (u64, u64) {
    let idle = t.idle.saturating_add(t.iowait);
    let busy = t
        .user
        .saturating_add(t.nice)
        .saturating_add(t.system)
        .saturating_add(t.irq)
        .saturating_add(t.softirq)
        .saturating_add(t.steal);
    (busy, busy.saturating_add(idle))
}

/// Busy share of all CPUs between two cumulative samples, percent in `0..=100`. `None` when
/// no time passed or the counters went back (reboot): there is no honest value then.
pub fn cpu_percent(prev: &pb::CpuTimes, cur: &pb::CpuTimes) -> Option<f64> {
    let (b0, t0) = busy_and_total(prev);
    let (b1, t1) = busy_and_total(cur);
    if t1 <= t0 || b1 < b0 {
        return None;
    }
    let busy = (b1 - b0) as f64;
    let total = (t1 - t0) as f64;
    Some((busy / total * 100.0).clamp(0.0, 100.0))
}

/// One uid's CPU between two usage samples: percent of one core (may exceed 100) and the CPU
/// milliseconds used. A drop of the sum (processes exited) counts as zero, never negative.
pub fn site_cpu(prev_ms: u64, prev_at_ms: i64, cur_ms: u64, cur_at_ms: i64) -> Option<(f64, u64)> {
    let elapsed = cur_at_ms.checked_sub(prev_at_ms).filter(|e| *e > 0)?;
    let used = cur_ms.saturating_sub(prev_ms);
    Some((used as f64 / elapsed as f64 * 100.0, used))
}

/// `part / whole` in percent; 0 for an empty whole.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

/// `memory`, with `used = total − available`.
pub fn memory(m: &pb::Memory) -> Memory {
    let used = m.total_bytes.saturating_sub(m.available_bytes);
    Memory {
        total: m.total_bytes,
        used,
        free: m.free_bytes,
        available: m.available_bytes,
        cached: m.cached_bytes,
        buffers: m.buffers_bytes,
        percent: percent(used, m.total_bytes),
    }
}

/// `disk` as `df -B1 /`: Use% is `used / (used + avail)`, rounded up.
pub fn disk(fs: &pb::Filesystem) -> Disk {
    let used = fs.total_bytes.saturating_sub(fs.free_bytes);
    let base = used.saturating_add(fs.available_bytes);
    let percent = if base == 0 {
        0
    } else {
        // Integer ceiling, as df.
        let p = (u128::from(used) * 100).div_ceil(u128::from(base));
        u8::try_from(p.min(100)).unwrap_or(100)
    };
    Disk {
        total: fs.total_bytes,
        used,
        free: fs.available_bytes,
        percent,
    }
}

/// Cumulative counters over every interface but `lo`.
pub fn network(interfaces: &[pb::NetInterface]) -> Network {
    interfaces
        .iter()
        .filter(|i| i.name != "lo")
        .fold(Network::default(), |n, i| Network {
            bytes_in: n.bytes_in.saturating_add(i.rx_bytes),
            bytes_out: n.bytes_out.saturating_add(i.tx_bytes),
            packets_in: n.packets_in.saturating_add(i.rx_packets),
            packets_out: n.packets_out.saturating_add(i.tx_packets),
        })
}

fn processes(p: Option<&pb::ProcessCounts>) -> Processes {
    p.map(|p| Processes {
        total: p.total,
        running: p.running,
        sleeping: p
            .sleeping
            .saturating_add(p.disk_sleep)
            .saturating_add(p.idle),
        stopped: p.stopped,
    })
    .unwrap_or_default()
}

/// Node's `os.arch()` names, which the panels know.
fn node_arch(arch: &str) -> String {
    match arch {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "i686" | "i386" => "ia32",
        "armv7l" | "armv6l" => "arm",
        other => other,
    }
    .to_owned()
}

/// The server sample, or `None` when a section it cannot do without (cpu, memory, root
/// filesystem) is missing. `cpu_percent` comes from [`cpu_percent`] over the previous sample.
pub fn server_stats(
    snap: &pb::HostSnapshotResponse,
    cpu_percent: f64,
    totals: Totals,
    now: Timestamp,
) -> Option<ServerStats> {
    let cpu = snap.cpu.as_ref()?;
    let mem = snap.memory.as_ref()?;
    let root = snap.root_fs.as_ref()?;
    let load = snap.load.as_ref();
    Some(ServerStats {
        cpu: Cpu {
            percent: cpu_percent,
            cores: cpu.cores,
            model: cpu.model.clone(),
            speed: cpu.mhz.round().clamp(0.0, f64::from(u32::MAX)) as u32,
            load_avg: load
                .map(|l| LoadAvg {
                    one: l.one,
                    five: l.five,
                    fifteen: l.fifteen,
                })
                .unwrap_or_default(),
        },
        memory: memory(mem),
        disk: disk(root),
        network: network(&snap.interfaces),
        processes: processes(snap.processes.as_ref()),
        uptime: snap.uptime_seconds.max(0.0) as u64,
        totals,
        system: SystemInfo {
            hostname: snap.hostname.clone(),
            platform: "linux".to_owned(),
            arch: node_arch(&snap.arch),
            release: snap.kernel_release.clone(),
            kind: "Linux".to_owned(),
        },
        timestamp: now,
        max: None,
    })
}

/// What was measured of one site this poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteMeasure {
    /// CPU percent of one core and cumulative CPU ms.
    pub cpu: SiteCpu,
    /// Resident bytes of the site user's processes.
    pub rss_bytes: u64,
    /// Apparent bytes of the root (as `du -sb`).
    pub disk_bytes: u64,
    /// Regular files under the root.
    pub files: u64,
}

/// The site sample.
pub fn site_stats(
    site: &Site,
    m: &SiteMeasure,
    services: ServiceCounts,
    domains: Vec<DomainInfo>,
    now: Timestamp,
) -> SiteStats {
    let r = site.resources;
    SiteStats {
        cpu: m.cpu,
        memory: SiteMemory {
            used_bytes: m.rss_bytes,
            percent: mb_percent(m.rss_bytes, r.max_memory_mb),
            limit: r.max_memory_mb,
        },
        disk: SiteDisk {
            used_bytes: m.disk_bytes,
            percent: mb_percent(m.disk_bytes, r.max_disk_mb),
            limit: r.max_disk_mb,
            file_count: m.files,
        },
        services,
        site: SiteInfo {
            id: site.id,
            name: site.name.clone(),
            display_name: site.display_name.clone(),
            status: site.status,
        },
        domains,
        ports: Ports {
            start: site.port_range.start,
            end: site.port_range.end,
        },
        limits: Limits {
            memory: r.max_memory_mb,
            cpu: r.max_cpu_percent,
            disk: r.max_disk_mb,
        },
        timestamp: now,
        max: None,
    }
}

fn mb_percent(bytes: u64, limit_mb: u64) -> f64 {
    if limit_mb == 0 {
        0.0
    } else {
        bytes as f64 / (limit_mb as f64 * MB) * 100.0
    }
}

/// Counts of a site's services from their units' `ActiveState` (`None`: unknown, counted only
/// in the total).
pub fn service_counts<'a>(states: impl IntoIterator<Item = Option<&'a str>>) -> ServiceCounts {
    let mut c = ServiceCounts::default();
    for state in states {
        c.total = c.total.saturating_add(1);
        match state {
            Some("active" | "reloading") => c.running = c.running.saturating_add(1),
            Some("failed") => c.failed = c.failed.saturating_add(1),
            Some(_) => c.stopped = c.stopped.saturating_add(1),
            None => {}
        }
    }
    c
}

#[cfg(test)]
#[path = "compute_tests.rs"]
mod tests;
