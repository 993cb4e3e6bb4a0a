//! apid's poller against a REAL agent (in-process, temp socket, real /proc, a real site tree),
//! with the embedded store: what it stores matches the kernel and `du`/`find`; losing the agent
//! leaves the last snapshot stale without inventing data or touching alerts; a restarted agent
//! on the same socket is picked up again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::Utc;
use twoine_apid::agent::{AgentClient, AgentClientConfig};
use twoine_apid::model::{
    Alert, AlertStatus, AlertThresholds, AlertType, Id, MonitoringConfig, Severity, Threshold,
};
use twoine_apid::poller::{Poller, PollerOptions};
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{AlertFilter, AlertStore, SnapshotStore};

#[path = "support/poller.rs"]
mod support;
use support::{absent_systemd, seed, start_agent};

/// Now, at the millisecond precision the store keeps.
fn now() -> chrono::DateTime<Utc> {
    twoine_apid::model::time::from_millis(Utc::now().timestamp_millis())
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn mem_total_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn site_tree(sites: &Path) -> PathBuf {
    let root = sites.join("demo");
    std::fs::create_dir_all(root.join("public/img")).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(root.join("public/index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(root.join("public/img/logo.svg"), vec![b'x'; 12_345]).unwrap();
    std::fs::write(root.join("app.js"), "console.log('demo')").unwrap();
    std::fs::write(root.join("logs/out.log"), vec![b'l'; 70_000]).unwrap();
    std::os::unix::fs::symlink("public/index.html", root.join("index.html")).unwrap();
    root
}

async fn all_alerts(store: &EmbeddedStore) -> Vec<Alert> {
    store
        .list_alerts(&AlertFilter {
            statuses: vec![
                AlertStatus::Active,
                AlertStatus::Acknowledged,
                AlertStatus::Resolved,
            ],
            ..AlertFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_stores_what_the_kernel_and_du_say_survives_the_agent_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    let root = site_tree(&sites);
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750)).unwrap();
    let socket_path = run.join("agent.sock");
    let agent = start_agent(&socket_path, &sites, absent_systemd());

    let store = Arc::new(EmbeddedStore::open(&dir.path().join("apid.db")).unwrap());
    let site = seed(&*store, &root).await;
    let config = MonitoringConfig {
        // Memory over 99 % is not expected on a test host: a memory alert is clear here.
        alert_thresholds: AlertThresholds {
            memory: Threshold {
                warning: 99.0,
                critical: 99.9,
            },
            ..AlertThresholds::default()
        },
        auto_resolve_minutes: 0,
        ..MonitoringConfig::default()
    };
    let client = AgentClient::new(AgentClientConfig::with_socket(&socket_path));
    let mut poller = Poller::new(
        client.clone(),
        store.clone(),
        config,
        PollerOptions::default(),
    );
    let live = poller.outputs().live;

    // Two polls (the first primes the CPU deltas).
    poller.poll_once(now()).await;
    poller.poll_once(now()).await;

    let server = store.latest_server_stats().await.unwrap().expect("server");
    assert!(
        (0.0..=100.0).contains(&server.cpu.percent),
        "cpu {}",
        server.cpu.percent
    );
    assert_eq!(server.memory.total, mem_total_bytes());
    assert_eq!(
        server.memory.used,
        server.memory.total - server.memory.available
    );
    assert_eq!(
        server.system.hostname,
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    );
    assert_eq!(server.totals.sites, 1);
    assert_eq!(server.totals.users, 1);

    let du: u64 = sh(&format!("du -sb {}", root.display()))
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let files: u64 = sh(&format!("find {} -type f | wc -l", root.display()))
        .trim()
        .parse()
        .unwrap();
    let stats = store
        .latest_site_stats(site.id)
        .await
        .unwrap()
        .expect("site stats");
    assert_eq!(stats.disk.used_bytes, du);
    assert_eq!(stats.disk.file_count, files);
    assert_eq!(files, 4);
    assert_eq!(stats.disk.limit, 1024);
    assert!(
        stats.memory.used_bytes > 0,
        "this test process is the site's"
    );
    assert!(stats.cpu.percent >= 0.0);
    assert_eq!(stats.site.name, "demo");
    assert_eq!((stats.ports.start, stats.ports.end), (3000, 3009));
    let before = live.borrow().clone();
    assert!(before.stale_since.is_none());
    assert_eq!(
        before.server.as_ref().map(|s| s.timestamp),
        Some(server.timestamp)
    );
    assert_eq!(before.sites.len(), 1);

    // An open memory alert whose condition is clear: any evaluation would resolve it now.
    let alert = Alert {
        id: Id::generate(),
        kind: AlertType::MemoryHigh,
        severity: Severity::Warning,
        message: "Mémoire élevée : 99.1 %".into(),
        data: serde_json::json!({ "value": 99.1 }),
        site: None,
        service: None,
        status: AlertStatus::Active,
        acknowledged_by: None,
        acknowledged_at: None,
        created_at: Utc::now() - chrono::Duration::minutes(30),
        resolved_at: None,
        resolved_by: None,
        clear_since: None,
    };
    store.insert_alert(&alert).await.unwrap();
    // The two polls may have opened real alerts (the site user is this test's uid, busy
    // compiling on a shared host): take the list as it stands.
    let alerts_before = all_alerts(&store).await;
    assert!(alerts_before.iter().any(|a| a.id == alert.id));

    // The agent goes away: the poller keeps polling, publishes stale, writes and resolves nothing.
    agent.stop().await;
    let lost_at = now();
    poller.poll_once(lost_at).await;
    poller.poll_once(now()).await;
    let stale = live.borrow().clone();
    assert_eq!(stale.stale_since, Some(lost_at));
    assert_eq!(
        stale.server, before.server,
        "the last snapshot stays published"
    );
    assert_eq!(stale.taken_at, before.taken_at);
    assert!(!client.state().connected);
    let latest = store.latest_server_stats().await.unwrap().unwrap();
    assert_eq!(latest.timestamp, server.timestamp, "nothing new written");
    assert_eq!(
        all_alerts(&store).await,
        alerts_before,
        "missing data opens, resolves and clears nothing"
    );

    // The agent returns on the same socket: the next poll after the backoff resumes.
    let agent = start_agent(&socket_path, &sites, absent_systemd());
    if let Some(wait) = client.retry_in() {
        tokio::time::sleep(wait).await;
    }
    let resumed_at = now();
    poller.poll_once(resumed_at).await;
    let back = live.borrow().clone();
    assert_eq!(back.stale_since, None);
    assert_eq!(back.taken_at, Some(resumed_at));
    assert!(client.state().connected);
    let latest = store.latest_server_stats().await.unwrap().unwrap();
    assert!(latest.timestamp > server.timestamp, "written again");
    let stats = store.latest_site_stats(site.id).await.unwrap().unwrap();
    assert!(stats.timestamp > server.timestamp);
    assert_eq!(stats.disk.used_bytes, du);
    let memory = store.alert(alert.id).await.unwrap().unwrap();
    assert_eq!(
        memory.status,
        AlertStatus::Resolved,
        "real data again: the clear alert resolves"
    );
    agent.stop().await;
}
