//! Standalone login, refresh and me (CONTRACT §3): arriving.

use axum::Router;

use super::state::AppState;

/// Login attempts per client address (rate limit).
#[derive(Debug, Default)]
pub struct LoginLimiter {}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
