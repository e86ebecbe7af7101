//! Health: a snapshot refreshed in the background by really probing the database endpoints and Redis, so
//! the health endpoints cost no I/O; plus liveness and readiness.

use crate::error::ApiError;
use crate::state::{AppState, Phase};
use crate::wire::iso;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use pitchey_store::breaker::BreakerState;
use pitchey_store::{EndpointHealth, Role};
use serde::Serialize;
use serde_json::json;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Redis as last probed.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisHealth {
    /// No Redis configured.
    NotConfigured,
    /// Answered a PING.
    Connected(Duration),
    /// Did not answer.
    Error(String),
}

/// The result of one round of probes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When the probes ran (`None` before the first round).
    pub checked_at: Option<DateTime<Utc>>,
    /// Each database endpoint.
    pub endpoints: Vec<EndpointHealth>,
    /// Redis.
    pub redis: RedisHealth,
}

impl Snapshot {
    fn primary(&self) -> Option<&EndpointHealth> {
        self.endpoints.iter().find(|e| e.role == Role::Primary)
    }

    /// Is the primary reachable and its breaker not open?
    pub fn primary_ok(&self) -> bool {
        self.primary().is_some_and(|p| p.ok && p.breaker != BreakerState::Open)
    }

    fn replicas_ok(&self) -> bool {
        self.endpoints.iter().filter(|e| e.role == Role::Replica).all(|e| e.ok)
    }

    fn redis_ok(&self) -> bool {
        !matches!(self.redis, RedisHealth::Error(_))
    }
}

/// The latest snapshot, shared.
#[derive(Debug)]
pub struct Health {
    snapshot: RwLock<Arc<Snapshot>>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            snapshot: RwLock::new(Arc::new(Snapshot {
                checked_at: None,
                endpoints: Vec::new(),
                redis: RedisHealth::NotConfigured,
            })),
        }
    }
}

impl Health {
    /// The latest snapshot.
    pub fn get(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set(&self, s: Snapshot) {
        *self.snapshot.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(s);
    }
}

/// Runs one round of probes and stores the snapshot.
pub async fn refresh(state: &AppState) {
    let timeout = Duration::from_millis(state.settings.health_timeout_ms);
    let endpoints = state.store.db().check_endpoints(timeout).await;
    let redis = match state.cache.ping_l2().await {
        None => RedisHealth::NotConfigured,
        Some(Ok(d)) => RedisHealth::Connected(d),
        Some(Err(e)) => RedisHealth::Error(e),
    };
    let snap = Snapshot { checked_at: Some(Utc::now()), endpoints, redis };
    if !snap.primary_ok() {
        tracing::warn!("health: primary database unavailable");
    }
    state.health.set(snap);
}

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(api_health))
        .route("/health", get(bare_health))
        .route("/api/health/live", get(live))
        .route("/api/health/ready", get(ready))
        .route("/api/health/ping", get(ping))
        .route("/api/health/{service}", get(service))
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
    res
}

/// One database endpoint in `GET /api/health`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointBody<'a> {
    name: &'a str,
    role: &'static str,
    status: &'static str,
    time: Option<&'a str>,
    error: Option<&'a str>,
    latency_ms: f64,
    breaker: &'static str,
    lag_seconds: Option<f64>,
}

impl<'a> EndpointBody<'a> {
    fn of(e: &'a EndpointHealth, checked: Option<&'a str>) -> Self {
        EndpointBody {
            name: &e.name,
            role: e.role.as_str(),
            status: if e.ok { "connected" } else { "error" },
            time: checked,
            error: e.error.as_deref(),
            latency_ms: e.latency.as_secs_f64() * 1000.0,
            breaker: e.breaker.as_str(),
            lag_seconds: e.lag_secs,
        }
    }
}

/// The primary in `GET /api/health`, or a placeholder before the first probe.
#[derive(Serialize)]
#[serde(untagged)]
enum DatabaseBody<'a> {
    Checked(EndpointBody<'a>),
    NotYet { status: &'static str, time: Option<&'a str>, error: &'static str },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RedisBody<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct StatusOnly {
    status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CacheBody {
    status: &'static str,
    l2_connected: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicesBody<'a> {
    database: DatabaseBody<'a>,
    replicas: Vec<EndpointBody<'a>>,
    redis: RedisBody<'a>,
    cache: CacheBody,
    stripe: StatusOnly,
    email: StatusOnly,
    rate_limit: StatusOnly,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiHealthData<'a> {
    status: &'static str,
    timestamp: &'a str,
    checked_at: Option<&'a str>,
    version: &'static str,
    environment: &'a str,
    backend: &'static str,
    uptime_seconds: u64,
    ready: bool,
    services: ServicesBody<'a>,
}

#[derive(Serialize)]
struct Meta<'a> {
    timestamp: &'a str,
}

#[derive(Serialize)]
struct ApiHealthBody<'a> {
    success: bool,
    data: ApiHealthData<'a>,
    meta: Meta<'a>,
}

/// `GET /api/health`: always 200; `status` is `ok` or `degraded`. Written from the snapshot by reference:
/// this endpoint is polled, and is meant to cost about as much as a static route.
async fn api_health(State(s): State<AppState>) -> Response {
    let snap = s.health.get();
    let ok = snap.primary_ok() && snap.redis_ok() && snap.replicas_ok();
    let checked = snap.checked_at.map(iso);
    let checked = checked.as_deref();
    let now = iso(Utc::now());
    let database =
        snap.primary().map_or(DatabaseBody::NotYet { status: "unknown", time: None, error: "not checked yet" }, |p| {
            DatabaseBody::Checked(EndpointBody::of(p, checked))
        });
    let replicas =
        snap.endpoints.iter().filter(|e| e.role == Role::Replica).map(|e| EndpointBody::of(e, checked)).collect();
    let redis = match &snap.redis {
        RedisHealth::NotConfigured => RedisBody { status: "not configured", latency_ms: None, error: None },
        RedisHealth::Connected(d) => {
            RedisBody { status: "connected", latency_ms: Some(d.as_secs_f64() * 1000.0), error: None }
        }
        RedisHealth::Error(e) => RedisBody { status: "error", latency_ms: None, error: Some(e) },
    };
    let body = ApiHealthBody {
        success: true,
        data: ApiHealthData {
            status: if ok { "ok" } else { "degraded" },
            timestamp: &now,
            checked_at: checked,
            version: env!("CARGO_PKG_VERSION"),
            environment: &s.settings.environment,
            backend: s.store.backend().as_str(),
            uptime_seconds: s.started.elapsed().as_secs(),
            ready: s.is_ready(),
            services: ServicesBody {
                database,
                replicas,
                redis,
                cache: CacheBody {
                    status: if s.settings.cache_enabled { "active" } else { "disabled" },
                    l2_connected: s.cache.l2_connected(),
                },
                stripe: StatusOnly { status: "not configured" },
                email: StatusOnly { status: "not configured" },
                rate_limit: StatusOnly { status: if s.login_limiter.is_some() { "active" } else { "disabled" } },
            },
        },
        meta: Meta { timestamp: &now },
    };
    no_store(Json(body).into_response())
}

/// `GET /health`: bare object, 200 when healthy, 503 otherwise.
async fn bare_health(State(s): State<AppState>) -> Response {
    let snap = s.health.get();
    let mut errors = Vec::new();
    let database = if snap.primary_ok() {
        "healthy"
    } else {
        errors.push(snap.primary().and_then(|p| p.error.clone()).unwrap_or_else(|| "database unavailable".into()));
        "unhealthy"
    };
    let cache = match &snap.redis {
        RedisHealth::Error(e) => {
            errors.push(format!("redis: {e}"));
            "unhealthy"
        }
        _ => "healthy",
    };
    let checks =
        json!({ "database": database, "cache": cache, "storage": "unknown", "email": "unknown", "auth": database });
    let unhealthy = [database, cache, database].iter().filter(|c| **c == "unhealthy").count();
    let status = match unhealthy {
        0 => "healthy",
        n if n >= 3 => "unhealthy",
        _ => "degraded",
    };
    let body = json!({
        "status": status,
        "timestamp": iso(Utc::now()),
        "environment": s.settings.environment,
        "version": env!("CARGO_PKG_VERSION"),
        "checks": checks,
        "metrics": {
            "responseTime": snap.primary().map(|p| p.latency.as_secs_f64() * 1000.0),
            "activeConnections": s.in_flight(),
            "memoryUsage": crate::observability::resident_memory_bytes(),
            "uptime": s.started.elapsed().as_secs(),
        },
        "errors": errors,
    });
    let code = if status == "healthy" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    no_store((code, Json(body)).into_response())
}

async fn live() -> Response {
    no_store(Json(json!({ "status": "ok" })).into_response())
}

/// 200 when serving; 503 while starting (migrating, seeding), while the primary database is unreachable,
/// and while draining for shutdown.
async fn ready(State(s): State<AppState>) -> Response {
    let snap = s.health.get();
    let (ok, reason) = match s.phase() {
        Phase::Starting => (false, "starting"),
        Phase::Draining => (false, "draining"),
        Phase::Ready if !snap.primary_ok() => (false, "database unavailable"),
        Phase::Ready => (true, "ready"),
    };
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    no_store(
        (code, Json(json!({ "status": if ok { "ready" } else { "not ready" }, "reason": reason }))).into_response(),
    )
}

async fn ping() -> Response {
    no_store(
        Json(json!({ "status": "ok", "timestamp": iso(Utc::now()), "version": env!("CARGO_PKG_VERSION") }))
            .into_response(),
    )
}

/// `GET /api/health/{database|cache|storage|auth|websocket}`.
async fn service(
    State(s): State<AppState>,
    crate::extract::ApiPath(name): crate::extract::ApiPath<String>,
) -> Response {
    let snap = s.health.get();
    let checked = snap.checked_at.map(iso);
    let (status, latency, details) = match name.as_str() {
        "database" | "auth" => match snap.primary() {
            Some(p) if snap.primary_ok() => {
                let down_replicas = snap.endpoints.iter().filter(|e| e.role == Role::Replica && !e.ok).count();
                let st = if down_replicas > 0 { "degraded" } else { "operational" };
                (
                    st,
                    Some(p.latency.as_secs_f64() * 1000.0),
                    json!({ "backend": s.store.backend().as_str(), "breaker": p.breaker.as_str(), "replicasDown": down_replicas }),
                )
            }
            Some(p) => ("down", None, json!({ "error": p.error, "breaker": p.breaker.as_str() })),
            None => ("down", None, json!({ "error": "not checked yet" })),
        },
        "cache" => match &snap.redis {
            RedisHealth::NotConfigured => ("operational", None, json!({ "l1": "active", "l2": "not configured" })),
            RedisHealth::Connected(d) => {
                ("operational", Some(d.as_secs_f64() * 1000.0), json!({ "l1": "active", "l2": "connected" }))
            }
            // L1 keeps serving without Redis: degraded, not down.
            RedisHealth::Error(e) => ("degraded", None, json!({ "l1": "active", "l2": "error", "error": e })),
        },
        "storage" => ("operational", None, json!({ "note": "this server stores no uploaded files" })),
        "websocket" => ("down", None, json!({ "note": "no WebSocket endpoint; clients poll /api/poll/all" })),
        _ => return ApiError::not_found("Unknown service").into_response(),
    };
    let code = if status == "down" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let body =
        json!({ "service": name, "status": status, "latency": latency, "details": details, "checkedAt": checked });
    no_store((code, Json(body)).into_response())
}
