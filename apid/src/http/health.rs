//! `GET /api/health`: public; `{success, status, version, timestamp, uptime}` without a `data`
//! envelope (as Twoine), plus the agent link and the store state.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::state::AppState;
use crate::model::time::to_millis;

/// The health route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/health", get(health))
}

/// The health route's documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(health))]
pub struct Doc;

/// `GET /api/health`.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    responses((
        status = 200,
        description = "`{success, status: \"ok\", degraded, version, timestamp, uptime, agent, store, poller}` (no `data` envelope)",
        body = Object
    ))
)]
async fn health(State(state): State<AppState>) -> axum::Json<Value> {
    let live = state.live();
    let agent = state.agent.state();
    let store_ok = state.store.count_users().await.is_ok();
    let stale_since = live
        .stale_since
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let last_poll = live
        .taken_at
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    // `status` stays "ok" while apid answers (Twoine's meaning); `degraded` says whether the
    // agent, the store or the buffered snapshots need the operator.
    let degraded = !(agent.connected && store_ok && live.store_pending == 0);
    let now = state.now();
    axum::Json(json!({
        "success": true,
        "status": "ok",
        "degraded": degraded,
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "uptime": (to_millis(now) - to_millis(state.started_at)).max(0) as f64 / 1000.0,
        "agent": agent,
        "store": {
            "connected": store_ok,
            "pending": live.store_pending,
            "dropped": live.store_dropped,
        },
        "poller": {
            "lastPoll": last_poll,
            "staleSince": stale_since,
            "polls": live.polls,
        },
    }))
}
