//! Lists, filters, search and response shapes over real HTTP, on SQLite and PostgreSQL. Filter results are
//! compared with a plain in-memory filter of the seeded catalogue.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use chrono::{Duration, Utc};
use common::{TestApp, get, json_of, post, put};
use pitchey_core::{PitchStatus, Visibility};
use pitchey_store::{ListQuery, Order, PitchRow, Scope, SearchWindow};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::cmp::Ordering;

both_backends!(
    browse_filters_match_an_in_memory_model,
    totals_and_search_follow_every_kind_of_write,
    window_totals_split_at_the_first_days_end,
    bulk_seed_matches_row_by_row_seed,
    search_ranks_known_titles_first,
    search_beyond_the_rank_window_pages_every_match_once,
    hostile_search_input_never_errors,
    response_shapes,
);

fn market(p: &PitchRow) -> bool {
    p.status == PitchStatus::Published && matches!(p.visibility, Visibility::Public | Visibility::InvestorsOnly)
}

fn score(p: &PitchRow) -> i64 {
    p.view_count + 2 * p.like_count + 5 * p.nda_count
}

/// Expected ids of one page and the total.
struct Expect {
    ids: Vec<i64>,
    total: usize,
}

fn page(
    mut rows: Vec<&PitchRow>,
    cmp: impl Fn(&PitchRow, &PitchRow) -> Ordering,
    offset: usize,
    limit: usize,
) -> Expect {
    rows.sort_by(|a, b| cmp(a, b));
    Expect { total: rows.len(), ids: rows.iter().skip(offset).take(limit).map(|p| p.id).collect() }
}

fn by_score(a: &PitchRow, b: &PitchRow) -> Ordering {
    score(b).cmp(&score(a)).then(b.id.cmp(&a.id))
}

async fn check(app: &TestApp, query: &str, want: Expect) {
    let (s, body) = get(&app.client(), app.url(&format!("/api/browse?{query}"))).await;
    assert_eq!(s, StatusCode::OK, "{query}: {body}");
    let got: Vec<i64> = body["items"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(got, want.ids, "{query}");
    assert_eq!(body["total"].as_u64().unwrap() as usize, want.total, "{query} total");
    let offset = body["offset"].as_u64().unwrap() as usize;
    assert_eq!(body["hasMore"].as_bool().unwrap(), offset + got.len() < want.total, "{query} hasMore");
    assert_eq!(body["data"]["items"], body["items"], "{query}: data superset");
}

async fn browse_filters_match_an_in_memory_model(app: &TestApp) {
    pitchey_server::app::seed_demo(&app.state.store, 300).await.unwrap();
    // Written behind the API's back: tell the cache, as an API write would.
    app.state.cache.invalidate_all().await;
    let all = app.state.store.all_pitch_rows().await.unwrap();
    let now = Utc::now();
    let m: Vec<&PitchRow> = all.iter().filter(|p| market(p)).collect();
    let within = |days: i64| {
        let cut = now - Duration::days(days);
        move |p: &&PitchRow| p.published_at.is_some_and(|t| t >= cut)
    };
    // Tabs.
    check(app, "tab=trending&limit=20", page(m.iter().copied().filter(within(90)).collect(), by_score, 0, 20)).await;
    check(app, "limit=20", page(m.iter().copied().filter(within(90)).collect(), by_score, 0, 20)).await;
    let newest = |a: &PitchRow, b: &PitchRow| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id));
    check(app, "tab=new&limit=15", page(m.iter().copied().filter(within(30)).collect(), newest, 0, 15)).await;
    check(app, "tab=popular&limit=25&page=3", page(m.clone(), by_score, 50, 25)).await;
    let cut = now - Duration::days(90);
    let recent: Vec<&PitchRow> = m.iter().copied().filter(|p| p.updated_at >= cut).collect();
    check(
        app,
        "tab=whatever&limit=10",
        page(recent, |a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)), 0, 10),
    )
    .await;
    // Filters (popular: no time window, so every seeded pitch is in play).
    let only = |f: &dyn Fn(&PitchRow) -> bool| m.iter().copied().filter(|p| f(p)).collect::<Vec<_>>();
    let thrillers = only(&|p| p.genre == "thriller");
    assert!(!thrillers.is_empty());
    check(app, "tab=popular&genre=thriller&limit=100", page(thrillers, by_score, 0, 100)).await;
    check(app, "tab=popular&genre=Adventure&limit=100", page(only(&|p| p.genre == "action"), by_score, 0, 100)).await;
    check(
        app,
        "tab=popular&genre=thriller,Comedy&limit=100",
        page(only(&|p| p.genre == "thriller" || p.genre == "comedy"), by_score, 0, 100),
    )
    .await;
    check(
        app,
        "tab=popular&format=TV%20Series&limit=100",
        page(only(&|p| p.format.as_deref() == Some("tv")), by_score, 0, 100),
    )
    .await;
    check(
        app,
        "tab=popular&productionStage=Financing&limit=100",
        page(only(&|p| p.production_stage == "financing"), by_score, 0, 100),
    )
    .await;
    check(
        app,
        "tab=popular&budgetRange=1m-5m&limit=100",
        page(only(&|p| p.budget_range.as_deref() == Some("1m-5m")), by_score, 0, 100),
    )
    .await;
    let in_band = |p: &PitchRow| p.estimated_budget.is_some_and(|b| (1_000_000.0..5_000_000.0).contains(&b));
    check(app, "tab=popular&budgetRange=%241M-%245M&limit=100", page(only(&in_band), by_score, 0, 100)).await;
    check(
        app,
        "tab=popular&genre=thriller&format=feature&limit=100",
        page(only(&|p| p.genre == "thriller" && p.format.as_deref() == Some("feature")), by_score, 0, 100),
    )
    .await;
    // Sorts and orders.
    let views_asc = |a: &PitchRow, b: &PitchRow| a.view_count.cmp(&b.view_count).then(a.id.cmp(&b.id));
    check(app, "tab=popular&sort=views&order=asc&limit=30", page(m.clone(), views_asc, 0, 30)).await;
    let likes = |a: &PitchRow, b: &PitchRow| b.like_count.cmp(&a.like_count).then(b.id.cmp(&a.id));
    check(app, "tab=popular&sort=likes&limit=30", page(m.clone(), likes, 0, 30)).await;
    let title = |a: &PitchRow, b: &PitchRow| a.title.as_bytes().cmp(b.title.as_bytes()).then(a.id.cmp(&b.id));
    check(app, "tab=popular&sort=title&limit=40&offset=10", page(m.clone(), title, 10, 40)).await;
    let budget = |a: &PitchRow, b: &PitchRow| {
        b.estimated_budget.partial_cmp(&a.estimated_budget).unwrap_or(Ordering::Equal).then(b.id.cmp(&a.id))
    };
    check(app, "tab=popular&sort=budget&limit=30", page(m.clone(), budget, 0, 30)).await;
    check(app, "tab=popular&sort=date&order=desc&limit=30&page=2", page(m.clone(), newest, 30, 30)).await;
    // Bad sort or order is a clear 400.
    let (s, body) = get(&app.client(), app.url("/api/browse?sort=sideways")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(common::error_code(&body), "BAD_REQUEST");
    assert_eq!(get(&app.client(), app.url("/api/browse?limit=abc")).await.0, StatusCode::BAD_REQUEST);
    // A text filter returns only matching published pitches.
    let (_, body) = get(&app.client(), app.url("/api/browse?tab=popular&q=lighthouse&limit=100")).await;
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for p in items {
        let row = all.iter().find(|r| r.id == p["id"].as_i64().unwrap()).unwrap();
        assert!(market(row));
        let text =
            format!("{} {} {}", row.title, row.logline, row.short_synopsis.as_deref().unwrap_or("")).to_lowercase();
        assert!(text.contains("lighthouse"), "{}", row.title);
    }
    // Home lists: public only, in their orders.
    let public: Vec<&PitchRow> =
        all.iter().filter(|p| p.status == PitchStatus::Published && p.visibility == Visibility::Public).collect();
    let mut t = public.clone();
    t.sort_by(|a, b| (b.view_count + 2 * b.like_count).cmp(&(a.view_count + 2 * a.like_count)).then(b.id.cmp(&a.id)));
    let (_, body) = get(&app.client(), app.url("/api/pitches/public/trending?limit=12")).await;
    let got: Vec<i64> = body["data"]["pitches"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(got, t.iter().take(12).map(|p| p.id).collect::<Vec<_>>());
    assert_eq!(body["data"]["total"].as_u64().unwrap() as usize, public.len());
    let (_, body) = get(&app.client(), app.url("/api/pitches/public/featured?limit=50")).await;
    assert_eq!(body["data"]["pitches"].as_array().unwrap().len(), 12, "featured is capped at 12");
}

/// Every browse total (from the facet counts) against the in-memory model, over single filters and pairs.
async fn assert_totals_match(app: &TestApp, when: &str) {
    let all = app.state.store.all_pitch_rows().await.unwrap();
    let m: Vec<&PitchRow> = all.iter().filter(|p| market(p)).collect();
    let budget = |lo: f64, hi: Option<f64>| {
        move |p: &PitchRow| p.estimated_budget.is_some_and(|b| b >= lo && hi.is_none_or(|h| b < h))
    };
    type Filter<'a> = (&'a str, Box<dyn Fn(&PitchRow) -> bool>);
    let filters: Vec<Filter> = vec![
        ("", Box::new(|_| true)),
        ("genre=thriller", Box::new(|p| p.genre == "thriller")),
        ("genre=comedy,drama", Box::new(|p| p.genre == "comedy" || p.genre == "drama")),
        ("format=TV%20Series", Box::new(|p| p.format.as_deref() == Some("tv"))),
        ("productionStage=financing", Box::new(|p| p.production_stage == "financing")),
        ("budgetRange=Under%20%241M", Box::new(budget(0.0, Some(1e6)))),
        ("budgetRange=%2415M-%2430M", Box::new(budget(15e6, Some(30e6)))),
        ("budgetRange=Over%20%24100M", Box::new(budget(100e6, None))),
        ("minBudget=1000000", Box::new(budget(1e6, None))),
        ("maxBudget=5000000", Box::new(|p: &PitchRow| p.estimated_budget.is_some_and(|b| b < 5e6))),
        ("minBudget=1234", Box::new(budget(1234.0, None))), // not a band boundary: counted from the pitches
    ];
    let (_, body) = get(&app.client(), app.url("/api/browse?tab=popular&limit=1")).await;
    assert_eq!(body["total"].as_u64().unwrap() as usize, m.len(), "{when}: the whole marketplace");
    // Publication windows: whole days from `pitch_published_days`, the first day from the pitches.
    for (tab, days) in [("new", 30), ("trending", 90)] {
        let cut = Utc::now() - Duration::days(days);
        let want = m.iter().filter(|p| p.published_at.is_some_and(|t| t >= cut)).count();
        let (_, body) = get(&app.client(), app.url(&format!("/api/browse?tab={tab}&limit=1"))).await;
        assert_eq!(body["total"].as_u64().unwrap() as usize, want, "{when}: tab={tab}");
    }
    // Pairs of filters on different fields (two budget filters would narrow one range: not a conjunction).
    let field =
        |q: &str| if q.contains("udget") { "budget".to_owned() } else { q.split('=').next().unwrap_or("").to_owned() };
    for (i, (qa, fa)) in filters.iter().enumerate() {
        for (qb, fb) in filters.iter().skip(i + 1).filter(|(qb, _)| qa.is_empty() || field(qb) != field(qa)) {
            let query = format!("tab=popular&limit=1&{qa}&{qb}");
            let want = m.iter().filter(|p| fa(p) && fb(p)).count();
            let (s, body) = get(&app.client(), app.url(&format!("/api/browse?{query}"))).await;
            assert_eq!(s, StatusCode::OK, "{query}: {body}");
            assert_eq!(body["total"].as_u64().unwrap() as usize, want, "{when}: {query}");
        }
    }
    let public =
        all.iter().filter(|p| p.status == PitchStatus::Published && p.visibility == Visibility::Public).count();
    let (_, body) = get(&app.client(), app.url("/api/pitches/public/new?limit=1")).await;
    assert_eq!(body["data"]["total"].as_u64().unwrap() as usize, public, "{when}: public total");
    // Facets: the same counts by genre.
    let (_, body) = get(&app.client(), app.url("/api/search/facets")).await;
    for f in body["data"]["facets"]["genres"].as_array().unwrap() {
        let want = m.iter().filter(|p| p.genre == f["value"].as_str().unwrap()).count();
        assert_eq!(f["count"].as_u64().unwrap() as usize, want, "{when}: facet {f}");
    }
    if app.kind == common::Kind::Postgres {
        assert_eq!(term_rows_off(app).await, 0, "{when}: pitch_terms holds exactly the search documents' lexemes");
    }
}

/// PostgreSQL: how many rows `pitch_terms` has that the search documents do not, and lacks that they have
/// (lexeme, pitch, scope flags and score: the rank of the document for that lexeme).
async fn term_rows_off(app: &TestApp) -> i64 {
    let documents = "SELECT l COLLATE \"C\", s.pitch_id, s.is_published, s.is_market, s.is_public, \
                     ts_rank(s.document, pitch_term_query(l)) \
                     FROM pitch_search s, unnest(tsvector_to_array(s.document)) AS l";
    let terms = "SELECT lexeme, pitch_id, is_published, is_market, is_public, score FROM pitch_terms";
    let q = format!("SELECT COUNT(*) FROM (({documents} EXCEPT {terms}) UNION ALL ({terms} EXCEPT {documents})) d");
    app.state.store.db().one::<(i64,)>(pitchey_store::Sql::dynamic("test_term_rows", q)).await.unwrap().0
}

/// The total of `/api/search?q=...` and whether pitch `id` is among its first 100 results.
async fn search_finds(app: &TestApp, q: &str, id: i64) -> (u64, bool) {
    let (s, body) = get(&app.client(), app.url(&format!("/api/search?q={q}&limit=100"))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let found = body["data"]["pitches"].as_array().unwrap().iter().any(|p| p["id"] == id);
    (body["data"]["total"].as_u64().unwrap(), found)
}

/// The facet counts and the search index are kept by triggers: every write that changes a pitch's filters,
/// status, visibility or text must move them, and none may drift from the pitches themselves.
async fn totals_and_search_follow_every_kind_of_write(app: &TestApp) {
    pitchey_server::app::seed_demo(&app.state.store, 200).await.unwrap();
    app.state.cache.invalidate_all().await;
    assert_totals_match(app, "after seeding").await;
    let c = app.creator().await;
    let (_, body) = get(&c, app.url("/api/creator/pitches?status=published&limit=100")).await;
    let ids: Vec<i64> = body["pitches"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert!(ids.len() >= 3, "the demo creator owns published pitches");
    // Filters change on a published pitch.
    let (s, b) = put(
        &c,
        app.url(&format!("/api/pitches/{}", ids[0])),
        json!({"genre": "thriller", "format": "TV Series", "productionStage": "financing", "estimatedBudget": 20_000_000}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_totals_match(app, "after an update of the filters").await;
    // Archived and deleted pitches leave the counts.
    assert_eq!(post(&c, app.url(&format!("/api/pitches/{}/archive", ids[1])), json!({})).await.0, StatusCode::OK);
    assert_eq!(common::delete(&c, app.url(&format!("/api/pitches/{}", ids[2]))).await.0, StatusCode::OK);
    assert_totals_match(app, "after archive and delete").await;
    // A new pitch counts once published, and is found by its words only then.
    let (_, body) = post(
        &c,
        app.url("/api/pitches"),
        json!({"title": "Quokka Lantern", "logline": "An island ranger hides a secret.", "genre": "comedy",
               "format": "Feature Film", "estimatedBudget": 150_000_000}),
    )
    .await;
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    assert_eq!(search_finds(app, "quokka", id).await, (0, false), "a draft is not searchable");
    assert_totals_match(app, "after creating a draft").await;
    assert_eq!(post(&c, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await.0, StatusCode::OK);
    assert_eq!(search_finds(app, "quokka", id).await, (1, true));
    assert_totals_match(app, "after publishing").await;
    // Renaming moves it in the search index.
    assert_eq!(
        put(&c, app.url(&format!("/api/pitches/{id}")), json!({"title": "Wombat Lantern"})).await.0,
        StatusCode::OK
    );
    assert_eq!(search_finds(app, "quokka", id).await, (0, false));
    assert_eq!(search_finds(app, "wombat", id).await, (1, true));
    // Visibility changes (no API for investors-only yet: written directly, then the caches told).
    let set_visibility = |v: &'static str| {
        pitchey_store::Sql::new("test_set_visibility", "UPDATE pitches SET visibility = $1 WHERE id = $2")
            .arg(v)
            .arg(id)
    };
    app.state.store.db().exec(set_visibility("investors_only")).await.unwrap();
    app.state.cache.invalidate_all().await;
    assert_eq!(search_finds(app, "wombat", id).await, (1, true), "investors-only pitches are in the marketplace");
    assert_totals_match(app, "after investors-only").await;
    app.state.store.db().exec(set_visibility("private")).await.unwrap();
    app.state.cache.invalidate_all().await;
    assert_eq!(search_finds(app, "wombat", id).await, (0, false), "private pitches are not");
    assert_totals_match(app, "after private").await;
    // Deleting the owner deletes the pitches (cascade), and the counts follow.
    let owner = common::user_id(app, "alex.creator@demo.com").await;
    app.state
        .store
        .db()
        .exec(pitchey_store::Sql::new("test_delete_user", "DELETE FROM users WHERE id = $1").arg(owner))
        .await
        .unwrap();
    app.state.cache.invalidate_all().await;
    assert_totals_match(app, "after deleting the owner").await;
}

/// A window's total adds the whole days after its first day (day counts) to the first day's pitches (read
/// from the pitches): pitches published around the window's start and around the end of its first day are
/// each counted exactly once, or not at all, as the in-memory model says.
async fn window_totals_split_at_the_first_days_end(app: &TestApp) {
    pitchey_server::app::seed_demo(&app.state.store, 60).await.unwrap();
    let all = app.state.store.all_pitch_rows().await.unwrap();
    let ids: Vec<i64> = all.iter().filter(|p| market(p)).map(|p| p.id).take(6).collect();
    assert_eq!(ids.len(), 6);
    let start = Utc::now() - Duration::days(30); // the `new` tab's window starts about here
    let first_midnight = start.date_naive().succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let times = [
        start - Duration::minutes(2),                               // just before the window
        start + Duration::minutes(2),                               // just inside it
        first_midnight - Duration::milliseconds(1),                 // the first day's last moment
        first_midnight,                                             // the second day's first
        start.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc(), // the first day's midnight: outside
        first_midnight + Duration::days(3),                         // a whole day later on
    ];
    for (id, t) in ids.iter().zip(times) {
        let q = pitchey_store::Sql::new("test_set_published_at", "UPDATE pitches SET published_at = $1 WHERE id = $2")
            .arg(t)
            .arg(*id);
        app.state.store.db().exec(q).await.unwrap();
    }
    app.state.cache.invalidate_all().await;
    let (_, body) = get(&app.client(), app.url("/api/browse?tab=new&limit=1")).await;
    let cut = Utc::now() - Duration::days(30);
    let all = app.state.store.all_pitch_rows().await.unwrap();
    let want = all.iter().filter(|p| market(p) && p.published_at.is_some_and(|t| t >= cut)).count();
    assert_eq!(body["total"].as_u64().unwrap() as usize, want, "{body}");
    let moved: Vec<bool> =
        all.iter().filter(|p| ids.contains(&p.id)).map(|p| p.published_at.is_some_and(|t| t >= cut)).collect();
    assert_eq!(moved.iter().filter(|inside| **inside).count(), 4, "four of the six are inside the window");
}

/// Indexes, triggers and views as the database's catalogue lists them, sorted by name.
async fn schema_catalogue(app: &TestApp) -> Vec<(String, String)> {
    let q = match app.kind {
        common::Kind::Sqlite => {
            "SELECT type || ' ' || name, coalesce(sql, '') FROM sqlite_master \
             WHERE type IN ('index', 'trigger', 'view') ORDER BY 1"
        }
        common::Kind::Postgres => {
            "SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             UNION ALL SELECT 'trigger ' || tgname, tgenabled::text FROM pg_trigger WHERE NOT tgisinternal \
             ORDER BY 1"
        }
    };
    app.state.store.db().all(pitchey_store::Sql::new("test_catalogue", q)).await.unwrap()
}

/// The publication day counts, row by row.
async fn day_rows(app: &TestApp) -> Vec<(String, String, i64)> {
    let q = "SELECT visibility, CAST(day AS TEXT), CAST(n AS BIGINT) FROM pitch_published_days WHERE n <> 0 \
             ORDER BY 1, 2";
    app.state.store.db().all(pitchey_store::Sql::new("test_days", q)).await.unwrap()
}

/// The facet counts, row by row.
async fn facet_rows(app: &TestApp) -> Vec<(String, String, String, String, i64, i64)> {
    let q = "SELECT visibility, genre, format, production_stage, CAST(budget_band AS BIGINT), CAST(n AS BIGINT) \
             FROM pitch_facets WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5";
    app.state.store.db().all(pitchey_store::Sql::new("test_facets", q)).await.unwrap()
}

/// A large seed loads in bulk (indexes and per-row triggers deferred, their work done set-wise at the end:
/// pitchey-store's bulk.rs). It must leave the same database as the row-by-row load: the same indexes and
/// triggers afterwards, the same facet counts, the same search results; and the triggers must work again.
async fn bulk_seed_matches_row_by_row_seed(app: &TestApp) {
    use pitchey_store::seed::{BULK_LOAD, SeedOptions};
    let other = TestApp::spawn(app.kind).await.unwrap();
    let before = schema_catalogue(app).await;
    assert!(before.iter().any(|(name, _)| name.contains("pitches_market_score_idx")), "{before:?}");
    let n = BULK_LOAD;
    // One clock for both seeds, so that both put every pitch on the same day.
    let as_of = Some(Utc::now());
    let opts =
        |bulk_load_from| SeedOptions { password_hash: "not a hash".into(), extra_pitches: n, bulk_load_from, as_of };
    assert_eq!(app.state.store.seed_demo(&opts(n)).await.unwrap().pitches_created, n);
    assert_eq!(other.state.store.seed_demo(&opts(usize::MAX)).await.unwrap().pitches_created, n);
    assert_eq!(schema_catalogue(app).await, before, "indexes and triggers are back as they were");
    assert_eq!(schema_catalogue(&other).await, before);
    assert_eq!(facet_rows(app).await, facet_rows(&other).await);
    let days = day_rows(app).await;
    assert!(days.len() > 1, "{days:?}");
    assert_eq!(days, day_rows(&other).await);
    for q in ["lighthouse", "the%20last", "silent%20harbor", "orchard", "valley", "drama", "documentary", "a"] {
        let url = format!("/api/search?q={q}&limit=50");
        let (_, bulk) = get(&app.client(), app.url(&url)).await;
        let (_, rows) = get(&other.client(), other.url(&url)).await;
        let ids =
            |b: &Value| b["data"]["pitches"].as_array().unwrap().iter().map(|p| p["id"].clone()).collect::<Vec<_>>();
        assert_eq!(bulk["data"]["total"], rows["data"]["total"], "search total for {q}");
        assert!(bulk["data"]["total"].as_u64().unwrap() > 0 || q == "a", "{q} finds seeded pitches");
        assert_eq!(ids(&bulk), ids(&rows), "search results for {q}");
    }
    other.stop().await;
    app.state.cache.invalidate_all().await;
    assert_totals_match(app, "after a bulk seed").await;
    // The triggers index and count the next pitch.
    let c = app.creator().await;
    let (_, body) = post(
        &c,
        app.url("/api/pitches"),
        json!({"title": "Axolotl Harbour", "logline": "A diver finds a door under the pier.", "genre": "drama"}),
    )
    .await;
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    assert_eq!(post(&c, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await.0, StatusCode::OK);
    assert_eq!(search_finds(app, "axolotl", id).await, (1, true));
    assert_totals_match(app, "after publishing on a bulk-seeded database").await;
}

/// PostgreSQL counts searches and finds their rank windows from `pitch_terms` (migration 0010) where the
/// words allow. Every such count must equal the count of the full-text index's matches, in every scope, and
/// every page must equal the page found through `pitch_search` (the rank window walked): for whole words,
/// prefixes that span several lexemes or more than the store merges, stop words, digits, other scripts and
/// phrase words, alone, as any-word pairs and as required pairs, before and after writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_term_searches_equal_text_index_searches() {
    let Some(app) = TestApp::spawn(common::Kind::Postgres).await else { return };
    pitchey_server::app::seed_demo(&app.state.store, 300).await.unwrap();
    // Words the parser splits ("²" is a letter or digit to `search::terms`, a separator to PostgreSQL) are
    // phrases to `to_tsquery` even where their tokens share one lexeme.
    let mut words: Vec<String> = [
        "the",
        "and",
        "dra",
        "li",
        "s",
        "c",
        "lighth",
        "2024",
        "é",
        "愛",
        "zzqxj",
        "documentary",
        "drama²drama",
        "drama²the",
        "the²drama",
        "runs²running",
        "2024½2024",
    ]
    .map(str::to_owned)
    .to_vec();
    for p in app.state.store.all_pitch_rows().await.unwrap().iter().step_by(7) {
        words.extend(pitchey_core::search::terms(&p.title));
    }
    words.sort();
    words.dedup();
    assert!(words.len() > 40, "{words:?}");
    // Both ways of reaching the lexemes are taken: a prefix reaching more lexemes than the store merges one
    // scan each (16) is counted by key range, one reaching a few is merged.
    let reach = |prefix: &'static str| {
        let q = "SELECT COUNT(DISTINCT lexeme) FROM pitch_terms WHERE starts_with(lexeme, $1)";
        let store = app.state.store.clone();
        async move { store.db().one::<(i64,)>(pitchey_store::Sql::new("test_reach", q).arg(prefix)).await.unwrap().0 }
    };
    // The stored scores are ranks of the query matching exactly one lexeme, whatever characters it holds.
    for lexeme in ["it's", "back\\slash", "a:b", "x y", "&", "!", "|", "(", "'", "\\", "é", "愛", "a*", "a:*"] {
        let q = "SELECT array_to_tsvector(ARRAY[$1]) @@ pitch_term_query($1), \
                 array_to_tsvector(ARRAY[$1 || 'x']) @@ pitch_term_query($1), \
                 CAST(numnode(pitch_term_query($1)) AS BIGINT)";
        let sql = || pitchey_store::Sql::new("test_term_query", q).arg(lexeme);
        let got = app.state.store.db().one::<(bool, bool, i64)>(sql()).await.unwrap();
        assert_eq!(got, (true, false, 1), "{lexeme}");
        // Also for a session that reads backslashes in string literals as escapes.
        let mut tx = app.state.store.db().begin().await.unwrap();
        let off = "SET LOCAL standard_conforming_strings = off";
        tx.exec(pitchey_store::Sql::new("test_escapes_off", off)).await.unwrap();
        assert_eq!(tx.one::<(bool, bool, i64)>(sql()).await.unwrap(), (true, false, 1), "{lexeme}, escapes on");
        tx.commit().await.unwrap();
    }
    let s = reach("s").await;
    assert!(s > 16, "'s' should reach many lexemes: {s}");
    let dra = reach("dra").await;
    assert!((2..=16).contains(&dra), "'dra' should reach a few lexemes: {dra}");
    let check = |words: Vec<String>, when: &'static str| {
        let app = &app;
        async move {
            let mut matched = 0;
            for (i, w) in words.iter().enumerate() {
                // Each word alone, and with the next one as an any-word and as a required search.
                let next = &words[(i + 1) % words.len()];
                let pair = vec![w.clone(), next.clone()];
                for (terms, any) in [(vec![w.clone()], false), (pair.clone(), true), (pair, false)] {
                    for (scope, flag) in
                        [(Scope::Market, "is_market"), (Scope::Public, "is_public"), (Scope::Published, "is_published")]
                    {
                        let mut lq = ListQuery::new(scope);
                        lq.order = Order::Relevance;
                        lq.terms = terms.clone();
                        lq.any_term = any;
                        lq.limit = 1;
                        let page = app.state.store.list_pitches(&lq).await.unwrap();
                        let query = terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>();
                        let mut query = query.join(if any { " | " } else { " & " });
                        let gin = format!(
                            "SELECT COUNT(*) FROM pitch_search s WHERE s.document @@ to_tsquery('english', $1) AND s.{flag}"
                        );
                        let count = |query: String| {
                            let sql = pitchey_store::Sql::dynamic("test_gin_count", gin.clone()).arg(query);
                            async move { app.state.store.db().one::<(i64,)>(sql).await.unwrap().0 }
                        };
                        let mut want = count(query.clone()).await;
                        if want == 0 && !any && terms.len() > 1 {
                            // No pitch has both: the store retries with either.
                            query = query.replace(" & ", " | ");
                            want = count(query.clone()).await;
                        }
                        assert_eq!(page.total, want, "{when}: {query} in {flag}");
                        matched += i64::from(want > 0);
                        if flag == "is_market" && want > 0 {
                            same_pages_as_walked(app, &lq, when).await;
                        }
                    }
                }
            }
            assert!(matched > 200, "{when}: most words should match something ({matched})");
        }
    };
    check(words.clone(), "after seeding").await;
    assert_eq!(term_rows_off(&app).await, 0);
    // Writes: a rename, a visibility change, a delete.
    let rows = app.state.store.all_pitch_rows().await.unwrap();
    let exec = |q: &'static str, id: i64| {
        let store = app.state.store.clone();
        async move { store.db().exec(pitchey_store::Sql::new("test_write", q).arg(id)).await.unwrap() }
    };
    exec("UPDATE pitches SET title = title || ' quokka documentary' WHERE id = $1", rows[0].id).await;
    exec("UPDATE pitches SET visibility = 'private' WHERE id = $1", rows[1].id).await;
    exec("UPDATE pitches SET visibility = 'investors_only' WHERE id = $1", rows[2].id).await;
    exec("DELETE FROM pitches WHERE id = $1", rows[3].id).await;
    assert_eq!(term_rows_off(&app).await, 0, "after writes");
    words.push("quokka".into());
    check(words, "after writes").await;
    app.stop().await;
}

/// The pages of `lq` (as the store chooses to find them) equal those of the rank window walked through
/// `pitch_search`: ranked whole, and in a window of 5 paged 3 at a time past its edge.
async fn same_pages_as_walked(app: &TestApp, lq: &ListQuery, when: &str) {
    for (window, limit, offsets) in [(i64::MAX, 10, &[0, 10][..]), (5, 3, &[0, 3, 6][..])] {
        for &offset in offsets {
            let auto = ListQuery { rank_window: window, limit, offset, ..lq.clone() };
            let walked = ListQuery { search_window: SearchWindow::Walk, ..auto.clone() };
            let ids = |q: ListQuery| async move {
                let p = app.state.store.list_pitches(&q).await.unwrap();
                (p.total, p.items.iter().map(|r| r.id).collect::<Vec<_>>())
            };
            let (got, want) = (ids(auto).await, ids(walked).await);
            assert_eq!(got, want, "{when}: {:?} any={} window {window} offset {offset}", lq.terms, lq.any_term);
        }
    }
}

async fn search_ranks_known_titles_first(app: &TestApp) {
    let c = app.client();
    for (q, title) in [
        ("last lighthouse", "The Last Lighthouse"),
        ("The Last Lighthouse", "The Last Lighthouse"),
        ("reclusive lighthouse keeper", "The Last Lighthouse"),
        ("orbital decay", "Orbital Decay"),
        ("hedgehog rocket", "Moss and the Moon"),
        ("smokejumpers megafire", "Wildfire Season"),
        ("ORBITAL", "Orbital Decay"),
    ] {
        let (s, body) = get(&c, app.url(&format!("/api/search?q={}", q.replace(' ', "%20")))).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body["data"]["pitches"][0]["title"], title, "q={q}: {}", body["data"]["pitches"]);
        assert_eq!(body["results"][0]["type"], "pitch");
        assert_eq!(body["data"]["results"], body["results"]);
    }
    let (_, body) = get(&c, app.url("/api/pitches/search?q=wildfire&genre=Action-Thriller")).await;
    assert_eq!(body["data"]["pitches"][0]["title"], "Wildfire Season");
    let (_, body) = get(&c, app.url("/api/pitches/public/search?q=lighthouse")).await;
    assert_eq!(body["data"]["pitches"][0]["title"], "The Last Lighthouse");
    assert_eq!(body["data"]["searchTerm"], "lighthouse");
    let (s, _) = get(&c, app.url("/api/pitches/public/search?q=l")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // People.
    let (_, body) = get(&c, app.url("/api/search?q=alex&type=creator")).await;
    assert_eq!(body["data"]["users"][0]["username"], "alexcreator");
    assert_eq!(body["data"]["pitches"], json!([]));
    assert!(!body.to_string().contains("@demo.com"), "no emails in search");
    let (_, body) = get(&c, app.url("/api/search?q=stellar")).await;
    assert_eq!(body["data"]["companies"][0]["name"], "Stellar Productions");
    // Suggestions, autocomplete, facets.
    let (_, body) = get(&c, app.url("/api/search/suggestions?q=lighth")).await;
    let sugg = body["data"]["suggestions"].as_array().unwrap();
    assert!(sugg.iter().any(|s| s["query"] == "The Last Lighthouse" && s["type"] == "title"), "{body}");
    let (_, body) = get(&c, app.url("/api/search/suggestions?q=thrill")).await;
    assert!(body["data"]["suggestions"].as_array().unwrap().iter().any(|s| s["type"] == "genre"));
    let (_, body) = get(&c, app.url("/api/search/autocomplete?q=orbit&field=title")).await;
    assert_eq!(body["data"]["suggestions"][0]["value"], "Orbital Decay");
    let (_, body) = get(&c, app.url("/api/search/autocomplete?q=dra&field=genre")).await;
    let genres = body["data"]["suggestions"].as_array().unwrap();
    assert!(!genres.is_empty() && genres.iter().all(|s| s["value"].as_str().unwrap().contains("dra")), "{body}");
    let (_, body) = get(&c, app.url("/api/search/facets")).await;
    let total: i64 =
        body["data"]["facets"]["genres"].as_array().unwrap().iter().map(|f| f["count"].as_i64().unwrap()).sum();
    let market = app.state.store.all_pitch_rows().await.unwrap().iter().filter(|p| market(p)).count() as i64;
    assert_eq!(total, market);
    let (_, body) = get(&c, app.url("/api/browse/genres")).await;
    assert!(body["genres"][0]["pitch_count"].is_number());
    let (_, body) = get(&c, app.url("/api/trending?limit=5&days=30")).await;
    assert!(body["data"]["trending"].as_array().unwrap().len() <= 5);
    assert_eq!(body["data"]["timeWindow"], 30);
    assert!(body["data"]["trending"][0]["trending_score"].is_number());
}

/// Every page of `lq`, `limit` at a time, with the total each page reported.
async fn all_pages(app: &TestApp, lq: &ListQuery, limit: i64) -> (Vec<i64>, i64) {
    let (mut ids, mut total) = (Vec::new(), -1);
    for page in 0.. {
        let q = ListQuery { limit, offset: page * limit, ..lq.clone() };
        let p = app.state.store.list_pitches(&q).await.unwrap();
        assert!(total == -1 || total == p.total, "the total changed between pages");
        total = p.total;
        if p.items.is_empty() {
            break;
        }
        ids.extend(p.items.iter().map(|r| r.id));
    }
    (ids, total)
}

/// A search with more matches than its rank window ranks only the newest ones, then lists the rest newest
/// first; paging through it yields every match exactly once, and the count stays exact.
async fn search_beyond_the_rank_window_pages_every_match_once(app: &TestApp) {
    // PostgreSQL finds the window one of two ways (chosen from the count); each must give the same pages.
    for how in [SearchWindow::Auto, SearchWindow::Walk, SearchWindow::SortMatches] {
        pages_every_match_once(app, how).await;
    }
}

async fn pages_every_match_once(app: &TestApp, how: SearchWindow) {
    let mut lq = ListQuery::new(Scope::Market);
    lq.search_window = how;
    // "last": in some titles and other pitches' loglines, so relevance and recency differ.
    lq.terms = pitchey_core::search::terms("last");
    lq.order = Order::Relevance;
    // Ranked whole (the window is larger than the matches): the reference order.
    lq.rank_window = i64::MAX;
    let (whole, total) = all_pages(app, &lq, 1000).await;
    assert!(total > 8, "the demo catalogue should match 'last' often: {total}");
    assert_eq!(whole.len() as i64, total);
    // A window of 8, paged 3 at a time so pages straddle its edge.
    lq.rank_window = 8;
    let (windowed, total_w) = all_pages(app, &lq, 3).await;
    assert_eq!(total_w, total, "{how:?}");
    let mut a = whole.clone();
    let mut b = windowed.clone();
    a.sort_unstable();
    b.sort_unstable();
    b.dedup();
    assert_eq!(a, b, "{how:?}: every match once: {windowed:?}");
    assert_eq!(windowed.len(), whole.len(), "no match twice: {windowed:?}");
    // The window: the eight newest matches, in the order the whole ranking gives them.
    let mut newest = whole.clone();
    newest.sort_unstable_by(|x, y| y.cmp(x));
    assert_ne!(whole, newest, "relevance should differ from recency here, or the test cannot tell them apart");
    let window: std::collections::HashSet<i64> = newest[..8].iter().copied().collect();
    let ranked: Vec<i64> = whole.iter().copied().filter(|id| window.contains(id)).collect();
    assert_eq!(windowed[..8], ranked[..], "{how:?}: the window is ranked by relevance");
    // Then the rest, newest first.
    assert_eq!(windowed[8..], newest[8..], "{how:?}: the rest newest first");
}

async fn hostile_search_input_never_errors(app: &TestApp) {
    let long = "x".repeat(10 * 1024);
    let words = "lighthouse ".repeat(900);
    let inputs = [
        "\"",
        "\"\"",
        "*",
        "**",
        "OR",
        "AND",
        "NOT",
        "NEAR(",
        "NEAR(a b",
        "'",
        "''",
        "%",
        "%%",
        "_",
        "--",
        "; DROP TABLE pitches; --",
        "\\",
        "a:b",
        "title:x",
        "{x}",
        "(",
        ")",
        "^",
        "$1",
        "🎬🍿",
        "café",
        "日本語",
        "\u{0}",
        "a\"b'c%d_e*f",
        long.as_str(),
        words.as_str(),
        "-lighthouse",
        "+",
        "&",
        "|",
        "!",
        "<->",
        ":*",
    ];
    let c = app.client();
    for input in inputs {
        let enc: String = url_encode(input);
        for path in [
            format!("/api/search?q={enc}"),
            format!("/api/search?q={enc}&type=creator"),
            format!("/api/browse?q={enc}"),
            format!("/api/pitches/public/search?q={enc}"),
            format!("/api/search/suggestions?q={enc}"),
            format!("/api/search/autocomplete?q={enc}&field=title"),
            format!("/api/search/autocomplete?q={enc}&field=creator"),
            format!("/api/pitches?search={enc}"),
            format!("/api/pitches/public?search={enc}"),
        ] {
            let r = c.get(app.url(&path)).send().await.unwrap();
            let (s, body) = json_of(r).await;
            // Text a visitor could type is searched, whatever its quotes, operators or script; only what no
            // search can mean (a NUL, under two characters where a minimum applies, or kilobytes) may be
            // refused, and then as a bad query.
            let ordinary = input.chars().count() >= 2 && input.len() < 200 && !input.contains('\u{0}');
            if ordinary {
                assert_eq!(s, StatusCode::OK, "{input:?} refused at {path:.80}: {body}");
            }
            assert!(s == StatusCode::OK || s == StatusCode::BAD_REQUEST, "{s} for {path:.80}: {body}");
            if s == StatusCode::OK {
                assert_eq!(body["success"], true);
            } else {
                let code = common::error_code(&body);
                assert!(
                    ["INVALID_QUERY", "VALIDATION_ERROR", "BAD_REQUEST"].contains(&code),
                    "{code} for {path:.80}: {body}"
                );
            }
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The structure of a JSON value: objects keep their keys, arrays their first element, leaves their type.
/// Ids, times and other data vary; the shape is the wire contract.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

async fn response_shapes(app: &TestApp) {
    let anon = app.client();
    let creator = app.creator().await;
    let investor = app.investor().await;
    let (_, mine) = get(&creator, app.url("/api/creator/pitches")).await;
    let nda_pitch = mine["pitches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["requireNDA"] == true && p["status"] == "published")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    post_json(&investor, app, "/api/saved-pitches", json!({"pitchId": nda_pitch})).await;
    let cases: Vec<(&str, &reqwest::Client, String)> = vec![
        ("browse", &anon, "/api/browse?tab=popular&limit=2".into()),
        ("public_trending", &anon, "/api/pitches/public/trending?limit=2".into()),
        ("public_featured", &anon, "/api/pitches/public/featured?limit=2".into()),
        ("public_all", &anon, "/api/pitches/public?limit=2".into()),
        ("generic_list", &anon, "/api/pitches?limit=2".into()),
        ("trending", &anon, "/api/trending?limit=2&days=365".into()),
        ("search", &anon, "/api/search?q=lighthouse&limit=2".into()),
        ("suggestions", &anon, "/api/search/suggestions?q=lighthouse".into()),
        ("facets", &anon, "/api/search/facets".into()),
        ("public_detail_anonymous", &anon, format!("/api/pitches/public/{nda_pitch}")),
        ("detail_owner", &creator, format!("/api/pitches/{nda_pitch}")),
        ("detail_investor", &investor, format!("/api/pitches/{nda_pitch}")),
        ("creator_pitches", &creator, "/api/creator/pitches?limit=1".into()),
        ("saved_pitches", &investor, "/api/saved-pitches".into()),
        ("session", &investor, "/api/auth/session".into()),
        ("config", &anon, "/api/config/all".into()),
    ];
    for (name, client, path) in cases {
        let (s, body) = get(client, app.url(&path)).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        insta::with_settings!({ prepend_module_to_snapshot => false, snapshot_path => "snapshots" }, {
            insta::assert_json_snapshot!(name, shape(&body));
        });
    }
}

async fn post_json(c: &reqwest::Client, app: &TestApp, path: &str, body: Value) {
    let (s, b) = common::post(c, app.url(path), body).await;
    assert_eq!(s, StatusCode::OK, "{path}: {b}");
}

/// A bulk seed that fails is rolled back, and the SQLite writer connection, which stays in the pool, gets
/// its usual page cache back rather than keeping the load's 1 GiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_bulk_seed_hands_back_the_writer_page_cache() {
    use pitchey_store::Sql;
    use pitchey_store::seed::SeedOptions;
    let app = TestApp::spawn(common::Kind::Sqlite).await.unwrap();
    let store = &app.state.store;
    let before = store.all_pitch_rows().await.unwrap().len();
    // The load's last step recounts the facets: without their table it fails after the cache was enlarged.
    store.db().exec(Sql::new("test_drop_facets", "DROP TABLE pitch_facets")).await.unwrap();
    let opts = SeedOptions { password_hash: "not a hash".into(), extra_pitches: 50, bulk_load_from: 1, as_of: None };
    assert!(store.seed_demo(&opts).await.is_err());
    assert_eq!(store.all_pitch_rows().await.unwrap().len(), before, "the failed load was rolled back");
    let mut tx = store.db().begin().await.unwrap();
    let (kib,): (i64,) = tx.one(Sql::new("test_cache_size", "PRAGMA cache_size")).await.unwrap();
    assert_eq!(kib, -65_536, "the writer's page cache is its usual 64 MiB again");
    drop(tx); // the writer goes back to the pool, or stopping the app waits for it
    app.stop().await;
}
