//! The route table: each feature owns its router; this module merges them.

pub mod auth;
pub mod browse;
pub mod config;
pub mod dashboards;
pub mod engagement;
pub mod health;
pub mod ndas;
pub mod notifications;
pub mod params;
pub mod pitches;
pub mod search;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::http::StatusCode;

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(pitches::router())
        .merge(browse::router())
        .merge(search::router())
        .merge(engagement::router())
        .merge(ndas::router())
        .merge(notifications::router())
        .merge(dashboards::router())
        .merge(config::router())
        .merge(health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Unknown routes get 404 JSON, never 401 (a 401 would sign the web client out).
async fn not_found() -> ApiError {
    ApiError::not_found("Endpoint not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Method not allowed for this endpoint")
}
