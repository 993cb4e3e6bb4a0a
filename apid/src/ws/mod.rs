//! The WebSocket `/ws` and `/ws/` (CONTRACT §5): arriving.

use axum::Router;

use crate::http::AppState;

/// Live connections, for `/api/stats/websocket` and the rights re-check.
#[derive(Debug, Default)]
pub struct Hub {}

/// The WebSocket routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
