//! The WebSocket `/ws` and `/ws/` (CONTRACT §5) and `GET /api/stats/websocket`.
//!
//! - The token (`?token=` or `Sec-WebSocket-Protocol`) is verified before upgrading: a bad one
//!   is a 401, a blocked user a 403, and no socket is opened.
//! - Each socket runs in its own task ([`conn`]): it reads the latest poller state from its own
//!   `watch` receiver (a slow client only skips frames), follows the event broadcast (a lagging
//!   socket skips and counts, never blocks the poller), pings every
//!   [`WsOptions::ping_every`] and closes a socket that missed the previous pong.
//! - Rights come from [`crate::permissions::Permissions`] only; they are rebuilt from the store
//!   every [`WsOptions::recheck_every`] and at once after [`Hub::user_changed`]: a blocked or
//!   deleted user's sockets close, a lost site access drops that subscription.

mod conn;
mod hub;
mod protocol;
mod session;
mod upgrade;
mod views;

pub use hub::{Hub, WsOptions, WsStats};
pub use views::{ServiceStatusData, StatusPair, UnitView};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::extract::ok;

/// The WebSocket routes and `GET /api/stats/websocket`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ws", get(upgrade::upgrade))
        .route("/ws/", get(upgrade::upgrade))
        .route("/api/stats/websocket", get(websocket_stats))
}

/// `GET /api/stats/websocket` (admin).
async fn websocket_stats(State(state): State<AppState>, _admin: Admin) -> impl IntoResponse {
    ok(state.hub.stats())
}
