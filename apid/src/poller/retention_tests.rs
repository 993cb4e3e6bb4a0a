//! The retention schedule with paused time and a recording store.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::TimeZone;

use super::*;
use crate::store::{RetentionReport, StoreError, StoreResult};

/// Records every pass; fails the first `fail_first` ones.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(Timestamp, u32)>>,
    fail_first: usize,
}

impl Recorder {
    fn calls(&self) -> Vec<(Timestamp, u32)> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Retention for Recorder {
    async fn run_retention(&self, now: Timestamp, hours: u32) -> StoreResult<RetentionReport> {
        let mut calls = self.calls.lock().unwrap();
        calls.push((now, hours));
        if calls.len() <= self.fail_first {
            return Err(StoreError::Unavailable("down".to_owned()));
        }
        Ok(RetentionReport::default())
    }
}

async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// A clock that follows tokio's (paused) time from a fixed base.
fn paused_clock(base: Timestamp) -> Clock {
    let start = tokio::time::Instant::now();
    Clock::new(move || base + chrono::Duration::from_std(start.elapsed()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn runs_at_start_then_every_period_with_live_hours_and_retries_after_errors() {
    let base = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let store = Arc::new(Recorder {
        fail_first: 1,
        ..Recorder::default()
    });
    let (config_tx, config_rx) = watch::channel(MonitoringConfig {
        retention_hours: 24,
        ..MonitoringConfig::default()
    });
    let task = tokio::spawn(retention_loop(
        Arc::clone(&store) as Arc<dyn Retention>,
        config_rx,
        Duration::from_secs(600),
        paused_clock(base),
    ));

    settle().await;
    assert_eq!(store.calls(), vec![(base, 24)], "one pass at start");

    // The first pass failed: nothing happens until the next tick, which retries.
    tokio::time::sleep(Duration::from_secs(599)).await;
    settle().await;
    assert_eq!(store.calls().len(), 1);
    config_tx
        .send(MonitoringConfig {
            retention_hours: 48,
            ..MonitoringConfig::default()
        })
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let ten_min = chrono::Duration::minutes(10);
    assert_eq!(store.calls(), vec![(base, 24), (base + ten_min, 48)]);

    tokio::time::sleep(Duration::from_secs(600)).await;
    settle().await;
    assert_eq!(store.calls().last(), Some(&(base + ten_min * 2, 48)));
    assert_eq!(store.calls().len(), 3);

    // A day: 144 passes (far more than the one MongoDB needs), none skipped.
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    settle().await;
    assert_eq!(store.calls().len(), 3 + 144);
    task.abort();
}
