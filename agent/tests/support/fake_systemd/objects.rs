//! The unit objects: `org.freedesktop.systemd1.Unit` and `.Service` properties.

use zbus::interface;

use super::state::{Shared, Unit, lock};

pub(super) struct UnitObject {
    pub(super) world: Shared,
    pub(super) name: String,
}

impl UnitObject {
    fn read<T>(&self, f: impl FnOnce(&Unit) -> T, default: T) -> T {
        lock(&self.world)
            .units
            .get(&self.name)
            .map(f)
            .unwrap_or(default)
    }
}

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl UnitObject {
    #[zbus(property, name = "Id")]
    fn id(&self) -> String {
        self.name.clone()
    }
    #[zbus(property, name = "Description")]
    fn description(&self) -> String {
        self.read(|u| u.spec.description.clone(), String::new())
    }
    #[zbus(property, name = "LoadState")]
    fn load_state(&self) -> String {
        self.read(|u| u.load_state.clone(), "not-found".into())
    }
    #[zbus(property, name = "ActiveState")]
    fn active_state(&self) -> String {
        self.read(|u| u.active.clone(), "inactive".into())
    }
    #[zbus(property, name = "SubState")]
    fn sub_state(&self) -> String {
        self.read(|u| u.sub.clone(), "dead".into())
    }
    #[zbus(property, name = "ActiveEnterTimestamp")]
    fn active_enter_timestamp(&self) -> u64 {
        self.read(|u| u.active_enter_us, 0)
    }
}

pub(super) struct ServiceObject {
    pub(super) world: Shared,
    pub(super) name: String,
}

impl ServiceObject {
    fn read<T>(&self, f: impl FnOnce(&Unit) -> T, default: T) -> T {
        lock(&self.world)
            .units
            .get(&self.name)
            .map(f)
            .unwrap_or(default)
    }
}

#[interface(name = "org.freedesktop.systemd1.Service")]
impl ServiceObject {
    #[zbus(property, name = "Result")]
    fn result(&self) -> String {
        self.read(|u| u.result.clone(), "success".into())
    }
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> u32 {
        self.read(|u| u.main_pid, 0)
    }
    #[zbus(property, name = "MemoryCurrent")]
    fn memory_current(&self) -> u64 {
        self.read(Unit::memory, u64::MAX)
    }
    #[zbus(property, name = "CPUUsageNSec")]
    fn cpu_usage_nsec(&self) -> u64 {
        self.read(Unit::cpu, u64::MAX)
    }
    #[zbus(property, name = "NRestarts")]
    fn n_restarts(&self) -> u32 {
        self.read(|u| u.n_restarts, 0)
    }
    #[zbus(property, name = "User")]
    fn user(&self) -> String {
        self.read(|u| u.spec.user.clone(), String::new())
    }
}
