//! The poller: every `collectionInterval` it asks the agent for the host, the site users'
//! usage, the services' units and (at their own slower cadence) the site directories; computes
//! the CONTRACT §4 snapshots; writes them (buffering while the store is away); evaluates the
//! alerts; and publishes the latest state on a `watch` channel for the API and WebSocket.
//!
//! Decisions:
//! - CPU percents come from deltas between consecutive samples. When there is no previous
//!   sample (start, a new site user, a reboot), the poll takes a priming sample first and
//!   waits [`PollerOptions::prime_delay`] (1 s): every stored snapshot carries a measured CPU
//!   percent, none a made-up 0.
//! - Site `cpu.timeMs` is the site's CPU time accumulated by apid: the first sample's live
//!   sum, plus each later positive delta (a drop when processes exit counts as zero). It never
//!   goes down, unlike the live processes' sum.
//! - Agent lost: nothing is written, alerts are not evaluated (missing data neither opens nor
//!   resolves), the last snapshot stays published with `stale_since`; the client reconnects
//!   with backoff and the next poll resumes.
//! - Store lost: snapshots wait in a bounded [`Backlog`] (2 880), retried each poll and written
//!   in order; panel data (sites, services) is taken from the last successful read.
//! - Unit events from `WatchUnits` update the service states at once and evaluate that
//!   service's alerts (service_down within seconds).

mod backlog;
pub mod compute;
mod events;
mod poll;
mod retention;
mod sites;
mod unit;

pub use backlog::{Backlog, DEFAULT_CAPACITY, FlushReport, PendingSnapshot};
pub use retention::{Clock, DEFAULT_RETENTION_EVERY, retention_loop};
pub use unit::UnitInfo;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use twoine_proto::v1 as pb;

use crate::agent::AgentClient;
use crate::model::{
    Alert, DesiredState, DomainInfo, Id, MonitoringConfig, ServerStats, Service, Site, SiteInfo,
    SiteStats, Timestamp,
};
use crate::store::{ConfigStore, Store};

/// Tunables that are not in `monitoring_config`.
#[derive(Debug, Clone)]
pub struct PollerOptions {
    /// Site directories are measured this often (the agent's cache answers in between).
    pub dir_measure_every: Duration,
    /// Wait between a priming sample and the real one.
    pub prime_delay: Duration,
    /// Snapshots kept while the store is away.
    pub backlog_capacity: usize,
    /// Time between retention passes (roll-ups and pruning); the first runs at start.
    pub retention_every: Duration,
    /// The wall clock for snapshot times and retention passes.
    pub clock: Clock,
}

impl Default for PollerOptions {
    fn default() -> Self {
        Self {
            dir_measure_every: Duration::from_secs(300),
            prime_delay: Duration::from_secs(1),
            backlog_capacity: DEFAULT_CAPACITY,
            retention_every: DEFAULT_RETENTION_EVERY,
            clock: Clock::default(),
        }
    }
}

/// A service and its unit as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLive {
    /// The service.
    pub service: Id,
    /// Its site.
    pub site: Id,
    /// Its name.
    pub name: String,
    /// Its unit, with `.service`.
    pub unit: String,
    /// Wanted state.
    pub desired: DesiredState,
    /// The unit's state; `None` when unknown (agent or systemd away, unit not found).
    pub state: Option<UnitInfo>,
}

/// A site that could not be measured this poll (`{site, error}` in `/stats/sites`).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteError {
    /// The site.
    pub site: SiteInfo,
    /// Why.
    pub error: String,
}

/// The latest state, published after every poll and unit event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSnapshot {
    /// The last server sample.
    pub server: Option<ServerStats>,
    /// The last site samples.
    pub sites: Vec<SiteStats>,
    /// Sites not measured by the last successful poll.
    pub site_errors: Vec<SiteError>,
    /// Every service with its unit state.
    pub services: Vec<ServiceLive>,
    /// When the agent last answered a poll.
    pub taken_at: Option<Timestamp>,
    /// Set while the agent is away: since when the data above is not refreshed.
    pub stale_since: Option<Timestamp>,
    /// Snapshots waiting for the store.
    pub store_pending: usize,
    /// Snapshots lost (buffer overflow or refused) since start.
    pub store_dropped: u64,
    /// Polls attempted since start.
    pub polls: u64,
}

/// Pushed as things happen (WebSocket `serviceStatus` and `alert`).
#[derive(Debug, Clone, PartialEq)]
pub enum PollerEvent {
    /// A service's unit changed state.
    ServiceState(ServiceLive),
    /// An alert was opened.
    AlertOpened(Alert),
    /// An alert was resolved by the system.
    AlertResolved {
        /// The alert.
        id: Id,
        /// When.
        at: Timestamp,
    },
    /// A user acknowledged or resolved an alert through the API (the record after the change).
    AlertUpdated(Alert),
}

/// What the rest of apid reads of the poller.
#[derive(Debug, Clone)]
pub struct PollerOutputs {
    /// The latest state.
    pub live: watch::Receiver<Arc<LiveSnapshot>>,
    /// Changes as they happen.
    pub events: broadcast::Sender<PollerEvent>,
}

#[derive(Debug, Clone, Copy)]
struct HostSample {
    cpu: pb::CpuTimes,
    boot_time_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct UsageSample {
    cpu_ms: u64,
    at_ms: i64,
}

/// Panel data of the last successful read.
#[derive(Debug, Clone, Default)]
struct Catalog {
    sites: Vec<Site>,
    services: Vec<Service>,
    domains: HashMap<Id, Vec<DomainInfo>>,
    users: u32,
}

/// The poller's state; [`Poller::run`] drives it, tests call [`Poller::poll_once`].
pub struct Poller {
    agent: AgentClient,
    store: Arc<dyn Store>,
    options: PollerOptions,
    config: MonitoringConfig,
    prev_host: Option<HostSample>,
    prev_usage: HashMap<u32, UsageSample>,
    cpu_time: HashMap<Id, u64>,
    dirs: HashMap<String, (pb::DirMeasure, Instant)>,
    uids: HashMap<String, Option<u32>>,
    catalog: Catalog,
    units: HashMap<String, UnitInfo>,
    backlog: Backlog,
    live: watch::Sender<Arc<LiveSnapshot>>,
    events: broadcast::Sender<PollerEvent>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("agent", &self.agent)
            .field("backlog", &self.backlog)
            .finish_non_exhaustive()
    }
}

/// The settings to start with: the stored ones, or the defaults when the store cannot say.
pub async fn load_config(store: &dyn ConfigStore) -> MonitoringConfig {
    match store.config().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "monitoring config unreadable: defaults used");
            MonitoringConfig::default()
        }
    }
}

impl Poller {
    /// A poller using `agent` and `store`, starting with `config`.
    pub fn new(
        agent: AgentClient,
        store: Arc<dyn Store>,
        config: MonitoringConfig,
        options: PollerOptions,
    ) -> Self {
        let (live, _) = watch::channel(Arc::new(LiveSnapshot::default()));
        let (events, _) = broadcast::channel(256);
        Self {
            agent,
            store,
            backlog: Backlog::new(options.backlog_capacity),
            options,
            config,
            prev_host: None,
            prev_usage: HashMap::new(),
            cpu_time: HashMap::new(),
            dirs: HashMap::new(),
            uids: HashMap::new(),
            catalog: Catalog::default(),
            units: HashMap::new(),
            live,
            events,
        }
    }

    /// Receivers for the API and WebSocket.
    pub fn outputs(&self) -> PollerOutputs {
        PollerOutputs {
            live: self.live.subscribe(),
            events: self.events.clone(),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &MonitoringConfig {
        &self.config
    }

    fn period(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.collection_interval.clamp(10, 300)))
    }

    /// Polls at once, then every `collectionInterval`, until `shutdown` completes. A new value
    /// on `config` applies at once: the next poll comes one new interval after the change.
    /// Retention runs beside it in its own task (see [`retention_loop`]).
    pub async fn run(
        mut self,
        mut config: watch::Receiver<MonitoringConfig>,
        shutdown: impl Future<Output = ()>,
    ) {
        self.config = config.borrow_and_update().clone();
        let (tx, mut unit_events) = mpsc::channel(256);
        let watcher = AbortOnDrop(tokio::spawn(unit::watch_units(self.agent.clone(), tx)));
        let retention = AbortOnDrop(tokio::spawn(retention_loop(
            Arc::clone(&self.store) as Arc<dyn crate::store::Retention>,
            config.clone(),
            self.options.retention_every,
            self.options.clock.clone(),
        )));
        let mut next = Instant::now();
        let mut config_open = true;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep_until(next) => {
                    self.poll_once(self.options.clock.now()).await;
                    let now = Instant::now();
                    next += self.period();
                    if next <= now {
                        next = now + self.period();
                    }
                }
                changed = config.changed(), if config_open => match changed {
                    Ok(()) => {
                        self.config = config.borrow_and_update().clone();
                        next = Instant::now() + self.period();
                        tracing::info!(interval_s = self.period().as_secs(), "monitoring config applied");
                    }
                    Err(_) => config_open = false,
                },
                Some(event) = unit_events.recv() => self.on_unit_event(event, self.options.clock.now()).await,
            }
        }
        drop(retention);
        drop(watcher);
    }

    fn publish(&self, f: impl FnOnce(&mut LiveSnapshot)) {
        self.live.send_modify(|live| {
            let mut next = (**live).clone();
            f(&mut next);
            next.store_pending = self.backlog.len();
            next.store_dropped = self.backlog.dropped();
            *live = Arc::new(next);
        });
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
