//! End to end: the real server in-process on a temporary SQLite file (demo data, login rate limit off), every
//! scenario at a tiny scale, zero errors, and reports that are written and parse back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use pitchey_load::report::{self, SuiteReport};
use pitchey_load::scenarios::ScenarioName;
use pitchey_load::{Options, run};
use pitchey_server::Settings;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The server on 127.0.0.1:0 over a fresh SQLite file, as `crates/pitchey-server/tests/common` starts it.
struct Server {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings {
            bind: "127.0.0.1:0".parse().expect("addr"),
            database_url: Some(format!("sqlite://{}", dir.path().join("pitchey.db").display())),
            seed_demo: Some(true),
            login_rate_per_minute: 0,
            db_max_connections: 8,
            shutdown_grace_secs: 2,
            ..Settings::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = pitchey_server::build(settings).await.expect("app builds");
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(pitchey_server::serve(listener, app, async move {
            let _ = rx.await;
        }));
        Server { base, stop: Some(tx), task, _dir: dir }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// The status of a request to `path` (`POST` with an empty JSON body when `post`).
async fn status(base: &str, path: &str, post: bool) -> u16 {
    let c = reqwest::Client::new();
    let url = format!("{base}{path}");
    let req = if post { c.post(url).json(&serde_json::json!({})) } else { c.get(url) };
    req.send().await.expect("request").status().as_u16()
}

fn label<'a>(r: &'a SuiteReport, scenario: &str, label: &str) -> Option<&'a pitchey_load::metrics::LabelReport> {
    r.scenarios.iter().find(|s| s.name == scenario)?.labels.iter().find(|l| l.label == label)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean_against_the_real_server() {
    let server = Server::start().await;
    // The health scenario's target (contract §8), and the NDA route the journey needs (anonymous: 401, not
    // an unknown route's 404).
    assert_eq!(status(&server.base, "/api/health", false).await, 200);
    assert_eq!(status(&server.base, "/api/ndas/request", true).await, 401);

    let mut opts = Options::new(server.base.clone());
    opts.scale = 0.05;
    opts.health_path = "/api/health".into();
    opts.connections = Some(200);
    opts.progress = false;
    opts.pause = Duration::from_millis(200);
    opts.timeout = Duration::from_secs(20);
    // Debug builds on a shared machine are slow: judge latency loosely here, except one threshold that
    // cannot be met, to see a missed threshold fail the run.
    opts.overrides =
        ["*.p95=off", "*.p99=off", "health.p99=0ms"].iter().map(|s| s.parse().expect("override")).collect();
    let started = Instant::now();
    let report = run(&opts).await.expect("the run completes");
    eprintln!("{}", report::table(&report));
    eprintln!("whole run: {:.1} s", started.elapsed().as_secs_f64());

    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ScenarioName::ALL.iter().map(|n| n.as_str()).collect::<Vec<_>>());
    for sc in &report.scenarios {
        assert!(sc.requests > 0, "{} made no request", sc.name);
        assert!(!sc.timeline.is_empty(), "{} has no timeline", sc.name);
        assert_eq!(sc.errors, 0, "{}: {:?}", sc.name, sc.errors_by_kind);
    }
    // Auth logs in on all three portals; browse really ran its ramp.
    for portal in ["creator", "investor", "production"] {
        let path = format!("POST /api/auth/{portal}/login");
        assert!(
            report.scenarios.iter().any(|s| s.name == "auth" && s.labels.iter().any(|l| l.label == path)),
            "auth never used {path}"
        );
    }
    let whole = label(&report, "journey", "journey (whole)").expect("a journey completed");
    assert!(whole.requests >= 1 && whole.errors == 0);
    assert!(label(&report, "journey", "GET /api/pitches/public/:id (after NDA)").is_some());
    let conns = report.scenarios.iter().find(|s| s.name == "connections").and_then(|s| s.connections.clone());
    let conns = conns.expect("connections figures");
    assert_eq!((conns.requested, conns.opened, conns.answered_after_hold), (200, 200, 200));
    assert!(conns.server_rss_peak_kib.is_some_and(|k| k > 0), "server memory sampled: {conns:?}");
    assert!(conns.steady_held.count > 0, "steady stream measured while holding");

    // Thresholds gate: the impossible one failed its scenario and the run; the others passed.
    for sc in &report.scenarios {
        let expect_pass = sc.name != "health";
        assert_eq!(sc.passed, expect_pass, "{}: {:?}", sc.name, sc.thresholds);
    }
    assert!(!report.passed);

    let out = tempfile::tempdir().expect("tempdir");
    let written = report::write_all(&report, out.path()).expect("reports written");
    let back = report::read_json(&written.json).expect("report.json parses");
    assert_eq!(back.scenarios.len(), report.scenarios.len());
    for (a, b) in back.scenarios.iter().zip(&report.scenarios) {
        assert_eq!(
            (&a.name, a.requests, a.errors, a.timeline.len()),
            (&b.name, b.requests, b.errors, b.timeline.len())
        );
    }
    let html = std::fs::read_to_string(&written.html).expect("report.html");
    assert!(html.matches("<svg").count() >= 2 * report.scenarios.len(), "two charts per scenario");
    assert!(std::fs::metadata(&written.summary).expect("summary.txt").len() > 0);
    server.stop().await;
}
