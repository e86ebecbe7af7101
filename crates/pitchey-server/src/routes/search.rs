//! Search (contract §4): full-text pitch search ranked by relevance, people, suggestions, autocomplete
//! and facets. Input is reduced to plain words before it reaches any query language.

use super::params::ListParams;
use crate::caching::{cached, key};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::wire::pitch::{PitchView, public_views};
use crate::wire::{Serialized, ok_value, raw, serialize};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use pitchey_cache::Ns;
use pitchey_core::catalog::GENRES;
use pitchey_core::search::terms;
use pitchey_store::search::{Facet, UserHit};
use pitchey_store::{ListQuery, Order, Scope};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/search",
            get(|State(s): State<AppState>, uri: Uri, h: HeaderMap, ApiQuery(p): ApiQuery<ListParams>| async move {
                cached(&s, Ns::Search, key("search", &uri), &h, || search(&s, p)).await
            }),
        )
        .route(
            "/api/pitches/search",
            get(|State(s): State<AppState>, uri: Uri, h: HeaderMap, ApiQuery(p): ApiQuery<ListParams>| async move {
                cached(&s, Ns::Search, key("search", &uri), &h, || search(&s, p)).await
            }),
        )
        .route(
            "/api/pitches/public/search",
            get(|State(s): State<AppState>, uri: Uri, h: HeaderMap, ApiQuery(p): ApiQuery<ListParams>| async move {
                cached(&s, Ns::Search, key("public_search", &uri), &h, || public_search(&s, p)).await
            }),
        )
        .route(
            "/api/search/suggestions",
            get(|State(s): State<AppState>, uri: Uri, h: HeaderMap, ApiQuery(p): ApiQuery<SuggestParams>| async move {
                cached(&s, Ns::Search, key("suggestions", &uri), &h, || suggestions(&s, p)).await
            }),
        )
        .route(
            "/api/search/autocomplete",
            get(|State(s): State<AppState>, uri: Uri, h: HeaderMap, ApiQuery(p): ApiQuery<SuggestParams>| async move {
                cached(&s, Ns::Search, key("autocomplete", &uri), &h, || autocomplete(&s, p)).await
            }),
        )
        .route(
            "/api/search/facets",
            get(|State(s): State<AppState>, uri: Uri, h: HeaderMap| async move {
                cached(&s, Ns::Search, key("facets", &uri), &h, || facets(&s)).await
            }),
        )
}

fn user_json(u: &UserHit) -> Value {
    let name = [u.first_name.as_deref(), u.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let name = if name.trim().is_empty() { u.username.clone() } else { name };
    json!({
        "id": u.id, "name": name, "username": u.username, "user_type": u.user_type, "userType": u.user_type,
        "bio": u.bio, "company_name": u.company_name, "companyName": u.company_name,
        "profile_image": u.profile_image, "created_at": crate::wire::iso(u.created_at), "type": "user",
    })
}

/// `GET /api/search`: `data.pitches`, `data.users`, `data.companies` and `results` (pitches tagged with
/// `type: "pitch"`). `type` narrows to pitches or one kind of account.
async fn search(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    let kind = p.kind.as_deref().map(str::to_ascii_lowercase).unwrap_or_else(|| "all".into());
    let (want_pitches, user_type) = match kind.as_str() {
        "all" | "" => (true, None),
        "pitch" | "pitches" => (true, Some("none")),
        "creator" | "production" | "investor" => (false, Some(kind.as_str())),
        "user" | "users" | "people" => (false, None),
        other => {
            return Err(ApiError::bad_request(format!("Unknown search type {other:?}")));
        }
    };
    let text = p.text().unwrap_or("");
    let words = terms(text);
    let paging = p.paging(20, 100);
    // Text that reduces to no words (only symbols) matches nothing rather than everything.
    let nothing_to_match = !text.is_empty() && words.is_empty();
    let lq = if want_pitches && !nothing_to_match {
        let mut lq = ListQuery::new(Scope::Market);
        p.apply_filters(&mut lq, None)?;
        match p.sort()? {
            Some((o, d)) => {
                lq.order = o;
                lq.descending = d;
            }
            None if !lq.terms.is_empty() => lq.order = Order::Relevance,
            None => lq.order = Order::Published,
        }
        lq.limit = paging.limit;
        lq.offset = paging.offset;
        Some(lq)
    } else {
        None
    };
    // Pitches and people at once, so that neither waits for the other's statements (in turn while a
    // database circuit is half-open: `Db::side_by_side`). Boxed, so that the two state machines do not sit
    // inline in the handler's (on the worker's stack).
    let pitch_page = Box::pin(async {
        match &lq {
            Some(lq) => s.store.list_pitches(lq).await.map(|page| (page.items, page.total)),
            None => Ok((Vec::new(), 0)),
        }
    });
    let people = Box::pin(async {
        match user_type {
            Some("none") => Ok(Vec::new()),
            _ if words.is_empty() => Ok(Vec::new()),
            t => s.store.search_users(&words, t, 10).await,
        }
    });
    let ((rows, total), users): (_, Vec<UserHit>) = s.store.db().side_by_side(pitch_page, people).await?;
    let pitches = public_views(&rows);
    let results: Vec<PitchView> = rows.iter().map(|r| PitchView::card(r).tagged("pitch")).collect();
    let results = raw(&results)?;
    let companies: Vec<Value> = users
        .iter()
        .filter(|u| u.user_type == "production" && u.company_name.is_some())
        .map(|u| {
            json!({ "id": u.id, "name": u.company_name, "company_name": u.company_name, "description": u.bio,
                    "created_at": crate::wire::iso(u.created_at) })
        })
        .collect();
    let users: Vec<Value> = users.iter().map(user_json).collect();
    let has_more = paging.offset + (pitches.len() as i64) < total;
    // `results` (twice, serialized once) are the pitch cards tagged `type: "pitch"`.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        pitches: &'a [PitchView<'a>],
        users: Vec<Value>,
        companies: Vec<Value>,
        results: &'a RawValue,
        total: i64,
        page: i64,
        limit: i64,
        has_more: bool,
        query: &'a str,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        success: bool,
        data: Data<'a>,
        results: &'a RawValue,
        total: i64,
    }
    let data = Data {
        pitches: &pitches,
        users,
        companies,
        results: &results,
        total,
        page: paging.page,
        limit: paging.limit,
        has_more,
        query: text,
    };
    serialize(&Body { success: true, data, results: &results, total })
}

/// `GET /api/pitches/public/search`: at least two characters of query.
async fn public_search(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    let text = p.text().unwrap_or("");
    if text.chars().count() < 2 {
        return Err(ApiError::bad_request("Search term must be at least 2 characters"));
    }
    let paging = p.paging(20, 50);
    let mut lq = ListQuery::new(Scope::Public);
    p.apply_filters(&mut lq, None)?;
    let (rows, total) = if lq.terms.is_empty() {
        (Vec::new(), 0)
    } else {
        lq.order = Order::Relevance;
        lq.limit = paging.limit;
        lq.offset = paging.offset;
        let page = s.store.list_pitches(&lq).await?;
        (page.items, page.total)
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        pitches: Vec<PitchView<'a>>,
        total: i64,
        page: i64,
        page_size: i64,
        search_term: &'a str,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        success: bool,
        data: Data<'a>,
    }
    let data =
        Data { pitches: public_views(&rows), total, page: paging.page, page_size: paging.limit, search_term: text };
    serialize(&Body { success: true, data })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SuggestParams {
    q: Option<String>,
    query: Option<String>,
    field: Option<String>,
    limit: Option<String>,
}

impl SuggestParams {
    fn text(&self) -> &str {
        self.q.as_deref().or(self.query.as_deref()).unwrap_or("").trim()
    }
    fn limit(&self, default: i64) -> i64 {
        self.limit.as_deref().and_then(|l| l.parse().ok()).unwrap_or(default).clamp(1, 20)
    }
}

/// `GET /api/search/suggestions`: `{suggestions:[{query, type, count?}]}` from titles, genres and creators.
async fn suggestions(s: &AppState, p: SuggestParams) -> ApiResult<Value> {
    let text = p.text();
    let limit = p.limit(8);
    let words = terms(text);
    if words.is_empty() {
        return Ok(ok_value(json!({ "suggestions": [] })));
    }
    let mut out: Vec<Value> = Vec::new();
    for t in s.store.title_suggestions(&words, text, limit).await? {
        out.push(json!({ "query": t, "type": "title" }));
    }
    let lower = text.to_lowercase();
    for g in GENRES.iter().filter(|g| g.to_lowercase().contains(&lower)).take(3) {
        out.push(json!({ "query": g, "type": "genre" }));
    }
    for u in s.store.search_users(&words, Some("creator"), 3).await? {
        out.push(json!({ "query": user_json(&u)["name"], "type": "creator", "id": u.id }));
    }
    out.truncate(limit as usize);
    Ok(ok_value(json!({ "suggestions": out })))
}

/// `GET /api/search/autocomplete`: `{suggestions:[{value, count}]}` for `field` = title, genre or creator.
async fn autocomplete(s: &AppState, p: SuggestParams) -> ApiResult<Value> {
    let text = p.text();
    if text.chars().count() < 2 {
        return Err(ApiError::bad_request("Query must be at least 2 characters"));
    }
    let words = terms(text);
    let limit = p.limit(10);
    let field = p.field.as_deref().unwrap_or("title");
    let suggestions: Vec<Value> = match field {
        "title" => s
            .store
            .title_suggestions(&words, text, limit)
            .await?
            .into_iter()
            .map(|t| json!({ "value": t, "count": 1 }))
            .collect(),
        "genre" => {
            let lower = text.to_lowercase();
            s.store
                .facets()
                .await?
                .genres
                .into_iter()
                .filter(|f: &Facet| f.value.contains(&lower))
                .take(limit as usize)
                .map(|f| json!({ "value": f.value, "count": f.count }))
                .collect()
        }
        // Text of symbols only names no one (an empty search would list every user).
        "creator" if words.is_empty() => Vec::new(),
        "creator" => s
            .store
            .search_users(&words, None, limit)
            .await?
            .iter()
            .filter(|u| u.user_type != "investor")
            .map(|u| json!({ "value": user_json(u)["name"], "count": 1, "id": u.id }))
            .collect(),
        other => {
            return Err(ApiError::bad_request(format!("Unknown field {other:?} (title, genre or creator)")));
        }
    };
    Ok(ok_value(json!({ "suggestions": suggestions })))
}

fn facet_list(f: &[Facet]) -> Vec<Value> {
    f.iter().map(|f| json!({ "value": f.value, "count": f.count })).collect()
}

/// `GET /api/search/facets`.
async fn facets(s: &AppState) -> ApiResult<Value> {
    let f = s.store.facets().await?;
    Ok(ok_value(json!({ "facets": {
        "genres": facet_list(&f.genres), "formats": facet_list(&f.formats),
        "budgetRanges": facet_list(&f.budget_ranges), "productionStages": facet_list(&f.production_stages),
    }})))
}
