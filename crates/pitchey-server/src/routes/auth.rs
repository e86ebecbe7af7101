//! Accounts and sessions (contract §2): portal and generic logins, sign-up, sign-out, session, password change.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};
use crate::password::{self, Verdict};
use crate::session::{self, AuthUser};
use crate::state::AppState;
use crate::wire::{AuthUserBody, iso, ok};
use axum::extract::State;
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pitchey_core::validate::at_most;
use pitchey_core::{Email, Password, UserType, Username};
use pitchey_store::{CreateUserError, NewSession, NewUser, ProfileUpdate, User};
use serde::Deserialize;
use serde_json::json;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/creator/login", post(login_creator))
        .route("/api/auth/investor/login", post(login_investor))
        .route("/api/auth/production/login", post(login_production))
        .route("/api/auth/sign-in", post(login_any))
        .route("/api/auth/login", post(login_any))
        .route("/api/auth/sign-up", post(sign_up))
        .route("/api/auth/register", post(sign_up))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/logout", post(sign_out))
        .route("/api/auth/session", get(current_session))
        .route("/api/auth/session/refresh", post(current_session).get(current_session))
        .route("/api/auth/change-password", post(change_password))
        .route("/api/user/profile", get(profile).put(update_profile))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    email: Option<String>,
    password: Option<String>,
    #[serde(alias = "user_type")]
    user_type: Option<String>,
}

async fn login_creator(s: State<AppState>, ip: ClientIp, h: HeaderMap, b: ApiJson<LoginBody>) -> ApiResult<Response> {
    login(s, ip, h, b, Some(UserType::Creator)).await
}
async fn login_investor(s: State<AppState>, ip: ClientIp, h: HeaderMap, b: ApiJson<LoginBody>) -> ApiResult<Response> {
    login(s, ip, h, b, Some(UserType::Investor)).await
}
async fn login_production(
    s: State<AppState>,
    ip: ClientIp,
    h: HeaderMap,
    b: ApiJson<LoginBody>,
) -> ApiResult<Response> {
    login(s, ip, h, b, Some(UserType::Production)).await
}

/// Generic sign-in: any account type (admins included); `userType`, when sent, must match the account.
async fn login_any(s: State<AppState>, ip: ClientIp, h: HeaderMap, b: ApiJson<LoginBody>) -> ApiResult<Response> {
    let portal = match b.0.user_type.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<UserType>().map_err(|_| ApiError::validation("Unknown userType"))?),
        None => None,
    };
    login(s, ip, h, b, portal).await
}

fn check_rate(state: &AppState, ip: ClientIp) -> ApiResult<()> {
    match &state.login_limiter {
        Some(l) => l.check(ip.0).map_err(|wait| {
            metrics::counter!("pitchey_rate_limit_rejections_total", "limiter" => "login").increment(1);
            if let Some(held_back) = l.log.sample() {
                let client = crate::ratelimit::limit_key(ip.0);
                tracing::warn!(%client, held_back, "login rate limited");
            }
            ApiError::rate_limited(wait)
        }),
        None => Ok(()),
    }
}

/// Runs password hashing or verification on the blocking pool, at most `password_hash_concurrency` at once
/// (the rest wait their turn; reads keep the other cores).
async fn blocking<T: Send + 'static>(state: &AppState, f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let _permit = state.hash_permits.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)
}

/// Verifies credentials for `portal` (any portal when `None`). Unknown email, wrong password and wrong
/// portal are indistinguishable to the caller (same error, same hashing cost). Returns the user and the
/// password hash now stored (the verified one, or its upgrade), which the session is created against.
async fn authenticate(
    state: &AppState,
    email: &Email,
    password: String,
    portal: Option<UserType>,
) -> ApiResult<(User, String)> {
    let found = state.store.user_credentials(email).await?;
    let stored = found.as_ref().map_or_else(|| state.dummy_hash.to_string(), |(_, h)| h.clone());
    let pw = password.clone();
    let stored_for_check = stored.clone();
    let verdict = blocking(state, move || password::verify(&pw, &stored_for_check)).await?;
    let Some((user, _)) = found else {
        return Err(ApiError::invalid_credentials());
    };
    if verdict == Verdict::Invalid || portal.is_some_and(|p| p != user.user_type) {
        return Err(ApiError::invalid_credentials());
    }
    if verdict == Verdict::ValidNeedsRehash {
        // Upgrade legacy hashes on a successful login; failure to upgrade must not fail the login.
        match blocking(state, move || password::hash(&password)).await? {
            Ok(fresh) => match state.store.upgrade_password_hash(user.id, &stored, &fresh).await {
                Ok(true) => return Ok((user, fresh)),
                Ok(false) => {} // changed meanwhile: the session check will see it
                Err(e) => tracing::warn!(error = %e, "could not upgrade legacy password hash"),
            },
            Err(e) => tracing::warn!(error = %e, "could not hash for upgrade"),
        }
    }
    Ok((user, stored))
}

async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
    portal: Option<UserType>,
) -> ApiResult<Response> {
    check_rate(&state, ip)?;
    let (Some(email), Some(password)) =
        (body.email.filter(|e| !e.trim().is_empty()), body.password.filter(|p| !p.is_empty()))
    else {
        return Err(ApiError::validation("Email and password are required"));
    };
    let email = Email::parse(&email)?;
    if password.chars().count() > Password::MAX {
        return Err(ApiError::invalid_credentials());
    }
    let (user, verified_hash) = authenticate(&state, &email, password, portal).await?;
    let (token, token_hash) = session::new_token();
    let session_id = uuid::Uuid::new_v4().to_string();
    let ttl = state.settings.session_ttl_secs;
    let expires_at = pitchey_store::now() + chrono::Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX / 2));
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(256).collect());
    let new_session = NewSession {
        token_hash: &token_hash,
        id: &session_id,
        user_id: user.id,
        expires_at,
        ip_address: Some(ip.0.to_string()),
        user_agent,
    };
    // The password changed since it was checked: this login used the old one.
    if !state.store.create_session_if_password_is(&new_session, &verified_hash).await? {
        return Err(ApiError::invalid_credentials());
    }
    if let Err(e) = state.store.touch_login(user.id).await {
        tracing::warn!(error = %e, "could not record login time");
    }
    tracing::info!(user_id = user.id, user_type = user.user_type.as_str(), "login");
    metrics::counter!("pitchey_logins_total", "user_type" => user.user_type.as_str()).increment(1);
    let u = AuthUserBody::from(&user);
    let sess = json!({ "id": session_id, "expiresAt": iso(expires_at) });
    let body = json!({ "success": true, "user": u, "session": sess, "data": { "user": u, "session": sess } });
    let mut res = Json(body).into_response();
    res.headers_mut().append(SET_COOKIE, session::session_cookie(&token, ttl, state.settings.cookie_secure));
    Ok(res)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignUpBody {
    email: Option<String>,
    password: Option<String>,
    username: Option<String>,
    #[serde(alias = "user_type")]
    user_type: Option<String>,
    #[serde(alias = "company_name")]
    company_name: Option<String>,
    #[serde(alias = "first_name")]
    first_name: Option<String>,
    #[serde(alias = "last_name")]
    last_name: Option<String>,
    name: Option<String>,
    bio: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Longest first or last name, bio and company name, in characters (sign-up and profile alike).
const NAME_MAX: usize = 100;
const BIO_MAX: usize = 5000;
const COMPANY_MAX: usize = 200;

/// Registration. Creates the account only: no session, since the client asks the user to sign in.
async fn sign_up(State(state): State<AppState>, ip: ClientIp, ApiJson(b): ApiJson<SignUpBody>) -> ApiResult<Response> {
    check_rate(&state, ip)?;
    let (Some(email), Some(password)) = (non_empty(b.email), b.password.filter(|p| !p.is_empty())) else {
        return Err(ApiError::validation("Email and password are required"));
    };
    let email = Email::parse(&email)?;
    let password = Password::parse(&password)?;
    let user_type = match non_empty(b.user_type) {
        None => UserType::Creator,
        Some(t) => t
            .parse::<UserType>()
            .ok()
            .filter(|t| t.is_self_service())
            .ok_or_else(|| ApiError::validation("userType must be creator, investor or production"))?,
    };
    let chosen = non_empty(b.username).map(|u| Username::parse(&u)).transpose()?;
    let (mut first, mut last) = (non_empty(b.first_name), non_empty(b.last_name));
    if first.is_none()
        && last.is_none()
        && let Some(n) = non_empty(b.name)
    {
        let mut parts = n.splitn(2, ' ');
        first = parts.next().map(str::to_owned);
        last = parts.next().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    }
    let (bio, company_name) = (non_empty(b.bio), non_empty(b.company_name));
    for (text, max, what) in [
        (&first, NAME_MAX, "firstName"),
        (&last, NAME_MAX, "lastName"),
        (&bio, BIO_MAX, "bio"),
        (&company_name, COMPANY_MAX, "companyName"),
    ] {
        at_most(text.as_deref(), max, what)?;
    }
    let pw = password.expose().to_owned();
    let password_hash = blocking(&state, move || password::hash(&pw)).await?.map_err(ApiError::internal)?;
    let mut new = NewUser {
        username: chosen.clone().unwrap_or_else(|| Username::from_email(&email)),
        email,
        password_hash,
        user_type,
        first_name: first,
        last_name: last,
        bio,
        company_name,
        subscription_tier: "free".to_owned(),
    };
    // A derived username that is taken gets a random suffix; a chosen one is the user's to change.
    let mut attempts = 0;
    let user = loop {
        match state.store.create_user(&new).await {
            Ok(u) => break u,
            Err(CreateUserError::EmailTaken) => {
                return Err(ApiError::conflict("EMAIL_EXISTS", "An account with this email already exists"));
            }
            Err(CreateUserError::UsernameTaken) if chosen.is_none() && attempts < 5 => {
                attempts += 1;
                new.username = Username::from_email(&new.email).with_suffix(&random_suffix());
            }
            Err(CreateUserError::UsernameTaken) => {
                return Err(ApiError::conflict("USERNAME_EXISTS", "This username is already taken"));
            }
            Err(CreateUserError::Store(e)) => return Err(e.into()),
        }
    };
    // Search results list users: a cached search must find the new account.
    state.cache.invalidate(pitchey_cache::Ns::Search).await;
    tracing::info!(user_id = user.id, user_type = user.user_type.as_str(), "sign-up");
    metrics::counter!("pitchey_signups_total", "user_type" => user.user_type.as_str()).increment(1);
    Ok((StatusCode::OK, ok(json!({ "user": AuthUserBody::from(&user) }))).into_response())
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes: [u8; 6] = rand::random();
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// Ends the session (if any) and clears both cookie names. Always 200.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(token) = session::token_from_headers(&headers)
        && state.store.delete_session(&session::hash_token(&token)).await?
    {
        state.sessions_changed().await;
    }
    let mut res = ok(json!({ "message": "Logged out successfully" })).into_response();
    for c in session::clearing_cookies(state.settings.cookie_secure) {
        res.headers_mut().append(SET_COOKIE, c);
    }
    Ok(res)
}

/// The current session: `user` at the top level (the client reads `session.user`).
async fn current_session(auth: AuthUser) -> Json<serde_json::Value> {
    let u = AuthUserBody::from(&auth.user);
    let sess = json!({ "id": auth.session_id, "expiresAt": iso(auth.expires_at) });
    Json(json!({ "success": true, "user": u, "session": sess, "data": { "user": u, "session": sess } }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordBody {
    #[serde(alias = "current_password")]
    current_password: Option<String>,
    #[serde(alias = "new_password")]
    new_password: Option<String>,
    #[serde(alias = "revoke_other_sessions")]
    revoke_other_sessions: Option<bool>,
}

/// Changes the password after checking the current one. Other sessions are revoked unless the client
/// sends `revokeOtherSessions: false`.
async fn change_password(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: AuthUser,
    ApiJson(b): ApiJson<ChangePasswordBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let (Some(current), Some(new)) = (b.current_password, b.new_password) else {
        return Err(ApiError::validation("currentPassword and newPassword are required"));
    };
    let new = Password::parse(&new)?;
    // Guessing the current password with a stolen session is guessing a login: the same limit applies.
    check_rate(&state, ip)?;
    let stored = state.store.password_hash(auth.user.id).await?.ok_or_else(ApiError::unauthorized)?;
    let verified = stored.clone();
    let verdict = blocking(&state, move || password::verify(&current, &verified)).await?;
    // 400, not 401: a 401 would sign the client out.
    let incorrect = || ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PASSWORD", "Current password is incorrect");
    if verdict == Verdict::Invalid {
        return Err(incorrect());
    }
    let pw = new.expose().to_owned();
    let hash = blocking(&state, move || password::hash(&pw)).await?.map_err(ApiError::internal)?;
    // One transaction: the new hash only if the verified one is still current, and the other sessions
    // gone with it (a session left behind by a failure would outlive the change).
    let revoke = b.revoke_other_sessions.unwrap_or(true).then_some(auth.token_hash.as_str());
    match state.store.change_password_hash(auth.user.id, &stored, &hash, revoke).await? {
        None => return Err(incorrect()),
        Some(_) if revoke.is_some() => state.sessions_changed().await,
        Some(_) => {}
    }
    Ok(ok(json!({ "message": "Password changed successfully" })))
}

async fn profile(auth: AuthUser) -> Response {
    crate::routes::pitches::private(ok(json!({ "user": AuthUserBody::from(&auth.user) })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileBody {
    #[serde(alias = "first_name")]
    first_name: Option<String>,
    #[serde(alias = "last_name")]
    last_name: Option<String>,
    bio: Option<String>,
    #[serde(alias = "company_name")]
    company_name: Option<String>,
    #[serde(alias = "profile_image")]
    profile_image: Option<String>,
    location: Option<String>,
}

/// Updates the caller's profile. Names and company show on pitch pages, and sessions carry the profile,
/// so both caches are invalidated.
async fn update_profile(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(b): ApiJson<ProfileBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let clean = |v: Option<String>, max: usize, what: &str| -> ApiResult<Option<String>> {
        let v = v.map(|s| s.trim().to_owned());
        at_most(v.as_deref(), max, what)?;
        Ok(v)
    };
    let image = clean(b.profile_image, 2048, "profileImage")?;
    if let Some(i) = &image
        && !(i.is_empty() || i.starts_with("https://") || i.starts_with("http://") || i.starts_with('/'))
    {
        return Err(ApiError::validation("profileImage must be an http(s) URL or a path"));
    }
    let update = ProfileUpdate {
        first_name: clean(b.first_name, NAME_MAX, "firstName")?,
        last_name: clean(b.last_name, NAME_MAX, "lastName")?,
        bio: clean(b.bio, BIO_MAX, "bio")?,
        company_name: clean(b.company_name, COMPANY_MAX, "companyName")?,
        profile_image: image,
        location: clean(b.location, 200, "location")?,
    };
    let user = state.store.update_profile(auth.user.id, &update).await?;
    futures::future::join(state.sessions_changed(), state.pitches_changed()).await;
    Ok(ok(json!({ "user": AuthUserBody::from(&user) })))
}
