//! `GET /api/openapi.json`: the document generated from the handlers' annotations, checked
//! against the router both ways:
//! - every route the code registers (read from the `.route("…", get(…).put(…))` calls of
//!   `src/http` and `src/ws`) is in the document with its methods;
//! - every documented path and method, called with an admin token on a real server, answers
//!   (not the router's "Route … not found") with a status code the document lists for it.
//!
//! Both stores.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::api::*;

/// `(method, path)` of every `.route(...)` call in the Rust files under `dir`.
fn routes_in_source(dir: &Path) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(routes_in_source(&path));
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Each `.route(` up to the next one (or the end of the builder).
        let calls: Vec<&str> = text.split(".route(").skip(1).collect();
        for call in calls {
            let call = call.split("\n}").next().unwrap();
            let Some(start) = call.find('"') else {
                continue;
            };
            let rest = &call[start + 1..];
            let route = &rest[..rest.find('"').unwrap()];
            let after = &rest[route.len()..];
            let mut found = false;
            for method in ["get", "post", "put", "delete", "patch"] {
                let mut from = 0;
                while let Some(i) = after[from..].find(&format!("{method}(")) {
                    let at = from + i;
                    let before = after[..at].chars().last();
                    if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        out.insert((method.to_owned(), route.to_owned()));
                        found = true;
                    }
                    from = at + 1;
                }
            }
            assert!(found, "{}: no method for {route}", path.display());
        }
    }
    out
}

/// Every route the code registers.
fn code_routes() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = routes_in_source(&src.join("http"));
    all.extend(routes_in_source(&src.join("ws")));
    all
}

/// Whether a concrete or templated `path` is an instance of the documented `template`.
fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

/// `(method, path template)` of every documented operation.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

async fn fetch_document(api: &TestApi) -> Value {
    let resp = api
        .http
        .get(format!("{}/api/openapi.json", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    serde_json::from_str(&resp.text().await.unwrap()).expect("the document is JSON")
}

/// The schema a `$ref` names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            let s = &doc["components"]["schemas"][name];
            assert!(s.is_object(), "dangling $ref {r}");
            resolve(doc, s)
        }
        None => schema,
    }
}

/// A concrete path for a template: fixture ids in the segments, one path per `{action}`.
fn instances(template: &str) -> Vec<String> {
    let alert = if template.ends_with("/resolve") {
        alert_beta()
    } else {
        alert_alpha()
    };
    let base = template
        .replace("{site_id}", &alpha().to_string())
        .replace("{alert_id}", &alert.to_string())
        .replace("{service_id}", &alpha_web().to_string());
    if base.contains("{action}") {
        ["start", "stop", "restart"]
            .iter()
            .map(|a| base.replace("{action}", a))
            .collect()
    } else {
        assert!(!base.contains('{'), "no fixture value for {template}");
        vec![base]
    }
}

async fn document_is_openapi_3(backend: Backend) {
    let api = TestApi::start(backend).await;
    let doc = fetch_document(&api).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3."), "openapi {version}");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // Served as built by the code, and public: the same with an admin token.
    let built: Value =
        serde_json::from_str(&twoine_apid::http::openapi::document().to_json().unwrap()).unwrap();
    assert_eq!(doc, built);
    let (status, with_token) = api
        .get("/api/openapi.json", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(with_token, doc);

    // The bearer JWT scheme, required by the authenticated routes, not by the public ones.
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme}");
    let security = |path: &str, method: &str| doc["paths"][path][method]["security"].clone();
    assert_eq!(
        security("/api/stats/server", "get"),
        serde_json::json!([{"bearer": []}])
    );
    assert_eq!(
        security("/api/stats/config", "put"),
        serde_json::json!([{"bearer": []}])
    );
    assert!(security("/api/health", "get").is_null());
    assert!(security("/api/auth/login", "post").is_null());
    assert!(security("/api/openapi.json", "get").is_null());

    // History parameters with their ranges.
    let params = doc["paths"]["/api/stats/server/history"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for (name, max) in [("hours", 168), ("limit", 200)] {
        let p = params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {params:?}"));
        assert_eq!(p["in"], "query", "{p}");
        assert_eq!(p["required"], false, "{p}");
        assert_eq!(p["schema"]["minimum"], 1, "{p}");
        assert_eq!(p["schema"]["maximum"], max, "{p}");
    }

    // ServerStats: `cpu.percent` is a number, `timestamp` a date-time; ids are 24 hex digits.
    let server = resolve(&doc, &doc["components"]["schemas"]["ServerStats"]);
    let cpu = resolve(&doc, &server["properties"]["cpu"]);
    assert_eq!(cpu["properties"]["percent"]["type"], "number", "{cpu}");
    assert_eq!(
        cpu["properties"]["loadAvg"]["$ref"],
        "#/components/schemas/LoadAvg"
    );
    assert_eq!(server["properties"]["timestamp"]["type"], "string");
    assert_eq!(server["properties"]["timestamp"]["format"], "date-time");
    let id = &doc["components"]["schemas"]["Id"];
    assert_eq!(id["type"], "string", "{id}");
    assert_eq!(id["pattern"], "^[0-9a-f]{24}$", "{id}");

    // The success answer of the server stats is the envelope around ServerStats.
    let ok = &doc["paths"]["/api/stats/server"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let ok = resolve(&doc, ok);
    assert!(
        ok["required"]
            .as_array()
            .unwrap()
            .contains(&"success".into()),
        "{ok}"
    );
    assert_eq!(
        resolve(&doc, &ok["properties"]["data"])["properties"]["cpu"],
        server["properties"]["cpu"],
        "{ok}"
    );
    // Failures are the error envelope.
    let err = &doc["paths"]["/api/stats/server"]["get"]["responses"]["403"]["content"]["application/json"]
        ["schema"];
    let err = resolve(&doc, err);
    assert_eq!(err["properties"]["success"]["type"], "boolean", "{err}");
    assert_eq!(err["properties"]["error"]["type"], "string", "{err}");
    assert!(err["properties"]["errors"].is_object(), "{err}");
}

/// Every route registered in the code is documented with each of its methods.
async fn every_route_is_documented(backend: Backend) {
    let api = TestApi::start(backend).await;
    let doc = fetch_document(&api).await;
    let documented = documented(&doc);
    let code = code_routes();
    assert!(
        code.len() >= 25,
        "the source scan found too few routes: {code:?}"
    );
    let missing: Vec<_> = code
        .iter()
        .filter(|(m, p)| !documented.iter().any(|(dm, dp)| dm == m && matches(dp, p)))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    // And the reverse on the names: nothing documented that no route serves.
    let ghosts: Vec<_> = documented
        .iter()
        .filter(|(dm, dp)| !code.iter().any(|(m, p)| dm == m && matches(dp, p)))
        .collect();
    assert!(ghosts.is_empty(), "documented but not routed: {ghosts:?}");
    // Concrete paths as the clients call them.
    for (method, path) in [
        ("get", format!("/api/stats/site/{}/history", alpha())),
        ("post", format!("/api/services/{}/restart", alpha_web())),
        (
            "post",
            format!("/api/stats/alerts/{}/acknowledge", alert_alpha()),
        ),
        ("put", "/api/stats/config".to_owned()),
        ("get", "/metrics".to_owned()),
    ] {
        assert!(
            documented
                .iter()
                .any(|(m, p)| *m == method && matches(p, &path)),
            "{method} {path}"
        );
    }
}

/// Every documented operation answers, with a status code the document lists for it.
async fn every_documented_route_answers(backend: Backend) {
    let api = TestApi::start(backend).await;
    api.publish(sample_live(Utc::now()));
    let doc = fetch_document(&api).await;
    let admin = api.token(Who::Admin);
    let mut calls = 0;
    for (method, template) in documented(&doc) {
        let op = &doc["paths"][&template][&method];
        let listed: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        for path in instances(&template) {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = api
                .http
                .request(m, format!("{}{}", api.url, path))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or_default();
            assert_ne!(
                body["error"],
                format!("Route {path} not found"),
                "{method} {path} is documented but not routed"
            );
            assert!(
                listed.contains(&&status.as_u16().to_string()),
                "{method} {path} answered {status}, the document lists {listed:?}: {body}"
            );
            calls += 1;
        }
    }
    assert!(calls >= 25, "{calls} calls");
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Backend::Embedded).await;
                }
            )*
        }
        mod mongo {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Backend::Mongo).await;
                }
            )*
        }
    };
}

both!(
    document_is_openapi_3,
    every_route_is_documented,
    every_documented_route_answers,
);

#[test]
fn templates_match_concrete_paths() {
    assert!(matches("/api/stats/site/{site_id}", "/api/stats/site/abc"));
    assert!(matches(
        "/api/services/{service_id}/{action}",
        "/api/services/{service_id}/stop"
    ));
    assert!(!matches(
        "/api/stats/site/{site_id}",
        "/api/stats/site/abc/history"
    ));
    assert!(!matches("/api/stats/server", "/api/stats/system"));
}

#[test]
fn the_source_scan_finds_multi_method_and_multi_line_routes() {
    let code = code_routes();
    assert!(code.contains(&("put".into(), "/api/stats/config".into())));
    assert!(code.contains(&("get".into(), "/api/stats/config".into())));
    assert!(code.contains(&("post".into(), "/api/services/{service_id}/restart".into())));
    assert!(code.contains(&("get".into(), "/api/openapi.json".into())));
}
