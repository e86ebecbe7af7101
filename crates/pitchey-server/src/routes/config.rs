//! `/api/config/*`: the vocabularies the client loads on every page (contract §10).

use crate::state::AppState;
use crate::wire::ok;
use axum::routing::get;
use axum::{Json, Router};
use pitchey_core::catalog::{BUDGET_RANGES, FORMATS, GENRES, STAGES};
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/config/all", get(all))
        .route("/api/config/genres", get(|| async { ok(GENRES) }))
        .route("/api/config/formats", get(|| async { ok(FORMATS) }))
        .route("/api/config/budget-ranges", get(|| async { ok(BUDGET_RANGES) }))
        .route("/api/config/stages", get(|| async { ok(STAGES) }))
}

async fn all() -> Json<Value> {
    ok(json!({ "genres": GENRES, "formats": FORMATS, "budgetRanges": BUDGET_RANGES, "stages": STAGES }))
}
