//! `ctl watch`: the stream of state changes, against real crashes.

use super::*;

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn watch_reports_a_crash_within_two_seconds_then_the_restart() {
    let _keep = KeepRunning(WEB_UNIT);
    let pid0 = host::ensure_running(WEB_UNIT);
    let restarts0 = n_restarts(WEB_UNIT);
    let mut watch = ctl().spawn_watch(&[WEB, "--count", "100", "--timeout", "40"]);

    let (_, first) = watch
        .next(Duration::from_secs(15))
        .expect("the watch opens with the current state");
    assert_eq!(str_field(&first, "name"), WEB_UNIT);
    assert_eq!(field(&first, "initial"), &Value::Bool(true), "{first}");
    assert_eq!(states(&first), ("active", "running"));
    assert_eq!(opt_u64_field(&first, "main_pid"), Some(u64::from(pid0)));

    let killed_at = Instant::now();
    host::run_ok("kill", &["-9", &pid0.to_string()]);

    let mut seen = Vec::new();
    let mut down_after = None;
    let mut back = None;
    while killed_at.elapsed() < Duration::from_secs(25) && back.is_none() {
        let Some((at, event)) = watch.next(Duration::from_millis(500)) else {
            continue;
        };
        assert_eq!(str_field(&event, "name"), WEB_UNIT, "{event}");
        assert_eq!(field(&event, "initial"), &Value::Bool(false), "{event}");
        let (active, sub) = states(&event);
        if active != "active" && down_after.is_none() {
            down_after = Some(at.duration_since(killed_at));
        }
        let pid = opt_u64_field(&event, "main_pid");
        if down_after.is_some() && (active, sub) == ("active", "running") && pid.is_some() {
            assert_ne!(pid, Some(u64::from(pid0)), "{event}");
            back = pid;
        }
        seen.push(event);
    }
    let stderr = watch.finish();
    let down_after =
        down_after.unwrap_or_else(|| panic!("no non-active state seen; events {seen:?}; {stderr}"));
    assert!(
        down_after <= Duration::from_secs(2),
        "the crash was reported {down_after:?} after the kill; events {seen:?}"
    );
    let back = back.unwrap_or_else(|| panic!("the restart was not reported; events {seen:?}"));
    assert_eq!(back, u64::from(host::wait_running(WEB_UNIT)));

    let v = ctl().json(&["unit", WEB]);
    assert_eq!(
        opt_u64_field(single_unit(&v), "n_restarts"),
        Some(restarts0 + 1)
    );
    assert_eq!(n_restarts(WEB_UNIT), restarts0 + 1);
    assert_eq!(
        str_field(single_unit(&v), "result"),
        host::show(WEB_UNIT, "Result")
    );
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn watch_client_ends_after_count_or_timeout() {
    host::ensure_running(WEB_UNIT);
    let out = ctl().run(&["watch", WEB, "--count", "1", "--timeout", "30"]);
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "--count 1 printed {lines:?}");
    let event: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(str_field(&event, "name"), WEB_UNIT);

    // Every site unit, and nothing else: twoine-api is a platform unit.
    let started = Instant::now();
    let out = ctl().run(&["watch", "--timeout", "3"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "--timeout ignored"
    );
    let names: Vec<String> = out
        .stdout
        .lines()
        .map(|l| str_field(&serde_json::from_str(l).unwrap(), "name").to_string())
        .collect();
    assert!(names.iter().any(|n| n == WEB_UNIT), "{names:?}");
    assert!(!names.iter().any(|n| n == API_UNIT), "{names:?}");
}
