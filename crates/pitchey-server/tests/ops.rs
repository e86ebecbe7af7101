//! Operations: the shipped Prometheus configuration and alert rules pass `promtool` (syntax and unit tests),
//! every metric that a rule or a Grafana dashboard uses exists in a live server's `/metrics`, and the `/ops`
//! console works in a real headless browser for an administrator and refuses anyone else.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{Kind, TestApp, post};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops")
}

/// CI sets this: missing tools (promtool, chromium) fail the run instead of skipping.
fn required() -> bool {
    std::env::var("PITCHEY_TEST_REQUIRE_OPS_TOOLS").is_ok_and(|v| v == "1")
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || !required(), "{name} is required (PITCHEY_TEST_REQUIRE_OPS_TOOLS=1)");
    if !found {
        eprintln!("skipped: {name} not installed");
    }
    found
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool").args(args).output().expect("promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// Every PromQL expression of the dashboards.
fn dashboard_exprs() -> Vec<String> {
    let mut exprs = Vec::new();
    for entry in std::fs::read_dir(ops_dir().join("grafana/dashboards")).unwrap() {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                exprs.push(t["expr"].as_str().unwrap().to_owned());
            }
        }
    }
    assert!(exprs.len() > 30, "four dashboards' worth of queries");
    exprs
}

#[test]
fn prometheus_config_and_rules_pass_promtool() {
    if !tool("promtool") {
        return;
    }
    let dir = ops_dir().join("prometheus");
    let out = promtool(&["check", "rules", dir.join("rules/pitchey.rules.yml").to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
    promtool(&["check", "config", dir.join("prometheus.yml").to_str().unwrap()]);
    let out = promtool(&["test", "rules", dir.join("tests/pitchey.rules.test.yml").to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Dashboard queries are PromQL too: check them as recording rules.
    let tmp = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, e) in dashboard_exprs().iter().enumerate() {
        let e = e.replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:expr{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let path = tmp.path().join("dashboards.yml");
    std::fs::write(&path, rules).unwrap();
    promtool(&["check", "rules", path.to_str().unwrap()]);
}

/// Metric names (`pitchey_...`) referenced in a text, with histogram suffixes folded into the family.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("pitchey_") {
        let start = i + pos;
        // Not part of a longer identifier (recording rules are named `pitchey:...`).
        let boundary = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_' || bytes[start - 1] == b':');
        let end =
            text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |e| start + e);
        if boundary {
            let name = &text[start..end];
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            out.insert(family.to_owned());
        }
        i = end;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_in_rules_and_dashboards_is_exported() {
    // PostgreSQL with a "replica" (the primary itself) so replica gauges exist; every query counts as slow;
    // a tight login limit; Redis configured.
    let Some(app) = TestApp::spawn_with(Kind::Postgres, |s| {
        s.database_replica_urls = vec![s.database_url().to_owned()];
        s.slow_query_ms = 0;
        s.login_rate_per_minute = 3;
        s.redis_url = Some("redis://127.0.0.1:6379".into());
        s.redis_key_prefix = format!("pitchey-ops-test-{}:", uuid::Uuid::new_v4().simple());
    })
    .await
    else {
        return;
    };
    // A short load touching every feature.
    let anon = app.client();
    for p in [
        "/api/browse",
        "/api/browse",
        "/api/pitches/public/trending",
        "/api/search?q=ledger",
        "/api/config/all",
        "/api/nope",
    ] {
        let _ = anon.get(app.url(p)).send().await.unwrap();
    }
    let creator = app.creator().await;
    let (_, body) = post(
        &creator,
        app.url("/api/pitches"),
        json!({"title": "Ops Test", "logline": "A pitch for the ops test.", "genre": "drama", "requireNDA": true}),
    )
    .await;
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    post(&creator, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await;
    let investor = app.investor().await;
    let (_, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    post(&creator, app.url(&format!("/api/ndas/{}/approve", body["data"]["id"])), json!({})).await;
    let _ =
        post(&anon, app.url("/api/auth/sign-up"), json!({"email": "alex.creator@demo.com", "password": "longenough1"}))
            .await;
    for _ in 0..3 {
        let _ = post(
            &anon,
            app.url("/api/auth/investor/login"),
            json!({"email": "x@example.com", "password": "wrongpass1"}),
        )
        .await;
    }
    pitchey_server::health::refresh(&app.state).await;
    app.state.store.db().record_gauges();
    app.state.cache.record_gauges();
    pitchey_server::observability::record_process(app.state.started);
    let text = anon.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let rules = std::fs::read_to_string(ops_dir().join("prometheus/rules/pitchey.rules.yml")).unwrap();
    let mut used = referenced(&rules);
    let rule_count = used.len();
    for e in dashboard_exprs() {
        used.extend(referenced(&e));
    }
    assert!(rule_count >= 10 && used.len() >= 25, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|m| !exported.contains(*m)).collect();
    assert!(missing.is_empty(), "used in rules or dashboards but not exported: {missing:?}");
    app.stop().await;
}

/// Starts chromedriver on a free port; `None` (skipped) when it is not installed.
fn chromedriver() -> Option<(std::process::Child, u16)> {
    if !tool("chromedriver") {
        return None;
    }
    let port = common::services::free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver");
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((child, port))
}

async fn browser(port: u16, profile: &Path) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("webdriver session")
}

/// Signs the browser in through the API, as the web client does: the browser keeps the session cookie.
/// The script runs on the console's own page (its refusal, before signing in): API answers carry
/// `Content-Security-Policy: default-src 'none'`, so a page opened from one may not fetch anything.
async fn sign_in(c: &fantoccini::Client, app: &TestApp, path: &str, email: &str) {
    c.goto(&app.url("/ops")).await.unwrap();
    let status = c
        .execute_async(
            "const [path, email, done] = arguments;
             fetch(path, {method: 'POST', credentials: 'same-origin', headers: {'content-type': 'application/json'},
                          body: JSON.stringify({email, password: 'Demo123'})}).then(r => done(r.status));",
            vec![json!(path), json!(email)],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(200), "browser sign-in as {email}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_console_in_a_headless_browser() {
    let Some((mut driver, port)) = chromedriver() else { return };
    let app = TestApp::spawn(Kind::Sqlite).await.unwrap();
    // Some traffic for the console to show.
    let anon = app.client();
    for _ in 0..20 {
        let _ = anon.get(app.url("/api/browse?tab=popular")).send().await.unwrap();
        let _ = anon.get(app.url("/api/pitches/public/trending?limit=4")).send().await.unwrap();
    }
    let profile = tempfile::tempdir().unwrap();
    let c = browser(port, profile.path()).await;

    // An administrator sees numbers, and the page refreshes itself from the JSON.
    sign_in(&c, &app, "/api/auth/sign-in", "admin@demo.com").await;
    c.goto(&app.url("/ops")).await.unwrap();
    let total = c.find(fantoccini::Locator::Id("total-requests")).await.unwrap().text().await.unwrap();
    assert!(total.parse::<u64>().unwrap() >= 40, "server-rendered request count: {total}");
    let routes = c.find(fantoccini::Locator::Id("routes")).await.unwrap().text().await.unwrap();
    assert!(routes.contains("GET /api/browse"), "{routes}");
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::XPath("//span[@id='updated' and starts-with(text(), 'updated')]"))
        .await
        .expect("the page refreshed itself");
    let caches = c.find(fantoccini::Locator::Id("caches")).await.unwrap().text().await.unwrap();
    assert!(caches.contains("lists") && caches.contains('%'), "{caches}");
    let p99 = c.find(fantoccini::Locator::Id("p99")).await.unwrap().text().await.unwrap();
    assert!(p99.parse::<f64>().unwrap() > 0.0, "p99 shown: {p99}");

    // An investor is refused.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &app, "/api/auth/investor/login", "sarah.investor@demo.com").await;
    c.goto(&app.url("/ops")).await.unwrap();
    let refused = c.find(fantoccini::Locator::Id("refused")).await.unwrap().text().await.unwrap();
    assert_eq!(refused, "Administrator access required.");
    assert!(c.find(fantoccini::Locator::Id("total-requests")).await.is_err());
    c.close().await.unwrap();
    let _ = driver.kill();
    let _ = driver.wait();
    // And without a browser: the refusal's status.
    let r = reqwest::Client::new().get(app.url("/ops")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// `GET /api/health` (contract §8): every field, after a probe round.
#[tokio::test]
async fn api_health_reports_every_service_in_the_contract_shape() {
    let app = TestApp::spawn(Kind::Sqlite).await.unwrap();
    let anon = app.client();
    pitchey_server::health::refresh(&app.state).await;
    let (status, h) = common::get(&anon, app.url("/api/health")).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(h["success"], true);
    let d = &h["data"];
    assert_eq!(d["status"], "ok", "{h}");
    assert_eq!(d["backend"], "sqlite");
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["ready"], true);
    assert!(d["uptimeSeconds"].is_u64() && d["environment"].is_string(), "{h}");
    let checked = d["checkedAt"].as_str().unwrap();
    assert!(checked.ends_with('Z') && checked.len() == 24, "ISO time with milliseconds: {checked}");
    assert_eq!(h["meta"]["timestamp"], d["timestamp"]);
    let db = &d["services"]["database"];
    assert_eq!(db["name"], "primary");
    assert_eq!(db["role"], "primary");
    assert_eq!(db["status"], "connected");
    assert_eq!(db["time"], checked);
    assert_eq!(db["error"], Value::Null);
    assert_eq!(db["breaker"], "closed");
    assert_eq!(db["lagSeconds"], Value::Null);
    assert!(db["latencyMs"].as_f64().unwrap() >= 0.0);
    let services = &d["services"];
    assert_eq!(services["replicas"], json!([]));
    assert_eq!(services["redis"], json!({"status": "not configured"}));
    assert_eq!(services["cache"], json!({"status": "active", "l2Connected": false}));
    assert_eq!(services["stripe"], json!({"status": "not configured"}));
    assert_eq!(services["email"], json!({"status": "not configured"}));
    assert!(services["rateLimit"]["status"].is_string());
    let keys: BTreeSet<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    let expected =
        ["backend", "checkedAt", "environment", "ready", "services", "status", "timestamp", "uptimeSeconds", "version"];
    assert_eq!(keys, BTreeSet::from(expected));
    // Under 1 KB: sent as it is even to a client that accepts brotli (compressing it cost more than serving it).
    let r = anon.get(app.url("/api/health")).header("accept-encoding", "br").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.json::<Value>().await.unwrap()["success"], true);
    app.stop().await;
}
