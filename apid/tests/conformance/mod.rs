//! One conformance suite for every store backend. A backend provides a [`Harness`] (a fresh,
//! empty store plus a way to import documents shaped as Twoine's MongoDB holds them) and runs
//! every check with one line:
//!
//! ```ignore
//! mod conformance;
//! conformance::conformance_tests!(my_harness_constructor);
//! ```
//!
//! The checks assert what the API will show, with the same assertions for every backend.

#![allow(
    dead_code,
    clippy::field_reassign_with_default,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};
use twoine_apid::model::*;
use twoine_apid::store::*;

/// A fresh store for one check.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The store under test.
    fn store(&self) -> &dyn Store;
    /// Inserts a document exactly as Twoine's MongoDB would hold it.
    async fn import(&self, collection: &str, doc: Value);
}

/// Generates one `#[tokio::test]` per check, each on its own fresh harness.
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance::conformance_tests!(@each $make;
            installer_admin_reads_as_active_with_no_sites,
            soft_deleted_sites_are_excluded_where_twoine_excludes_them,
            sites_of_a_user_by_owner_or_access,
            services_by_unit_and_the_status_write,
            domains_and_database_counts,
            latest_and_history_of_24h_of_2880_snapshots,
            site_history_and_latest,
            window_older_than_raw_retention_comes_from_rollups,
            prune_removes_exactly_what_is_past_retention,
            resolved_alerts_expire_7_days_after_resolved_at,
            alert_filters_newest_first_at_most_100,
            alert_severity_filter_is_applied_before_the_cap,
            alert_lifecycle,
            config_round_trip_and_defaults_when_absent,
            invalid_history_requests_are_refused,
            user_status_write,
            remove_site_access_takes_one_entry_away,
            set_password_replaces_the_hash_only
        );
    };
    (@each $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let harness = $make().await;
                $crate::conformance::$name(&harness).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;

fn oid(n: u32) -> String {
    format!("{n:024x}")
}

fn id(n: u32) -> Id {
    oid(n).parse().unwrap()
}

/// 2025-06-01T12:00:00Z, on a 1-hour boundary.
fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn installer_admin() -> Value {
    json!({
        "_id": {"$oid": oid(1)}, "username": "admin", "email": "Admin@Example.org",
        "password": "$2b$12$012345678901234567890uABCDEFGHIJKLMNOPQRSTUVWXYZabcd",
        "role": "admin", "createdAt": {"$date": "2024-01-01T00:00:00.000Z"}, "__v": 0
    })
}

fn site_doc(n: u32, name: &str, owner: u32, status: &str) -> Value {
    json!({
        "_id": {"$oid": oid(n)}, "name": name, "displayName": name.to_uppercase(),
        "owner": {"$oid": oid(owner)}, "status": status, "__v": 0, "nginxConfig": {"x": 1},
        "linuxUser": {"username": format!("site_{name}"), "uid": 1000 + n, "gid": 1000 + n},
        "paths": {"root": format!("/var/www/twoine/{name}")},
        "portRange": {"start": 3000 + n * 10, "end": 3009 + n * 10}
    })
}

fn service_doc(n: u32, site: u32, site_name: &str, name: &str) -> Value {
    json!({
        "_id": {"$oid": oid(n)}, "site": {"$oid": oid(site)}, "name": name, "type": "node",
        "systemd": {"serviceName": format!("twoine-{site_name}-{name}")},
        "status": {"current": "running", "desired": "running"}, "__v": 3
    })
}

pub async fn installer_admin_reads_as_active_with_no_sites(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    let s = h.store();
    let u = s.user(id(1)).await.unwrap().expect("admin");
    assert_eq!(
        (u.username.as_str(), u.role, u.status),
        ("admin", Role::Admin, UserStatus::Active)
    );
    assert!(u.sites.is_empty());
    assert_eq!(u.failed_login_attempts, 0);
    assert!(u.password_hash.is_some(), "the hash is readable for login");
    assert_eq!(
        s.user_by_login("admin").await.unwrap().map(|u| u.id),
        Some(id(1))
    );
    assert_eq!(
        s.user_by_login("admin@example.org")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(id(1))
    );
    assert!(s.user_by_login("nobody").await.unwrap().is_none());
    assert!(s.user(id(99)).await.unwrap().is_none());
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert!(s.sites_of_user(id(1)).await.unwrap().is_empty());
}

/// `twoine-apid unassign`: one access entry goes, the rest of the user and ownership stay.
pub async fn remove_site_access_takes_one_entry_away(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("users", json!({
        "_id": {"$oid": oid(2)}, "username": "alice", "email": "alice@example.org", "role": "user",
        "status": "active", "failedLoginAttempts": 0,
        "password": "$2b$12$012345678901234567890uABCDEFGHIJKLMNOPQRSTUVWXYZabcd",
        "sites": [
            {"site": {"$oid": oid(11)}, "accessLevel": "collaborator", "assignedAt": {"$date": "2024-05-01T00:00:00Z"}},
            {"site": {"$oid": oid(12)}, "accessLevel": "readonly", "assignedAt": {"$date": "2024-05-02T00:00:00Z"}}
        ]
    })).await;
    h.import("sites", site_doc(10, "alpha", 2, "active")).await;
    h.import("sites", site_doc(11, "beta", 1, "active")).await;
    h.import("sites", site_doc(12, "gamma", 1, "active")).await;
    let s = h.store();
    let names = |sites: Vec<Site>| sites.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.sites_of_user(id(2)).await.unwrap()),
        ["alpha", "beta", "gamma"]
    );
    assert!(s.remove_site_access(id(2), id(11)).await.unwrap(), "had it");
    let alice = s.user(id(2)).await.unwrap().unwrap();
    assert_eq!(alice.sites.len(), 1);
    assert_eq!(alice.sites[0].site, id(12));
    assert_eq!(alice.sites[0].access_level, AccessLevel::Readonly);
    assert_eq!((alice.status, alice.role), (UserStatus::Active, Role::User));
    assert!(alice.password_hash.is_some(), "the hash is kept");
    assert_eq!(
        names(s.sites_of_user(id(2)).await.unwrap()),
        ["alpha", "gamma"]
    );
    assert!(
        !s.remove_site_access(id(2), id(11)).await.unwrap(),
        "a second time: nothing to remove"
    );
    assert!(
        !s.remove_site_access(id(2), id(10)).await.unwrap(),
        "owning is not an access entry"
    );
    assert_eq!(
        names(s.sites_of_user(id(2)).await.unwrap()),
        ["alpha", "gamma"]
    );
    assert!(
        !s.remove_site_access(id(2), id(77)).await.unwrap(),
        "unknown site: nothing to remove"
    );
    assert!(matches!(
        s.remove_site_access(id(99), id(11)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.user(id(1)).await.unwrap().unwrap().sites.len(), 0);
}

/// Blocking a user (the WebSocket closes their sockets on it) keeps the rest of the record.
pub async fn user_status_write(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("sites", site_doc(10, "blog", 1, "active")).await;
    let s = h.store();
    let access = SiteAccess {
        site: id(10),
        access_level: AccessLevel::Collaborator,
        assigned_at: None,
    };
    s.assign_site(id(1), access).await.unwrap();
    s.set_user_status(id(1), UserStatus::Blocked).await.unwrap();
    let u = s.user(id(1)).await.unwrap().unwrap();
    assert_eq!((u.status, u.role), (UserStatus::Blocked, Role::Admin));
    assert_eq!(u.sites.len(), 1);
    assert!(u.password_hash.is_some(), "the hash is kept");
    s.set_user_status(id(1), UserStatus::Active).await.unwrap();
    assert_eq!(
        s.user(id(1)).await.unwrap().unwrap().status,
        UserStatus::Active
    );
    assert!(matches!(
        s.set_user_status(id(99), UserStatus::Blocked).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn soft_deleted_sites_are_excluded_where_twoine_excludes_them(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("sites", site_doc(10, "blog", 1, "active")).await;
    h.import("sites", site_doc(11, "old", 1, "deleted")).await;
    h.import("services", service_doc(20, 10, "blog", "api"))
        .await;
    h.import("services", service_doc(21, 11, "old", "api"))
        .await;
    let s = h.store();
    let names: Vec<String> = s
        .sites()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["blog"]);
    assert_eq!(s.count_sites().await.unwrap(), 1);
    let mine: Vec<String> = s
        .sites_of_user(id(1))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(mine, ["blog"]);
    let old = s
        .site(id(11))
        .await
        .unwrap()
        .expect("a deleted site is still found by id (old alerts name it)");
    assert_eq!(old.status, SiteStatus::Deleted);
    let services: Vec<Id> = s
        .services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(services, [id(20)]);
    let blog = s.site(id(10)).await.unwrap().unwrap();
    assert_eq!(
        blog.resources,
        SiteResources {
            max_memory_mb: 512,
            max_cpu_percent: 100.0,
            max_disk_mb: 1024
        }
    );
    assert_eq!((blog.port_range.start, blog.port_range.end), (3100, 3109));
    assert_eq!(blog.linux_user.username, "site_blog");
}

pub async fn sites_of_a_user_by_owner_or_access(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("users", json!({
        "_id": {"$oid": oid(2)}, "username": "alice", "email": "alice@example.org", "role": "user",
        "status": "active", "failedLoginAttempts": 0,
        "sites": [{"site": {"$oid": oid(11)}, "accessLevel": "collaborator", "assignedAt": {"$date": "2024-05-01T00:00:00Z"}}]
    })).await;
    h.import("sites", site_doc(10, "alpha", 2, "active")).await;
    h.import("sites", site_doc(11, "beta", 1, "active")).await;
    h.import("sites", site_doc(12, "gamma", 1, "stopped")).await;
    let s = h.store();
    let names: Vec<String> = s
        .sites_of_user(id(2))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    let alice = s.user(id(2)).await.unwrap().unwrap();
    assert_eq!(alice.sites[0].access_level, AccessLevel::Collaborator);
    assert!(s.sites_of_user(id(99)).await.unwrap().is_empty());
}

pub async fn services_by_unit_and_the_status_write(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("sites", site_doc(10, "blog", 1, "active")).await;
    h.import("services", service_doc(20, 10, "blog", "api"))
        .await;
    h.import("services", service_doc(21, 10, "blog", "worker"))
        .await;
    let s = h.store();
    assert_eq!(
        s.service_by_unit("twoine-blog-api")
            .await
            .unwrap()
            .map(|s| s.id),
        Some(id(20))
    );
    assert_eq!(
        s.service_by_unit("twoine-blog-api.service")
            .await
            .unwrap()
            .map(|s| s.id),
        Some(id(20))
    );
    assert!(s.service_by_unit("twoine-api").await.unwrap().is_none());
    let names: Vec<String> = s
        .services_of_site(id(10))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["api", "worker"]);
    let svc = s.service(id(21)).await.unwrap().unwrap();
    assert_eq!(
        svc.resources,
        ServiceResources {
            max_memory_mb: 256,
            max_cpu_percent: 50.0
        }
    );
    let stopped = ServiceStatus {
        current: ServiceState::Stopped,
        desired: DesiredState::Stopped,
    };
    s.set_service_status(id(21), stopped).await.unwrap();
    assert_eq!(s.service(id(21)).await.unwrap().unwrap().status, stopped);
    assert_eq!(
        s.service(id(20)).await.unwrap().unwrap().status.current,
        ServiceState::Running
    );
    assert!(matches!(
        s.set_service_status(id(99), stopped).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn domains_and_database_counts(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("sites", site_doc(10, "blog", 1, "active")).await;
    h.import("domains", json!({"_id": {"$oid": oid(30)}, "domain": "www.blog.example", "site": {"$oid": oid(10)}, "ssl": {"enabled": true}})).await;
    h.import(
        "domains",
        json!({"_id": {"$oid": oid(31)}, "domain": "blog.example", "site": {"$oid": oid(10)}}),
    )
    .await;
    for (n, kind) in [(40, "mysql"), (41, "mysql"), (42, "postgresql")] {
        h.import("databases", json!({"_id": {"$oid": oid(n)}, "type": kind, "site": {"$oid": oid(10)}, "name": format!("db{n}")})).await;
    }
    let s = h.store();
    let d: Vec<(String, bool)> = s
        .domains_of_site(id(10))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.domain, d.ssl.enabled))
        .collect();
    assert_eq!(
        d,
        [
            ("blog.example".to_owned(), false),
            ("www.blog.example".to_owned(), true)
        ]
    );
    let c = s.database_counts().await.unwrap();
    assert_eq!(
        serde_json::to_value(c).unwrap(),
        json!({"total": 3, "byType": {"mongodb": 0, "mysql": 2, "postgresql": 1}})
    );
}

/// A server sample whose CPU follows `cpu`.
pub fn server_sample(ts: Timestamp, cpu: f64) -> ServerStats {
    ServerStats {
        cpu: Cpu {
            percent: cpu,
            cores: 2,
            model: "AMD EPYC".into(),
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
            bytes_in: 1_000_000 + ts.timestamp() as u64,
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

/// A site sample for site `id(10)` named "blog".
pub fn site_sample(ts: Timestamp, cpu: f64) -> SiteStats {
    SiteStats {
        cpu: SiteCpu {
            percent: cpu,
            time_ms: 1000,
        },
        memory: SiteMemory {
            used_bytes: 100_000_000,
            percent: 18.6,
            limit: 512,
        },
        disk: SiteDisk {
            used_bytes: 300_000_000,
            percent: 27.9,
            limit: 1024,
            file_count: 1234,
        },
        services: ServiceCounts {
            total: 2,
            running: 1,
            stopped: 1,
            failed: 0,
        },
        site: SiteInfo {
            id: id(10),
            name: "blog".into(),
            display_name: "BLOG".into(),
            status: SiteStatus::Active,
        },
        domains: vec![],
        ports: Ports {
            start: 3100,
            end: 3109,
        },
        limits: Limits {
            memory: 512,
            cpu: 100.0,
            disk: 1024,
        },
        timestamp: ts,
        max: None,
    }
}

async fn fill(s: &dyn Store, start: Timestamp, count: i64, step: Duration, with_site: bool) {
    for i in 0..count {
        let ts = start + step * i as i32;
        let cpu = (i % 100) as f64;
        let sites = if with_site {
            vec![site_sample(ts, cpu)]
        } else {
            vec![]
        };
        s.insert_snapshot(Some(&server_sample(ts, cpu)), &sites)
            .await
            .unwrap();
    }
}

fn assert_covers(points: &[Timestamp], w: Window, limit: usize) {
    assert!(!points.is_empty());
    assert!(points.len() <= limit, "{} points > {limit}", points.len());
    assert!(points.windows(2).all(|p| p[0] < p[1]), "ascending");
    let width = (w.to - w.from) / limit as i32;
    assert!(
        points[0] >= w.from && points[0] - w.from <= width * 2,
        "first point {} vs from {}",
        points[0],
        w.from
    );
    let last = points[points.len() - 1];
    assert!(
        last < w.to && w.to - last <= width * 2,
        "last point {last} vs to {}",
        w.to
    );
}

pub async fn latest_and_history_of_24h_of_2880_snapshots(h: &impl Harness) {
    let s = h.store();
    assert!(s.latest_server_stats().await.unwrap().is_none());
    let start = now() - Duration::hours(24);
    fill(s, start, 2880, Duration::seconds(30), false).await;
    let latest = s.latest_server_stats().await.unwrap().unwrap();
    let expected = server_sample(now() - Duration::seconds(30), (2879 % 100) as f64);
    assert_eq!(
        serde_json::to_value(&latest).unwrap(),
        serde_json::to_value(&expected).unwrap()
    );

    let w = Window::last_hours(now(), 24);
    let points = s.server_history(w, 200).await.unwrap();
    assert_covers(
        &points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
        w,
        200,
    );
    assert!(
        points.len() >= 190,
        "the whole window is filled: {}",
        points.len()
    );
    let p = &points[0];
    assert_eq!(p.system.hostname, "web1");
    assert_eq!(p.memory.total, 4_000_000_000);
    assert_eq!(p.memory.used, 1_000_000_000);
    let max = p.max.expect("history points carry peaks");
    assert!(max.cpu >= p.cpu.percent && max.cpu <= 99.0);
    let mean: f64 = points.iter().map(|p| p.cpu.percent).sum::<f64>() / points.len() as f64;
    assert!((mean - 49.5).abs() < 3.0, "mean cpu {mean}");

    let hour = Window::last_hours(now(), 1);
    let points = s.server_history(hour, 60).await.unwrap();
    assert_eq!(
        points.len(),
        60,
        "120 samples in the last hour, 2 per point"
    );
    assert_covers(
        &points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
        hour,
        60,
    );
    let all = s.server_history(hour, 200).await.unwrap();
    assert_eq!(all.len(), 120, "fewer samples than the limit: every sample");
}

pub async fn site_history_and_latest(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("sites", site_doc(10, "blog", 1, "active")).await;
    h.import("domains", json!({"_id": {"$oid": oid(30)}, "domain": "blog.example", "site": {"$oid": oid(10)}, "ssl": {"enabled": true}})).await;
    let s = h.store();
    fill(
        s,
        now() - Duration::hours(2),
        240,
        Duration::seconds(30),
        true,
    )
    .await;
    let latest = s.latest_site_stats(id(10)).await.unwrap().unwrap();
    assert_eq!(latest.site.name, "blog");
    assert_eq!(
        latest.domains,
        [DomainInfo {
            domain: "blog.example".into(),
            ssl: true
        }]
    );
    assert_eq!((latest.ports.start, latest.ports.end), (3100, 3109));
    assert_eq!(
        latest.limits,
        Limits {
            memory: 512,
            cpu: 100.0,
            disk: 1024
        }
    );
    assert_eq!(latest.disk.file_count, 1234);
    assert_eq!(latest.memory.percent, 18.6);
    assert_eq!(latest.timestamp, now() - Duration::seconds(30));
    assert!(s.latest_site_stats(id(11)).await.unwrap().is_none());
    let w = Window::last_hours(now(), 1);
    let points = s.site_history(id(10), w, 30).await.unwrap();
    assert_eq!(points.len(), 30);
    assert_covers(
        &points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
        w,
        30,
    );
    assert!(s.site_history(id(11), w, 30).await.unwrap().is_empty());
}

pub async fn window_older_than_raw_retention_comes_from_rollups(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    h.import("sites", site_doc(10, "blog", 1, "active")).await;
    let s = h.store();
    // Three days, one sample per minute, CPU = the hour of day (so hourly means are exact).
    let start = now() - Duration::hours(72);
    for i in 0..(72 * 60) {
        let ts = start + Duration::minutes(i);
        let cpu = f64::from(ts.format("%H").to_string().parse::<u8>().unwrap());
        s.insert_snapshot(Some(&server_sample(ts, cpu)), &[site_sample(ts, cpu)])
            .await
            .unwrap();
    }
    let report = s.run_retention(now(), 24).await.unwrap();
    assert_eq!(report.pruned_server, 48 * 60);
    assert_eq!(report.pruned_site, 48 * 60);
    assert!(report.rolled_5m > 0 && report.rolled_1h > 0, "{report:?}");
    let old = Window {
        from: now() - Duration::hours(72),
        to: now() - Duration::hours(48),
    };
    for limit in [24usize, 200] {
        let points = s.server_history(old, limit).await.unwrap();
        assert_covers(
            &points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            old,
            limit,
        );
        let site = s.site_history(id(10), old, limit).await.unwrap();
        assert_eq!(site.len(), points.len());
        if limit == 24 {
            assert_eq!(points.len(), 24, "one point per hour");
            for p in &points {
                let hour = f64::from(p.timestamp.format("%H").to_string().parse::<u8>().unwrap());
                assert_eq!(p.cpu.percent, hour, "hourly mean at {}", p.timestamp);
            }
        }
    }
    // A window across the retention edge: roll-ups then raw, no gap, no double count.
    let edge = Window {
        from: now() - Duration::hours(30),
        to: now() - Duration::hours(18),
    };
    let points = s.server_history(edge, 12).await.unwrap();
    assert_eq!(points.len(), 12);
    assert_covers(
        &points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
        edge,
        12,
    );
    for p in &points {
        let hour = f64::from(p.timestamp.format("%H").to_string().parse::<u8>().unwrap());
        assert_eq!(p.cpu.percent, hour, "at {}", p.timestamp);
    }
}

pub async fn prune_removes_exactly_what_is_past_retention(h: &impl Harness) {
    let s = h.store();
    let edge = now() - Duration::hours(24);
    let times = [
        edge - Duration::hours(1),
        edge - Duration::milliseconds(1),
        edge,
        edge + Duration::hours(1),
    ];
    for t in times {
        s.insert_snapshot(Some(&server_sample(t, 10.0)), &[site_sample(t, 10.0)])
            .await
            .unwrap();
    }
    let report = s.run_retention(now(), 24).await.unwrap();
    assert_eq!((report.pruned_server, report.pruned_site), (2, 2));
    let left = s
        .server_history(Window::last_hours(now(), 24), 200)
        .await
        .unwrap();
    let left: Vec<Timestamp> = left.iter().map(|p| p.timestamp).collect();
    assert_eq!(left, [edge, edge + Duration::hours(1)]);
    let again = s.run_retention(now(), 24).await.unwrap();
    assert_eq!(
        (again.pruned_server, again.pruned_site, again.rolled_5m),
        (0, 0, 0),
        "a second pass is a no-op"
    );
}

fn alert(n: u32, status: AlertStatus, created: Timestamp, site: Option<Id>) -> Alert {
    Alert {
        id: id(n),
        kind: AlertType::CpuHigh,
        severity: Severity::Warning,
        message: format!("CPU élevé : {n}.0 %"),
        data: json!({"value": n, "threshold": 70}),
        site,
        service: None,
        status,
        acknowledged_by: None,
        acknowledged_at: None,
        created_at: created,
        resolved_at: (status == AlertStatus::Resolved).then_some(created + Duration::minutes(1)),
        resolved_by: (status == AlertStatus::Resolved).then_some(ResolvedBy::SYSTEM),
        clear_since: None,
    }
}

pub async fn resolved_alerts_expire_7_days_after_resolved_at(h: &impl Harness) {
    let s = h.store();
    let week = Duration::days(7);
    let mut gone = alert(1, AlertStatus::Resolved, now() - Duration::days(30), None);
    gone.resolved_at = Some(now() - week - Duration::seconds(1));
    let mut kept = alert(2, AlertStatus::Resolved, now() - Duration::days(30), None);
    kept.resolved_at = Some(now() - week + Duration::seconds(1));
    let old_active = alert(3, AlertStatus::Active, now() - Duration::days(30), None);
    let old_ack = alert(
        4,
        AlertStatus::Acknowledged,
        now() - Duration::days(30),
        None,
    );
    for a in [&gone, &kept, &old_active, &old_ack] {
        s.insert_alert(a).await.unwrap();
    }
    let report = s.run_retention(now(), 24).await.unwrap();
    assert_eq!(report.pruned_alerts, 1);
    assert!(s.alert(id(1)).await.unwrap().is_none());
    for n in [2, 3, 4] {
        assert!(s.alert(id(n)).await.unwrap().is_some(), "alert {n} kept");
    }
}

pub async fn alert_filters_newest_first_at_most_100(h: &impl Harness) {
    let s = h.store();
    let site = Some(id(500));
    for n in 1..=150u32 {
        let status = match n % 3 {
            0 => AlertStatus::Active,
            1 => AlertStatus::Acknowledged,
            _ => AlertStatus::Resolved,
        };
        let a = alert(
            n,
            status,
            now() - Duration::minutes(i64::from(200 - n)),
            if n % 2 == 0 { site } else { None },
        );
        s.insert_alert(&a).await.unwrap();
    }
    let open = s.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(open.len(), 100, "150 × 2/3 open, capped at 100");
    assert!(open.iter().all(|a| a.status.is_open()));
    assert!(
        open.windows(2).all(|w| w[0].created_at > w[1].created_at),
        "newest first"
    );
    assert_eq!(open[0].id, id(150));
    let resolved = s
        .list_alerts(&AlertFilter {
            statuses: vec![AlertStatus::Resolved],
            sites: None,
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(resolved.len(), 50);
    assert!(resolved.iter().all(|a| a.status == AlertStatus::Resolved));
    let of_site = s
        .list_alerts(&AlertFilter {
            statuses: vec![AlertStatus::Active],
            sites: Some(vec![id(500)]),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        of_site.len(),
        25,
        "active (n % 3 == 0) and of the site (n even): n % 6 == 0"
    );
    assert!(
        of_site
            .iter()
            .all(|a| a.site == site && a.status == AlertStatus::Active)
    );
    let none = s
        .list_alerts(&AlertFilter {
            statuses: vec![],
            sites: Some(vec![]),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty(), "a user with no sites sees no alert");
    let three = s
        .list_alerts(&AlertFilter {
            limit: 3,
            ..AlertFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        three.iter().map(|a| a.id).collect::<Vec<_>>(),
        [id(150), id(148), id(147)]
    );
}

pub async fn alert_severity_filter_is_applied_before_the_cap(h: &impl Harness) {
    let s = h.store();
    let mut critical = alert(1, AlertStatus::Active, now() - Duration::hours(5), None);
    critical.severity = Severity::Critical;
    s.insert_alert(&critical).await.unwrap();
    let mut error = alert(2, AlertStatus::Active, now() - Duration::hours(4), None);
    error.severity = Severity::Error;
    s.insert_alert(&error).await.unwrap();
    for n in 10..160u32 {
        let a = alert(
            n,
            AlertStatus::Active,
            now() - Duration::minutes(i64::from(200 - n)),
            None,
        );
        s.insert_alert(&a).await.unwrap();
    }
    let ids = |v: &[Alert]| v.iter().map(|a| a.id).collect::<Vec<_>>();
    let all = s.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(all.len(), 100, "152 open alerts, capped at 100");
    assert!(all.iter().all(|a| a.severity == Severity::Warning));
    let crit = s
        .list_alerts(&AlertFilter {
            severities: vec![Severity::Critical],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&crit), [id(1)], "older than 150 warnings, still found");
    let two = s
        .list_alerts(&AlertFilter {
            severities: vec![Severity::Error, Severity::Critical],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&two), [id(2), id(1)], "newest first");
    let warnings = s
        .list_alerts(&AlertFilter {
            severities: vec![Severity::Warning],
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(warnings.len(), 100, "capped at 100");
    assert_eq!(warnings[0].id, id(159));
    let info = s
        .list_alerts(&AlertFilter {
            severities: vec![Severity::Info],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(info.is_empty());
    let resolved_critical = s
        .list_alerts(&AlertFilter {
            statuses: vec![AlertStatus::Resolved],
            severities: vec![Severity::Critical],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(resolved_critical.is_empty(), "both filters apply");
}

pub async fn alert_lifecycle(h: &impl Harness) {
    let s = h.store();
    let mut a = alert(
        1,
        AlertStatus::Active,
        now() - Duration::hours(1),
        Some(id(10)),
    );
    a.service = Some(id(20));
    a.kind = AlertType::ServiceDown;
    a.severity = Severity::Error;
    s.insert_alert(&a).await.unwrap();
    assert_eq!(s.alert(id(1)).await.unwrap().unwrap(), a, "round trip");
    assert!(matches!(
        s.insert_alert(&a).await,
        Err(StoreError::Conflict(_))
    ));

    let at = now() - Duration::minutes(30);
    let acked = s.acknowledge_alert(id(1), id(2), at).await.unwrap();
    assert_eq!(
        (acked.status, acked.acknowledged_by, acked.acknowledged_at),
        (AlertStatus::Acknowledged, Some(id(2)), Some(at))
    );
    let again = s.acknowledge_alert(id(1), id(3), now()).await.unwrap();
    assert_eq!(
        again.acknowledged_by,
        Some(id(2)),
        "the first acknowledgement stays"
    );

    s.set_alert_clear_since(id(1), Some(now() - Duration::minutes(2)))
        .await
        .unwrap();
    assert_eq!(
        s.alert(id(1)).await.unwrap().unwrap().clear_since,
        Some(now() - Duration::minutes(2))
    );
    s.set_alert_clear_since(id(1), None).await.unwrap();
    assert_eq!(s.alert(id(1)).await.unwrap().unwrap().clear_since, None);

    let resolved = s
        .resolve_alert(id(1), now(), ResolvedBy::SYSTEM)
        .await
        .unwrap();
    assert_eq!(
        (resolved.status, resolved.resolved_at, resolved.resolved_by),
        (AlertStatus::Resolved, Some(now()), Some(ResolvedBy::SYSTEM))
    );
    assert_eq!(resolved.acknowledged_by, Some(id(2)));
    assert!(matches!(
        s.resolve_alert(id(1), now(), ResolvedBy::User(id(2))).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.acknowledge_alert(id(1), id(2), now()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.acknowledge_alert(id(9), id(2), now()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.resolve_alert(id(9), now(), ResolvedBy::SYSTEM).await,
        Err(StoreError::NotFound(_))
    ));

    let b = alert(2, AlertStatus::Active, now() - Duration::days(2), None);
    s.insert_alert(&b).await.unwrap();
    let by_user = s
        .resolve_alert(id(2), now(), ResolvedBy::User(id(7)))
        .await
        .unwrap();
    assert_eq!(by_user.resolved_by, Some(ResolvedBy::User(id(7))));
    s.insert_alert(&alert(
        3,
        AlertStatus::Active,
        now() - Duration::days(2),
        None,
    ))
    .await
    .unwrap();
    s.insert_alert(&alert(
        4,
        AlertStatus::Resolved,
        now() - Duration::minutes(3),
        None,
    ))
    .await
    .unwrap();
    let mut eval: Vec<Id> = s
        .alerts_for_evaluation(now() - Duration::minutes(5))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    eval.sort();
    assert_eq!(
        eval,
        [id(3), id(4)],
        "open ones, and any created within the window"
    );
}

pub async fn config_round_trip_and_defaults_when_absent(h: &impl Harness) {
    let s = h.store();
    assert_eq!(s.config().await.unwrap(), MonitoringConfig::default());
    let mut c = MonitoringConfig::default();
    c.collection_interval = 60;
    c.retention_hours = 168;
    c.alert_thresholds.cpu = Threshold {
        warning: 60.0,
        critical: 80.0,
    };
    c.alerts_enabled = false;
    c.auto_resolve_minutes = 10;
    s.put_config(&c).await.unwrap();
    assert_eq!(s.config().await.unwrap(), c);
    let mut bad = c.clone();
    bad.alert_thresholds.memory = Threshold {
        warning: 95.0,
        critical: 90.0,
    };
    assert!(matches!(
        s.put_config(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.config().await.unwrap(),
        c,
        "a refused config changes nothing"
    );
}

pub async fn invalid_history_requests_are_refused(h: &impl Harness) {
    let s = h.store();
    let w = Window {
        from: now(),
        to: now(),
    };
    assert!(matches!(
        s.server_history(w, 10).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.server_history(Window::last_hours(now(), 1), 0).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        s.server_history(Window::last_hours(now(), 1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn set_password_replaces_the_hash_only(h: &impl Harness) {
    h.import("users", installer_admin()).await;
    let s = h.store();
    let before = s.user(id(1)).await.unwrap().expect("admin");
    let hash = PasswordHash("$2b$12$abcdefghijklmnopqrstuuMDdpQbcGzUmJ7vGqIfkPZ.Gf3kPGcZy".into());
    s.set_password(id(1), &hash).await.unwrap();
    let after = s.user(id(1)).await.unwrap().expect("admin");
    assert_eq!(after.password_hash.as_ref(), Some(&hash));
    assert_ne!(before.password_hash, after.password_hash);
    assert_eq!(
        s.user_by_login("admin")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        Some(hash.clone()),
        "login reads the new hash"
    );
    let mut rest = after.clone();
    rest.password_hash = before.password_hash.clone();
    assert_eq!(rest, before, "nothing else changed");
    assert!(matches!(
        s.set_password(id(99), &hash).await,
        Err(StoreError::NotFound(_))
    ));
}
