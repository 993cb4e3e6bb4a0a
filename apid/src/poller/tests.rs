//! The loop's timing with paused time, against an agent that is not there.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::agent::AgentClientConfig;
use crate::store::SnapshotStore;
use crate::store::embedded::EmbeddedStore;

async fn settle() {
    // Let the poller task run what is ready without moving the clock.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn polls_every_interval_and_a_config_change_restarts_the_timer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("t.db")).unwrap());
    let agent = AgentClient::new(AgentClientConfig::with_socket(
        dir.path().join("absent.sock"),
    ));
    let config = MonitoringConfig {
        collection_interval: 10,
        ..MonitoringConfig::default()
    };
    let poller = Poller::new(agent, store, config.clone(), PollerOptions::default());
    let mut live = poller.outputs().live;
    let (config_tx, config_rx) = watch::channel(config.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(poller.run(config_rx, async {
        let _ = stop_rx.await;
    }));

    let polls_at = |live: &mut watch::Receiver<Arc<LiveSnapshot>>| live.borrow_and_update().polls;
    tokio::time::sleep(Duration::from_millis(100)).await;
    settle().await;
    assert_eq!(polls_at(&mut live), 1, "first poll at once");
    // The agent is absent: stale since the first poll, nothing made up.
    let snap = live.borrow().clone();
    assert!(snap.stale_since.is_some());
    assert!(snap.server.is_none() && snap.taken_at.is_none());

    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    assert_eq!(polls_at(&mut live), 2, "second poll one interval later");

    // At t≈15 s the interval becomes 60 s: no poll at 20 s, the next one at 75 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    config_tx
        .send(MonitoringConfig {
            collection_interval: 60,
            ..config
        })
        .unwrap();
    settle().await;
    tokio::time::sleep(Duration::from_secs(59)).await;
    settle().await;
    assert_eq!(
        polls_at(&mut live),
        2,
        "the timer restarted with the new interval"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(polls_at(&mut live), 3);

    stop_tx.send(()).unwrap();
    task.await.unwrap();
}

/// A server sample (the conformance suite's shape) at `ts`.
fn server_sample(ts: Timestamp) -> ServerStats {
    use crate::model::*;
    ServerStats {
        cpu: Cpu {
            percent: 10.0,
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

#[tokio::test(start_paused = true)]
async fn run_schedules_retention_at_start_with_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("t.db")).unwrap());
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-04T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    // Two samples: one past every keep time (raw 24 h, roll-ups), one recent.
    let keep = crate::store::ROLLUP_1H_KEEP_DAYS;
    let old = now - chrono::Duration::days(keep + 2);
    let recent = now - chrono::Duration::minutes(1);
    for ts in [old, recent] {
        store
            .insert_snapshot(Some(&server_sample(ts)), &[])
            .await
            .unwrap();
    }
    let window = crate::store::Window {
        from: old - chrono::Duration::hours(1),
        to: now,
    };
    let raw_points = store.server_history(window, 10_000).await.unwrap();
    assert_eq!(raw_points.len(), 2);

    let agent = AgentClient::new(AgentClientConfig::with_socket(
        dir.path().join("absent.sock"),
    ));
    let options = PollerOptions {
        clock: Clock::new(move || now),
        ..PollerOptions::default()
    };
    let poller = Poller::new(
        agent,
        Arc::clone(&store) as Arc<dyn Store>,
        MonitoringConfig::default(),
        options,
    );
    let (_config_tx, config_rx) = watch::channel(MonitoringConfig::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(poller.run(config_rx, async {
        let _ = stop_rx.await;
    }));
    // The embedded store works on a blocking thread: give it real time to finish.
    let mut pruned = false;
    for _ in 0..200 {
        settle().await;
        let points = store.server_history(window, 10_000).await.unwrap();
        if points.len() == 1 {
            pruned = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pruned, "the sample past every keep time is pruned");
    assert_eq!(
        store
            .latest_server_stats()
            .await
            .unwrap()
            .unwrap()
            .timestamp,
        recent
    );

    stop_tx.send(()).unwrap();
    task.await.unwrap();
}
