//! Panel data: users, sites, services, domains, databases (Twoine's collections, read-mostly).
//!
//! Deserialization is tolerant of what a real Twoine database holds: `_id` for `id`, extended
//! JSON ids and dates, `__v` and other extra fields, and the installer's admin without `status`,
//! `sites` or `failedLoginAttempts`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Id;
use super::time::{Timestamp, iso_opt};

/// A bcrypt password hash. Never serialized into an API answer; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and does everything.
    Admin,
    /// Sees and acts on their own sites.
    User,
    /// Sees their own sites.
    Readonly,
}

/// A user's account status; missing reads as `active`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// May log in.
    #[default]
    Active,
    /// Refused everywhere.
    Blocked,
    /// Created, not yet confirmed (passes, as in Twoine).
    Pending,
}

/// A user's access level to one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// Full control of the site.
    Owner,
    /// May act on services.
    Collaborator,
    /// May only look.
    Readonly,
}

/// One entry of `users.sites`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteAccess {
    /// The site.
    pub site: Id,
    /// What the user may do there.
    pub access_level: AccessLevel,
    /// When the access was granted.
    #[serde(default, with = "iso_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub assigned_at: Option<Timestamp>,
}

/// A panel user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Identifier.
    #[serde(alias = "_id")]
    pub id: Id,
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// bcrypt hash (`password` in Twoine); never serialized.
    #[serde(rename = "password", default, skip_serializing)]
    pub password_hash: Option<PasswordHash>,
    /// Role.
    pub role: Role,
    /// Status; missing is active.
    #[serde(default)]
    pub status: UserStatus,
    /// Sites the user was given access to; missing is empty.
    #[serde(default)]
    pub sites: Vec<SiteAccess>,
    /// Consecutive failed logins; missing is 0.
    #[serde(default)]
    pub failed_login_attempts: u32,
    /// Locked until this time.
    #[serde(default, with = "iso_opt")]
    pub lock_until: Option<Timestamp>,
    /// Last successful login.
    #[serde(default, with = "iso_opt")]
    pub last_login_at: Option<Timestamp>,
    /// Must change password at next login.
    #[serde(default)]
    pub must_change_password: bool,
}

/// A site's lifecycle state; `deleted` is a soft delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SiteStatus {
    /// Waiting for creation.
    Pending,
    /// Being created.
    Creating,
    /// Serving.
    Active,
    /// Stopped by an operator.
    Stopped,
    /// Creation or an action failed.
    Error,
    /// Being deleted.
    Deleting,
    /// Soft-deleted: kept in the database, hidden from lists.
    Deleted,
}

impl SiteStatus {
    /// The value as written in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Creating => "creating",
            Self::Active => "active",
            Self::Stopped => "stopped",
            Self::Error => "error",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }
}

/// `sites.linuxUser`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinuxUser {
    /// `site_<name>` by default.
    #[serde(default)]
    pub username: String,
    /// Numeric uid, once created.
    #[serde(default)]
    pub uid: Option<u32>,
    /// Numeric gid, once created.
    #[serde(default)]
    pub gid: Option<u32>,
}

/// `sites.paths`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SitePaths {
    /// The site's directory (what is measured).
    #[serde(default)]
    pub root: String,
    /// Services' code.
    #[serde(default)]
    pub services: String,
    /// Logs.
    #[serde(default)]
    pub logs: String,
    /// Data.
    #[serde(default)]
    pub data: String,
    /// Temporary files.
    #[serde(default)]
    pub tmp: String,
}

/// `sites.portRange`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port.
    pub end: u16,
}

/// `sites.resources`: limits in MB and percent of one core.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SiteResources {
    /// Memory limit, MB (default 512).
    #[serde(rename = "maxMemoryMB", default = "d512")]
    pub max_memory_mb: u64,
    /// CPU limit, percent of one core (default 100).
    #[serde(rename = "maxCpuPercent", default = "d100")]
    pub max_cpu_percent: f64,
    /// Disk limit, MB (default 1024).
    #[serde(rename = "maxDiskMB", default = "d1024")]
    pub max_disk_mb: u64,
}

impl Default for SiteResources {
    fn default() -> Self {
        Self {
            max_memory_mb: 512,
            max_cpu_percent: 100.0,
            max_disk_mb: 1024,
        }
    }
}

fn d512() -> u64 {
    512
}
fn d100() -> f64 {
    100.0
}
fn d1024() -> u64 {
    1024
}
fn d256() -> u64 {
    256
}
fn d50() -> f64 {
    50.0
}

/// A hosted site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    /// Identifier.
    #[serde(alias = "_id")]
    pub id: Id,
    /// Short name (`[a-z][a-z0-9-]*`).
    pub name: String,
    /// Name shown in the panels.
    #[serde(default)]
    pub display_name: String,
    /// The owning user.
    pub owner: Id,
    /// The site's Linux account.
    #[serde(default)]
    pub linux_user: LinuxUser,
    /// The site's directories.
    #[serde(default)]
    pub paths: SitePaths,
    /// Ports reserved for the site.
    #[serde(default)]
    pub port_range: PortRange,
    /// Lifecycle state.
    pub status: SiteStatus,
    /// Limits.
    #[serde(default)]
    pub resources: SiteResources,
}

/// A service's observed state (`status.current`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Not known yet.
    #[default]
    Unknown,
    /// Stopped.
    Stopped,
    /// Starting.
    Starting,
    /// Running.
    Running,
    /// Stopping.
    Stopping,
    /// Failed.
    Failed,
    /// Restarting.
    Restarting,
}

impl ServiceState {
    /// The value as written in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Failed => "failed",
            Self::Restarting => "restarting",
        }
    }
}

/// A service's wanted state (`status.desired`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// Should be stopped.
    #[default]
    Stopped,
    /// Should be running.
    Running,
}

/// `services.status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceStatus {
    /// Observed.
    #[serde(default)]
    pub current: ServiceState,
    /// Wanted.
    #[serde(default)]
    pub desired: DesiredState,
}

/// `services.systemd`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemdRef {
    /// The unit, `twoine-<site>-<service>` (with or without `.service`).
    #[serde(default)]
    pub service_name: String,
}

/// `services.resources`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceResources {
    /// Memory limit, MB (default 256).
    #[serde(rename = "maxMemoryMB", default = "d256")]
    pub max_memory_mb: u64,
    /// CPU limit, percent of one core (default 50).
    #[serde(rename = "maxCpuPercent", default = "d50")]
    pub max_cpu_percent: f64,
}

impl Default for ServiceResources {
    fn default() -> Self {
        Self {
            max_memory_mb: 256,
            max_cpu_percent: 50.0,
        }
    }
}

/// A service of a site (one systemd unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Identifier.
    #[serde(alias = "_id")]
    pub id: Id,
    /// The site it belongs to.
    pub site: Id,
    /// Short name.
    pub name: String,
    /// Name shown in the panels.
    #[serde(default)]
    pub display_name: String,
    /// Kind (`node`, `python`, `php`, `static`, `custom`, ...), kept as written.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Listening port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The systemd unit.
    #[serde(default)]
    pub systemd: SystemdRef,
    /// Observed and wanted state.
    #[serde(default)]
    pub status: ServiceStatus,
    /// Limits.
    #[serde(default)]
    pub resources: ServiceResources,
}

/// `domains.ssl`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ssl {
    /// HTTPS enabled.
    #[serde(default)]
    pub enabled: bool,
}

/// A domain pointing at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// Identifier.
    #[serde(alias = "_id")]
    pub id: Id,
    /// The name (`example.org`).
    pub domain: String,
    /// The site served.
    pub site: Id,
    /// TLS state.
    #[serde(default)]
    pub ssl: Ssl,
}

/// A database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseType {
    /// MongoDB.
    Mongodb,
    /// MySQL / MariaDB.
    Mysql,
    /// PostgreSQL.
    Postgresql,
}

impl DatabaseType {
    /// The value as written in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mongodb => "mongodb",
            Self::Mysql => "mysql",
            Self::Postgresql => "postgresql",
        }
    }
}

/// A site's database (only counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    /// Identifier.
    #[serde(alias = "_id")]
    pub id: Id,
    /// Engine.
    #[serde(rename = "type")]
    pub kind: DatabaseType,
    /// The owning site.
    pub site: Id,
    /// Database name.
    #[serde(default)]
    pub name: String,
}

/// `/api/stats/databases`: `{total, byType: {mongodb, mysql, postgresql}}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseCounts {
    /// All databases.
    pub total: u64,
    /// Per engine.
    pub by_type: DatabaseTypeCounts,
}

/// Per-engine counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatabaseTypeCounts {
    /// MongoDB databases.
    pub mongodb: u64,
    /// MySQL databases.
    pub mysql: u64,
    /// PostgreSQL databases.
    pub postgresql: u64,
}
