//! Retention scheduling: [`Retention::run_retention`] at start and every
//! [`PollerOptions::retention_every`](super::PollerOptions::retention_every), in its own task so
//! a long pass never delays a poll.
//!
//! Decisions:
//! - A failed pass is logged and simply retried at the next tick (the store's passes are
//!   idempotent: roll-ups are keyed by bucket, pruning is by age).
//! - `retentionHours` is read from the live settings at every pass.
//! - MongoDB needs a pass at least once per 24 h (its TTL drops raw stats at 24 h); the default
//!   10 minutes leaves ample margin.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::model::{MonitoringConfig, Timestamp};
use crate::store::Retention;

/// Default time between retention passes.
pub const DEFAULT_RETENTION_EVERY: Duration = Duration::from_secs(600);

/// The wall clock the poller stamps snapshots and retention passes with; injectable for tests.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// A clock calling `f`.
    pub fn new(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    /// The system clock.
    fn default() -> Self {
        Self::new(Utc::now)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Runs a retention pass now and then every `every`, forever (the caller aborts the task).
/// Missed ticks are not replayed: one pass covers any backlog.
pub async fn retention_loop(
    store: Arc<dyn Retention>,
    config: watch::Receiver<MonitoringConfig>,
    every: Duration,
    clock: Clock,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let hours = config.borrow().retention_hours;
        let now = clock.now();
        match store.run_retention(now, hours).await {
            Ok(report) => tracing::debug!(?report, %now, "retention pass done"),
            Err(e) => tracing::warn!(error = %e, "retention pass failed: retried next time"),
        }
    }
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
