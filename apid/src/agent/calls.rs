//! The typed calls of [`AgentClient`], one per RPC of `twoine.agent.v1`.

use std::time::Duration;

use twoine_proto::v1 as pb;

use super::{AgentClient, AgentError};

impl AgentClient {
    /// One host snapshot.
    pub async fn host_snapshot(&self) -> Result<pb::HostSnapshotResponse, AgentError> {
        self.call(|mut c| async move { c.host_snapshot(pb::HostSnapshotRequest {}).await })
            .await
    }

    /// CPU time, RSS and process counts of `uids`.
    pub async fn users_usage(&self, uids: Vec<u32>) -> Result<pb::UsersUsageResponse, AgentError> {
        self.call(|mut c| async move { c.users_usage(pb::UsersUsageRequest { uids }).await })
            .await
    }

    /// Measures of site roots; results up to `max_age` old may come from the agent's cache.
    pub async fn measure_dirs(
        &self,
        roots: Vec<String>,
        max_age: Duration,
        force: bool,
    ) -> Result<pb::MeasureDirsResponse, AgentError> {
        let max_age_seconds = u32::try_from(max_age.as_secs()).unwrap_or(u32::MAX).max(1);
        self.call(|mut c| async move {
            c.measure_dirs(pb::MeasureDirsRequest {
                roots,
                max_age_seconds,
                force,
            })
            .await
        })
        .await
    }

    /// Every `twoine-*` unit.
    pub async fn list_units(&self) -> Result<pb::ListUnitsResponse, AgentError> {
        self.call(|mut c| async move { c.list_units(pb::ListUnitsRequest {}).await })
            .await
    }

    /// Details of site units.
    pub async fn unit_details(
        &self,
        names: Vec<String>,
    ) -> Result<pb::UnitDetailsResponse, AgentError> {
        self.call(|mut c| async move { c.unit_details(pb::UnitDetailsRequest { names }).await })
            .await
    }

    /// Starts a site unit (the caller checked it is a known service's unit).
    pub async fn start_unit(&self, name: String) -> Result<pb::UnitActionResponse, AgentError> {
        self.call(|mut c| async move { c.start_unit(pb::UnitActionRequest { name }).await })
            .await
    }

    /// Stops a site unit.
    pub async fn stop_unit(&self, name: String) -> Result<pb::UnitActionResponse, AgentError> {
        self.call(|mut c| async move { c.stop_unit(pb::UnitActionRequest { name }).await })
            .await
    }

    /// Restarts a site unit.
    pub async fn restart_unit(&self, name: String) -> Result<pb::UnitActionResponse, AgentError> {
        self.call(|mut c| async move { c.restart_unit(pb::UnitActionRequest { name }).await })
            .await
    }

    /// Opens the unit event stream (empty `names`: every site unit). Read it with
    /// [`tonic::Streaming::message`]; an error there means the agent went away: call
    /// [`AgentClient::stream_failed`] and open a new one after [`AgentClient::retry_in`].
    pub async fn watch_units(
        &self,
        names: Vec<String>,
    ) -> Result<tonic::Streaming<pb::UnitEvent>, AgentError> {
        self.call(|mut c| async move { c.watch_units(pb::WatchUnitsRequest { names }).await })
            .await
    }
}
