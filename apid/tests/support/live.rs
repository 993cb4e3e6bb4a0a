//! Realistic poller outputs for API tests: server and site samples, service units, and a
//! [`LiveSnapshot`] made of them (what the poller would publish).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use twoine_apid::model::*;
use twoine_apid::poller::{LiveSnapshot, ServiceLive, SiteError, UnitInfo};

/// A server sample at `at` with `cpu` percent busy (other figures realistic and fixed).
pub fn server_stats(at: Timestamp, cpu: f64) -> ServerStats {
    serde_json::from_value(json!({
        "cpu": {"percent": cpu, "cores": 4, "model": "AMD EPYC 7543", "speed": 2800,
                "loadAvg": {"one": 0.42, "five": 0.37, "fifteen": 0.3}},
        "memory": {"total": 8_264_036_352u64, "used": 3_305_614_540u64, "free": 1_020_000_000u64,
                   "available": 4_958_421_812u64, "cached": 3_100_000_000u64,
                   "buffers": 210_000_000u64, "percent": 40.0},
        "disk": {"total": 84_014_424_064u64, "used": 25_204_327_219u64, "free": 54_500_000_000u64,
                 "percent": 32},
        "network": {"bytesIn": 9_876_543_210u64, "bytesOut": 1_234_567_890u64,
                    "packetsIn": 12_345_678u64, "packetsOut": 8_765_432u64},
        "processes": {"total": 187, "running": 2, "sleeping": 185, "stopped": 0},
        "uptime": 864_000u64,
        "totals": {"sites": 2, "services": 2, "users": 10, "servicesRunning": 1, "servicesStopped": 1},
        "system": {"hostname": "web-01", "platform": "linux", "arch": "x64",
                   "release": "5.15.0-91-generic", "type": "Linux"},
        "timestamp": at.to_rfc3339(),
    }))
    .unwrap()
}

/// A sample of site `id` named `name` at `at` with `cpu` percent of one core.
pub fn site_stats(id: Id, name: &str, at: Timestamp, cpu: f64) -> SiteStats {
    serde_json::from_value(json!({
        "cpu": {"percent": cpu, "timeMs": 123_456u64},
        "memory": {"usedBytes": 134_217_728u64, "percent": 25.0, "limit": 512},
        "disk": {"usedBytes": 268_435_456u64, "percent": 25.0, "limit": 1024, "fileCount": 4321},
        "services": {"total": 1, "running": 1, "stopped": 0, "failed": 0},
        "site": {"id": id, "name": name, "displayName": name.to_uppercase(), "status": "active"},
        "domains": [{"domain": format!("{name}.example"), "ssl": true}],
        "ports": {"start": 10000, "end": 10009},
        "limits": {"memory": 512, "cpu": 100.0, "disk": 1024},
        "timestamp": at.to_rfc3339(),
    }))
    .unwrap()
}

/// The `{site, error}` of a site the poll could not measure.
pub fn site_error(id: Id, name: &str, error: &str) -> SiteError {
    SiteError {
        site: SiteInfo {
            id,
            name: name.to_owned(),
            display_name: name.to_uppercase(),
            status: SiteStatus::Active,
        },
        error: error.to_owned(),
    }
}

/// A running unit, active since `since`.
pub fn running_unit(name: &str, since: Timestamp, now: Timestamp) -> UnitInfo {
    UnitInfo {
        name: name.to_owned(),
        load_state: "loaded".to_owned(),
        active_state: "active".to_owned(),
        sub_state: "running".to_owned(),
        result: "success".to_owned(),
        main_pid: Some(4242),
        active_since: Some(since),
        memory_bytes: Some(52_428_800),
        cpu_nsec: Some(12_345_000_000),
        restarts: Some(2),
        observed_at: now,
    }
}

/// A failed unit.
pub fn failed_unit(name: &str, now: Timestamp) -> UnitInfo {
    UnitInfo {
        name: name.to_owned(),
        load_state: "loaded".to_owned(),
        active_state: "failed".to_owned(),
        sub_state: "failed".to_owned(),
        result: "exit-code".to_owned(),
        main_pid: None,
        active_since: None,
        memory_bytes: None,
        cpu_nsec: Some(1_000_000_000),
        restarts: Some(5),
        observed_at: now,
    }
}

/// A service as the poller follows it.
pub fn service_live(
    service: Id,
    site: Id,
    name: &str,
    unit: &str,
    state: Option<UnitInfo>,
) -> ServiceLive {
    ServiceLive {
        service,
        site,
        name: name.to_owned(),
        unit: unit.to_owned(),
        desired: DesiredState::Running,
        state,
    }
}

/// A fresh snapshot taken at `now` holding `server`.
pub fn snapshot(now: Timestamp, server: Option<ServerStats>) -> LiveSnapshot {
    LiveSnapshot {
        server,
        taken_at: Some(now),
        polls: 7,
        ..LiveSnapshot::default()
    }
}
