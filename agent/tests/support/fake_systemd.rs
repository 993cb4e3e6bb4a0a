//! An in-process fake of systemd's D-Bus API (`org.freedesktop.systemd1`), for fast tests.
//!
//! Include it from an integration test with
//! `#[path = "support/fake_systemd.rs"] mod fake_systemd;`, then either
//! [`FakeSystemd::p2p`] (a peer-to-peer connection over a socket pair; hand the client side to
//! `Systemd::with_connection`) or [`FakeSystemd::on_bus`] (own the name on a real bus, such
//! as a test `dbus-daemon`).
//!
//! It behaves like systemd 252 where the agent depends on it:
//! - `GetUnit` fails with `NoSuchUnit` on a unit that is not loaded; `LoadUnit` loads it (and
//!   loads a unit without a unit file as `not-found`);
//! - a stopped unit is garbage-collected: it leaves `ListUnitsByPatterns` and is unloaded;
//! - a manual start/restart resets `NRestarts`, a crash-restart increments it;
//! - accounting that is off or of a stopped unit reads `u64::MAX`, no main process is PID 0;
//! - signals (`PropertiesChanged`, `JobRemoved`) are sent only once someone called
//!   `Subscribe`, the Service interface's `PropertiesChanged` before the Unit one.
// `unused`: each test uses a part of it (and may add its own `allow(dead_code)`).
#![allow(unused, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fake_systemd/bus.rs"]
mod bus;
#[path = "fake_systemd/manager.rs"]
mod manager;
#[path = "fake_systemd/objects.rs"]
mod objects;
#[path = "fake_systemd/state.rs"]
mod state;

use std::time::Duration;

use zbus::{Connection, connection};

pub use bus::TestBus;
pub use manager::FakeError;
pub use state::unit_path;

use manager::Manager;
use state::{Shared, Step, apply, export, lock, new_world};

pub const BUS_NAME: &str = "org.freedesktop.systemd1";
pub const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const UNIT_IFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_IFACE: &str = "org.freedesktop.systemd1.Service";

/// Memory and CPU a running unit with accounting reports.
pub const RUNNING_MEMORY: u64 = 50 * 1024 * 1024;
pub const RUNNING_CPU_NSEC: u64 = 1_500_000_000;

/// How a queued job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMode {
    /// The job finishes before the method reply leaves: `JobRemoved` arrives first.
    Immediate,
    /// The job finishes this long after the reply.
    After(Duration),
    /// The job never finishes; the unit stays in its first transitional state.
    Never,
}

/// A unit the fake knows at start.
#[derive(Debug, Clone)]
pub struct UnitSpec {
    pub name: String,
    pub description: String,
    pub user: String,
    /// `Some(state)`: a unit file is installed with that state ("enabled", "disabled", ...).
    pub file_state: Option<String>,
    pub running: bool,
    /// Loaded in memory (running units always are).
    pub loaded: bool,
    /// Memory/CPU accounting on.
    pub accounting: bool,
    pub n_restarts: u32,
    /// A start ends in "failed"/"exit-code".
    pub fails_to_start: bool,
}

impl UnitSpec {
    /// An enabled unit, loaded, active/running, with accounting.
    pub fn running(name: &str) -> Self {
        Self {
            name: name.to_string(),
            description: format!("Twoine unit {name}"),
            user: String::new(),
            file_state: Some("enabled".into()),
            running: true,
            loaded: true,
            accounting: true,
            n_restarts: 0,
            fails_to_start: false,
        }
    }

    /// A disabled unit, inactive/dead and not loaded (as systemd leaves a stopped unit).
    pub fn stopped(name: &str) -> Self {
        Self {
            file_state: Some("disabled".into()),
            running: false,
            loaded: false,
            ..Self::running(name)
        }
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    pub fn without_accounting(mut self) -> Self {
        self.accounting = false;
        self
    }

    pub fn failing_start(mut self) -> Self {
        self.fails_to_start = true;
        self
    }

    pub fn restarts(mut self, n: u32) -> Self {
        self.n_restarts = n;
        self
    }
}

/// A running fake. Clones share the same state.
#[derive(Clone)]
pub struct FakeSystemd {
    world: Shared,
    conn: Connection,
}

impl FakeSystemd {
    /// Serve over a fresh socket pair; returns the fake and the client's connection.
    pub async fn p2p(units: Vec<UnitSpec>) -> zbus::Result<(Self, Connection)> {
        let (server_end, client_end) = tokio::net::UnixStream::pair().map_err(zbus::Error::from)?;
        let world = new_world(units);
        let guid = zbus::Guid::generate();
        let server = connection::Builder::unix_stream(server_end)
            .server(guid)?
            .p2p()
            .serve_at(
                MANAGER_PATH,
                Manager {
                    world: world.clone(),
                },
            )?
            .build();
        let client = connection::Builder::unix_stream(client_end).p2p().build();
        let (server, client) = futures_util::try_join!(server, client)?;
        let fake = Self {
            world,
            conn: server,
        };
        fake.export_all().await?;
        Ok((fake, client))
    }

    /// Own `org.freedesktop.systemd1` on the bus at `address`.
    pub async fn on_bus(address: &str, units: Vec<UnitSpec>) -> zbus::Result<Self> {
        let world = new_world(units);
        let conn = connection::Builder::address(address)?
            .serve_at(
                MANAGER_PATH,
                Manager {
                    world: world.clone(),
                },
            )?
            .name(BUS_NAME)?
            .build()
            .await?;
        let fake = Self { world, conn };
        fake.export_all().await?;
        Ok(fake)
    }

    async fn export_all(&self) -> zbus::Result<()> {
        let names: Vec<String> = lock(&self.world).units.keys().cloned().collect();
        for name in names {
            export(self.conn.object_server(), &self.world, &name).await?;
        }
        Ok(())
    }

    /// The methods called so far, as "Method arg arg".
    pub fn calls(&self) -> Vec<String> {
        lock(&self.world).calls.clone()
    }

    /// How many calls of `method` were made.
    pub fn count(&self, method: &str) -> usize {
        let prefix = format!("{method} ");
        lock(&self.world)
            .calls
            .iter()
            .filter(|c| *c == method || c.starts_with(&prefix))
            .count()
    }

    pub fn set_job_mode(&self, mode: JobMode) {
        lock(&self.world).job_mode = mode;
    }

    /// Refuse start/stop/restart with `org.freedesktop.DBus.Error.AccessDenied`.
    pub fn deny_actions(&self, deny: bool) {
        lock(&self.world).deny_actions = deny;
    }

    /// Send ActiveState/SubState changes as invalidated names instead of values.
    pub fn invalidate_only(&self, on: bool) {
        lock(&self.world).invalidate_only = on;
    }

    /// (ActiveState, SubState, MainPID, NRestarts) of a unit.
    pub fn state(&self, name: &str) -> Option<(String, String, u32, u32)> {
        lock(&self.world)
            .units
            .get(name)
            .map(|u| (u.active.clone(), u.sub.clone(), u.main_pid, u.n_restarts))
    }

    /// The main process was killed. With `restart` (Restart=on-failure) systemd restarts the
    /// unit, counting one more restart; without, the unit ends "failed".
    pub async fn kill(&self, name: &str, restart: bool) -> zbus::Result<()> {
        let mut steps = vec![];
        if restart {
            steps.push(Step::new("activating", "auto-restart").result("signal"));
            steps.push(Step::new("activating", "start").count_restart());
            steps.push(Step::new("active", "running"));
        } else {
            steps.push(Step::new("failed", "failed").result("signal"));
        }
        for step in steps {
            apply(&self.conn, &self.world, name, &step).await?;
        }
        Ok(())
    }

    /// Put a unit in any state (emitting the signals systemd would).
    pub async fn set_state(&self, name: &str, active: &str, sub: &str) -> zbus::Result<()> {
        apply(&self.conn, &self.world, name, &Step::new(active, sub)).await
    }

    /// Emit a PropertiesChanged for a unit without changing anything (for the dedup tests).
    pub async fn repeat_state(&self, name: &str) -> zbus::Result<()> {
        let (active, sub) = {
            let w = lock(&self.world);
            let u = w
                .units
                .get(name)
                .ok_or_else(|| zbus::Error::Failure(format!("no unit {name}")))?;
            (u.active.clone(), u.sub.clone())
        };
        apply(&self.conn, &self.world, name, &Step::new(&active, &sub)).await
    }

    /// Close the connection: the client sees systemd go away.
    pub async fn disconnect(&self) -> zbus::Result<()> {
        self.conn.clone().close().await
    }
}
