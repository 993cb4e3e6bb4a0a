//! Pins the JSON shapes of CONTRACT §4 and the tolerant reads of §2.

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;

fn t(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn id_round_trips_as_24_hex_and_rejects_anything_else() {
    let id: Id = "65A1b2c3d4e5f60718293a4b".parse().unwrap();
    assert_eq!(
        serde_json::to_value(id).unwrap(),
        json!("65a1b2c3d4e5f60718293a4b")
    );
    for bad in [
        "",
        "65a1b2c3d4e5f60718293a4",
        "65a1b2c3d4e5f60718293a4bc",
        "zza1b2c3d4e5f60718293a4b",
        "{\"$ne\":1}",
    ] {
        assert!(bad.parse::<Id>().is_err(), "{bad}");
    }
    let ext: Id = serde_json::from_value(json!({"$oid": "65a1b2c3d4e5f60718293a4b"})).unwrap();
    assert_eq!(ext, id);
    let a = Id::generate();
    let b = Id::generate();
    assert_ne!(a, b);
    assert_eq!(a.to_string().len(), 24);
}

#[test]
fn installer_admin_reads_as_active_with_no_sites_and_never_shows_its_password() {
    let doc = json!({
        "_id": {"$oid": "65a1b2c3d4e5f60718293a4b"},
        "username": "admin", "email": "admin@example.org",
        "password": "$2b$12$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ12",
        "role": "admin", "createdAt": {"$date": "2024-03-01T10:00:00Z"}, "__v": 0
    });
    let u: User = serde_json::from_value(doc).unwrap();
    assert_eq!(u.status, UserStatus::Active);
    assert!(u.sites.is_empty());
    assert_eq!(u.failed_login_attempts, 0);
    assert!(u.password_hash.is_some());
    assert!(
        !format!("{u:?}").contains("$2b$"),
        "Debug must redact the hash"
    );
    let out = serde_json::to_value(&u).unwrap();
    assert_eq!(out["id"], "65a1b2c3d4e5f60718293a4b");
    assert_eq!(out["status"], "active");
    assert!(out.get("password").is_none());
    assert_eq!(out["sites"], json!([]));
}

#[test]
fn site_and_service_limits_default_as_twoine_and_keep_their_field_names() {
    let site: Site = serde_json::from_value(json!({
        "_id": "65a1b2c3d4e5f60718293a4b", "name": "blog", "owner": "65a1b2c3d4e5f60718293a4c",
        "status": "deleted", "extra": true
    }))
    .unwrap();
    assert_eq!(site.status, SiteStatus::Deleted);
    assert_eq!(
        (
            site.resources.max_memory_mb,
            site.resources.max_cpu_percent,
            site.resources.max_disk_mb
        ),
        (512, 100.0, 1024)
    );
    let out = serde_json::to_value(&site).unwrap();
    assert_eq!(
        out["resources"],
        json!({"maxMemoryMB": 512, "maxCpuPercent": 100.0, "maxDiskMB": 1024})
    );
    assert_eq!(
        keys(&out),
        [
            "displayName",
            "id",
            "linuxUser",
            "name",
            "owner",
            "paths",
            "portRange",
            "resources",
            "status"
        ]
    );

    let svc: Service = serde_json::from_value(json!({
        "_id": "65a1b2c3d4e5f60718293a4d", "site": "65a1b2c3d4e5f60718293a4b", "name": "api",
        "type": "node", "systemd": {"serviceName": "twoine-blog-api"},
        "status": {"current": "running", "desired": "running"}
    }))
    .unwrap();
    assert_eq!(
        (svc.resources.max_memory_mb, svc.resources.max_cpu_percent),
        (256, 50.0)
    );
    let out = serde_json::to_value(&svc).unwrap();
    assert_eq!(out["systemd"], json!({"serviceName": "twoine-blog-api"}));
    assert_eq!(
        out["status"],
        json!({"current": "running", "desired": "running"})
    );
    assert_eq!(out["type"], "node");
}

pub(crate) fn server_sample(ts: Timestamp, cpu: f64) -> ServerStats {
    ServerStats {
        cpu: Cpu {
            percent: cpu,
            cores: 2,
            model: "EPYC".into(),
            speed: 2445,
            load_avg: LoadAvg {
                one: 0.52,
                five: 0.4,
                fifteen: 0.3,
            },
        },
        memory: Memory {
            total: 4_000_000_000,
            used: 1_000_000_000,
            free: 500_000_000,
            available: 3_000_000_000,
            cached: 2_000_000_000,
            buffers: 100_000_000,
            percent: 25.0,
        },
        disk: Disk {
            total: 40_000_000_000,
            used: 10_000_000_000,
            free: 28_000_000_000,
            percent: 27,
        },
        network: Network {
            bytes_in: 1_000_000,
            bytes_out: 2_000_000,
            packets_in: 1000,
            packets_out: 2000,
        },
        processes: Processes {
            total: 200,
            running: 1,
            sleeping: 199,
            stopped: 0,
        },
        uptime: 3600,
        totals: Totals {
            sites: 2,
            services: 3,
            users: 4,
            services_running: 2,
            services_stopped: 1,
        },
        system: SystemInfo {
            hostname: "web1".into(),
            platform: "linux".into(),
            arch: "x64".into(),
            release: "6.8.0".into(),
            kind: "Linux".into(),
        },
        timestamp: ts,
        max: None,
    }
}

#[test]
fn server_stats_shape_percents_one_decimal_disk_integer_times_iso_ms() {
    let s = server_sample(t("2025-01-02T03:04:05.678Z"), 93.4449);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        keys(&v),
        [
            "cpu",
            "disk",
            "memory",
            "network",
            "processes",
            "system",
            "timestamp",
            "totals",
            "uptime"
        ]
    );
    assert_eq!(v["cpu"]["percent"], json!(93.4));
    assert_eq!(
        keys(&v["cpu"]),
        ["cores", "loadAvg", "model", "percent", "speed"]
    );
    assert_eq!(v["disk"]["percent"], json!(27));
    assert!(v["disk"]["percent"].is_u64());
    assert!(v["memory"]["percent"].is_f64());
    assert_eq!(v["timestamp"], "2025-01-02T03:04:05.678Z");
    assert_eq!(
        keys(&v["network"]),
        ["bytesIn", "bytesOut", "packetsIn", "packetsOut"]
    );
    assert_eq!(
        keys(&v["totals"]),
        [
            "services",
            "servicesRunning",
            "servicesStopped",
            "sites",
            "users"
        ]
    );
    assert_eq!(v["system"]["type"], "Linux");
    let back: ServerStats = serde_json::from_value(v).unwrap();
    assert_eq!(back.timestamp, s.timestamp);
}

#[test]
fn site_stats_shape() {
    let s = SiteStats {
        cpu: SiteCpu {
            percent: 133.333,
            time_ms: 0,
        },
        memory: SiteMemory {
            used_bytes: 1,
            percent: 0.04,
            limit: 512,
        },
        disk: SiteDisk {
            used_bytes: 2,
            percent: 50.06,
            limit: 1024,
            file_count: 3,
        },
        services: ServiceCounts {
            total: 1,
            running: 1,
            stopped: 0,
            failed: 0,
        },
        site: SiteInfo {
            id: Id::from_bytes([1; 12]),
            name: "blog".into(),
            display_name: "Blog".into(),
            status: SiteStatus::Active,
        },
        domains: vec![DomainInfo {
            domain: "blog.example".into(),
            ssl: true,
        }],
        ports: Ports {
            start: 3000,
            end: 3009,
        },
        limits: Limits {
            memory: 512,
            cpu: 100.0,
            disk: 1024,
        },
        timestamp: chrono::Utc.timestamp_millis_opt(0).unwrap(),
        max: None,
    };
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        keys(&v),
        [
            "cpu",
            "disk",
            "domains",
            "limits",
            "memory",
            "ports",
            "services",
            "site",
            "timestamp"
        ]
    );
    assert_eq!(v["cpu"], json!({"percent": 133.3, "timeMs": 0}));
    assert_eq!(
        v["memory"],
        json!({"usedBytes": 1, "percent": 0.0, "limit": 512})
    );
    assert_eq!(v["disk"]["percent"], json!(50.1));
    assert_eq!(v["disk"]["fileCount"], 3);
    assert_eq!(
        v["site"],
        json!({"id": "010101010101010101010101", "name": "blog", "displayName": "Blog", "status": "active"})
    );
    assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
}

#[test]
fn alert_view_shape_and_system_resolution_marker() {
    let id = Id::from_bytes([2; 12]);
    let alert = Alert {
        id,
        kind: AlertType::CpuHigh,
        severity: Severity::Critical,
        message: "CPU critique : 93.4 %".into(),
        data: json!({"value": 93.4, "threshold": 90.0}),
        site: None,
        service: None,
        status: AlertStatus::Resolved,
        acknowledged_by: None,
        acknowledged_at: None,
        created_at: t("2025-01-02T03:04:05Z"),
        resolved_at: Some(t("2025-01-02T03:14:05Z")),
        resolved_by: Some(ResolvedBy::SYSTEM),
        clear_since: Some(t("2025-01-02T03:09:05Z")),
    };
    let v = serde_json::to_value(AlertView::new(alert, None, None, None)).unwrap();
    assert_eq!(
        keys(&v),
        [
            "acknowledgedAt",
            "acknowledgedBy",
            "createdAt",
            "data",
            "id",
            "message",
            "resolvedAt",
            "resolvedBy",
            "service",
            "severity",
            "site",
            "status",
            "type"
        ]
    );
    assert_eq!(v["type"], "cpu_high");
    assert_eq!(v["site"], Value::Null);
    assert_eq!(v["acknowledgedBy"], Value::Null);
    assert_eq!(v["resolvedBy"], "system");
    assert_eq!(v["createdAt"], "2025-01-02T03:04:05.000Z");
    let by_user: ResolvedBy = serde_json::from_value(json!("020202020202020202020202")).unwrap();
    assert_eq!(by_user, ResolvedBy::User(id));
    let sys: ResolvedBy = serde_json::from_value(json!("system")).unwrap();
    assert_eq!(sys, ResolvedBy::SYSTEM);
}

#[test]
fn config_defaults_shape_and_validation() {
    let c: MonitoringConfig =
        serde_json::from_value(json!({"_id": "monitoring_config", "__v": 0})).unwrap();
    assert_eq!(c, MonitoringConfig::default());
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["_id"], "monitoring_config");
    assert_eq!(v["collectionInterval"], 30);
    assert_eq!(v["retentionHours"], 24);
    assert_eq!(v["autoResolveMinutes"], 5);
    assert_eq!(
        v["alertThresholds"]["memory"],
        json!({"warning": 75.0, "critical": 90.0})
    );
    assert_eq!(v["alertsEnabled"], true);
    assert_eq!(v["siteStatsEnabled"], true);
    assert!(c.validate().is_ok());

    let mut bad = c.clone();
    bad.collection_interval = 9;
    bad.retention_hours = 169;
    bad.alert_thresholds.cpu.warning = 90.0;
    bad.alert_thresholds.disk.critical = 101.0;
    let fields: Vec<String> = bad
        .validate()
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "collectionInterval",
            "retentionHours",
            "alertThresholds.cpu",
            "alertThresholds.disk.critical"
        ]
    );
    let mut edge = c;
    edge.collection_interval = 300;
    edge.retention_hours = 1;
    edge.alert_thresholds.cpu = Threshold {
        warning: 0.0,
        critical: 100.0,
    };
    assert!(edge.validate().is_ok());
}
