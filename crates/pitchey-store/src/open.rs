//! Connecting to a database and running its migrations.

use crate::{Backend, Db, Sql, Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Most connections per PostgreSQL pool; SQLite readers are at most this and at most twice the cores
    /// (four at least).
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing.
    pub acquire_timeout: Duration,
    /// Server-side limit on one statement (PostgreSQL `statement_timeout`; SQLite busy timeout).
    pub statement_timeout: Duration,
    /// Queries slower than this are logged and counted as slow.
    pub slow_query: Duration,
    /// PostgreSQL read replicas.
    pub replica_urls: Vec<String>,
    /// Retries of idempotent reads after an outage.
    pub read_retries: u32,
    /// Circuit breaker settings per endpoint.
    pub breaker: crate::breaker::BreakerConfig,
    /// SQLite: page cache per reader connection, KiB (the writer's is 64 MiB).
    pub sqlite_cache_kib: u32,
    /// SQLite: bytes of the file readers map into memory (0: none, every read copies into the page cache).
    pub sqlite_mmap_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/pitchey.db".to_owned(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            slow_query: Duration::from_millis(100),
            replica_urls: Vec::new(),
            read_retries: 2,
            breaker: crate::breaker::BreakerConfig::default(),
            sqlite_cache_kib: 8192,
            sqlite_mmap_bytes: 1 << 30,
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Opens the database named by `cfg.url` (creating a SQLite file and its directory if missing).
/// Migrations are not run here: call [`Store::migrate`].
pub async fn connect(cfg: &StoreConfig) -> Result<Store, StoreError> {
    let url = cfg.url.trim();
    let db = if let Some(path) = sqlite_path(url) {
        open_sqlite(path, cfg).await?
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        open_postgres(url, cfg)?
    } else {
        return Err(StoreError::Internal("database URL must start with sqlite:// or postgres://".to_owned()));
    };
    Ok(Store { db, scope_sizes: Default::default() })
}

fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))
}

/// Page cache of the SQLite writer connection, KiB.
pub(crate) const WRITER_CACHE_KIB: u32 = 65_536;

async fn open_sqlite(path: &str, cfg: &StoreConfig) -> Result<Db, StoreError> {
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::Internal("SQLite needs a file path (sqlite://PATH)".to_owned()));
    }
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let base = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk when it returns, so no committed write is lost even on power loss.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(cfg.statement_timeout)
        .statement_cache_capacity(512)
        .pragma("temp_store", "memory")
        // Our door logs slow queries with their names; sqlx's own statement logging would duplicate it.
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1));
    // One writer: SQLite serialises writers anyway, and one connection means no SQLITE_BUSY between ours.
    // Neither pool pings a connection before handing it out (sqlx does by default): an embedded
    // connection cannot be lost, and the ping was a round trip to the connection's thread per statement.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .min_connections(1)
        .acquire_timeout(cfg.acquire_timeout)
        // A large page cache for the one writer: a small one made bulk loads spill pages and crawl.
        .connect_with(base.clone().create_if_missing(true).pragma("cache_size", format!("-{WRITER_CACHE_KIB}")))
        .await?;
    // Readers: SQLite reads run on the calling connection's thread, so more readers than a few per core
    // only add threads and page caches; `max_connections` caps it.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    let readers = cfg.max_connections.min((2 * cores).max(4)).clamp(1, 64);
    // Readers map the file (mmap_size), so they share the operating system's page cache instead of each
    // copying pages into its own; the mapped size is address space, not memory, and its resident pages are
    // the file's, shared and reclaimable. Not the writer: a map over a growing file is remapped as it grows,
    // which made bulk loads (`pitchey seed`) several times slower.
    let reader = SqlitePoolOptions::new()
        .max_connections(readers)
        .acquire_timeout(cfg.acquire_timeout)
        .test_before_acquire(false)
        .connect_lazy_with(
            base.read_only(true)
                .pragma("cache_size", format!("-{}", cfg.sqlite_cache_kib.max(64)))
                .pragma("mmap_size", cfg.sqlite_mmap_bytes.to_string()),
        );
    Ok(Db::sqlite(writer, reader, resilience(cfg)))
}

fn resilience(cfg: &StoreConfig) -> crate::Resilience {
    crate::Resilience {
        slow: cfg.slow_query,
        read_retries: cfg.read_retries,
        breaker: cfg.breaker,
        // A statement timeout of 0 means none, to PostgreSQL and here.
        answer_within: (!cfg.statement_timeout.is_zero()).then(|| cfg.statement_timeout + Duration::from_secs(1)),
        ..crate::Resilience::default()
    }
}

/// A pooled PostgreSQL connection idle for this long is pinged before it is used again.
const PG_PING_IDLE: Duration = Duration::from_secs(1);

fn pg_pool(url: &str, cfg: &StoreConfig) -> Result<sqlx::PgPool, StoreError> {
    let timeout_ms = cfg.statement_timeout.as_millis().to_string();
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?
        .application_name("pitchey")
        .statement_cache_capacity(512)
        .options([("statement_timeout", timeout_ms.as_str())])
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1));
    // Lazy: the server can start (and report itself unready) while PostgreSQL is still coming up.
    Ok(PgPoolOptions::new()
        .max_connections(cfg.max_connections.max(1))
        .acquire_timeout(cfg.acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        // sqlx pings every connection it hands out by default: a network round trip before each statement.
        // It also pings each connection it takes back, so one that was returned moments ago is known to be
        // alive; only a connection that has sat idle for a while is pinged before use.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PG_PING_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(opts))
}

fn open_postgres(url: &str, cfg: &StoreConfig) -> Result<Db, StoreError> {
    let primary = pg_pool(url, cfg)?;
    // Replicas are optional (the primary can answer): never wait long for one of their connections.
    let replica_cfg =
        StoreConfig { acquire_timeout: cfg.acquire_timeout.min(Duration::from_millis(500)), ..cfg.clone() };
    let replicas = cfg.replica_urls.iter().map(|u| pg_pool(u, &replica_cfg)).collect::<Result<Vec<_>, _>>()?;
    Ok(Db::postgres(primary, replicas, resilience(cfg)))
}

impl Store {
    /// Applies pending migrations (PostgreSQL serialises concurrent migrators with an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let r = if let Some(w) = self.db.sqlite_writer() {
            SQLITE_MIGRATIONS.run(w).await
        } else if let Some(p) = self.db.pg_primary() {
            POSTGRES_MIGRATIONS.run(p).await
        } else {
            Ok(())
        };
        r.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Internal(other.to_string()),
        })?;
        // SQLite's planner statistics are only as new as the last ANALYZE: a migration that adds an index
        // leaves it unanalysed. `PRAGMA optimize` (0x10002: every table, not only recently queried ones)
        // analyses just the tables that need it, cheaply. PostgreSQL's autovacuum keeps its own.
        //
        // Then the STAT4 samples go (our SQLite is built with SQLITE_ENABLE_STAT4): with samples present,
        // SQLite re-prepares a statement each time a value bound in its WHERE clause changes, so the samples
        // can steer the plan for that value. That re-preparing took a tenth of the server's CPU time on
        // uncached lists. The hot list queries take their plans from counts and fixed hints (listing.rs),
        // and `sqlite_stat1` stays. One transaction, so no reader loads the samples in between.
        if self.backend() == Backend::Sqlite {
            // The store's transaction (BEGIN IMMEDIATE, rolled back if dropped on an error).
            let mut tx = self.db.begin().await?;
            tx.exec(Sql::new("optimize", "PRAGMA optimize=0x10002")).await?;
            let stat4 = Sql::new("stat4_exists", "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4'");
            if tx.opt::<(i64,)>(stat4).await?.is_some() {
                tx.exec(Sql::new("drop_stat4_samples", "DELETE FROM sqlite_stat4")).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
