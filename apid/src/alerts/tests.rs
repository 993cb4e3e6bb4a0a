//! Table-driven tests of the rules; time is a parameter, nothing sleeps.
#![allow(clippy::type_complexity)]

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::model::SiteResources;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn cfg() -> MonitoringConfig {
    MonitoringConfig::default()
}

fn server(cpu: f64, memory: f64, disk: f64) -> EvalInput {
    EvalInput {
        server: Some(ServerSample { cpu, memory, disk }),
        sites: vec![],
    }
}

fn id(n: u8) -> Id {
    Id::from_bytes([n; 12])
}

fn named(n: u8, name: &str) -> NamedRef {
    NamedRef {
        id: id(n),
        name: name.into(),
        display_name: name.to_uppercase(),
    }
}

fn known(
    kind: AlertType,
    severity: Severity,
    status: AlertStatus,
    age_s: i64,
    clear_s: Option<i64>,
) -> OpenAlert {
    OpenAlert {
        id: id(200),
        kind,
        severity,
        site: None,
        service: None,
        status,
        created_at: now() - Duration::seconds(age_s),
        clear_since: clear_s.map(|s| now() - Duration::seconds(s)),
    }
}

fn opens(events: &[AlertEvent]) -> Vec<(AlertType, Severity, Option<Id>, Option<Id>)> {
    events
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Open(n) | AlertEvent::Escalate { open: n, .. } => {
                Some((n.kind, n.severity, n.site, n.service))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn server_thresholds_value_at_or_above_critical_checked_first() {
    use AlertType::*;
    use Severity::*;
    let table: &[(f64, f64, f64, &[(AlertType, Severity)])] = &[
        (69.9, 74.9, 79.0, &[]),
        (70.0, 10.0, 10.0, &[(CpuHigh, Warning)]),
        (89.9, 10.0, 10.0, &[(CpuHigh, Warning)]),
        (90.0, 10.0, 10.0, &[(CpuHigh, Critical)]),
        (
            10.0,
            75.0,
            80.0,
            &[(MemoryHigh, Warning), (DiskHigh, Warning)],
        ),
        (
            10.0,
            90.0,
            95.0,
            &[(MemoryHigh, Critical), (DiskHigh, Critical)],
        ),
        (
            100.0,
            100.0,
            100.0,
            &[
                (CpuHigh, Critical),
                (MemoryHigh, Critical),
                (DiskHigh, Critical),
            ],
        ),
    ];
    for (cpu, mem, disk, want) in table {
        let got: Vec<(AlertType, Severity)> =
            opens(&evaluate(&server(*cpu, *mem, *disk), &[], &cfg(), now()))
                .into_iter()
                .map(|o| (o.0, o.1))
                .collect();
        assert_eq!(&got, want, "cpu {cpu} mem {mem} disk {disk}");
    }
}

#[test]
fn messages_are_short_french_with_value_and_threshold_in_data() {
    let ev = evaluate(&server(93.44, 80.0, 85.0), &[], &cfg(), now());
    let msgs: Vec<(String, serde_json::Value)> = ev
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Open(n) => Some((n.message.clone(), n.data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs,
        [
            (
                "CPU critique : 93.4 %".to_owned(),
                json!({"value": 93.4, "threshold": 90.0})
            ),
            (
                "Mémoire élevée : 80.0 %".to_owned(),
                json!({"value": 80.0, "threshold": 75.0})
            ),
            (
                "Disque élevé : 85.0 %".to_owned(),
                json!({"value": 85.0, "threshold": 80.0})
            ),
        ]
    );
}

#[test]
fn dedup_no_new_alert_while_one_is_open_or_within_five_minutes() {
    use AlertStatus::*;
    // (status of the existing critical cpu alert, its age in s, whether a new one opens)
    let table = [
        (Active, 3600, false),
        (Acknowledged, 3600, false),
        (Resolved, 299, false),
        (Resolved, 300, true),
        (Resolved, 3600, true),
    ];
    for (status, age, want) in table {
        let existing = known(AlertType::CpuHigh, Severity::Critical, status, age, None);
        let ev = evaluate(&server(95.0, 0.0, 0.0), &[existing], &cfg(), now());
        assert_eq!(!opens(&ev).is_empty(), want, "{status:?} age {age}");
        assert!(
            ev.iter().all(|e| !matches!(e, AlertEvent::Resolve { .. })),
            "{status:?}: firing alert never resolves"
        );
    }
    // A resolved warning does not block a critical one: the key includes the severity.
    let warning = known(
        AlertType::CpuHigh,
        Severity::Warning,
        AlertStatus::Resolved,
        10,
        None,
    );
    assert_eq!(
        opens(&evaluate(
            &server(95.0, 0.0, 0.0),
            &[warning],
            &cfg(),
            now()
        ))
        .len(),
        1
    );
}

#[test]
fn escalation_opens_critical_and_resolves_the_warning() {
    let warning = known(
        AlertType::CpuHigh,
        Severity::Warning,
        AlertStatus::Acknowledged,
        600,
        None,
    );
    let ev = evaluate(
        &server(91.0, 0.0, 0.0),
        std::slice::from_ref(&warning),
        &cfg(),
        now(),
    );
    assert_eq!(ev.len(), 1, "{ev:?}");
    match &ev[0] {
        AlertEvent::Escalate { resolve, open } => {
            assert_eq!(*resolve, warning.id);
            assert_eq!(
                (open.kind, open.severity),
                (AlertType::CpuHigh, Severity::Critical)
            );
        }
        other => panic!("expected escalation, got {other:?}"),
    }
    // Still a warning: nothing to do.
    assert!(evaluate(&server(75.0, 0.0, 0.0), &[warning], &cfg(), now()).is_empty());
}

#[test]
fn fall_from_critical_to_warning_opens_no_warning_while_critical_is_open() {
    let critical = known(
        AlertType::CpuHigh,
        Severity::Critical,
        AlertStatus::Active,
        600,
        None,
    );
    let ev = evaluate(
        &server(80.0, 0.0, 0.0),
        std::slice::from_ref(&critical),
        &cfg(),
        now(),
    );
    assert_eq!(
        ev,
        [AlertEvent::ClearSince {
            id: critical.id,
            since: Some(now())
        }]
    );
    // Once the critical one is resolved (by the clear period), a warning opens.
    let resolved = OpenAlert {
        status: AlertStatus::Resolved,
        ..critical
    };
    let ev = evaluate(&server(80.0, 0.0, 0.0), &[resolved], &cfg(), now());
    assert_eq!(
        opens(&ev),
        [(AlertType::CpuHigh, Severity::Warning, None, None)]
    );
}

#[test]
fn auto_resolve_after_the_condition_stays_clear_for_the_configured_time() {
    let id = id(200);
    // (clear since, seconds ago; value; expected events)
    let table: Vec<(Option<i64>, f64, Vec<AlertEvent>)> = vec![
        (
            None,
            10.0,
            vec![AlertEvent::ClearSince {
                id,
                since: Some(now()),
            }],
        ),
        (Some(299), 10.0, vec![]),
        (
            Some(300),
            10.0,
            vec![AlertEvent::Resolve {
                id,
                at: now(),
                by: ResolvedBy::SYSTEM,
            }],
        ),
        (
            Some(200),
            95.0,
            vec![AlertEvent::ClearSince { id, since: None }],
        ),
        (None, 95.0, vec![]),
    ];
    for (clear, value, want) in table {
        let open = known(
            AlertType::CpuHigh,
            Severity::Critical,
            AlertStatus::Active,
            3600,
            clear,
        );
        assert_eq!(
            evaluate(&server(value, 0.0, 0.0), &[open], &cfg(), now()),
            want,
            "clear {clear:?} value {value}"
        );
    }
    let mut quick = cfg();
    quick.auto_resolve_minutes = 0;
    let open = known(
        AlertType::CpuHigh,
        Severity::Critical,
        AlertStatus::Active,
        3600,
        None,
    );
    assert_eq!(
        evaluate(&server(10.0, 0.0, 0.0), &[open], &quick, now()),
        [AlertEvent::Resolve {
            id,
            at: now(),
            by: ResolvedBy::SYSTEM
        }]
    );
}

#[test]
fn acknowledged_alert_stays_acknowledged_until_resolved() {
    let ack = known(
        AlertType::MemoryHigh,
        Severity::Warning,
        AlertStatus::Acknowledged,
        3600,
        None,
    );
    assert!(
        evaluate(
            &server(0.0, 80.0, 0.0),
            std::slice::from_ref(&ack),
            &cfg(),
            now()
        )
        .is_empty()
    );
    let ack_clear = OpenAlert {
        clear_since: Some(now() - Duration::minutes(5)),
        ..ack
    };
    assert_eq!(
        evaluate(
            &server(0.0, 10.0, 0.0),
            std::slice::from_ref(&ack_clear),
            &cfg(),
            now()
        ),
        [AlertEvent::Resolve {
            id: ack_clear.id,
            at: now(),
            by: ResolvedBy::SYSTEM
        }]
    );
}

#[test]
fn missing_data_neither_opens_nor_resolves() {
    let stale = known(
        AlertType::CpuHigh,
        Severity::Critical,
        AlertStatus::Active,
        86_400,
        Some(86_000),
    );
    let lost = EvalInput {
        server: None,
        sites: vec![],
    };
    assert!(evaluate(&lost, &[stale], &cfg(), now()).is_empty());

    let mut site = site_input(SiteStatus::Active, &[(DesiredState::Running, None)]);
    site.usage = None;
    let mut open_site = known(
        AlertType::SiteDown,
        Severity::Critical,
        AlertStatus::Active,
        3600,
        Some(3000),
    );
    open_site.site = Some(site.site.id);
    let mut open_svc = known(
        AlertType::ServiceDown,
        Severity::Error,
        AlertStatus::Active,
        3600,
        Some(3000),
    );
    open_svc.site = Some(site.site.id);
    open_svc.service = Some(id(21));
    let input = EvalInput {
        server: None,
        sites: vec![site],
    };
    assert!(evaluate(&input, &[open_site, open_svc], &cfg(), now()).is_empty());
}

fn site_input(status: SiteStatus, services: &[(DesiredState, Option<&str>)]) -> SiteInput {
    SiteInput {
        site: named(10, "blog"),
        status,
        limits: SiteResources::default(),
        usage: Some(SiteUsage {
            cpu_percent: 1.0,
            memory_percent: 1.0,
            disk_percent: 1.0,
        }),
        services: services
            .iter()
            .enumerate()
            .map(|(i, (desired, unit))| ServiceInput {
                service: named(21 + i as u8, &format!("svc{i}")),
                desired: *desired,
                unit: unit.map(str::to_owned),
            })
            .collect(),
    }
}

#[test]
fn service_down_and_site_down() {
    use DesiredState::{Running, Stopped};
    let s = |n: u8| Some(id(n));
    let site = s(10);
    type Want = Vec<(AlertType, Severity, Option<Id>, Option<Id>)>;
    let table: Vec<(SiteStatus, Vec<(DesiredState, Option<&str>)>, Want)> = vec![
        (SiteStatus::Active, vec![(Running, Some("active"))], vec![]),
        (
            SiteStatus::Active,
            vec![(Running, Some("reloading"))],
            vec![],
        ),
        (
            SiteStatus::Active,
            vec![(Stopped, Some("inactive"))],
            vec![],
        ),
        (
            SiteStatus::Active,
            vec![(Running, Some("failed")), (Running, Some("active"))],
            vec![(AlertType::ServiceDown, Severity::Error, site, s(21))],
        ),
        (
            SiteStatus::Active,
            vec![(Running, Some("failed")), (Stopped, Some("inactive"))],
            vec![
                (AlertType::ServiceDown, Severity::Error, site, s(21)),
                (AlertType::SiteDown, Severity::Critical, site, None),
            ],
        ),
        // A stopped site is not "down"; its wanted-running service still is.
        (
            SiteStatus::Stopped,
            vec![(Running, Some("failed"))],
            vec![(AlertType::ServiceDown, Severity::Error, site, s(21))],
        ),
        (SiteStatus::Active, vec![], vec![]),
        (
            SiteStatus::Active,
            vec![(Stopped, Some("inactive")), (Stopped, Some("failed"))],
            vec![],
        ),
        // One unit unknown: the site's state is unknown.
        (
            SiteStatus::Active,
            vec![(Running, Some("failed")), (Running, None)],
            vec![(AlertType::ServiceDown, Severity::Error, site, s(21))],
        ),
    ];
    for (status, services, want) in table {
        let input = EvalInput {
            server: None,
            sites: vec![site_input(status, &services)],
        };
        assert_eq!(
            opens(&evaluate(&input, &[], &cfg(), now())),
            want,
            "{status:?} {services:?}"
        );
    }
    let input = EvalInput {
        server: None,
        sites: vec![site_input(SiteStatus::Active, &[(Running, Some("failed"))])],
    };
    let ev = evaluate(&input, &[], &cfg(), now());
    let AlertEvent::Open(svc) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(svc.message, "Service arrêté (BLOG / SVC0) : failed");
    assert_eq!(svc.data["value"], "failed");
}

#[test]
fn per_site_resources_against_the_site_limits() {
    let mut site = site_input(SiteStatus::Active, &[]);
    site.limits.max_cpu_percent = 200.0;
    let table = [
        // (cpu % of one core, memory % of limit, disk % of limit, expected)
        (139.0, 10.0, 10.0, vec![]),
        (
            150.0,
            10.0,
            10.0,
            vec![(AlertType::CpuHigh, Severity::Warning)],
        ),
        (
            180.0,
            75.0,
            95.0,
            vec![
                (AlertType::CpuHigh, Severity::Critical),
                (AlertType::MemoryHigh, Severity::Warning),
                (AlertType::DiskHigh, Severity::Critical),
            ],
        ),
    ];
    for (cpu, mem, disk, want) in table {
        site.usage = Some(SiteUsage {
            cpu_percent: cpu,
            memory_percent: mem,
            disk_percent: disk,
        });
        let input = EvalInput {
            server: Some(ServerSample {
                cpu: 1.0,
                memory: 1.0,
                disk: 1.0,
            }),
            sites: vec![site.clone()],
        };
        let got = opens(&evaluate(&input, &[], &cfg(), now()));
        assert!(
            got.iter()
                .all(|o| o.2 == Some(site.site.id) && o.3.is_none()),
            "{got:?}"
        );
        let got: Vec<_> = got.into_iter().map(|o| (o.0, o.1)).collect();
        assert_eq!(got, want, "cpu {cpu}");
    }
    site.usage = Some(SiteUsage {
        cpu_percent: 190.0,
        memory_percent: 1.0,
        disk_percent: 1.0,
    });
    let ev = evaluate(
        &EvalInput {
            server: None,
            sites: vec![site],
        },
        &[],
        &cfg(),
        now(),
    );
    let AlertEvent::Open(n) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(n.message, "CPU critique (BLOG) : 95.0 % de la limite");
    assert_eq!(
        n.data,
        json!({"value": 95.0, "threshold": 90.0, "limit": 200.0})
    );
}

#[test]
fn disabled_alerts_open_nothing_but_still_resolve() {
    let mut c = cfg();
    c.alerts_enabled = false;
    assert!(evaluate(&server(99.0, 99.0, 99.0), &[], &c, now()).is_empty());
    let open = known(
        AlertType::DiskHigh,
        Severity::Warning,
        AlertStatus::Active,
        3600,
        Some(600),
    );
    assert_eq!(
        evaluate(
            &server(0.0, 0.0, 0.0),
            std::slice::from_ref(&open),
            &c,
            now()
        ),
        [AlertEvent::Resolve {
            id: open.id,
            at: now(),
            by: ResolvedBy::SYSTEM
        }]
    );
}

#[test]
fn alerts_of_a_deleted_site_are_resolved_at_once() {
    let site = site_input(
        SiteStatus::Deleted,
        &[(DesiredState::Running, Some("failed"))],
    );
    let mut open = known(
        AlertType::ServiceDown,
        Severity::Error,
        AlertStatus::Acknowledged,
        60,
        None,
    );
    open.site = Some(site.site.id);
    open.service = Some(id(21));
    let ev = evaluate(
        &EvalInput {
            server: None,
            sites: vec![site],
        },
        std::slice::from_ref(&open),
        &cfg(),
        now(),
    );
    assert_eq!(
        ev,
        [AlertEvent::Resolve {
            id: open.id,
            at: now(),
            by: ResolvedBy::SYSTEM
        }]
    );
}
