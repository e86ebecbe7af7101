//! Query parameters shared by the pitch lists, and their translation into a store [`ListQuery`].

use crate::error::ApiError;
use axum::http::StatusCode;
use pitchey_core::catalog::{normalize_format, normalize_genre};
use pitchey_store::{ListQuery, Order};
use serde::{Deserialize, Deserializer};

/// Deepest offset served: deeper pages are clamped (bounds the cost of hostile paging).
pub const MAX_OFFSET: i64 = 100_000;
/// Most distinct values one list filter (`genre`, `format`, ...) takes: more than the catalogue has of any
/// (53 genre labels, contract §10).
pub const MAX_FILTER_VALUES: usize = 64;

/// The comma-separated values of a list parameter, trimmed, empty ones left out.
fn items(s: &Option<String>) -> impl Iterator<Item = &str> {
    s.as_deref().into_iter().flat_map(|s| s.split(',')).map(str::trim).filter(|x| !x.is_empty())
}

/// A filter's values, sorted, each once; more than [`MAX_FILTER_VALUES`] distinct ones are a 400. Each value
/// is a bound parameter: a query string of one genre repeated 32,000 times kept a SQLite reader busy for
/// seconds.
fn distinct(name: &str, values: impl Iterator<Item = String>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = values.collect();
    out.sort_unstable();
    out.dedup();
    if out.len() > MAX_FILTER_VALUES {
        let message = format!("{name} takes at most {MAX_FILTER_VALUES} values");
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", message));
    }
    Ok(out)
}

fn opt_num<'de, D: Deserializer<'de>, T: std::str::FromStr>(d: D) -> Result<Option<T>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") | Some("undefined") | Some("null") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{v:?} is not a number"))),
    }
}

/// An optional amount of money: a finite number, not negative (`NaN`, `inf` and `1e999` parse as floats).
fn opt_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match opt_num::<D, f64>(d)? {
        Some(v) if !v.is_finite() || v < 0.0 => {
            Err(serde::de::Error::custom(format!("{v} is not an amount (a finite number, 0 or more)")))
        }
        v => Ok(v),
    }
}

/// Every list parameter the client sends; each endpoint uses the ones it documents.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListParams {
    pub tab: Option<String>,
    pub genre: Option<String>,
    pub genres: Option<String>,
    pub format: Option<String>,
    #[serde(alias = "production_stage", alias = "stage")]
    pub production_stage: Option<String>,
    #[serde(alias = "budget_range", alias = "budget")]
    pub budget_range: Option<String>,
    pub q: Option<String>,
    pub search: Option<String>,
    pub sort: Option<String>,
    #[serde(alias = "sort_by")]
    pub sort_by: Option<String>,
    pub order: Option<String>,
    #[serde(alias = "sort_order")]
    pub sort_order: Option<String>,
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "opt_num")]
    pub page: Option<i64>,
    #[serde(deserialize_with = "opt_num", alias = "pageSize", alias = "page_size")]
    pub limit: Option<i64>,
    #[serde(deserialize_with = "opt_num")]
    pub offset: Option<i64>,
    #[serde(deserialize_with = "opt_amount", alias = "min_budget")]
    pub min_budget: Option<f64>,
    #[serde(deserialize_with = "opt_amount", alias = "max_budget")]
    pub max_budget: Option<f64>,
    #[serde(deserialize_with = "opt_num", alias = "user_id", alias = "creatorId")]
    pub user_id: Option<i64>,
    #[serde(deserialize_with = "opt_num")]
    pub days: Option<i64>,
}

/// Page size, offset and page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
    pub page: i64,
}

impl ListParams {
    /// Paging from `limit` (default `default`, at most `max`) and `offset` or `page`.
    pub fn paging(&self, default: i64, max: i64) -> Paging {
        let limit = self.limit.unwrap_or(default).clamp(1, max);
        let page = self.page.unwrap_or(1).max(1);
        let offset = self.offset.unwrap_or((page - 1).saturating_mul(limit)).clamp(0, MAX_OFFSET);
        Paging { limit, offset, page: offset / limit + 1 }
    }

    /// The search text (`q` or `search`), trimmed.
    pub fn text(&self) -> Option<&str> {
        self.q.as_deref().or(self.search.as_deref()).map(str::trim).filter(|s| !s.is_empty())
    }

    /// Applies the filters (genre, format, stage, budget, owner) to a query made for `viewer` (`None` for
    /// lists that are the same for everyone). Filtered by someone else's id, a list leaves out the pitches
    /// that hide their creator, whose presence there would name him.
    ///
    /// Each filter's values are deduplicated ([`distinct`]).
    pub fn apply_filters(&self, lq: &mut ListQuery, viewer: Option<i64>) -> Result<(), ApiError> {
        let genres = items(&self.genre).chain(items(&self.genres));
        lq.genres = distinct("genre", genres.map(normalize_genre))?;
        lq.formats = distinct("format", items(&self.format).map(normalize_format))?;
        lq.stages = distinct("productionStage", items(&self.production_stage).map(str::to_lowercase))?;
        for b in distinct("budgetRange", items(&self.budget_range).map(str::to_owned))? {
            match pitchey_core::catalog::budget_label_bounds(&b) {
                Some((min, max)) => {
                    lq.budget_min = Some(min);
                    lq.budget_max = max;
                }
                None => lq.budget_ranges.push(b.to_lowercase()),
            }
        }
        if let Some(m) = self.min_budget {
            lq.budget_min = Some(m);
        }
        if let Some(m) = self.max_budget {
            lq.budget_max = Some(m);
        }
        if let Some(owner) = self.user_id {
            lq.owner = Some(owner);
            lq.named_creators_only = viewer != Some(owner);
        }
        if let Some(t) = self.text() {
            lq.terms = pitchey_core::search::terms(t);
        }
        Ok(())
    }

    /// The explicit sort, if any: `(order, descending)`.
    pub fn sort(&self) -> Result<Option<(Order, bool)>, ApiError> {
        let Some(key) = self.sort.as_deref().or(self.sort_by.as_deref()).map(str::trim).filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        let (order, desc) = match key.to_ascii_lowercase().as_str() {
            "date" | "newest" | "recent" | "published" | "published_at" | "new" => (Order::Published, true),
            "oldest" => (Order::Published, false),
            "created" | "created_at" => (Order::Created, true),
            "updated" | "updated_at" => (Order::Updated, true),
            "views" | "view_count" | "most_viewed" => (Order::Views, true),
            "likes" | "like_count" | "popular" | "most_liked" => (Order::Likes, true),
            "ndas" | "nda_count" => (Order::Ndas, true),
            "trending" | "score" | "engagement" => (Order::Score, true),
            "title" | "alphabetical" | "name" => (Order::Title, false),
            "budget" | "estimated_budget" => (Order::Budget, true),
            "relevance" => (Order::Relevance, true),
            // No investment data is attached to list rows yet: order by engagement instead.
            "investments" | "investment_count" => (Order::Score, true),
            other => return Err(ApiError::bad_request(format!("Unknown sort {other:?}"))),
        };
        let dir = self.order.as_deref().or(self.sort_order.as_deref()).map(str::to_ascii_lowercase);
        let desc = match dir.as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            None | Some("") => desc,
            Some(o) => {
                return Err(ApiError::bad_request(format!("Unknown order {o:?} (use asc or desc)")));
            }
        };
        Ok(Some((order, desc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitchey_store::Scope;

    #[test]
    fn paging_defaults_and_bounds() {
        let p = ListParams { page: Some(3), limit: Some(10), ..Default::default() };
        assert_eq!(p.paging(20, 100), Paging { limit: 10, offset: 20, page: 3 });
        let p = ListParams { limit: Some(10_000), offset: Some(-5), ..Default::default() };
        assert_eq!(p.paging(20, 100), Paging { limit: 100, offset: 0, page: 1 });
        let p = ListParams { offset: Some(i64::MAX), ..Default::default() };
        assert_eq!(p.paging(20, 100).offset, MAX_OFFSET);
    }

    #[test]
    fn filters_map_labels_to_stored_values() {
        let p = ListParams {
            genre: Some("Adventure, Crime Drama".into()),
            format: Some("TV Series".into()),
            budget_range: Some("$1M-$5M".into()),
            q: Some("\"midnight\" OR *".into()),
            ..Default::default()
        };
        let mut lq = ListQuery::new(Scope::Market);
        p.apply_filters(&mut lq, None).unwrap();
        assert_eq!(lq.genres, vec!["action", "crime drama"]);
        assert_eq!(lq.formats, vec!["tv"]);
        assert_eq!((lq.budget_min, lq.budget_max), (Some(1_000_000.0), Some(5_000_000.0)));
        assert_eq!(lq.terms, vec!["midnight", "or"]);
        // An owner filter leaves out NDA-hidden pitches, except for the owner himself.
        let p = ListParams { user_id: Some(7), ..Default::default() };
        for (viewer, named_only) in [(None, true), (Some(8), true), (Some(7), false)] {
            let mut lq = ListQuery::new(Scope::Market);
            p.apply_filters(&mut lq, viewer).unwrap();
            assert_eq!((lq.owner, lq.named_creators_only), (Some(7), named_only), "{viewer:?}");
        }
        let p = ListParams { sort: Some("sideways".into()), ..Default::default() };
        assert!(p.sort().is_err());
        let p = ListParams { sort: Some("title".into()), order: Some("desc".into()), ..Default::default() };
        assert_eq!(p.sort().unwrap(), Some((Order::Title, true)));
    }

    #[test]
    fn filter_values_are_deduplicated_and_bounded() {
        let many = |n: usize, distinct: bool| {
            (0..n).map(|i| if distinct { format!("g{i}") } else { "Comedy".to_owned() }).collect::<Vec<_>>().join(",")
        };
        // Every genre label the catalogue offers is accepted at once.
        let all = pitchey_core::catalog::GENRES.join(",");
        let p = ListParams { genre: Some(all), genres: Some(many(32_000, false)), ..Default::default() };
        let mut lq = ListQuery::new(Scope::Market);
        p.apply_filters(&mut lq, None).unwrap();
        assert!(lq.genres.len() <= pitchey_core::catalog::GENRES.len(), "{:?}", lq.genres);
        let mut unique = lq.genres.clone();
        unique.dedup();
        assert_eq!(unique, lq.genres, "sorted, each value once");
        for p in [
            ListParams { genre: Some(many(MAX_FILTER_VALUES + 1, true)), ..Default::default() },
            ListParams { format: Some(many(MAX_FILTER_VALUES + 1, true)), ..Default::default() },
            ListParams { production_stage: Some(many(MAX_FILTER_VALUES + 1, true)), ..Default::default() },
            ListParams { budget_range: Some(many(MAX_FILTER_VALUES + 1, true)), ..Default::default() },
        ] {
            let e = p.apply_filters(&mut ListQuery::new(Scope::Market), None).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "INVALID_QUERY"), "{}", e.message);
        }
        let p = ListParams { format: Some(many(MAX_FILTER_VALUES, true)), ..Default::default() };
        assert!(p.apply_filters(&mut ListQuery::new(Scope::Market), None).is_ok());
    }
}
