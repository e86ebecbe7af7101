//! Typed, layered configuration: defaults, then an optional TOML file, then `PITCHEY_*` environment
//! variables, then command-line flags. Printed at start with secrets redacted.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The embedded default database.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://data/pitchey.db";

/// Every setting of the server. Field names are the TOML keys; the environment variable is the name in
/// upper case with a `PITCHEY_` prefix (e.g. `database_url` ← `PITCHEY_DATABASE_URL`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`; unset means the embedded default (`sqlite://data/pitchey.db`).
    pub database_url: Option<String>,
    /// PostgreSQL read replicas (comma-separated in the environment).
    #[serde(deserialize_with = "string_or_list")]
    pub database_replica_urls: Vec<String>,
    /// Redis for the shared cache tier and cross-node invalidation (optional).
    pub redis_url: Option<String>,
    /// Seed demo data when the database is empty (default: only for the embedded default database).
    pub seed_demo: Option<bool>,
    /// Largest connection pool per database endpoint (default [`default_db_connections`]).
    pub db_max_connections: u32,
    /// How long to wait for a pooled connection, in milliseconds.
    pub db_acquire_timeout_ms: u64,
    /// Longest a single statement may run, in milliseconds.
    pub db_statement_timeout_ms: u64,
    /// Queries at least this slow are logged and counted, in milliseconds.
    pub slow_query_ms: u64,
    /// SQLite: page cache of each reader connection, KiB.
    pub sqlite_cache_kib: u32,
    /// SQLite: bytes of the database file the readers map into memory (0 turns the map off).
    pub sqlite_mmap_bytes: u64,
    /// Login and sign-up attempts per client address per minute; 0 disables the limit.
    pub login_rate_per_minute: u32,
    /// Password hashes (argon2id) computed at once; 0: half the cores, at least one.
    pub password_hash_concurrency: usize,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDR ranges, comma-separated in the environment).
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    /// Origins allowed to call the API with credentials (exact match; comma-separated in the environment).
    #[serde(deserialize_with = "string_or_list")]
    pub cors_origins: Vec<String>,
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub cookie_secure: bool,
    /// Session lifetime in seconds (the cookie's `Max-Age`).
    pub session_ttl_secs: u64,
    /// How often expired sessions are deleted, in seconds.
    pub session_cleanup_interval_secs: u64,
    /// How often approved and signed NDAs past their expiry are marked expired, in seconds.
    pub nda_expiry_interval_secs: u64,
    /// Serve cached public reads (lists, detail, search, config) and sessions from the two-tier cache.
    pub cache_enabled: bool,
    /// Bytes the in-process cache may hold.
    pub cache_l1_max_bytes: u64,
    /// Time to live of cached public lists and marketplace pages, in seconds.
    pub cache_ttl_lists_secs: u64,
    /// Time to live of cached public pitch pages, in seconds.
    pub cache_ttl_pitch_secs: u64,
    /// Time to live of cached search results, in seconds.
    pub cache_ttl_search_secs: u64,
    /// Time to live of cached configuration lists, in seconds.
    pub cache_ttl_config_secs: u64,
    /// Time to live of cached sessions, in seconds.
    pub cache_ttl_session_secs: u64,
    /// Time to live of a signed-in user's cached dashboard, in seconds. Every write through the API (except
    /// view tracking) invalidates all dashboards, so this bounds only how long view counts and time-based
    /// changes (NDA expiry) may lag.
    pub cache_ttl_dashboard_secs: u64,
    /// How long an expired cached value may still be served while the database is unavailable, in seconds.
    pub cache_stale_secs: u64,
    /// Prefix of every Redis key and channel.
    pub redis_key_prefix: String,
    /// Time limit of one Redis command, in milliseconds.
    pub redis_timeout_ms: u64,
    /// How often the first pages of the public lists are re-warmed, in seconds (0: only at start).
    pub cache_warm_interval_secs: u64,
    /// Longest that warming may delay readiness at start, in seconds.
    pub cache_warm_timeout_secs: u64,
    /// `max-age` of anonymous public responses, in seconds.
    pub http_max_age_secs: u64,
    /// `s-maxage` (shared caches) of anonymous public responses, in seconds.
    pub http_s_maxage_secs: u64,
    /// `stale-while-revalidate` of anonymous public responses, in seconds.
    pub http_stale_while_revalidate_secs: u64,
    /// How often the health snapshot is refreshed, in seconds.
    pub health_interval_secs: u64,
    /// Time limit of each health probe, in milliseconds.
    pub health_timeout_ms: u64,
    /// Retries of an idempotent read after a database outage error.
    pub db_read_retries: u32,
    /// Failure share (0–1) over the window that opens an endpoint's circuit breaker.
    pub db_breaker_failure_rate: f64,
    /// Fewest calls in the window before the breaker judges the failure share.
    pub db_breaker_min_calls: usize,
    /// Length of the breaker's sliding window, in seconds.
    pub db_breaker_window_secs: u64,
    /// How long an open breaker fails calls fast before probing, in seconds.
    pub db_breaker_open_secs: u64,
    /// After a user writes, their reads go to the primary for this long, in seconds (read-your-writes); so do
    /// cache loads after an invalidation, which would otherwise cache a lagging replica's view for everyone.
    pub read_your_writes_secs: u64,
    /// Serve Prometheus metrics on this separate address instead of `/metrics` on the API port.
    pub metrics_bind: Option<SocketAddr>,
    /// On shutdown, report unready this long before closing the listener (lets balancers notice), in seconds.
    pub shutdown_drain_delay_secs: u64,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take before the server answers 503, in seconds.
    pub request_timeout_secs: u64,
    /// Longest a request's body may take to arrive before the server answers 408, in seconds (less than
    /// `request_timeout_secs`).
    pub body_read_timeout_secs: u64,
    /// A new connection that has not started a request this long after it opened (it sent nothing, or half
    /// a request head) is closed, in seconds.
    pub header_read_timeout_secs: u64,
    /// A keep-alive connection idle this long after its last response is closed, in seconds. Keep it above
    /// the idle timeout of a load balancer in front (60 s on many).
    pub keep_alive_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests, in seconds.
    pub shutdown_grace_secs: u64,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Log filter (`RUST_LOG` syntax); `RUST_LOG` itself wins when set.
    pub log_level: String,
    /// Name reported by health checks (`development`, `production`, ...).
    pub environment: String,
}

/// The default pool size per database endpoint: twice this machine's cores, from 4 to 16. Statements beyond
/// about two per database core do not finish sooner, they take turns on the cores: on this 2-core machine
/// with PostgreSQL beside the server, 16 connections gave the uncached `lists` load a p99 of 81–87 ms, 4
/// gave 41–46 ms (docs/PERFORMANCE.md). It assumes the database has as many cores as this node; with a
/// database elsewhere, set `PITCHEY_DB_MAX_CONNECTIONS` to about twice its cores over the number of nodes.
pub fn default_db_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).clamp(4, 16)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            database_replica_urls: Vec::new(),
            redis_url: None,
            seed_demo: None,
            db_max_connections: default_db_connections(),
            db_acquire_timeout_ms: 3_000,
            db_statement_timeout_ms: 5_000,
            slow_query_ms: 100,
            sqlite_cache_kib: 8192,
            sqlite_mmap_bytes: 1 << 30,
            login_rate_per_minute: 20,
            password_hash_concurrency: 0,
            trusted_proxies: Vec::new(),
            cors_origins: [
                "http://localhost:5173",
                "http://127.0.0.1:5173",
                "http://localhost:3000",
                "http://127.0.0.1:3000",
                "https://pitchey-5o8.pages.dev",
                "https://pitchey.com",
            ]
            .map(str::to_owned)
            .to_vec(),
            cookie_secure: false,
            session_ttl_secs: 7 * 24 * 3600,
            session_cleanup_interval_secs: 3600,
            nda_expiry_interval_secs: 300,
            cache_enabled: true,
            cache_l1_max_bytes: 64 * 1024 * 1024,
            cache_ttl_lists_secs: 30,
            cache_ttl_pitch_secs: 60,
            cache_ttl_search_secs: 30,
            cache_ttl_config_secs: 3600,
            cache_ttl_session_secs: 60,
            cache_ttl_dashboard_secs: 10,
            cache_stale_secs: 300,
            redis_key_prefix: "pitchey:".to_owned(),
            redis_timeout_ms: 250,
            cache_warm_interval_secs: 60,
            cache_warm_timeout_secs: 5,
            http_max_age_secs: 10,
            http_s_maxage_secs: 30,
            http_stale_while_revalidate_secs: 60,
            health_interval_secs: 10,
            health_timeout_ms: 2000,
            db_read_retries: 2,
            db_breaker_failure_rate: 0.5,
            db_breaker_min_calls: 5,
            db_breaker_window_secs: 10,
            db_breaker_open_secs: 5,
            read_your_writes_secs: 5,
            metrics_bind: None,
            shutdown_drain_delay_secs: 0,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            body_read_timeout_secs: 20,
            header_read_timeout_secs: 30,
            keep_alive_timeout_secs: 75,
            shutdown_grace_secs: 20,
            log_format: "text".to_owned(),
            log_level: "info,sqlx=warn".to_owned(),
            environment: "development".to_owned(),
        }
    }
}

fn setting_names() -> Vec<String> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        Either::Many(v) => v,
    })
}

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// How far a replica may lag behind the primary, as this deployment assumes: the read-your-writes
    /// window, which also sends cache loads to the primary for as long after an invalidation.
    pub fn replica_lag_bound(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.read_your_writes_secs)
    }

    /// Loads defaults ← `file` (or `./pitchey.toml` when present) ← `PITCHEY_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        let default_file = PathBuf::from("pitchey.toml");
        match file {
            Some(f) if !f.exists() => {
                return Err(ConfigError(format!("{} does not exist", f.display())));
            }
            Some(f) => fig = fig.merge(Toml::file(f)),
            None if default_file.exists() => fig = fig.merge(Toml::file(default_file)),
            None => {}
        }
        // Only variables that name a setting: PITCHEY_CONFIG names the file, and test harnesses set their own.
        let known = setting_names();
        fig = fig.merge(Env::prefixed("PITCHEY_").filter(move |k| known.iter().any(|n| k == n.as_str())));
        let s: Settings = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    /// Validates values that parse but make no sense.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.database_url
            && !(u.starts_with("sqlite:") || u.starts_with("postgres://") || u.starts_with("postgresql://"))
        {
            return Err(ConfigError("database_url must start with sqlite:// or postgres://".into()));
        }
        if !self.database_replica_urls.is_empty() && !self.database_url().starts_with("postgres") {
            return Err(ConfigError("database_replica_urls need a PostgreSQL database_url".into()));
        }
        self.trusted_proxy_nets()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError("log_format must be text or json".into()));
        }
        if !(0.0..=1.0).contains(&self.db_breaker_failure_rate) {
            return Err(ConfigError("db_breaker_failure_rate must be between 0 and 1".into()));
        }
        if let Some(r) = &self.redis_url
            && !(r.starts_with("redis://") || r.starts_with("rediss://") || r.starts_with("unix://"))
        {
            return Err(ConfigError("redis_url must start with redis://, rediss:// or unix://".into()));
        }
        if self.body_read_timeout_secs >= self.request_timeout_secs {
            // Past the request deadline a stalled write body would be told its outcome is unknown.
            return Err(ConfigError("body_read_timeout_secs must be less than request_timeout_secs".into()));
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError("body_limit_bytes must be at least 1024".into()));
        }
        Ok(())
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_SQLITE_URL)
    }

    /// Is this the zero-configuration embedded database?
    pub fn is_embedded_default(&self) -> bool {
        self.database_url.is_none()
    }

    /// Should an empty database receive the demo data?
    pub fn should_seed_demo(&self) -> bool {
        self.seed_demo.unwrap_or(self.is_embedded_default())
    }

    /// Trusted proxies parsed as networks (a bare IP is a /32 or /128).
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError(format!("trusted_proxies: {s:?} is not an IP or CIDR")))
            })
            .collect()
    }

    /// Password hashes computed at once (the setting, or half the cores and at least one).
    pub fn password_hash_concurrency(&self) -> usize {
        match self.password_hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }

    /// The store's connection settings.
    pub fn store_config(&self) -> pitchey_store::StoreConfig {
        pitchey_store::StoreConfig {
            url: self.database_url().to_owned(),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
            slow_query: Duration::from_millis(self.slow_query_ms),
            replica_urls: self.database_replica_urls.clone(),
            read_retries: self.db_read_retries,
            sqlite_cache_kib: self.sqlite_cache_kib,
            sqlite_mmap_bytes: self.sqlite_mmap_bytes,
            breaker: pitchey_store::breaker::BreakerConfig {
                failure_rate: self.db_breaker_failure_rate,
                min_calls: self.db_breaker_min_calls.max(1),
                window: Duration::from_secs(self.db_breaker_window_secs.max(1)),
                open_for: Duration::from_secs(self.db_breaker_open_secs.max(1)),
            },
        }
    }

    /// The cache's settings.
    pub fn cache_config(&self) -> pitchey_cache::CacheConfig {
        let s = Duration::from_secs;
        pitchey_cache::CacheConfig {
            l1_max_bytes: self.cache_l1_max_bytes,
            ttl: [
                s(self.cache_ttl_lists_secs.max(1)),
                s(self.cache_ttl_pitch_secs.max(1)),
                s(self.cache_ttl_search_secs.max(1)),
                s(self.cache_ttl_config_secs.max(1)),
                s(self.cache_ttl_session_secs.max(1)),
                s(self.cache_ttl_dashboard_secs.max(1)),
            ],
            stale_for: s(self.cache_stale_secs),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_key_prefix.clone(),
            redis_timeout: Duration::from_millis(self.redis_timeout_ms.max(10)),
            ..pitchey_cache::CacheConfig::default()
        }
    }

    /// The settings as `key = value` lines with passwords in URLs replaced by `***`.
    pub fn redacted_lines(&self) -> Vec<String> {
        let mut v = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Vec::new(),
        };
        v.insert("database_url".into(), redact_url(self.database_url()).into());
        v.insert(
            "database_replica_urls".into(),
            self.database_replica_urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>().into(),
        );
        if let Some(r) = &self.redis_url {
            v.insert("redis_url".into(), redact_url(r).into());
        }
        v.into_iter().map(|(k, val)| format!("{k} = {val}")).collect()
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_concurrency_defaults_to_half_the_cores() {
        let auto = Settings::default().password_hash_concurrency();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(auto, (cores / 2).max(1));
        let set = Settings { password_hash_concurrency: 3, ..Settings::default() };
        assert_eq!(set.password_hash_concurrency(), 3);
    }

    #[test]
    fn pools_default_to_twice_the_cores_within_bounds() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        assert_eq!(Settings::default().db_max_connections, (2 * cores).clamp(4, 16));
        assert!((4..=16).contains(&default_db_connections()));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("redis://:pw@cache:6379"), "redis://:***@cache:6379");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        let s = Settings { database_url: Some("postgres://u:hunter2@h/db".into()), ..Default::default() };
        assert!(s.redacted_lines().iter().all(|l| !l.contains("hunter2")));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Error is large; this is a test
    fn layers_file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pitchey.toml", "bind = \"127.0.0.1:9000\"\nlogin_rate_per_minute = 5\n")?;
            jail.set_env("PITCHEY_LOGIN_RATE_PER_MINUTE", "0");
            jail.set_env("PITCHEY_CORS_ORIGINS", "http://a.test, http://b.test");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.bind.port(), 9000);
            assert_eq!(s.login_rate_per_minute, 0);
            assert_eq!(s.cors_origins, vec!["http://a.test", "http://b.test"]);
            assert!(s.is_embedded_default() && s.should_seed_demo());
            jail.set_env("PITCHEY_DATABASE_URL", "postgres://x@y/z");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(!s.should_seed_demo());
            jail.set_env("PITCHEY_TRUSTED_PROXIES", "not-an-ip");
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }
}
