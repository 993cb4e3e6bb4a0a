//! The statistics routes (CONTRACT §4) over real HTTP, on both stores: exact shapes, where the
//! numbers come from (the poller's snapshot, the store, nothing → 503), staleness, history
//! windows, query validation, and the 400/404/403 order of the site routes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::*;
use support::live::*;
use twoine_apid::model::Timestamp;

/// Runs `$name(Backend)` as `$name::embedded` and `$name::mongo`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name(Backend::Embedded).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mongo() {
                super::$name(Backend::Mongo).await;
            }
        }
    )*};
}

both!(
    server_stats_have_the_contract_shape,
    server_stats_are_503_with_nothing_at_all,
    server_stats_fall_back_to_the_store_marked_stale,
    server_stats_say_when_the_agent_is_away,
    system_hides_host_details_from_non_admins,
    sites_list_measured_and_unmeasured_sites,
    sites_list_follows_each_snapshot_and_new_sites,
    site_stats_have_the_contract_shape,
    site_routes_answer_400_then_404_then_403,
    server_history_covers_the_window_ascending,
    site_history_covers_the_window_ascending,
    history_parameters_are_validated,
    site_services_show_their_units,
    services_summary_counts_units,
    databases_are_counted_by_type,
);

fn iso(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("object expected: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn assert_keys(v: &Value, expected: &[&str], context: &str) {
    let mut e: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    e.sort();
    assert_eq!(sorted_keys(v), e, "{context}: {v}");
}

fn ts(v: &Value) -> Timestamp {
    v.as_str()
        .unwrap_or_else(|| panic!("time expected: {v}"))
        .parse()
        .unwrap()
}

const SERVER_KEYS: [&str; 11] = [
    "cpu",
    "memory",
    "disk",
    "network",
    "processes",
    "uptime",
    "totals",
    "system",
    "timestamp",
    "stale",
    "staleSince",
];

/// Every part of the server stats with its exact keys and JSON types.
fn assert_server_shape(d: &Value) {
    assert_keys(
        &d["cpu"],
        &["percent", "cores", "model", "speed", "loadAvg"],
        "cpu",
    );
    assert!(d["cpu"]["percent"].is_number(), "{d}");
    assert!(
        d["cpu"]["cores"].is_u64() && d["cpu"]["speed"].is_u64(),
        "{d}"
    );
    assert!(d["cpu"]["model"].is_string(), "{d}");
    assert_keys(&d["cpu"]["loadAvg"], &["one", "five", "fifteen"], "loadAvg");
    for k in ["one", "five", "fifteen"] {
        assert!(d["cpu"]["loadAvg"][k].is_number(), "{d}");
    }
    assert_keys(
        &d["memory"],
        &[
            "total",
            "used",
            "free",
            "available",
            "cached",
            "buffers",
            "percent",
        ],
        "memory",
    );
    for k in ["total", "used", "free", "available", "cached", "buffers"] {
        assert!(d["memory"][k].is_u64(), "memory.{k}: {d}");
    }
    assert!(d["memory"]["percent"].is_number(), "{d}");
    assert_keys(&d["disk"], &["total", "used", "free", "percent"], "disk");
    for k in ["total", "used", "free", "percent"] {
        assert!(d["disk"][k].is_u64(), "disk.{k} is an integer: {d}");
    }
    assert_keys(
        &d["network"],
        &["bytesIn", "bytesOut", "packetsIn", "packetsOut"],
        "network",
    );
    assert_keys(
        &d["processes"],
        &["total", "running", "sleeping", "stopped"],
        "processes",
    );
    assert!(d["uptime"].is_u64(), "{d}");
    assert_keys(
        &d["totals"],
        &[
            "sites",
            "services",
            "users",
            "servicesRunning",
            "servicesStopped",
        ],
        "totals",
    );
    assert_keys(
        &d["system"],
        &["hostname", "platform", "arch", "release", "type"],
        "system",
    );
    ts(&d["timestamp"]);
    assert!(d["stale"].is_boolean(), "{d}");
}

async fn server_stats_have_the_contract_shape(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    api.publish(snapshot(now, Some(server_stats(now, 37.46))));

    let (status, body) = api
        .get("/api/stats/server", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = data(&body, "server");
    assert_keys(d, &SERVER_KEYS, "server");
    assert_server_shape(d);
    assert_eq!(d["cpu"]["percent"], json!(37.5), "one decimal");
    assert_eq!(d["memory"]["used"], json!(3_305_614_540u64));
    assert_eq!(d["disk"]["percent"], json!(32));
    assert_eq!(d["system"]["hostname"], "web-01");
    assert_eq!(d["timestamp"], json!(iso(now)));
    assert_eq!(d["stale"], json!(false));
    assert_eq!(d["staleSince"], Value::Null);

    let (status, body) = api
        .get("/api/stats/server", Some(&api.token(Who::InstallerAdmin)))
        .await;
    assert_eq!(status, StatusCode::OK, "installer admin: {body}");
    let (status, body) = api
        .get("/api/stats/server", Some(&api.token(Who::SiteOwner)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "non-admin");
    let (status, body) = api.get("/api/stats/server", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error(&body, "no token");
}

async fn server_stats_are_503_with_nothing_at_all(backend: Backend) {
    let api = TestApi::start(backend).await;
    for (path, who) in [
        ("/api/stats/server", Who::Admin),
        ("/api/stats/system", Who::Admin),
        ("/api/stats/system", Who::ReadonlyRole),
    ] {
        let (status, body) = api.get(path, Some(&api.token(who))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_error(&body, path);
        assert_eq!(
            body["error"], "Statistics not available yet: agent unavailable",
            "{path}"
        );
    }
}

async fn server_stats_fall_back_to_the_store_marked_stale(backend: Backend) {
    let api = TestApi::start(backend).await;
    let at = Utc::now() - Duration::minutes(10);
    api.store
        .insert_snapshot(Some(&server_stats(at, 12.3)), &[])
        .await
        .unwrap();
    let (status, body) = api
        .get("/api/stats/server", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = data(&body, "stored server");
    assert_keys(d, &SERVER_KEYS, "stored server");
    assert_server_shape(d);
    assert_eq!(d["cpu"]["percent"], json!(12.3));
    assert_eq!(d["timestamp"], json!(iso(at)));
    assert_eq!(d["stale"], json!(true));
    assert_eq!(d["staleSince"], json!(iso(at)), "stale since the sample");
}

async fn server_stats_say_when_the_agent_is_away(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    let away = now - Duration::minutes(3);
    let mut live = snapshot(away, Some(server_stats(away, 55.0)));
    live.stale_since = Some(away + Duration::seconds(30));
    api.publish(live);
    for path in ["/api/stats/server", "/api/stats/system"] {
        let (status, body) = api.get(path, Some(&api.token(Who::Admin))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let d = data(&body, path);
        assert_eq!(d["stale"], json!(true), "{path}");
        assert_eq!(
            d["staleSince"],
            json!(iso(away + Duration::seconds(30))),
            "{path}"
        );
        assert_eq!(d["cpu"]["percent"], json!(55.0), "the last data: {path}");
    }
}

async fn system_hides_host_details_from_non_admins(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    api.publish(snapshot(now, Some(server_stats(now, 20.0))));

    let (status, body) = api
        .get("/api/stats/system", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = data(&body, "admin system");
    assert_keys(d, &SERVER_KEYS, "admin system");
    assert_server_shape(d);

    for who in [
        Who::SiteOwner,
        Who::ReadonlyRole,
        Who::Stranger,
        Who::Pending,
    ] {
        let (status, body) = api.get("/api/stats/system", Some(&api.token(who))).await;
        assert_eq!(status, StatusCode::OK, "{who:?}: {body}");
        let d = data(&body, "user system");
        assert_keys(
            d,
            &[
                "cpu",
                "memory",
                "disk",
                "uptime",
                "totals",
                "timestamp",
                "stale",
                "staleSince",
            ],
            &format!("{who:?}"),
        );
        for hidden in ["network", "processes", "system", "networks"] {
            assert!(d.get(hidden).is_none(), "{who:?} must not see {hidden}");
        }
        assert!(d["cpu"]["percent"].is_number());
        assert!(d["disk"]["percent"].is_u64());
    }
    let (status, body) = api
        .get("/api/stats/system", Some(&api.token(Who::Blocked)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "blocked: {body}");
    let (status, _) = api.get("/api/stats/system", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

const SITE_KEYS: [&str; 9] = [
    "cpu",
    "memory",
    "disk",
    "services",
    "site",
    "domains",
    "ports",
    "limits",
    "timestamp",
];

/// A site sample's exact keys and JSON types.
fn assert_site_shape(d: &Value) {
    assert_keys(&d["cpu"], &["percent", "timeMs"], "cpu");
    assert!(
        d["cpu"]["percent"].is_number() && d["cpu"]["timeMs"].is_u64(),
        "{d}"
    );
    assert_keys(&d["memory"], &["usedBytes", "percent", "limit"], "memory");
    assert!(d["memory"]["usedBytes"].is_u64() && d["memory"]["percent"].is_number());
    assert_keys(
        &d["disk"],
        &["usedBytes", "percent", "limit", "fileCount"],
        "disk",
    );
    assert!(d["disk"]["usedBytes"].is_u64() && d["disk"]["percent"].is_number());
    assert!(d["disk"]["fileCount"].is_u64());
    assert_keys(
        &d["services"],
        &["total", "running", "stopped", "failed"],
        "services",
    );
    assert_keys(&d["site"], &["id", "name", "displayName", "status"], "site");
    assert_keys(&d["ports"], &["start", "end"], "ports");
    assert_keys(&d["limits"], &["memory", "cpu", "disk"], "limits");
    assert!(d["domains"].is_array());
    ts(&d["timestamp"]);
}

async fn sites_list_measured_and_unmeasured_sites(backend: Backend) {
    let api = TestApi::start(backend).await;
    let admin = api.token(Who::Admin);
    let now = Utc::now();

    // alpha measured live, beta refused by the agent.
    let mut live = snapshot(now, Some(server_stats(now, 10.0)));
    live.sites = vec![site_stats(alpha(), "alpha", now, 150.25)];
    live.site_errors = vec![site_error(beta(), "beta", "Site user site_beta not found")];
    api.publish(live);
    let (status, body) = api.get("/api/stats/sites", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = data(&body, "sites").as_array().unwrap();
    assert_eq!(
        list.len(),
        2,
        "alpha and beta, not the deleted gamma: {body}"
    );
    assert_keys(&list[0], &SITE_KEYS, "alpha");
    assert_site_shape(&list[0]);
    assert_eq!(list[0]["site"]["id"], json!(alpha().to_string()));
    assert_eq!(list[0]["cpu"]["percent"], json!(150.3), "may exceed 100");
    assert_eq!(list[0]["disk"]["fileCount"], json!(4321));
    assert_eq!(
        list[1],
        json!({
            "site": {"id": beta().to_string(), "name": "beta", "displayName": "BETA", "status": "active"},
            "error": "Site user site_beta not found",
        })
    );

    // No live entry for beta: its stored sample; neither: the error form.
    api.store
        .insert_snapshot(
            None,
            &[site_stats(beta(), "beta", now - Duration::minutes(5), 3.0)],
        )
        .await
        .unwrap();
    api.publish(snapshot(now, None));
    let (status, body) = api.get("/api/stats/sites", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = data(&body, "sites").as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    assert_eq!(list[0]["site"]["id"], json!(alpha().to_string()));
    assert_keys(&list[0], &["site", "error"], "never measured");
    assert_eq!(list[0]["error"], "Statistics not available yet");
    assert_keys(&list[1], &SITE_KEYS, "stored beta");
    assert_eq!(list[1]["cpu"]["percent"], json!(3.0));

    for who in [Who::SiteOwner, Who::ReadonlyRole] {
        let (status, body) = api.get("/api/stats/sites", Some(&api.token(who))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}: {body}");
        assert_error(&body, "sites non-admin");
    }
}

/// `/api/stats/sites` reuses its body while nothing changed: a new snapshot shows at once, a
/// site added between two polls within `SITE_LIST_TTL` (1 s).
async fn sites_list_follows_each_snapshot_and_new_sites(backend: Backend) {
    let api = TestApi::start(backend).await;
    let admin = api.token(Who::Admin);
    let now = Utc::now();
    let cpu_of_alpha =
        |body: &Value| data(body, "sites").as_array().unwrap()[0]["cpu"]["percent"].clone();

    let mut live = snapshot(now, Some(server_stats(now, 10.0)));
    live.sites = vec![
        site_stats(alpha(), "alpha", now, 20.0),
        site_stats(beta(), "beta", now, 1.0),
    ];
    api.publish(live.clone());
    let first = api.get("/api/stats/sites", Some(&admin)).await.1;
    assert_eq!(cpu_of_alpha(&first), json!(20.0));
    assert_eq!(
        api.get("/api/stats/sites", Some(&admin)).await.1,
        first,
        "same snapshot, same answer"
    );

    let later = now + Duration::seconds(30);
    live.sites = vec![
        site_stats(alpha(), "alpha", later, 35.5),
        site_stats(beta(), "beta", later, 1.0),
    ];
    api.publish(live.clone());
    let second = api.get("/api/stats/sites", Some(&admin)).await.1;
    assert_eq!(
        cpu_of_alpha(&second),
        json!(35.5),
        "the new snapshot shows: {second}"
    );

    api.import(
        "sites",
        json!({"_id": {"$oid": oid(110)}, "name": "aardvark", "displayName": "AARDVARK",
               "owner": {"$oid": Who::Admin.id().to_string()}, "status": "active"}),
    )
    .await;
    tokio::time::sleep(
        twoine_apid::http::stats::SITE_LIST_TTL + std::time::Duration::from_millis(50),
    )
    .await;
    let third = api.get("/api/stats/sites", Some(&admin)).await.1;
    let list = data(&third, "sites").as_array().unwrap();
    assert_eq!(
        list.len(),
        3,
        "the site added between two polls shows within the TTL: {third}"
    );
    assert_eq!(list[0]["site"]["name"], "aardvark");
    assert_eq!(list[0]["error"], "Statistics not available yet");
}

async fn site_stats_have_the_contract_shape(backend: Backend) {
    let api = TestApi::start(backend).await;
    let owner = api.token(Who::SiteOwner);
    let now = Utc::now();
    let path = format!("/api/stats/site/{}", alpha());

    // Nothing measured, nothing stored.
    let (status, body) = api.get(&path, Some(&owner)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "never measured");

    // The last poll failed for alpha; the stored sample is served, stale, with the reason.
    let at = now - Duration::minutes(7);
    api.store
        .insert_snapshot(None, &[site_stats(alpha(), "alpha", at, 4.0)])
        .await
        .unwrap();
    let mut live = snapshot(now, None);
    live.site_errors = vec![site_error(alpha(), "alpha", "Directory walk timed out")];
    api.publish(live);
    let (status, body) = api.get(&path, Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = data(&body, "stored site");
    assert_site_shape(d);
    assert_eq!(d["stale"], json!(true));
    assert_eq!(d["staleSince"], json!(iso(at)));
    assert_eq!(d["error"], "Directory walk timed out");

    // Live.
    let mut live = snapshot(now, None);
    live.sites = vec![site_stats(alpha(), "alpha", now, 12.34)];
    api.publish(live);
    for who in [
        Who::Admin,
        Who::SiteOwner,
        Who::OwnerAccess,
        Who::Collaborator,
        Who::ReadonlyAccess,
        Who::ReadonlyRole,
        Who::Pending,
    ] {
        let (status, body) = api.get(&path, Some(&api.token(who))).await;
        assert_eq!(status, StatusCode::OK, "{who:?}: {body}");
        let d = data(&body, "live site");
        let mut keys = SITE_KEYS.to_vec();
        keys.extend(["stale", "staleSince"]);
        assert_keys(d, &keys, "live site");
        assert_site_shape(d);
        assert_eq!(d["cpu"]["percent"], json!(12.3));
        assert_eq!(d["memory"]["usedBytes"], json!(134_217_728u64));
        assert_eq!(d["memory"]["limit"], json!(512));
        assert_eq!(
            d["domains"],
            json!([{"domain": "alpha.example", "ssl": true}])
        );
        assert_eq!(d["stale"], json!(false));
        assert_eq!(d["staleSince"], Value::Null);
    }
}

async fn site_routes_answer_400_then_404_then_403(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    let mut live = snapshot(now, None);
    live.sites = vec![
        site_stats(alpha(), "alpha", now, 1.0),
        site_stats(beta(), "beta", now, 2.0),
    ];
    api.publish(live);
    let owner = api.token(Who::SiteOwner);
    let unknown = oid(999);
    for route in [
        "/api/stats/site/{}",
        "/api/stats/site/{}/history",
        "/api/stats/services/{}",
    ] {
        let at = |id: &str| route.replace("{}", id);

        let (status, body) = api.get(&at(&alpha().to_string()), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route} no token: {body}");
        let (status, body) = api.get(&at("not-an-id"), Some(&owner)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
        assert_eq!(body["error"], "Invalid site id", "{route}");
        let (status, body) = api.get(&at("%FF%FE"), Some(&owner)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route} not UTF-8: {body}");
        assert_error(&body, "not UTF-8");
        let (status, body) = api.get(&at("0000000000000000000000zz"), Some(&owner)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
        let (status, body) = api.get(&at(&unknown), Some(&owner)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route} unknown: {body}");
        assert_error(&body, "unknown site");
        // gamma is SiteOwner's own site, soft-deleted: unknown.
        let (status, body) = api
            .get(&at(&gamma_deleted().to_string()), Some(&owner))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route} deleted: {body}");
        let (status, body) = api.get(&at(&unknown), Some(&api.token(Who::Admin))).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{route} admin unknown: {body}"
        );
        let (status, body) = api.get(&at(&beta().to_string()), Some(&owner)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{route} other's site: {body}"
        );
        assert_error(&body, "forbidden");
        let (status, body) = api
            .get(&at(&alpha().to_string()), Some(&api.token(Who::Stranger)))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route} stranger: {body}");
        let (status, body) = api.get(&at(&alpha().to_string()), Some(&owner)).await;
        assert_eq!(status, StatusCode::OK, "{route} own site: {body}");
        let (status, body) = api
            .get(&at(&beta().to_string()), Some(&api.token(Who::Admin)))
            .await;
        assert_eq!(status, StatusCode::OK, "{route} admin: {body}");
    }
    // The site is checked before the query: a stranger learns nothing from a bad query.
    let (status, body) = api
        .get(
            &format!("/api/stats/site/{}/history?hours=0", alpha()),
            Some(&api.token(Who::Stranger)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = api
        .get(
            &format!("/api/stats/site/{unknown}/history?hours=0"),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// Snapshots every 2 minutes over the last 2 hours (60, the newest a minute ago, so 30 fall
/// within the last hour whenever the request is made), server and alpha, cpu = index.
async fn fill_two_hours(api: &TestApi, now: Timestamp) {
    for i in 0..60 {
        let at = now - Duration::minutes(119) + Duration::minutes(2 * i);
        api.store
            .insert_snapshot(
                Some(&server_stats(at, i as f64)),
                &[site_stats(alpha(), "alpha", at, i as f64)],
            )
            .await
            .unwrap();
    }
}

/// `points` cover the last hour before about `now`: at most `limit`, ascending, the first
/// within the first tenth of the window, the last within the last tenth.
fn assert_covers_last_hour(points: &[Value], limit: usize, now: Timestamp, context: &str) {
    assert!(!points.is_empty(), "{context}: points expected");
    assert!(
        points.len() <= limit,
        "{context}: {} > {limit}",
        points.len()
    );
    let times: Vec<Timestamp> = points.iter().map(|p| ts(&p["timestamp"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "{context}: ascending: {times:?}"
    );
    let from = now - Duration::hours(1);
    let tenth = Duration::minutes(6);
    let slack = Duration::seconds(30);
    assert!(
        times[0] >= from && times[0] <= from + tenth + slack,
        "{context}: first point {} not in the first tenth after {from}",
        times[0]
    );
    let last = *times.last().unwrap();
    assert!(
        last >= now - tenth - slack && last <= now + slack,
        "{context}: last point {last} not in the last tenth before {now}"
    );
    for p in points {
        assert!(p["cpu"]["percent"].is_number(), "{context}: {p}");
    }
}

async fn server_history_covers_the_window_ascending(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    fill_two_hours(&api, now).await;
    let admin = api.token(Who::Admin);

    let (status, body) = api
        .get("/api/stats/server/history?hours=1&limit=10", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = data(&body, "history").as_array().unwrap();
    assert_covers_last_hour(points, 10, now, "server hours=1 limit=10");
    for p in points {
        assert!(p["disk"]["percent"].is_u64(), "{p}");
        assert!(p["memory"]["total"].is_u64(), "{p}");
    }

    // Defaults: the last hour, at most 60 points: the 30 samples of that hour.
    let (status, body) = api.get("/api/stats/server/history", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = data(&body, "default history").as_array().unwrap();
    assert_covers_last_hour(points, 60, now, "server defaults");
    assert_eq!(points.len(), 30, "the 30 samples of the last hour");
    assert_eq!(points[0]["cpu"]["percent"], json!(30.0));

    // 3 hours in up to 200 points of 54 s: every sample of the 2 hours.
    let (status, body) = api
        .get("/api/stats/server/history?hours=3&limit=200", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        data(&body, "3 hours").as_array().unwrap().len(),
        60,
        "every sample"
    );

    // The 7-day chart: a week in 50-minute points, the 2 hours in a few of them.
    let (status, body) = api
        .get(
            "/api/stats/server/history?hours=168&limit=200",
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = data(&body, "week").as_array().unwrap();
    assert!((2..=4).contains(&points.len()), "{} points", points.len());
    let times: Vec<Timestamp> = points.iter().map(|p| ts(&p["timestamp"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "ascending: {times:?}"
    );

    let (status, body) = api
        .get(
            "/api/stats/server/history",
            Some(&api.token(Who::SiteOwner)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

async fn site_history_covers_the_window_ascending(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    fill_two_hours(&api, now).await;
    let path = format!("/api/stats/site/{}/history?hours=1&limit=10", alpha());
    let (status, body) = api.get(&path, Some(&api.token(Who::ReadonlyAccess))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = data(&body, "site history").as_array().unwrap();
    assert_covers_last_hour(points, 10, now, "site hours=1 limit=10");
    for p in points {
        assert_eq!(p["site"]["id"], json!(alpha().to_string()), "{p}");
        assert!(p["disk"]["usedBytes"].is_u64(), "{p}");
    }
    // beta has no samples: an empty history, not an error.
    let (status, body) = api
        .get(
            &format!("/api/stats/site/{}/history", beta()),
            Some(&api.token(Who::Admin)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(data(&body, "empty history"), &json!([]));
}

async fn history_parameters_are_validated(backend: Backend) {
    let api = TestApi::start(backend).await;
    let admin = api.token(Who::Admin);
    let cases = [
        ("hours=0", "hours must be an integer between 1 and 168"),
        ("hours=169", "hours must be an integer between 1 and 168"),
        ("hours=-1", "hours must be an integer between 1 and 168"),
        ("hours=1e9", "hours must be an integer between 1 and 168"),
        (
            "hours=1000000000",
            "hours must be an integer between 1 and 168",
        ),
        ("hours=abc", "hours must be an integer between 1 and 168"),
        ("hours=", "hours must be an integer between 1 and 168"),
        ("hours=2.5", "hours must be an integer between 1 and 168"),
        ("limit=0", "limit must be an integer between 1 and 200"),
        ("limit=201", "limit must be an integer between 1 and 200"),
        ("limit=ten", "limit must be an integer between 1 and 200"),
        (
            "hours=24&limit=-3",
            "limit must be an integer between 1 and 200",
        ),
    ];
    for base in [
        "/api/stats/server/history".to_owned(),
        format!("/api/stats/site/{}/history", alpha()),
    ] {
        for (query, reason) in cases {
            let (status, body) = api.get(&format!("{base}?{query}"), Some(&admin)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{base}?{query}: {body}");
            assert_error(&body, query);
            assert_eq!(body["error"], reason, "{base}?{query}");
        }
        for (query, names) in [
            ("status[$ne]=x", "status[$ne]"),
            ("hours=1&sort=-1", "sort"),
        ] {
            let (status, body) = api.get(&format!("{base}?{query}"), Some(&admin)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{base}?{query}: {body}");
            assert_error(&body, query);
            assert!(
                body["error"].as_str().unwrap().contains(names),
                "{base}?{query}: the reason names the parameter: {body}"
            );
        }
        let (status, body) = api
            .get(&format!("{base}?hours=1&hours=2"), Some(&admin))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{base} duplicate: {body}");
        assert!(body["error"].as_str().unwrap().contains("hours"), "{body}");
    }
}

async fn site_services_show_their_units(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    let path = format!("/api/stats/services/{}", alpha());
    let owner = api.token(Who::SiteOwner);

    // Not followed yet: nulls and an error, never a failed request.
    let (status, body) = api.get(&path, Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = data(&body, "services").as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    assert_unknown_unit(&rows[0]);

    let since = now - Duration::hours(1);
    let mut live = snapshot(now, None);
    live.services = vec![
        service_live(
            alpha_web(),
            alpha(),
            "web",
            "twoine-alpha-web.service",
            Some(running_unit("twoine-alpha-web.service", since, now)),
        ),
        service_live(beta_api(), beta(), "api", "twoine-beta-api.service", None),
    ];
    api.publish(live);
    let (status, body) = api.get(&path, Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = data(&body, "services").as_array().unwrap();
    assert_eq!(rows.len(), 1, "only alpha's services: {body}");
    let row = &rows[0];
    assert_keys(
        row,
        &[
            "id",
            "name",
            "displayName",
            "type",
            "port",
            "workingDir",
            "status",
            "systemd",
            "resources",
        ],
        "service row",
    );
    assert_eq!(row["id"], json!(alpha_web().to_string()));
    assert_eq!(row["name"], "web");
    assert_eq!(row["displayName"], "WEB");
    assert_eq!(row["type"], "node");
    assert_eq!(row["port"], json!(10000));
    assert_eq!(row["workingDir"], "/var/www/twoine/alpha/web");
    assert_eq!(
        row["status"],
        json!({"current": "running", "desired": "running"})
    );
    assert_eq!(
        row["resources"],
        json!({"maxMemoryMB": 256, "maxCpuPercent": 50.0})
    );
    let sd = &row["systemd"];
    assert_keys(sd, &SYSTEMD_KEYS, "systemd");
    assert_eq!(sd["serviceName"], "twoine-alpha-web");
    assert_eq!(sd["active"], json!(true));
    assert_eq!(sd["running"], json!(true));
    assert_eq!(sd["pid"], json!(4242));
    let uptime = sd["uptime"].as_u64().unwrap();
    assert!((3595..=3700).contains(&uptime), "uptime {uptime}");
    assert_eq!(sd["memory"], json!(52_428_800));
    assert_eq!(sd["cpu"], json!(12.345));
    assert_eq!(sd["startedAt"], json!(iso(since)));
    assert_eq!(sd["failureCount"], json!(2));
    assert_eq!(sd["error"], Value::Null);

    // Unit state lost (agent or systemd away).
    let mut live = snapshot(now, None);
    live.services = vec![service_live(
        alpha_web(),
        alpha(),
        "web",
        "twoine-alpha-web.service",
        None,
    )];
    api.publish(live);
    let (status, body) = api.get(&path, Some(&api.token(Who::ReadonlyRole))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_unknown_unit(&data(&body, "unknown")[0]);

    // A failed unit says so.
    let mut live = snapshot(now, None);
    live.services = vec![service_live(
        alpha_web(),
        alpha(),
        "web",
        "twoine-alpha-web.service",
        Some(failed_unit("twoine-alpha-web.service", now)),
    )];
    api.publish(live);
    let (status, body) = api.get(&path, Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sd = &data(&body, "failed")[0]["systemd"];
    assert_eq!(sd["active"], json!(false));
    assert_eq!(sd["running"], json!(false));
    assert_eq!(sd["pid"], Value::Null);
    assert_eq!(sd["uptime"], json!(0));
    assert_eq!(sd["startedAt"], Value::Null);
    assert_eq!(sd["failureCount"], json!(5));
    assert_eq!(sd["error"], "Unit failed (exit-code)");
}

const SYSTEMD_KEYS: [&str; 13] = [
    "serviceName",
    "active",
    "running",
    "pid",
    "uptime",
    "memory",
    "cpu",
    "startedAt",
    "failureCount",
    "error",
    "activeState",
    "subState",
    "loadState",
];

fn assert_unknown_unit(row: &Value) {
    let sd = &row["systemd"];
    assert_keys(sd, &SYSTEMD_KEYS, "unknown systemd");
    assert_eq!(sd["serviceName"], "twoine-alpha-web");
    for k in [
        "active",
        "running",
        "pid",
        "uptime",
        "memory",
        "cpu",
        "startedAt",
        "failureCount",
    ] {
        assert_eq!(sd[k], Value::Null, "{k}: {sd}");
    }
    assert!(
        sd["error"].as_str().is_some_and(|e| !e.is_empty()),
        "an error says why: {sd}"
    );
}

async fn services_summary_counts_units(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    let mut live = snapshot(now, None);
    live.services = vec![
        service_live(
            beta_api(),
            beta(),
            "api",
            "twoine-beta-api.service",
            Some(failed_unit("twoine-beta-api.service", now)),
        ),
        service_live(
            alpha_web(),
            alpha(),
            "web",
            "twoine-alpha-web.service",
            Some(running_unit("twoine-alpha-web.service", now, now)),
        ),
        service_live(
            oid(250).parse().unwrap(),
            alpha(),
            "cron",
            "twoine-alpha-cron.service",
            None,
        ),
    ];
    api.publish(live);
    let (status, body) = api
        .get("/api/stats/services", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        data(&body, "services"),
        &json!({
            "total": 3, "running": 1, "stopped": 1, "failed": 1,
            "services": [
                {"name": "twoine-alpha-cron.service", "load": "unknown", "active": "unknown", "sub": "unknown", "running": false},
                {"name": "twoine-alpha-web.service", "load": "loaded", "active": "active", "sub": "running", "running": true},
                {"name": "twoine-beta-api.service", "load": "loaded", "active": "failed", "sub": "failed", "running": false},
            ],
        })
    );
    let (status, body) = api
        .get("/api/stats/services", Some(&api.token(Who::OwnerAccess)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "services non-admin");
}

async fn databases_are_counted_by_type(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (status, body) = api
        .get("/api/stats/databases", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        data(&body, "databases"),
        &json!({"total": 1, "byType": {"mongodb": 0, "mysql": 1, "postgresql": 0}})
    );
    let (status, body) = api
        .get("/api/stats/databases", Some(&api.token(Who::SiteOwner)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = api.get("/api/stats/databases", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
