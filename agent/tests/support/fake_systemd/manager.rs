//! `org.freedesktop.systemd1.Manager`: listings, LoadUnit/GetUnit, jobs, Subscribe.

use zbus::object_server::SignalEmitter;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};
use zbus::{Connection, ObjectServer, interface};

use super::state::{Shared, Step, Unit, apply, export, glob, lock, unit_path};
use super::{JobMode, MANAGER_PATH, UnitSpec};

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.freedesktop")]
pub enum FakeError {
    #[zbus(error)]
    ZBus(zbus::Error),
    #[zbus(name = "systemd1.NoSuchUnit")]
    NoSuchUnit(String),
    #[zbus(name = "DBus.Error.AccessDenied")]
    AccessDenied(String),
}

pub(super) struct Manager {
    pub(super) world: Shared,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Start,
    Stop,
    Restart,
}

type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

fn owned_path(p: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(p.to_string()).unwrap_or_else(|_| OwnedObjectPath::default())
}

impl Manager {
    fn record(&self, call: String) {
        lock(&self.world).calls.push(call);
    }

    /// The states a job walks the unit through, and the job's result.
    fn plan(kind: Kind, u: &Unit) -> (Vec<Step>, &'static str) {
        let running = matches!(u.active.as_str(), "active" | "activating" | "reloading");
        let start = |mut steps: Vec<Step>| {
            steps.push(Step::new("activating", "start").result("success"));
            if u.spec.fails_to_start {
                steps.push(Step::new("failed", "failed").result("exit-code"));
                (steps, "failed")
            } else {
                steps.push(Step::new("active", "running"));
                (steps, "done")
            }
        };
        match kind {
            Kind::Start if running => (vec![], "done"),
            Kind::Start => start(vec![]),
            Kind::Stop if !running => (vec![], "done"),
            Kind::Stop => (
                vec![
                    Step::new("deactivating", "stop-sigterm"),
                    Step::new("inactive", "dead").result("success"),
                ],
                "done",
            ),
            Kind::Restart if running => start(vec![Step::new("deactivating", "stop-sigterm")]),
            Kind::Restart => start(vec![]),
        }
    }

    async fn job(
        &self,
        kind: Kind,
        name: String,
        mode: String,
        conn: &Connection,
        server: &ObjectServer,
    ) -> Result<OwnedObjectPath, FakeError> {
        let method = match kind {
            Kind::Start => "StartUnit",
            Kind::Stop => "StopUnit",
            Kind::Restart => "RestartUnit",
        };
        self.record(format!("{method} {name} {mode}"));
        let (steps, result, id, job_mode) = {
            let mut w = lock(&self.world);
            if w.deny_actions {
                return Err(FakeError::AccessDenied(format!(
                    "Access denied to {method} {name}"
                )));
            }
            let Some(u) = w
                .units
                .get_mut(&name)
                .filter(|u| u.spec.file_state.is_some())
            else {
                return Err(FakeError::NoSuchUnit(format!("Unit {name} not found.")));
            };
            u.loaded = true;
            if matches!(kind, Kind::Start | Kind::Restart) {
                // A manual (re)start resets the restart counter.
                u.n_restarts = 0;
            }
            let (steps, result) = Self::plan(kind, u);
            w.next_job += 1;
            (steps, result, w.next_job, w.job_mode)
        };
        export(server, &self.world, &name).await?;
        let job_path = format!("{MANAGER_PATH}/job/{id}");
        let run = {
            let conn = conn.clone();
            let world = self.world.clone();
            let job_path = job_path.clone();
            let name = name.clone();
            async move {
                for step in &steps {
                    apply(&conn, &world, &name, step).await?;
                }
                if matches!(kind, Kind::Stop) {
                    // Garbage-collected once inactive.
                    if let Some(u) = lock(&world).units.get_mut(&name) {
                        u.loaded = false;
                    }
                }
                if lock(&world).subscribed {
                    let emitter = SignalEmitter::new(&conn, MANAGER_PATH)?;
                    let job = ObjectPath::try_from(job_path.as_str())?;
                    Manager::job_removed(&emitter, id, job, &name, result).await?;
                }
                zbus::Result::Ok(())
            }
        };
        match job_mode {
            JobMode::Immediate => run.await?,
            JobMode::After(delay) => {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = run.await;
                });
            }
            JobMode::Never => {
                if let Some(first) = Self::plan(kind, &self.unit(&name)?).0.first() {
                    apply(conn, &self.world, &name, first).await?;
                }
            }
        }
        Ok(owned_path(&job_path))
    }

    fn unit(&self, name: &str) -> Result<Unit, FakeError> {
        lock(&self.world)
            .units
            .get(name)
            .cloned()
            .ok_or_else(|| FakeError::NoSuchUnit(format!("Unit {name} not found.")))
    }
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    async fn list_units_by_patterns(
        &self,
        states: Vec<String>,
        patterns: Vec<String>,
    ) -> Vec<ListedUnit> {
        self.record(format!("ListUnitsByPatterns {}", patterns.join(",")));
        let w = lock(&self.world);
        w.units
            .values()
            .filter(|u| u.loaded)
            .filter(|u| patterns.is_empty() || patterns.iter().any(|p| glob(p, &u.spec.name)))
            .filter(|u| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| *s == u.load_state || *s == u.active || *s == u.sub)
            })
            .map(|u| {
                (
                    u.spec.name.clone(),
                    u.spec.description.clone(),
                    u.load_state.clone(),
                    u.active.clone(),
                    u.sub.clone(),
                    String::new(),
                    owned_path(&unit_path(&u.spec.name)),
                    0,
                    String::new(),
                    owned_path("/"),
                )
            })
            .collect()
    }

    async fn list_unit_files_by_patterns(
        &self,
        _states: Vec<String>,
        patterns: Vec<String>,
    ) -> Vec<(String, String)> {
        self.record(format!("ListUnitFilesByPatterns {}", patterns.join(",")));
        let w = lock(&self.world);
        w.units
            .values()
            .filter(|u| patterns.is_empty() || patterns.iter().any(|p| glob(p, &u.spec.name)))
            .filter_map(|u| {
                let state = u.spec.file_state.clone()?;
                Some((format!("/etc/systemd/system/{}", u.spec.name), state))
            })
            .collect()
    }

    async fn load_unit(
        &self,
        name: String,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<OwnedObjectPath, FakeError> {
        self.record(format!("LoadUnit {name}"));
        {
            let mut w = lock(&self.world);
            let pid = w.next_pid;
            let unit = w.units.entry(name.clone()).or_insert_with(|| {
                let mut spec = UnitSpec::stopped(&name);
                spec.file_state = None;
                spec.description = name.clone();
                Unit::new(spec, pid)
            });
            unit.loaded = true;
        }
        export(server, &self.world, &name).await?;
        Ok(owned_path(&unit_path(&name)))
    }

    async fn get_unit(&self, name: String) -> Result<OwnedObjectPath, FakeError> {
        self.record(format!("GetUnit {name}"));
        match lock(&self.world).units.get(&name) {
            Some(u) if u.loaded => Ok(owned_path(&unit_path(&name))),
            _ => Err(FakeError::NoSuchUnit(format!("Unit {name} not loaded."))),
        }
    }

    async fn start_unit(
        &self,
        name: String,
        mode: String,
        #[zbus(connection)] conn: &Connection,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<OwnedObjectPath, FakeError> {
        self.job(Kind::Start, name, mode, conn, server).await
    }

    async fn stop_unit(
        &self,
        name: String,
        mode: String,
        #[zbus(connection)] conn: &Connection,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<OwnedObjectPath, FakeError> {
        self.job(Kind::Stop, name, mode, conn, server).await
    }

    async fn restart_unit(
        &self,
        name: String,
        mode: String,
        #[zbus(connection)] conn: &Connection,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<OwnedObjectPath, FakeError> {
        self.job(Kind::Restart, name, mode, conn, server).await
    }

    async fn subscribe(&self) {
        self.record("Subscribe".into());
        lock(&self.world).subscribed = true;
    }

    #[zbus(signal)]
    async fn job_removed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}
