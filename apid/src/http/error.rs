//! The one API error type and its one `IntoResponse` (CONTRACT §4): `{"success": false,
//! "error": "<human readable>"}`, an `errors` array for field validation, 5xx bodies generic
//! with the real cause logged.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::agent::AgentError;
use crate::model::FieldError;
use crate::store::StoreError;

/// A failed request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed input, with the reason.
    #[error("{0}")]
    BadRequest(String),
    /// 400 with per-field errors.
    #[error("{message}")]
    Validation {
        /// Summary.
        message: String,
        /// One entry per bad field.
        errors: Vec<FieldError>,
    },
    /// 401: missing, invalid or expired token (never for a permission failure).
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown id or route.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 423: account locked.
    #[error("{0}")]
    Locked(String),
    /// 429: rate-limited; seconds until a retry may pass.
    #[error("{message}")]
    TooManyRequests {
        /// Reason.
        message: String,
        /// `Retry-After`, seconds.
        retry_after: u64,
    },
    /// 503: agent or store unavailable (the message names which, never internals).
    #[error("{0}")]
    Unavailable(String),
    /// 500: the cause is logged, the body says only "Internal server error".
    #[error("internal: {0}")]
    Internal(String),
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Locked(_) => StatusCode::LOCKED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "Internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    /// 400 with a reason.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::BadRequest(reason.into())
    }

    /// 403 with a reason.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::Forbidden(reason.into())
    }

    /// 404 with a reason.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::NotFound(reason.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "request failed"),
            Self::Unavailable(cause) => tracing::warn!(%cause, "request refused: unavailable"),
            _ => {}
        }
        let mut body = json!({ "success": false, "error": self.public_message() });
        if let Self::Validation { errors, .. } = &self {
            body["errors"] = json!(errors);
        }
        let mut response = (status, Json(body)).into_response();
        if let Self::TooManyRequests { retry_after, .. } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid(m) => Self::BadRequest(m),
            StoreError::Unavailable(m) => {
                tracing::warn!(cause = %m, "store unavailable");
                Self::Unavailable("Store unavailable".to_owned())
            }
            StoreError::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(cause = %e, "agent unavailable");
            Self::Unavailable("Agent unavailable".to_owned())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::BadRequest(format!("Invalid query: {}", e.body_text()))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::BadRequest(format!("Invalid body: {}", e.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::BadRequest(format!("Invalid path: {}", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(e: ApiError) -> (StatusCode, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, json) = body(ApiError::Internal("sqlite: disk I/O at /var/lib".into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            json,
            json!({"success": false, "error": "Internal server error"})
        );
    }

    #[tokio::test]
    async fn store_unavailable_is_503_without_details() {
        let e: ApiError = StoreError::Unavailable("mongodb://secret@host refused".into()).into();
        let (status, json) = body(e).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["error"], "Store unavailable");
    }

    #[tokio::test]
    async fn validation_errors_carry_fields() {
        let e = ApiError::Validation {
            message: "Invalid config".into(),
            errors: vec![FieldError {
                field: "collectionInterval".into(),
                message: "must be 10-300".into(),
            }],
        };
        let (status, json) = body(e).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["errors"][0]["field"], "collectionInterval");
    }
}
