//! Test harness: the real server on a random port over a database of its own.
//!
//! SQLite tests get a fresh file in a temporary directory. PostgreSQL tests get a fresh database created
//! through `PITCHEY_TEST_POSTGRES_URL` (an admin connection, e.g. `postgres://root@127.0.0.1:5432/postgres`)
//! and dropped afterwards; without that variable they are skipped, unless `PITCHEY_TEST_REQUIRE_POSTGRES=1`
//! (set by CI), which makes a missing PostgreSQL a failure.
#![allow(dead_code)] // each test binary uses a different part of the harness
#![allow(clippy::unwrap_used, clippy::expect_used)] // the harness fails tests by panicking

pub mod services;

use pitchey_server::Settings;
use pitchey_server::state::AppState;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub kind: Kind,
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

/// Runs `body` once per backend as two `#[tokio::test]`s: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn($crate::common::Kind::Sqlite).await.expect("sqlite always runs");
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::common::TestApp::spawn($crate::common::Kind::Postgres).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

/// Settings for tests: demo data on, login limit off (tests that need it turn it on), quiet.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database_url: Some(database_url.to_owned()),
        seed_demo: Some(true),
        login_rate_per_minute: 0,
        db_max_connections: 8,
        shutdown_grace_secs: 2,
        ..Settings::default()
    }
}

impl TestApp {
    /// Starts a server on a fresh database; `None` when PostgreSQL is not configured (test skipped).
    pub async fn spawn(kind: Kind) -> Option<TestApp> {
        Self::spawn_with(kind, |_| {}).await
    }

    /// Like [`TestApp::spawn`], adjusting the settings first.
    pub async fn spawn_with(kind: Kind, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let (url, dir, pg) = match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("pitchey.db").display());
                (url, Some(dir), None)
            }
            Kind::Postgres => {
                let pg = PgDatabase::create().await?;
                (pg.url.clone(), None, Some(pg))
            }
        };
        let mut settings = test_settings(&url);
        adjust(&mut settings);
        let mut app = Self::start(settings, kind).await;
        app.dir = dir;
        app.pg = pg;
        Some(app)
    }

    /// Starts a server with exactly these settings (the caller owns the database).
    pub async fn start(settings: Settings, kind: Kind) -> TestApp {
        let database_url = settings.database_url().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = pitchey_server::build(settings).await.expect("app builds");
        let state = app.state.clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(pitchey_server::serve(listener, app, async move {
            let _ = rx.await;
        }));
        TestApp { base, state, kind, database_url, stop: Some(tx), task: Some(task), dir: None, pg: None }
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    /// Shuts down but keeps the database (for restart tests).
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Takes ownership of the temporary directory (so a restarted server can reuse the file).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self.dir.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client with its own cookie jar.
    pub fn client(&self) -> Client {
        Client::builder().cookie_store(true).build().expect("client")
    }

    /// A client signed in through a portal login (`creator`, `investor`, `production`) or `sign-in`.
    pub async fn login(&self, portal: &str, email: &str, password: &str) -> Client {
        let c = self.client();
        let path =
            if portal == "sign-in" { "/api/auth/sign-in".to_owned() } else { format!("/api/auth/{portal}/login") };
        let r =
            c.post(self.url(&path)).json(&json!({"email": email, "password": password})).send().await.expect("login");
        assert_eq!(r.status(), StatusCode::OK, "login {email} on {portal}");
        c
    }

    pub async fn creator(&self) -> Client {
        self.login("creator", "alex.creator@demo.com", "Demo123").await
    }
    pub async fn investor(&self) -> Client {
        self.login("investor", "sarah.investor@demo.com", "Demo123").await
    }
    pub async fn production(&self) -> Client {
        self.login("production", "stellar.production@demo.com", "Demo123").await
    }
    pub async fn admin(&self) -> Client {
        self.login("sign-in", "admin@demo.com", "Demo123").await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Status and JSON body of a response.
pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, v)
}

pub async fn get(c: &Client, url: String) -> (StatusCode, Value) {
    json_of(c.get(url).send().await.expect("request")).await
}

pub async fn post(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    json_of(c.post(url).json(&body).send().await.expect("request")).await
}

pub async fn put(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    json_of(c.put(url).json(&body).send().await.expect("request")).await
}

pub async fn delete(c: &Client, url: String) -> (StatusCode, Value) {
    json_of(c.delete(url).send().await.expect("request")).await
}

/// Asserts the error envelope and returns its code.
pub fn error_code(v: &Value) -> &str {
    assert_eq!(v["success"], json!(false), "not an error envelope: {v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message: {v}");
    v["error"]["code"].as_str().expect("error code")
}

/// A throwaway PostgreSQL database on the shared server.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        let required = std::env::var("PITCHEY_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Ok(admin_url) = std::env::var("PITCHEY_TEST_POSTGRES_URL") else {
            assert!(!required, "PITCHEY_TEST_REQUIRE_POSTGRES=1 but PITCHEY_TEST_POSTGRES_URL is not set");
            eprintln!("skipped: PITCHEY_TEST_POSTGRES_URL not set");
            return None;
        };
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                assert!(!required, "PostgreSQL required but unreachable at {admin_url}: {e}");
                eprintln!("skipped: PostgreSQL unreachable: {e}");
                return None;
            }
        };
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        drop_stale(&mut conn, secs).await;
        let name = format!("pitchey_t_{secs}_{}", uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap_or("x"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Some(PgDatabase { admin_url, name, url })
    }
}

/// Drops test databases left behind by crashed runs (more than two hours old).
async fn drop_stale(conn: &mut sqlx::PgConnection, now: u64) {
    let names: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'pitchey_t_%'")
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    for (n,) in names {
        let ts: u64 = n.split('_').nth(2).and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
        if now.saturating_sub(ts) > 7200 && ts != u64::MAX {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)")))
                .execute(&mut *conn)
                .await;
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs outside async context: use a small runtime on a separate thread.
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut c)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Creates a pitch as `owner` over HTTP (a draft); returns its id.
pub async fn draft_pitch(app: &TestApp, owner: &Client, title: &str) -> i64 {
    let fields = json!({"title": title, "logline": "A pitch made for a test.", "genre": "drama"});
    let (st, body) = post(owner, app.url("/api/pitches"), fields).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["data"]["pitch"]["id"].as_i64().expect("pitch id")
}

/// Creates a pitch as `owner` over HTTP and publishes it; returns its id.
pub async fn published_pitch(app: &TestApp, owner: &Client, title: &str) -> i64 {
    let id = draft_pitch(app, owner, title).await;
    let (st, body) = post(owner, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    id
}

/// Creates an account directly in the store (no HTTP, no hashing cost) and returns its id.
pub async fn create_user(app: &TestApp, email: &str, user_type: pitchey_core::UserType) -> i64 {
    let e = pitchey_core::Email::parse(email).expect("email");
    app.state
        .store
        .create_user(&pitchey_store::NewUser {
            username: pitchey_core::Username::from_email(&e)
                .with_suffix(&uuid::Uuid::new_v4().simple().to_string()[..6]),
            email: e,
            // Not a valid hash of anything: these accounts sign in through `session_for` only.
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            user_type,
            first_name: Some("Test".into()),
            last_name: Some("User".into()),
            bio: Some("A test account.".into()),
            company_name: Some("Test Co".into()),
            subscription_tier: "free".into(),
        })
        .await
        .expect("create user")
        .id
}

/// A client signed in as `user_id` through a session created directly in the store.
pub async fn session_for(app: &TestApp, user_id: i64) -> Client {
    let (token, hash) = pitchey_server::session::new_token();
    let id = uuid::Uuid::new_v4().to_string();
    app.state
        .store
        .create_session(&pitchey_store::NewSession {
            token_hash: &hash,
            id: &id,
            user_id,
            expires_at: pitchey_store::now() + chrono::Duration::hours(1),
            ip_address: None,
            user_agent: None,
        })
        .await
        .expect("session");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", format!("pitchey-session={token}").parse().expect("header"));
    Client::builder().default_headers(headers).build().expect("client")
}

/// The id of a seeded account.
pub async fn user_id(app: &TestApp, email: &str) -> i64 {
    app.state
        .store
        .user_credentials(&pitchey_core::Email::parse(email).expect("email"))
        .await
        .expect("lookup")
        .expect("exists")
        .0
        .id
}

/// Inserts an NDA row directly (the NDA endpoints have their own tests).
pub async fn insert_nda(app: &TestApp, pitch_id: i64, requester: i64, owner: i64, status: &str, expired: bool) {
    let now = pitchey_store::now();
    let expires = if expired { now - chrono::Duration::hours(1) } else { now + chrono::Duration::days(30) };
    app.state
        .store
        .db()
        .exec(
            pitchey_store::Sql::new(
                "test_insert_nda",
                "INSERT INTO ndas (pitch_id, requester_id, owner_id, status, expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .arg(pitch_id)
            .arg(requester)
            .arg(owner)
            .arg(status)
            .arg(expires)
            .arg(now),
        )
        .await
        .expect("insert nda");
}
