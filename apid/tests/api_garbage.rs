//! Every query parameter, path id and body tried with injection and garbage: each is a 400
//! with a reason, never a 500, never passed to the store, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::api::*;

/// `(method, path, body, a word the reason must contain)`.
fn cases() -> Vec<(Method, String, Option<Value>, &'static str)> {
    let a = alpha();
    let mut v: Vec<(Method, String, Option<Value>, &'static str)> = Vec::new();
    let get = |p: String, word: &'static str| (Method::GET, p, None, word);
    for q in [
        "hours=0",
        "hours=169",
        "hours=-1",
        "hours=1e9",
        "hours=abc",
        "hours=",
        "hours=99999999999999999999999",
        "hours=1.5",
        "limit=0",
        "limit=201",
        "limit=-5",
        "limit=NaN",
    ] {
        let word = q.split('=').next().unwrap();
        v.push(get(format!("/api/stats/server/history?{q}"), word));
        v.push(get(format!("/api/stats/site/{a}/history?{q}"), word));
    }
    for q in [
        "status[$ne]=x",
        "hours[$gt]=0",
        "where=1",
        "%24where=sleep(1)",
    ] {
        v.push(get(format!("/api/stats/server/history?{q}"), ""));
    }
    for q in [
        "status[$ne]=x",
        "status=bogus",
        "status=",
        "status=active%00",
        "severity=loud",
        "siteId=zz",
        "siteId[$ne]=1",
        "limit=0",
        "limit=101",
        "limit=-1",
    ] {
        v.push(get(format!("/api/stats/alerts?{q}"), ""));
    }
    for id in [
        "xyz",
        "00000000000000000000000",
        "0000000000000000000000000",
        "gggggggggggggggggggggggg",
        "%7B%22%24ne%22%3A1%7D",
        "..%2F..%2Fetc",
        "99999999999999999999999999999",
        "-1",
        "%00",
        "000000000000000000000064%00",
    ] {
        v.push(get(format!("/api/stats/site/{id}"), "id"));
        v.push(get(format!("/api/stats/site/{id}/history"), "id"));
        v.push(get(format!("/api/stats/services/{id}"), "id"));
        v.push((
            Method::POST,
            format!("/api/stats/alerts/{id}/acknowledge"),
            None,
            "id",
        ));
        v.push((
            Method::POST,
            format!("/api/stats/alerts/{id}/resolve"),
            None,
            "id",
        ));
        v.push((
            Method::POST,
            format!("/api/services/{id}/restart"),
            None,
            "id",
        ));
    }
    let put = |b: Value| (Method::PUT, "/api/stats/config".to_owned(), Some(b), "");
    for body in [
        json!({"collectionInterval": 5}),
        json!({"collectionInterval": 301}),
        json!({"collectionInterval": "30"}),
        json!({"collectionInterval": -30}),
        json!({"collectionInterval": 1e300}),
        json!({"retentionHours": 0}),
        json!({"retentionHours": 169}),
        json!({"alertThresholds": {"cpu": {"warning": 95, "critical": 90}}}),
        json!({"alertThresholds": {"disk": {"warning": -1, "critical": 90}}}),
        json!({"alertThresholds": {"memory": {"warning": 50, "critical": 101}}}),
        json!({"$set": {"collectionInterval": 10}}),
        json!({"collectionInterval": {"$gt": 0}}),
        json!([1, 2, 3]),
        json!("collectionInterval=30"),
    ] {
        v.push(put(body));
    }
    v
}

async fn run(backend: Backend) {
    let api = TestApi::start(backend).await;
    api.publish(sample_live(Utc::now()));
    let admin = api.token(Who::Admin);
    let before_config = api.get("/api/stats/config", Some(&admin)).await.1;
    let mut failures = Vec::new();
    let cases = cases();
    for (method, path, body, word) in &cases {
        let (status, body) = api
            .send(method.clone(), path, Some(&admin), body.clone())
            .await;
        let reason = body["error"].as_str().unwrap_or("");
        if status != StatusCode::BAD_REQUEST || body["success"] != false || reason.is_empty() {
            failures.push(format!("{method} {path}: {status} {body}"));
        } else if !reason.to_lowercase().contains(word) {
            failures.push(format!(
                "{method} {path}: the reason does not name `{word}`: {reason}"
            ));
        }
    }
    // A body that is not JSON at all.
    let resp = api
        .http
        .put(format!("{}/api/stats/config", api.url))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"collectionInterval\": 30")
        .send()
        .await
        .unwrap();
    if resp.status() != StatusCode::BAD_REQUEST {
        failures.push(format!("truncated JSON body: {}", resp.status()));
    }
    assert!(
        failures.is_empty(),
        "{} of {} garbage requests mishandled:\n{}",
        failures.len(),
        cases.len() + 1,
        failures.join("\n")
    );
    // Nothing was changed by any of them.
    assert_eq!(
        api.get("/api/stats/config", Some(&admin)).await.1,
        before_config
    );
    eprintln!(
        "{backend:?}: {} garbage requests, each a 400 with a reason",
        cases.len() + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_400_with_a_reason_embedded() {
    run(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_400_with_a_reason_mongo() {
    run(Backend::Mongo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_bodies_with_operators_are_refused() {
    let api = TestApi::start(Backend::Embedded).await;
    for body in [
        json!({"email": {"$ne": null}, "password": "x"}),
        json!({"username": "admin", "password": {"$gt": ""}}),
        json!({"email": "admin"}),
        json!({"password": PASSWORD}),
        json!({"email": ["admin"], "password": PASSWORD}),
    ] {
        let (status, resp) = api.post("/api/auth/login", None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {resp}");
        assert_error(&resp, "login garbage");
    }
}
