//! `GET`/`PUT /api/stats/config` (admins): the monitoring settings.
//!
//! `PUT` takes a partial document merged into the current settings (nested objects merge
//! field by field). Every problem is reported at once in `errors` (`{field, message}`, the
//! field as a JSON path): unknown fields, wrong types, then the ranges of
//! [`MonitoringConfig::validate`]. The saved settings are published on the settings channel, so
//! the poller restarts its timer with them, and returned.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Map, Value};

use super::auth::Admin;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Envelope, ok};
use super::state::AppState;
use crate::model::{FieldError, MonitoringConfig};

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/stats/config", get(read).put(update))
}

/// The settings routes' documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(read, update))]
pub struct Doc;

/// `GET /api/stats/config`.
#[utoipa::path(
    get,
    path = "/api/stats/config",
    tag = "settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The monitoring settings", body = Envelope<MonitoringConfig>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
async fn read(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<axum::Json<Envelope<MonitoringConfig>>> {
    Ok(ok(state.store.config().await?))
}

/// `PUT /api/stats/config`.
#[utoipa::path(
    put,
    path = "/api/stats/config",
    tag = "settings",
    security(("bearer" = [])),
    request_body(
        content = Object,
        description = "A partial MonitoringConfig (camelCase; nested objects merge field by field; unknown fields refused)"
    ),
    responses(
        (status = 200, description = "The saved settings", body = Envelope<MonitoringConfig>),
        (status = 400, description = "Malformed JSON, or invalid fields (listed in `errors`)", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user, or not an admin", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<axum::Json<Envelope<MonitoringConfig>>> {
    let current = state.store.config().await?;
    let new = merge(&current, &patch)?;
    state.store.put_config(&new).await?;
    state.monitoring.send_replace(new.clone());
    tracing::info!(
        interval = new.collection_interval,
        retention = new.retention_hours,
        "monitoring settings changed"
    );
    Ok(ok(new))
}

fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::Validation {
        message: "Invalid monitoring configuration".to_owned(),
        errors,
    }
}

/// `current` with `patch` applied and validated.
pub fn merge(current: &MonitoringConfig, patch: &Value) -> ApiResult<MonitoringConfig> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "The configuration must be a JSON object",
        ));
    };
    let mut doc = serde_json::to_value(current)
        .map_err(|e| ApiError::Internal(format!("config serialization: {e}")))?;
    let mut errors = Vec::new();
    if let Value::Object(target) = &mut doc {
        apply(target, patch, "", &mut errors);
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let new: MonitoringConfig = serde_json::from_value(doc)
        .map_err(|e| ApiError::bad_request(format!("Invalid configuration: {e}")))?;
    new.validate().map_err(invalid)?;
    Ok(new)
}

/// Applies `patch` onto `target` where each field exists with the same JSON type.
fn apply(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) {
    for (key, value) in patch {
        let field = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let mut err = |message: &str| {
            errors.push(FieldError {
                field: field.clone(),
                message: message.to_owned(),
            });
        };
        let Some(slot) = target.get_mut(key) else {
            err("champ inconnu");
            continue;
        };
        match (&mut *slot, value) {
            (Value::Object(inner), Value::Object(p)) => apply(inner, p, &field, errors),
            (Value::Object(_), _) => err("doit être un objet"),
            (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => {
                *slot = value.clone();
            }
            (Value::Bool(_), _) => err("doit être un booléen"),
            (Value::String(_), _) => err("doit être une chaîne"),
            // Whole numbers (intervals, hours, minutes).
            (Value::Number(n), Value::Number(v)) if n.is_u64() => {
                if v.as_u64().is_some_and(|v| u32::try_from(v).is_ok()) {
                    *slot = value.clone();
                } else {
                    err("doit être un entier positif");
                }
            }
            (Value::Number(_), Value::Number(_)) => *slot = value.clone(),
            (Value::Number(_), _) => err("doit être un nombre"),
            _ => err("valeur non modifiable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(r: ApiResult<MonitoringConfig>) -> Vec<String> {
        match r {
            Err(ApiError::Validation { errors, .. }) => {
                errors.into_iter().map(|e| e.field).collect()
            }
            other => panic!("validation error expected: {other:?}"),
        }
    }

    #[test]
    fn a_partial_document_changes_only_its_fields() {
        let cur = MonitoringConfig::default();
        let new = merge(
            &cur,
            &json!({"collectionInterval": 60, "alertThresholds": {"cpu": {"warning": 50}}}),
        )
        .unwrap();
        assert_eq!(new.collection_interval, 60);
        assert_eq!(new.alert_thresholds.cpu.warning, 50.0);
        assert_eq!(
            new.alert_thresholds.cpu.critical,
            cur.alert_thresholds.cpu.critical
        );
        assert_eq!(new.retention_hours, cur.retention_hours);
    }

    #[test]
    fn every_bad_field_is_named() {
        let cur = MonitoringConfig::default();
        let mut bad = fields(merge(
            &cur,
            &json!({"foo": 1, "collectionInterval": 1.5, "alertsEnabled": "yes",
                    "alertThresholds": {"disk": {"warning": "x", "bar": 2}}}),
        ));
        bad.sort();
        assert_eq!(
            bad,
            vec![
                "alertThresholds.disk.bar",
                "alertThresholds.disk.warning",
                "alertsEnabled",
                "collectionInterval",
                "foo"
            ]
        );
        assert_eq!(
            fields(merge(
                &cur,
                &json!({"collectionInterval": 5, "retentionHours": 0,
                        "alertThresholds": {"memory": {"warning": 95}}})
            )),
            vec![
                "collectionInterval",
                "retentionHours",
                "alertThresholds.memory"
            ]
        );
        assert!(matches!(
            merge(&cur, &json!([1])),
            Err(ApiError::BadRequest(_))
        ));
    }
}
