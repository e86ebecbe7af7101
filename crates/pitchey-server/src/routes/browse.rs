//! Public lists and the marketplace (contract §3.3): home-page lists, `/api/browse` with its tabs and
//! filters, `/api/pitches/public`, trending and featured aliases, genres, top-rated, and the pitches of
//! followed creators.

use super::params::ListParams;
use super::pitches::{cards_for, private};
use crate::caching::{cached, key, key_of};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::session::AuthUser;
use crate::state::AppState;
use crate::wire::pitch::{PitchView, public_cards, public_views};
use crate::wire::{Serialized, iso, object, serialize, superset};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Duration;
use pitchey_cache::Ns;
use pitchey_store::{ListQuery, Order, Scope};
use serde::Serialize;
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    let list = |route: ListRoute| {
        move |State(s): State<AppState>, uri: Uri, headers: HeaderMap, ApiQuery(p): ApiQuery<ListParams>| async move {
            cached(&s, Ns::Lists, key(route.name(), &uri), &headers, || route.body(&s, p)).await
        }
    };
    Router::new()
        .route("/api/pitches/public", get(list(ListRoute::PublicAll)))
        .route("/api/pitches/public/trending", get(list(ListRoute::PublicTrending)))
        .route("/api/pitches/public/new", get(list(ListRoute::PublicNew)))
        .route("/api/pitches/public/featured", get(list(ListRoute::PublicFeatured)))
        .route("/api/pitches/featured", get(list(ListRoute::PublicFeatured)))
        .route("/api/browse", get(list(ListRoute::Browse)))
        .route("/api/pitches/browse", get(list(ListRoute::Browse)))
        .route("/api/trending", get(list(ListRoute::Trending)))
        .route("/api/pitches/trending", get(list(ListRoute::Trending)))
        .route("/api/search/trending", get(list(ListRoute::Trending)))
        .route("/api/browse/genres", get(list(ListRoute::Genres)))
        .route("/api/browse/top-rated", get(list(ListRoute::TopRated)))
        .route("/api/pitches/following", get(following))
}

/// The cached public lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRoute {
    /// `/api/pitches/public/trending`.
    PublicTrending,
    /// `/api/pitches/public/new`.
    PublicNew,
    /// `/api/pitches/public/featured` (= `/api/pitches/featured`).
    PublicFeatured,
    /// `/api/pitches/public`.
    PublicAll,
    /// `/api/browse` (= `/api/pitches/browse`).
    Browse,
    /// `/api/trending` and its aliases.
    Trending,
    /// `/api/browse/genres`.
    Genres,
    /// `/api/browse/top-rated`.
    TopRated,
}

impl ListRoute {
    /// The name used in cache keys.
    pub fn name(self) -> &'static str {
        match self {
            ListRoute::PublicTrending => "public_trending",
            ListRoute::PublicNew => "public_new",
            ListRoute::PublicFeatured => "public_featured",
            ListRoute::PublicAll => "public_all",
            ListRoute::Browse => "browse",
            ListRoute::Trending => "trending",
            ListRoute::Genres => "genres",
            ListRoute::TopRated => "top_rated",
        }
    }

    fn from_name(name: &str) -> Option<ListRoute> {
        use ListRoute::*;
        [PublicTrending, PublicNew, PublicFeatured, PublicAll, Browse, Trending, Genres, TopRated]
            .into_iter()
            .find(|r| r.name() == name)
    }

    /// Computes the response body (the cache's loader).
    pub async fn body(self, s: &AppState, p: ListParams) -> ApiResult<Serialized> {
        match self {
            ListRoute::PublicTrending => public_trending(s, p).await,
            ListRoute::PublicNew => public_new(s, p).await,
            ListRoute::PublicFeatured => public_featured(s, p).await,
            ListRoute::PublicAll => public_all(s, p).await,
            ListRoute::Browse => browse(s, p).await,
            ListRoute::Trending => serialize(&trending(s, p).await?),
            ListRoute::Genres => serialize(&genres(s).await?),
            ListRoute::TopRated => serialize(&top_rated(s, p).await?),
        }
    }
}

/// The first pages the web client requests on its public pages (home, browse, marketplace, investor
/// browse): warmed at start and on an interval.
pub const WARM: &[(&str, &str)] = &[
    ("public_trending", "limit=4"),
    ("public_new", "limit=4"),
    ("public_featured", "limit=4"),
    ("public_trending", "limit=12"),
    ("public_new", "limit=12"),
    ("public_featured", "limit=12"),
    ("public_all", "limit=20"),
    ("browse", "limit=100&tab=trending"),
    ("browse", "limit=100&tab=new"),
    ("browse", "limit=100&tab=popular"),
    ("browse", "limit=24&page=1&tab=trending"),
    ("browse", "tab=trending"),
];

/// Warms one list page; returns its cache key.
pub async fn warm_one(s: &AppState, route: &str, query: &str) -> ApiResult<String> {
    let r = ListRoute::from_name(route).ok_or_else(|| ApiError::internal(format!("no list route {route}")))?;
    let p: ListParams = serde_urlencoded::from_str(query).map_err(ApiError::internal)?;
    let k = key_of(route, query);
    cached(s, Ns::Lists, k.clone(), &HeaderMap::new(), || r.body(s, p)).await?;
    Ok(k)
}

/// The home-page lists: published and public, ordered per list; `paged` adds `page` and `pageSize`.
async fn home_list(state: &AppState, p: &ListParams, order: Order, max: i64, paged: bool) -> ApiResult<Serialized> {
    let paging = p.paging(20, max);
    let mut lq = ListQuery::new(Scope::Public);
    lq.order = order;
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    let page = state.store.list_pitches(&lq).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        pitches: Vec<PitchView<'a>>,
        total: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        page_size: Option<i64>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        success: bool,
        data: Data<'a>,
        timestamp: String,
    }
    let data = Data {
        pitches: public_views(&page.items),
        total: page.total,
        page: paged.then_some(paging.page),
        page_size: paged.then_some(paging.limit),
    };
    serialize(&Body { success: true, data, timestamp: iso(chrono::Utc::now()) })
}

async fn public_trending(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    home_list(s, &p, Order::PublicTrending, 50, true).await
}

async fn public_new(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    home_list(s, &p, Order::Created, 50, true).await
}

async fn public_featured(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    let p = ListParams { limit: Some(p.limit.unwrap_or(6)), ..p };
    home_list(s, &p, Order::PublicFeatured, 12, false).await
}

/// `GET /api/pitches/public`: published pitches, newest first, with `genre`, `format` and `search`.
async fn public_all(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    let paging = p.paging(20, 100);
    let mut lq = ListQuery::new(Scope::Published);
    p.apply_filters(&mut lq, None)?;
    lq.order = if lq.terms.is_empty() { Order::Created } else { Order::Relevance };
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    let page = s.store.list_pitches(&lq).await?;
    let items = public_views(&page.items);
    // The contract's superset: the page four times over, written from one copy.
    #[derive(Serialize)]
    struct Data<'a> {
        data: &'a [PitchView<'a>],
        items: &'a [PitchView<'a>],
        total: i64,
        page: i64,
        limit: i64,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        success: bool,
        data: Data<'a>,
        items: &'a [PitchView<'a>],
        pitches: &'a [PitchView<'a>],
        total: i64,
    }
    let data = Data { data: &items, items: &items, total: page.total, page: paging.page, limit: paging.limit };
    serialize(&Body { success: true, data, items: &items, pitches: &items, total: page.total })
}

/// Marketplace tabs: `trending` (engagement, last 90 days), `new` (last 30 days, newest first), `popular`
/// (engagement, all time); any other tab is the contract's "recent" list (last 90 days by last update).
fn tab_query(tab: &str) -> (ListQuery, &'static str) {
    let now = chrono::Utc::now();
    let mut lq = ListQuery::new(Scope::Market);
    let name = match tab {
        "trending" => {
            lq.order = Order::Score;
            lq.published_since = Some(now - Duration::days(90));
            "trending"
        }
        "new" => {
            lq.order = Order::Published;
            lq.published_since = Some(now - Duration::days(30));
            "new"
        }
        "popular" => {
            lq.order = Order::Score;
            "popular"
        }
        _ => {
            lq.order = Order::Updated;
            lq.updated_since = Some(now - Duration::days(90));
            "recent"
        }
    };
    (lq, name)
}

/// `GET /api/browse`: top-level `items` (and the same under `data`), every filter honoured.
async fn browse(s: &AppState, p: ListParams) -> ApiResult<Serialized> {
    let tab = p.tab.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("trending").to_ascii_lowercase();
    let (mut lq, tab_name) = tab_query(&tab);
    p.apply_filters(&mut lq, None)?;
    if let Some((o, d)) = p.sort()? {
        lq.order = o;
        lq.descending = d;
    } else if !lq.terms.is_empty() {
        lq.order = Order::Relevance;
    }
    let paging = p.paging(20, 100);
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    let page = s.store.list_pitches(&lq).await?;
    let items = public_views(&page.items);
    let has_more = paging.offset + (items.len() as i64) < page.total;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        items: Vec<PitchView<'a>>,
        total: i64,
        page: i64,
        limit: i64,
        offset: i64,
        has_more: bool,
        tab: &'static str,
    }
    let data = Data {
        items,
        total: page.total,
        page: paging.page,
        limit: paging.limit,
        offset: paging.offset,
        has_more,
        tab: tab_name,
    };
    superset(&data)
}

/// Trending within `days` (default 7): `data.trending` with each pitch's `trending_score`.
async fn trending(s: &AppState, p: ListParams) -> ApiResult<Value> {
    let days = p.days.unwrap_or(7);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request("days must be between 1 and 365"));
    }
    let paging = p.paging(10, 50);
    let mut lq = ListQuery::new(Scope::Market);
    lq.order = Order::Score;
    lq.published_since = Some(chrono::Utc::now() - Duration::days(days));
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    lq.with_total = false;
    let page = s.store.list_pitches(&lq).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .zip(public_cards(&page.items))
        .map(|(r, mut card)| {
            card["trending_score"] = (r.view_count + 2 * r.like_count + 5 * r.nda_count).into();
            card
        })
        .collect();
    let data = object([
        ("trending", items.into()),
        ("timeWindow", days.into()),
        ("generated", iso(chrono::Utc::now()).into()),
    ]);
    Ok(object([("success", true.into()), ("data", data)]))
}

/// `GET /api/browse/genres`: bare `{"genres":[{genre, pitch_count}]}`.
async fn genres(s: &AppState) -> ApiResult<Value> {
    let f = s.store.facets().await?;
    let genres: Vec<Value> = f.genres.iter().map(|g| json!({ "genre": g.value, "pitch_count": g.count })).collect();
    Ok(json!({ "genres": genres }))
}

/// `GET /api/browse/top-rated`: bare `{"items","total","totalPages"}`, most liked first.
async fn top_rated(s: &AppState, p: ListParams) -> ApiResult<Value> {
    let paging = p.paging(20, 100);
    let mut lq = ListQuery::new(Scope::Market);
    p.apply_filters(&mut lq, None)?;
    lq.order = Order::Likes;
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    let page = s.store.list_pitches(&lq).await?;
    let total_pages = (page.total + paging.limit - 1) / paging.limit;
    Ok(
        json!({ "items": public_cards(&page.items), "total": page.total, "totalPages": total_pages, "page": paging.page }),
    )
}

/// `GET /api/pitches/following`: marketplace pitches by creators the caller follows, newest first.
async fn following(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let paging = p.paging(20, 100);
    let mut lq = ListQuery::new(Scope::FollowedBy(auth.user.id));
    lq.order = Order::Published;
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    let page = s.store.list_pitches(&lq).await?;
    let items = cards_for(&page.items, Some(auth.user.id));
    Ok(private(Json(json!({ "success": true, "data": { "pitches": items, "total": page.total } })).into_response()))
}
