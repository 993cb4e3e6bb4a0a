//! Listing, details and actions on the site unit; platform units refused.

use super::*;

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn units_lists_the_running_site_unit_and_only_twoine_units() {
    host::ensure_running(WEB_UNIT);
    let v = ctl().json(&["units"]);
    let units = array_field(&v, "units");
    let web = units
        .iter()
        .find(|u| str_field(u, "name") == WEB_UNIT)
        .unwrap_or_else(|| panic!("{WEB_UNIT} not listed: {v}"));
    assert_eq!(str_field(web, "load_state"), "loaded");
    assert_eq!(states(web), ("active", "running"));
    assert_eq!(str_field(web, "description"), "Twoine site demo: web");
    for u in units {
        let name = str_field(u, "name");
        assert!(name.starts_with("twoine-"), "not a twoine unit: {name}");
        if name == API_UNIT {
            assert_eq!(states(u), ("active", "running"));
        }
    }
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn unit_details_match_systemctl() {
    let pid = host::ensure_running(WEB_UNIT);
    let cpu_before = host::show_u64(WEB_UNIT, "CPUUsageNSec").expect("CPU accounting");
    let mem_before = host::show_u64(WEB_UNIT, "MemoryCurrent").expect("memory accounting");
    let v = ctl().json(&["unit", WEB]);
    let cpu_after = host::show_u64(WEB_UNIT, "CPUUsageNSec").expect("CPU accounting");
    let mem_after = host::show_u64(WEB_UNIT, "MemoryCurrent").expect("memory accounting");

    let u = single_unit(&v);
    assert_eq!(str_field(u, "name"), WEB_UNIT, "canonical name: {u}");
    assert_eq!(str_field(u, "error"), "");
    assert_eq!(str_field(u, "load_state"), "loaded");
    assert_eq!(states(u), ("active", "running"));
    assert_eq!(str_field(u, "result"), "success");
    assert_eq!(str_field(u, "user"), SITE_USER);
    assert_eq!(str_field(u, "description"), "Twoine site demo: web");
    assert_eq!(opt_u64_field(u, "main_pid"), Some(u64::from(pid)));
    assert_eq!(
        host::main_pid(WEB_UNIT),
        pid,
        "the unit restarted during the test"
    );
    assert_eq!(
        opt_u64_field(u, "active_enter_timestamp_us"),
        Some(host::active_enter_timestamp_us(WEB_UNIT))
    );
    assert_eq!(opt_u64_field(u, "n_restarts"), Some(n_restarts(WEB_UNIT)));
    // CPU time only grows: the agent's reading lies between two readings of systemctl.
    let cpu = opt_u64_field(u, "cpu_usage_nsec").expect("cpu_usage_nsec present");
    assert!(
        (cpu_before..=cpu_after).contains(&cpu) && cpu > 0,
        "cpu_usage_nsec {cpu} not within systemctl's {cpu_before}..={cpu_after}"
    );
    // Memory moves a little both ways; the service holds ~8 MB.
    let mem = opt_u64_field(u, "memory_current_bytes").expect("memory_current_bytes present");
    let (lo, hi) = (mem_before.min(mem_after), mem_before.max(mem_after));
    assert!(
        mem > 8_000_000 && mem >= lo - lo / 10 && mem <= hi + hi / 10,
        "memory_current_bytes {mem} vs systemctl's {mem_before} / {mem_after}"
    );

    // The ".service" suffix is optional; the answer is the same unit.
    let again = ctl().json(&["unit", WEB_UNIT]);
    assert_eq!(str_field(single_unit(&again), "name"), WEB_UNIT);
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn unit_that_systemd_does_not_know_is_reported_not_failed() {
    let v = ctl().json(&["unit", "twoine-demo-nothere"]);
    let u = single_unit(&v);
    assert_eq!(str_field(u, "name"), "twoine-demo-nothere.service");
    assert!(
        !str_field(u, "error").is_empty() || str_field(u, "load_state") == "not-found",
        "an unknown unit must say so: {u}"
    );
    assert_ne!(str_field(u, "active_state"), "active");
    assert_eq!(opt_u64_field(u, "main_pid"), None);
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn platform_and_foreign_units_are_refused() {
    let _keep = KeepRunning(WEB_UNIT);
    let api_pid = host::main_pid(API_UNIT);
    assert_eq!(host::is_active(API_UNIT), "active");
    let web_pid = host::ensure_running(WEB_UNIT);
    let refused: &[&[&str]] = &[
        &["unit", "twoine-api"],
        &["unit", API_UNIT],
        &["stop", "twoine-api"],
        &["restart", API_UNIT],
        &["start", "twoine-api"],
        &["stop", "twoine-agent"],
        &["stop", "dbus.service"],
        &["stop", "twoine-demo-web.socket"],
        &["stop", "twoine-demo-web/../../dbus"],
        &["restart", "Twoine-Demo-Web"],
    ];
    for args in refused {
        let err = ctl().error(args);
        assert!(
            err.starts_with("error: invalid argument"),
            "`ctl {}` should be refused as invalid argument, got: {err}",
            args.join(" ")
        );
    }
    assert_eq!(host::is_active(API_UNIT), "active");
    assert_eq!(host::main_pid(API_UNIT), api_pid, "twoine-api was touched");
    assert_eq!(
        host::main_pid(WEB_UNIT),
        web_pid,
        "the site unit was touched"
    );
    assert_eq!(host::is_active("twoine-agent.service"), "active");
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn stop_start_and_restart_act_on_the_real_unit() {
    let _keep = KeepRunning(WEB_UNIT);
    let pid0 = host::ensure_running(WEB_UNIT);

    let v = ctl().json(&["stop", WEB]);
    assert_eq!(str_field(&v, "job_result"), "done", "{v}");
    let unit = field(&v, "unit");
    assert_eq!(str_field(unit, "name"), WEB_UNIT);
    assert_eq!(states(unit), ("inactive", "dead"));
    assert_eq!(
        opt_u64_field(unit, "main_pid"),
        None,
        "no process, no pid: {unit}"
    );
    assert_eq!(host::is_active(WEB_UNIT), "inactive");
    // A stopped site unit is still one the panel must show (installed, not loaded-and-active).
    let listed = ctl().json(&["units"]);
    let stopped = array_field(&listed, "units")
        .iter()
        .find(|u| str_field(u, "name") == WEB_UNIT)
        .unwrap_or_else(|| panic!("stopped {WEB_UNIT} missing from `units`: {listed}"));
    assert_eq!(str_field(stopped, "active_state"), "inactive");

    let v = ctl().json(&["start", WEB]);
    assert_eq!(str_field(&v, "job_result"), "done", "{v}");
    let unit = field(&v, "unit");
    assert_eq!(states(unit), ("active", "running"));
    let pid1 = opt_u64_field(unit, "main_pid").expect("a started unit has a MainPID");
    assert_ne!(pid1, u64::from(pid0));
    assert_eq!(pid1, u64::from(host::main_pid(WEB_UNIT)));
    assert_eq!(host::is_active(WEB_UNIT), "active");

    // Make NRestarts non-zero with a crash, so that its reset by a manual restart shows.
    let pid1 = u32::try_from(pid1).unwrap();
    let pid2 = crash_and_wait_restart(pid1);
    assert!(n_restarts(WEB_UNIT) >= 1);
    assert!(
        opt_u64_field(single_unit(&ctl().json(&["unit", WEB])), "n_restarts") >= Some(1),
        "the crash-restart is not counted"
    );

    let v = ctl().json(&["restart", WEB]);
    assert_eq!(str_field(&v, "job_result"), "done", "{v}");
    let unit = field(&v, "unit");
    assert_eq!(states(unit), ("active", "running"));
    let pid3 = opt_u64_field(unit, "main_pid").expect("a restarted unit has a MainPID");
    assert_ne!(pid3, u64::from(pid2), "restart kept the old process");
    assert_eq!(pid3, u64::from(host::main_pid(WEB_UNIT)));
    assert_eq!(
        opt_u64_field(unit, "n_restarts"),
        Some(0),
        "a manual restart resets it"
    );
    assert_eq!(n_restarts(WEB_UNIT), 0);
}
