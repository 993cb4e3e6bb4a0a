//! Standalone login, refresh and me (CONTRACT §3), on both stores: credentials, lockout after
//! five failures, rate limit per client address, blocked accounts, token kinds, drop-in mode.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::{Backend, Options, PASSWORD, TestApi, Who, alpha, assert_error, data};
use twoine_apid::http::Mode;
use twoine_apid::http::auth::TokenKind;

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
    login_answers_the_user_and_working_tokens,
    wrong_password_and_unknown_user_look_the_same,
    five_failures_lock_the_account_for_thirty_minutes,
    a_success_resets_the_failure_count,
    logins_are_rate_limited_per_client_address,
    blocked_users_are_refused_only_with_the_right_password,
    refresh_gives_a_new_access_token_for_refresh_tokens_only,
    me_is_the_caller,
    drop_in_mode_leaves_login_and_refresh_to_twoine,
);

async fn login(api: &TestApi, body: Value) -> (StatusCode, Value) {
    api.post("/api/auth/login", None, Some(body)).await
}

/// A login attempt as forwarded by a local reverse proxy for `client`.
async fn login_from(api: &TestApi, client: &str, body: Value) -> reqwest::Response {
    api.http
        .post(format!("{}/api/auth/login", api.url))
        .header("X-Forwarded-For", format!("10.9.9.9, {client}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn login_answers_the_user_and_working_tokens(backend: Backend) {
    let api = TestApi::start(backend).await;
    for body in [
        json!({"email": "collab", "password": PASSWORD}),
        json!({"email": "collab@example.org", "password": PASSWORD}),
        json!({"username": "collab", "password": PASSWORD}),
    ] {
        let (status, resp) = login(&api, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {resp}");
        let d = data(&resp, "login");
        assert_eq!(
            d["user"],
            json!({
                "id": Who::Collaborator.id(), "username": "collab",
                "email": "collab@example.org", "role": "user", "status": "active",
                "sites": [{"site": alpha(), "accessLevel": "collaborator",
                           "assignedAt": "2025-01-01T00:00:00.000Z"}],
            }),
            "{resp}"
        );
        assert!(!resp.to_string().contains("$2"), "no hash: {resp}");
        assert_eq!(d["expiresIn"], 24 * 3600);
        let access = d["accessToken"].as_str().unwrap();
        let (status, me) = api.get("/api/auth/me", Some(access)).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["data"]["user"]["username"], "collab");
        let refresh = d["refreshToken"].as_str().unwrap();
        let (status, _) = api.get("/api/auth/me", Some(refresh)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a refresh token opens nothing"
        );
    }
    let user = api
        .store
        .user(Who::Collaborator.id())
        .await
        .unwrap()
        .unwrap();
    assert!(user.last_login_at.is_some(), "lastLoginAt recorded");

    // Twoine's installer admin has no status, no sites: it logs in as an active admin.
    let (status, resp) = login(&api, json!({"email": "installer", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(resp["data"]["user"]["role"], "admin");
    assert_eq!(resp["data"]["user"]["status"], "active");
    assert_eq!(resp["data"]["user"]["sites"], json!([]));
    // Pending passes, as in Twoine.
    let (status, _) = login(&api, json!({"email": "pending", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (s1, wrong) = login(&api, json!({"email": "collab", "password": "nope"})).await;
    let (s2, unknown) = login(&api, json!({"email": "nobody", "password": "nope"})).await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong,
        json!({"success": false, "error": "Invalid credentials"})
    );
    assert_eq!(unknown, wrong);
    for body in [
        json!({"email": "collab"}),
        json!({"password": PASSWORD}),
        json!({"email": "  ", "password": PASSWORD}),
    ] {
        let (status, resp) = login(&api, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&resp, "missing field");
    }
    let (status, resp) = api
        .send(reqwest::Method::POST, "/api/auth/login", None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no body: {resp}");
}

async fn five_failures_lock_the_account_for_thirty_minutes(backend: Backend) {
    let api = TestApi::start(backend).await;
    let wrong = json!({"email": "siteowner", "password": "wrong"});
    for attempt in 1..=4 {
        let (status, resp) = login(&api, wrong.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {resp}"
        );
    }
    let user = api.store.user(Who::SiteOwner.id()).await.unwrap().unwrap();
    assert_eq!(user.failed_login_attempts, 4);
    assert_eq!(user.lock_until, None);

    let (status, resp) = login(&api, wrong.clone()).await;
    assert_eq!(status, StatusCode::LOCKED, "5th failure: {resp}");
    assert_error(&resp, "locked");
    assert!(
        resp["error"].as_str().unwrap().contains("30 minutes"),
        "{resp}"
    );
    let user = api.store.user(Who::SiteOwner.id()).await.unwrap().unwrap();
    let left = user.lock_until.unwrap() - chrono::Utc::now();
    assert!(
        left > chrono::Duration::minutes(29) && left <= chrono::Duration::minutes(30),
        "{left}"
    );

    // From then on, even the right password is refused, with the time left.
    let (status, resp) = login(&api, json!({"email": "siteowner", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::LOCKED, "{resp}");
    assert!(
        resp["error"].as_str().unwrap().contains("minutes"),
        "{resp}"
    );
    // Other accounts are not affected.
    let (status, _) = login(&api, json!({"email": "collab", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_success_resets_the_failure_count(backend: Backend) {
    let api = TestApi::start(backend).await;
    for _ in 0..3 {
        let (status, _) = login(&api, json!({"email": "stranger", "password": "x"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login(&api, json!({"email": "stranger", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
    let user = api.store.user(Who::Stranger.id()).await.unwrap().unwrap();
    assert_eq!(user.failed_login_attempts, 0);
    for _ in 0..4 {
        let (status, _) = login(&api, json!({"email": "stranger", "password": "x"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the count started again");
    }
}

async fn logins_are_rate_limited_per_client_address(backend: Backend) {
    let api = TestApi::start(backend).await;
    let body = json!({"email": "nobody", "password": "x"});
    for attempt in 1..=10 {
        let r = login_from(&api, "198.51.100.7", body.clone()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let r = login_from(&api, "198.51.100.7", body.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let resp: Value = r.json().await.unwrap();
    assert_eq!(
        resp,
        json!({"success": false, "error": "Too many login attempts, try again later"})
    );
    // Even the right password waits: the limit is on attempts, not failures.
    let r = login_from(
        &api,
        "198.51.100.7",
        json!({"email": "collab", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy, and the proxy itself, are not limited.
    let r = login_from(&api, "198.51.100.8", body.clone()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = login(&api, json!({"email": "collab", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
}

async fn blocked_users_are_refused_only_with_the_right_password(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (status, resp) = login(&api, json!({"email": "blocked", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{resp}");
    assert_error(&resp, "blocked");
    let (status, resp) = login(&api, json!({"email": "blocked", "password": "guess"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{resp}");
    assert_eq!(resp["error"], "Invalid credentials");
}

async fn refresh_gives_a_new_access_token_for_refresh_tokens_only(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (_, resp) = login(&api, json!({"email": "owneraccess", "password": PASSWORD})).await;
    let refresh = resp["data"]["refreshToken"].as_str().unwrap().to_owned();
    let access = resp["data"]["accessToken"].as_str().unwrap().to_owned();

    let (status, resp) = api
        .post(
            "/api/auth/refresh",
            None,
            Some(json!({"refreshToken": refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let d = data(&resp, "refresh");
    assert_eq!(d["expiresIn"], 24 * 3600);
    assert_eq!(d.as_object().unwrap().len(), 2, "{d}");
    let (status, me) = api
        .get("/api/auth/me", Some(d["accessToken"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["data"]["user"]["username"], "owneraccess");

    let (status, resp) = api
        .post(
            "/api/auth/refresh",
            None,
            Some(json!({"refreshToken": access})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "access as refresh: {resp}"
    );
    assert_error(&resp, "access as refresh");
    let (status, _) = api
        .post(
            "/api/auth/refresh",
            None,
            Some(json!({"refreshToken": "a.b.c"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.post("/api/auth/refresh", None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let blocked = api.token_of(Who::Blocked, TokenKind::Refresh);
    let (status, resp) = api
        .post(
            "/api/auth/refresh",
            None,
            Some(json!({"refreshToken": blocked})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{resp}");
}

async fn me_is_the_caller(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (status, resp) = api
        .get("/api/auth/me", Some(&api.token(Who::ReadonlyRole)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let user = &data(&resp, "me")["user"];
    assert_eq!(user["id"], json!(Who::ReadonlyRole.id()));
    assert_eq!(user["role"], "readonly");
    assert_eq!(user["sites"][0]["accessLevel"], "owner");
    assert!(user.get("password").is_none());
    let (status, _) = api.get("/api/auth/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api
        .get("/api/auth/me", Some(&api.token(Who::Blocked)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn drop_in_mode_leaves_login_and_refresh_to_twoine(backend: Backend) {
    let api = TestApi::start_with(Options {
        mode: Mode::DropIn,
        ..Options::new(backend)
    })
    .await;
    let (status, resp) = login(&api, json!({"email": "collab", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{resp}");
    assert_error(&resp, "drop-in login");
    let (status, _) = api
        .send(reqwest::Method::POST, "/api/auth/login", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not even a 400: the route is Twoine's"
    );
    let refresh = api.token_of(Who::Collaborator, TokenKind::Refresh);
    let (status, _) = api
        .post(
            "/api/auth/refresh",
            None,
            Some(json!({"refreshToken": refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .get("/api/auth/me", Some(&api.token(Who::Collaborator)))
        .await;
    assert_eq!(status, StatusCode::OK, "me works with Twoine's tokens");
}
