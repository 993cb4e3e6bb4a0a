//! `GET /api/stats/sites`, `/api/stats/site/:siteId` and `/api/stats/site/:siteId/history`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::history::HistoryQuery;
use super::{SitePath, mark_freshness, readable_site, site_info, to_json};
use crate::http::auth::{Admin, Caller};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiQuery, Envelope, ok};
use crate::http::state::AppState;
use crate::model::{Site, SiteInfo, SiteStats};
use crate::poller::LiveSnapshot;
use crate::store::Window;

/// Said of a site no poll has measured and the store has no sample of.
const NOT_MEASURED: &str = "Statistics not available yet";

/// `GET /api/stats/sites` (admin): one entry per site not deleted, by name — its latest stats,
/// or `{site, error}` when the last poll could not measure it or it was never measured.
#[utoipa::path(
    get,
    path = "/api/stats/sites",
    tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One entry per site not deleted, by name: its latest stats, or `{site, error}` when it could not be measured", body = Envelope<Vec<SiteStats>>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn all(_admin: Admin, State(state): State<AppState>) -> ApiResult<Response> {
    let live = state.live();
    if let Some(body) = state.sites_cache.fresh(&live) {
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    let sites = state.store.sites().await?;
    let body = match state.sites_cache.get(&live, &sites) {
        Some(body) => body,
        None => {
            let mut from_store = false;
            let mut entries = Vec::with_capacity(sites.len());
            for site in &sites {
                let entry = entry(&state, &live, site).await?;
                from_store |= matches!(entry, Entry::Stored(_));
                entries.push(entry);
            }
            let body = serde_json::to_vec(&Envelope::new(entries))
                .map(axum::body::Bytes::from)
                .map_err(|e| ApiError::Internal(format!("serialize sites: {e}")))?;
            // A stored fallback can change without a new snapshot: only live answers are kept.
            if !from_store {
                state.sites_cache.put(live, sites, body.clone());
            }
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One entry of `/api/stats/sites`, serialized as the stats themselves or `{site, error}`.
#[derive(Serialize)]
#[serde(untagged)]
enum Entry<'a> {
    Live(&'a SiteStats),
    Stored(Box<SiteStats>),
    Error { site: SiteInfo, error: String },
}

/// One entry of `/api/stats/sites`.
async fn entry<'a>(state: &AppState, live: &'a LiveSnapshot, site: &Site) -> ApiResult<Entry<'a>> {
    if let Some(stats) = live.sites.iter().find(|s| s.site.id == site.id) {
        return Ok(Entry::Live(stats));
    }
    let error = match live.site_errors.iter().find(|e| e.site.id == site.id) {
        Some(e) => e.error.clone(),
        None => match state.store.latest_site_stats(site.id).await? {
            Some(stats) => return Ok(Entry::Stored(Box::new(stats))),
            None => NOT_MEASURED.to_owned(),
        },
    };
    Ok(Entry::Error {
        site: site_info(site),
        error,
    })
}

/// `GET /api/stats/site/:siteId` (admin, owner, or any access): the site's latest stats with
/// `stale`/`staleSince`; a stored sample (stale, with the last poll's `error` if any) when the
/// last poll could not measure it; 503 when there is nothing at all.
#[utoipa::path(
    get,
    path = "/api/stats/site/{site_id}",
    tag = "stats",
    security(("bearer" = [])),
    params(("site_id" = String, Path, description = "Site id (24 hex digits)", pattern = "^[0-9a-f]{24}$")),
    responses(
        (status = 200, description = "The site's latest stats, plus `stale` (bool) and `staleSince` (date-time or null) in `data`, and `error` when the last poll failed", body = Envelope<SiteStats>),
        (status = 400, description = "Invalid site id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked, or no access to this site", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Unknown or deleted site", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "The site was never measured, or store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn one(
    caller: Caller,
    State(state): State<AppState>,
    site_id: SitePath,
) -> ApiResult<Json<Envelope<Value>>> {
    let site = readable_site(&state, &caller, site_id).await?;
    let live = state.live();
    if let Some(stats) = live.sites.iter().find(|s| s.site.id == site.id) {
        let mut data = to_json(stats)?;
        mark_freshness(&mut data, live.stale_since);
        return Ok(ok(data));
    }
    let error = live
        .site_errors
        .iter()
        .find(|e| e.site.id == site.id)
        .map(|e| e.error.clone());
    let Some(stats): Option<SiteStats> = state.store.latest_site_stats(site.id).await? else {
        let why = error.unwrap_or_else(|| "not measured yet".to_owned());
        return Err(ApiError::Unavailable(format!(
            "{NOT_MEASURED} for site {}: {why}",
            site.name
        )));
    };
    let mut data = to_json(&stats)?;
    mark_freshness(&mut data, Some(live.stale_since.unwrap_or(stats.timestamp)));
    if let (Value::Object(map), Some(error)) = (&mut data, error) {
        map.insert("error".to_owned(), json!(error));
    }
    Ok(ok(data))
}

/// `GET /api/stats/site/:siteId/history?hours=1..168&limit=1..200`: as the server history. The
/// site is checked (400/404/403) before the query, so a caller without access learns nothing
/// from the query's validation.
#[utoipa::path(
    get,
    path = "/api/stats/site/{site_id}/history",
    tag = "stats",
    security(("bearer" = [])),
    params(
        ("site_id" = String, Path, description = "Site id (24 hex digits)", pattern = "^[0-9a-f]{24}$"),
        ("hours" = Option<u32>, Query, description = "Window length, hours (default 1)", minimum = 1, maximum = 168),
        ("limit" = Option<u32>, Query, description = "Most points returned (default 60)", minimum = 1, maximum = 200)
    ),
    responses(
        (status = 200, description = "Ascending points covering the window (bucket means, peaks in `max`)", body = Envelope<Vec<SiteStats>>),
        (status = 400, description = "Invalid site id, hours or limit out of range, or unknown parameter", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked, or no access to this site", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Unknown or deleted site", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn history(
    caller: Caller,
    State(state): State<AppState>,
    site_id: SitePath,
    query: Result<ApiQuery<HistoryQuery>, ApiError>,
) -> ApiResult<Json<Envelope<Vec<SiteStats>>>> {
    let site = readable_site(&state, &caller, site_id).await?;
    let ApiQuery(query) = query?;
    let (hours, limit) = query.parse()?;
    let window = Window::last_hours(state.now(), hours);
    Ok(ok(state.store.site_history(site.id, window, limit).await?))
}
