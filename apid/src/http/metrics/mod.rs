//! `GET /metrics` (admin bearer token): Prometheus text format — the host, each site, each
//! service unit, and apid itself.
//!
//! Values come from the poller's latest snapshot at scrape time. Host and site figures keep
//! their last value while the agent is away; `twoine_apid_stale` says so. Nothing is served
//! from the store: a scraper records its own history.

mod families;
mod text;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use text::{Exposition, Kind, Num, escape_label};

use super::auth::Admin;
use super::state::AppState;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// apid's own counters (what the poller's snapshot does not already hold).
#[derive(Debug, Default)]
pub struct Counters {
    /// HTTP responses by status class: index 0 is 1xx … index 4 is 5xx.
    http: [AtomicU64; 5],
}

impl Counters {
    /// Counts one response.
    pub fn record(&self, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100);
        if let Some(c) = class.checked_sub(1).and_then(|i| self.http.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Responses so far by class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub fn http_requests(&self) -> [u64; 5] {
        let mut out = [0; 5];
        for (o, c) in out.iter_mut().zip(&self.http) {
            *o = c.load(Ordering::Relaxed);
        }
        out
    }
}

/// Middleware counting every response by status class (layered in [`crate::http::app`]).
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    state.counters.record(response.status());
    response
}

/// The `/metrics` route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The metrics route's documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(metrics))]
pub struct Doc;

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody)
    )
)]
async fn metrics(_admin: Admin, State(state): State<AppState>) -> Response {
    let body = render(&state);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// The whole exposition.
pub fn render(state: &AppState) -> String {
    let live = state.live();
    let mut e = Exposition::default();
    families::host(&mut e, &live);
    families::sites(&mut e, &live);
    families::services(&mut e, &live);
    families::apid(&mut e, state, &live);
    e.finish()
}
