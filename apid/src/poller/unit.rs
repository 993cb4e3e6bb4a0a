//! systemd units as the poller sees them, and the `WatchUnits` subscription.

use std::time::Duration;

use tokio::sync::mpsc;
use twoine_proto::v1 as pb;

use crate::agent::{AgentClient, Backoff};
use crate::model::Timestamp;
use crate::model::time::from_millis;

/// The state of a service's unit (what `/stats/services/:siteId` shows under `systemd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitInfo {
    /// Canonical name, with `.service`.
    pub name: String,
    /// LoadState.
    pub load_state: String,
    /// ActiveState.
    pub active_state: String,
    /// SubState.
    pub sub_state: String,
    /// Result of the last run.
    pub result: String,
    /// Main PID.
    pub main_pid: Option<u32>,
    /// Entered `active` at.
    pub active_since: Option<Timestamp>,
    /// cgroup memory, bytes.
    pub memory_bytes: Option<u64>,
    /// CPU used, nanoseconds.
    pub cpu_nsec: Option<u64>,
    /// NRestarts.
    pub restarts: Option<u32>,
    /// When this state was observed.
    pub observed_at: Timestamp,
}

impl UnitInfo {
    /// From `UnitDetails`; `None` when systemd reported an error for the unit.
    pub fn from_details(d: &pb::UnitDetails, now: Timestamp) -> Option<Self> {
        if !d.error.is_empty() {
            return None;
        }
        Some(Self {
            name: d.name.clone(),
            load_state: d.load_state.clone(),
            active_state: d.active_state.clone(),
            sub_state: d.sub_state.clone(),
            result: d.result.clone(),
            main_pid: d.main_pid,
            active_since: d
                .active_enter_timestamp_us
                .filter(|us| *us > 0)
                .map(|us| from_millis(i64::try_from(us / 1000).unwrap_or(i64::MAX))),
            memory_bytes: d.memory_current_bytes,
            cpu_nsec: d.cpu_usage_nsec,
            restarts: d.n_restarts,
            observed_at: now,
        })
    }

    /// This state updated by a unit event.
    pub fn apply(&mut self, e: &pb::UnitEvent) {
        self.active_state.clone_from(&e.active_state);
        self.sub_state.clone_from(&e.sub_state);
        self.result.clone_from(&e.result);
        self.main_pid = e.main_pid;
        self.observed_at = from_millis(e.at_ms);
    }

    /// A state known only from an event.
    pub fn from_event(e: &pb::UnitEvent) -> Self {
        let mut info = Self {
            name: canonical(&e.name),
            load_state: "loaded".to_owned(),
            active_state: String::new(),
            sub_state: String::new(),
            result: String::new(),
            main_pid: None,
            active_since: None,
            memory_bytes: None,
            cpu_nsec: None,
            restarts: None,
            observed_at: from_millis(e.at_ms),
        };
        info.apply(e);
        info
    }

    /// `active` or `reloading`.
    pub fn is_up(&self) -> bool {
        matches!(self.active_state.as_str(), "active" | "reloading")
    }
}

/// A unit name with its `.service` suffix.
pub fn canonical(unit: &str) -> String {
    if unit.ends_with(".service") {
        unit.to_owned()
    } else {
        format!("{unit}.service")
    }
}

/// Wait after the agent refused a watch (e.g. systemd not reachable) before the first retry.
const REFUSED_RETRY: Duration = Duration::from_secs(2);
/// Longest wait between refused watches.
const REFUSED_RETRY_CAP: Duration = Duration::from_secs(60);

/// Keeps a `WatchUnits` stream open for as long as `tx` has a reader, forwarding every event.
/// A lost agent is retried after the client's backoff; a refusal from the agent after a backoff
/// of its own.
pub(crate) async fn watch_units(agent: AgentClient, tx: mpsc::Sender<pb::UnitEvent>) {
    let mut refused = Backoff::new(REFUSED_RETRY, REFUSED_RETRY_CAP);
    loop {
        if let Some(wait) = agent.retry_in() {
            tokio::time::sleep(wait).await;
        }
        match agent.watch_units(Vec::new()).await {
            Ok(mut stream) => {
                tracing::debug!("watching site units");
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            refused.reset();
                            if tx.send(event).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            tracing::debug!(%status, "unit watch broke");
                            agent.stream_failed(status);
                            break;
                        }
                    }
                }
                // An orderly end (agent stopping): do not spin while it goes.
                tokio::time::sleep(REFUSED_RETRY).await;
            }
            Err(e) if e.is_unavailable() => {
                if agent.retry_in().is_none() {
                    tokio::time::sleep(REFUSED_RETRY).await;
                }
            }
            Err(e) => {
                let wait = refused.next_delay();
                tracing::debug!(error = %e, retry_s = wait.as_secs(), "unit watch refused");
                tokio::time::sleep(wait).await;
            }
        }
        if tx.is_closed() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_named_with_their_suffix() {
        assert_eq!(canonical("twoine-a-web"), "twoine-a-web.service");
        assert_eq!(canonical("twoine-a-web.service"), "twoine-a-web.service");
    }

    #[test]
    fn a_unit_systemd_could_not_describe_is_unknown() {
        let d = pb::UnitDetails {
            name: "twoine-a-web.service".into(),
            error: "no such unit".into(),
            ..Default::default()
        };
        assert_eq!(UnitInfo::from_details(&d, chrono::Utc::now()), None);
        let d = pb::UnitDetails {
            error: String::new(),
            active_state: "failed".into(),
            active_enter_timestamp_us: Some(1_700_000_000_000_000),
            ..d
        };
        let u = UnitInfo::from_details(&d, chrono::Utc::now()).unwrap();
        assert!(!u.is_up());
        assert_eq!(u.active_since.unwrap().timestamp(), 1_700_000_000);
    }
}
