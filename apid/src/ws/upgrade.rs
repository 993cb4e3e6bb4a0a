//! The upgrade: the token comes from `?token=` or the `Sec-WebSocket-Protocol` header and is
//! checked BEFORE upgrading, so a bad token is a plain 401 (a blocked user a 403) and no socket
//! is ever opened for it.

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::conn;
use crate::http::extract::ApiQuery;
use crate::http::{ApiError, AppState};

/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 8 * 1024;

/// `/ws?token=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WsQuery {
    #[serde(default)]
    token: Option<String>,
}

/// `GET /ws` and `GET /ws/`.
#[tracing::instrument(skip_all)]
pub(super) async fn upgrade(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WsQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (token, from_protocol) = match query.token.filter(|t| !t.is_empty()) {
        Some(t) => (t, false),
        None => match protocol_token(&headers) {
            Some(t) => (t, true),
            None => return ApiError::Unauthorized("No token provided".to_owned()).into_response(),
        },
    };
    let perms = match state.auth.authenticate(state.store.as_ref(), &token).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::bad_request(format!(
                "WebSocket upgrade expected: {}",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    if from_protocol && let Ok(v) = HeaderValue::from_str(&token) {
        ws.set_selected_protocol(v);
    }
    let max = state.hub.options().max_message_bytes;
    // Small buffers: client messages are tiny and every push is flushed at once, so the
    // 128 KiB defaults would only cost memory per socket.
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| conn::run(socket, state, perms))
}

/// The token offered as a subprotocol: the entry shaped as a JWT (`a.b.c`), whether alone
/// (`Sec-WebSocket-Protocol: <token>`) or beside a marker (`access_token, <token>`).
fn protocol_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| p.split('.').count() == 3 && p.split('.').all(|part| !part.is_empty()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(v).unwrap(),
        );
        h
    }

    #[test]
    fn the_jwt_shaped_protocol_is_the_token() {
        assert_eq!(
            protocol_token(&headers("aa.bb.cc")).as_deref(),
            Some("aa.bb.cc")
        );
        assert_eq!(
            protocol_token(&headers("access_token, aa.bb.cc")).as_deref(),
            Some("aa.bb.cc")
        );
        assert_eq!(protocol_token(&headers("graphql-ws")), None);
        assert_eq!(protocol_token(&headers("a..c")), None);
        assert_eq!(protocol_token(&HeaderMap::new()), None);
    }
}
