//! Index strategy: with a large catalogue, every hot query's plan uses an index — no sequential scan of
//! `pitches` (PostgreSQL, 100,000 pitches) and no full scan of it (SQLite).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{Kind, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hot_queries_use_indexes_at_100k_pitches() {
    let Some(app) = TestApp::spawn(Kind::Postgres).await else { return };
    let t0 = std::time::Instant::now();
    let report = pitchey_server::app::seed_demo(&app.state.store, 100_000).await.unwrap();
    assert_eq!(report.pitches_created, 100_000);
    eprintln!("seeded 100,000 pitches in {:.1}s", t0.elapsed().as_secs_f64());
    // The search indexes keep no pending list (migration 0007), also after the bulk load rebuilt them.
    for index in ["pitch_search_document_idx", "pitches_title_trgm_idx"] {
        let (options,): (String,) = app
            .state
            .store
            .db()
            .one(
                pitchey_store::Sql::new(
                    "test_reloptions",
                    "SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = $1",
                )
                .arg(index),
            )
            .await
            .unwrap();
        assert!(options.split(',').any(|o| o == "fastupdate=off"), "{index}: {options}");
    }
    let plans = app.state.store.explain_hot_queries().await.unwrap();
    assert!(plans.len() > 30);
    let mut offenders = Vec::new();
    for p in &plans {
        if p.lines.iter().any(|l| l.contains("Seq Scan on pitches")) {
            offenders.push(format!("{}:\n    {}", p.name, p.lines.join("\n    ")));
        }
    }
    assert!(offenders.is_empty(), "sequential scans of pitches:\n{}", offenders.join("\n"));
    // The queries the page loads most use the index built for them.
    let uses = |name: &str, index: &str| {
        let p = plans.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no plan {name}"));
        assert!(p.lines.iter().any(|l| l.contains(index)), "{name} does not use {index}:\n{}", p.lines.join("\n"));
    };
    uses("browse tab=popular: page", "pitches_market_score_idx");
    uses("home trending: page", "pitches_public_trending_idx");
    uses("home featured: page", "pitches_public_featured_idx");
    // The rank window: the newest matches, walking the search table's key backwards or sorting the matches
    // read through the full-text index (the store chooses from the count); ranked whole and counted, every
    // match through the full-text index.
    uses("search q=lighthouse, window walked: page", "pitch_search_pkey");
    uses("search q=lighthouse, window sorted: page", "pitch_search_document_idx");
    uses("search q=lighthouse ranked whole: page", "pitch_search_document_idx");
    uses("search q=lighthouse, window walked: count", "pitch_search_document_idx");
    // A one-word search is counted from the lexeme table without visiting its rows (migration 0010; the
    // bulk load vacuums nothing, the seed's `analyze` does).
    uses("search q=lighthouse: count by terms", "Index Only Scan using pitch_terms_pkey");
    uses("search q=li: count by key ranges", "Index Only Scan using pitch_terms_pkey");
    // Required words: one scan per lexeme, merged on the pitch. The rank window: each lexeme's newest
    // pitches read backwards from the key, then fetched from `pitch_search` by key to be ranked.
    uses("search q=silent harbor: count by terms", "Merge Join");
    // A word reaching one lexeme is ranked from the lexeme table alone (its scores, migration 0011).
    uses("search q=lighthouse, window from terms: page", "Index Only Scan Backward using pitch_terms_pkey");
    let p = plans.iter().find(|p| p.name == "search q=lighthouse, window from terms: page").unwrap();
    assert!(!p.lines.iter().any(|l| l.contains("pitch_search")), "ranked without documents:\n{}", p.lines.join("\n"));
    uses("search q=border, window from terms: page", "Index Only Scan Backward using pitch_terms_pkey");
    uses("search q=border, window from terms: page", "Index Scan using pitch_search_pkey");
    uses("search q=silent harbor, window from terms: page", "Merge Join");
    uses("browse sort=likes: page", "pitches_market_likes_idx");
    uses("browse sort=views: page", "pitches_market_views_idx");
    uses("browse sort=title: page", "pitches_market_title_idx");
    uses("browse sort=budget: page", "pitches_market_budget_desc_idx");
    uses("browse sort=budget order=asc: page", "pitches_market_budget_asc_idx");
    // List totals with only the browse filters are sums of facet counts, not counts of pitches.
    uses("browse tab=popular: count", "pitch_facets");
    uses("browse genre=drama: count", "pitch_facets");
    uses("pitch detail", "pitches_pkey");
    uses("title suggestions", "pitch_search_document_idx");
    uses("title suggestions (typos)", "pitches_title_trgm_idx");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_hot_queries_use_indexes() {
    let app = TestApp::spawn(Kind::Sqlite).await.unwrap();
    pitchey_server::app::seed_demo(&app.state.store, 5_000).await.unwrap();
    let plans = app.state.store.explain_hot_queries().await.unwrap();
    let mut offenders = Vec::new();
    for p in &plans {
        // "SCAN p" / "SCAN pitches" without "USING ... INDEX" is a full table scan.
        let full = p.lines.iter().any(|l| {
            (l.starts_with("SCAN p") || l.starts_with("SCAN pitches"))
                && !l.contains("INDEX")
                && !l.contains("VIRTUAL TABLE")
        });
        if full {
            offenders.push(format!("{}:\n    {}", p.name, p.lines.join("\n    ")));
        }
    }
    assert!(offenders.is_empty(), "full scans of pitches:\n{}", offenders.join("\n"));
    let p = plans.iter().find(|p| p.name == "browse tab=popular: page").unwrap();
    assert!(p.lines.iter().any(|l| l.contains("pitches_market_score_idx")), "{:?}", p.lines);
    let p = plans.iter().find(|p| p.name == "search q=lighthouse, window walked: page").unwrap();
    assert!(p.lines.iter().any(|l| l.contains("VIRTUAL TABLE")), "{:?}", p.lines);
    for (name, index) in [
        ("browse sort=likes: page", "pitches_market_likes_idx"),
        ("browse sort=views: page", "pitches_market_views_idx"),
        ("browse sort=title: page", "pitches_market_title_idx"),
        ("browse sort=budget: page", "pitches_market_budget_desc_idx"),
        ("browse sort=budget order=asc: page", "pitches_market_budget_asc_idx"),
        ("browse tab=popular: count", "SEARCH f USING PRIMARY KEY"), // f: pitch_facets
    ] {
        let p = plans.iter().find(|p| p.name == name).unwrap();
        assert!(p.lines.iter().any(|l| l.contains(index)), "{name} does not use {index}: {:?}", p.lines);
    }
    app.stop().await;
}

/// Refreshing statistics after a seed is maintenance, not serving: it is not cut off by the per-statement
/// limit, however short. (A `VACUUM ANALYZE` after the 100,000-pitch seed above once passed the default 5 s
/// on a busy CI machine and failed the seed.) The limit still applies to ordinary statements afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_maintenance_is_not_cut_off_by_the_statement_timeout() {
    let Some(app) = TestApp::spawn(Kind::Postgres).await else { return };
    pitchey_server::app::seed_demo(&app.state.store, 0).await.unwrap();
    let cfg = pitchey_store::StoreConfig {
        url: app.database_url.clone(),
        max_connections: 1,
        statement_timeout: std::time::Duration::from_millis(1),
        ..Default::default()
    };
    let strict = pitchey_store::connect(&cfg).await.unwrap();
    strict.analyze().await.unwrap();
    // The one pooled connection serves with the limit again: a statement longer than 1 ms times out.
    let slow = strict.db().exec(pitchey_store::Sql::new("test_sleep", "SELECT pg_sleep(0.05)")).await;
    assert!(matches!(slow, Err(pitchey_store::StoreError::Timeout)), "{slow:?}");
    app.stop().await;
}

/// PostgreSQL re-plans every execution of a prepared statement whose `LIMIT` is a parameter (it cannot
/// cost a generic plan for an unknown row count), which cost more than running a browse page. So list
/// pages carry their counts as literals and keep one cached plan; searches keep bound counts, so that each
/// search is planned for its own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_list_pages_bind_no_row_counts_but_searches_do() {
    use pitchey_store::{ListQuery, Scope};
    let Some(app) = TestApp::spawn(Kind::Postgres).await else { return };
    let store = &app.state.store;
    let limit_clause = |text: &str| text[text.rfind(" LIMIT ").expect("a LIMIT")..].to_owned();

    let mut browse = ListQuery::new(Scope::Market);
    browse.limit = 12;
    browse.offset = 24;
    let (page, _) = store.list_sql(&browse);
    assert_eq!(limit_clause(page.text()), " LIMIT 12 OFFSET 24");

    let mut search = ListQuery::new(Scope::Market);
    search.terms = vec!["lighthouse".to_owned()];
    let (page, _) = store.list_sql(&search);
    let clause = limit_clause(page.text());
    assert!(clause.starts_with(" LIMIT $") && clause.contains("OFFSET $"), "search page: {clause}");
    app.stop().await;
}
