//! Alert evaluation (CONTRACT §6), pure: no I/O, `now` passed in, so tests need no sleeps.
//!
//! [`evaluate`] turns one observation of the platform ([`EvalInput`]), the alerts that are open
//! or were created within the dedup window ([`OpenAlert`]) and the settings into
//! [`AlertEvent`]s that the caller applies to the store and pushes to the panels.
//!
//! Decisions:
//! - Alerts are grouped in *families* (type + site + service); a family's measured *level* is
//!   the highest severity whose condition holds (value ≥ threshold, critical checked first), or
//!   none. A key is family + severity, as in Twoine's dedup.
//! - Escalation: when a family at `warning` reaches `critical`, the critical alert is opened and
//!   the warning one is resolved by the system in the same step ([`AlertEvent::Escalate`]), so
//!   the list shows one live alert per problem. A fall back from critical to warning does not
//!   open a warning while the critical one is open; once the critical one auto-resolves, a
//!   warning opens at the next evaluation if the value is still above the warning level.
//! - Auto-resolve: "clear since" lives in the alert itself (`Alert::clear_since`, persisted by
//!   the store through [`AlertEvent::ClearSince`]), so a restart of apid does not lose it. An
//!   alert resolves once its condition has been clear for `autoResolveMinutes` (0: at once).
//!   A condition that fires again resets it.
//! - Missing data (agent lost: `server: None`; a site not measured: `usage: None`; a unit whose
//!   state is unknown: `unit: None`) touches nothing in that family: no open, no clear, no
//!   resolve.
//! - Acknowledged alerts are never re-opened or un-acknowledged here; they stay acknowledged
//!   until resolved (by a user, or by the system when clear).
//! - `alertsEnabled: false` stops new alerts and escalations; open alerts still auto-resolve.
//! - Open alerts of a site marked `deleted` are resolved by the system at once.

mod rules;

use chrono::Duration;
use serde_json::Value;

use crate::model::{
    Alert, AlertStatus, AlertType, DesiredState, Id, MonitoringConfig, NamedRef, ResolvedBy,
    Severity, SiteResources, SiteStatus, Timestamp,
};

/// No second alert with the same key within this time of the last one's creation.
pub const DEDUP_WINDOW_MINUTES: i64 = 5;

/// One observation of the platform.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalInput {
    /// Server percents; `None` when the agent could not be reached.
    pub server: Option<ServerSample>,
    /// Every known site (deleted ones too, so their alerts close).
    pub sites: Vec<SiteInput>,
}

/// Server-wide percents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerSample {
    /// CPU busy, percent.
    pub cpu: f64,
    /// Memory used, percent.
    pub memory: f64,
    /// Disk used, percent.
    pub disk: f64,
}

/// One site and what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteInput {
    /// Identity, for messages.
    pub site: NamedRef,
    /// Lifecycle state.
    pub status: SiteStatus,
    /// Limits.
    pub limits: SiteResources,
    /// Usage; `None` when not measured this time.
    pub usage: Option<SiteUsage>,
    /// Its services.
    pub services: Vec<ServiceInput>,
}

/// A site's usage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteUsage {
    /// CPU, percent of one core (compared with `maxCpuPercent`).
    pub cpu_percent: f64,
    /// Memory, percent of the site's limit.
    pub memory_percent: f64,
    /// Disk, percent of the site's limit.
    pub disk_percent: f64,
}

/// One service and its unit's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInput {
    /// Identity, for messages.
    pub service: NamedRef,
    /// Wanted state.
    pub desired: DesiredState,
    /// systemd `ActiveState` (`active`, `failed`, `inactive`, ...); `None` when unknown.
    pub unit: Option<String>,
}

impl ServiceInput {
    /// Whether the unit counts as up: `active` or `reloading`. `None` when unknown.
    pub fn is_up(&self) -> Option<bool> {
        self.unit
            .as_deref()
            .map(|s| matches!(s, "active" | "reloading"))
    }
}

/// What evaluation needs of a stored alert: the open ones, and any created within the dedup
/// window whatever their status.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAlert {
    /// Identifier.
    pub id: Id,
    /// Kind.
    pub kind: AlertType,
    /// Severity.
    pub severity: Severity,
    /// Site.
    pub site: Option<Id>,
    /// Service.
    pub service: Option<Id>,
    /// Status.
    pub status: AlertStatus,
    /// Creation time (dedup).
    pub created_at: Timestamp,
    /// Clear since (auto-resolve).
    pub clear_since: Option<Timestamp>,
}

impl From<&Alert> for OpenAlert {
    fn from(a: &Alert) -> Self {
        Self {
            id: a.id,
            kind: a.kind,
            severity: a.severity,
            site: a.site,
            service: a.service,
            status: a.status,
            created_at: a.created_at,
            clear_since: a.clear_since,
        }
    }
}

/// An alert to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// Kind.
    pub kind: AlertType,
    /// Severity.
    pub severity: Severity,
    /// French message.
    pub message: String,
    /// `{value, threshold, ...}`.
    pub data: Value,
    /// Site.
    pub site: Option<Id>,
    /// Service.
    pub service: Option<Id>,
}

impl NewAlert {
    /// The stored record, active, created at `now`.
    pub fn into_alert(self, id: Id, now: Timestamp) -> Alert {
        Alert {
            id,
            kind: self.kind,
            severity: self.severity,
            message: self.message,
            data: self.data,
            site: self.site,
            service: self.service,
            status: AlertStatus::Active,
            acknowledged_by: None,
            acknowledged_at: None,
            created_at: now,
            resolved_at: None,
            resolved_by: None,
            clear_since: None,
        }
    }
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    /// Open this alert.
    Open(NewAlert),
    /// Open the critical alert and resolve (by the system) the warning one it replaces.
    Escalate {
        /// The warning alert to resolve.
        resolve: Id,
        /// The critical alert to open.
        open: NewAlert,
    },
    /// Resolve this alert.
    Resolve {
        /// The alert.
        id: Id,
        /// When.
        at: Timestamp,
        /// Always [`ResolvedBy::SYSTEM`] here.
        by: ResolvedBy,
    },
    /// Record since when the alert's condition has been clear (`None`: it fires again).
    ClearSince {
        /// The alert.
        id: Id,
        /// Start of the clear period.
        since: Option<Timestamp>,
    },
}

/// Alerts of one type about one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Family {
    pub kind: AlertType,
    pub site: Option<Id>,
    pub service: Option<Id>,
}

/// The measured state of a family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Level {
    /// No data: leave the family alone.
    Unknown,
    /// Nothing wrong.
    Clear,
    /// Firing at this severity, with the alert to open if none covers it.
    Firing(NewAlert),
    /// The thing is gone (deleted site): resolve at once.
    Gone,
}

/// Evaluates every rule; see the module documentation for the decisions.
pub fn evaluate(
    input: &EvalInput,
    open: &[OpenAlert],
    config: &MonitoringConfig,
    now: Timestamp,
) -> Vec<AlertEvent> {
    let observations = rules::observe(input, config);
    let mut events = Vec::new();
    for (family, level) in &observations {
        apply_family(*family, level, open, config, now, &mut events);
    }
    events
}

fn apply_family(
    family: Family,
    level: &Level,
    known: &[OpenAlert],
    config: &MonitoringConfig,
    now: Timestamp,
    events: &mut Vec<AlertEvent>,
) {
    if *level == Level::Unknown {
        return;
    }
    let in_family = |a: &&OpenAlert| {
        a.kind == family.kind && a.site == family.site && a.service == family.service
    };
    let open: Vec<&OpenAlert> = known
        .iter()
        .filter(in_family)
        .filter(|a| a.status.is_open())
        .collect();
    let firing = match level {
        Level::Firing(new) => Some(new),
        _ => None,
    };
    let auto = Duration::minutes(i64::from(config.auto_resolve_minutes));
    let mut escalate_from = None;
    for alert in &open {
        if *level == Level::Gone {
            events.push(resolve(alert.id, now));
            continue;
        }
        match firing {
            Some(new) if new.severity > alert.severity && alert.severity == Severity::Warning => {
                escalate_from = Some(alert.id);
                if alert.clear_since.is_some() {
                    events.push(AlertEvent::ClearSince {
                        id: alert.id,
                        since: None,
                    });
                }
            }
            Some(new) if new.severity >= alert.severity => {
                if alert.clear_since.is_some() {
                    events.push(AlertEvent::ClearSince {
                        id: alert.id,
                        since: None,
                    });
                }
            }
            _ => {
                let since = alert.clear_since.unwrap_or(now);
                if now - since >= auto {
                    events.push(resolve(alert.id, now));
                } else if alert.clear_since.is_none() {
                    events.push(AlertEvent::ClearSince {
                        id: alert.id,
                        since: Some(now),
                    });
                }
            }
        }
    }
    let Some(new) = firing else { return };
    if !config.alerts_enabled {
        return;
    }
    if open.iter().any(|a| a.severity >= new.severity) {
        return;
    }
    let window = Duration::minutes(DEDUP_WINDOW_MINUTES);
    let recent = known
        .iter()
        .filter(in_family)
        .any(|a| a.severity == new.severity && now - a.created_at < window);
    if recent {
        return;
    }
    events.push(match escalate_from {
        Some(id) => AlertEvent::Escalate {
            resolve: id,
            open: new.clone(),
        },
        None => AlertEvent::Open(new.clone()),
    });
}

fn resolve(id: Id, now: Timestamp) -> AlertEvent {
    AlertEvent::Resolve {
        id,
        at: now,
        by: ResolvedBy::SYSTEM,
    }
}

#[cfg(test)]
mod tests;
