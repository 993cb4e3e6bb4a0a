//! The storage traits, one per concern.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{
    Alert, AlertStatus, DatabaseCounts, Domain, Id, MonitoringConfig, PasswordHash, ResolvedBy,
    ServerStats, Service, ServiceStatus, Severity, Site, SiteAccess, SiteStats, Timestamp, User,
    UserStatus,
};

/// `/api/stats/alerts` never returns more than this.
pub const MAX_ALERTS: usize = 100;
/// Resolved alerts are deleted this long after `resolvedAt`.
pub const RESOLVED_ALERT_TTL_DAYS: i64 = 7;
/// 5-minute roll-ups are kept this long.
pub const ROLLUP_5M_KEEP_DAYS: i64 = 30;
/// 1-hour roll-ups are kept this long.
pub const ROLLUP_1H_KEEP_DAYS: i64 = 365;

/// A time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, included.
    pub from: Timestamp,
    /// End, excluded.
    pub to: Timestamp,
}

impl Window {
    /// The `hours` up to `now` (what `?hours=` asks for).
    pub fn last_hours(now: Timestamp, hours: u32) -> Self {
        Self {
            from: now - chrono::Duration::hours(i64::from(hours)),
            to: now,
        }
    }
}

/// Panel data reads (both modes).
#[async_trait]
pub trait PanelRead: Send + Sync {
    /// A user by id.
    async fn user(&self, id: Id) -> StoreResult<Option<User>>;
    /// A user by username, or by e-mail (login accepts either).
    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>>;
    /// Every user, by username.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// How many users.
    async fn count_users(&self) -> StoreResult<u64>;
    /// A site by id, soft-deleted ones included (old alerts name them).
    async fn site(&self, id: Id) -> StoreResult<Option<Site>>;
    /// Every site not soft-deleted, by name.
    async fn sites(&self) -> StoreResult<Vec<Site>>;
    /// Sites a user owns or was given access to, not soft-deleted, by name.
    async fn sites_of_user(&self, user: Id) -> StoreResult<Vec<Site>>;
    /// How many sites are not soft-deleted.
    async fn count_sites(&self) -> StoreResult<u64>;
    /// A service by id.
    async fn service(&self, id: Id) -> StoreResult<Option<Service>>;
    /// A service by its unit name (`systemd.serviceName`, with or without `.service`).
    async fn service_by_unit(&self, unit: &str) -> StoreResult<Option<Service>>;
    /// Every service of sites not soft-deleted.
    async fn services(&self) -> StoreResult<Vec<Service>>;
    /// The services of one site, by name.
    async fn services_of_site(&self, site: Id) -> StoreResult<Vec<Service>>;
    /// The domains of one site, by name.
    async fn domains_of_site(&self, site: Id) -> StoreResult<Vec<Domain>>;
    /// Database counts per engine.
    async fn database_counts(&self) -> StoreResult<DatabaseCounts>;
}

/// What a login attempt changes on a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginState {
    /// Consecutive failures.
    pub failed_login_attempts: u32,
    /// Locked until.
    pub lock_until: Option<Timestamp>,
    /// Last success.
    pub last_login_at: Option<Timestamp>,
}

/// Panel data writes. Standalone mode uses all of them; drop-in mode only
/// [`PanelWrite::set_service_status`], the one write the Node API also does after an action.
#[async_trait]
pub trait PanelWrite: Send + Sync {
    /// Adds a user; `Conflict` if the username or e-mail is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// Records a login outcome; `NotFound` for an unknown user.
    async fn set_login_state(&self, user: Id, state: LoginState) -> StoreResult<()>;
    /// Adds a site; `Conflict` if the name is taken, `NotFound` if the owner is unknown.
    async fn create_site(&self, site: &Site) -> StoreResult<()>;
    /// Adds a service; `Conflict` if the unit name is taken, `NotFound` if the site is unknown.
    async fn create_service(&self, service: &Service) -> StoreResult<()>;
    /// Adds a domain; `Conflict` if taken, `NotFound` if the site is unknown.
    async fn create_domain(&self, domain: &Domain) -> StoreResult<()>;
    /// Gives a user access to a site (replacing a previous level for that site).
    async fn assign_site(&self, user: Id, access: SiteAccess) -> StoreResult<()>;
    /// Sets a service's `status.current/desired`; `NotFound` for an unknown service.
    async fn set_service_status(&self, service: Id, status: ServiceStatus) -> StoreResult<()>;
    /// Replaces a user's bcrypt hash (`twoine-apid user passwd`); `NotFound` for an unknown user.
    async fn set_password(&self, user: Id, hash: &PasswordHash) -> StoreResult<()>;
    /// Sets a user's account status (e.g. blocks them); `NotFound` for an unknown user.
    async fn set_user_status(&self, user: Id, status: UserStatus) -> StoreResult<()>;
    /// Takes a user's access entry for a site away (`twoine-apid unassign`): `Ok(true)` if there
    /// was one, `Ok(false)` if not; `NotFound` for an unknown user. Ownership is not an access
    /// entry: an owner keeps their site.
    async fn remove_site_access(&self, user: Id, site: Id) -> StoreResult<bool>;
}

/// Statistics snapshots and their history.
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Stores one poll: the server sample and the site samples, atomically. A crash loses at
    /// most this poll.
    async fn insert_snapshot(
        &self,
        server: Option<&ServerStats>,
        sites: &[SiteStats],
    ) -> StoreResult<()>;
    /// The newest server sample.
    async fn latest_server_stats(&self) -> StoreResult<Option<ServerStats>>;
    /// Server history over the whole window: ascending, at most `limit` points (bucket means,
    /// peaks in `max`), from roll-ups where raw samples were pruned. `Invalid` for an empty
    /// window or `limit == 0`.
    async fn server_history(&self, window: Window, limit: usize) -> StoreResult<Vec<ServerStats>>;
    /// The newest sample of one site.
    async fn latest_site_stats(&self, site: Id) -> StoreResult<Option<SiteStats>>;
    /// One site's history, as [`SnapshotStore::server_history`].
    async fn site_history(
        &self,
        site: Id,
        window: Window,
        limit: usize,
    ) -> StoreResult<Vec<SiteStats>>;
}

/// Which alerts to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter {
    /// Statuses wanted; empty means active and acknowledged (the route's default).
    pub statuses: Vec<AlertStatus>,
    /// `Some`: only alerts about these sites (a non-admin's view; server-wide alerts are left
    /// out). `None`: all.
    pub sites: Option<Vec<Id>>,
    /// Severities wanted; empty means all. Applied in the query, so `limit` counts matching
    /// alerts only.
    pub severities: Vec<Severity>,
    /// At most this many (capped at [`MAX_ALERTS`]).
    pub limit: usize,
}

impl Default for AlertFilter {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            sites: None,
            severities: Vec::new(),
            limit: MAX_ALERTS,
        }
    }
}

/// Alerts.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores a new alert.
    async fn insert_alert(&self, alert: &Alert) -> StoreResult<()>;
    /// One alert.
    async fn alert(&self, id: Id) -> StoreResult<Option<Alert>>;
    /// Alerts matching the filter, newest first.
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<Alert>>;
    /// What [`crate::alerts::evaluate`] needs: open alerts and any created at or after `since`.
    async fn alerts_for_evaluation(&self, since: Timestamp) -> StoreResult<Vec<Alert>>;
    /// Marks an active alert acknowledged (an acknowledged one is returned unchanged);
    /// `NotFound`, or `Conflict` if resolved.
    async fn acknowledge_alert(&self, id: Id, by: Id, at: Timestamp) -> StoreResult<Alert>;
    /// Resolves an open alert; `NotFound`, or `Conflict` if already resolved.
    async fn resolve_alert(&self, id: Id, at: Timestamp, by: ResolvedBy) -> StoreResult<Alert>;
    /// Records since when the alert's condition has been clear.
    async fn set_alert_clear_since(&self, id: Id, since: Option<Timestamp>) -> StoreResult<()>;
}

/// The `monitoring_config` document.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// The settings; defaults when none were saved.
    async fn config(&self) -> StoreResult<MonitoringConfig>;
    /// Saves validated settings; `Invalid` (with the field errors) otherwise.
    async fn put_config(&self, config: &MonitoringConfig) -> StoreResult<()>;
}

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// 5-minute roll-up rows written.
    pub rolled_5m: u64,
    /// 1-hour roll-up rows written.
    pub rolled_1h: u64,
    /// Raw server samples deleted.
    pub pruned_server: u64,
    /// Raw site samples deleted.
    pub pruned_site: u64,
    /// Roll-up rows deleted.
    pub pruned_rollups: u64,
    /// Resolved alerts deleted.
    pub pruned_alerts: u64,
}

/// Roll-ups and pruning, with `now` injected.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Rolls completed 5-minute and hour buckets up, then deletes raw samples older than
    /// `retention_hours`, roll-ups past their keep time, and alerts resolved more than 7 days
    /// before `now`.
    async fn run_retention(
        &self,
        now: Timestamp,
        retention_hours: u32,
    ) -> StoreResult<RetentionReport>;
}

/// Everything a backend provides.
pub trait Store:
    PanelRead + PanelWrite + SnapshotStore + AlertStore + ConfigStore + Retention
{
}

impl<T> Store for T where
    T: PanelRead + PanelWrite + SnapshotStore + AlertStore + ConfigStore + Retention
{
}
