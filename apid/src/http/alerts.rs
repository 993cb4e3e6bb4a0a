//! Alerts (CONTRACT §4, §6): the list, acknowledge and resolve.
//!
//! - `GET /api/stats/alerts?status=&severity=&siteId=&limit=` (any caller): default active and
//!   acknowledged, newest first, at most 100. `status` and `severity` take one value or a
//!   comma-separated list; an empty or unknown value is a 400, never "no filter".
//!   Non-admins see only alerts of sites they may read (server-wide ones are hidden).
//! - `POST /api/stats/alerts/{alertId}/acknowledge`: admin, or a non-readonly user who may act
//!   on the alert's site; 409 once resolved; acknowledging twice returns the alert unchanged.
//! - `POST /api/stats/alerts/{alertId}/resolve`: admins; 409 when already resolved.
//!
//! Both changes are published as [`PollerEvent::AlertUpdated`] for the WebSocket.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, Envelope, ok, parse_id};
use super::state::AppState;
use crate::model::{
    Alert, AlertStatus, AlertView, Id, NamedRef, ResolvedBy, Severity, Site, UserRef,
};
use crate::poller::PollerEvent;
use crate::store::{AlertFilter, MAX_ALERTS};

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/stats/alerts", get(list))
        .route(
            "/api/stats/alerts/{alert_id}/acknowledge",
            post(acknowledge),
        )
        .route("/api/stats/alerts/{alert_id}/resolve", post(resolve))
}

/// `?status=&severity=&siteId=&limit=`, each checked before any store query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    severity: Option<String>,
    #[serde(rename = "siteId")]
    site_id: Option<String>,
    limit: Option<String>,
}

/// The query once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListFilter {
    statuses: Vec<AlertStatus>,
    severities: Vec<Severity>,
    site: Option<Id>,
    limit: usize,
}

/// A given parameter; an empty one is refused rather than read as "no filter".
fn present<'a>(v: Option<&'a str>, what: &str) -> ApiResult<Option<&'a str>> {
    match v {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Err(ApiError::bad_request(format!(
            "Invalid {what}: empty value"
        ))),
        Some(v) => Ok(Some(v)),
    }
}

fn parse_list<T>(
    raw: Option<&str>,
    what: &str,
    allowed: &str,
    parse: fn(&str) -> Option<T>,
) -> ApiResult<Vec<T>> {
    let Some(raw) = present(raw, what)? else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|v| {
            parse(v.trim()).ok_or_else(|| {
                ApiError::bad_request(format!("Invalid {what} \"{v}\": expected {allowed}"))
            })
        })
        .collect()
}

impl ListQuery {
    fn validate(&self) -> ApiResult<ListFilter> {
        let statuses = parse_list(
            self.status.as_deref(),
            "status",
            "active, acknowledged or resolved",
            AlertStatus::parse,
        )?;
        let severities = parse_list(
            self.severity.as_deref(),
            "severity",
            "info, warning, error or critical",
            Severity::parse,
        )?;
        let site = present(self.site_id.as_deref(), "siteId")?
            .map(|s| parse_id(s, "site"))
            .transpose()?;
        let limit = match present(self.limit.as_deref(), "limit")? {
            None => MAX_ALERTS,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_ALERTS).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("limit must be between 1 and {MAX_ALERTS}"))
                })?,
        };
        Ok(ListFilter {
            statuses,
            severities,
            site,
            limit,
        })
    }
}

/// The alert routes' documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, acknowledge, resolve))]
pub struct Doc;

/// `GET /api/stats/alerts`.
#[utoipa::path(
    get,
    path = "/api/stats/alerts",
    tag = "alerts",
    security(("bearer" = [])),
    params(
        ("status" = Option<String>, Query, description = "One or a comma-separated list of `active`, `acknowledged`, `resolved` (default `active,acknowledged`)"),
        ("severity" = Option<String>, Query, description = "One or a comma-separated list of `info`, `warning`, `error`, `critical`"),
        ("siteId" = Option<String>, Query, description = "Only this site's alerts (24 hex digits)", pattern = "^[0-9a-f]{24}$"),
        ("limit" = Option<u32>, Query, description = "Most alerts returned, newest first (default 100)", minimum = 1, maximum = 100)
    ),
    responses(
        (status = 200, description = "Alerts the caller may see, newest first", body = Envelope<Vec<AlertView>>),
        (status = 400, description = "Bad, empty or unknown parameter", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<Envelope<Vec<AlertView>>>> {
    let filter = query.validate()?;
    let mut names = Names::new(&state);
    let sites = match filter.site {
        Some(id) => {
            let site = names
                .site(id)
                .await?
                .ok_or_else(|| ApiError::not_found("Site not found"))?;
            if !caller.can_read_site(&site) {
                return Err(ApiError::forbidden("You do not have access to this site"));
            }
            Some(vec![id])
        }
        None if caller.is_admin() => None,
        None => Some(
            state
                .store
                .sites_of_user(caller.user_id())
                .await?
                .into_iter()
                .filter(|s| caller.can_read_site(s))
                .map(|s| s.id)
                .collect(),
        ),
    };
    let store_filter = AlertFilter {
        statuses: filter.statuses.clone(),
        sites,
        severities: filter.severities.clone(),
        limit: filter.limit,
    };
    let alerts = state.store.list_alerts(&store_filter).await?;
    let mut out = Vec::new();
    for alert in alerts {
        let site = match alert.site {
            Some(id) => names.site(id).await?,
            None => None,
        };
        if !caller.can_see_alert(site.as_ref()) {
            continue;
        }
        out.push(names.view(alert, site).await?);
        if out.len() >= filter.limit {
            break;
        }
    }
    Ok(ok(out))
}

/// The alert and its site, or 400/404.
async fn load(state: &AppState, raw: &str) -> ApiResult<(Alert, Option<Site>)> {
    let id = parse_id(raw, "alert")?;
    let alert = state
        .store
        .alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Alert not found"))?;
    let site = match alert.site {
        Some(site) => state.store.site(site).await?,
        None => None,
    };
    Ok((alert, site))
}

/// `POST /api/stats/alerts/{alertId}/acknowledge`.
#[utoipa::path(
    post,
    path = "/api/stats/alerts/{alert_id}/acknowledge",
    tag = "alerts",
    security(("bearer" = [])),
    params(("alert_id" = String, Path, description = "Alert id (24 hex digits)", pattern = "^[0-9a-f]{24}$")),
    responses(
        (status = 200, description = "The alert, acknowledged (unchanged if it already was)", body = Envelope<AlertView>),
        (status = 400, description = "Invalid alert id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked, or not allowed to acknowledge this alert", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Unknown alert", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "Alert already resolved", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(alert_id): Path<String>,
) -> ApiResult<axum::Json<Envelope<AlertView>>> {
    let (alert, site) = load(&state, &alert_id).await?;
    if !caller.can_acknowledge(&alert, site.as_ref()) {
        return Err(ApiError::forbidden(
            "You are not allowed to acknowledge this alert",
        ));
    }
    if alert.status == AlertStatus::Resolved {
        return Err(ApiError::Conflict("Alert already resolved".to_owned()));
    }
    let updated = state
        .store
        .acknowledge_alert(alert.id, caller.user_id(), state.now())
        .await?;
    if updated != alert {
        let _ = state
            .events
            .send(PollerEvent::AlertUpdated(updated.clone()));
    }
    let view = Names::new(&state).view(updated, site).await?;
    Ok(ok(view))
}

/// `POST /api/stats/alerts/{alertId}/resolve`.
#[utoipa::path(
    post,
    path = "/api/stats/alerts/{alert_id}/resolve",
    tag = "alerts",
    security(("bearer" = [])),
    params(("alert_id" = String, Path, description = "Alert id (24 hex digits)", pattern = "^[0-9a-f]{24}$")),
    responses(
        (status = 200, description = "The alert, resolved", body = Envelope<AlertView>),
        (status = 400, description = "Invalid alert id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Unknown alert", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "Alert already resolved", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(alert_id): Path<String>,
) -> ApiResult<axum::Json<Envelope<AlertView>>> {
    if !caller.can_resolve() {
        return Err(ApiError::forbidden("Admin access required"));
    }
    let (alert, site) = load(&state, &alert_id).await?;
    if alert.status == AlertStatus::Resolved {
        return Err(ApiError::Conflict("Alert already resolved".to_owned()));
    }
    let updated = state
        .store
        .resolve_alert(alert.id, state.now(), ResolvedBy::User(caller.user_id()))
        .await?;
    let _ = state
        .events
        .send(PollerEvent::AlertUpdated(updated.clone()));
    let view = Names::new(&state).view(updated, site).await?;
    Ok(ok(view))
}

/// Resolves the ids of alerts to names, each looked up once per request.
struct Names<'a> {
    state: &'a AppState,
    sites: HashMap<Id, Option<Site>>,
    services: HashMap<Id, Option<NamedRef>>,
    users: HashMap<Id, Option<UserRef>>,
}

impl<'a> Names<'a> {
    fn new(state: &'a AppState) -> Self {
        Self {
            state,
            sites: HashMap::new(),
            services: HashMap::new(),
            users: HashMap::new(),
        }
    }

    async fn site(&mut self, id: Id) -> ApiResult<Option<Site>> {
        if let Some(s) = self.sites.get(&id) {
            return Ok(s.clone());
        }
        let s = self.state.store.site(id).await?;
        self.sites.insert(id, s.clone());
        Ok(s)
    }

    async fn service(&mut self, id: Id) -> ApiResult<Option<NamedRef>> {
        if let Some(s) = self.services.get(&id) {
            return Ok(s.clone());
        }
        let s = self.state.store.service(id).await?.map(|s| NamedRef {
            id: s.id,
            name: s.name,
            display_name: s.display_name,
        });
        self.services.insert(id, s.clone());
        Ok(s)
    }

    async fn user(&mut self, id: Id) -> ApiResult<Option<UserRef>> {
        if let Some(u) = self.users.get(&id) {
            return Ok(u.clone());
        }
        let u = self.state.store.user(id).await?.map(|u| UserRef {
            id: u.id,
            username: u.username,
        });
        self.users.insert(id, u.clone());
        Ok(u)
    }

    async fn view(&mut self, alert: Alert, site: Option<Site>) -> ApiResult<AlertView> {
        let site = site.map(|s| NamedRef {
            id: s.id,
            name: s.name,
            display_name: s.display_name,
        });
        let service = match alert.service {
            Some(id) => self.service(id).await?,
            None => None,
        };
        let by = match alert.acknowledged_by {
            Some(id) => self.user(id).await?,
            None => None,
        };
        Ok(AlertView::new(alert, site, service, by))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(status: Option<&str>, severity: Option<&str>, limit: Option<&str>) -> ListQuery {
        ListQuery {
            status: status.map(str::to_owned),
            severity: severity.map(str::to_owned),
            site_id: None,
            limit: limit.map(str::to_owned),
        }
    }

    #[test]
    fn query_values_are_checked_against_their_enums_and_range() {
        let f = q(Some("resolved"), Some("warning,critical"), Some("5"))
            .validate()
            .unwrap();
        assert_eq!(f.statuses, vec![AlertStatus::Resolved]);
        assert_eq!(f.severities, vec![Severity::Warning, Severity::Critical]);
        assert_eq!(f.limit, 5);
        let d = q(None, None, None).validate().unwrap();
        assert!(d.statuses.is_empty() && d.limit == MAX_ALERTS);
        for bad in [
            q(Some("open"), None, None),
            q(Some(""), None, None),
            q(Some("active,"), None, None),
            q(None, Some(" "), None),
            q(None, Some("fatal"), None),
            q(None, None, Some("0")),
            q(None, None, Some("101")),
            q(None, None, Some("ten")),
        ] {
            assert!(
                matches!(bad.validate(), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }
}
