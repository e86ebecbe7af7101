//! `/api/config/*`: the vocabularies the client loads on every page (contract §10), cached like any other
//! public read.

use crate::caching::{cached, key_of};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::ok_value;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use pitchey_cache::Ns;
use pitchey_core::catalog::{BUDGET_RANGES, FORMATS, GENRES, STAGES};
use serde_json::{Value, json};

/// The parts of the configuration.
const PARTS: &[&str] = &["all", "genres", "formats", "budget-ranges", "stages"];

fn body(part: &str) -> Value {
    match part {
        "genres" => ok_value(json!(GENRES)),
        "formats" => ok_value(json!(FORMATS)),
        "budget-ranges" => ok_value(json!(BUDGET_RANGES)),
        "stages" => ok_value(json!(STAGES)),
        _ => ok_value(json!({ "genres": GENRES, "formats": FORMATS, "budgetRanges": BUDGET_RANGES, "stages": STAGES })),
    }
}

async fn serve(s: &AppState, part: &'static str, headers: &HeaderMap) -> ApiResult<Response> {
    cached(s, Ns::Config, key_of(part, ""), headers, || async move { Ok(body(part)) }).await
}

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    let mut r = Router::new();
    for part in PARTS {
        r = r.route(
            &format!("/api/config/{part}"),
            get(move |State(s): State<AppState>, h: HeaderMap| async move { serve(&s, part, &h).await }),
        );
    }
    r
}

/// Warms `/api/config/all`; returns its key.
pub async fn warm(s: &AppState) -> ApiResult<String> {
    serve(s, "all", &HeaderMap::new()).await?;
    Ok(key_of("all", ""))
}
