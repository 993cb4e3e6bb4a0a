//! The domain model: panel data, statistics, alerts and settings, with the JSON shapes of
//! CONTRACT §4 (camelCase, 24-hex ids, ISO-8601 UTC times, one-decimal percents).

mod alert;
mod config;
mod id;
mod panel;
mod stats;
pub mod time;

pub use alert::{
    Alert, AlertStatus, AlertType, AlertView, NamedRef, ResolvedBy, Severity, SystemMarker, UserRef,
};
pub use config::{AlertThresholds, CONFIG_ID, FieldError, MonitoringConfig, Threshold};
pub use id::{Id, InvalidId};
pub use panel::{
    AccessLevel, Database, DatabaseCounts, DatabaseType, DatabaseTypeCounts, DesiredState, Domain,
    LinuxUser, PasswordHash, PortRange, Role, Service, ServiceResources, ServiceState,
    ServiceStatus, Site, SiteAccess, SitePaths, SiteResources, SiteStatus, Ssl, SystemdRef, User,
    UserStatus,
};
pub use stats::{
    Cpu, Disk, DomainInfo, Limits, LoadAvg, Memory, Network, PeakPercents, Ports, Processes,
    ServerStats, ServiceCounts, ServiceUnitRow, SiteCpu, SiteDisk, SiteInfo, SiteMemory, SiteStats,
    SystemInfo, Totals,
};
pub use time::Timestamp;

#[cfg(test)]
mod tests;
