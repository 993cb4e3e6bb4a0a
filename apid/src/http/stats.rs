//! Routes: arriving (see the apid API issue).

use axum::Router;

use super::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
