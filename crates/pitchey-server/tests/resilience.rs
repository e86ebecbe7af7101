//! Real faults: a throwaway PostgreSQL stopped under load (breaker, stale serving, health, recovery, no lost
//! writes), a throwaway Redis killed and restarted, and a real streaming replica (routing, read-your-writes,
//! fallback).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::services::{TempPg, TempRedis};
use common::{Kind, TestApp, delete, get, json_of, post, published_pitch, test_settings};
use pitchey_server::Settings;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let t0 = Instant::now();
    while !check().await {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Settings for a test that faults its own database: short breaker and acquire waits, so the test sees
/// recovery within seconds, and list pages cached long enough to be served stale throughout.
fn fault_settings(pg: &TempPg) -> Settings {
    let mut s = test_settings(&pg.url("app"));
    s.db_breaker_open_secs = 1;
    s.db_acquire_timeout_ms = 1000;
    s.cache_ttl_lists_secs = 600;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_survived_and_recovered_from() {
    let Some(pg) = TempPg::start() else { return };
    pg.create_db("app").await;
    let mut s = fault_settings(&pg);
    s.health_interval_secs = 1;
    let app = TestApp::start(s, Kind::Postgres).await;
    let creator = app.creator().await;
    // A write committed before the fault.
    let (st, body) = post(
        &creator,
        app.url("/api/pitches"),
        json!({"title": "Before The Storm", "logline": "Written before the database went away.", "genre": "drama"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    let anon = app.client();
    // A pitch published, read, then archived: the value kept for outages must not bring it back.
    let gone = published_pitch(&app, &creator, "Gone Before The Storm").await;
    let gone_page = app.url(&format!("/api/pitches/public/{gone}"));
    assert_eq!(get(&anon, gone_page.clone()).await.0, StatusCode::OK);
    assert_eq!(post(&creator, app.url(&format!("/api/pitches/{gone}/archive")), json!({})).await.0, StatusCode::OK);
    // A session used (so cached), then signed out: it must not come back from the outage store either.
    let plain = reqwest::Client::new();
    let r = plain
        .post(app.url("/api/auth/investor/login"))
        .json(&json!({"email": "sarah.investor@demo.com", "password": "Demo123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .find(|c| c.starts_with("pitchey-session="))
        .unwrap()
        .to_owned();
    let session_of = async |cookie: &str| {
        plain.get(app.url("/api/auth/session")).header("cookie", cookie).send().await.unwrap().status()
    };
    assert_eq!(session_of(&cookie).await, StatusCode::OK);
    let r = plain.post(app.url("/api/auth/logout")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Warm what anonymous visitors read.
    let cached_paths = ["/api/pitches/public/trending?limit=4", "/api/browse?tab=trending&limit=24", "/api/config/all"];
    for p in cached_paths {
        assert_eq!(get(&anon, app.url(p)).await.0, StatusCode::OK);
        let r = anon.get(app.url(p)).send().await.unwrap();
        assert_eq!(r.headers()["x-cache"], "HIT", "{p}");
    }

    // Load while the database goes down: cached reads must keep succeeding throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for i in 0..4 {
        let (c, url, stop, ok, failed) =
            (anon.clone(), app.url(cached_paths[i % 3]), stop.clone(), ok.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match c.get(&url).send().await {
                    Ok(r) if r.status() == StatusCode::OK => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    pg.stop();

    // Uncached requests fail with 503 + Retry-After (never hang, never 500): at most the acquire timeout
    // while the breaker weighs failures against the recent successes, then at once once it opens.
    let mut fast = 0;
    for i in 0..40 {
        let t0 = Instant::now();
        let r = anon.get(app.url(&format!("/api/search?q=outage{i}"))).send().await.unwrap();
        let took = t0.elapsed();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "request {i}");
        let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1);
        assert!(took < Duration::from_millis(1500), "request {i} took {took:?}");
        let (_, body) = json_of(r).await;
        assert_eq!(common::error_code(&body), "SERVICE_UNAVAILABLE");
        if took < Duration::from_millis(50) {
            fast += 1;
            if fast == 5 {
                eprintln!("breaker open after {} failed requests", i + 1 - 4);
                break;
            }
        }
    }
    assert_eq!(fast, 5, "the breaker never opened");
    // Fast 503s because the breaker opened, not from some other quick failure (half-open only follows open).
    let primary = || app.state.store.db().endpoints()[0].breaker_state();
    assert_ne!(primary(), pitchey_store::breaker::BreakerState::Closed, "fast failures without an open breaker");
    let (st, body) = get(&anon, gone_page).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "the archived pitch came back from the outage store: {body}");
    assert_eq!(session_of(&cookie).await, StatusCode::SERVICE_UNAVAILABLE, "a signed-out session came back");
    // Writes fail fast too, with 503. A write answered 5xx may have committed before the failure, so it
    // still invalidates the dashboards (a refused one, 4xx, does not).
    let dashboard_bumps =
        || app.state.cache.status().caches.iter().find(|c| c.name == "dashboard").map(|c| c.invalidations).unwrap();
    let before = dashboard_bumps();
    let (st, _) = post(
        &creator,
        app.url("/api/pitches"),
        json!({"title": "During The Storm", "logline": "This write must fail cleanly.", "genre": "drama"}),
    )
    .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(dashboard_bumps(), before + 1, "a write answered 503 invalidates the dashboards");
    let (st, _) = post(&anon, app.url("/api/pitches"), json!({"title": "No Session"})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(dashboard_bumps(), before + 1, "a refused write does not");
    // Health reports the outage (the snapshot refreshes every second).
    wait_for("health to report degraded", Duration::from_secs(5), async || {
        get(&anon, app.url("/api/health")).await.1["data"]["status"] == "degraded"
    })
    .await;
    let (_, h) = get(&anon, app.url("/api/health")).await;
    assert_eq!(h["data"]["services"]["database"]["status"], "error");
    assert_eq!(anon.get(app.url("/health")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(anon.get(app.url("/api/health/ready")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(anon.get(app.url("/api/health/live")).send().await.unwrap().status(), StatusCode::OK);

    // The database returns: full recovery within seconds.
    pg.restart();
    let t0 = Instant::now();
    wait_for("uncached reads to recover", Duration::from_secs(10), async || {
        anon.get(app.url("/api/search?q=storm")).send().await.is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    eprintln!("recovered {:?} after the database returned", t0.elapsed());
    wait_for("the breaker to close", Duration::from_secs(5), async || {
        primary() == pitchey_store::breaker::BreakerState::Closed
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "cached reads failed during the outage ({} succeeded)",
        ok.load(Ordering::Relaxed)
    );
    assert!(ok.load(Ordering::Relaxed) > 50);
    wait_for("health to recover", Duration::from_secs(5), async || {
        get(&anon, app.url("/api/health")).await.1["data"]["status"] == "ok"
    })
    .await;
    // Nothing committed before the fault was lost; the write refused during it did not half-happen.
    let (st, body) = get(&creator, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["data"]["pitch"]["title"], "Before The Storm");
    let (_, mine) = get(&creator, app.url("/api/creator/pitches?limit=100")).await;
    assert!(mine["pitches"].as_array().unwrap().iter().all(|p| p["title"] != "During The Storm"));
    app.stop().await;
}

/// A write held up past the request deadline (another transaction holds what it needs) is not cut off: the
/// client hears at the deadline that the outcome is unknown, without an invitation to retry, and the write
/// then completes once, with the cache invalidations that follow it.
async fn a_write_past_the_deadline_completes_once(kind: Kind) {
    let Some(app) = TestApp::spawn_with(kind, |s| s.request_timeout_secs = 1).await else { return };
    let creator = app.creator().await;
    let anon = app.client();
    let id = published_pitch(&app, &creator, "Slow Title Before").await;
    let page = app.url(&format!("/api/pitches/public/{id}"));
    assert_eq!(get(&anon, page.clone()).await.1["data"]["title"], "Slow Title Before");
    // Another connection holds the pitch (PostgreSQL: its row; SQLite: the write lock).
    let cfg = pitchey_store::StoreConfig { url: app.database_url.clone(), ..Default::default() };
    let other = pitchey_store::connect(&cfg).await.unwrap();
    let mut tx = other.db().begin().await.unwrap();
    let hold = pitchey_store::Sql::new("test_hold", "UPDATE pitches SET updated_at = updated_at WHERE id = $1").arg(id);
    tx.exec(hold).await.unwrap();
    let t0 = Instant::now();
    let r = creator
        .put(app.url(&format!("/api/pitches/{id}")))
        .json(&json!({"title": "Slow Title After"}))
        .send()
        .await
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "answered at the deadline, not when the lock went");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_none(), "a write of unknown outcome invites no retry");
    let (_, body) = json_of(r).await;
    assert_eq!(common::error_code(&body), "TIMEOUT");
    tx.commit().await.unwrap();
    // The edit lands, once, and the public page follows it (its cache was invalidated by the write).
    wait_for("the held-up edit to land", Duration::from_secs(5), async || {
        get(&anon, page.clone()).await.1["data"]["title"] == "Slow Title After"
    })
    .await;
    let (_, mine) = get(&creator, app.url("/api/creator/pitches?limit=100")).await;
    let titles: Vec<&str> = mine["pitches"].as_array().unwrap().iter().filter_map(|p| p["title"].as_str()).collect();
    assert_eq!(titles.iter().filter(|t| t.starts_with("Slow Title")).count(), 1, "{titles:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_past_the_deadline_completes_once_sqlite() {
    a_write_past_the_deadline_completes_once(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_past_the_deadline_completes_once_postgres() {
    a_write_past_the_deadline_completes_once(Kind::Postgres).await;
}

/// Clients that stall: a connection that sends nothing or half a request head is closed once the header
/// deadline has passed since it opened (it held a connection for ever), a keep-alive connection once it has
/// been idle that long after its response, and a body that stops part-way is answered 408 at the body
/// deadline (it was told, after the request deadline, that its outcome was unknown). Others are served
/// meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let settings = |s: &mut pitchey_server::Settings| {
        s.header_read_timeout_secs = 1;
        s.keep_alive_timeout_secs = 2;
        s.body_read_timeout_secs = 1;
    };
    let Some(app) = TestApp::spawn_with(Kind::Sqlite, settings).await else { return };
    let addr = app.base.trim_start_matches("http://").to_owned();
    let opened = Instant::now();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut half_head = TcpStream::connect(&addr).await.unwrap();
    half_head.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut half_body = TcpStream::connect(&addr).await.unwrap();
    half_body
        .write_all(b"POST /api/views/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pitchId\":")
        .await
        .unwrap();
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let answered = Instant::now();
    assert_eq!(get(&app.client(), app.url("/api/health/live")).await.0, StatusCode::OK, "others are served");

    async fn closed(stream: &mut TcpStream) {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.expect("closed in time");
        assert!(matches!(read, Ok(0) | Err(_)), "closed without an answer: {read:?}");
    }
    closed(&mut silent).await;
    closed(&mut half_head).await;
    assert!(opened.elapsed() >= Duration::from_secs(1), "not before the header deadline: {:?}", opened.elapsed());
    closed(&mut kept).await;
    // The server starts counting when it has written the response, a little before the client has read it.
    let idle = answered.elapsed();
    assert!(idle >= Duration::from_millis(1900), "not before the keep-alive deadline: {idle:?}");

    let mut answer = Vec::new();
    while !String::from_utf8_lossy(&answer).contains('}') {
        match tokio::time::timeout(Duration::from_secs(10), half_body.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"REQUEST_TIMEOUT\""), "{answer}");
    app.stop().await;
}

/// Freezes a test database until dropped, so that a failed assertion does not leave it frozen.
struct Frozen<'a>(&'a TempPg);

impl<'a> Frozen<'a> {
    fn new(pg: &'a TempPg) -> Self {
        pg.freeze();
        Frozen(pg)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.thaw();
    }
}

/// A database that hangs rather than refuses (its host frozen, packets dropped): PostgreSQL's own statement
/// timeout cannot fire, so the store gives up waiting a second after it would have. Cached pages fall back
/// to their stale copy and uncached requests get 503 within seconds, not at the request deadline (30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_fails_fast() {
    let Some(pg) = TempPg::start() else { return };
    pg.create_db("app").await;
    let mut s = fault_settings(&pg);
    s.db_statement_timeout_ms = 1000;
    let app = TestApp::start(s, Kind::Postgres).await;
    let anon = app.client();
    let creator = app.creator().await;
    let trending = app.url("/api/pitches/public/trending?limit=4");
    let (st, page) = get(&anon, trending.clone()).await;
    assert_eq!(st, StatusCode::OK);
    // A like makes the cached page due for a reload, which will meet the frozen database.
    let id = page["data"]["pitches"][0]["id"].as_i64().unwrap();
    let investor = app.investor().await;
    assert_eq!(post(&investor, app.url(&format!("/api/pitches/{id}/like")), json!({})).await.0, StatusCode::OK);
    let frozen = Frozen::new(&pg);
    let t0 = Instant::now();
    let r = anon.get(&trending).send().await.unwrap();
    let took = t0.elapsed();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-cache"], "STALE");
    assert!(took < Duration::from_secs(8), "the stale page took {took:?}");
    let t0 = Instant::now();
    let r = creator.get(app.url("/api/ndas")).send().await.unwrap();
    let took = t0.elapsed();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert!(took < Duration::from_secs(8), "the uncached request took {took:?}");
    drop(frozen);
    wait_for("the database to answer again", Duration::from_secs(20), async || {
        creator.get(app.url("/api/ndas")).send().await.is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    app.stop().await;
}

/// A `BEGIN` the store gave up waiting for must not leave its pooled connection inside an open
/// transaction: later autocommit writes on it would never commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_begin_given_up_on_leaves_no_open_transaction() {
    use pitchey_store::{Sql, StoreError};
    let Some(pg) = TempPg::start() else { return };
    pg.create_db("app").await;
    let mut s = test_settings(&pg.url("app"));
    s.db_statement_timeout_ms = 500;
    s.db_max_connections = 1;
    s.db_acquire_timeout_ms = 5000;
    s.seed_demo = Some(false);
    let app = TestApp::start(s, Kind::Postgres).await;
    let db = app.state.store.db().clone();
    db.exec(Sql::new("test_probe_table", "CREATE TABLE probe (x INT)")).await.unwrap();
    let frozen = Frozen::new(&pg);
    let began = db.begin().await;
    drop(frozen);
    assert!(matches!(began, Err(StoreError::Timeout)), "{:?}", began.err());
    // The one pooled connection again, for an autocommit write: another session must see it committed.
    assert_eq!(db.exec(Sql::new("test_probe_insert", "INSERT INTO probe VALUES (1)")).await.unwrap(), 1);
    let mut other = <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url("app")).await.unwrap();
    let (seen,): (i64,) = sqlx::query_as("SELECT count(*) FROM probe").fetch_one(&mut other).await.unwrap();
    assert_eq!(seen, 1, "the write ran inside the abandoned BEGIN's transaction and was never committed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_serving_and_reconnects() {
    let Some(mut redis) = TempRedis::start() else { return };
    let url = redis.url();
    let app = TestApp::spawn_with(Kind::Sqlite, |s| {
        s.redis_url = Some(url.clone());
        s.health_interval_secs = 1;
    })
    .await
    .unwrap();
    let anon = app.client();
    wait_for("Redis to be seen", Duration::from_secs(5), async || {
        get(&anon, app.url("/api/health")).await.1["data"]["services"]["redis"]["status"] == "connected"
    })
    .await;
    let (_, trending) = get(&anon, app.url("/api/pitches/public/trending?limit=7")).await;
    let id = trending["data"]["pitches"][0]["id"].as_i64().unwrap();
    // Writes move the shared generations well past where a restarted Redis starts them again.
    let investor = app.investor().await;
    for _ in 0..6 {
        post(&investor, app.url(&format!("/api/pitches/{id}/like")), json!({})).await;
        delete(&investor, app.url(&format!("/api/pitches/{id}/like"))).await;
    }
    redis.stop();
    // Everything keeps working on L1 and the store.
    for p in ["/api/pitches/public/trending?limit=7", "/api/search?q=lighthouse", "/api/browse?tab=new"] {
        let t0 = Instant::now();
        assert_eq!(get(&anon, app.url(p)).await.0, StatusCode::OK, "{p}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{p} slowed by the missing Redis");
    }
    let creator = app.creator().await;
    assert_eq!(get(&creator, app.url("/api/creator/dashboard")).await.0, StatusCode::OK);
    wait_for("health to report Redis down", Duration::from_secs(5), async || {
        let (_, h) = get(&anon, app.url("/api/health")).await;
        h["data"]["services"]["redis"]["status"] == "error" && h["data"]["status"] == "degraded"
    })
    .await;
    let (st, body) = get(&anon, app.url("/api/health/cache")).await;
    assert_eq!((st, body["status"].as_str()), (StatusCode::OK, Some("degraded")));
    // Redis returns: the node reconnects by itself.
    redis.restart();
    wait_for("Redis to reconnect", Duration::from_secs(10), async || {
        let _ = anon.get(app.url("/api/search?q=orbital")).send().await;
        get(&anon, app.url("/api/health")).await.1["data"]["services"]["redis"]["status"] == "connected"
    })
    .await;
    let admin = app.admin().await;
    wait_for("the invalidation subscription to return", Duration::from_secs(10), async || {
        let (_, s) = get(&admin, app.url("/api/cache/status")).await;
        s["data"]["l2"]["connected"] == true && s["data"]["l2"]["subscribed"] == true
    })
    .await;
    // The restarted Redis is empty, its counters back near zero: a write must still change what every read
    // sees at once (the node's keys follow Redis's counters rather than the higher ones it remembered).
    let likes = async || {
        let r = anon.get(app.url(&format!("/api/pitches/public/{id}"))).send().await.unwrap();
        let source = r.headers()["x-cache"].to_str().unwrap().to_owned();
        let body: serde_json::Value = r.json().await.unwrap();
        (source, body["data"]["likeCount"].as_i64().unwrap())
    };
    let (_, before) = likes().await;
    let (source, cached) = likes().await;
    assert_eq!(cached, before);
    assert!(source == "HIT" || source == "L2", "the second read is cached again after the reconnection: {source}");
    assert_eq!(post(&investor, app.url(&format!("/api/pitches/{id}/like")), json!({})).await.0, StatusCode::OK);
    let (source, after) = likes().await;
    assert_eq!(after, before + 1, "fresh after the write, not served from the pre-write L2 entry ({source})");
    assert_eq!(likes().await, ("HIT".to_owned(), before + 1), "and cached again");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_serve_reads_with_read_your_writes_and_fallback() {
    let Some(primary) = TempPg::start() else { return };
    primary.create_db("app").await;
    // Migrate and seed on the primary before the replica copies it.
    let seed = TestApp::start(test_settings(&primary.url("app")), Kind::Postgres).await;
    seed.stop().await;
    let replica = primary.replica();
    let mut s = test_settings(&primary.url("app"));
    s.database_replica_urls = vec![replica.url("app")];
    s.health_interval_secs = 1;
    s.read_your_writes_secs = 30;
    s.cache_enabled = false; // observe every read at the database
    let app = TestApp::start(s, Kind::Postgres).await;
    let db = app.state.store.db();
    let endpoint = |name: &str| db.endpoints().into_iter().find(|e| e.name == name).unwrap();
    // Anonymous reads go to the replica.
    let before = endpoint("replica-1").statements();
    let anon = app.client();
    for _ in 0..5 {
        assert_eq!(get(&anon, app.url("/api/browse?tab=popular")).await.0, StatusCode::OK);
    }
    assert!(endpoint("replica-1").statements() >= before + 10, "page and count of five browses on the replica");

    // Freeze the replica: anything written now is missing there.
    let pause = |sql: &'static str| {
        let url = replica.url("app");
        async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    };
    pause("SELECT pg_wal_replay_pause()").await;
    let writer = app.creator().await;
    let r = writer
        .post(app.url("/api/pitches"))
        .json(&json!({"title": "Fresh Off The Press", "logline": "Written to the primary just now.", "genre": "drama"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("pitchey-rw=")));
    assert_eq!(r.status(), StatusCode::OK);
    // The writer reads its write (its reads go to the primary for a while)...
    let (_, mine) = get(&writer, app.url("/api/creator/pitches?limit=100")).await;
    assert!(mine["pitches"].as_array().unwrap().iter().any(|p| p["title"] == "Fresh Off The Press"));
    // ...while another session of the same user, without the marker, reads the (frozen) replica.
    let other = common::session_for(&app, common::user_id(&app, "alex.creator@demo.com").await).await;
    let (_, theirs) = get(&other, app.url("/api/creator/pitches?limit=100")).await;
    assert!(
        theirs["pitches"].as_array().unwrap().iter().all(|p| p["title"] != "Fresh Off The Press"),
        "the replica is paused"
    );
    // A node with its cache on: after a write, the cache is refilled from the primary, not from the lagging
    // replica (which would put the old page back for everyone, for a whole TTL).
    let mut cs = test_settings(&primary.url("app"));
    cs.database_replica_urls = vec![replica.url("app")];
    cs.read_your_writes_secs = 30;
    let cached = TestApp::start(cs, Kind::Postgres).await;
    let rows = app.state.store.all_pitch_rows().await.unwrap();
    let id = rows.iter().find(|p| p.title == "Paper Crowns").unwrap().id;
    let page = cached.url(&format!("/api/pitches/public/{id}"));
    let visitor = cached.client();
    assert_eq!(get(&visitor, page.clone()).await.1["data"]["title"], "Paper Crowns");
    let editor = cached.creator().await;
    let edit = json!({"title": "Paper Crowns Revised"});
    assert_eq!(common::put(&editor, cached.url(&format!("/api/pitches/{id}")), edit).await.0, StatusCode::OK);
    assert_eq!(
        get(&visitor, page).await.1["data"]["title"],
        "Paper Crowns Revised",
        "the page was reloaded from the paused replica"
    );
    cached.stop().await;
    pause("SELECT pg_wal_replay_resume()").await;

    // The replica goes away: reads fall back to the primary.
    drop(replica);
    for _ in 0..10 {
        assert_eq!(get(&anon, app.url("/api/browse?tab=new")).await.0, StatusCode::OK);
    }
    wait_for("health to report the replica down", Duration::from_secs(5), async || {
        let (_, h) = get(&anon, app.url("/api/health")).await;
        h["data"]["services"]["replicas"][0]["status"] == "error" && h["data"]["status"] == "degraded"
    })
    .await;
    let before = endpoint("primary").statements();
    for _ in 0..5 {
        assert_eq!(get(&anon, app.url("/api/browse?tab=popular")).await.0, StatusCode::OK);
    }
    assert!(endpoint("primary").statements() >= before + 10, "reads moved to the primary");
    app.stop().await;
}
