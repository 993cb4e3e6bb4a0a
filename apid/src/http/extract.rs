//! Extractors whose rejections are our 400s with a reason, and id parsing for path segments.

use axum::extract::FromRequestParts;
use serde::Serialize;

use super::error::ApiError;
use crate::model::Id;

/// `Query<T>` answering a malformed query with `400 {"success": false, "error": ...}`.
/// Query structs use `#[serde(deny_unknown_fields)]`, so `?status[$ne]=x` is refused.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Json<T>` answering a malformed body with a 400 and the reason.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Parses a path id (24 hex digits); `what` names it in the 400 (`"site"` → `Invalid site id`).
pub fn parse_id(raw: &str, what: &str) -> Result<Id, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid {what} id")))
}

/// `{"success": true, "data": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T: Serialize> {
    /// Always `true`.
    success: bool,
    /// The answer.
    data: T,
}

impl<T: Serialize> Envelope<T> {
    /// The success envelope around `data`.
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
        }
    }
}

/// Wraps `data` in the success envelope.
pub fn ok<T: Serialize>(data: T) -> axum::Json<Envelope<T>> {
    axum::Json(Envelope {
        success: true,
        data,
    })
}
