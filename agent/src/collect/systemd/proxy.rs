//! The slice of `org.freedesktop.systemd1` the agent uses, and nothing more.

use zbus::proxy;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};

/// systemd's bus name.
pub(super) const DESTINATION: &str = "org.freedesktop.systemd1";
/// Every unit object lives under this path.
pub(super) const UNIT_PATH_PREFIX: &str = "/org/freedesktop/systemd1/unit";
pub(super) const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
pub(super) const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";
/// Returned by `Subscribe` when this client already subscribed: not a failure.
pub(super) const ALREADY_SUBSCRIBED: &str = "org.freedesktop.systemd1.AlreadySubscribed";

/// One row of `ListUnitsByPatterns`: name, description, load state, active state, sub state,
/// followed unit, object path, job id, job type, job path.
pub(super) type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
pub(super) trait Manager {
    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<ListedUnit>>;

    /// (unit file path, unit file state).
    fn list_unit_files_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<(String, String)>>;

    /// Loads the unit if needed (unlike `GetUnit`, which fails on an unloaded unit).
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Ask systemd to emit its signals (JobRemoved, PropertiesChanged) to this client.
    fn subscribe(&self) -> zbus::Result<()>;

    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
pub(super) trait Unit {
    #[zbus(property, name = "ActiveState")]
    fn active_state(&self) -> zbus::Result<String>;
    #[zbus(property, name = "SubState")]
    fn sub_state(&self) -> zbus::Result<String>;
}

#[proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
pub(super) trait Service {
    #[zbus(property, name = "Result")]
    fn result(&self) -> zbus::Result<String>;
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> zbus::Result<u32>;
}

/// The manager object, without a property cache (it has no property we read).
pub(super) async fn manager(conn: &zbus::Connection) -> zbus::Result<ManagerProxy<'static>> {
    ManagerProxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

/// `Subscribe`, accepting "already subscribed" (one connection, several callers).
pub(super) async fn subscribe(manager: &ManagerProxy<'_>) -> zbus::Result<()> {
    match manager.subscribe().await {
        Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == ALREADY_SUBSCRIBED => Ok(()),
        other => other,
    }
}
