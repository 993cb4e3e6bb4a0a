//! The rules: what each family's level is, given one observation.

use serde_json::json;

use super::{EvalInput, Family, Level, NewAlert, ServiceInput, SiteInput};
use crate::model::{AlertType, DesiredState, MonitoringConfig, Severity, SiteStatus, Threshold};

/// Every family observed in `input`, with its level.
pub(super) fn observe(input: &EvalInput, config: &MonitoringConfig) -> Vec<(Family, Level)> {
    let t = &config.alert_thresholds;
    let mut out = Vec::new();
    let server = |kind| Family {
        kind,
        site: None,
        service: None,
    };
    let metrics = [
        (AlertType::CpuHigh, t.cpu),
        (AlertType::MemoryHigh, t.memory),
        (AlertType::DiskHigh, t.disk),
    ];
    for (kind, threshold) in metrics {
        let level = match input.server {
            None => Level::Unknown,
            Some(s) => {
                let value = match kind {
                    AlertType::CpuHigh => s.cpu,
                    AlertType::MemoryHigh => s.memory,
                    _ => s.disk,
                };
                threshold_level(kind, value, threshold, None)
            }
        };
        out.push((server(kind), level));
    }
    for site in &input.sites {
        observe_site(site, config, &mut out);
    }
    out
}

fn observe_site(site: &SiteInput, config: &MonitoringConfig, out: &mut Vec<(Family, Level)>) {
    let id = site.site.id;
    let gone = site.status == SiteStatus::Deleted;
    let t = &config.alert_thresholds;
    let metrics = [
        (AlertType::CpuHigh, t.cpu),
        (AlertType::MemoryHigh, t.memory),
        (AlertType::DiskHigh, t.disk),
    ];
    for (kind, threshold) in metrics {
        let family = Family {
            kind,
            site: Some(id),
            service: None,
        };
        let level = match (gone, site.usage) {
            (true, _) => Level::Gone,
            (false, None) => Level::Unknown,
            (false, Some(u)) => {
                let value = match kind {
                    AlertType::CpuHigh if site.limits.max_cpu_percent > 0.0 => {
                        u.cpu_percent / site.limits.max_cpu_percent * 100.0
                    }
                    AlertType::CpuHigh => 0.0,
                    AlertType::MemoryHigh => u.memory_percent,
                    _ => u.disk_percent,
                };
                threshold_level(kind, value, threshold, Some(site))
            }
        };
        out.push((family, level));
    }
    for service in &site.services {
        let family = Family {
            kind: AlertType::ServiceDown,
            site: Some(id),
            service: Some(service.service.id),
        };
        let level = if gone {
            Level::Gone
        } else {
            service_level(site, service)
        };
        out.push((family, level));
    }
    let family = Family {
        kind: AlertType::SiteDown,
        site: Some(id),
        service: None,
    };
    let level = if gone {
        Level::Gone
    } else {
        site_down_level(site)
    };
    out.push((family, level));
}

/// Value ≥ threshold, critical checked first.
fn threshold_level(kind: AlertType, value: f64, t: Threshold, site: Option<&SiteInput>) -> Level {
    let (severity, threshold) = if value >= t.critical {
        (Severity::Critical, t.critical)
    } else if value >= t.warning {
        (Severity::Warning, t.warning)
    } else {
        return Level::Clear;
    };
    let value = crate::model::time::round1(value);
    let what = match kind {
        AlertType::CpuHigh => "CPU",
        AlertType::MemoryHigh => "Mémoire",
        _ => "Disque",
    };
    let adjective = match (severity, kind) {
        (Severity::Critical, _) => "critique",
        (_, AlertType::MemoryHigh) => "élevée",
        _ => "élevé",
    };
    let (message, data, site_id) = match site {
        None => (
            format!("{what} {adjective} : {value:.1} %"),
            json!({ "value": value, "threshold": threshold }),
            None,
        ),
        Some(s) => {
            let limit = match kind {
                AlertType::CpuHigh => json!(s.limits.max_cpu_percent),
                AlertType::MemoryHigh => json!(s.limits.max_memory_mb),
                _ => json!(s.limits.max_disk_mb),
            };
            (
                format!(
                    "{what} {adjective} ({}) : {value:.1} % de la limite",
                    s.site.display_name
                ),
                json!({ "value": value, "threshold": threshold, "limit": limit }),
                Some(s.site.id),
            )
        }
    };
    Level::Firing(NewAlert {
        kind,
        severity,
        message,
        data,
        site: site_id,
        service: None,
    })
}

/// `service_down` (error): wanted running, unit not active.
fn service_level(site: &SiteInput, service: &ServiceInput) -> Level {
    if service.desired != DesiredState::Running {
        return Level::Clear;
    }
    match service.is_up() {
        None => Level::Unknown,
        Some(true) => Level::Clear,
        Some(false) => {
            let state = service.unit.clone().unwrap_or_default();
            Level::Firing(NewAlert {
                kind: AlertType::ServiceDown,
                severity: Severity::Error,
                message: format!(
                    "Service arrêté ({} / {}) : {state}",
                    site.site.display_name, service.service.display_name
                ),
                data: json!({ "value": state, "desired": "running" }),
                site: Some(site.site.id),
                service: Some(service.service.id),
            })
        }
    }
}

/// `site_down` (critical): an active site with services, every one down, one at least wanted
/// running (a site whose services were all stopped on purpose is not "down").
fn site_down_level(site: &SiteInput) -> Level {
    if site.status != SiteStatus::Active || site.services.is_empty() {
        return Level::Clear;
    }
    let mut up = 0usize;
    for s in &site.services {
        match s.is_up() {
            None => return Level::Unknown,
            Some(true) => up += 1,
            Some(false) => {}
        }
    }
    let wanted = site
        .services
        .iter()
        .any(|s| s.desired == DesiredState::Running);
    if up > 0 || !wanted {
        return Level::Clear;
    }
    let total = site.services.len();
    Level::Firing(NewAlert {
        kind: AlertType::SiteDown,
        severity: Severity::Critical,
        message: format!(
            "Site hors service ({}) : 0/{total} service actif",
            site.site.display_name
        ),
        data: json!({ "value": 0, "total": total }),
        site: Some(site.site.id),
        service: None,
    })
}
