//! The metric families: the host, each site, each service unit, apid itself.

use super::text::{Exposition, Kind, Num};
use crate::http::state::AppState;
use crate::model::time::to_millis;
use crate::poller::LiveSnapshot;

pub(super) fn host(e: &mut Exposition, live: &LiveSnapshot) {
    use Kind::{Counter, Gauge};
    let Some(s) = &live.server else {
        return;
    };
    e.single(
        "twoine_host_cpu_percent",
        Gauge,
        "Busy share of all CPUs over the last interval, percent.",
        s.cpu.percent,
    );
    e.single("twoine_host_cpu_cores", Gauge, "Logical CPUs.", s.cpu.cores);
    e.single(
        "twoine_host_load1",
        Gauge,
        "Load average over 1 minute.",
        s.cpu.load_avg.one,
    );
    e.single(
        "twoine_host_load5",
        Gauge,
        "Load average over 5 minutes.",
        s.cpu.load_avg.five,
    );
    e.single(
        "twoine_host_load15",
        Gauge,
        "Load average over 15 minutes.",
        s.cpu.load_avg.fifteen,
    );
    e.single(
        "twoine_host_memory_total_bytes",
        Gauge,
        "Memory size.",
        s.memory.total,
    );
    e.single(
        "twoine_host_memory_used_bytes",
        Gauge,
        "Memory used (total - available).",
        s.memory.used,
    );
    e.single(
        "twoine_host_memory_available_bytes",
        Gauge,
        "Memory available for new work.",
        s.memory.available,
    );
    e.single(
        "twoine_host_memory_percent",
        Gauge,
        "Memory used, percent.",
        s.memory.percent,
    );
    e.single(
        "twoine_host_disk_total_bytes",
        Gauge,
        "Size of the filesystem holding /.",
        s.disk.total,
    );
    e.single(
        "twoine_host_disk_used_bytes",
        Gauge,
        "Used bytes of the filesystem holding /.",
        s.disk.used,
    );
    e.single(
        "twoine_host_disk_free_bytes",
        Gauge,
        "Bytes available to users on the filesystem holding /.",
        s.disk.free,
    );
    e.single(
        "twoine_host_disk_percent",
        Gauge,
        "Used share of the filesystem holding /, percent (as df).",
        s.disk.percent,
    );
    e.single(
        "twoine_host_network_receive_bytes_total",
        Counter,
        "Bytes received since boot, all interfaces but lo.",
        s.network.bytes_in,
    );
    e.single(
        "twoine_host_network_transmit_bytes_total",
        Counter,
        "Bytes sent since boot, all interfaces but lo.",
        s.network.bytes_out,
    );
    e.single(
        "twoine_host_network_receive_packets_total",
        Counter,
        "Packets received since boot, all interfaces but lo.",
        s.network.packets_in,
    );
    e.single(
        "twoine_host_network_transmit_packets_total",
        Counter,
        "Packets sent since boot, all interfaces but lo.",
        s.network.packets_out,
    );
    e.single(
        "twoine_host_uptime_seconds",
        Gauge,
        "Seconds since boot.",
        s.uptime,
    );
    e.family("twoine_host_processes", Gauge, "Processes by state.");
    for (state, n) in [
        ("total", s.processes.total),
        ("running", s.processes.running),
        ("sleeping", s.processes.sleeping),
        ("stopped", s.processes.stopped),
    ] {
        e.sample("twoine_host_processes", &[("state", state)], n);
    }
    e.single(
        "twoine_host_sample_timestamp_seconds",
        Gauge,
        "When the host was last sampled, Unix seconds.",
        to_millis(s.timestamp).max(0) as f64 / 1000.0,
    );
}

pub(super) fn sites(e: &mut Exposition, live: &LiveSnapshot) {
    use Kind::Gauge;
    if live.sites.is_empty() && live.site_errors.is_empty() {
        return;
    }
    type Get = fn(&crate::model::SiteStats) -> Num;
    let families: [(&str, &str, Get); 5] = [
        (
            "twoine_site_cpu_percent",
            "CPU of the site user's processes over the last interval, percent of one core.",
            |s| s.cpu.percent.into(),
        ),
        (
            "twoine_site_memory_bytes",
            "Resident memory of the site user's processes.",
            |s| s.memory.used_bytes.into(),
        ),
        (
            "twoine_site_disk_bytes",
            "Bytes under the site's directory (as du -sb).",
            |s| s.disk.used_bytes.into(),
        ),
        (
            "twoine_site_files",
            "Regular files under the site's directory.",
            |s| s.disk.file_count.into(),
        ),
        (
            "twoine_site_services_running",
            "Services of the site running.",
            |s| s.services.running.into(),
        ),
    ];
    for (name, help, get) in families {
        e.family(name, Gauge, help);
        for s in &live.sites {
            e.sample(name, &[("site", &s.site.name)], get(s));
        }
    }
    e.family(
        "twoine_site_measure_error",
        Gauge,
        "1 when the last poll could not measure the site.",
    );
    for s in &live.sites {
        e.sample("twoine_site_measure_error", &[("site", &s.site.name)], 0u64);
    }
    for s in &live.site_errors {
        e.sample("twoine_site_measure_error", &[("site", &s.site.name)], 1u64);
    }
}

pub(super) fn services(e: &mut Exposition, live: &LiveSnapshot) {
    use Kind::Gauge;
    if live.services.is_empty() {
        return;
    }
    e.family(
        "twoine_service_state_known",
        Gauge,
        "1 when the unit's state is known.",
    );
    for s in &live.services {
        e.sample(
            "twoine_service_state_known",
            &[("unit", &s.unit)],
            s.state.is_some(),
        );
    }
    e.family(
        "twoine_service_active",
        Gauge,
        "1 when the unit is active (or reloading).",
    );
    for s in &live.services {
        if let Some(u) = &s.state {
            e.sample("twoine_service_active", &[("unit", &s.unit)], u.is_up());
        }
    }
    e.family(
        "twoine_service_memory_bytes",
        Gauge,
        "The unit's cgroup memory.",
    );
    for s in &live.services {
        if let Some(m) = s.state.as_ref().and_then(|u| u.memory_bytes) {
            e.sample("twoine_service_memory_bytes", &[("unit", &s.unit)], m);
        }
    }
    e.family(
        "twoine_service_restarts",
        Gauge,
        "Automatic restarts of the unit (NRestarts).",
    );
    for s in &live.services {
        if let Some(n) = s.state.as_ref().and_then(|u| u.restarts) {
            e.sample("twoine_service_restarts", &[("unit", &s.unit)], n);
        }
    }
}

pub(super) fn apid(e: &mut Exposition, state: &AppState, live: &LiveSnapshot) {
    use Kind::{Counter, Gauge};
    e.family(
        "twoine_apid_http_requests_total",
        Counter,
        "HTTP responses by status class.",
    );
    for (class, n) in ["1xx", "2xx", "3xx", "4xx", "5xx"]
        .into_iter()
        .zip(state.counters.http_requests())
    {
        e.sample("twoine_apid_http_requests_total", &[("class", class)], n);
    }
    e.single(
        "twoine_apid_polls_total",
        Counter,
        "Polls attempted since start.",
        live.polls,
    );
    e.single(
        "twoine_apid_store_pending",
        Gauge,
        "Snapshots waiting for the store.",
        live.store_pending,
    );
    e.single(
        "twoine_apid_store_dropped_total",
        Counter,
        "Snapshots lost since start (buffer overflow or refused).",
        live.store_dropped,
    );
    e.single(
        "twoine_apid_agent_connected",
        Gauge,
        "1 when the last call reached the agent.",
        state.agent.state().connected,
    );
    e.single(
        "twoine_apid_stale",
        Gauge,
        "1 while the agent is away and the figures above are not refreshed.",
        live.stale_since.is_some(),
    );
    e.single(
        "twoine_apid_uptime_seconds",
        Gauge,
        "Seconds since apid started.",
        state.started.elapsed().as_secs_f64(),
    );
}
