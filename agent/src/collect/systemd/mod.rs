//! systemd over D-Bus (zbus): list, describe, start/stop/restart and watch site units.
//! OWNED BY THE SYSTEMD HELPER — stub until then.

mod name;

pub use name::{InvalidUnitName, MAX_UNIT_NAME_LEN, UnitName};
