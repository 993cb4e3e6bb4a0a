//! Snapshots waiting for the store: a bounded FIFO written in order when the store returns.

use std::collections::VecDeque;

use crate::model::{ServerStats, SiteStats};
use crate::store::{SnapshotStore, StoreError};

/// A day of polls at the default 30 s interval.
pub const DEFAULT_CAPACITY: usize = 2_880;

/// One poll to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSnapshot {
    /// The server sample, if any.
    pub server: Option<ServerStats>,
    /// Site samples.
    pub sites: Vec<SiteStats>,
}

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Snapshots written.
    pub written: usize,
    /// Snapshots the store refused for good (not `Unavailable`): logged and dropped.
    pub rejected: usize,
    /// Still waiting (the store is unavailable).
    pub pending: usize,
}

/// The bounded buffer. The oldest snapshot makes room for a new one; every loss is counted
/// and logged.
#[derive(Debug)]
pub struct Backlog {
    queue: VecDeque<PendingSnapshot>,
    capacity: usize,
    dropped: u64,
}

impl Backlog {
    /// A buffer of at most `capacity` snapshots (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Snapshots waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Snapshots lost to overflow or refused by the store since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Queues a snapshot, dropping (and counting) the oldest when full.
    pub fn push(&mut self, snapshot: PendingSnapshot) {
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.dropped = self.dropped.saturating_add(1);
            tracing::warn!(
                capacity = self.capacity,
                dropped_total = self.dropped,
                "store unavailable too long: oldest buffered snapshot dropped"
            );
        }
        self.queue.push_back(snapshot);
    }

    /// Writes the queue in order until it is empty or the store is unavailable.
    pub async fn flush(&mut self, store: &dyn SnapshotStore) -> FlushReport {
        let mut report = FlushReport::default();
        while let Some(next) = self.queue.front() {
            match store
                .insert_snapshot(next.server.as_ref(), &next.sites)
                .await
            {
                Ok(()) => {
                    self.queue.pop_front();
                    report.written += 1;
                }
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, pending = self.queue.len(), "store unavailable: snapshots buffered");
                    break;
                }
                Err(e) => {
                    // Retrying a snapshot the store refuses would block every later one.
                    self.queue.pop_front();
                    self.dropped = self.dropped.saturating_add(1);
                    report.rejected += 1;
                    tracing::error!(error = %e, "store refused a snapshot: dropped");
                }
            }
        }
        if report.written > 1 {
            tracing::info!(written = report.written, "buffered snapshots written");
        }
        report.pending = self.queue.len();
        report
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Id, Timestamp};
    use crate::store::{StoreResult, Window};

    /// Records the uptime of each written server sample; fails while `down`.
    #[derive(Default)]
    struct FlakyStore {
        down: Mutex<bool>,
        written: Mutex<Vec<u64>>,
    }

    #[async_trait]
    impl SnapshotStore for FlakyStore {
        async fn insert_snapshot(
            &self,
            server: Option<&ServerStats>,
            _sites: &[SiteStats],
        ) -> StoreResult<()> {
            if *self.down.lock().unwrap() {
                return Err(StoreError::Unavailable("connection refused".into()));
            }
            let s = server.unwrap();
            if s.uptime == 666 {
                return Err(StoreError::Invalid("bad sample".into()));
            }
            self.written.lock().unwrap().push(s.uptime);
            Ok(())
        }
        async fn latest_server_stats(&self) -> StoreResult<Option<ServerStats>> {
            unimplemented!()
        }
        async fn server_history(&self, _: Window, _: usize) -> StoreResult<Vec<ServerStats>> {
            unimplemented!()
        }
        async fn latest_site_stats(&self, _: Id) -> StoreResult<Option<SiteStats>> {
            unimplemented!()
        }
        async fn site_history(&self, _: Id, _: Window, _: usize) -> StoreResult<Vec<SiteStats>> {
            unimplemented!()
        }
    }

    fn sample(n: u64) -> PendingSnapshot {
        let t: Timestamp = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let snap = crate::poller::compute::server_stats(
            &twoine_proto::v1::HostSnapshotResponse {
                cpu: Some(Default::default()),
                memory: Some(Default::default()),
                root_fs: Some(Default::default()),
                uptime_seconds: n as f64,
                ..Default::default()
            },
            0.0,
            Default::default(),
            t,
        );
        PendingSnapshot {
            server: snap,
            sites: Vec::new(),
        }
    }

    #[tokio::test]
    async fn buffers_during_an_outage_and_writes_in_order_when_the_store_returns() {
        let store = FlakyStore::default();
        let mut backlog = Backlog::new(10);
        *store.down.lock().unwrap() = true;
        for n in 1..=3 {
            backlog.push(sample(n));
            let r = backlog.flush(&store).await;
            assert_eq!((r.written, r.pending), (0, n as usize));
        }
        *store.down.lock().unwrap() = false;
        backlog.push(sample(4));
        let r = backlog.flush(&store).await;
        assert_eq!((r.written, r.pending), (4, 0));
        assert_eq!(*store.written.lock().unwrap(), [1, 2, 3, 4]);
        assert_eq!(backlog.dropped(), 0);
    }

    #[tokio::test]
    async fn overflow_drops_the_oldest_and_counts_it() {
        let store = FlakyStore::default();
        *store.down.lock().unwrap() = true;
        let mut backlog = Backlog::new(3);
        for n in 1..=5 {
            backlog.push(sample(n));
            backlog.flush(&store).await;
        }
        assert_eq!((backlog.len(), backlog.dropped()), (3, 2));
        *store.down.lock().unwrap() = false;
        backlog.flush(&store).await;
        assert_eq!(*store.written.lock().unwrap(), [3, 4, 5]);
    }

    #[tokio::test]
    async fn a_refused_snapshot_does_not_block_the_ones_behind_it() {
        let store = FlakyStore::default();
        let mut backlog = Backlog::new(10);
        backlog.push(sample(666));
        backlog.push(sample(7));
        let r = backlog.flush(&store).await;
        assert_eq!((r.written, r.rejected, r.pending), (1, 1, 0));
        assert_eq!(*store.written.lock().unwrap(), [7]);
        assert_eq!(backlog.dropped(), 1);
    }
}
