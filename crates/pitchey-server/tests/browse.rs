//! Lists, filters, search and response shapes over real HTTP, on SQLite and PostgreSQL. Filter results are
//! compared with a plain in-memory filter of the seeded catalogue.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use chrono::{Duration, Utc};
use common::{TestApp, get, json_of};
use pitchey_core::{PitchStatus, Visibility};
use pitchey_store::PitchRow;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::cmp::Ordering;

both_backends!(
    browse_filters_match_an_in_memory_model,
    search_ranks_known_titles_first,
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
            assert!(s == StatusCode::OK || s == StatusCode::BAD_REQUEST, "{s} for {path:.80}: {body}");
            if s == StatusCode::OK {
                assert_eq!(body["success"], true);
            } else {
                common::error_code(&body);
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
