//! `GET /api/openapi.json` (public): the OpenAPI 3.1 document of the REST API, generated from
//! the `#[utoipa::path]` annotations on the handlers and the `ToSchema` derives on the model,
//! built once and served as is.
//!
//! Each route module has a `Doc` (`#[derive(OpenApi)]` listing its annotated handlers, next to
//! its `routes()`); [`document`] merges them. `apid/tests/api_openapi.rs` checks the document
//! against the router both ways (every route documented, every documented route answering).

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::ApiError;
use super::state::AppState;
use crate::model::FieldError;

/// The name of the bearer security scheme the annotated routes refer to.
pub const BEARER: &str = "bearer";

/// This module's route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// The error envelope every failure answers with (CONTRACT §4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// Human-readable reason.
    pub error: String,
    /// Per-field problems (validation failures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// Adds the bearer JWT scheme.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from POST /api/auth/login or /api/auth/refresh \
                         (HS256), as `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Twoine Supervision API",
        description = "REST API of twoine-apid (CONTRACT §4). Successful answers are \
                       `{success: true, data}`; failures `{success: false, error, errors?}`."
    ),
    paths(openapi_json),
    components(schemas(ErrorBody, FieldError)),
    modifiers(&Security),
    tags(
        (name = "health", description = "Liveness"),
        (name = "auth", description = "Login and tokens"),
        (name = "stats", description = "Server, site and service statistics"),
        (name = "alerts", description = "Alerts"),
        (name = "settings", description = "Monitoring settings"),
        (name = "services", description = "Service actions"),
        (name = "metrics", description = "Prometheus metrics"),
        (name = "websocket", description = "The WebSocket and its statistics"),
        (name = "openapi", description = "This document")
    )
)]
struct ApiDoc;

/// The whole document: this module's, merged with every route module's.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for part in [
        super::health::Doc::openapi(),
        super::login::Doc::openapi(),
        super::stats::Doc::openapi(),
        super::alerts::Doc::openapi(),
        super::settings::Doc::openapi(),
        super::services::Doc::openapi(),
        super::metrics::Doc::openapi(),
        WsDoc::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// The WebSocket module's routes. Documented here, not on their handlers, because that module
/// was still being written when this document was: move these annotations onto
/// `ws::upgrade::upgrade` and `ws::websocket_stats` (with `ToSchema` on `WsStats`).
#[derive(OpenApi)]
#[openapi(paths(ws_upgrade, ws_upgrade_slash, websocket_stats))]
struct WsDoc;

/// `GET /ws` (CONTRACT §5).
#[utoipa::path(
    get,
    path = "/ws",
    tag = "websocket",
    params(
        ("token" = Option<String>, Query, description = "Access token (or offer it as a `Sec-WebSocket-Protocol` entry)")
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (CONTRACT §5)"),
        (status = 400, description = "Not a WebSocket upgrade request, or unknown parameter", body = ErrorBody),
        (status = 401, description = "No token, or an invalid or expired one, or unknown user", body = ErrorBody),
        (status = 403, description = "Blocked user", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody)
    )
)]
#[allow(dead_code)]
fn ws_upgrade() {}

/// `GET /ws/`: as `/ws`.
#[utoipa::path(
    get,
    path = "/ws/",
    tag = "websocket",
    params(
        ("token" = Option<String>, Query, description = "Access token (or offer it as a `Sec-WebSocket-Protocol` entry)")
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (CONTRACT §5)"),
        (status = 400, description = "Not a WebSocket upgrade request, or unknown parameter", body = ErrorBody),
        (status = 401, description = "No token, or an invalid or expired one, or unknown user", body = ErrorBody),
        (status = 403, description = "Blocked user", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody)
    )
)]
#[allow(dead_code)]
fn ws_upgrade_slash() {}

/// `GET /api/stats/websocket`.
#[utoipa::path(
    get,
    path = "/api/stats/websocket",
    tag = "websocket",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{success, data: {totalConnections, uniqueUsers, adminConnections, siteSubscriptions: {siteId: count}}}`", body = Object),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = ErrorBody)
    )
)]
#[allow(dead_code)]
fn websocket_stats() {}

/// The document as JSON, built on first use.
fn document_json() -> Result<&'static str, ApiError> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| document().to_json().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| ApiError::Internal(format!("serialize openapi document: {e}")))
}

/// `GET /api/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "openapi",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    match document_json() {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
