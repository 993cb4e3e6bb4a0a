//! The agent against the real systemd 252, the real system bus and real users' processes.
//!
//! Runs only inside the throw-away VM: `tests/vm/run-agent-tests.sh` (which sets up, in
//! `tests/vm/agent-ci.sh`, the users, the site tree, the units and the running agent these
//! tests expect). On a normal host every test here is ignored.
//!
//! Every check goes through `twoine-agent ctl`, a real process printing JSON, and is compared
//! with an independent reference on the same machine (`systemctl`, `busctl`, `/proc`, `du`,
//! `find`). Tests leave the demo unit running whatever happens, so they do not depend on order.
// Helpers below are test code too: they fail loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use twoine_system_tests::vm::ctl::{Ctl, array_field, field, opt_u64_field, str_field, u64_field};
use twoine_system_tests::vm::host::{self, KeepRunning, ModeGuard};
use twoine_system_tests::vm::{procfs, wait_for};

#[path = "vm_agent/access.rs"]
mod access;
#[path = "vm_agent/scan.rs"]
mod scan;
#[path = "vm_agent/units.rs"]
mod units;
#[path = "vm_agent/usage.rs"]
mod usage;
#[path = "vm_agent/watch.rs"]
mod watch;

const WEB: &str = "twoine-demo-web";
const WEB_UNIT: &str = "twoine-demo-web.service";
const API_UNIT: &str = "twoine-api.service";
const SITE_USER: &str = "site_demo";
const SITE_ROOT: &str = "/var/www/twoine/demo";

fn ctl() -> Ctl {
    Ctl::from_env()
}

/// The only entry of a `units` list (UnitDetailsResponse, UnitActionResponse.unit).
fn single_unit(response: &Value) -> &Value {
    let units = array_field(response, "units");
    assert_eq!(units.len(), 1, "one unit asked, got {response}");
    &units[0]
}

fn states(unit: &Value) -> (&str, &str) {
    (
        str_field(unit, "active_state"),
        str_field(unit, "sub_state"),
    )
}

fn n_restarts(unit: &str) -> u64 {
    host::show_u64(unit, "NRestarts").expect("systemctl reports NRestarts")
}

/// Kill the unit's main process with SIGKILL and wait for systemd's crash-restart.
fn crash_and_wait_restart(pid: u32) -> u32 {
    host::run_ok("kill", &["-9", &pid.to_string()]);
    wait_for(
        "a crash-restart with a new MainPID",
        Duration::from_secs(20),
        || {
            let new = host::wait_running(WEB_UNIT);
            (new != pid).then_some(new)
        },
    )
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn the_vm_runs_systemd_as_pid_1_with_a_system_bus() {
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap();
    assert_eq!(comm.trim(), "systemd");
    assert!(Path::new("/run/dbus/system_bus_socket").exists());
    assert_eq!(host::is_active(WEB_UNIT), "active");
}
