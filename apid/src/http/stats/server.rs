//! `GET /api/stats/server`, `/api/stats/server/history` and `/api/stats/system`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::history::HistoryQuery;
use super::{Fresh, mark_freshness, to_json};
use crate::http::auth::{Admin, Caller};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiQuery, Envelope, ok};
use crate::http::state::AppState;
use crate::model::{ServerStats, Timestamp};
use crate::store::Window;

/// Keys of the server stats that only admins see in `/api/stats/system`.
const ADMIN_ONLY_KEYS: [&str; 4] = ["network", "processes", "system", "networks"];

/// `GET /api/stats/server` (admin): the latest server stats.
#[utoipa::path(
    get,
    path = "/api/stats/server",
    tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest server stats, plus `stale` (bool) and `staleSince` (date-time or null) in `data`", body = Envelope<ServerStats>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "No statistics yet (first poll pending or agent unavailable), or store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn server(
    _admin: Admin,
    State(state): State<AppState>,
) -> ApiResult<Json<Envelope<Fresh<ServerStats>>>> {
    let (stats, stale_since) = latest(&state).await?;
    Ok(ok(Fresh::new(stats, stale_since)))
}

/// `GET /api/stats/system` (any caller): the server stats; non-admins get no `network`,
/// `processes`, `system` or `networks`.
#[utoipa::path(
    get,
    path = "/api/stats/system",
    tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest server stats, plus `stale` (bool) and `staleSince` (date-time or null) in `data`; non-admins get no `network`, `processes`, `system`", body = Envelope<ServerStats>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "No statistics yet (first poll pending or agent unavailable), or store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn system(
    caller: Caller,
    State(state): State<AppState>,
) -> ApiResult<Json<Envelope<Value>>> {
    let mut data = current(&state).await?;
    if !caller.can_admin()
        && let Value::Object(map) = &mut data
    {
        for key in ADMIN_ONLY_KEYS {
            map.remove(key);
        }
    }
    Ok(ok(data))
}

/// `GET /api/stats/server/history?hours=1..168&limit=1..200` (admin; defaults 1 and 60):
/// ascending, covering the whole window, at most `limit` points (bucket means, peaks in `max`).
/// Twoine allowed `hours` up to 24; the panels' 7-day chart needs 168, served from roll-ups.
#[utoipa::path(
    get,
    path = "/api/stats/server/history",
    tag = "stats",
    security(("bearer" = [])),
    params(
        ("hours" = Option<u32>, Query, description = "Window length, hours (default 1)", minimum = 1, maximum = 168),
        ("limit" = Option<u32>, Query, description = "Most points returned (default 60)", minimum = 1, maximum = 200)
    ),
    responses(
        (status = 200, description = "Ascending points covering the window (bucket means, peaks in `max`)", body = Envelope<Vec<ServerStats>>),
        (status = 400, description = "hours or limit out of range, or unknown parameter", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
pub(super) async fn history(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Envelope<Vec<ServerStats>>>> {
    let (hours, limit) = query.parse()?;
    let window = Window::last_hours(state.now(), hours);
    Ok(ok(state.store.server_history(window, limit).await?))
}

/// The server stats with their freshness: the poller's latest sample (stale while the agent is
/// away), else the newest stored one (stale since the poller's `stale_since`, or since it was
/// taken), else 503.
async fn current(state: &AppState) -> ApiResult<Value> {
    let (stats, stale_since) = latest(state).await?;
    let mut data = to_json(&stats)?;
    mark_freshness(&mut data, stale_since);
    Ok(data)
}

/// The newest server sample and since when it is stale (`None`: fresh).
async fn latest(state: &AppState) -> ApiResult<(ServerStats, Option<Timestamp>)> {
    let live = state.live();
    let (stats, stale_since): (ServerStats, Option<Timestamp>) = match &live.server {
        Some(s) => (s.clone(), live.stale_since),
        None => match state.store.latest_server_stats().await? {
            Some(s) => {
                let since = live.stale_since.unwrap_or(s.timestamp);
                (s, Some(since))
            }
            None => return Err(not_available(state)),
        },
    };
    Ok((stats, stale_since))
}

/// The 503 when there is no server sample at all, saying why.
fn not_available(state: &AppState) -> ApiError {
    if state.agent.state().connected {
        ApiError::Unavailable("Statistics not available yet: first poll pending".to_owned())
    } else {
        ApiError::Unavailable("Statistics not available yet: agent unavailable".to_owned())
    }
}
