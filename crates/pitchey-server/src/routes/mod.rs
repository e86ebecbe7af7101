//! The route table: each feature owns its router; this module merges them.

pub mod admin;
pub mod auth;
pub mod browse;
pub mod config;
pub mod dashboards;
pub mod engagement;
pub mod ndas;
pub mod notifications;
pub mod ops;
pub mod params;
pub mod pitches;
pub mod search;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::http::StatusCode;

/// Every route of the API (and `/metrics` unless it has its own address).
pub fn router(metrics_on_api_port: bool) -> Router<AppState> {
    let r = Router::new()
        .merge(crate::health::router())
        .merge(admin::router())
        .merge(auth::router())
        .merge(pitches::router())
        .merge(browse::router())
        .merge(search::router())
        .merge(engagement::router())
        .merge(ndas::router())
        .merge(notifications::router())
        .merge(dashboards::router())
        .merge(config::router())
        .merge(ops::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    if metrics_on_api_port { r.merge(admin::local_metrics_router()) } else { r }
}

/// Unknown routes get 404 JSON, never 401 (a 401 would sign the web client out).
async fn not_found() -> ApiError {
    ApiError::not_found("Endpoint not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Method not allowed for this endpoint")
}
