//! Standalone login, refresh and me (CONTRACT §3).
//!
//! - `POST /api/auth/login {email|username, password}` (`email` may hold a username): unknown
//!   user or wrong password → 401 "Invalid credentials", the same answer in about the same
//!   time (an unknown user is checked against a dummy cost-12 hash); a locked account → 423
//!   with the time left; the 5th consecutive failure locks it for 30 minutes (and already
//!   answers 423); a blocked account with the right password → 403 (the status is never told
//!   to someone without the password); success resets the failures and answers the user and
//!   both tokens. Every attempt counts against the client address's rate limit (429).
//! - `POST /api/auth/refresh {refreshToken}` → a new access token; an access token → 401.
//! - `GET /api/auth/me` → the caller.
//!
//! In drop-in mode login and refresh answer 404: Twoine's Node API owns them.

mod limiter;

pub use limiter::{
    ClientIp, DEFAULT_CAPACITY, DEFAULT_MAX_ATTEMPTS, DEFAULT_WINDOW, LoginLimiter, client_ip,
};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Secret, TokenKind};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Envelope, ok};
use super::state::{AppState, Mode};
use crate::model::{Id, Role, SiteAccess, Timestamp, User, UserStatus};
use crate::store::LoginState;

/// Consecutive failures that lock an account.
pub const MAX_FAILED_LOGINS: u32 = 5;
/// How long a lock lasts.
pub const LOCK_MINUTES: i64 = 30;

/// Verified when the user is unknown, so both failures cost one bcrypt check (cost 12, as
/// Twoine's hashes). The hash of a string nobody uses as a password.
const DUMMY_HASH: &str = "$2b$12$4jtyebFwHH/fsateWIGgPOEXvXz5G32JzO7PPhXVCyb9.2V7vcF2q";
/// Longest login or password accepted (bcrypt reads 72 bytes; this only bounds the request).
const MAX_FIELD_LEN: usize = 1024;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/me", get(me))
}

/// `POST /api/auth/login` body. `Debug` is not derived: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
struct LoginBody {
    /// E-mail (or give `username`).
    #[serde(default)]
    email: Option<String>,
    /// Login name (when no `email`).
    #[serde(default)]
    username: Option<String>,
    /// Password.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Secret>,
}

/// `POST /api/auth/refresh` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    /// The refresh token from the login.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    refresh_token: Option<Secret>,
}

/// The user as the auth routes show it (never the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Identifier.
    pub id: Id,
    /// Login name.
    pub username: String,
    /// E-mail.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Status.
    pub status: UserStatus,
    /// Site access.
    pub sites: Vec<SiteAccess>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            role: u.role,
            status: u.status,
            sites: u.sites.clone(),
        }
    }
}

/// `data` of a successful login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct LoginData {
    user: UserView,
    access_token: String,
    refresh_token: String,
    /// Access token lifetime, seconds.
    expires_in: u64,
}

/// `data` of a refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RefreshData {
    access_token: String,
    expires_in: u64,
}

/// `data` of `/api/auth/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MeData {
    user: UserView,
}

fn drop_in_guard(state: &AppState, path: &str) -> ApiResult<()> {
    if state.mode == Mode::DropIn {
        return Err(ApiError::not_found(format!("Route {path} not found")));
    }
    Ok(())
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("Invalid credentials".to_owned())
}

fn locked(until: Timestamp, now: Timestamp) -> ApiError {
    let secs = (until - now).num_seconds().max(1);
    let minutes = (secs + 59) / 60;
    ApiError::Locked(format!(
        "Account locked after too many failed logins: try again in {minutes} minute{}",
        if minutes > 1 { "s" } else { "" }
    ))
}

/// The auth routes' documentation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, refresh, me))]
pub struct Doc;

/// `POST /api/auth/login`.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Tokens and the user", body = Envelope<LoginData>),
        (status = 400, description = "Malformed body, missing or too long credentials", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Invalid credentials", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Account blocked", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Drop-in mode: the panel issues tokens", body = crate::http::openapi::ErrorBody),
        (status = 423, description = "Account locked after too many failed logins", body = crate::http::openapi::ErrorBody),
        (status = 429, description = "Too many login attempts from this address (see `Retry-After`)", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    body: Result<ApiJson<LoginBody>, ApiError>,
) -> ApiResult<axum::Json<Envelope<LoginData>>> {
    drop_in_guard(&state, "/api/auth/login")?;
    let client = client.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if let Err(wait) = state.login_limiter.check(client) {
        tracing::warn!(%client, "login rate limit reached");
        return Err(ApiError::TooManyRequests {
            message: "Too many login attempts, try again later".to_owned(),
            retry_after: wait.as_secs().max(1),
        });
    }
    let ApiJson(body) = body?;
    let given = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let login = given(body.email).or_else(|| given(body.username));
    let (Some(login), Some(password)) = (login, body.password) else {
        return Err(ApiError::bad_request(
            "Email (or username) and password are required",
        ));
    };
    if login.len() > MAX_FIELD_LEN || password.expose().len() > MAX_FIELD_LEN {
        return Err(ApiError::bad_request("Email or password too long"));
    }
    let user = check_credentials(&state, &login, password).await?;
    let keys = state.auth.keys();
    let now = state.now().timestamp();
    let data = LoginData {
        user: UserView::from(&user),
        access_token: keys.issue(&user, TokenKind::Access, now)?,
        refresh_token: keys.issue(&user, TokenKind::Refresh, now)?,
        expires_in: keys.access_ttl.as_secs(),
    };
    tracing::info!(user = %user.username, "login");
    Ok(ok(data))
}

/// The user behind `login` and `password`, with the failure count and lock kept up to date.
async fn check_credentials(state: &AppState, login: &str, password: Secret) -> ApiResult<User> {
    let Some(user) = state.store.user_by_login(login).await? else {
        let _ = verify_password(password, DUMMY_HASH.to_owned()).await;
        return Err(invalid_credentials());
    };
    let now = state.now();
    if let Some(until) = user.lock_until
        && until > now
    {
        return Err(locked(until, now));
    }
    let matches = match &user.password_hash {
        Some(hash) => verify_password(password, hash.0.clone()).await?,
        None => {
            let _ = verify_password(password, DUMMY_HASH.to_owned()).await;
            false
        }
    };
    if !matches {
        // A lock that ran out starts a fresh count.
        let previous = if user.lock_until.is_some() {
            0
        } else {
            user.failed_login_attempts
        };
        let failures = previous.saturating_add(1);
        let lock_until =
            (failures >= MAX_FAILED_LOGINS).then(|| now + chrono::Duration::minutes(LOCK_MINUTES));
        state
            .store
            .set_login_state(
                user.id,
                LoginState {
                    failed_login_attempts: failures,
                    lock_until,
                    last_login_at: user.last_login_at,
                },
            )
            .await?;
        state.auth.invalidate(user.id);
        return match lock_until {
            Some(until) => {
                tracing::warn!(user = %user.username, "account locked after failed logins");
                Err(locked(until, now))
            }
            None => Err(invalid_credentials()),
        };
    }
    if user.status == UserStatus::Blocked {
        return Err(ApiError::forbidden("Account blocked"));
    }
    state
        .store
        .set_login_state(
            user.id,
            LoginState {
                failed_login_attempts: 0,
                lock_until: None,
                last_login_at: Some(now),
            },
        )
        .await?;
    state.auth.invalidate(user.id);
    Ok(User {
        failed_login_attempts: 0,
        lock_until: None,
        last_login_at: Some(now),
        ..user
    })
}

/// bcrypt (`$2a$`, `$2b$`, `$2y$`) off the async threads. A malformed stored hash never
/// matches (and is logged without its value).
async fn verify_password(password: Secret, hash: String) -> ApiResult<bool> {
    let outcome = tokio::task::spawn_blocking(move || bcrypt::verify(password.expose(), &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check task: {e}")))?;
    Ok(outcome.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "stored password hash unusable");
        false
    }))
}

/// `POST /api/auth/refresh`.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new access token", body = Envelope<RefreshData>),
        (status = 400, description = "Malformed body or no refresh token", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "Invalid or expired refresh token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Account blocked", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "Drop-in mode: the panel issues tokens", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Store unavailable", body = crate::http::openapi::ErrorBody)
    )
)]
#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    body: Result<ApiJson<RefreshBody>, ApiError>,
) -> ApiResult<axum::Json<Envelope<RefreshData>>> {
    drop_in_guard(&state, "/api/auth/refresh")?;
    let ApiJson(body) = body?;
    let token = body
        .refresh_token
        .filter(|t| !t.expose().is_empty())
        .ok_or_else(|| ApiError::bad_request("Refresh token required"))?;
    let keys = state.auth.keys();
    let claims = keys.verify(token.expose(), TokenKind::Refresh)?;
    let id: Id = claims
        .user_id
        .parse()
        .map_err(|_| ApiError::Unauthorized("Invalid refresh token".to_owned()))?;
    // Fresh from the store: a block takes effect at once.
    state.auth.invalidate(id);
    let user = state.auth.load_user(state.store.as_ref(), id).await?;
    if user.status == UserStatus::Blocked {
        return Err(ApiError::forbidden("Account blocked"));
    }
    let now = state.now().timestamp();
    Ok(ok(RefreshData {
        access_token: keys.issue(&user, TokenKind::Access, now)?,
        expires_in: keys.access_ttl.as_secs(),
    }))
}

/// `GET /api/auth/me`.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Envelope<MeData>),
        (status = 401, description = "Missing, invalid or expired token, or unknown user", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "Blocked user", body = crate::http::openapi::ErrorBody)
    )
)]
async fn me(caller: Caller) -> axum::Json<Envelope<MeData>> {
    ok(MeData {
        user: UserView::from(caller.user()),
    })
}
