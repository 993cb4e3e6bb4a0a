//! `/api/stats/alerts` (list, acknowledge, resolve) on both stores: exactly which alerts each
//! kind of caller sees, the filters and their validation, who may acknowledge and resolve,
//! and the events the WebSocket pushes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::{
    Backend, TestApi, Who, alert_alpha, alert_alpha_resolved, alert_beta, alert_server, alpha,
    alpha_web, assert_error, beta, data, oid,
};
use twoine_apid::model::{AlertStatus, Id};
use twoine_apid::poller::PollerEvent;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Embedded).await
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Mongo).await
                }
            )*
        }
    };
}

on_both_backends!(
    each_caller_sees_exactly_the_alerts_of_their_sites,
    alerts_carry_names_not_bare_ids,
    filters_narrow_the_list_and_bad_values_are_400,
    collaborators_acknowledge_readonly_and_strangers_cannot,
    only_admins_resolve_and_only_once,
);

fn ids(body: &Value) -> Vec<Id> {
    data(body, "alerts")
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn seen(api: &TestApi, who: Who, query: &str) -> Vec<Id> {
    let (status, body) = api
        .get(&format!("/api/stats/alerts{query}"), Some(&api.token(who)))
        .await;
    assert_eq!(status, StatusCode::OK, "{who:?} {query}: {body}");
    ids(&body)
}

async fn each_caller_sees_exactly_the_alerts_of_their_sites(backend: Backend) {
    let api = TestApi::start(backend).await;
    // Newest first: beta (2 min ago), alpha (3), server (4); the resolved one is hidden.
    let open = [
        (
            Who::Admin,
            vec![alert_beta(), alert_alpha(), alert_server()],
        ),
        (
            Who::InstallerAdmin,
            vec![alert_beta(), alert_alpha(), alert_server()],
        ),
        (Who::SiteOwner, vec![alert_alpha()]),
        (Who::OwnerAccess, vec![alert_alpha()]),
        (Who::Collaborator, vec![alert_alpha()]),
        (Who::ReadonlyAccess, vec![alert_alpha()]),
        (Who::ReadonlyRole, vec![alert_alpha()]),
        (Who::Pending, vec![alert_alpha()]),
        (Who::Stranger, vec![alert_beta()]),
    ];
    for (who, expected) in open {
        assert_eq!(seen(&api, who, "").await, expected, "{who:?}");
    }
    let resolved = [
        (Who::Admin, vec![alert_alpha_resolved()]),
        (Who::Collaborator, vec![alert_alpha_resolved()]),
        (Who::ReadonlyAccess, vec![alert_alpha_resolved()]),
        (Who::Stranger, vec![]),
    ];
    for (who, expected) in resolved {
        assert_eq!(
            seen(&api, who, "?status=resolved").await,
            expected,
            "{who:?}"
        );
    }
    let (status, body) = api.get("/api/stats/alerts", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "no token");
    let (status, _) = api
        .get("/api/stats/alerts", Some(&api.token(Who::Blocked)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn alerts_carry_names_not_bare_ids(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (_, body) = api
        .get("/api/stats/alerts", Some(&api.token(Who::Admin)))
        .await;
    let list = data(&body, "alerts").as_array().unwrap();
    let alpha_alert = &list[1];
    assert_eq!(alpha_alert["id"], json!(alert_alpha()));
    assert_eq!(alpha_alert["type"], "service_down");
    assert_eq!(alpha_alert["severity"], "error");
    assert_eq!(alpha_alert["status"], "active");
    assert_eq!(alpha_alert["message"], "service_down error");
    assert_eq!(alpha_alert["data"], json!({"value": 93.4}));
    assert_eq!(
        alpha_alert["site"],
        json!({"id": alpha(), "name": "alpha", "displayName": "ALPHA"})
    );
    assert_eq!(
        alpha_alert["service"],
        json!({"id": alpha_web(), "name": "web", "displayName": "WEB"})
    );
    assert_eq!(alpha_alert["acknowledgedBy"], Value::Null);
    assert_eq!(alpha_alert["acknowledgedAt"], Value::Null);
    assert_eq!(alpha_alert["resolvedAt"], Value::Null);
    assert!(alpha_alert["createdAt"].as_str().unwrap().ends_with('Z'));
    let server = &list[2];
    assert_eq!(server["site"], Value::Null);
    assert_eq!(server["service"], Value::Null);
}

async fn filters_narrow_the_list_and_bad_values_are_400(backend: Backend) {
    let api = TestApi::start(backend).await;
    let cases = [
        ("?severity=critical", vec![alert_server()]),
        (
            "?severity=critical&status=resolved",
            vec![alert_alpha_resolved()],
        ),
        ("?severity=warning,error", vec![alert_beta(), alert_alpha()]),
        (
            "?status=active,resolved",
            vec![
                alert_beta(),
                alert_alpha(),
                alert_server(),
                alert_alpha_resolved(),
            ],
        ),
        ("?status=acknowledged", vec![]),
        (&format!("?siteId={}", alpha()), vec![alert_alpha()]),
        ("?limit=1", vec![alert_beta()]),
        ("?severity=critical&limit=1", vec![alert_server()]),
    ];
    for (query, expected) in cases {
        assert_eq!(seen(&api, Who::Admin, query).await, expected, "{query}");
    }
    assert_eq!(
        seen(&api, Who::Collaborator, &format!("?siteId={}", alpha())).await,
        vec![alert_alpha()]
    );
    let token = api.token(Who::Collaborator);
    let (status, body) = api
        .get(
            &format!("/api/stats/alerts?siteId={}", beta()),
            Some(&token),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another's site: {body}");
    assert_error(&body, "another's site");
    let (status, _) = api
        .get(
            &format!("/api/stats/alerts?siteId={}", oid(999)),
            Some(&api.token(Who::Admin)),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown site");
    for bad in [
        "?status=open",
        "?status=",
        "?status=active,",
        "?severity=",
        "?limit=",
        "?siteId=",
        "?status[$ne]=resolved",
        "?severity=fatal",
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?siteId=xyz",
        "?foo=1",
    ] {
        let (status, body) = api
            .get(&format!("/api/stats/alerts{bad}"), Some(&token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, bad);
    }
}

async fn collaborators_acknowledge_readonly_and_strangers_cannot(backend: Backend) {
    let api = TestApi::start(backend).await;
    let mut events = api.events.subscribe();
    let path = format!("/api/stats/alerts/{}/acknowledge", alert_alpha());
    for who in [Who::ReadonlyAccess, Who::ReadonlyRole, Who::Stranger] {
        let (status, body) = api.post(&path, Some(&api.token(who)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}: {body}");
        assert_error(&body, "forbidden acknowledge");
    }
    let server = format!("/api/stats/alerts/{}/acknowledge", alert_server());
    let (status, _) = api
        .post(&server, Some(&api.token(Who::Collaborator)), None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "server-wide alerts are for admins"
    );
    assert!(
        events.try_recv().is_err(),
        "nothing changed, nothing pushed"
    );

    let (status, body) = api
        .post(&path, Some(&api.token(Who::Collaborator)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = data(&body, "acknowledge").clone();
    assert_eq!(view["status"], "acknowledged");
    assert_eq!(
        view["acknowledgedBy"],
        json!({"id": Who::Collaborator.id(), "username": "collab"})
    );
    assert!(view["acknowledgedAt"].is_string());
    assert_eq!(view["site"]["name"], "alpha");
    let event = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap()
        .unwrap();
    match event {
        PollerEvent::AlertUpdated(a) => {
            assert_eq!(a.id, alert_alpha());
            assert_eq!(a.status, AlertStatus::Acknowledged);
            assert_eq!(a.acknowledged_by, Some(Who::Collaborator.id()));
        }
        other => panic!("AlertUpdated expected: {other:?}"),
    }

    // Twice is fine: the same alert, unchanged.
    let (status, again) = api
        .post(&path, Some(&api.token(Who::SiteOwner)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(data(&again, "again"), &view);
    // Still listed (acknowledged is open), for its readers.
    assert_eq!(
        seen(&api, Who::ReadonlyAccess, "?status=acknowledged").await,
        vec![alert_alpha()]
    );

    let resolved = format!("/api/stats/alerts/{}/acknowledge", alert_alpha_resolved());
    let (status, body) = api
        .post(&resolved, Some(&api.token(Who::Collaborator)), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "resolved");
    let (status, _) = api
        .post(
            "/api/stats/alerts/not-an-id/acknowledge",
            Some(&api.token(Who::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .post(
            &format!("/api/stats/alerts/{}/acknowledge", oid(999)),
            Some(&api.token(Who::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post(&path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn only_admins_resolve_and_only_once(backend: Backend) {
    let api = TestApi::start(backend).await;
    let mut events = api.events.subscribe();
    let path = format!("/api/stats/alerts/{}/resolve", alert_alpha());
    for who in [Who::SiteOwner, Who::Collaborator, Who::Stranger] {
        let (status, body) = api.post(&path, Some(&api.token(who)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}: {body}");
    }
    let (status, body) = api.post(&path, Some(&api.token(Who::Admin)), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = data(&body, "resolve");
    assert_eq!(view["status"], "resolved");
    assert!(view["resolvedAt"].is_string());
    assert_eq!(view["service"]["name"], "web");
    match tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap()
        .unwrap()
    {
        PollerEvent::AlertUpdated(a) => {
            assert_eq!(a.id, alert_alpha());
            assert_eq!(a.status, AlertStatus::Resolved);
        }
        other => panic!("AlertUpdated expected: {other:?}"),
    }
    let (status, body) = api.post(&path, Some(&api.token(Who::Admin)), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "already resolved");
    assert_eq!(
        seen(&api, Who::Collaborator, "").await,
        Vec::<Id>::new(),
        "gone from the open list"
    );
    assert!(
        seen(&api, Who::Collaborator, "?status=resolved")
            .await
            .contains(&alert_alpha())
    );
    let (status, _) = api
        .post(
            &format!("/api/stats/alerts/{}/resolve", oid(999)),
            Some(&api.token(Who::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .post(
            "/api/stats/alerts/xyz/resolve",
            Some(&api.token(Who::InstallerAdmin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
