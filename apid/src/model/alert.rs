//! Alerts (CONTRACT §6): the stored record and the API view.

use serde::{Deserialize, Serialize};

use super::Id;
use super::time::{Timestamp, iso, iso_opt};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    /// CPU above a threshold (server, or a site against its limit).
    CpuHigh,
    /// Memory above a threshold.
    MemoryHigh,
    /// Disk above a threshold.
    DiskHigh,
    /// A service that should run is not active.
    ServiceDown,
    /// Every service of an active site is down.
    SiteDown,
}

impl AlertType {
    /// The value as written in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CpuHigh => "cpu_high",
            Self::MemoryHigh => "memory_high",
            Self::DiskHigh => "disk_high",
            Self::ServiceDown => "service_down",
            Self::SiteDown => "site_down",
        }
    }

    /// Parses the database value.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::CpuHigh,
            Self::MemoryHigh,
            Self::DiskHigh,
            Self::ServiceDown,
            Self::SiteDown,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// How bad.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information.
    Info,
    /// Should be looked at.
    Warning,
    /// Something is broken.
    Error,
    /// Act now.
    Critical,
}

impl Severity {
    /// The value as written in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }

    /// Parses the database value.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Error, Self::Critical]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// Lifecycle: `active → acknowledged → resolved` (or straight to resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Open, not yet seen.
    Active,
    /// Open, seen by someone.
    Acknowledged,
    /// Closed.
    Resolved,
}

impl AlertStatus {
    /// The value as written in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Parses the database value (also used to validate `?status=`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Acknowledged, Self::Resolved]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// Active or acknowledged.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Resolved)
    }
}

/// Who resolved an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ResolvedBy {
    /// A user (`POST .../resolve`).
    User(Id),
    /// The condition cleared and stayed clear (serialized as `"system"`).
    System(SystemMarker),
}

impl ResolvedBy {
    /// Resolved by apid itself.
    pub const SYSTEM: Self = Self::System(SystemMarker::System);
}

/// The literal `"system"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SystemMarker {
    /// `"system"`.
    System,
}

/// A stored alert (Twoine's `alerts` document, plus `resolvedBy` and `clearSince`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Identifier.
    #[serde(alias = "_id")]
    pub id: Id,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: AlertType,
    /// Severity.
    pub severity: Severity,
    /// Short French message (`CPU critique : 93.4 %`).
    pub message: String,
    /// `{value, threshold, ...}`.
    #[serde(default)]
    pub data: serde_json::Value,
    /// The site concerned.
    #[serde(default)]
    pub site: Option<Id>,
    /// The service concerned.
    #[serde(default)]
    pub service: Option<Id>,
    /// Lifecycle state.
    pub status: AlertStatus,
    /// Who acknowledged it.
    #[serde(default)]
    pub acknowledged_by: Option<Id>,
    /// When.
    #[serde(default, with = "iso_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    /// When opened.
    #[serde(with = "iso")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When resolved.
    #[serde(default, with = "iso_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    /// Who resolved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<ResolvedBy>,
    /// Since when its condition has been continuously clear (drives auto-resolve).
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub clear_since: Option<Timestamp>,
}

/// `{id, name, displayName}` of a site or service in an alert view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedRef {
    /// Identifier.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: String,
}

/// `{id, username}` of the acknowledging user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRef {
    /// Identifier.
    pub id: Id,
    /// Login name.
    pub username: String,
}

/// The alert as `/api/stats/alerts` shows it (CONTRACT §4), references resolved to names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    /// Identifier.
    pub id: Id,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: AlertType,
    /// Severity.
    pub severity: Severity,
    /// Message.
    pub message: String,
    /// Data.
    pub data: serde_json::Value,
    /// Status.
    pub status: AlertStatus,
    /// Site or null.
    pub site: Option<NamedRef>,
    /// Service or null.
    pub service: Option<NamedRef>,
    /// Acknowledging user or null.
    pub acknowledged_by: Option<UserRef>,
    /// When acknowledged.
    #[serde(with = "iso_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    /// When opened.
    #[serde(with = "iso")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When resolved.
    #[serde(with = "iso_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    /// `"system"` or the resolving user's id, when resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<ResolvedBy>,
}

impl AlertView {
    /// Builds the view from the record and the looked-up references.
    pub fn new(
        alert: Alert,
        site: Option<NamedRef>,
        service: Option<NamedRef>,
        acknowledged_by: Option<UserRef>,
    ) -> Self {
        Self {
            id: alert.id,
            kind: alert.kind,
            severity: alert.severity,
            message: alert.message,
            data: alert.data,
            status: alert.status,
            site,
            service,
            acknowledged_by,
            acknowledged_at: alert.acknowledged_at,
            created_at: alert.created_at,
            resolved_at: alert.resolved_at,
            resolved_by: alert.resolved_by,
        }
    }
}
