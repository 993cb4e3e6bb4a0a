//! `GET /api/stats/services/:siteId`, `/api/stats/services` and `/api/stats/databases`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::{SitePath, readable_site};
use crate::http::auth::{Admin, Caller};
use crate::http::error::ApiResult;
use crate::http::extract::{Envelope, ok};
use crate::http::state::AppState;
use crate::model::time::iso_opt;
use crate::model::{
    DatabaseCounts, Id, Service, ServiceResources, ServiceStatus, ServiceUnitRow, Timestamp,
};
use crate::poller::{ServiceLive, UnitInfo};

/// A service of `/api/stats/services/:siteId` (CONTRACT §4 "site services").
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteServiceView {
    /// Service id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Port.
    pub port: Option<u16>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// `status: {current, desired}` as stored.
    pub status: ServiceStatus,
    /// The unit as last seen.
    pub systemd: SystemdView,
    /// `resources: {maxMemoryMB, maxCpuPercent}`.
    pub resources: ServiceResources,
}

/// `systemd` of a site service: `null`s and an `error` when the unit's state is unknown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemdView {
    /// Unit name as stored (`systemd.serviceName`).
    pub service_name: String,
    /// ActiveState is `active` or `reloading`.
    pub active: Option<bool>,
    /// ActiveState `active` and SubState `running`.
    pub running: Option<bool>,
    /// Main PID.
    pub pid: Option<u32>,
    /// Seconds since it became active (0 when not active).
    pub uptime: Option<u64>,
    /// cgroup memory, bytes.
    pub memory: Option<u64>,
    /// CPU time, seconds.
    pub cpu: Option<f64>,
    /// When it became active.
    #[serde(with = "iso_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// NRestarts.
    pub failure_count: Option<u32>,
    /// Why the state is unknown, or what went wrong with the unit.
    pub error: Option<String>,
    /// ActiveState (extra).
    pub active_state: Option<String>,
    /// SubState (extra).
    pub sub_state: Option<String>,
    /// LoadState (extra).
    pub load_state: Option<String>,
}

/// `GET /api/stats/services/:siteId` (admin, owner, or any access): the site's services with
/// their units as last seen. An unknown unit is `null`s and an `error`, never a failed request.
#[utoipa::path(
    get,
    path = "/api/stats/services/{site_id}",
    tag = "stats",
    security(("bearer" = [])),
    params(("site_id" = String, Path, description = "Site id (24 hex digits)", pattern = "^[0-9a-f]{24}$")),
    responses(
        (status = 200, description = "The site's services with their units as last seen", body = Envelope<Vec<SiteServiceView>>),
        (status = 400, description = "Invalid site id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked, or no access to this site", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Unknown or deleted site", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn of_site(
    caller: Caller,
    State(state): State<AppState>,
    site_id: SitePath,
) -> ApiResult<Json<Envelope<Vec<SiteServiceView>>>> {
    let site = readable_site(&state, &caller, site_id).await?;
    let live = state.live();
    let now = state.now();
    let services = state.store.services_of_site(site.id).await?;
    let rows = services
        .into_iter()
        .map(|s| {
            let seen = live.services.iter().find(|l| l.service == s.id);
            site_service(s, seen, now)
        })
        .collect();
    Ok(ok(rows))
}

/// One row of the site services.
pub fn site_service(
    service: Service,
    seen: Option<&ServiceLive>,
    now: Timestamp,
) -> SiteServiceView {
    let systemd = match seen {
        None => unknown(
            service.systemd.service_name.clone(),
            "Unit state not known yet",
        ),
        Some(ServiceLive { state: None, .. }) => unknown(
            service.systemd.service_name.clone(),
            "Unit state unknown: agent or systemd unavailable",
        ),
        Some(ServiceLive {
            state: Some(unit), ..
        }) => known(service.systemd.service_name.clone(), unit, now),
    };
    SiteServiceView {
        id: service.id,
        name: service.name,
        display_name: service.display_name,
        kind: service.kind,
        port: service.port,
        working_dir: service.working_dir,
        status: service.status,
        systemd,
        resources: service.resources,
    }
}

fn unknown(service_name: String, error: &str) -> SystemdView {
    SystemdView {
        service_name,
        active: None,
        running: None,
        pid: None,
        uptime: None,
        memory: None,
        cpu: None,
        started_at: None,
        failure_count: None,
        error: Some(error.to_owned()),
        active_state: None,
        sub_state: None,
        load_state: None,
    }
}

fn known(service_name: String, unit: &UnitInfo, now: Timestamp) -> SystemdView {
    let up = unit.is_up();
    let started_at = unit.active_since.filter(|_| up);
    let uptime = if up {
        started_at.map(|t| u64::try_from((now - t).num_seconds()).unwrap_or(0))
    } else {
        Some(0)
    };
    let error = if unit.load_state == "not-found" {
        Some("Unit not found".to_owned())
    } else if unit.active_state == "failed" {
        Some(format!("Unit failed ({})", unit.result))
    } else {
        None
    };
    SystemdView {
        service_name,
        active: Some(up),
        running: Some(is_running(unit)),
        pid: unit.main_pid.filter(|p| *p > 0),
        uptime,
        memory: unit.memory_bytes,
        cpu: unit.cpu_nsec.map(|ns| (ns / 1_000_000) as f64 / 1000.0),
        started_at,
        failure_count: unit.restarts,
        error,
        active_state: Some(unit.active_state.clone()),
        sub_state: Some(unit.sub_state.clone()),
        load_state: Some(unit.load_state.clone()),
    }
}

fn is_running(unit: &UnitInfo) -> bool {
    unit.active_state == "active" && unit.sub_state == "running"
}

/// `data` of `GET /api/stats/services`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnitsSummary {
    /// Units.
    pub total: usize,
    /// Active and running.
    pub running: usize,
    /// Neither running nor failed (inactive, activating, unknown...).
    pub stopped: usize,
    /// ActiveState `failed`.
    pub failed: usize,
    /// One row per unit, by name.
    pub services: Vec<ServiceUnitRow>,
}

/// `GET /api/stats/services` (admin): every service unit the poller follows.
#[utoipa::path(
    get,
    path = "/api/stats/services",
    tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every service unit the poller follows", body = Envelope<UnitsSummary>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn units(
    _admin: Admin,
    State(state): State<AppState>,
) -> Json<Envelope<UnitsSummary>> {
    ok(summary(&state.live().services))
}

/// The units summary of the poller's services.
pub fn summary(services: &[ServiceLive]) -> UnitsSummary {
    let mut rows: Vec<ServiceUnitRow> = services
        .iter()
        .map(|s| match &s.state {
            Some(u) => ServiceUnitRow {
                name: s.unit.clone(),
                load: u.load_state.clone(),
                active: u.active_state.clone(),
                sub: u.sub_state.clone(),
                running: is_running(u),
            },
            None => ServiceUnitRow {
                name: s.unit.clone(),
                load: "unknown".to_owned(),
                active: "unknown".to_owned(),
                sub: "unknown".to_owned(),
                running: false,
            },
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let running = rows.iter().filter(|r| r.running).count();
    let failed = rows.iter().filter(|r| r.active == "failed").count();
    UnitsSummary {
        total: rows.len(),
        running,
        stopped: rows.len() - running - failed,
        failed,
        services: rows,
    }
}

/// `GET /api/stats/databases` (admin): `{total, byType: {mongodb, mysql, postgresql}}`.
#[utoipa::path(
    get,
    path = "/api/stats/databases",
    tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Database counts", body = Envelope<DatabaseCounts>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn databases(
    _admin: Admin,
    State(state): State<AppState>,
) -> ApiResult<Json<Envelope<DatabaseCounts>>> {
    Ok(ok(state.store.database_counts().await?))
}
