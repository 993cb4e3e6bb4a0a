//! The registry of live WebSocket connections: who is connected, as admin or not, subscribed to
//! which sites. It answers `GET /api/stats/websocket` and `/metrics`, and tells connections when
//! a user changed so they re-check their rights at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use super::views::ViewCache;
use crate::model::Id;

/// Tunables of the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsOptions {
    /// A protocol Ping is sent this often; a socket that did not answer the previous one is
    /// closed (default 30 s).
    pub ping_every: Duration,
    /// Each connection reloads its user and rebuilds its rights this often (default 10 s).
    pub recheck_every: Duration,
    /// Largest client message, bytes (default 4 KiB).
    pub max_message_bytes: usize,
    /// Most subscriptions one socket may hold (default 200).
    pub max_subscriptions: usize,
}

impl Default for WsOptions {
    fn default() -> Self {
        Self {
            ping_every: Duration::from_secs(30),
            recheck_every: Duration::from_secs(10),
            max_message_bytes: 4096,
            max_subscriptions: 200,
        }
    }
}

/// `GET /api/stats/websocket`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WsStats {
    /// Open sockets.
    pub total_connections: usize,
    /// Distinct users behind them.
    pub unique_users: usize,
    /// Sockets of admins.
    pub admin_connections: usize,
    /// Per site id: how many sockets subscribe to it.
    pub site_subscriptions: BTreeMap<String, usize>,
}

#[derive(Debug, Clone)]
struct Entry {
    user: Id,
    admin: bool,
    sites: HashSet<Id>,
}

/// Live connections, for `/api/stats/websocket`, `/metrics` and the rights re-check.
#[derive(Debug)]
pub struct Hub {
    conns: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
    options: RwLock<WsOptions>,
    changed: broadcast::Sender<Id>,
    lagged: AtomicU64,
    pub(super) views: ViewCache,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(WsOptions::default())
    }
}

impl Hub {
    /// A hub with `options`.
    pub fn new(options: WsOptions) -> Self {
        let (changed, _) = broadcast::channel(256);
        Self {
            conns: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            options: RwLock::new(options),
            changed,
            lagged: AtomicU64::new(0),
            views: ViewCache::default(),
        }
    }

    /// The options new connections take.
    pub fn options(&self) -> WsOptions {
        self.options
            .read()
            .map(|o| o.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Replaces the options; connections opened from now on use them.
    pub fn set_options(&self, options: WsOptions) {
        match self.options.write() {
            Ok(mut o) => *o = options,
            Err(p) => *p.into_inner() = options,
        }
    }

    /// Open sockets (for `/metrics`).
    pub fn connection_count(&self) -> usize {
        self.lock().len()
    }

    /// Poller events WebSocket tasks missed because they fell behind (skipped, never waited
    /// for).
    pub fn lagged_events(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Tells the connections of `user` to re-check the user's rights now (call after changing
    /// a user: status, role, site access).
    pub fn user_changed(&self, user: Id) {
        // No receiver means no connection: nothing to tell.
        let _ = self.changed.send(user);
    }

    /// The counts of `GET /api/stats/websocket`.
    pub fn stats(&self) -> WsStats {
        let conns = self.lock();
        let mut stats = WsStats {
            total_connections: conns.len(),
            ..WsStats::default()
        };
        let mut users = HashSet::new();
        for e in conns.values() {
            users.insert(e.user);
            if e.admin {
                stats.admin_connections += 1;
            }
            for s in &e.sites {
                *stats.site_subscriptions.entry(s.to_string()).or_default() += 1;
            }
        }
        stats.unique_users = users.len();
        stats
    }

    pub(super) fn count_lagged(&self, n: u64) {
        self.lagged.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn user_changes(&self) -> broadcast::Receiver<Id> {
        self.changed.subscribe()
    }

    /// Registers a connection; it is removed when the returned guard drops.
    pub(super) fn register(&self, user: Id, admin: bool) -> Registration<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            Entry {
                user,
                admin,
                sites: HashSet::new(),
            },
        );
        Registration { hub: self, id }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One registered connection; dropping it removes the entry, whatever ended the socket.
#[derive(Debug)]
pub(super) struct Registration<'a> {
    hub: &'a Hub,
    id: u64,
}

impl Registration<'_> {
    /// Records the connection's admin flag and subscribed sites.
    pub(super) fn update(&self, admin: bool, sites: impl IntoIterator<Item = Id>) {
        if let Some(e) = self.hub.lock().get_mut(&self.id) {
            e.admin = admin;
            e.sites = sites.into_iter().collect();
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.hub.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_registrations_and_drops() {
        let hub = Hub::default();
        let (a, b) = (Id::generate(), Id::generate());
        let site = Id::generate();
        let r1 = hub.register(a, true);
        let r2 = hub.register(b, false);
        let r3 = hub.register(b, false);
        r2.update(false, [site]);
        r3.update(false, [site]);
        let s = hub.stats();
        assert_eq!(s.total_connections, 3);
        assert_eq!(s.unique_users, 2);
        assert_eq!(s.admin_connections, 1);
        assert_eq!(s.site_subscriptions.get(&site.to_string()), Some(&2));
        drop(r2);
        drop(r1);
        assert_eq!(hub.connection_count(), 1);
        assert_eq!(hub.stats().admin_connections, 0);
        assert_eq!(
            hub.stats().site_subscriptions.get(&site.to_string()),
            Some(&1)
        );
        drop(r3);
        assert_eq!(hub.stats(), WsStats::default());
    }

    #[test]
    fn options_can_be_replaced() {
        let hub = Hub::default();
        assert_eq!(hub.options().ping_every, Duration::from_secs(30));
        hub.set_options(WsOptions {
            ping_every: Duration::from_millis(200),
            ..WsOptions::default()
        });
        assert_eq!(hub.options().ping_every, Duration::from_millis(200));
    }
}
