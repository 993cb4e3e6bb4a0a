//! The route × caller matrix (CONTRACT §3–§4), generated from one table: every route instance
//! below is called by every kind of caller, and each answer's status code and body shape is
//! asserted. Who may do what is written out here from the contract, independently of the
//! permissions module. Authorization failures are 403, never 401.
//!
//! The same matrix runs on the embedded store and on MongoDB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::api::*;
use twoine_apid::http::auth::{Claims, TokenKind};
use twoine_apid::model::Id;

/// A kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    BadSignature,
    AlgNone,
    Expired,
    RefreshAsAccess,
    User(Who),
}

fn callers() -> Vec<Caller> {
    let mut v = vec![
        Caller::Anonymous,
        Caller::BadSignature,
        Caller::AlgNone,
        Caller::Expired,
        Caller::RefreshAsAccess,
    ];
    v.extend(Who::ALL.iter().map(|w| Caller::User(*w)));
    v
}

/// Who may pass a route.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Everyone, token or not.
    Public,
    /// Any authenticated, non-blocked user.
    Any,
    /// Admins only.
    Admin,
    /// Admins and users who may read the site.
    Read(Site),
    /// Admins and users who may act on the site's services.
    Act(Site),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    Alpha,
    Beta,
}

/// What a successful answer holds.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `{success: true, data: {…}}`.
    Object,
    /// `{success: true, data: […]}`.
    Array,
    /// `/api/health`: `{success, status: "ok", version, timestamp, uptime}`, no `data`.
    Health,
    /// Prometheus text.
    Text,
    /// An error envelope (the allowed callers' expected status is not 2xx).
    Error,
}

struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    rule: Rule,
    /// Status for a caller the rule lets through.
    allowed: StatusCode,
    shape: Shape,
    /// The route changes state so a second caller would see another answer: each caller gets
    /// a fresh fixture.
    fresh: bool,
}

fn route(method: Method, path: String, rule: Rule, allowed: StatusCode, shape: Shape) -> Route {
    Route {
        method,
        path,
        body: None,
        rule,
        allowed,
        shape,
        fresh: false,
    }
}

fn routes() -> Vec<Route> {
    use Method as M;
    use Rule::*;
    use Shape::*;
    let ok = StatusCode::OK;
    let a = alpha();
    let b = beta();
    let mut v = vec![
        route(M::GET, "/api/health".into(), Public, ok, Health),
        route(M::GET, "/api/stats/server".into(), Admin, ok, Object),
        route(
            M::GET,
            "/api/stats/server/history?hours=1&limit=10".into(),
            Admin,
            ok,
            Array,
        ),
        route(M::GET, "/api/stats/system".into(), Any, ok, Object),
        route(M::GET, "/api/stats/sites".into(), Admin, ok, Array),
        route(
            M::GET,
            format!("/api/stats/site/{a}"),
            Read(Site::Alpha),
            ok,
            Object,
        ),
        route(
            M::GET,
            format!("/api/stats/site/{a}/history?hours=2"),
            Read(Site::Alpha),
            ok,
            Array,
        ),
        route(
            M::GET,
            format!("/api/stats/services/{a}"),
            Read(Site::Alpha),
            ok,
            Array,
        ),
        route(
            M::GET,
            format!("/api/stats/site/{b}"),
            Read(Site::Beta),
            ok,
            Object,
        ),
        route(
            M::GET,
            format!("/api/stats/services/{b}"),
            Read(Site::Beta),
            ok,
            Array,
        ),
        route(
            M::GET,
            format!("/api/stats/site/{}", gamma_deleted()),
            Any,
            StatusCode::NOT_FOUND,
            Error,
        ),
        route(
            M::GET,
            format!("/api/stats/site/{}", oid(0xdead)),
            Any,
            StatusCode::NOT_FOUND,
            Error,
        ),
        route(
            M::GET,
            "/api/stats/site/not-an-id".into(),
            Any,
            StatusCode::BAD_REQUEST,
            Error,
        ),
        route(M::GET, "/api/stats/services".into(), Admin, ok, Object),
        route(M::GET, "/api/stats/databases".into(), Admin, ok, Object),
        route(M::GET, "/api/stats/alerts".into(), Any, ok, Array),
        route(
            M::GET,
            "/api/stats/alerts?status=resolved".into(),
            Any,
            ok,
            Array,
        ),
        route(M::GET, "/api/stats/config".into(), Admin, ok, Object),
        route(M::GET, "/api/stats/websocket".into(), Admin, ok, Object),
        route(
            M::POST,
            format!("/api/stats/alerts/{}/acknowledge", alert_alpha()),
            Act(Site::Alpha),
            ok,
            Object,
        ),
        route(
            M::POST,
            format!("/api/stats/alerts/{}/acknowledge", alert_server()),
            Admin,
            ok,
            Object,
        ),
        route(
            M::POST,
            format!("/api/stats/alerts/{}/acknowledge", alert_alpha_resolved()),
            Act(Site::Alpha),
            StatusCode::CONFLICT,
            Error,
        ),
        // The agent is away in this fixture: callers allowed to act get 503, the others 403.
        route(
            M::POST,
            format!("/api/services/{}/restart", alpha_web()),
            Act(Site::Alpha),
            StatusCode::SERVICE_UNAVAILABLE,
            Error,
        ),
        route(
            M::POST,
            format!("/api/services/{}/stop", beta_api()),
            Act(Site::Beta),
            StatusCode::SERVICE_UNAVAILABLE,
            Error,
        ),
        route(M::GET, "/api/auth/me".into(), Any, ok, Object),
        route(M::GET, "/metrics".into(), Admin, ok, Text),
    ];
    v.push(Route {
        body: Some(json!({"collectionInterval": 45})),
        ..route(M::PUT, "/api/stats/config".into(), Admin, ok, Object)
    });
    v.push(Route {
        fresh: true,
        ..route(
            M::POST,
            format!("/api/stats/alerts/{}/resolve", alert_beta()),
            Admin,
            ok,
            Object,
        )
    });
    v
}

fn is_admin(w: Who) -> bool {
    matches!(w, Who::Admin | Who::InstallerAdmin)
}

/// Who reads which site, from the seeded world (CONTRACT §4: admin, `Site.owner`, or the site in
/// `users.sites` at any level).
fn reads(w: Who, s: Site) -> bool {
    is_admin(w)
        || match s {
            Site::Alpha => matches!(
                w,
                Who::SiteOwner
                    | Who::OwnerAccess
                    | Who::Collaborator
                    | Who::ReadonlyAccess
                    | Who::ReadonlyRole
                    | Who::Pending
            ),
            Site::Beta => w == Who::Stranger,
        }
}

/// Who acts on which site's services (admin; role user owning the site or with owner /
/// collaborator access; never role readonly, never readonly access).
fn acts(w: Who, s: Site) -> bool {
    is_admin(w)
        || match s {
            Site::Alpha => matches!(
                w,
                Who::SiteOwner | Who::OwnerAccess | Who::Collaborator | Who::Pending
            ),
            Site::Beta => w == Who::Stranger,
        }
}

fn expected(route: &Route, caller: Caller) -> StatusCode {
    if let Rule::Public = route.rule {
        return route.allowed;
    }
    let who = match caller {
        Caller::User(w) => w,
        _ => return StatusCode::UNAUTHORIZED,
    };
    if who == Who::Blocked {
        return StatusCode::FORBIDDEN;
    }
    let pass = match route.rule {
        Rule::Public | Rule::Any => true,
        Rule::Admin => is_admin(who),
        Rule::Read(s) => reads(who, s),
        Rule::Act(s) => acts(who, s),
    };
    if pass {
        route.allowed
    } else {
        StatusCode::FORBIDDEN
    }
}

fn forged(api: &TestApi, caller: Caller) -> Option<String> {
    let now = Utc::now().timestamp();
    let claims = |exp: i64| Claims {
        user_id: Who::Admin.id().to_string(),
        username: "admin".into(),
        email: "admin@example.org".into(),
        role: None,
        impersonated_by: None,
        kind: TokenKind::Access,
        iat: now - 10,
        exp,
    };
    match caller {
        Caller::Anonymous => None,
        Caller::BadSignature => Some(
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims(now + 3600),
                &EncodingKey::from_secret(b"another-secret-another-secret-another"),
            )
            .unwrap(),
        ),
        Caller::AlgNone => {
            let payload = serde_json::to_vec(&claims(now + 3600)).unwrap();
            Some(format!(
                "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
                b64url(&payload)
            ))
        }
        Caller::Expired => Some(
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims(now - 5),
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .unwrap(),
        ),
        Caller::RefreshAsAccess => Some(api.token_of(Who::Admin, TokenKind::Refresh)),
        Caller::User(w) => Some(api.token(w)),
    }
}

fn b64url(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn call(api: &TestApi, route: &Route, token: Option<&str>) -> (StatusCode, String) {
    let mut req = api
        .http
        .request(route.method.clone(), format!("{}{}", api.url, route.path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = &route.body {
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// Checks one answer; returns what is wrong.
fn check(route: &Route, want: StatusCode, got: StatusCode, text: &str) -> Option<String> {
    if got != want {
        return Some(format!("status {got}, expected {want}; body {text:.200}"));
    }
    let shape = if want.is_success() {
        route.shape
    } else {
        Shape::Error
    };
    if let Shape::Text = shape {
        return (!text.contains("# TYPE ")).then(|| format!("not Prometheus text: {text:.200}"));
    }
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return Some(format!("not JSON: {text:.200}"));
    };
    let ok = match shape {
        Shape::Object => body["success"] == true && body["data"].is_object(),
        Shape::Array => body["success"] == true && body["data"].is_array(),
        Shape::Health => {
            body["success"] == true
                && body["status"] == "ok"
                && body["version"].is_string()
                && body["uptime"].is_number()
                && body.get("data").is_none()
        }
        Shape::Error => {
            body["success"] == false
                && body["error"].as_str().is_some_and(|e| !e.is_empty())
                && body.get("data").is_none()
        }
        Shape::Text => unreachable!(),
    };
    (!ok).then(|| format!("body shape is not {shape:?}: {body}"))
}

async fn fixture(backend: Backend) -> TestApi {
    let api = TestApi::start(backend).await;
    api.publish(sample_live(Utc::now()));
    api
}

async fn run_matrix(backend: Backend) {
    let shared = fixture(backend).await;
    let mut cases = 0;
    let mut failures = Vec::new();
    for route in routes() {
        for caller in callers() {
            let fresh;
            let api = if route.fresh {
                fresh = fixture(backend).await;
                &fresh
            } else {
                &shared
            };
            let token = forged(api, caller);
            let want = expected(&route, caller);
            let (got, text) = call(api, &route, token.as_deref()).await;
            cases += 1;
            if let Some(why) = check(&route, want, got, &text) {
                failures.push(format!(
                    "{} {} as {caller:?}: {why}",
                    route.method, route.path
                ));
            }
        }
    }
    eprintln!("{backend:?}: {cases} route × caller cases");
    assert!(
        cases >= 300,
        "the matrix is meant to hold at least 300 cases, has {cases}"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_caller_matrix_embedded() {
    run_matrix(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_caller_matrix_mongo() {
    run_matrix(Backend::Mongo).await;
}

/// Ids in the table are the fixture's: a sanity check that they differ.
#[test]
fn fixture_ids_are_distinct() {
    let ids: std::collections::HashSet<Id> =
        [alpha(), beta(), gamma_deleted(), alpha_web(), beta_api()].into();
    assert_eq!(ids.len(), 5);
}
