//! Independent references read without the agent: `systemctl`, `busctl`, `du`, `find`, `id`.
#![allow(clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::wait_for;

/// Run a program, require success, return its trimmed stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = run(program, args);
    assert!(ok, "`{program} {}` failed: {stderr}", args.join(" "));
    stdout
}

/// Run a program; (success, trimmed stdout, stderr).
pub fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `systemctl show -p PROP --value UNIT`.
pub fn show(unit: &str, prop: &str) -> String {
    run_ok("systemctl", &["show", "-p", prop, "--value", unit])
}

/// A numeric property of `systemctl show`; `None` for "[not set]" or an empty value.
pub fn show_u64(unit: &str, prop: &str) -> Option<u64> {
    show(unit, prop).parse().ok()
}

/// The unit's MainPID according to systemctl (0 when it has none).
pub fn main_pid(unit: &str) -> u32 {
    show(unit, "MainPID").parse().expect("MainPID is a number")
}

/// `systemctl is-active UNIT` as printed ("active", "inactive", "failed", ...).
pub fn is_active(unit: &str) -> String {
    run("systemctl", &["is-active", unit]).1
}

/// `ActiveEnterTimestamp` in epoch microseconds, as the manager's D-Bus property holds it.
pub fn active_enter_timestamp_us(unit: &str) -> u64 {
    let path = format!("/org/freedesktop/systemd1/unit/{}", bus_label(unit));
    let out = run_ok(
        "busctl",
        &[
            "get-property",
            "org.freedesktop.systemd1",
            &path,
            "org.freedesktop.systemd1.Unit",
            "ActiveEnterTimestamp",
        ],
    );
    // "t 1732526400123456"
    out.strip_prefix("t ")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unexpected busctl output: {out}"))
}

/// systemd's object-path escaping of a unit name (`-` -> `_2d`, `.` -> `_2e`).
fn bus_label(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("_{b:02x}")
            }
        })
        .collect()
}

/// Start the unit if needed and wait until it is active/running with a main process;
/// returns that MainPID.
pub fn ensure_running(unit: &str) -> u32 {
    if is_active(unit) != "active" {
        let _ = run("systemctl", &["reset-failed", unit]);
        run_ok("systemctl", &["start", unit]);
    }
    wait_running(unit)
}

/// Wait until the unit is active/running with a MainPID; return it.
pub fn wait_running(unit: &str) -> u32 {
    wait_for(
        &format!("{unit} to be active/running"),
        Duration::from_secs(30),
        || {
            let state = (show(unit, "ActiveState"), show(unit, "SubState"));
            let pid = main_pid(unit);
            (state.0 == "active" && state.1 == "running" && pid != 0).then_some(pid)
        },
    )
}

/// Leaves the unit running when the test ends, whatever happened in it.
#[derive(Debug)]
pub struct KeepRunning(pub &'static str);

impl Drop for KeepRunning {
    fn drop(&mut self) {
        if is_active(self.0) != "active" {
            let _ = run("systemctl", &["reset-failed", self.0]);
            let _ = run("systemctl", &["start", self.0]);
        }
    }
}

/// Numeric uid of a user name.
pub fn uid_of(user: &str) -> u32 {
    run_ok("id", &["-u", user])
        .parse()
        .expect("id -u prints a number")
}

/// `du -sb PATH`: apparent bytes, hard links counted once.
pub fn du_sb(path: &Path) -> u64 {
    let out = run_ok("du", &["-sb", &path.to_string_lossy()]);
    out.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected du output: {out}"))
}

/// `find PATH -type f | wc -l`: regular-file entries.
pub fn find_files(path: &Path) -> u64 {
    let out = run_ok("find", &[&path.to_string_lossy(), "-type", "f"]);
    out.lines().filter(|l| !l.is_empty()).count() as u64
}

/// Changes a path's permission bits for the test and puts them back when dropped.
#[derive(Debug)]
pub struct ModeGuard {
    path: PathBuf,
    mode: u32,
}

impl ModeGuard {
    /// Set `path`'s permission bits to `mode` until the guard is dropped.
    pub fn set(path: &Path, mode: u32) -> Self {
        let old = std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o7777;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        Self {
            path: path.to_path_buf(),
            mode: old,
        }
    }
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(self.mode));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bus_labels_escape_like_systemd() {
        assert_eq!(
            super::bus_label("twoine-demo-web.service"),
            "twoine_2ddemo_2dweb_2eservice"
        );
    }
}
