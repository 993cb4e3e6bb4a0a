//! The WebSocket `/ws` (CONTRACT §5) with real sockets against the real router, on both stores:
//! authentication before the upgrade, the subscription rights, which pushes reach which
//! sockets, the heartbeat, the rights re-check and `GET /api/stats/websocket`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "ws/client.rs"]
mod client;
mod support;

use std::time::Duration;

use chrono::Utc;
use client::{Ended, connect, refused, try_connect, try_connect_protocol};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::*;
use twoine_apid::http::auth::TokenKind;
use twoine_apid::model::*;
use twoine_apid::poller::{LiveSnapshot, PollerEvent, ServiceLive, UnitInfo};
use twoine_apid::ws::WsOptions;

/// Nothing arrives within this long where nothing must.
const QUIET: Duration = Duration::from_millis(500);

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Embedded).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Mongo).await;
                }
            )*
        }
    };
}

both_stores!(
    connects_with_the_query_or_the_protocol_header,
    bad_tokens_and_blocked_users_are_refused_before_the_upgrade,
    subscriptions_follow_the_rights,
    stats_pushes_reach_exactly_their_subscribers,
    alert_pushes_reach_admins_and_the_sites_subscribers,
    service_status_reaches_all_admins_and_the_sites_subscribers,
    a_client_that_stops_answering_pings_is_closed,
    a_user_blocked_mid_session_loses_the_socket,
    a_collaborator_losing_access_mid_session_is_unsubscribed,
    websocket_stats_count_the_live_connections,
    message_size_and_subscription_count_are_capped,
);

fn id_of(v: Id) -> Value {
    json!(v.to_string())
}

/// Waits until `f` holds (or fails after 5 s).
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + client::WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn connects_with_the_query_or_the_protocol_header(backend: Backend) {
    let api = TestApi::start(backend).await;
    let admin = api.token(Who::Admin);
    let mut c = try_connect(&api, &admin).await.unwrap();
    assert_eq!(
        c.next_json().await,
        json!({"type": "connected", "data": {"userId": id_of(Who::Admin.id()), "role": "admin"}})
    );
    assert_eq!(c.protocol, None);
    assert_eq!(
        c.ask(json!({"type": "ping"})).await,
        json!({"type": "pong"})
    );

    let collab = api.token(Who::Collaborator);
    for (path, offered) in [
        ("/ws/", collab.clone()),
        ("/ws", format!("access_token, {collab}")),
    ] {
        let mut c = try_connect_protocol(&api, path, &offered).await.unwrap();
        assert_eq!(c.protocol.as_deref(), Some(collab.as_str()), "{path}");
        assert_eq!(
            c.next_json().await,
            json!({"type": "connected",
                   "data": {"userId": id_of(Who::Collaborator.id()), "role": "user"}})
        );
    }
    // Pending users pass, as in Twoine.
    connect(&api, &api.token(Who::Pending)).await;
}

async fn bad_tokens_and_blocked_users_are_refused_before_the_upgrade(backend: Backend) {
    let api = TestApi::start(backend).await;
    let user: User = serde_json::from_value(json!({
        "id": Who::Admin.id(), "username": "admin", "email": "admin@example.org", "role": "admin"
    }))
    .unwrap();
    let two_days_ago = Utc::now().timestamp() - 2 * 24 * 3600;
    let expired = api
        .keys
        .issue(&user, TokenKind::Access, two_days_ago)
        .unwrap();
    let unknown = {
        let mut u = user.clone();
        u.id = oid(999).parse().unwrap();
        api.keys
            .issue(&u, TokenKind::Access, Utc::now().timestamp())
            .unwrap()
    };
    let refresh = api.token_of(Who::Admin, TokenKind::Refresh);
    let blocked = api.token(Who::Blocked);
    let cases = [
        ("", 401, "No token provided"),
        ("not-a-jwt", 401, "Invalid token"),
        (expired.as_str(), 401, "Token expired"),
        (refresh.as_str(), 401, "Invalid token type"),
        (unknown.as_str(), 401, "User not found"),
        (blocked.as_str(), 403, "Account blocked"),
    ];
    for (token, status, message) in cases {
        let (got, body) = refused(try_connect(&api, token).await.err().expect("refused"));
        assert_eq!(got, status, "{message}: {body}");
        assert_eq!(body, json!({"success": false, "error": message}));
    }
    // The same through the protocol header.
    let e = try_connect_protocol(&api, "/ws", &api.token(Who::Blocked))
        .await
        .err()
        .expect("refused");
    assert_eq!(refused(e).0, 403);
    let e = try_connect_protocol(&api, "/ws/", "aaa.bbb.ccc")
        .await
        .err()
        .unwrap();
    assert_eq!(refused(e).0, 401);
    // A valid token without an upgrade is a JSON 400, not a socket.
    let (status, body) = api
        .get(&format!("/ws?token={}", api.token(Who::Admin)), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "no upgrade");
    assert_eq!(api.state.hub.connection_count(), 0);
}

async fn subscriptions_follow_the_rights(backend: Backend) {
    let api = TestApi::start(backend).await;
    let err = |m: &str| json!({"type": "error", "message": m});

    let mut c = connect(&api, &api.token(Who::Collaborator)).await;
    c.subscribed("site", Some(alpha())).await;
    c.subscribed("site", Some(alpha())).await; // idempotent
    c.subscribed("alerts", None).await;
    assert_eq!(
        c.subscribe("site", Some(beta())).await,
        err("Access denied to this site")
    );
    assert_eq!(
        c.subscribe("server", None).await,
        err("Admin access required")
    );
    assert_eq!(
        c.subscribe("site", Some(gamma_deleted())).await,
        err("Site not found")
    );
    assert_eq!(
        c.subscribe("site", Some(oid(777).parse().unwrap())).await,
        err("Site not found")
    );
    let bad = [
        (
            json!({"type": "subscribe", "channel": "site", "siteId": "nope"}),
            "Invalid site id",
        ),
        (
            json!({"type": "subscribe", "channel": "site"}),
            "siteId is required for the site channel",
        ),
        (
            json!({"type": "subscribe", "channel": "disks"}),
            "Unknown channel: disks",
        ),
        (json!({"type": "hello"}), "Unknown message type: hello"),
        (
            json!({"channel": "server"}),
            "Invalid message: type is missing",
        ),
    ];
    for (msg, want) in bad {
        assert_eq!(c.ask(msg.clone()).await, err(want), "{msg}");
    }
    c.send_text("{not json").await;
    assert_eq!(c.next_json().await, err("Invalid JSON"));
    assert_eq!(
        c.ask(json!({"type": "unsubscribe", "channel": "site", "siteId": alpha()}))
            .await,
        json!({"type": "unsubscribed", "channel": "site", "siteId": id_of(alpha())})
    );
    assert_eq!(
        c.ask(json!({"type": "unsubscribe", "channel": "alerts"}))
            .await,
        json!({"type": "unsubscribed", "channel": "alerts"})
    );

    let mut a = connect(&api, &api.token(Who::Admin)).await;
    a.subscribed("server", None).await;
    a.subscribed("alerts", None).await;
    a.subscribed("site", Some(alpha())).await;
    a.subscribed("site", Some(beta())).await;

    // Site.owner without an access entry, and readonly access, read the site.
    for who in [Who::SiteOwner, Who::ReadonlyAccess, Who::ReadonlyRole] {
        let mut c = connect(&api, &api.token(who)).await;
        c.subscribed("site", Some(alpha())).await;
        assert_eq!(
            c.subscribe("site", Some(beta())).await,
            err("Access denied to this site"),
            "{who:?}"
        );
    }
    let mut s = connect(&api, &api.token(Who::Stranger)).await;
    assert_eq!(
        s.subscribe("site", Some(alpha())).await,
        err("Access denied to this site")
    );
    s.subscribed("site", Some(beta())).await;
}

async fn stats_pushes_reach_exactly_their_subscribers(backend: Backend) {
    let api = TestApi::start(backend).await;
    let mut admin = connect(&api, &api.token(Who::Admin)).await;
    admin.subscribed("server", None).await;
    let mut idle_admin = connect(&api, &api.token(Who::InstallerAdmin)).await;
    let mut collab = connect(&api, &api.token(Who::Collaborator)).await;
    collab.subscribed("site", Some(alpha())).await;
    let mut owner = connect(&api, &api.token(Who::SiteOwner)).await;
    owner.subscribed("site", Some(alpha())).await;
    owner.subscribed("alerts", None).await;
    let mut stranger = connect(&api, &api.token(Who::Stranger)).await;
    stranger.subscribed("site", Some(beta())).await;

    let at = Utc::now();
    let live = LiveSnapshot {
        sites: vec![site_stats(alpha(), "alpha", at, 12.5)],
        ..sample_live(at)
    };
    api.publish(live.clone());
    let server_json = serde_json::to_value(live.server.as_ref().unwrap()).unwrap();
    let alpha_json = serde_json::to_value(&live.sites[0]).unwrap();

    let got = admin.next_json().await;
    assert_eq!(got["type"], "serverStats", "{got}");
    assert_eq!(got["data"], server_json);
    assert!(got["timestamp"].as_str().unwrap().ends_with('Z'), "{got}");
    assert_eq!(got.as_object().unwrap().len(), 3, "{got}");
    for c in [&mut collab, &mut owner] {
        let got = c.next_json().await;
        assert_eq!(got["type"], "siteStats", "{got}");
        assert_eq!(got["siteId"], id_of(alpha()));
        assert_eq!(got["data"], alpha_json);
        assert_eq!(got.as_object().unwrap().len(), 4, "{got}");
    }
    stranger.assert_silent(QUIET, "beta subscriber").await;
    idle_admin
        .assert_silent(QUIET, "admin without subscriptions")
        .await;
    admin
        .assert_silent(QUIET, "admin: one frame per poll")
        .await;

    // The same poll published again (same taken_at) pushes nothing.
    api.publish(live);
    collab.assert_silent(QUIET, "unchanged taken_at").await;

    // A new poll with beta: each site to its own subscribers.
    let later = at + chrono::Duration::seconds(30);
    api.publish(sample_live(later));
    let got = stranger.next_json().await;
    assert_eq!(
        (got["type"].clone(), got["siteId"].clone()),
        (json!("siteStats"), id_of(beta()))
    );
    let got = collab.next_json().await;
    assert_eq!(got["siteId"], id_of(alpha()));
    collab
        .assert_silent(QUIET, "alpha subscriber gets no beta")
        .await;
    assert_eq!(admin.next_json().await["type"], "serverStats");
}

async fn alert_pushes_reach_admins_and_the_sites_subscribers(backend: Backend) {
    let api = TestApi::start(backend).await;
    let mut admin = connect(&api, &api.token(Who::Admin)).await;
    admin.subscribed("alerts", None).await;
    let mut idle_admin = connect(&api, &api.token(Who::InstallerAdmin)).await;
    let mut collab = connect(&api, &api.token(Who::Collaborator)).await;
    collab.subscribed("alerts", None).await;
    collab.subscribed("site", Some(alpha())).await;
    let mut site_only = connect(&api, &api.token(Who::OwnerAccess)).await;
    site_only.subscribed("site", Some(alpha())).await;
    let mut alerts_only = connect(&api, &api.token(Who::ReadonlyAccess)).await;
    alerts_only.subscribed("alerts", None).await;
    let mut stranger = connect(&api, &api.token(Who::Stranger)).await;
    stranger.subscribed("alerts", None).await;
    stranger.subscribed("site", Some(beta())).await;

    let alert = api.store.alert(alert_alpha()).await.unwrap().unwrap();
    api.events
        .send(PollerEvent::AlertOpened(alert.clone()))
        .unwrap();
    for c in [&mut admin, &mut collab] {
        let got = c.next_json().await;
        assert_eq!(got["type"], "alert", "{got}");
        assert!(got["timestamp"].is_string(), "{got}");
        let d = &got["data"];
        assert_eq!(d["id"], id_of(alert_alpha()));
        assert_eq!(
            (d["type"].clone(), d["severity"].clone()),
            (json!("service_down"), json!("error"))
        );
        assert_eq!(d["status"], "active");
        assert_eq!(
            d["site"],
            json!({"id": id_of(alpha()), "name": "alpha", "displayName": "ALPHA"})
        );
        assert_eq!(
            d["service"],
            json!({"id": id_of(alpha_web()), "name": "web", "displayName": "WEB"})
        );
        assert_eq!(d["acknowledgedBy"], Value::Null);
        assert_eq!(d["message"], alert.message.as_str());
    }
    for (c, who) in [
        (&mut idle_admin, "admin not subscribed to alerts"),
        (&mut site_only, "site subscriber without alerts"),
        (&mut alerts_only, "alerts subscriber without the site"),
        (&mut stranger, "stranger"),
    ] {
        c.assert_silent(QUIET, who).await;
    }

    // A server-wide alert: admins only.
    let server = api.store.alert(alert_server()).await.unwrap().unwrap();
    api.events.send(PollerEvent::AlertOpened(server)).unwrap();
    let got = admin.next_json().await;
    assert_eq!(
        (got["data"]["id"].clone(), got["data"]["site"].clone()),
        (id_of(alert_server()), Value::Null)
    );
    collab
        .assert_silent(QUIET, "server-wide alert to a user")
        .await;

    // Acknowledged through the API: the acknowledging user's name.
    let acked = api
        .store
        .acknowledge_alert(alert_alpha(), Who::Collaborator.id(), Utc::now())
        .await
        .unwrap();
    api.events.send(PollerEvent::AlertUpdated(acked)).unwrap();
    for c in [&mut admin, &mut collab] {
        let d = c.next_json().await["data"].clone();
        assert_eq!(d["status"], "acknowledged");
        assert_eq!(
            d["acknowledgedBy"],
            json!({"id": id_of(Who::Collaborator.id()), "username": "collab"})
        );
    }

    // Resolved by the poller: the event names the alert, the view comes from the store.
    let at = Utc::now();
    api.store
        .resolve_alert(alert_alpha(), at, ResolvedBy::SYSTEM)
        .await
        .unwrap();
    api.events
        .send(PollerEvent::AlertResolved {
            id: alert_alpha(),
            at,
        })
        .unwrap();
    for c in [&mut admin, &mut collab] {
        let d = c.next_json().await["data"].clone();
        assert_eq!(
            (d["id"].clone(), d["status"].clone()),
            (id_of(alert_alpha()), json!("resolved"))
        );
        assert_eq!(d["resolvedBy"], "system");
    }
    stranger
        .assert_silent(QUIET, "stranger after resolution")
        .await;
}

fn unit(active: &str, sub: &str) -> UnitInfo {
    UnitInfo {
        name: "twoine-alpha-web.service".into(),
        load_state: "loaded".into(),
        active_state: active.into(),
        sub_state: sub.into(),
        result: "success".into(),
        main_pid: Some(4242),
        active_since: Some("2025-06-01T10:00:00Z".parse().unwrap()),
        memory_bytes: Some(50_000_000),
        cpu_nsec: Some(1_000_000_000),
        restarts: Some(0),
        observed_at: Utc::now(),
    }
}

async fn service_status_reaches_all_admins_and_the_sites_subscribers(backend: Backend) {
    let api = TestApi::start(backend).await;
    let mut admins = [
        connect(&api, &api.token(Who::Admin)).await,
        connect(&api, &api.token(Who::InstallerAdmin)).await,
    ];
    admins[0].subscribed("server", None).await;
    let mut collab = connect(&api, &api.token(Who::Collaborator)).await;
    collab.subscribed("site", Some(alpha())).await;
    let mut alerts_only = connect(&api, &api.token(Who::OwnerAccess)).await;
    alerts_only.subscribed("alerts", None).await;
    let mut stranger = connect(&api, &api.token(Who::Stranger)).await;
    stranger.subscribed("site", Some(beta())).await;

    let live = ServiceLive {
        service: alpha_web(),
        site: alpha(),
        name: "web".into(),
        unit: "twoine-alpha-web.service".into(),
        desired: DesiredState::Running,
        state: Some(unit("failed", "failed")),
    };
    api.events.send(PollerEvent::ServiceState(live)).unwrap();
    let want_data = json!({
        "id": id_of(alpha_web()), "name": "web",
        "status": {"current": "failed", "desired": "running"},
        "systemd": {"serviceName": "twoine-alpha-web.service", "active": "failed",
                    "sub": "failed", "running": false, "pid": 4242,
                    "startedAt": "2025-06-01T10:00:00.000Z"},
    });
    for c in admins.iter_mut().chain([&mut collab]) {
        let got = c.next_json().await;
        assert_eq!(got["type"], "serviceStatus", "{got}");
        assert_eq!(got["siteId"], id_of(alpha()));
        assert_eq!(got["data"], want_data);
        assert!(got["timestamp"].is_string());
    }
    alerts_only
        .assert_silent(QUIET, "not subscribed to alpha")
        .await;
    stranger.assert_silent(QUIET, "beta subscriber").await;

    // A unit state unknown (agent away): systemd null, current unknown.
    let unknown = ServiceLive {
        service: beta_api(),
        site: beta(),
        name: "api".into(),
        unit: "twoine-beta-api.service".into(),
        desired: DesiredState::Stopped,
        state: None,
    };
    api.events.send(PollerEvent::ServiceState(unknown)).unwrap();
    let got = stranger.next_json().await;
    assert_eq!(got["siteId"], id_of(beta()));
    assert_eq!(
        got["data"],
        json!({"id": id_of(beta_api()), "name": "api",
               "status": {"current": "unknown", "desired": "stopped"}, "systemd": null})
    );
    collab
        .assert_silent(QUIET, "alpha subscriber, beta service")
        .await;
}

async fn a_client_that_stops_answering_pings_is_closed(backend: Backend) {
    let api = TestApi::start(backend).await;
    api.state.hub.set_options(WsOptions {
        ping_every: Duration::from_millis(200),
        ..WsOptions::default()
    });
    let mut silent = connect(&api, &api.token(Who::Admin)).await;
    let mut alive = connect(&api, &api.token(Who::Collaborator)).await;
    // `alive` keeps reading (the library answers the pings); `silent` reads nothing.
    alive
        .assert_silent(Duration::from_millis(1200), "alive client")
        .await;
    assert_eq!(
        alive.ask(json!({"type": "ping"})).await,
        json!({"type": "pong"})
    );
    eventually("the silent socket leaves the hub", || {
        api.state.hub.connection_count() == 1
    })
    .await;
    assert_eq!(
        silent.ended().await,
        Ended::Closed(1001, "Heartbeat timeout".into())
    );
    assert_eq!(api.state.hub.stats().total_connections, 1);
}

async fn a_user_blocked_mid_session_loses_the_socket(backend: Backend) {
    let api = TestApi::start(backend).await;
    // Told by whoever changed the user: at once.
    let mut collab = connect(&api, &api.token(Who::Collaborator)).await;
    collab.subscribed("site", Some(alpha())).await;
    let mut other = connect(&api, &api.token(Who::OwnerAccess)).await;
    api.store
        .set_user_status(Who::Collaborator.id(), UserStatus::Blocked)
        .await
        .unwrap();
    api.state.hub.user_changed(Who::Collaborator.id());
    assert_eq!(
        collab.ended().await,
        Ended::Closed(1008, "Account blocked".into())
    );
    assert_eq!(
        other.ask(json!({"type": "ping"})).await,
        json!({"type": "pong"})
    );
    eventually("the blocked socket leaves the hub", || {
        api.state.hub.connection_count() == 1
    })
    .await;
    // Nobody told: the periodic re-check finds it.
    api.state.hub.set_options(WsOptions {
        recheck_every: Duration::from_millis(200),
        ..WsOptions::default()
    });
    let mut pending = connect(&api, &api.token(Who::Pending)).await;
    api.store
        .set_user_status(Who::Pending.id(), UserStatus::Blocked)
        .await
        .unwrap();
    assert_eq!(
        pending.ended().await,
        Ended::Closed(1008, "Account blocked".into())
    );
    // And a blocked user cannot come back.
    let e = try_connect(&api, &api.token(Who::Pending))
        .await
        .err()
        .unwrap();
    assert_eq!(refused(e).0, 403);
}

async fn a_collaborator_losing_access_mid_session_is_unsubscribed(backend: Backend) {
    let api = TestApi::start(backend).await;
    let alpha_subs = |api: &TestApi| {
        api.state
            .hub
            .stats()
            .site_subscriptions
            .get(&alpha().to_string())
            .copied()
    };
    // Told by whoever changed the user (`twoine-apid unassign`): at once.
    let mut collab = connect(&api, &api.token(Who::Collaborator)).await;
    collab.subscribed("site", Some(alpha())).await;
    collab.subscribed("alerts", None).await;
    let mut owner = connect(&api, &api.token(Who::SiteOwner)).await;
    owner.subscribed("site", Some(alpha())).await;
    assert_eq!(alpha_subs(&api), Some(2));
    assert!(
        api.store
            .remove_site_access(Who::Collaborator.id(), alpha())
            .await
            .unwrap()
    );
    api.state.hub.user_changed(Who::Collaborator.id());
    assert_eq!(
        collab.next_json().await,
        json!({"type": "unsubscribed", "channel": "site", "siteId": id_of(alpha())})
    );
    eventually("the hub counts one alpha subscriber", || {
        alpha_subs(&api) == Some(1)
    })
    .await;

    let at = Utc::now();
    api.publish(LiveSnapshot {
        sites: vec![site_stats(alpha(), "alpha", at, 12.5)],
        ..sample_live(at)
    });
    let got = owner.next_json().await;
    assert_eq!(
        (got["type"].clone(), got["siteId"].clone()),
        (json!("siteStats"), id_of(alpha()))
    );
    collab
        .assert_silent(QUIET, "no alpha siteStats after losing access")
        .await;
    // The socket stays open, and alpha cannot be subscribed again.
    assert_eq!(
        collab.ask(json!({"type": "ping"})).await,
        json!({"type": "pong"})
    );
    assert_eq!(
        collab.subscribe("site", Some(alpha())).await,
        json!({"type": "error", "message": "Access denied to this site"})
    );

    // Nobody told: the periodic re-check finds it.
    api.state.hub.set_options(WsOptions {
        recheck_every: Duration::from_millis(200),
        ..WsOptions::default()
    });
    let mut readonly = connect(&api, &api.token(Who::ReadonlyAccess)).await;
    readonly.subscribed("site", Some(alpha())).await;
    assert!(
        api.store
            .remove_site_access(Who::ReadonlyAccess.id(), alpha())
            .await
            .unwrap()
    );
    assert_eq!(
        readonly.next_json().await,
        json!({"type": "unsubscribed", "channel": "site", "siteId": id_of(alpha())})
    );
    let later = at + chrono::Duration::seconds(30);
    api.publish(LiveSnapshot {
        sites: vec![site_stats(alpha(), "alpha", later, 12.5)],
        ..sample_live(later)
    });
    assert_eq!(owner.next_json().await["siteId"], id_of(alpha()));
    readonly
        .assert_silent(QUIET, "no alpha siteStats after the re-check")
        .await;
    collab.assert_silent(QUIET, "still nothing for alpha").await;
}

async fn websocket_stats_count_the_live_connections(backend: Backend) {
    let api = TestApi::start(backend).await;
    let admin_token = api.token(Who::Admin);
    let (status, body) = api.get("/api/stats/websocket", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = api
        .get("/api/stats/websocket", Some(&api.token(Who::Collaborator)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"success": false, "error": "Admin access required"})
    );
    let stats = |api: &TestApi| {
        let api_url = api.url.clone();
        let token = admin_token.clone();
        let http = api.http.clone();
        async move {
            let resp = http
                .get(format!("{api_url}/api/stats/websocket"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        stats(&api).await,
        json!({"success": true, "data": {"totalConnections": 0, "uniqueUsers": 0,
               "adminConnections": 0, "siteSubscriptions": {}}})
    );
    let mut a1 = connect(&api, &admin_token).await;
    a1.subscribed("site", Some(alpha())).await;
    let a2 = connect(&api, &admin_token).await;
    let mut c = connect(&api, &api.token(Who::Collaborator)).await;
    c.subscribed("site", Some(alpha())).await;
    let mut s = connect(&api, &api.token(Who::Stranger)).await;
    s.subscribed("site", Some(beta())).await;
    let mut want = json!({"totalConnections": 4, "uniqueUsers": 3, "adminConnections": 2,
                          "siteSubscriptions": {alpha().to_string(): 2, beta().to_string(): 1}});
    assert_eq!(stats(&api).await["data"], want);
    assert_eq!(api.state.hub.connection_count(), 4);

    drop(a2);
    drop(s);
    eventually("closed sockets leave the hub", || {
        api.state.hub.connection_count() == 2
    })
    .await;
    want = json!({"totalConnections": 2, "uniqueUsers": 2, "adminConnections": 1,
                  "siteSubscriptions": {alpha().to_string(): 2}});
    assert_eq!(stats(&api).await["data"], want);
    c.ask(json!({"type": "unsubscribe", "channel": "site", "siteId": alpha()}))
        .await;
    assert_eq!(
        stats(&api).await["data"]["siteSubscriptions"],
        json!({alpha().to_string(): 1})
    );
    let _ = a1;
}

async fn message_size_and_subscription_count_are_capped(backend: Backend) {
    let api = TestApi::start(backend).await;
    api.state.hub.set_options(WsOptions {
        max_subscriptions: 2,
        ..WsOptions::default()
    });
    let mut a = connect(&api, &api.token(Who::Admin)).await;
    a.subscribed("server", None).await;
    a.subscribed("site", Some(alpha())).await;
    assert_eq!(
        a.subscribe("site", Some(beta())).await,
        json!({"type": "error", "message": "Too many subscriptions (at most 2)"})
    );
    a.subscribed("server", None).await; // already held: still fine
    a.ask(json!({"type": "unsubscribe", "channel": "server"}))
        .await;
    a.subscribed("site", Some(beta())).await;

    // 4 KiB at most: a bigger frame ends the socket.
    let big = json!({"type": "ping", "pad": "x".repeat(5000)});
    a.send(big).await;
    assert!(
        matches!(a.ended().await, Ended::Dropped | Ended::Closed(1009, _)),
        "oversized message"
    );
    eventually("the socket leaves the hub", || {
        api.state.hub.connection_count() == 0
    })
    .await;
}
