//! The API fixture itself, and the routes that exist in every build: health and the JSON 404.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use support::api::{Backend, TestApi, assert_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_public_and_says_the_agent_is_away() {
    let api = TestApi::start(Backend::Embedded).await;
    let (status, body) = api.get("/api/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime"].is_number());
    assert_eq!(body["agent"]["connected"], false, "{body}");
    assert_eq!(body["store"]["connected"], true, "{body}");
    assert_eq!(body["degraded"], true);
    assert!(body.get("data").is_none(), "no data envelope: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_json_404s() {
    let api = TestApi::start(Backend::Embedded).await;
    let (status, body) = api.get("/api/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "unknown route");
}
