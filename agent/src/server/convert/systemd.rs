//! `collect::systemd` → `twoine.agent.v1` unit messages.

use std::time::{SystemTime, UNIX_EPOCH};

use twoine_proto::v1 as pb;

use crate::collect::systemd::{
    ActionOutcome, SystemdError, UnitDetails, UnitDetailsResult, UnitEvent, UnitSummary,
};

/// One row of `ListUnits`; `unit_file_state` is empty when no unit file is installed.
pub fn unit_summary(u: UnitSummary) -> pb::UnitSummary {
    pb::UnitSummary {
        name: u.name,
        description: u.description,
        load_state: u.load_state,
        active_state: u.active_state,
        sub_state: u.sub_state,
        unit_file_state: u.unit_file_state.unwrap_or_default(),
    }
}

/// One unit of `UnitDetails`: its details, or only its name and `error`.
pub fn unit_details(r: UnitDetailsResult) -> pb::UnitDetails {
    let name = r.name.as_str().to_string();
    match r.details {
        Ok(d) => with_details(name, d),
        Err(e) => pb::UnitDetails {
            name,
            error: unit_error(&r.name, &e),
            ..Default::default()
        },
    }
}

fn with_details(name: String, d: UnitDetails) -> pb::UnitDetails {
    pb::UnitDetails {
        name,
        load_state: d.load_state,
        active_state: d.active_state,
        sub_state: d.sub_state,
        result: d.result,
        main_pid: d.main_pid,
        active_enter_timestamp_us: d.active_enter_timestamp_us,
        memory_current_bytes: d.memory_current_bytes,
        cpu_usage_nsec: d.cpu_usage_nsec,
        n_restarts: d.n_restarts,
        description: d.description,
        user: d.user,
        error: String::new(),
    }
}

/// What the caller may read about a failed unit; internals go to the log.
fn unit_error(name: &impl std::fmt::Display, e: &SystemdError) -> String {
    match e {
        SystemdError::NoSuchUnit(_) => format!("no such unit: {name}"),
        SystemdError::Denied(_) | SystemdError::Timeout(_) => e.to_string(),
        SystemdError::Unavailable(_) => {
            tracing::warn!(unit = %name, error = %e, "systemd unavailable");
            "systemd is unavailable".into()
        }
        SystemdError::Other(_) => {
            tracing::warn!(unit = %name, error = %e, "cannot read unit");
            "systemd error (see the agent's log)".into()
        }
    }
}

/// The answer to `StartUnit`/`StopUnit`/`RestartUnit`.
pub fn action_outcome(o: ActionOutcome) -> pb::UnitActionResponse {
    pb::UnitActionResponse {
        job_result: o.job_result,
        unit: Some(unit_details(o.unit)),
    }
}

/// One `WatchUnits` event.
pub fn unit_event(e: UnitEvent) -> pb::UnitEvent {
    pb::UnitEvent {
        name: e.name.as_str().to_string(),
        active_state: e.active_state,
        sub_state: e.sub_state,
        result: e.result,
        main_pid: e.main_pid,
        at_ms: epoch_millis(e.at),
        initial: e.initial,
    }
}

fn epoch_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::systemd::UnitName;
    use std::time::Duration;

    fn name() -> UnitName {
        UnitName::parse("twoine-demo-web").unwrap()
    }

    #[test]
    fn absent_values_stay_absent() {
        let pb = unit_details(UnitDetailsResult {
            name: name(),
            details: Ok(UnitDetails {
                load_state: "loaded".into(),
                active_state: "inactive".into(),
                sub_state: "dead".into(),
                n_restarts: Some(0),
                ..Default::default()
            }),
        });
        assert_eq!(pb.name, "twoine-demo-web.service");
        assert_eq!(pb.memory_current_bytes, None);
        assert_eq!(pb.cpu_usage_nsec, None);
        assert_eq!(pb.main_pid, None);
        assert_eq!(pb.n_restarts, Some(0));
        assert_eq!(pb.error, "");
    }

    #[test]
    fn errors_name_the_unit_and_hide_internals() {
        let missing = unit_details(UnitDetailsResult {
            name: name(),
            details: Err(SystemdError::NoSuchUnit(
                "Unit twoine-demo-web.service not found.".into(),
            )),
        });
        assert_eq!(missing.error, "no such unit: twoine-demo-web.service");
        assert_eq!(missing.active_state, "");
        let other = unit_details(UnitDetailsResult {
            name: name(),
            details: Err(SystemdError::Other("org.example.Secret: /root/path".into())),
        });
        assert!(!other.error.contains("/root"), "{}", other.error);
        assert!(!other.error.is_empty());
    }

    #[test]
    fn events_carry_epoch_milliseconds() {
        let pb = unit_event(UnitEvent {
            name: name(),
            active_state: "failed".into(),
            sub_state: "failed".into(),
            result: "signal".into(),
            main_pid: None,
            at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            initial: false,
        });
        assert_eq!(pb.at_ms, 1_700_000_000_123);
        assert_eq!(pb.result, "signal");
        assert!(!pb.initial);
    }
}
