//! Token verification (CONTRACT §3): HS256 pinned, `type: "access"` only, the user read from
//! the store on each request (through a short cache), blocked users refused with 403.
//!
//! [`Caller`] is the extractor every protected route takes; the WebSocket uses
//! [`Auth::authenticate`] with the token from `?token=` or `Sec-WebSocket-Protocol`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::state::AppState;
use crate::model::{Id, Role, User, UserStatus};
use crate::permissions::Permissions;
use crate::store::PanelRead;

/// A secret string (JWT secret, passwords): `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// `type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Opens the API and the WebSocket.
    Access,
    /// Only exchanges for a new access token.
    Refresh,
}

/// Twoine's claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The user's id (24-hex).
    pub user_id: String,
    /// Login name at issue time (informative only).
    #[serde(default)]
    pub username: String,
    /// E-mail at issue time (informative only).
    #[serde(default)]
    pub email: String,
    /// Role at issue time (never trusted: the store's role is used).
    #[serde(default)]
    pub role: Option<Role>,
    /// Admin impersonating the user, if any.
    #[serde(default)]
    pub impersonated_by: Option<String>,
    /// Access or refresh.
    #[serde(rename = "type")]
    pub kind: TokenKind,
    /// Issued at (s).
    pub iat: i64,
    /// Expires at (s).
    pub exp: i64,
}

/// Signing and verification keys with the token lifetimes.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Access token lifetime (`JWT_EXPIRES_IN`, default 24 h).
    pub access_ttl: Duration,
    /// Refresh token lifetime (`JWT_REFRESH_EXPIRES_IN`, default 7 d).
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Keys from the shared secret (HS256 only).
    pub fn new(secret: &Secret, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.required_spec_claims = ["exp".to_owned()].into_iter().collect();
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Signs a token of `kind` for `user`, issued at `now` (unix seconds).
    pub fn issue(&self, user: &User, kind: TokenKind, now: i64) -> Result<String, ApiError> {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            user_id: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            role: Some(user.role),
            impersonated_by: None,
            kind,
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("token signing: {e}")))
    }

    /// Verifies signature (HS256 only), expiry and shape; `kind` must match.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::Unauthorized("Token expired".to_owned())
                }
                _ => ApiError::Unauthorized("Invalid token".to_owned()),
            })?;
        if data.claims.kind != kind {
            return Err(ApiError::Unauthorized(match kind {
                TokenKind::Access => "Invalid token type".to_owned(),
                TokenKind::Refresh => "Invalid refresh token".to_owned(),
            }));
        }
        Ok(data.claims)
    }
}

/// How long a user record read for authentication is reused.
pub const USER_CACHE_TTL: Duration = Duration::from_secs(5);

/// Verifies tokens and loads the caller's user, with a short per-user cache.
pub struct Auth {
    keys: JwtKeys,
    cache: Mutex<HashMap<Id, (Instant, User)>>,
    ttl: Duration,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// An authenticator with [`USER_CACHE_TTL`].
    pub fn new(keys: JwtKeys) -> Self {
        Self::with_cache_ttl(keys, USER_CACHE_TTL)
    }

    /// An authenticator with another cache lifetime (`Duration::ZERO`: no cache).
    pub fn with_cache_ttl(keys: JwtKeys, ttl: Duration) -> Self {
        Self {
            keys,
            cache: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// The keys (login and refresh issue tokens with them).
    pub fn keys(&self) -> &JwtKeys {
        &self.keys
    }

    /// Forgets a cached user (after apid itself changed it).
    pub fn invalidate(&self, user: Id) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(&user);
        }
    }

    /// The caller behind an access token: 401 for a bad token or unknown user, 403 for a
    /// blocked one.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(
        &self,
        store: &dyn PanelRead,
        token: &str,
    ) -> Result<Permissions, ApiError> {
        let claims = self.keys.verify(token, TokenKind::Access)?;
        let id: Id = claims
            .user_id
            .parse()
            .map_err(|_| ApiError::Unauthorized("Invalid token".to_owned()))?;
        let user = self.load_user(store, id).await?;
        if user.status == UserStatus::Blocked {
            return Err(ApiError::forbidden("Account blocked"));
        }
        Ok(Permissions::of(user))
    }

    /// A user record, fresh or at most the cache lifetime old.
    pub async fn load_user(&self, store: &dyn PanelRead, id: Id) -> Result<User, ApiError> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, user)) = c.get(&id)
            && at.elapsed() < self.ttl
        {
            return Ok(user.clone());
        }
        let user = store
            .user(id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("User not found".to_owned()))?;
        if let Ok(mut c) = self.cache.lock() {
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(id, (Instant::now(), user.clone()));
        }
        Ok(user)
    }
}

/// The `Bearer` token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// An authenticated caller (extractor): 401 without a valid access token.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Permissions>);

impl std::ops::Deref for Caller {
    type Target = Permissions;
    fn deref(&self) -> &Permissions {
        &self.0
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer(parts).ok_or_else(|| ApiError::Unauthorized("No token provided".to_owned()))?;
        let perms = state.auth.authenticate(state.store.as_ref(), token).await?;
        Ok(Self(Arc::new(perms)))
    }
}

/// An authenticated admin (extractor): 401 without a valid token, 403 for a non-admin.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.can_admin() {
            return Err(ApiError::forbidden("Admin access required"));
        }
        Ok(Self(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            &Secret::new("test-secret-0123456789abcdef0123456789"),
            Duration::from_secs(3600),
            Duration::from_secs(7200),
        )
    }

    fn user() -> User {
        serde_json::from_value(serde_json::json!({
            "id": Id::generate(), "username": "admin", "email": "a@b.c", "role": "admin"
        }))
        .unwrap()
    }

    #[test]
    fn issued_tokens_verify_and_keep_their_kind() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let access = k.issue(&user(), TokenKind::Access, now).unwrap();
        let refresh = k.issue(&user(), TokenKind::Refresh, now).unwrap();
        assert_eq!(
            k.verify(&access, TokenKind::Access).unwrap().exp,
            now + 3600
        );
        assert!(
            k.verify(&refresh, TokenKind::Access).is_err(),
            "refresh is not access"
        );
        assert!(k.verify(&access, TokenKind::Refresh).is_err());
    }

    #[test]
    fn other_algorithms_and_expired_tokens_are_refused() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let u = user();
        let claims = Claims {
            user_id: u.id.to_string(),
            username: u.username.clone(),
            email: u.email.clone(),
            role: None,
            impersonated_by: None,
            kind: TokenKind::Access,
            iat: now,
            exp: now + 60,
        };
        let secret = b"test-secret-0123456789abcdef0123456789";
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert!(k.verify(&hs512, TokenKind::Access).is_err());
        // alg: none — header {"alg":"none","typ":"JWT"}, no signature.
        let none = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            base64_url(&serde_json::to_vec(&claims).unwrap())
        );
        assert!(k.verify(&none, TokenKind::Access).is_err());
        let expired = Claims {
            exp: now - 1,
            iat: now - 100,
            ..claims
        };
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &expired,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(
            k.verify(&t, TokenKind::Access),
            Err(ApiError::Unauthorized("Token expired".into()))
        );
    }

    fn base64_url(bytes: &[u8]) -> String {
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

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", keys()).contains("test-secret"));
    }
}
