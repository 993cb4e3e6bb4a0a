//! The server point, the same from both backends: the numeric columns they share (first in
//! each backend's series, in this order), and the conversion from an aggregate.

use super::{Acc, Col, u, u32_};
use crate::model::time::{from_millis, round1};
use crate::model::{
    Cpu, Disk, LoadAvg, Memory, Network, PeakPercents, Processes, ServerStats, SystemInfo, Totals,
};

/// How many columns [`SERVER_COLS`] has.
pub(crate) const SERVER_SHARED: usize = 26;

/// The numeric server fields both backends keep, in the order [`server_point`] reads them.
/// Percents are kept in tenths and load averages in hundredths by the embedded store.
pub(crate) const SERVER_COLS: [Col; SERVER_SHARED] = [
    Col::mean("cpu", "cpu.percent").per(10.0),
    Col::mean("load1", "cpu.loadAvg.one").per(100.0),
    Col::mean("load5", "cpu.loadAvg.five").per(100.0),
    Col::mean("load15", "cpu.loadAvg.fifteen").per(100.0),
    Col::mean("mem_free", "memory.free"),
    Col::mean("mem_available", "memory.available"),
    Col::mean("mem_cached", "memory.cached"),
    Col::mean("mem_buffers", "memory.buffers"),
    Col::mean("mem_pct", "memory.percent").per(10.0),
    Col::mean("disk_used", "disk.used"),
    Col::mean("disk_free", "disk.free"),
    Col::mean("disk_pct", "disk.percent"),
    Col::last("net_in", "network.bytesIn"),
    Col::last("net_out", "network.bytesOut"),
    Col::last("pkt_in", "network.packetsIn"),
    Col::last("pkt_out", "network.packetsOut"),
    Col::mean("proc_total", "processes.total"),
    Col::mean("proc_running", "processes.running"),
    Col::mean("proc_sleeping", "processes.sleeping"),
    Col::mean("proc_stopped", "processes.stopped"),
    Col::last("uptime", "uptime"),
    Col::mean("sites", "totals.sites"),
    Col::mean("services", "totals.services"),
    Col::mean("users", "totals.users"),
    Col::mean("svc_running", "totals.servicesRunning"),
    Col::mean("svc_stopped", "totals.servicesStopped"),
];

/// [`SERVER_COLS`] followed by a backend's own columns. `T` must be 26 + `tail.len()`
/// (checked at compile time where used in a `const`).
pub(crate) const fn server_cols<const T: usize>(tail: &[Col]) -> [Col; T] {
    let mut out = [Col::mean("", ""); T];
    let mut i = 0;
    while i < T {
        out[i] = if i < SERVER_SHARED {
            SERVER_COLS[i]
        } else {
            tail[i - SERVER_SHARED]
        };
        i += 1;
    }
    out
}

/// What a server point takes from the host rather than from the numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Host {
    pub cores: u32,
    pub model: String,
    pub speed: u32,
    pub mem_total: u64,
    pub disk_total: u64,
    pub system: SystemInfo,
}

/// A server point from an aggregate over a series starting with [`SERVER_COLS`]. `scaled`:
/// the values are in the embedded store's units.
pub(crate) fn server_point<X>(
    a: &Acc<X>,
    cols: &[Col],
    scaled: bool,
    host: Host,
    peaks: bool,
) -> ServerStats {
    let scale = |i: usize| match cols.get(i) {
        Some(c) if scaled => c.scale,
        _ => 1.0,
    };
    let v = |i: usize| a.value(cols, i) / scale(i);
    let hundredths = |x: f64| (x * 100.0).round() / 100.0;
    let available = u(v(5));
    ServerStats {
        cpu: Cpu {
            percent: round1(v(0)),
            cores: host.cores,
            model: host.model,
            speed: host.speed,
            load_avg: LoadAvg {
                one: hundredths(v(1)),
                five: hundredths(v(2)),
                fifteen: hundredths(v(3)),
            },
        },
        memory: Memory {
            total: host.mem_total,
            used: host.mem_total.saturating_sub(available),
            free: u(v(4)),
            available,
            cached: u(v(6)),
            buffers: u(v(7)),
            percent: round1(v(8)),
        },
        disk: Disk {
            total: host.disk_total,
            used: u(v(9)),
            free: u(v(10)),
            percent: u8::try_from(u(v(11))).unwrap_or(100),
        },
        network: Network {
            bytes_in: u(v(12)),
            bytes_out: u(v(13)),
            packets_in: u(v(14)),
            packets_out: u(v(15)),
        },
        processes: Processes {
            total: u32_(v(16)),
            running: u32_(v(17)),
            sleeping: u32_(v(18)),
            stopped: u32_(v(19)),
        },
        uptime: u(v(20)),
        totals: Totals {
            sites: u32_(v(21)),
            services: u32_(v(22)),
            users: u32_(v(23)),
            services_running: u32_(v(24)),
            services_stopped: u32_(v(25)),
        },
        system: host.system,
        timestamp: from_millis(a.ts()),
        max: peaks.then(|| PeakPercents {
            cpu: a.peaks[0] / scale(0),
            memory: a.peaks[1] / scale(8),
            disk: a.peaks[2] / scale(11),
        }),
    }
}
