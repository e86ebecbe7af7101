//! Operator endpoints (admins only): cache management, performance metrics and pitch moderation; and the
//! Prometheus text.

use crate::caching;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ClientIp, JsonOrEmpty};
use crate::session::AuthUser;
use crate::state::AppState;
use crate::wire::{iso, ok};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pitchey_cache::Ns;
use pitchey_core::{PitchStatus, UserType};
use serde::Deserialize;
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cache/status", get(cache_status))
        .route("/api/cache/warm", post(cache_warm))
        .route("/api/cache/invalidate", post(cache_invalidate))
        .route("/api/performance/metrics", get(performance))
        .route("/api/admin/pitches/{id}/hide", post(hide_pitch))
        .route("/api/admin/pitches/{id}/unhide", post(unhide_pitch))
}

/// The longest moderation reason, in characters.
const REASON_MAX: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ModerationBody {
    reason: Option<String>,
}

/// `POST /api/admin/pitches/:id/hide` `{"reason"?}`: takes a published pitch out of public view (status
/// `hidden`, which its owner cannot change; 409 for a pitch that is not published); its owner still sees
/// it, may edit or delete it, and is notified.
async fn hide_pitch(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    JsonOrEmpty(b): JsonOrEmpty<ModerationBody>,
) -> ApiResult<Json<Value>> {
    moderate(&s, &auth, id, true, b).await
}

/// `POST /api/admin/pitches/:id/unhide` `{"reason"?}`: publishes a hidden pitch again.
async fn unhide_pitch(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    JsonOrEmpty(b): JsonOrEmpty<ModerationBody>,
) -> ApiResult<Json<Value>> {
    moderate(&s, &auth, id, false, b).await
}

async fn moderate(s: &AppState, auth: &AuthUser, id: i64, hide: bool, b: ModerationBody) -> ApiResult<Json<Value>> {
    require_admin(auth)?;
    let reason = b.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > REASON_MAX) {
        return Err(ApiError::validation(format!("reason: at most {REASON_MAX} characters")));
    }
    let Some(m) = s.store.moderate_pitch(id, hide, reason).await? else {
        return Err(ApiError::not_found("Pitch not found"));
    };
    if hide && !m.changed && m.status != PitchStatus::Hidden {
        return Err(ApiError::conflict(
            "INVALID_STATE",
            format!("Only published pitches are taken down; this one is {}", m.status.as_str()),
        ));
    }
    if m.changed {
        if hide {
            s.pitches_withdrawn().await;
        } else {
            s.pitches_changed().await;
        }
        tracing::info!(by = auth.user.id, pitch_id = id, status = m.status.as_str(), "pitch moderated");
    }
    Ok(ok(json!({
        "pitch": { "id": id, "title": m.title, "status": m.status.as_str(), "userId": m.owner_id },
        "changed": m.changed,
    })))
}

/// The Prometheus exposition, on the address `metrics_bind` names.
pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(prometheus_text))
}

/// The Prometheus exposition on the API port (when no `metrics_bind` is set), for local scrapers only: it
/// shows business counts (logins, sign-ups, NDA decisions), every route's traffic and the database's state,
/// which are not for the public. A client counts as local when its address (after the trusted-proxy rules)
/// is a loopback address and the request carries none of the headers proxies add (`X-Forwarded-For`,
/// `Forwarded`, `X-Real-IP`, `Via`, `X-Forwarded-Proto`, `X-Forwarded-Host`). A proxy on the same host that
/// adds none of them would make public requests local: serve `/metrics` on `metrics_bind` behind one.
pub fn local_metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(local_prometheus_text))
}

async fn local_prometheus_text(ip: ClientIp, headers: HeaderMap) -> ApiResult<Response> {
    const PROXY_HEADERS: [&str; 6] =
        ["x-forwarded-for", "forwarded", "x-real-ip", "via", "x-forwarded-proto", "x-forwarded-host"];
    let forwarded = PROXY_HEADERS.iter().any(|h| headers.contains_key(*h));
    if !ip.0.is_loopback() || forwarded {
        return Err(ApiError::forbidden(
            "Metrics are served on the API port to local clients only; set PITCHEY_METRICS_BIND to scrape from elsewhere",
        ));
    }
    Ok(prometheus_text().await)
}

/// Only administrators pass.
pub fn require_admin(auth: &AuthUser) -> ApiResult<()> {
    if auth.user.user_type == UserType::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("Administrator access required"))
    }
}

async fn cache_status(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Json<Value>> {
    require_admin(&auth)?;
    s.cache.sync().await;
    let st = s.cache.status();
    Ok(ok(json!({
        "enabled": s.settings.cache_enabled,
        "caches": st.caches,
        "l2": { "configured": st.l2_configured, "connected": st.l2_connected, "subscribed": st.l2_subscribed },
    })))
}

async fn cache_warm(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Json<Value>> {
    require_admin(&auth)?;
    let t0 = std::time::Instant::now();
    let keys = caching::warm(&s).await;
    Ok(ok(json!({ "warmed": keys.len(), "keys": keys, "ms": t0.elapsed().as_secs_f64() * 1000.0 })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InvalidateBody {
    prefix: Option<String>,
    all: bool,
}

/// `{"all": true}` or `{"prefix": "lists"}` (a namespace name, or a prefix of names such as `"pitch"`).
async fn cache_invalidate(
    State(s): State<AppState>,
    auth: AuthUser,
    JsonOrEmpty(b): JsonOrEmpty<InvalidateBody>,
) -> ApiResult<Json<Value>> {
    require_admin(&auth)?;
    let targets: Vec<Ns> = match (b.all, b.prefix.as_deref().map(str::trim)) {
        (true, _) => Ns::ALL.to_vec(),
        (false, Some(p)) if !p.is_empty() => {
            let p = p.trim_end_matches([':', '*']);
            let t: Vec<Ns> =
                Ns::ALL.into_iter().filter(|n| n.name().starts_with(p) || p.starts_with(n.name())).collect();
            if t.is_empty() {
                return Err(ApiError::validation(format!(
                    "Unknown cache prefix {p:?}; caches are {}",
                    Ns::ALL.map(Ns::name).join(", ")
                )));
            }
            t
        }
        _ => return Err(ApiError::validation("Send {\"all\": true} or {\"prefix\": \"<cache name>\"}")),
    };
    futures::future::join_all(targets.iter().map(|ns| s.cache.invalidate(*ns))).await;
    tracing::info!(by = auth.user.id, caches = ?targets.iter().map(|n| n.name()).collect::<Vec<_>>(), "cache invalidated");
    Ok(ok(json!({ "invalidated": targets.iter().map(|n| n.name()).collect::<Vec<_>>() })))
}

/// `GET /api/performance/metrics`: latency percentiles per route, the slowest recent queries, database
/// endpoints, cache state and process figures, as JSON.
async fn performance(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Json<Value>> {
    require_admin(&auth)?;
    let slow: Vec<Value> = s
        .store
        .db()
        .slow_queries()
        .iter()
        .map(|q| json!({ "query": q.name, "role": q.role, "ms": q.millis, "at": iso(q.at) }))
        .collect();
    let snap = s.health.get();
    let endpoints: Vec<Value> = snap
        .endpoints
        .iter()
        .map(|e| {
            json!({ "name": e.name, "role": e.role.as_str(), "ok": e.ok, "breaker": e.breaker.as_str(),
                    "latencyMs": e.latency.as_secs_f64() * 1000.0, "lagSeconds": e.lag_secs, "error": e.error })
        })
        .collect();
    Ok(ok(json!({
        "routes": s.route_stats.summaries(),
        "slowQueries": slow,
        "slowQueryThresholdMs": s.settings.slow_query_ms,
        "database": { "backend": s.store.backend().as_str(), "endpoints": endpoints, "checkedAt": snap.checked_at.map(iso) },
        "cache": s.cache.status(),
        "process": {
            "residentMemoryBytes": crate::observability::resident_memory_bytes(),
            "uptimeSeconds": s.started.elapsed().as_secs(),
            "inFlight": s.in_flight(),
        },
    })))
}

async fn prometheus_text() -> Response {
    match crate::observability::prometheus() {
        Some(h) => {
            let mut res = h.render().into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            res
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder unavailable").into_response(),
    }
}
