//! `/metrics` in Prometheus text format: arriving.

use axum::Router;

use super::state::AppState;

/// apid's own counters.
#[derive(Debug, Default)]
pub struct Counters {}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
