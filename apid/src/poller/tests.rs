//! The loop's timing with paused time, against an agent that is not there.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::agent::AgentClientConfig;
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
