//! The REST API (CONTRACT §4) and the WebSocket (§5) on one axum router.
//!
//! `app(state)` builds the whole router; each route module owns its paths and answers with
//! [`error::ApiError`] on failure, so every error has the same JSON shape.

pub mod alerts;
pub mod auth;
pub mod error;
pub mod extract;
pub mod health;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod services;
pub mod settings;
pub mod state;
pub mod stats;

use axum::Router;
use axum::http::Uri;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use state::{AppParts, AppState, Mode};

/// The whole HTTP surface: `/api/**`, `/ws`, `/ws/`, `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(login::routes())
        .merge(stats::routes())
        .merge(alerts::routes())
        .merge(settings::routes())
        .merge(services::routes())
        .merge(metrics::routes())
        .merge(openapi::routes())
        .merge(crate::ws::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(span_without_query))
        .with_state(state)
}

/// The request span: method and path only. The query is left out because a WebSocket token
/// travels in `?token=` (CONTRACT §5), and headers are never recorded: no secret reaches a log.
fn span_without_query<B>(req: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("Route {} not found", uri.path()))
}

#[cfg(test)]
mod tests;
