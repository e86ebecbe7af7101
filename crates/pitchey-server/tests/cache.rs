//! The performance layer over real HTTP: cache freshness after every kind of write, coalescing, HTTP
//! validators, two nodes sharing PostgreSQL and Redis, the cache management API and the metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{Kind, TestApp, delete, get, post, put, test_settings, user_id};
use pitchey_cache::Ns;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

both_backends!(
    fresh_after_publish,
    fresh_after_update,
    fresh_after_like,
    fresh_after_save,
    fresh_after_nda_change,
    fresh_after_profile_change,
    fresh_after_archive,
    fresh_after_delete,
    sessions_are_cached_and_revoked,
    dashboards_are_cached_per_user_and_follow_writes,
    concurrent_cold_misses_share_one_load,
    etags_and_not_modified,
    cached_pages_are_sent_compressed_from_a_stored_copy,
    admin_cache_api,
    metrics_exposition_and_performance_json,
);

/// GETs twice: the second must come from the cache. Returns the (cached) body.
async fn warm(c: &Client, url: &str) -> Value {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.headers()["x-cache"], "HIT", "{url} second read");
    r.json().await.unwrap()
}

fn find(list: &Value, id: i64) -> Option<&Value> {
    list.as_array().unwrap().iter().find(|p| p["id"] == id)
}

/// A pitch of the demo creator, with the public views of it that writes must keep fresh.
struct Fixture {
    anon: Client,
    creator: Client,
    investor: Client,
    id: i64,
    list_url: String,
    browse_url: String,
    detail_url: String,
    search_url: String,
}

impl Fixture {
    /// Creates the pitch (a draft unless `published`).
    async fn new(app: &TestApp, published: bool) -> Fixture {
        let creator = app.creator().await;
        let id = if published {
            common::published_pitch(app, &creator, "Cache Test Pitch").await
        } else {
            common::draft_pitch(app, &creator, "Cache Test Pitch").await
        };
        Fixture {
            anon: app.client(),
            investor: app.investor().await,
            creator,
            id,
            list_url: app.url("/api/pitches/public/new?limit=50"),
            browse_url: app.url("/api/browse?tab=new&limit=100"),
            detail_url: app.url(&format!("/api/pitches/public/{id}")),
            search_url: app.url("/api/search?q=cache%20test"),
        }
    }

    /// Caches every public view of the pitch (which must be published).
    async fn warm_all(&self) {
        warm(&self.anon, &self.list_url).await;
        warm(&self.anon, &self.browse_url).await;
        warm(&self.anon, &self.detail_url).await;
        assert!(find(&warm(&self.anon, &self.search_url).await["data"]["pitches"], self.id).is_some());
    }

    /// After a write that took the pitch out of public view: it is on none of them.
    async fn gone_everywhere(&self) {
        assert!(self.in_list().await.is_none(), "list");
        assert!(find(&get(&self.anon, self.browse_url.clone()).await.1["items"], self.id).is_none(), "browse");
        assert_eq!(self.detail().await.0, StatusCode::NOT_FOUND, "detail");
        assert!(
            find(&get(&self.anon, self.search_url.clone()).await.1["data"]["pitches"], self.id).is_none(),
            "search"
        );
    }

    async fn in_list(&self) -> Option<Value> {
        find(&get(&self.anon, self.list_url.clone()).await.1["data"]["pitches"], self.id).cloned()
    }

    async fn detail(&self) -> (StatusCode, Value) {
        get(&self.anon, self.detail_url.clone()).await
    }
}

/// Publishing: the pitch appears in the cached lists, browse page, detail page and search.
async fn fresh_after_publish(app: &TestApp) {
    let f = Fixture::new(app, false).await;
    assert!(find(&warm(&f.anon, &f.list_url).await["data"]["pitches"], f.id).is_none());
    assert!(find(&warm(&f.anon, &f.browse_url).await["items"], f.id).is_none());
    assert_eq!(f.detail().await.0, StatusCode::NOT_FOUND);
    warm(&f.anon, &f.search_url).await;
    post(&f.creator, app.url(&format!("/api/pitches/{}/publish", f.id)), json!({})).await;
    assert!(f.in_list().await.is_some(), "list");
    assert!(find(&get(&f.anon, f.browse_url.clone()).await.1["items"], f.id).is_some(), "browse");
    assert_eq!(f.detail().await.0, StatusCode::OK, "detail");
    assert_eq!(get(&f.anon, f.search_url.clone()).await.1["data"]["pitches"][0]["id"], f.id, "search");
}

/// An update: the new title on every cached view.
async fn fresh_after_update(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    f.warm_all().await;
    put(&f.creator, app.url(&format!("/api/pitches/{}", f.id)), json!({"title": "Cache Test Renamed"})).await;
    assert_eq!(f.in_list().await.unwrap()["title"], "Cache Test Renamed", "list");
    let browse = get(&f.anon, f.browse_url.clone()).await.1;
    assert_eq!(find(&browse["items"], f.id).unwrap()["title"], "Cache Test Renamed", "browse");
    assert_eq!(f.detail().await.1["data"]["title"], "Cache Test Renamed", "detail");
    let found = get(&f.anon, f.search_url.clone()).await.1;
    assert_eq!(find(&found["data"]["pitches"], f.id).unwrap()["title"], "Cache Test Renamed", "search");
}

/// A like and an unlike: the count on the detail page and in the lists.
async fn fresh_after_like(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    warm(&f.anon, &f.detail_url).await;
    warm(&f.anon, &f.list_url).await;
    post(&f.investor, app.url(&format!("/api/pitches/{}/like", f.id)), json!({})).await;
    assert_eq!(f.detail().await.1["data"]["likeCount"], 1, "like (detail)");
    assert_eq!(f.in_list().await.unwrap()["likeCount"], 1, "like (list)");
    warm(&f.anon, &f.list_url).await;
    delete(&f.investor, app.url(&format!("/api/pitches/{}/like", f.id))).await;
    assert_eq!(f.in_list().await.unwrap()["likeCount"], 0, "unlike (list)");
    assert_eq!(f.detail().await.1["data"]["likeCount"], 0, "unlike (detail)");
}

/// A save: the save count.
async fn fresh_after_save(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    warm(&f.anon, &f.detail_url).await;
    post(&f.investor, app.url("/api/saved-pitches"), json!({"pitchId": f.id})).await;
    assert_eq!(f.detail().await.1["data"]["saveCount"], 1, "save");
}

/// An NDA request: the NDA count; the creator requiring NDAs hides their name on the cached page.
async fn fresh_after_nda_change(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    assert_eq!(warm(&f.anon, &f.detail_url).await["data"]["creator"]["name"], "Alex Creator");
    put(&f.creator, app.url(&format!("/api/pitches/{}", f.id)), json!({"requireNDA": true})).await;
    assert_eq!(f.detail().await.1["data"]["creator"]["name"], "Hidden (NDA Required)", "NDA required");
    warm(&f.anon, &f.detail_url).await;
    let (s, _) = post(&f.investor, app.url("/api/ndas/request"), json!({"pitchId": f.id})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f.detail().await.1["data"]["ndaCount"], 1, "NDA request");
}

/// A profile change: the creator's name on a public page, and in the cached session.
async fn fresh_after_profile_change(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    assert_eq!(warm(&f.anon, &f.detail_url).await["data"]["creator"]["name"], "Alex Creator");
    assert_eq!(get(&f.creator, app.url("/api/auth/session")).await.1["user"]["firstName"], "Alex");
    let (s, _) = put(&f.creator, app.url("/api/user/profile"), json!({"firstName": "Alexandra"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f.detail().await.1["data"]["creator"]["name"], "Alexandra Creator", "public page");
    assert_eq!(get(&f.creator, app.url("/api/auth/session")).await.1["user"]["firstName"], "Alexandra", "session");
}

/// Archiving: gone from the lists, browse, search and the detail page.
async fn fresh_after_archive(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    f.warm_all().await;
    let (s, _) = post(&f.creator, app.url(&format!("/api/pitches/{}/archive", f.id)), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    f.gone_everywhere().await;
}

/// Deleting: gone from the lists, browse, search and the detail page.
async fn fresh_after_delete(app: &TestApp) {
    let f = Fixture::new(app, true).await;
    f.warm_all().await;
    let (s, _) = delete(&f.creator, app.url(&format!("/api/pitches/{}", f.id))).await;
    assert_eq!(s, StatusCode::OK);
    f.gone_everywhere().await;
}

/// A warm dashboard costs no query (session and dashboard both cached); each user gets their own; the
/// owner's own write and another user's write on the owner's pitch both show on the next read.
async fn dashboards_are_cached_per_user_and_follow_writes(app: &TestApp) {
    let creator = app.creator().await;
    let url = app.url("/api/creator/dashboard");
    let r = creator.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert_eq!(r.headers()["vary"], "Cookie");
    let first: Value = r.json().await.unwrap();
    let pitches = first["data"]["overview"]["totalPitches"].as_i64().unwrap();
    assert!(pitches > 0, "{first}");
    let before = app.state.store.db().statements();
    for _ in 0..10 {
        let r = creator.get(&url).send().await.unwrap();
        assert_eq!(r.headers()["x-cache"], "HIT");
    }
    // A dashboard costs a dozen statements; the background health check may run one meanwhile.
    assert!(app.state.store.db().statements() - before <= 1, "a warm dashboard costs no query");

    // A client that accepts brotli gets the same dashboard compressed (from a stored copy, not on the fly),
    // still private and varying by cookie.
    let plain = creator.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert!(plain.len() > 1024, "a dashboard large enough to compress: {} bytes", plain.len());
    for _ in 0..2 {
        let r = creator.get(&url).header("accept-encoding", "gzip, br").send().await.unwrap();
        assert_eq!(r.headers()["content-encoding"], "br");
        assert_eq!(r.headers()["cache-control"], "private, no-store");
        let vary: Vec<&str> = r.headers().get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(vary.contains(&"Cookie") && vary.contains(&"accept-encoding"), "{vary:?}");
        assert_eq!(decode("br", &r.bytes().await.unwrap()).await, plain.to_vec());
    }

    let other = common::create_user(app, "dashboard.other@example.com", pitchey_core::UserType::Creator).await;
    let other = common::session_for(app, other).await;
    let (s, theirs) = get(&other, url.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(theirs["data"]["overview"]["totalPitches"], 0, "another creator's own dashboard");

    // The owner's write: a new NDA-protected pitch, published.
    let (_, body) = post(
        &creator,
        app.url("/api/pitches"),
        json!({"title": "Dashboard Fresh", "logline": "A pitch that must show on the dashboard.",
               "genre": "drama", "requireNDA": true}),
    )
    .await;
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    assert_eq!(post(&creator, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await.0, StatusCode::OK);
    let (_, after) = get(&creator, url.clone()).await;
    assert_eq!(after["data"]["overview"]["totalPitches"], pitches + 1, "the owner's new pitch");
    let pending = after["data"]["overview"]["pendingActions"].as_i64().unwrap();

    // Another user's write on the owner's pitch: an NDA request.
    let investor = app.investor().await;
    let (s, b) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, later) = get(&creator, url.clone()).await;
    assert_eq!(later["data"]["overview"]["pendingActions"], pending + 1, "an investor's NDA request");
}

/// Decodes a body sent with `Content-Encoding: coding`.
async fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder};
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    match coding {
        "br" => BrotliDecoder::new(body).read_to_end(&mut out).await.unwrap(),
        "gzip" => GzipDecoder::new(body).read_to_end(&mut out).await.unwrap(),
        other => panic!("unexpected coding {other}"),
    };
    out
}

/// A cached page is sent in the coding the client prefers among brotli and gzip, from a copy compressed
/// once: same content as the plain page, its own strong ETag, 304 on a match.
async fn cached_pages_are_sent_compressed_from_a_stored_copy(app: &TestApp) {
    let c = app.client();
    let url = app.url("/api/browse?tab=new&limit=24");
    let plain = c.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_body = plain.bytes().await.unwrap();
    assert!(plain_body.len() > 1024, "a page large enough to compress");
    for (accept, coding) in [
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("gzip;q=0, br", "br"),
    ] {
        let r = c.get(&url).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{accept}");
        assert_eq!(r.headers()["content-encoding"], coding, "{accept}");
        assert!(r.headers().get_all("vary").iter().any(|v| v == "accept-encoding"), "{accept}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("{}-{coding}\"", plain_etag.trim_end_matches('"')), "{accept}");
        let body = r.bytes().await.unwrap();
        assert!(body.len() < plain_body.len() / 4, "{accept}: {} bytes", body.len());
        assert_eq!(decode(coding, &body).await, plain_body.to_vec(), "{accept}: same content");
        let r = c.get(&url).header("accept-encoding", accept).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{accept}");
        assert!(r.headers().get_all("vary").iter().any(|v| v == "accept-encoding"), "a 304 varies as its 200 does");
        assert!(r.bytes().await.unwrap().is_empty());
        // The plain representation's validator does not match the compressed one.
        let r =
            c.get(&url).header("accept-encoding", accept).header("if-none-match", &plain_etag).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{accept}");
    }
    let r = c.get(&url).header("accept-encoding", "br;q=0, gzip;q=0").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none(), "both refused");
    assert_eq!(r.bytes().await.unwrap(), plain_body);
}

async fn sessions_are_cached_and_revoked(app: &TestApp) {
    let c = app.investor().await;
    let before = app.state.store.db().statements();
    for _ in 0..20 {
        assert_eq!(get(&c, app.url("/api/auth/session")).await.0, StatusCode::OK);
    }
    assert!(app.state.store.db().statements() - before <= 1, "a warm session costs no query");
    // Sign-out is immediate despite the cache; so is a password change for the other sessions.
    let token = common::session_for(app, user_id(app, "sarah.investor@demo.com").await).await;
    assert_eq!(get(&token, app.url("/api/auth/session")).await.0, StatusCode::OK);
    post(&token, app.url("/api/auth/sign-out"), json!({})).await;
    assert_eq!(get(&token, app.url("/api/auth/session")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&c, app.url("/api/auth/session")).await.0, StatusCode::OK);
    // Another of Sarah's sessions, looked up (and so cached) before she changes her password on `c`.
    let other_device = common::session_for(app, user_id(app, "sarah.investor@demo.com").await).await;
    let before = app.state.store.db().statements();
    for _ in 0..3 {
        assert_eq!(get(&other_device, app.url("/api/auth/session")).await.0, StatusCode::OK);
    }
    assert!(app.state.store.db().statements() - before <= 1, "the other session is cached");
    let (s, _) = post(
        &c,
        app.url("/api/auth/change-password"),
        json!({"currentPassword": "Demo123", "newPassword": "Changed12345"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        get(&other_device, app.url("/api/auth/session")).await.0,
        StatusCode::UNAUTHORIZED,
        "a cached session of the same user ends with the password change"
    );
    assert_eq!(get(&c, app.url("/api/auth/session")).await.0, StatusCode::OK, "the session that changed it stays");
    let other_user = common::session_for(app, user_id(app, "alex.creator@demo.com").await).await;
    assert_eq!(get(&other_user, app.url("/api/auth/session")).await.0, StatusCode::OK);
}

async fn concurrent_cold_misses_share_one_load(app: &TestApp) {
    let anon = app.client();
    // What one cold request costs at the store (a different key with the same queries).
    let before = app.state.store.db().statements();
    assert_eq!(
        anon.get(app.url("/api/search?q=coalescing%20lighthouse&limit=8")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let one = app.state.store.db().statements() - before;
    assert!(one >= 1);
    let url = app.url("/api/search?q=coalescing%20lighthouse&limit=7");
    let before = app.state.store.db().statements();
    let loads_before = app.state.cache.status().caches.iter().find(|c| c.name == "search").unwrap().loads;
    let all = (0..100).map(|_| anon.get(&url).send());
    let results = futures::future::join_all(all).await;
    let mut bodies = BTreeSet::new();
    for r in results {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        bodies.insert(r.text().await.unwrap());
    }
    assert_eq!(bodies.len(), 1, "everyone got the same body");
    let loads = app.state.cache.status().caches.iter().find(|c| c.name == "search").unwrap().loads - loads_before;
    assert_eq!(loads, 1, "one load for 100 concurrent misses");
    let queries = app.state.store.db().statements() - before;
    assert_eq!(queries, one, "100 concurrent cold requests cost what one costs");
}

async fn etags_and_not_modified(app: &TestApp) {
    let anon = app.client();
    let url = app.url("/api/pitches/public/trending?limit=5");
    let r = anon.get(&url).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let cc = r.headers()["cache-control"].to_str().unwrap().to_owned();
    for part in ["public", "max-age=", "s-maxage=", "stale-while-revalidate="] {
        assert!(cc.contains(part), "{cc}");
    }
    let r = anon.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty(), "304 has no body");
    // A write changes the representation and its ETag.
    let (_, body) = get(&anon, url.clone()).await;
    let top = body["data"]["pitches"][0]["id"].as_i64().unwrap();
    post(&app.investor().await, app.url(&format!("/api/pitches/{top}/like")), json!({})).await;
    let r = anon.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    // Per-user responses are private and never cached by shared caches.
    let r = app.creator().await.get(app.url("/api/creator/pitches")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert!(r.headers().get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Cookie")));
    let r = app.investor().await.get(app.url(&format!("/api/pitches/public/{top}"))).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "private, no-store", "signed-in detail depends on the viewer");
    // So the anonymous copies of what signed-in viewers see differently vary by cookie (a browser that
    // signs in must not reuse them), and those that are the same for everyone do not.
    let varies =
        |r: &reqwest::Response| r.headers().get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Cookie"));
    for path in [format!("/api/pitches/public/{top}"), format!("/api/pitches/{top}"), "/api/pitches?limit=3".into()] {
        let r = anon.get(app.url(&path)).send().await.unwrap();
        assert!(r.headers()["cache-control"].to_str().unwrap().starts_with("public"), "{path}");
        assert!(varies(&r), "{path}");
        let etag = r.headers()["etag"].clone();
        let r = anon.get(app.url(&path)).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(varies(&r), "a 304 carries the Vary of its 200: {path}");
    }
    assert!(!varies(&anon.get(&url).send().await.unwrap()), "public lists are the same for everyone");
}

async fn admin_cache_api(app: &TestApp) {
    for c in [app.investor().await, app.creator().await] {
        assert_eq!(get(&c, app.url("/api/cache/status")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(post(&c, app.url("/api/cache/invalidate"), json!({"all": true})).await.0, StatusCode::FORBIDDEN);
    }
    assert_eq!(get(&app.client(), app.url("/api/cache/status")).await.0, StatusCode::UNAUTHORIZED);
    let admin = app.admin().await;
    let anon = app.client();
    warm(&anon, &app.url("/api/browse?tab=popular&limit=3")).await;
    let (s, body) = get(&admin, app.url("/api/cache/status")).await;
    assert_eq!(s, StatusCode::OK);
    let lists = body["data"]["caches"].as_array().unwrap().iter().find(|c| c["name"] == "lists").unwrap().clone();
    assert!(lists["hits"].as_u64().unwrap() >= 1 && lists["misses"].as_u64().unwrap() >= 1);
    assert!(lists["entries"].as_u64().unwrap() >= 1 && lists["bytes"].as_u64().unwrap() > 0);
    assert!(lists["hitRatio"].as_f64().unwrap() > 0.0);
    assert_eq!(body["data"]["l2"]["configured"], false);
    let (s, body) = post(&admin, app.url("/api/cache/invalidate"), json!({"prefix": "lists"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["invalidated"], json!(["lists"]));
    let r = anon.get(app.url("/api/browse?tab=popular&limit=3")).send().await.unwrap();
    assert_eq!(r.headers()["x-cache"], "MISS");
    assert_eq!(
        post(&admin, app.url("/api/cache/invalidate"), json!({"prefix": "nope"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(post(&admin, app.url("/api/cache/invalidate"), json!({})).await.0, StatusCode::BAD_REQUEST);
    let (_, body) = post(&admin, app.url("/api/cache/invalidate"), json!({"all": true})).await;
    assert_eq!(body["data"]["invalidated"].as_array().unwrap().len(), Ns::ALL.len());
    let (s, body) = post(&admin, app.url("/api/cache/warm"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["data"]["warmed"].as_u64().unwrap() >= 10);
    let r = anon.get(app.url("/api/pitches/public/trending?limit=4")).send().await.unwrap();
    assert_eq!(r.headers()["x-cache"], "HIT", "warmed");
}

/// Metric families named in `text` (from `# TYPE` lines), checking that sample lines parse.
pub fn families(text: &str) -> BTreeSet<String> {
    let mut fams = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let name = it.next().unwrap();
            let kind = it.next().unwrap();
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            fams.insert(name.to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (_, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line}"));
            assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "{line}");
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{line}");
        }
    }
    fams
}

async fn metrics_exposition_and_performance_json(app: &TestApp) {
    let anon = app.client();
    for p in ["/api/browse", "/api/search?q=x", "/api/nope", "/api/pitches/public/trending"] {
        let _ = anon.get(app.url(p)).send().await.unwrap();
    }
    // Invented methods are one label, not a new series each.
    for m in ["QQQ1", "QQQ2"] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let _ = anon.request(method, app.url("/api/health")).send().await.unwrap();
    }
    let _ = post(
        &anon,
        app.url("/api/auth/creator/login"),
        json!({"email": "alex.creator@demo.com", "password": "Demo123"}),
    )
    .await;
    app.state.store.db().record_gauges();
    app.state.cache.record_gauges();
    pitchey_server::observability::record_process(app.state.started);
    let r = anon.get(app.url("/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(!text.contains("QQQ") && text.contains("method=\"OTHER\""), "invented methods are labelled OTHER");
    let fams = families(&text);
    for f in [
        "pitchey_http_requests_total",
        "pitchey_http_request_duration_seconds",
        "pitchey_http_requests_in_flight",
        "pitchey_db_query_duration_seconds",
        "pitchey_db_pool_connections",
        "pitchey_db_pool_waiters",
        "pitchey_db_circuit_state",
        "pitchey_cache_hits_total",
        "pitchey_cache_misses_total",
        "pitchey_cache_entries",
        "pitchey_cache_bytes",
        "pitchey_cache_l2_connected",
        "pitchey_process_resident_memory_bytes",
        "pitchey_process_uptime_seconds",
        "pitchey_logins_total",
    ] {
        assert!(fams.contains(f), "{f} missing from /metrics");
    }
    assert!(text.contains("route=\"/api/browse\""), "route templates label requests");
    assert!(text.contains("pitchey_http_request_duration_seconds_bucket{"), "histograms with explicit buckets");
    assert!(!text.contains("route=\"/api/nope\""), "raw paths never become labels");
    let admin = app.admin().await;
    let (s, body) = get(&admin, app.url("/api/performance/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    let routes = body["data"]["routes"].as_array().unwrap();
    let browse = routes.iter().find(|r| r["route"] == "GET /api/browse").unwrap();
    for k in ["count", "p50Ms", "p95Ms", "p99Ms"] {
        assert!(browse[k].is_number(), "{k}");
    }
    assert!(body["data"]["slowQueries"].is_array());
    assert!(body["data"]["database"]["endpoints"][0]["breaker"].is_string());
    assert_eq!(get(&app.investor().await, app.url("/api/performance/metrics")).await.0, StatusCode::FORBIDDEN);
}

/// An app whose cache uses the shared Redis under a key prefix of its own (`settings.redis_key_prefix`),
/// with `adjust` applied after; `None` when the backend is not available.
async fn spawn_with_redis(kind: Kind, adjust: impl FnOnce(&mut pitchey_server::Settings)) -> Option<TestApp> {
    TestApp::spawn_with(kind, |s| {
        s.redis_url = Some("redis://127.0.0.1:6379".into());
        s.redis_key_prefix = format!("pitchey-test-{}:", uuid::Uuid::new_v4().simple());
        adjust(s);
    })
    .await
}

/// Two nodes on one PostgreSQL database and one Redis: a write on one is seen on the other's next read.
/// Node B hears from Redis 100 ms late (through a delaying proxy), so without node A waiting for B's
/// acknowledgement, B's next read would still find the old entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_invalidations_through_redis() {
    let Some(a) = spawn_with_redis(Kind::Postgres, |s| s.redis_timeout_ms = 1000).await else {
        return;
    };
    let mut s = test_settings(&a.database_url);
    s.redis_url = Some(pitchey_cache::testing::late_redis(std::time::Duration::from_millis(100)).await.unwrap().url);
    s.redis_key_prefix = a.state.settings.redis_key_prefix.clone();
    s.redis_timeout_ms = 1000;
    let b = TestApp::start(s, Kind::Postgres).await;
    // (Start-up waits up to 2 s for the subscription; through the late proxy it may take longer.)
    assert!(b.state.cache.wait_subscribed(std::time::Duration::from_secs(10)).await, "B never subscribed");
    let anon = a.client();
    let url_b = b.url("/api/pitches/public/trending?limit=5");
    let first = warm(&anon, &url_b).await;
    let top = first["data"]["pitches"][0]["id"].as_i64().unwrap();
    let likes = first["data"]["pitches"][0]["likeCount"].as_i64().unwrap();
    // Node A takes the like; node B's next read shows it: A answers only once every node has dropped
    // what the like changed.
    let (st, _) = post(&a.investor().await, a.url(&format!("/api/pitches/{top}/like")), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (_, body) = get(&anon, url_b.clone()).await;
    let after = body["data"]["pitches"].as_array().unwrap().iter().find(|p| p["id"] == top).cloned();
    assert_eq!(after.map(|p| p["likeCount"].clone()), Some(json!(likes + 1)), "node B's next read");
    // A session signed out on node A is refused on node B's next request (its cached copy is gone).
    let raw = reqwest::Client::new();
    let r = raw
        .post(a.url("/api/auth/investor/login"))
        .json(&json!({"email": "sarah.investor@demo.com", "password": "Demo123"}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session_on_b = || raw.get(b.url("/api/auth/session")).header("cookie", &cookie).send();
    assert_eq!(session_on_b().await.unwrap().status(), StatusCode::OK, "B accepts, and caches, the session");
    let r = raw.post(a.url("/api/auth/sign-out")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(session_on_b().await.unwrap().status(), StatusCode::UNAUTHORIZED, "B still accepted it");
    // And the shared tier serves node A what node B loaded.
    let url_a = a.url("/api/browse?tab=popular&limit=9");
    let _ = anon.get(b.url("/api/browse?tab=popular&limit=9")).send().await.unwrap();
    let r = anon.get(&url_a).send().await.unwrap();
    assert_eq!(r.headers()["x-cache"], "L2");
    b.stop().await;
    a.stop().await;
}

/// `pitchey user create` (and `seed`) write to the database behind the running servers' backs; with Redis,
/// the command then invalidates every node's cached pages, so a cached search finds the new account at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_write_reaches_running_nodes_through_redis() {
    let Some(app) = spawn_with_redis(Kind::Sqlite, |_| {}).await else {
        return;
    };
    let anon = app.client();
    let search = app.url("/api/search?q=clicreated&type=creator");
    assert_eq!(warm(&anon, &search).await["data"]["users"], json!([]));
    // What `pitchey user create` does to the database.
    app.state
        .store
        .create_user(&pitchey_store::NewUser {
            email: pitchey_core::Email::parse("cli.created@example.com").unwrap(),
            username: pitchey_core::Username::parse("clicreated").unwrap(),
            password_hash: "not-a-real-hash".into(),
            user_type: pitchey_core::UserType::Creator,
            first_name: None,
            last_name: None,
            bio: None,
            company_name: None,
            subscription_tier: "free".into(),
        })
        .await
        .unwrap();
    assert_eq!(get(&anon, search.clone()).await.1["data"]["users"], json!([]), "still the cached page");
    // Then what it does to the running nodes, with the same settings as the server.
    let told = pitchey_server::cli::tell_running_nodes(&app.state.settings).await;
    assert_eq!(told, pitchey_server::cli::Told::Everyone);
    // The command returns once the node has acknowledged: the next read is fresh.
    let found = get(&anon, search.clone()).await.1;
    assert_eq!(found["data"]["users"][0]["username"], "clicreated", "{found}");
    // Without Redis there is no way to reach a running node, and the command says so.
    let mut alone = test_settings(&app.database_url);
    alone.redis_url = None;
    assert_eq!(pitchey_server::cli::tell_running_nodes(&alone).await, pitchey_server::cli::Told::NoRedis);
    app.stop().await;
}

/// A write's invalidations are one round of every node's acknowledgements: a like's public pages and the
/// dashboards go together. A subscriber that never acknowledges makes each round wait the Redis timeout
/// (1.5 s here), so the like's answer shows how many rounds it waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_one_round_of_acknowledgements() {
    let Some(app) = spawn_with_redis(Kind::Sqlite, |s| s.redis_timeout_ms = 1500).await else {
        return;
    };
    let prefix = &app.state.settings.redis_key_prefix;
    assert!(app.state.cache.wait_subscribed(std::time::Duration::from_secs(10)).await, "never subscribed");
    let investor = app.investor().await;
    let (_, list) = get(&app.client(), app.url("/api/pitches/public/trending?limit=1")).await;
    let id = list["data"]["pitches"][0]["id"].as_i64().unwrap();
    let _silent = pitchey_cache::testing::silent_subscriber("redis://127.0.0.1:6379", prefix).await.unwrap();
    let timeouts = |ns: Ns| {
        let status = app.state.cache.status();
        status.caches.iter().find(|c| c.name == ns.name()).map(|c| c.ack_timeouts)
    };
    let t0 = std::time::Instant::now();
    let (st, body) = post(&investor, app.url(&format!("/api/pitches/{id}/like")), json!({})).await;
    let took = t0.elapsed();
    assert_eq!(st, StatusCode::OK, "{body}");
    // Public pages and dashboards were each invalidated once, and each waited for the silent subscriber.
    for ns in [Ns::Lists, Ns::Pitch, Ns::Search, Ns::Dashboard] {
        assert_eq!(timeouts(ns), Some(1), "{ns:?}");
    }
    assert!(took >= std::time::Duration::from_millis(1500), "the like waited for the silent subscriber: {took:?}");
    assert!(took < std::time::Duration::from_millis(2900), "the like waited for two rounds: {took:?}");
    app.stop().await;
}
