//! Statistics snapshots: the shapes of `/api/stats/server`, `/api/stats/site/:id` and
//! `/api/stats/services` (CONTRACT §4). Percents are rounded to one decimal when serialized;
//! server `disk.percent` is an integer.

use serde::{Deserialize, Serialize};

use super::time::{Timestamp, iso, ser_round1};
use super::{Id, SiteStatus};

/// One sample of the whole server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServerStats {
    /// Processor.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Memory,
    /// The filesystem holding `/`.
    pub disk: Disk,
    /// Cumulative counters over every interface but `lo`.
    pub network: Network,
    /// Process counts.
    pub processes: Processes,
    /// Seconds since boot.
    pub uptime: u64,
    /// Platform counts.
    pub totals: Totals,
    /// Host description.
    pub system: SystemInfo,
    /// When sampled.
    #[serde(with = "iso")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// In a downsampled history point: the highest values within the point's span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<PeakPercents>,
}

/// `cpu`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    /// Busy share of all CPUs between two samples.
    #[serde(serialize_with = "ser_round1")]
    pub percent: f64,
    /// Logical CPUs.
    pub cores: u32,
    /// Model name.
    pub model: String,
    /// MHz.
    pub speed: u32,
    /// Load averages.
    pub load_avg: LoadAvg,
}

/// `cpu.loadAvg`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoadAvg {
    /// 1 minute.
    pub one: f64,
    /// 5 minutes.
    pub five: f64,
    /// 15 minutes.
    pub fifteen: f64,
}

/// `memory` (bytes); `used = total − available`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Memory {
    /// Total.
    pub total: u64,
    /// `total − available`.
    pub used: u64,
    /// Unused.
    pub free: u64,
    /// Available for new work.
    pub available: u64,
    /// Page cache.
    pub cached: u64,
    /// Buffers.
    pub buffers: u64,
    /// `used / total`, percent.
    #[serde(serialize_with = "ser_round1")]
    pub percent: f64,
}

/// `disk` (bytes), as `df -B1 /`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Disk {
    /// Size.
    pub total: u64,
    /// Used.
    pub used: u64,
    /// Available to users.
    pub free: u64,
    /// Integer percent, as `df`.
    pub percent: u8,
}

/// `network`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
}

/// `processes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Processes {
    /// All.
    pub total: u32,
    /// Running.
    pub running: u32,
    /// Sleeping.
    pub sleeping: u32,
    /// Stopped.
    pub stopped: u32,
}

/// `totals`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Sites (not deleted).
    pub sites: u32,
    /// Services.
    pub services: u32,
    /// Users.
    pub users: u32,
    /// Services running.
    pub services_running: u32,
    /// Services stopped.
    pub services_stopped: u32,
}

/// `system`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SystemInfo {
    /// Host name (shown by the panels).
    pub hostname: String,
    /// `linux`.
    pub platform: String,
    /// `x64`, `arm64`, ...
    pub arch: String,
    /// Kernel release.
    pub release: String,
    /// `Linux`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Highest percents within a downsampled history point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeakPercents {
    /// CPU.
    #[serde(serialize_with = "ser_round1")]
    pub cpu: f64,
    /// Memory.
    #[serde(serialize_with = "ser_round1")]
    pub memory: f64,
    /// Disk.
    #[serde(serialize_with = "ser_round1")]
    pub disk: f64,
}

/// One sample of one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteStats {
    /// The site's processes' CPU.
    pub cpu: SiteCpu,
    /// Their resident memory.
    pub memory: SiteMemory,
    /// The site's directory.
    pub disk: SiteDisk,
    /// Service counts.
    pub services: ServiceCounts,
    /// The site.
    pub site: SiteInfo,
    /// Its domains.
    pub domains: Vec<DomainInfo>,
    /// Its port range.
    pub ports: Ports,
    /// Its limits (MB, percent of one core).
    pub limits: Limits,
    /// When sampled.
    #[serde(with = "iso")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// In a downsampled history point: the highest values within the point's span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<PeakPercents>,
}

/// Site `cpu`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteCpu {
    /// Percent of one core over the last interval (may exceed 100).
    #[serde(serialize_with = "ser_round1")]
    pub percent: f64,
    /// Cumulative CPU time, ms.
    pub time_ms: u64,
}

/// Site `memory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteMemory {
    /// Resident bytes.
    pub used_bytes: u64,
    /// Of the limit.
    #[serde(serialize_with = "ser_round1")]
    pub percent: f64,
    /// Limit, MB.
    pub limit: u64,
}

/// Site `disk`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteDisk {
    /// Bytes (as `du -sb`).
    pub used_bytes: u64,
    /// Of the limit.
    #[serde(serialize_with = "ser_round1")]
    pub percent: f64,
    /// Limit, MB.
    pub limit: u64,
    /// Regular files.
    pub file_count: u64,
}

/// `services` counts of a site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceCounts {
    /// All.
    pub total: u32,
    /// Running.
    pub running: u32,
    /// Stopped.
    pub stopped: u32,
    /// Failed.
    pub failed: u32,
}

/// `site` block of site stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteInfo {
    /// Identifier.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Status.
    pub status: SiteStatus,
}

/// `domains[]` of site stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainInfo {
    /// Name.
    pub domain: String,
    /// HTTPS enabled.
    pub ssl: bool,
}

/// `ports`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ports {
    /// First.
    pub start: u16,
    /// Last.
    pub end: u16,
}

/// `limits` (MB; cpu in percent of one core).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    /// Memory, MB.
    pub memory: u64,
    /// CPU, percent of one core.
    pub cpu: f64,
    /// Disk, MB.
    pub disk: u64,
}

/// A row of `/api/stats/services`: `{name, load, active, sub, running}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceUnitRow {
    /// Unit name.
    pub name: String,
    /// LoadState.
    pub load: String,
    /// ActiveState.
    pub active: String,
    /// SubState.
    pub sub: String,
    /// `active == "active"` and `sub == "running"`.
    pub running: bool,
}
