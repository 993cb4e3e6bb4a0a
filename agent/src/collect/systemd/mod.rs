//! systemd over D-Bus (zbus): list, describe, start/stop/restart and watch site units.
//!
//! [`Systemd`] is a cheap handle to one lazily opened connection, reopened after the bus goes
//! away. Every unit name that comes back from systemd is re-validated before it is reported.
//! Values systemd cannot give (accounting off, no main process) are `None`, never a sentinel.

mod act;
mod details;
mod list;
mod name;
mod path;
mod proxy;
mod types;
mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use zbus::Connection;

use crate::config::SystemdConfig;

pub use name::{InvalidUnitName, MAX_UNIT_NAME_LEN, UnitName};
pub use path::{unit_name_from_path, unit_object_path};
pub use types::{
    ActionOutcome, NOT_LOADED, SystemdError, TIMEOUT_WAITING, UnitAction, UnitDetails,
    UnitDetailsResult, UnitEvent, UnitSummary,
};
pub use watch::UnitEventStream;

/// Longest wait for a bus connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one method reply on connections the collector opens (D-Bus's default).
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// A handle on systemd's D-Bus API. Clone it freely: clones share one connection.
#[derive(Clone)]
pub struct Systemd {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    job_timeout: Duration,
    slot: Mutex<Slot>,
}

/// Where connections come from.
enum Source {
    SystemBus,
    Address(String),
    /// Given by the caller; once closed it cannot be reopened.
    Given,
}

#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    /// Bumped at each new connection, so a stale failure does not drop a fresh connection.
    generation: u64,
}

/// A connection handed to one operation.
struct Lease {
    conn: Connection,
    generation: u64,
    /// Opened for this operation (a failure on it is not worth a retry).
    fresh: bool,
}

impl Systemd {
    /// Lazy: no connection until first use; reconnects after the bus goes away. Never fails.
    /// `bus_address` `None` is the system bus.
    pub fn new(config: &SystemdConfig) -> Self {
        let source = match &config.bus_address {
            Some(address) => Source::Address(address.clone()),
            None => Source::SystemBus,
        };
        Self::build(source, None, config)
    }

    /// Use an already established connection (a bus or a peer-to-peer one, as in tests).
    /// Once it closes, every call fails with [`SystemdError::Unavailable`].
    pub fn with_connection(conn: Connection, config: &SystemdConfig) -> Self {
        Self::build(Source::Given, Some(conn), config)
    }

    fn build(source: Source, conn: Option<Connection>, config: &SystemdConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                job_timeout: config.job_timeout(),
                slot: Mutex::new(Slot {
                    generation: u64::from(conn.is_some()),
                    conn,
                }),
            }),
        }
    }

    /// Every unit named `twoine-*` that systemd has loaded, merged with the installed unit
    /// files, so a stopped (unloaded) service still appears, as inactive/dead and
    /// [`NOT_LOADED`]. Sorted by name. Platform units (`twoine-api`, ...) are included.
    pub async fn list_units(&self) -> Result<Vec<UnitSummary>, SystemdError> {
        self.run(|conn| async move { list::list_units(&conn).await })
            .await
    }

    /// Details of each named unit, in order. A unit systemd does not know is a
    /// [`SystemdError::NoSuchUnit`] for that unit only.
    pub async fn details(&self, names: &[UnitName]) -> Vec<UnitDetailsResult> {
        let owned: Vec<UnitName> = names.to_vec();
        let owned = &owned;
        let batch = self
            .run(|conn| async move {
                let batch = details::details(&conn, owned).await;
                // A lost connection fails every unit: let `run` reconnect and try again.
                match batch.iter().find_map(|r| r.details.as_ref().err()) {
                    Some(e) if e.is_unavailable() => Err(e.clone()),
                    _ => Ok(batch),
                }
            })
            .await;
        batch.unwrap_or_else(|e| {
            names
                .iter()
                .map(|name| UnitDetailsResult {
                    name: name.clone(),
                    details: Err(e.clone()),
                })
                .collect()
        })
    }

    /// `StartUnit`/`StopUnit`/`RestartUnit(name, "replace")`, then wait (at most the
    /// configured job timeout) for the job to finish; returns its result and fresh details.
    pub async fn act(
        &self,
        name: &UnitName,
        action: UnitAction,
    ) -> Result<ActionOutcome, SystemdError> {
        // Subscribing is safe to retry on a new connection; the action itself is sent once.
        let owned = name.clone();
        let owned = &owned;
        let jobs = self
            .run(|conn| async move { act::listen(&conn, owned).await })
            .await?;
        let job_result = act::perform(jobs, name, action, self.inner.job_timeout).await?;
        let mut unit = self.details(std::slice::from_ref(name)).await;
        let unit = unit.pop().unwrap_or_else(|| UnitDetailsResult {
            name: name.clone(),
            details: Err(SystemdError::Other("no details returned".into())),
        });
        Ok(ActionOutcome { job_result, unit })
    }

    /// State changes of site units: first the current state of every watched unit
    /// (`initial`), then one event per change of ActiveState/SubState, with the service's
    /// Result and MainPID read right after the change. `names` empty watches every two-segment
    /// `twoine-<site>-<service>` unit, including ones installed or started later; a named unit
    /// systemd does not know opens as inactive/dead. Signals not sent by systemd are ignored.
    /// The stream yields [`SystemdError::Unavailable`] and ends when the bus goes away.
    ///
    /// Each watch gets its own bus connection (when the collector opens its connections), so
    /// a consumer that stops reading cannot stall the other requests.
    pub async fn watch(&self, names: Vec<UnitName>) -> Result<UnitEventStream, SystemdError> {
        match self.inner.source {
            Source::Given => {
                let names = &names;
                self.run(|conn| async move { watch::watch(conn, names.clone()).await })
                    .await
            }
            _ => {
                let conn = self.connect().await?;
                watch::watch(conn, names).await
            }
        }
    }

    /// Open a new connection from the configured source.
    async fn connect(&self) -> Result<Connection, SystemdError> {
        let builder = match &self.inner.source {
            Source::SystemBus => zbus::connection::Builder::system(),
            Source::Address(address) => zbus::connection::Builder::address(address.as_str()),
            Source::Given => {
                return Err(SystemdError::Unavailable(
                    "the D-Bus connection to systemd is closed".into(),
                ));
            }
        }?;
        let opening = builder.method_timeout(CALL_TIMEOUT).build();
        match tokio::time::timeout(CONNECT_TIMEOUT, opening).await {
            Ok(conn) => Ok(conn?),
            Err(_) => Err(SystemdError::Unavailable(format!(
                "no D-Bus connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The shared connection, opened if needed.
    async fn lease(&self) -> Result<Lease, SystemdError> {
        let mut slot = self.inner.slot.lock().await;
        if let Some(conn) = &slot.conn {
            if !conn.is_closed() {
                return Ok(Lease {
                    conn: conn.clone(),
                    generation: slot.generation,
                    fresh: false,
                });
            }
            slot.conn = None;
        }
        let conn = self.connect().await?;
        slot.generation += 1;
        slot.conn = Some(conn.clone());
        Ok(Lease {
            conn,
            generation: slot.generation,
            fresh: true,
        })
    }

    /// Drop the shared connection if it is still the one of `generation`.
    async fn forget(&self, generation: u64) {
        let mut slot = self.inner.slot.lock().await;
        if slot.generation == generation {
            slot.conn = None;
        }
    }

    /// Run `op` on the shared connection. If the connection turns out to be gone, open a
    /// new one and run `op` once more.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, SystemdError>
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = Result<T, SystemdError>>,
    {
        let lease = self.lease().await?;
        match op(lease.conn).await {
            Err(e) if e.is_unavailable() => {
                self.forget(lease.generation).await;
                if lease.fresh {
                    return Err(e);
                }
                tracing::debug!(error = %e, "D-Bus connection lost; reconnecting");
                let lease = self.lease().await?;
                let again = op(lease.conn).await;
                if again.as_ref().is_err_and(SystemdError::is_unavailable) {
                    self.forget(lease.generation).await;
                }
                again
            }
            other => other,
        }
    }
}
