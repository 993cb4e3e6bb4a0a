//! `POST /api/services/{serviceId}/start|stop|restart` (CONTRACT §4): who may act is asked of
//! [`crate::permissions::Permissions::can_act_on_site`]; the unit is the service's own
//! `systemd.serviceName`, re-checked here before the agent (which checks it again) is called.
//!
//! Answers: 400 bad id; 404 unknown service or soft-deleted site; 403 not allowed; 409 when the
//! stored unit name is not a site unit of this site, when the agent refuses the action
//! (unknown unit, denied, bad name; its reason is in the message) or when the systemd job did
//! not end in `done` (the state reached is still recorded and pushed); 503 when the agent, or
//! systemd behind it, is unreachable. On success the service's `status` is written
//! (`running/running` after start and restart, `stopped/stopped` after stop) and a
//! `ServiceState` event is published with the unit's details.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use serde::Serialize;
use twoine_proto::v1 as pb;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::parse_id;
use super::state::AppState;
use crate::agent::AgentError;
use crate::model::{
    DesiredState, NamedRef, Service, ServiceState, ServiceStatus, Site, SiteStatus,
};
use crate::poller::{PollerEvent, ServiceLive, UnitInfo};

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/services/{service_id}/start",
            post(|s: State<AppState>, c: Caller, p: Path<String>| act(s, c, p, Action::Start)),
        )
        .route(
            "/api/services/{service_id}/stop",
            post(|s: State<AppState>, c: Caller, p: Path<String>| act(s, c, p, Action::Stop)),
        )
        .route(
            "/api/services/{service_id}/restart",
            post(|s: State<AppState>, c: Caller, p: Path<String>| act(s, c, p, Action::Restart)),
        )
}

/// A service action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `systemctl start`.
    Start,
    /// `systemctl stop`.
    Stop,
    /// `systemctl restart`.
    Restart,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Start => "Service started",
            Self::Stop => "Service stopped",
            Self::Restart => "Service restarted",
        }
    }

    fn desired(self) -> DesiredState {
        match self {
            Self::Stop => DesiredState::Stopped,
            Self::Start | Self::Restart => DesiredState::Running,
        }
    }

    fn reached(self) -> ServiceState {
        match self {
            Self::Stop => ServiceState::Stopped,
            Self::Start | Self::Restart => ServiceState::Running,
        }
    }
}

/// `data` of a successful action.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ActionData {
    success: bool,
    service: NamedRef,
    status: ServiceStatus,
}

/// The whole answer: `{success, data, message}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ActionAnswer {
    success: bool,
    data: ActionData,
    message: &'static str,
}

/// Whether `unit` is a site unit name: `^twoine-[a-z][a-z0-9_-]+-[a-z][a-z0-9_-]+(\.service)?$`.
pub fn is_site_unit(unit: &str) -> bool {
    let Some(rest) = unit.strip_prefix("twoine-") else {
        return false;
    };
    let rest = rest.strip_suffix(".service").unwrap_or(rest);
    let tail = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    // Some split "<site>-<service>" where each part is [a-z][a-z0-9_-]+.
    let segment = |s: &str| {
        let mut b = s.bytes();
        b.next().is_some_and(|c| c.is_ascii_lowercase()) && tail(&s[1..])
    };
    rest.match_indices('-')
        .any(|(i, _)| segment(&rest[..i]) && segment(&rest[i + 1..]))
}

/// The unit to act on: the service's own, a site unit, of this site.
fn unit_of(service: &Service, site: &Site) -> ApiResult<String> {
    let unit = service.systemd.service_name.trim();
    if unit.is_empty() {
        return Err(ApiError::Conflict(
            "This service has no systemd unit".to_owned(),
        ));
    }
    if !is_site_unit(unit) || !unit.starts_with(&format!("twoine-{}-", site.name)) {
        tracing::warn!(service = %service.id, unit, "refused: not a unit of the service's site");
        return Err(ApiError::Conflict(format!(
            "The service's unit \"{unit}\" is not a twoine-{}-<service> unit",
            site.name
        )));
    }
    Ok(unit.to_owned())
}

fn canonical(unit: &str) -> String {
    if unit.ends_with(".service") {
        unit.to_owned()
    } else {
        format!("{unit}.service")
    }
}

/// The agent's refusal as our error: systemd away is 503, anything else 409 with the reason.
fn refused(e: AgentError) -> ApiError {
    match e {
        AgentError::Status { code, message } => {
            tracing::warn!(?code, %message, "agent refused the service action");
            match code {
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                    ApiError::Unavailable("systemd unavailable".to_owned())
                }
                _ => ApiError::Conflict(format!("The agent refused the action: {message}")),
            }
        }
        other => other.into(),
    }
}

/// `status.current` for a unit's ActiveState.
fn state_of(active: &str) -> ServiceState {
    match active {
        "active" | "reloading" => ServiceState::Running,
        "inactive" => ServiceState::Stopped,
        "failed" => ServiceState::Failed,
        "activating" => ServiceState::Starting,
        "deactivating" => ServiceState::Stopping,
        _ => ServiceState::Unknown,
    }
}

/// The service routes' documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(act))]
pub struct Doc;

/// `POST /api/services/{serviceId}/start|stop|restart` (one route per action).
#[utoipa::path(
    post,
    path = "/api/services/{service_id}/{action}",
    tag = "services",
    security(("bearer" = [])),
    params(
        ("service_id" = String, Path, description = "Service id (24 hex digits)", pattern = "^[0-9a-f]{24}$"),
        ("action" = String, Path, description = "`start`, `stop` or `restart`", pattern = "^(start|stop|restart)$")
    ),
    responses(
        (status = 200, description = "`{success, data: {success, service, status}, message}`", body = ActionAnswer),
        (status = 400, description = "Invalid service id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked, or not allowed to manage this service", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Unknown service or deleted site", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "Not a unit of this site, refused by the agent, or the systemd job did not end in `done`", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Agent or systemd unavailable, or store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
#[tracing::instrument(skip_all, fields(action = action.verb()))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    action: Action,
) -> ApiResult<Json<ActionAnswer>> {
    let id = parse_id(&raw, "service")?;
    let not_found = || ApiError::not_found("Service not found");
    let service = state.store.service(id).await?.ok_or_else(not_found)?;
    let site = state
        .store
        .site(service.site)
        .await?
        .filter(|s| s.status != SiteStatus::Deleted)
        .ok_or_else(not_found)?;
    if !caller.can_act_on_site(&site) {
        return Err(ApiError::forbidden(
            "You are not allowed to manage this service",
        ));
    }
    let unit = unit_of(&service, &site)?;
    let outcome = match action {
        Action::Start => state.agent.start_unit(unit.clone()).await,
        Action::Stop => state.agent.stop_unit(unit.clone()).await,
        Action::Restart => state.agent.restart_unit(unit.clone()).await,
    }
    .map_err(refused)?;
    tracing::info!(
        user = %caller.user().username, unit = %unit, job = %outcome.job_result,
        "service action"
    );
    let details = unit_details(&state, &unit, outcome.unit).await;
    let succeeded = outcome.job_result == "done";
    let current = if succeeded {
        action.reached()
    } else {
        details
            .as_ref()
            .map_or(ServiceState::Unknown, |d| state_of(&d.active_state))
    };
    let status = ServiceStatus {
        current,
        desired: action.desired(),
    };
    state.store.set_service_status(service.id, status).await?;
    let _ = state.events.send(PollerEvent::ServiceState(ServiceLive {
        service: service.id,
        site: site.id,
        name: service.name.clone(),
        unit: canonical(&unit),
        desired: status.desired,
        state: details,
    }));
    if !succeeded {
        return Err(ApiError::Conflict(format!(
            "The service did not {} (systemd job: {})",
            action.verb(),
            outcome.job_result
        )));
    }
    Ok(Json(ActionAnswer {
        success: true,
        data: ActionData {
            success: true,
            service: NamedRef {
                id: service.id,
                name: service.name,
                display_name: service.display_name,
            },
            status,
        },
        message: action.done(),
    }))
}

/// The unit as the action left it; asked again when the action's answer lacks it (best effort).
async fn unit_details(
    state: &AppState,
    unit: &str,
    from_action: Option<pb::UnitDetails>,
) -> Option<UnitInfo> {
    let now = state.now();
    if let Some(info) = from_action
        .as_ref()
        .and_then(|d| UnitInfo::from_details(d, now))
    {
        return Some(info);
    }
    match state.agent.unit_details(vec![unit.to_owned()]).await {
        Ok(r) => r.units.iter().find_map(|d| UnitInfo::from_details(d, now)),
        Err(e) => {
            tracing::debug!(error = %e, "unit details after the action unavailable");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_segment_site_units_pass() {
        for ok in [
            "twoine-alpha-web",
            "twoine-alpha-web.service",
            "twoine-my-site-api_2",
            "twoine-a1-b2",
        ] {
            assert!(is_site_unit(ok), "{ok}");
        }
        for bad in [
            "twoine-api",
            "twoine-agent.service",
            "twoine-supervisor",
            "twoine-Alpha-web",
            "twoine-alpha-web.socket",
            "twoine-alpha-",
            "twoine-a-web",
            "twoine-1a-web",
            "sshd",
            "twoine-alpha-web/../x",
            "twoine-alpha-web ",
            "",
        ] {
            assert!(!is_site_unit(bad), "{bad}");
        }
    }
}
