//! What every handler shares: the store, the authenticator, the agent client, the poller's
//! outputs, the settings channel and the WebSocket hub.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::auth::Auth;
use super::login::LoginLimiter;
use super::metrics::Counters;
use crate::agent::AgentClient;
use crate::model::{MonitoringConfig, Timestamp};
use crate::poller::{Clock, LiveSnapshot, PollerEvent, PollerOutputs};
use crate::store::Store;
use crate::ws::Hub;

/// Which deployment apid serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Its own store, its own login, its own panels (the default).
    Standalone,
    /// Beside an existing Twoine: Twoine's database and tokens; no login routes (Twoine's
    /// Node API owns them) and no panel-data writes but the service status after an action.
    DropIn,
}

/// The parts [`AppState::new`] needs.
pub struct AppParts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Token verification.
    pub auth: Auth,
    /// The agent client (service actions).
    pub agent: AgentClient,
    /// The poller's latest state and events.
    pub poller: PollerOutputs,
    /// Where `PUT /api/stats/config` publishes the new settings (the poller listens).
    pub monitoring: watch::Sender<MonitoringConfig>,
    /// Deployment mode.
    pub mode: Mode,
    /// The wall clock.
    pub clock: Clock,
}

/// The shared state, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The shared state's content.
pub struct Inner {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Token verification and the user cache.
    pub auth: Auth,
    /// The agent client.
    pub agent: AgentClient,
    /// The poller's latest state.
    pub live: watch::Receiver<Arc<LiveSnapshot>>,
    /// The poller's events (service states, alerts); handlers may publish service actions.
    pub events: broadcast::Sender<PollerEvent>,
    /// The settings in force; `PUT /api/stats/config` sends here.
    pub monitoring: watch::Sender<MonitoringConfig>,
    /// Deployment mode.
    pub mode: Mode,
    /// The wall clock.
    pub clock: Clock,
    /// When apid started.
    pub started_at: Timestamp,
    /// Monotonic start, for `uptime`.
    pub started: std::time::Instant,
    /// Live WebSocket connections.
    pub hub: Hub,
    /// Login attempts per client address.
    pub login_limiter: LoginLimiter,
    /// apid's own counters for `/metrics`.
    pub counters: Counters,
    /// The last `/api/stats/sites` body and what it was built from.
    pub sites_cache: super::stats::SitesCache,
}

impl AppState {
    /// The state from its parts.
    pub fn new(parts: AppParts) -> Self {
        let started_at = parts.clock.now();
        Self(Arc::new(Inner {
            store: parts.store,
            auth: parts.auth,
            agent: parts.agent,
            live: parts.poller.live,
            events: parts.poller.events,
            monitoring: parts.monitoring,
            mode: parts.mode,
            clock: parts.clock,
            started_at,
            started: std::time::Instant::now(),
            hub: Hub::default(),
            login_limiter: LoginLimiter::default(),
            counters: Counters::default(),
            sites_cache: Default::default(),
        }))
    }

    /// The poller's latest state.
    pub fn live(&self) -> Arc<LiveSnapshot> {
        Arc::clone(&self.live.borrow())
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("mode", &self.mode)
            .field("agent", &self.agent)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
