//! Session cookies and the extractors that resolve the signed-in user.
//!
//! The cookie `pitchey-session` carries a random 256-bit token (base64url); the database stores only its
//! SHA-256, so a leaked database cannot be replayed as sessions.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use pitchey_cache::Ns;
use pitchey_core::Viewer;
use pitchey_store::{Session, User};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The session cookie.
pub const COOKIE: &str = "pitchey-session";
/// The original platform's cookie name: read as a fallback, cleared on logout.
pub const LEGACY_COOKIE: &str = "better-auth-session";

/// A fresh token and the hash to store.
pub fn new_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// Hex SHA-256 of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let c = Cookie::build((COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX)))
        .build();
    header_value(&c.to_string())
}

/// `Set-Cookie` values that clear both the current and the legacy cookie.
pub fn clearing_cookies(secure: bool) -> [HeaderValue; 2] {
    [COOKIE, LEGACY_COOKIE].map(|name| {
        let c = Cookie::build((name, ""))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .max_age(cookie::time::Duration::ZERO)
            .expires(cookie::time::OffsetDateTime::UNIX_EPOCH)
            .build();
        header_value(&c.to_string())
    })
}

fn header_value(s: &str) -> HeaderValue {
    // Cookie values we build are base64url or empty: always valid header text.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session token from the request's cookies (current name first, then the legacy one), if it looks
/// like one of ours. Anything else is ignored without touching the database.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    let mut legacy = None;
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for c in Cookie::split_parse(s).flatten() {
            let plausible =
                c.value().len() == 43 && c.value().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !plausible {
                continue;
            }
            match c.name() {
                COOKIE => return Some(c.value().to_owned()),
                LEGACY_COOKIE => legacy = Some(c.value().to_owned()),
                _ => {}
            }
        }
    }
    legacy
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The account.
    pub user: User,
    /// Public session id.
    pub session_id: String,
    /// Hash of the session token (identifies the session for logout and revocation).
    pub token_hash: String,
    /// Session expiry.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl AuthUser {
    /// The user as an access-rule viewer.
    pub fn viewer(&self) -> Viewer {
        Viewer { user_id: self.user.id, user_type: self.user.user_type }
    }
}

/// A request's user, if signed in.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

/// Resolved once per request and kept in the request's extensions.
#[derive(Clone)]
struct Resolved(Option<AuthUser>);

async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Option<AuthUser>, ApiError> {
    if let Some(r) = parts.extensions.get::<Resolved>() {
        return Ok(r.0.clone());
    }
    let found = match token_from_headers(&parts.headers) {
        None => None,
        Some(token) => {
            let token_hash = hash_token(&token);
            lookup(state, &token_hash).await?.map(|s| AuthUser {
                user: s.user,
                session_id: s.id,
                token_hash,
                expires_at: s.expires_at,
            })
        }
    };
    parts.extensions.insert(Resolved(found.clone()));
    Ok(found)
}

/// The session behind a token hash, through the session cache (so an authenticated request costs no
/// database round-trip on a warm cache). Unknown tokens are cached too: a random token never becomes valid
/// later. Sign-out and password changes invalidate the namespace; expiry is checked on every use.
async fn lookup(state: &AppState, token_hash: &str) -> Result<Option<Session>, ApiError> {
    if !state.settings.cache_enabled {
        return Ok(state.store.session_by_token_hash(token_hash).await?);
    }
    let store = state.store.clone();
    let hash = token_hash.to_owned();
    let (entry, _) = state
        .cache
        .get_or_load(Ns::Session, token_hash, || async move {
            let s = store.session_by_token_hash(&hash).await.map_err(ApiError::from)?;
            serde_json::to_vec(&s).map(Bytes::from).map_err(ApiError::internal)
        })
        .await
        .map_err(|e: Arc<ApiError>| (*e).clone())?;
    let session: Option<Session> = serde_json::from_slice(&entry.body).map_err(ApiError::internal)?;
    Ok(session.filter(|s| s.expires_at > chrono::Utc::now()))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await?.ok_or_else(ApiError::unauthorized)
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await.map(MaybeUser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_cookies() {
        let (t, h) = new_token();
        assert_eq!(t.len(), 43);
        assert_eq!(h, hash_token(&t));
        assert_eq!(h.len(), 64);
        let c = session_cookie(&t, 604800, false);
        let s = c.to_str().unwrap_or_default();
        for part in ["pitchey-session=", "HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=604800"] {
            assert!(s.contains(part), "{s}");
        }
        assert!(!s.contains("Secure"));
        assert!(session_cookie(&t, 1, true).to_str().unwrap_or_default().contains("Secure"));

        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=1; {LEGACY_COOKIE}={t}")).unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(token_from_headers(&h), Some(t.clone()));
        h.insert(header::COOKIE, HeaderValue::from_static("pitchey-session=short"));
        assert_eq!(token_from_headers(&h), None);
    }
}
