//! `monitoring_config`: the one settings document, editable through `PUT /api/stats/config`.

use serde::{Deserialize, Serialize};

/// The id of the single config document.
pub const CONFIG_ID: &str = "monitoring_config";

/// Monitoring settings; every field has a default, so a partial or absent document reads whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct MonitoringConfig {
    /// Always `"monitoring_config"`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Seconds between polls, 10–300 (default 30).
    pub collection_interval: u32,
    /// Warning and critical levels.
    pub alert_thresholds: AlertThresholds,
    /// Whether new alerts are opened.
    pub alerts_enabled: bool,
    /// Whether per-site statistics are collected.
    pub site_stats_enabled: bool,
    /// Raw snapshots kept, hours, 1–168 (default 24).
    pub retention_hours: u32,
    /// Ours: minutes a condition must stay clear before its alert is resolved by the system,
    /// 0–1440 (default 5).
    pub auto_resolve_minutes: u32,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            id: CONFIG_ID.to_owned(),
            collection_interval: 30,
            alert_thresholds: AlertThresholds::default(),
            alerts_enabled: true,
            site_stats_enabled: true,
            retention_hours: 24,
            auto_resolve_minutes: 5,
        }
    }
}

/// `alertThresholds`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AlertThresholds {
    /// CPU, default 70 / 90.
    pub cpu: Threshold,
    /// Memory, default 75 / 90.
    pub memory: Threshold,
    /// Disk, default 80 / 95.
    pub disk: Threshold,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self {
            cpu: Threshold {
                warning: 70.0,
                critical: 90.0,
            },
            memory: Threshold {
                warning: 75.0,
                critical: 90.0,
            },
            disk: Threshold {
                warning: 80.0,
                critical: 95.0,
            },
        }
    }
}

/// A warning and a critical level, percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Threshold {
    /// Warning at or above.
    pub warning: f64,
    /// Critical at or above.
    pub critical: f64,
}

/// One invalid field, named by its JSON path (`alertThresholds.cpu.warning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field.
    pub field: String,
    /// What is wrong, in French like the panels.
    pub message: String,
}

impl MonitoringConfig {
    /// Checks every range; returns all the field errors at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            });
        };
        if self.id != CONFIG_ID {
            err("_id", format!("doit valoir \"{CONFIG_ID}\""));
        }
        if !(10..=300).contains(&self.collection_interval) {
            err(
                "collectionInterval",
                "doit être entre 10 et 300 secondes".to_owned(),
            );
        }
        if !(1..=168).contains(&self.retention_hours) {
            err(
                "retentionHours",
                "doit être entre 1 et 168 heures".to_owned(),
            );
        }
        if self.auto_resolve_minutes > 1440 {
            err(
                "autoResolveMinutes",
                "doit être entre 0 et 1440 minutes".to_owned(),
            );
        }
        let t = &self.alert_thresholds;
        for (name, th) in [("cpu", t.cpu), ("memory", t.memory), ("disk", t.disk)] {
            for (level, v) in [("warning", th.warning), ("critical", th.critical)] {
                if !(0.0..=100.0).contains(&v) {
                    err(
                        &format!("alertThresholds.{name}.{level}"),
                        "doit être entre 0 et 100".to_owned(),
                    );
                }
            }
            if th.warning >= th.critical {
                err(
                    &format!("alertThresholds.{name}"),
                    "le seuil d'avertissement doit être inférieur au seuil critique".to_owned(),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
