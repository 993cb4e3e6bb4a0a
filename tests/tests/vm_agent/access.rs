//! Who may call the agent: peer credentials against the allow-lists.

use super::*;

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn callers_outside_the_allow_list_are_refused() {
    let _keep = KeepRunning(WEB_UNIT);
    let pid = host::ensure_running(WEB_UNIT);
    let ctl = ctl();
    // Let `nobody` (not in group twoine) reach the socket at all, so the agent itself decides.
    let socket = ctl.socket().to_path_buf();
    let _dir = ModeGuard::set(socket.parent().unwrap(), 0o751);
    let _sock = ModeGuard::set(&socket, 0o666);
    let nobody = ctl.as_user("nobody", "nogroup", false);
    for args in [&["snapshot"][..], &["units"], &["stop", WEB]] {
        let err = nobody.error(args);
        assert!(
            err.starts_with("error: permission denied"),
            "nobody: `ctl {}` gave: {err}",
            args.join(" ")
        );
    }
    assert_eq!(host::main_pid(WEB_UNIT), pid, "nobody stopped the unit");
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn read_only_callers_may_read_but_not_act() {
    let _keep = KeepRunning(WEB_UNIT);
    let pid = host::ensure_running(WEB_UNIT);
    // In read_users only; reaches the socket through its supplementary group twoine.
    let viewer = ctl().as_user("twoine-viewer", "twoine-viewer", true);
    let v = viewer.json(&["unit", WEB]);
    assert_eq!(
        opt_u64_field(single_unit(&v), "main_pid"),
        Some(u64::from(pid))
    );
    for action in ["stop", "restart", "start"] {
        let err = viewer.error(&[action, WEB]);
        assert!(
            err.starts_with("error: permission denied"),
            "viewer: `ctl {action}` gave: {err}"
        );
    }
    assert_eq!(
        host::main_pid(WEB_UNIT),
        pid,
        "the viewer acted on the unit"
    );

    // The twoine user (primary group twoine, in control_groups) may act: starting a running
    // unit is a no-op job.
    let twoine = ctl().as_user("twoine", "twoine", false);
    let v = twoine.json(&["start", WEB]);
    assert_eq!(str_field(&v, "job_result"), "done", "{v}");
    assert_eq!(
        host::main_pid(WEB_UNIT),
        pid,
        "start restarted a running unit"
    );
}
