//! `/api/stats/*`: the statistics routes of CONTRACT §4 (the alert, config and WebSocket routes
//! live in their own modules).
//!
//! Where the numbers come from:
//! - the poller's latest state (`state.live()`), what the agent reported at the last poll;
//! - when the poller has nothing yet (apid just started, agent away since start), the newest
//!   snapshot in the store, marked `stale`;
//! - nothing at all: 503, never made-up zeros.
//!
//! Live server and site figures carry `"stale": bool` and `"staleSince": <iso>|null` inside
//! `data` (extra fields the panels ignore): while the agent is away the last data is still
//! served, and says since when it is not refreshed.

mod history;
mod server;
mod services;
mod sites;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::routing::get;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::parse_id;
use super::state::AppState;
use crate::model::{Site, SiteInfo, SiteStatus, Timestamp};
use crate::poller::LiveSnapshot;

pub use history::{
    DEFAULT_HISTORY_HOURS, DEFAULT_HISTORY_LIMIT, HistoryQuery, MAX_HISTORY_HOURS,
    MAX_HISTORY_LIMIT,
};

/// The statistics routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/stats/server", get(server::server))
        .route("/api/stats/server/history", get(server::history))
        .route("/api/stats/system", get(server::system))
        .route("/api/stats/sites", get(sites::all))
        .route("/api/stats/site/{site_id}", get(sites::one))
        .route("/api/stats/site/{site_id}/history", get(sites::history))
        .route("/api/stats/services", get(services::units))
        .route("/api/stats/services/{site_id}", get(services::of_site))
        .route("/api/stats/databases", get(services::databases))
}

/// The statistics routes' documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    server::server,
    server::history,
    server::system,
    sites::all,
    sites::one,
    sites::history,
    services::units,
    services::of_site,
    services::databases
))]
pub struct Doc;

/// The `:siteId` segment (a rejection becomes our JSON 400 in [`readable_site`]).
type SitePath = Result<Path<String>, PathRejection>;

/// The site a path names, if `caller` may read it: 400 for a malformed id, 404 for an unknown
/// or soft-deleted site, 403 when the caller has no access (never 401).
async fn readable_site(state: &AppState, caller: &Caller, path: SitePath) -> ApiResult<Site> {
    let Path(raw) = path?;
    let id = parse_id(&raw, "site")?;
    let site = state
        .store
        .site(id)
        .await?
        .filter(|s| s.status != SiteStatus::Deleted)
        .ok_or_else(|| ApiError::not_found("Site not found"))?;
    if !caller.can_read_site(&site) {
        return Err(ApiError::forbidden("Access denied to this site"));
    }
    Ok(site)
}

/// The `site` block of a site.
fn site_info(site: &Site) -> SiteInfo {
    SiteInfo {
        id: site.id,
        name: site.name.clone(),
        display_name: site.display_name.clone(),
        status: site.status,
    }
}

/// `value` as JSON (a serialization failure is a bug: 500 with the cause logged).
fn to_json<T: Serialize>(value: &T) -> ApiResult<Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(format!("serialize stats: {e}")))
}

/// Adds `stale` and `staleSince` to an object.
fn mark_freshness(value: &mut Value, stale_since: Option<Timestamp>) {
    if let Value::Object(map) = value {
        map.insert("stale".to_owned(), json!(stale_since.is_some()));
        map.insert(
            "staleSince".to_owned(),
            json!(stale_since.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))),
        );
    }
}

/// A stats object with `stale` and `staleSince` beside its own fields, serialized in one pass
/// (no intermediate `serde_json::Value`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fresh<T> {
    #[serde(flatten)]
    data: T,
    stale: bool,
    #[serde(with = "crate::model::time::iso_opt")]
    stale_since: Option<Timestamp>,
}

impl<T> Fresh<T> {
    fn new(data: T, stale_since: Option<Timestamp>) -> Self {
        Self {
            data,
            stale: stale_since.is_some(),
            stale_since,
        }
    }
}

/// The last `/api/stats/sites` body, reused while the poller's snapshot and the site list are
/// the ones it was built from (the answer changes only when a poll publishes or a site is
/// added, renamed or removed). Holding the snapshot's `Arc` keeps the comparison exact.
#[derive(Default)]
pub struct SitesCache(Mutex<Option<SitesBody>>);

struct SitesBody {
    live: Arc<LiveSnapshot>,
    sites: Vec<Site>,
    body: Bytes,
    /// When `sites` was last found equal to the store's list.
    checked_at: std::time::Instant,
}

/// How long the site list compared with the store is trusted without reading it again: a site
/// added, renamed or removed between two polls shows in `/api/stats/sites` within this time.
pub const SITE_LIST_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for SitesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SitesCache")
    }
}

impl SitesCache {
    /// The cached body, if built from this very snapshot and its site list was checked against
    /// the store less than [`SITE_LIST_TTL`] ago.
    fn fresh(&self, live: &Arc<LiveSnapshot>) -> Option<Bytes> {
        let guard = self.0.lock().ok()?;
        let cached = guard.as_ref()?;
        (Arc::ptr_eq(&cached.live, live) && cached.checked_at.elapsed() < SITE_LIST_TTL)
            .then(|| cached.body.clone())
    }

    /// The cached body, if built from this very snapshot and site list.
    fn get(&self, live: &Arc<LiveSnapshot>, sites: &[Site]) -> Option<Bytes> {
        let mut guard = self.0.lock().ok()?;
        let cached = guard.as_mut()?;
        if Arc::ptr_eq(&cached.live, live) && cached.sites == sites {
            cached.checked_at = std::time::Instant::now();
            return Some(cached.body.clone());
        }
        None
    }

    fn put(&self, live: Arc<LiveSnapshot>, sites: Vec<Site>, body: Bytes) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some(SitesBody {
                live,
                sites,
                body,
                checked_at: std::time::Instant::now(),
            });
        }
    }
}
