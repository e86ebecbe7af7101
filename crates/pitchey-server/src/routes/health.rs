//! Liveness and readiness probes.

use crate::state::AppState;
use crate::wire::iso;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health/live", get(live))
        .route("/api/health/ready", get(ready))
        .route("/api/health/ping", get(ping))
}

async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when serving, 503 while starting up or draining for shutdown.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.is_ready() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "not ready" })))
    }
}

async fn ping() -> Json<Value> {
    Json(json!({ "status": "ok", "timestamp": iso(chrono::Utc::now()), "version": env!("CARGO_PKG_VERSION") }))
}
