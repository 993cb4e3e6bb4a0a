//! Start, stop, restart: queue the job, then wait for its `JobRemoved` signal.

use std::time::Duration;

use futures_util::StreamExt;
use zbus::Connection;

use super::UnitName;
use super::proxy::{self, JobRemovedStream, ManagerProxy};
use super::types::{SystemdError, TIMEOUT_WAITING, UnitAction};

/// `JobRemoved` signals of one unit, listened to before the job exists.
pub(super) struct Jobs {
    manager: ManagerProxy<'static>,
    removed: JobRemovedStream,
}

/// Subscribe to systemd's signals and to the unit's `JobRemoved` before asking for the job,
/// so a job that finishes before the reply arrives is not missed.
pub(super) async fn listen(conn: &Connection, name: &UnitName) -> Result<Jobs, SystemdError> {
    let manager = proxy::manager(conn).await?;
    proxy::subscribe(&manager).await?;
    // JobRemoved(id, job, unit, result): filter on the unit (argument 2) at the bus.
    let removed = manager
        .receive_job_removed_with_args(&[(2, name.as_str())])
        .await?;
    Ok(Jobs { manager, removed })
}

/// Queue the job (mode "replace", as systemctl does) and wait at most `timeout` for it.
/// Returns systemd's job result, or [`TIMEOUT_WAITING`].
pub(super) async fn perform(
    jobs: Jobs,
    name: &UnitName,
    action: UnitAction,
    timeout: Duration,
) -> Result<String, SystemdError> {
    let Jobs {
        manager,
        mut removed,
    } = jobs;
    let unit = name.as_str();
    let job = match action {
        UnitAction::Start => manager.start_unit(unit, "replace").await,
        UnitAction::Stop => manager.stop_unit(unit, "replace").await,
        UnitAction::Restart => manager.restart_unit(unit, "replace").await,
    }?;
    tracing::debug!(unit, job = %job.as_str(), method = action.method(), "job queued");
    let finished = async {
        while let Some(signal) = removed.next().await {
            match signal.args() {
                Ok(args) if args.job().as_str() == job.as_str() => {
                    return Ok(args.result().to_string());
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "malformed JobRemoved signal"),
            }
        }
        Err(SystemdError::Unavailable(format!(
            "the D-Bus connection closed while {} of {unit} was running",
            action.method()
        )))
    };
    match tokio::time::timeout(timeout, finished).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(unit, job = %job.as_str(), "job still running after {timeout:?}");
            Ok(TIMEOUT_WAITING.to_string())
        }
    }
}
