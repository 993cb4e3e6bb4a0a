//! The `twoine.agent.v1.Agent` service: check the caller, validate the arguments, call a
//! collector, convert its answer. Errors become a `Status` here and nowhere else.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};
use twoine_proto::v1 as pb;

use super::convert;
use super::peer::Access;
use crate::collect::proc::ProcReader;
use crate::collect::systemd::{Systemd, SystemdError, UnitAction, UnitName};
use crate::collect::walk::Scanner;
use crate::config::LimitsConfig;

/// Everything the service needs; cheap to clone.
#[derive(Clone)]
pub struct AgentService {
    pub(super) access: Arc<Access>,
    pub(super) proc: Arc<ProcReader>,
    pub(super) scanner: Scanner,
    pub(super) systemd: Systemd,
    pub(super) limits: LimitsConfig,
    pub(super) watchers: Arc<Semaphore>,
}

/// Longest path accepted in a request (PATH_MAX).
const MAX_PATH_LEN: usize = 4096;

impl AgentService {
    pub fn new(
        access: Access,
        proc: ProcReader,
        scanner: Scanner,
        systemd: Systemd,
        limits: LimitsConfig,
    ) -> Self {
        let watchers = Arc::new(Semaphore::new(limits.max_watchers));
        Self {
            access: Arc::new(access),
            proc: Arc::new(proc),
            scanner,
            systemd,
            limits,
            watchers,
        }
    }

    fn check_len(&self, what: &str, len: usize) -> Result<(), Status> {
        if len > self.limits.max_list_len {
            return Err(Status::invalid_argument(format!(
                "too many {what}: {len} (at most {})",
                self.limits.max_list_len
            )));
        }
        Ok(())
    }

    /// Validate every unit name of a request; the first bad one refuses the request.
    fn unit_names(&self, names: &[String]) -> Result<Vec<UnitName>, Status> {
        self.check_len("unit names", names.len())?;
        names
            .iter()
            .map(|n| UnitName::parse(n).map_err(|e| Status::invalid_argument(e.to_string())))
            .collect()
    }

    async fn act(
        &self,
        request: Request<pb::UnitActionRequest>,
        action: UnitAction,
    ) -> Result<Response<pb::UnitActionResponse>, Status> {
        let peer = self.access.check_control(&request)?;
        let name = UnitName::parse(&request.get_ref().name)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        tracing::info!(uid = peer.uid, pid = ?peer.pid, unit = %name, ?action, "unit action");
        let outcome = self
            .systemd
            .act(&name, action)
            .await
            .map_err(systemd_status)?;
        Ok(Response::new(convert::systemd::action_outcome(outcome)))
    }
}

/// Map a systemd failure to what the caller may know; details go to the log.
fn systemd_status(e: SystemdError) -> Status {
    match e {
        SystemdError::Unavailable(_) => {
            tracing::warn!(error = %e, "systemd unavailable");
            Status::unavailable("systemd is not reachable over D-Bus")
        }
        SystemdError::NoSuchUnit(_) => Status::not_found(e.to_string()),
        SystemdError::Denied(_) => Status::permission_denied(e.to_string()),
        SystemdError::Timeout(_) => Status::deadline_exceeded(e.to_string()),
        other => {
            tracing::error!(error = %other, "systemd request failed");
            Status::internal("systemd request failed (see the agent's log)")
        }
    }
}

/// Run a blocking collector on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "collector task failed");
        Status::internal("collector failed (see the agent's log)")
    })
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::UnitEvent, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::agent_server::Agent for AgentService {
    async fn host_snapshot(
        &self,
        request: Request<pb::HostSnapshotRequest>,
    ) -> Result<Response<pb::HostSnapshotResponse>, Status> {
        self.access.check_read(&request)?;
        let proc = self.proc.clone();
        let snapshot = blocking(move || proc.host_snapshot()).await?;
        Ok(Response::new(convert::proc::host_snapshot(snapshot)))
    }

    async fn users_usage(
        &self,
        request: Request<pb::UsersUsageRequest>,
    ) -> Result<Response<pb::UsersUsageResponse>, Status> {
        self.access.check_read(&request)?;
        let uids = request.into_inner().uids;
        self.check_len("uids", uids.len())?;
        let proc = self.proc.clone();
        let usage = blocking(move || proc.users_usage(&uids)).await?;
        if let Some(error) = &usage.error {
            // /proc itself could not be listed: the zeroes would be lies.
            tracing::error!(%error, "users usage unavailable");
            return Err(Status::unavailable(
                "process table unreadable (see the agent's log)",
            ));
        }
        Ok(Response::new(convert::proc::users_usage(usage)))
    }

    async fn measure_dirs(
        &self,
        request: Request<pb::MeasureDirsRequest>,
    ) -> Result<Response<pb::MeasureDirsResponse>, Status> {
        self.access.check_read(&request)?;
        let req = request.into_inner();
        self.check_len("roots", req.roots.len())?;
        if let Some(long) = req.roots.iter().find(|r| r.len() > MAX_PATH_LEN) {
            return Err(Status::invalid_argument(format!(
                "root of {} bytes is longer than {MAX_PATH_LEN}",
                long.len()
            )));
        }
        let max_age =
            (req.max_age_seconds > 0).then(|| Duration::from_secs(u64::from(req.max_age_seconds)));
        let measured = self.scanner.measure(&req.roots, max_age, req.force).await;
        Ok(Response::new(pb::MeasureDirsResponse {
            measures: measured.into_iter().map(convert::walk::measured).collect(),
        }))
    }

    async fn list_units(
        &self,
        request: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        self.access.check_read(&request)?;
        let units = self.systemd.list_units().await.map_err(systemd_status)?;
        Ok(Response::new(pb::ListUnitsResponse {
            units: units
                .into_iter()
                .map(convert::systemd::unit_summary)
                .collect(),
        }))
    }

    async fn unit_details(
        &self,
        request: Request<pb::UnitDetailsRequest>,
    ) -> Result<Response<pb::UnitDetailsResponse>, Status> {
        self.access.check_read(&request)?;
        let names = self.unit_names(&request.get_ref().names)?;
        let details = self.systemd.details(&names).await;
        Ok(Response::new(pb::UnitDetailsResponse {
            units: details
                .into_iter()
                .map(convert::systemd::unit_details)
                .collect(),
        }))
    }

    async fn start_unit(
        &self,
        request: Request<pb::UnitActionRequest>,
    ) -> Result<Response<pb::UnitActionResponse>, Status> {
        self.act(request, UnitAction::Start).await
    }

    async fn stop_unit(
        &self,
        request: Request<pb::UnitActionRequest>,
    ) -> Result<Response<pb::UnitActionResponse>, Status> {
        self.act(request, UnitAction::Stop).await
    }

    async fn restart_unit(
        &self,
        request: Request<pb::UnitActionRequest>,
    ) -> Result<Response<pb::UnitActionResponse>, Status> {
        self.act(request, UnitAction::Restart).await
    }

    type WatchUnitsStream = EventStream;

    async fn watch_units(
        &self,
        request: Request<pb::WatchUnitsRequest>,
    ) -> Result<Response<Self::WatchUnitsStream>, Status> {
        self.access.check_read(&request)?;
        let names = self.unit_names(&request.get_ref().names)?;
        let permit = self.watchers.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "too many watchers (at most {})",
                self.limits.max_watchers
            ))
        })?;
        let events = self.systemd.watch(names).await.map_err(systemd_status)?;
        let stream = events.map(move |item| {
            // The permit lives as long as the stream.
            let _held = &permit;
            item.map(convert::systemd::unit_event)
                .map_err(systemd_status)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
