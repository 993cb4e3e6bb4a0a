//! The fake's state: units, their transitions, and the signals a transition emits.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use zbus::names::InterfaceName;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::Value;
use zbus::{Connection, ObjectServer};

use super::objects::{ServiceObject, UnitObject};
use super::{JobMode, RUNNING_CPU_NSEC, RUNNING_MEMORY, SERVICE_IFACE, UNIT_IFACE, UnitSpec};

#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) spec: UnitSpec,
    pub(super) loaded: bool,
    pub(super) load_state: String,
    pub(super) active: String,
    pub(super) sub: String,
    pub(super) result: String,
    pub(super) main_pid: u32,
    pub(super) active_enter_us: u64,
    pub(super) n_restarts: u32,
    pub(super) exported: bool,
}

impl Unit {
    pub(super) fn new(spec: UnitSpec, pid: u32) -> Self {
        let running = spec.running;
        let load_state = match spec.file_state.as_deref() {
            None => "not-found",
            Some("masked") => "masked",
            Some(_) => "loaded",
        };
        Self {
            loaded: spec.loaded || running,
            load_state: load_state.into(),
            active: if running { "active" } else { "inactive" }.into(),
            sub: if running { "running" } else { "dead" }.into(),
            result: "success".into(),
            main_pid: if running { pid } else { 0 },
            active_enter_us: if running { now_us() - 60_000_000 } else { 0 },
            n_restarts: spec.n_restarts,
            exported: false,
            spec,
        }
    }

    pub(super) fn memory(&self) -> u64 {
        if self.spec.accounting && self.main_pid != 0 {
            RUNNING_MEMORY
        } else {
            u64::MAX
        }
    }

    pub(super) fn cpu(&self) -> u64 {
        if self.spec.accounting && self.main_pid != 0 {
            RUNNING_CPU_NSEC
        } else {
            u64::MAX
        }
    }

    /// Move to a state, keeping the main PID coherent with it.
    fn set(&mut self, active: &str, sub: &str, next_pid: &mut u32) {
        match (active, sub) {
            // A new process each time the unit starts.
            ("activating", "start") => {
                *next_pid += 1;
                self.main_pid = *next_pid;
            }
            ("active", _) if self.main_pid == 0 => {
                *next_pid += 1;
                self.main_pid = *next_pid;
            }
            ("inactive", _) | ("failed", _) | ("activating", "auto-restart") => self.main_pid = 0,
            _ => {}
        }
        if active == "active" && self.active != "active" {
            self.active_enter_us = now_us();
        }
        self.active = active.into();
        self.sub = sub.into();
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[derive(Debug)]
pub(super) struct World {
    pub(super) units: BTreeMap<String, Unit>,
    pub(super) calls: Vec<String>,
    pub(super) next_job: u32,
    pub(super) next_pid: u32,
    pub(super) job_mode: JobMode,
    pub(super) subscribed: bool,
    pub(super) deny_actions: bool,
    pub(super) invalidate_only: bool,
}

pub(super) type Shared = Arc<Mutex<World>>;

pub(super) fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

/// systemd's object path for a unit (`bus_label_escape`), written independently of the agent.
pub fn unit_path(name: &str) -> String {
    let mut label = String::new();
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            label.push(b as char);
        } else {
            label.push_str(&format!("_{b:02x}"));
        }
    }
    format!("/org/freedesktop/systemd1/unit/{label}")
}

/// A shell-style pattern with `*` and `?`, as systemd's `fnmatch`.
pub(super) fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// Put the unit's Unit and Service objects on the server (once).
pub(super) async fn export(server: &ObjectServer, world: &Shared, name: &str) -> zbus::Result<()> {
    {
        let mut w = lock(world);
        match w.units.get_mut(name) {
            Some(u) if !u.exported => u.exported = true,
            _ => return Ok(()),
        }
    }
    let path = unit_path(name);
    let unit = UnitObject {
        world: world.clone(),
        name: name.to_string(),
    };
    server.at(path.as_str(), unit).await?;
    let service = ServiceObject {
        world: world.clone(),
        name: name.to_string(),
    };
    server.at(path.as_str(), service).await?;
    Ok(())
}

/// One state a unit goes through.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) active: String,
    pub(super) sub: String,
    pub(super) result: Option<String>,
    pub(super) count_restart: bool,
}

impl Step {
    pub(super) fn new(active: &str, sub: &str) -> Self {
        Self {
            active: active.into(),
            sub: sub.into(),
            result: None,
            count_restart: false,
        }
    }
    pub(super) fn result(mut self, r: &str) -> Self {
        self.result = Some(r.into());
        self
    }
    pub(super) fn count_restart(mut self) -> Self {
        self.count_restart = true;
        self
    }
}

/// Apply a step, then emit PropertiesChanged (Service, then Unit) if anyone subscribed.
pub(super) async fn apply(
    conn: &Connection,
    world: &Shared,
    name: &str,
    step: &Step,
) -> zbus::Result<()> {
    let (subscribed, invalidate_only, unit) = {
        let mut w = lock(world);
        let mut next_pid = w.next_pid;
        let u = w
            .units
            .get_mut(name)
            .ok_or_else(|| zbus::Error::Failure(format!("no unit {name}")))?;
        if let Some(r) = &step.result {
            u.result = r.clone();
        }
        if step.count_restart {
            u.n_restarts += 1;
        }
        u.set(&step.active, &step.sub, &mut next_pid);
        let unit = u.clone();
        w.next_pid = next_pid;
        (w.subscribed, w.invalidate_only, unit)
    };
    if !subscribed {
        return Ok(());
    }
    let emitter = SignalEmitter::new(conn, unit_path(name))?;
    let service: HashMap<&str, Value<'_>> = HashMap::from([
        ("MainPID", Value::U32(unit.main_pid)),
        ("Result", Value::from(unit.result.clone())),
        ("NRestarts", Value::U32(unit.n_restarts)),
    ]);
    zbus::fdo::Properties::properties_changed(
        &emitter,
        InterfaceName::from_static_str_unchecked(SERVICE_IFACE),
        service,
        Cow::Borrowed(&[]),
    )
    .await?;
    let mut changed: HashMap<&str, Value<'_>> =
        HashMap::from([("ActiveEnterTimestamp", Value::U64(unit.active_enter_us))]);
    let invalidated: Vec<&str> = if invalidate_only {
        vec!["ActiveState", "SubState"]
    } else {
        changed.insert("ActiveState", Value::from(unit.active.clone()));
        changed.insert("SubState", Value::from(unit.sub.clone()));
        vec![]
    };
    zbus::fdo::Properties::properties_changed(
        &emitter,
        InterfaceName::from_static_str_unchecked(UNIT_IFACE),
        changed,
        Cow::Owned(invalidated),
    )
    .await
}

pub(super) fn new_world(units: Vec<UnitSpec>) -> Shared {
    let mut next_pid = 4000;
    let units = units
        .into_iter()
        .map(|spec| {
            next_pid += 1;
            (spec.name.clone(), Unit::new(spec, next_pid))
        })
        .collect();
    Arc::new(Mutex::new(World {
        units,
        calls: vec![],
        next_job: 100,
        next_pid,
        job_mode: JobMode::Immediate,
        subscribed: false,
        deny_actions: false,
        invalidate_only: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_and_paths() {
        assert!(glob("twoine-*", "twoine-demo-web.service"));
        assert!(!glob("twoine-*", "sshd.service"));
        assert!(glob("*", ""));
        assert_eq!(
            unit_path("twoine-demo-web.service"),
            "/org/freedesktop/systemd1/unit/twoine_2ddemo_2dweb_2eservice"
        );
    }
}
