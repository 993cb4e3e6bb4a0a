//! What the systemd collector returns: plain Rust values, no D-Bus or gRPC types.

use std::time::SystemTime;

use super::UnitName;

/// One `twoine-*` unit as `ListUnits`/`ListUnitFiles` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSummary {
    /// Full unit name as systemd spells it (`twoine-demo-web.service`, or a platform unit
    /// such as `twoine-api.service`).
    pub name: String,
    pub description: String,
    /// systemd's LoadState; [`NOT_LOADED`] for a unit that is installed but not in memory.
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    /// The unit file state ("enabled", "disabled", "static", ...) when a file is installed.
    pub unit_file_state: Option<String>,
}

/// `load_state` of a unit that has a unit file but that systemd has not loaded (a stopped,
/// garbage-collected unit). systemd itself has no word for it: it would load the unit to answer.
pub const NOT_LOADED: &str = "not-loaded";

/// State and accounting of one site unit. Values systemd cannot give are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitDetails {
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    /// Service `Result`: "success", "exit-code", "signal", "core-dump", "timeout", ...
    pub result: String,
    /// `MainPID`; `None` when no main process runs.
    pub main_pid: Option<u32>,
    /// `ActiveEnterTimestamp`, Unix epoch microseconds; `None` when never active.
    pub active_enter_timestamp_us: Option<u64>,
    /// `MemoryCurrent`; `None` when accounting is off or the unit is not running.
    pub memory_current_bytes: Option<u64>,
    /// `CPUUsageNSec`; `None` when accounting is off or the unit is not running.
    pub cpu_usage_nsec: Option<u64>,
    /// `NRestarts`: automatic restarts since the last manual start.
    pub n_restarts: Option<u32>,
    pub description: String,
    /// `User=`; empty for root or unset.
    pub user: String,
}

/// The details of one requested unit, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitDetailsResult {
    pub name: UnitName,
    pub details: Result<UnitDetails, SystemdError>,
}

/// What `act` asks systemd to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitAction {
    Start,
    Stop,
    Restart,
}

impl UnitAction {
    /// The D-Bus method name, for logs.
    pub fn method(self) -> &'static str {
        match self {
            Self::Start => "StartUnit",
            Self::Stop => "StopUnit",
            Self::Restart => "RestartUnit",
        }
    }
}

/// `job_result` when the job did not finish within `job_timeout`.
pub const TIMEOUT_WAITING: &str = "timeout-waiting";

/// The end of a start/stop/restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    /// The job's result as systemd reports it ("done", "failed", "timeout", "canceled",
    /// "dependency", "skipped"), or [`TIMEOUT_WAITING`] if the agent stopped waiting.
    pub job_result: String,
    /// The unit as it is once the job finished (or the wait gave up).
    pub unit: UnitDetailsResult,
}

/// One state of a watched unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEvent {
    pub name: UnitName,
    pub active_state: String,
    pub sub_state: String,
    /// Service `Result` read at the time of the event; empty when unknown.
    pub result: String,
    pub main_pid: Option<u32>,
    /// When the agent saw the state.
    pub at: SystemTime,
    /// True for the opening state of each unit, false for a change.
    pub initial: bool,
}

/// Why a systemd request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SystemdError {
    /// No bus, no systemd on it, or the connection went away.
    #[error("systemd is unavailable: {0}")]
    Unavailable(String),
    /// systemd does not know the unit (no unit file).
    #[error("no such unit: {0}")]
    NoSuchUnit(String),
    /// systemd or the bus refused the request.
    #[error("permission denied: {0}")]
    Denied(String),
    /// systemd did not answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Any other systemd or D-Bus error.
    #[error("systemd error: {0}")]
    Other(String),
}

impl SystemdError {
    /// A D-Bus error reply, by its name and message.
    pub(super) fn from_dbus(name: &str, message: &str) -> Self {
        let text = if message.is_empty() {
            name.to_string()
        } else {
            message.to_string()
        };
        match name {
            "org.freedesktop.systemd1.NoSuchUnit" => Self::NoSuchUnit(text),
            "org.freedesktop.DBus.Error.AccessDenied"
            | "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
            | "org.freedesktop.DBus.Error.AuthFailed" => Self::Denied(text),
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.NoServer"
            | "org.freedesktop.DBus.Error.Disconnected" => Self::Unavailable(text),
            "org.freedesktop.DBus.Error.NoReply"
            | "org.freedesktop.DBus.Error.TimedOut"
            | "org.freedesktop.DBus.Error.Timeout" => Self::Timeout(text),
            _ => Self::Other(format!("{name}: {text}")),
        }
    }

    /// True when the connection itself is gone (worth reconnecting).
    pub(super) fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<zbus::Error> for SystemdError {
    fn from(e: zbus::Error) -> Self {
        use std::io::ErrorKind;
        match e {
            zbus::Error::MethodError(name, message, _) => {
                Self::from_dbus(name.as_str(), message.as_deref().unwrap_or(""))
            }
            zbus::Error::FDO(fdo) => Self::from(*fdo),
            zbus::Error::InputOutput(io) if io.kind() == ErrorKind::TimedOut => {
                Self::Timeout(io.to_string())
            }
            zbus::Error::InputOutput(io) => Self::Unavailable(io.to_string()),
            zbus::Error::Connection(io, address) => {
                Self::Unavailable(format!("cannot connect to {address}: {io}"))
            }
            e @ (zbus::Error::Address(_) | zbus::Error::Handshake(_)) => {
                Self::Unavailable(e.to_string())
            }
            other => Self::Other(other.to_string()),
        }
    }
}

impl From<zbus::fdo::Error> for SystemdError {
    fn from(e: zbus::fdo::Error) -> Self {
        match e {
            zbus::fdo::Error::ZBus(inner) => Self::from(inner),
            other => {
                use zbus::DBusError;
                Self::from_dbus(other.name().as_str(), other.description().unwrap_or(""))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbus_errors_are_classified() {
        assert_eq!(
            SystemdError::from_dbus(
                "org.freedesktop.systemd1.NoSuchUnit",
                "Unit twoine-a-b.service not found."
            ),
            SystemdError::NoSuchUnit("Unit twoine-a-b.service not found.".into())
        );
        assert!(matches!(
            SystemdError::from_dbus("org.freedesktop.DBus.Error.AccessDenied", "no"),
            SystemdError::Denied(_)
        ));
        assert!(matches!(
            SystemdError::from_dbus("org.freedesktop.DBus.Error.ServiceUnknown", ""),
            SystemdError::Unavailable(_)
        ));
        assert!(matches!(
            SystemdError::from_dbus("org.freedesktop.DBus.Error.NoReply", ""),
            SystemdError::Timeout(_)
        ));
        let other = SystemdError::from_dbus("org.freedesktop.systemd1.UnitMasked", "masked");
        assert_eq!(
            other.to_string(),
            "systemd error: org.freedesktop.systemd1.UnitMasked: masked"
        );
    }

    #[test]
    fn zbus_errors_are_classified() {
        let fdo = zbus::fdo::Error::AccessDenied("polkit said no".into());
        assert_eq!(
            SystemdError::from(zbus::Error::FDO(Box::new(fdo))),
            SystemdError::Denied("polkit said no".into())
        );
        let gone = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        assert!(SystemdError::from(zbus::Error::InputOutput(gone.into())).is_unavailable());
        let slow = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert!(matches!(
            SystemdError::from(zbus::Error::InputOutput(slow.into())),
            SystemdError::Timeout(_)
        ));
    }
}
