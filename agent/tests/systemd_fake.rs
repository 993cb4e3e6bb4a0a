//! The systemd collector against an in-process fake of `org.freedesktop.systemd1`
//! (peer-to-peer over a socket pair), and over a private `dbus-daemon` when one is installed.
//! Real systemd is exercised in the VM tier (TESTBED.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fake_systemd.rs"]
mod fake_systemd;

use std::collections::BTreeSet;
use std::time::Duration;

use fake_systemd::{FakeSystemd, JobMode, RUNNING_CPU_NSEC, RUNNING_MEMORY, TestBus, UnitSpec};
use futures_util::StreamExt;
use twoine_agent::collect::systemd::{
    NOT_LOADED, Systemd, SystemdError, TIMEOUT_WAITING, UnitAction, UnitDetails, UnitEvent,
    UnitEventStream, UnitName,
};
use twoine_agent::config::SystemdConfig;

const WEB: &str = "twoine-demo-web.service";
const WORKER: &str = "twoine-demo-worker.service";
const API: &str = "twoine-api.service";
/// How fast a crash must be reported.
const PROMPT: Duration = Duration::from_secs(1);

fn config() -> SystemdConfig {
    SystemdConfig {
        bus_address: None,
        job_timeout_secs: 5,
    }
}

fn unit(name: &str) -> UnitName {
    UnitName::parse(name).unwrap()
}

async fn start(units: Vec<UnitSpec>) -> (FakeSystemd, Systemd) {
    let (fake, client) = FakeSystemd::p2p(units).await.unwrap();
    (fake, Systemd::with_connection(client, &config()))
}

fn site() -> Vec<UnitSpec> {
    vec![
        UnitSpec::running(WEB).user("site_demo").restarts(2),
        UnitSpec::stopped(WORKER).user("site_demo"),
        UnitSpec::running(API),
        UnitSpec::running("sshd.service"),
    ]
}

async fn details(systemd: &Systemd, name: &str) -> UnitDetails {
    let mut all = systemd.details(&[unit(name)]).await;
    assert_eq!(all.len(), 1);
    all.remove(0).details.unwrap()
}

/// The next event, which must come within [`PROMPT`].
async fn next_event(events: &mut UnitEventStream) -> UnitEvent {
    tokio::time::timeout(PROMPT, events.next())
        .await
        .expect("no event within a second")
        .expect("the stream ended")
        .unwrap()
}

/// Nothing more arrives for a while.
async fn assert_quiet(events: &mut UnitEventStream) {
    let more = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
    assert!(more.is_err(), "unexpected item {more:?}");
}

#[tokio::test]
async fn list_merges_loaded_units_with_stopped_installed_ones() {
    let (fake, systemd) = start(site()).await;
    let units = systemd.list_units().await.unwrap();
    let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, [API, WEB, WORKER], "sorted, twoine-* only");

    let web = &units[1];
    assert_eq!(
        (
            web.load_state.as_str(),
            web.active_state.as_str(),
            web.sub_state.as_str()
        ),
        ("loaded", "active", "running")
    );
    assert_eq!(web.unit_file_state.as_deref(), Some("enabled"));
    assert_eq!(web.description, "Twoine unit twoine-demo-web.service");

    // Stopped, hence garbage-collected by systemd: known only from its unit file.
    let worker = &units[2];
    assert_eq!(
        (
            worker.load_state.as_str(),
            worker.active_state.as_str(),
            worker.sub_state.as_str()
        ),
        (NOT_LOADED, "inactive", "dead")
    );
    assert_eq!(worker.unit_file_state.as_deref(), Some("disabled"));

    assert_eq!(fake.count("ListUnitsByPatterns twoine-*"), 1);
    assert_eq!(fake.count("ListUnitFilesByPatterns twoine-*"), 1);
}

#[tokio::test]
async fn details_report_unavailable_accounting_as_absent() {
    let (fake, systemd) = start(vec![
        UnitSpec::running(WEB).user("site_demo").restarts(2),
        UnitSpec::running("twoine-demo-api.service").without_accounting(),
        UnitSpec::stopped(WORKER),
    ])
    .await;
    let web = details(&systemd, WEB).await;
    assert_eq!(web.load_state, "loaded");
    assert_eq!(
        (web.active_state.as_str(), web.sub_state.as_str()),
        ("active", "running")
    );
    assert_eq!(web.memory_current_bytes, Some(RUNNING_MEMORY));
    assert_eq!(web.cpu_usage_nsec, Some(RUNNING_CPU_NSEC));
    assert!(web.main_pid.is_some_and(|p| p > 1), "{:?}", web.main_pid);
    assert_eq!(web.n_restarts, Some(2));
    assert_eq!(web.user, "site_demo");
    assert_eq!(web.result, "success");
    assert!(
        web.active_enter_timestamp_us
            .is_some_and(|t| t > 1_600_000_000_000_000)
    );

    // Accounting off: systemd says u64::MAX, we say nothing.
    let api = details(&systemd, "twoine-demo-api").await;
    assert_eq!(api.memory_current_bytes, None);
    assert_eq!(api.cpu_usage_nsec, None);
    assert!(api.main_pid.is_some());

    // Stopped and unloaded: LoadUnit (GetUnit would fail) gives its state.
    let worker = details(&systemd, WORKER).await;
    assert_eq!(
        (worker.active_state.as_str(), worker.sub_state.as_str()),
        ("inactive", "dead")
    );
    assert_eq!(worker.main_pid, None);
    assert_eq!(worker.memory_current_bytes, None);
    assert_eq!(worker.cpu_usage_nsec, None);
    assert_eq!(worker.active_enter_timestamp_us, None);
    assert_eq!(fake.count("GetUnit"), 0);
    assert_eq!(fake.count(&format!("LoadUnit {WORKER}")), 1);
}

#[tokio::test]
async fn an_unknown_unit_fails_alone() {
    let (_fake, systemd) = start(site()).await;
    let names = [unit(WEB), unit("twoine-ghost-web"), unit(WORKER)];
    let all = systemd.details(&names).await;
    let got: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        got,
        [WEB, "twoine-ghost-web.service", WORKER],
        "request order"
    );
    assert_eq!(all[0].details.as_ref().unwrap().active_state, "active");
    assert!(
        matches!(&all[1].details, Err(SystemdError::NoSuchUnit(n)) if n.contains("twoine-ghost-web")),
        "{:?}",
        all[1].details
    );
    assert_eq!(all[2].details.as_ref().unwrap().active_state, "inactive");
}

#[tokio::test]
async fn start_stop_restart_report_the_job_and_the_new_state() {
    let (fake, systemd) = start(site()).await;

    let started = systemd.act(&unit(WORKER), UnitAction::Start).await.unwrap();
    assert_eq!(started.job_result, "done");
    let worker = started.unit.details.unwrap();
    assert_eq!(
        (worker.active_state.as_str(), worker.sub_state.as_str()),
        ("active", "running")
    );
    assert!(worker.main_pid.is_some());
    assert_eq!(fake.count(&format!("StartUnit {WORKER} replace")), 1);

    let stopped = systemd.act(&unit(WORKER), UnitAction::Stop).await.unwrap();
    assert_eq!(stopped.job_result, "done");
    let worker = stopped.unit.details.unwrap();
    assert_eq!(
        (worker.active_state.as_str(), worker.sub_state.as_str()),
        ("inactive", "dead")
    );
    assert_eq!(worker.main_pid, None);
    assert_eq!(worker.memory_current_bytes, None);

    // A manual restart: new process, restart counter back to 0.
    let before = details(&systemd, WEB).await;
    assert_eq!(before.n_restarts, Some(2));
    let restarted = systemd.act(&unit(WEB), UnitAction::Restart).await.unwrap();
    assert_eq!(restarted.job_result, "done");
    let web = restarted.unit.details.unwrap();
    assert_eq!(
        (web.active_state.as_str(), web.sub_state.as_str()),
        ("active", "running")
    );
    assert_eq!(web.n_restarts, Some(0));
    assert_ne!(web.main_pid, before.main_pid);
    assert_eq!(fake.count(&format!("RestartUnit {WEB} replace")), 1);
}

#[tokio::test]
async fn jobs_that_end_after_the_reply_are_awaited() {
    let (fake, systemd) = start(site()).await;
    fake.set_job_mode(JobMode::After(Duration::from_millis(150)));
    let started = systemd.act(&unit(WORKER), UnitAction::Start).await.unwrap();
    assert_eq!(started.job_result, "done");
    assert_eq!(started.unit.details.unwrap().active_state, "active");
}

#[tokio::test]
async fn a_failing_start_reports_failed() {
    let (_fake, systemd) = start(vec![UnitSpec::stopped(WORKER).failing_start()]).await;
    let outcome = systemd.act(&unit(WORKER), UnitAction::Start).await.unwrap();
    assert_eq!(outcome.job_result, "failed");
    let worker = outcome.unit.details.unwrap();
    assert_eq!(
        (worker.active_state.as_str(), worker.sub_state.as_str()),
        ("failed", "failed")
    );
    assert_eq!(worker.result, "exit-code");
}

#[tokio::test]
async fn a_job_that_never_ends_gives_up_at_the_timeout() {
    let (fake, client) = FakeSystemd::p2p(site()).await.unwrap();
    let systemd = Systemd::with_connection(
        client,
        &SystemdConfig {
            job_timeout_secs: 1,
            ..config()
        },
    );
    fake.set_job_mode(JobMode::Never);
    let began = tokio::time::Instant::now();
    let outcome = systemd.act(&unit(WORKER), UnitAction::Start).await.unwrap();
    assert_eq!(outcome.job_result, TIMEOUT_WAITING);
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    let worker = outcome.unit.details.unwrap();
    assert_eq!(
        (worker.active_state.as_str(), worker.sub_state.as_str()),
        ("activating", "start")
    );
}

#[tokio::test]
async fn refused_and_unknown_actions_are_errors() {
    let (fake, systemd) = start(site()).await;
    let missing = systemd
        .act(&unit("twoine-ghost-web"), UnitAction::Start)
        .await;
    assert!(
        matches!(missing, Err(SystemdError::NoSuchUnit(_))),
        "{missing:?}"
    );
    fake.deny_actions(true);
    let denied = systemd.act(&unit(WEB), UnitAction::Stop).await;
    assert!(matches!(denied, Err(SystemdError::Denied(_))), "{denied:?}");
    assert_eq!(fake.state(WEB).unwrap().0, "active", "nothing was stopped");
}

#[tokio::test]
async fn watch_reports_a_crash_within_a_second() {
    let (fake, systemd) = start(site()).await;
    let mut events = systemd.watch(vec![unit(WEB)]).await.unwrap();
    let first = next_event(&mut events).await;
    assert!(first.initial);
    assert_eq!(first.name.as_str(), WEB);
    assert_eq!(
        (first.active_state.as_str(), first.sub_state.as_str()),
        ("active", "running")
    );
    assert!(first.main_pid.is_some());
    assert_quiet(&mut events).await;

    fake.kill(WEB, false).await.unwrap();
    let crash = next_event(&mut events).await;
    assert!(!crash.initial);
    assert_eq!(
        (crash.active_state.as_str(), crash.sub_state.as_str()),
        ("failed", "failed")
    );
    assert_eq!(crash.result, "signal");
    assert_eq!(crash.main_pid, None);

    // The same state signalled again is not a change.
    fake.repeat_state(WEB).await.unwrap();
    assert_quiet(&mut events).await;
}

#[tokio::test]
async fn watch_follows_an_automatic_restart() {
    let (fake, systemd) = start(site()).await;
    let mut events = systemd.watch(vec![unit(WEB)]).await.unwrap();
    assert!(next_event(&mut events).await.initial);
    fake.kill(WEB, true).await.unwrap();
    let states: Vec<(String, String, String)> = [
        next_event(&mut events).await,
        next_event(&mut events).await,
        next_event(&mut events).await,
    ]
    .into_iter()
    .map(|e| (e.active_state, e.sub_state, e.result))
    .collect();
    let expect = |a: &str, s: &str| (a.to_string(), s.to_string(), "signal".to_string());
    assert_eq!(
        states,
        [
            expect("activating", "auto-restart"),
            expect("activating", "start"),
            expect("active", "running")
        ]
    );
    // A crash-restart counts.
    assert_eq!(details(&systemd, WEB).await.n_restarts, Some(3));
}

#[tokio::test]
async fn watch_reads_states_that_were_only_invalidated() {
    let (fake, systemd) = start(site()).await;
    fake.invalidate_only(true);
    let mut events = systemd.watch(vec![unit(WEB)]).await.unwrap();
    assert!(next_event(&mut events).await.initial);
    fake.kill(WEB, false).await.unwrap();
    let crash = next_event(&mut events).await;
    assert_eq!(
        (crash.active_state.as_str(), crash.sub_state.as_str()),
        ("failed", "failed")
    );
}

#[tokio::test]
async fn watching_everything_covers_site_units_only() {
    let (fake, systemd) = start(site()).await;
    let mut events = systemd.watch(vec![]).await.unwrap();
    let initial: BTreeSet<String> = [next_event(&mut events).await, next_event(&mut events).await]
        .into_iter()
        .inspect(|e| assert!(e.initial))
        .map(|e| e.name.as_str().to_string())
        .collect();
    assert_eq!(
        initial,
        BTreeSet::from([WEB.to_string(), WORKER.to_string()])
    );
    assert_quiet(&mut events).await;

    // The platform's own unit and foreign units change: not reported.
    fake.kill(API, false).await.unwrap();
    fake.set_state("sshd.service", "failed", "failed")
        .await
        .unwrap();
    fake.kill(WEB, false).await.unwrap();
    let next = next_event(&mut events).await;
    assert_eq!(next.name.as_str(), WEB);
    assert_eq!(next.active_state, "failed");
    assert_quiet(&mut events).await;

    // A site unit started after the watch opened is reported too.
    systemd.act(&unit(WORKER), UnitAction::Start).await.unwrap();
    let mut worker = vec![];
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(Duration::from_millis(300), events.next()).await
    {
        worker.push((e.name.as_str().to_string(), e.active_state));
    }
    assert_eq!(
        worker.last(),
        Some(&(WORKER.to_string(), "active".to_string())),
        "{worker:?}"
    );
}

#[tokio::test]
async fn watch_ends_when_systemd_goes_away() {
    let (fake, systemd) = start(site()).await;
    let mut events = systemd.watch(vec![unit(WEB)]).await.unwrap();
    assert!(next_event(&mut events).await.initial);
    fake.disconnect().await.unwrap();
    let item = tokio::time::timeout(PROMPT, events.next()).await.unwrap();
    assert!(
        matches!(item, Some(Err(SystemdError::Unavailable(_)))),
        "{item:?}"
    );
    let end = tokio::time::timeout(PROMPT, events.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn a_closed_connection_is_reported_as_unavailable() {
    let (fake, systemd) = start(site()).await;
    assert_eq!(systemd.list_units().await.unwrap().len(), 3);
    fake.disconnect().await.unwrap();
    let listed = tokio::time::timeout(PROMPT, systemd.list_units())
        .await
        .unwrap();
    assert!(
        matches!(listed, Err(SystemdError::Unavailable(_))),
        "{listed:?}"
    );
    let all = systemd.details(&[unit(WEB), unit(WORKER)]).await;
    assert_eq!(all.len(), 2);
    for r in &all {
        assert!(
            matches!(r.details, Err(SystemdError::Unavailable(_))),
            "{r:?}"
        );
    }
    let acted = systemd.act(&unit(WEB), UnitAction::Restart).await;
    assert!(
        matches!(acted, Err(SystemdError::Unavailable(_))),
        "{acted:?}"
    );
    let watched = systemd.watch(vec![]).await;
    assert!(matches!(watched, Err(SystemdError::Unavailable(_))));
}

#[tokio::test]
async fn no_bus_is_unavailable_not_a_failure_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let systemd = Systemd::new(&SystemdConfig {
        bus_address: Some(format!("unix:path={}", dir.path().join("none").display())),
        ..config()
    });
    let listed = systemd.list_units().await;
    assert!(
        matches!(listed, Err(SystemdError::Unavailable(_))),
        "{listed:?}"
    );
    let bad = Systemd::new(&SystemdConfig {
        bus_address: Some("not an address".into()),
        ..config()
    });
    assert!(matches!(
        bad.list_units().await,
        Err(SystemdError::Unavailable(_))
    ));
}

/// `bus_address = None` is the system bus: here (no system bus) that is Unavailable; on a
/// machine with systemd (the VM tier) it lists the real units.
#[tokio::test]
async fn the_system_bus_is_the_default() {
    let systemd = Systemd::new(&config());
    let has_system_bus = std::env::var_os("DBUS_SYSTEM_BUS_ADDRESS").is_some()
        || std::path::Path::new("/run/dbus/system_bus_socket").exists();
    let listed = systemd.list_units().await;
    if has_system_bus {
        let units = listed.unwrap();
        assert!(
            units.iter().all(|u| u.name.starts_with("twoine-")),
            "{units:?}"
        );
    } else {
        assert!(
            matches!(listed, Err(SystemdError::Unavailable(_))),
            "{listed:?}"
        );
    }
}

/// A real bus: names, match rules and sender checks go through dbus-daemon; the collector
/// reconnects after the bus restarts.
#[tokio::test]
async fn over_a_real_bus_with_reconnection() {
    let dir = tempfile::tempdir().unwrap();
    let mut bus = TestBus::start(dir.path())
        .await
        .expect("dbus-daemon is needed: scripts/install-deps.sh test installs it");
    let systemd = Systemd::new(&SystemdConfig {
        bus_address: Some(bus.address.clone()),
        ..config()
    });
    // The bus is up but systemd is not on it.
    let listed = systemd.list_units().await;
    assert!(
        matches!(listed, Err(SystemdError::Unavailable(_))),
        "{listed:?}"
    );

    let fake = FakeSystemd::on_bus(&bus.address, site()).await.unwrap();
    assert_eq!(systemd.list_units().await.unwrap().len(), 3);
    let mut events = systemd.watch(vec![unit(WEB)]).await.unwrap();
    assert!(next_event(&mut events).await.initial);

    // Anyone on the bus can send a signal that looks like systemd's, broadcast or addressed
    // to us: it must be ignored.
    let intruder = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let dbus = zbus::fdo::DBusProxy::new(&intruder).await.unwrap();
    let me = intruder.unique_name().unwrap().to_string();
    let mut targets: Vec<Option<String>> = vec![None];
    for name in dbus.list_names().await.unwrap() {
        if name.starts_with(':') && name.as_str() != me {
            targets.push(Some(name.to_string()));
        }
    }
    assert!(targets.len() >= 3, "{targets:?}");
    for target in targets {
        let changed = std::collections::HashMap::from([
            ("ActiveState", zbus::zvariant::Value::from("failed")),
            ("SubState", zbus::zvariant::Value::from("failed")),
        ]);
        let invalidated: &[&str] = &[];
        intruder
            .emit_signal(
                target.as_deref(),
                fake_systemd::unit_path(WEB).as_str(),
                "org.freedesktop.DBus.Properties",
                "PropertiesChanged",
                &("org.freedesktop.systemd1.Unit", changed, invalidated),
            )
            .await
            .unwrap();
    }
    assert_quiet(&mut events).await;

    let restarted = systemd.act(&unit(WEB), UnitAction::Restart).await.unwrap();
    assert_eq!(restarted.job_result, "done");
    let seen: Vec<String> = [
        next_event(&mut events).await,
        next_event(&mut events).await,
        next_event(&mut events).await,
    ]
    .into_iter()
    .map(|e| format!("{}/{}", e.active_state, e.sub_state))
    .collect();
    assert_eq!(
        seen,
        [
            "deactivating/stop-sigterm",
            "activating/start",
            "active/running"
        ]
    );

    // The bus dies: the watch ends, calls fail cleanly.
    bus.stop();
    let item = tokio::time::timeout(PROMPT, events.next()).await.unwrap();
    assert!(
        matches!(item, Some(Err(SystemdError::Unavailable(_)))),
        "{item:?}"
    );
    let listed = systemd.list_units().await;
    assert!(
        matches!(listed, Err(SystemdError::Unavailable(_))),
        "{listed:?}"
    );
    drop(fake);

    // It comes back: the same handle reconnects on its own.
    let bus = TestBus::start(dir.path()).await.unwrap();
    let _fake = FakeSystemd::on_bus(&bus.address, site()).await.unwrap();
    let units = systemd.list_units().await.unwrap();
    assert_eq!(units.len(), 3);
    assert_eq!(details(&systemd, WEB).await.active_state, "active");
}
