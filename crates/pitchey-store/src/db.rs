//! The one door to the database. Every query names itself, goes through [`Db`], and is timed there; the
//! SQL text is shared by both backends wherever the dialects agree (placeholders are `$1`, `$2`, ... on
//! both), and the few places where they differ ask [`Backend`].

use crate::breaker::{Breaker, BreakerConfig, BreakerState, Permit};
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Database, Encode, FromRow, Type};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which database engine is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Embedded SQLite file (WAL; one writer, a pool of readers).
    Sqlite,
    /// PostgreSQL primary (and optional read replicas).
    Postgres,
}

impl Backend {
    /// Label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One bound parameter. Every variant is nullable so `NULL` keeps its type on PostgreSQL.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Integer.
    I64(Option<i64>),
    /// Floating point.
    F64(Option<f64>),
    /// Boolean.
    Bool(Option<bool>),
    /// Text.
    Text(Option<String>),
    /// Timestamp (UTC).
    Time(Option<DateTime<Utc>>),
    /// JSON document.
    Json(Option<Value>),
}

macro_rules! arg_from {
    ($t:ty, $v:ident, $conv:expr) => {
        impl From<$t> for Arg {
            fn from(x: $t) -> Arg {
                let f = $conv;
                Arg::$v(Some(f(x)))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(x: Option<$t>) -> Arg {
                let f = $conv;
                Arg::$v(x.map(f))
            }
        }
    };
}
arg_from!(i64, I64, |x| x);
arg_from!(i32, I64, i64::from);
arg_from!(f64, F64, |x| x);
arg_from!(bool, Bool, |x| x);
arg_from!(String, Text, |x| x);
arg_from!(&str, Text, str::to_owned);
arg_from!(&String, Text, String::clone);
arg_from!(DateTime<Utc>, Time, |x| x);
arg_from!(Value, Json, |x| x);

/// A named query: SQL text plus its arguments.
#[derive(Debug, Clone)]
pub struct Sql {
    name: &'static str,
    text: Cow<'static, str>,
    args: Vec<Arg>,
}

impl Sql {
    /// A query with fixed text. `name` labels its timing (low cardinality: one per call site).
    pub fn new(name: &'static str, text: &'static str) -> Self {
        Sql { name, text: Cow::Borrowed(text), args: Vec::new() }
    }

    /// A query whose text is assembled at run time. Only code (never input) may contribute text: values
    /// must go through [`Sql::arg`] / [`Sql::push_arg`].
    pub fn dynamic(name: &'static str, text: String) -> Self {
        Sql { name, text: Cow::Owned(text), args: Vec::new() }
    }

    /// Binds the next `$n` parameter.
    pub fn arg(mut self, a: impl Into<Arg>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Adds a parameter and returns its placeholder (`$n`), for building dynamic SQL.
    pub fn push_arg(&mut self, a: impl Into<Arg>) -> String {
        self.args.push(a.into());
        format!("${}", self.args.len())
    }

    /// A row count for `LIMIT` or `OFFSET`, written as an integer literal on both engines. A literal is
    /// planned once per distinct value and cached like any statement; a bound count is not:
    /// - SQLite (3.50) reads a bound `LIMIT`/`OFFSET` value while planning, and so marks the statement to be
    ///   prepared again every time that parameter is bound: every execution. That was 5–7% of the server's
    ///   CPU on uncached lists.
    /// - PostgreSQL cannot cost a generic plan whose row count is a parameter, so it plans every execution
    ///   afresh: 0.6 ms of planning for a 0.3 ms browse page (`pgbench -M prepared`: 0.49 ms per page with
    ///   a bound `LIMIT`, 0.23 ms with a literal).
    ///
    /// The count is an `i64` the caller computed, never input text. For a query whose best plan depends on
    /// its other parameters, see [`Sql::push_count_planned_per_call`].
    pub fn push_count(&mut self, n: i64) -> String {
        n.to_string()
    }

    /// A row count for a query that PostgreSQL should plan for each call's parameter values (a full-text
    /// search, whose best plan depends on how many pitches the words match): a parameter there, which keeps
    /// PostgreSQL from settling on one generic plan for every word. A literal on SQLite, as
    /// [`Sql::push_count`].
    pub fn push_count_planned_per_call(&mut self, backend: Backend, n: i64) -> String {
        match backend {
            Backend::Sqlite => self.push_count(n),
            Backend::Postgres => self.push_arg(n),
        }
    }

    /// Appends text to a dynamic query.
    pub fn push(&mut self, text: &str) {
        self.text.to_mut().push_str(text);
    }

    /// The query's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A row type decodable from both backends (what `#[derive(sqlx::FromRow)]` gives).
pub trait DbRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> DbRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// Where a statement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The SQLite writer connection or the PostgreSQL primary.
    Primary,
    /// A PostgreSQL read replica.
    Replica,
    /// The SQLite read-only connection pool.
    Reader,
}

impl Role {
    /// Label for metrics and health.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Reader => "reader",
        }
    }
}

tokio::task_local! {
    /// Set for a request whose user wrote recently: its reads go to the primary (read-your-writes).
    pub static PRIMARY_READS: bool;
}

fn primary_reads_requested() -> bool {
    PRIMARY_READS.try_with(|v| *v).unwrap_or(false)
}

#[derive(Debug, Clone)]
enum PoolRef {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One database endpoint: a pool, its breaker, and counters.
#[derive(Debug)]
pub struct Endpoint {
    /// `primary`, `reader`, `replica-1`, ...
    pub name: String,
    /// What it serves.
    pub role: Role,
    pool: PoolRef,
    breaker: Breaker,
    waiters: AtomicI64,
    /// Set by health checks (replicas are skipped while unhealthy).
    healthy: AtomicBool,
    statements: AtomicU64,
}

/// A call's leave from `ep`'s breaker, or fail fast (counted) while its circuit is open.
fn admit(ep: &Endpoint) -> Result<Permit<'_>, StoreError> {
    ep.breaker.allow().map_err(|wait| {
        metrics::counter!("pitchey_db_circuit_rejections_total", "endpoint" => ep.name.clone()).increment(1);
        StoreError::CircuitOpen(wait)
    })
}

/// Counts a statement as waiting for a pool connection while `acquire` runs, and stops counting when it
/// ends or is dropped: a request abandoned mid-wait (a client gone, or a sibling query of a search that
/// failed) must not leave the waiter gauge high.
struct Waiting<'a>(&'a AtomicI64);

impl Waiting<'_> {
    async fn on<F: std::future::Future>(waiters: &AtomicI64, acquire: F) -> F::Output {
        waiters.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(waiters);
        acquire.await
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Endpoint {
    fn new(name: &str, role: Role, pool: PoolRef, breaker: BreakerConfig) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            name: name.to_owned(),
            role,
            pool,
            breaker: Breaker::new(breaker),
            waiters: AtomicI64::new(0),
            healthy: AtomicBool::new(true),
            statements: AtomicU64::new(0),
        })
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Statements this endpoint has run (since start).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn usable(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && self.breaker.state() != BreakerState::Open
    }
}

/// A slow query, as kept for the performance endpoint (never its parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct SlowQuery {
    /// Query name.
    pub name: &'static str,
    /// Endpoint role.
    pub role: &'static str,
    /// Duration.
    pub millis: f64,
    /// When it finished.
    pub at: DateTime<Utc>,
}

/// Health of one endpoint, measured by a direct probe.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointHealth {
    /// Endpoint name.
    pub name: String,
    /// Endpoint role.
    pub role: Role,
    /// Did the probe succeed?
    pub ok: bool,
    /// Probe round-trip.
    pub latency: Duration,
    /// Error text when it failed.
    pub error: Option<String>,
    /// Breaker state.
    pub breaker: BreakerState,
    /// Replication lag in seconds (replicas only).
    pub lag_secs: Option<f64>,
}

/// Resilience settings of the door.
#[derive(Debug, Clone, Copy)]
pub struct Resilience {
    /// Queries at least this slow are logged and counted.
    pub slow: Duration,
    /// Retries of an idempotent read after an outage error.
    pub read_retries: u32,
    /// First retry delay (doubles each retry, plus jitter).
    pub retry_base: Duration,
    /// Breaker settings per endpoint.
    pub breaker: BreakerConfig,
    /// How long to wait for PostgreSQL's answer to a statement before giving up on it with
    /// [`StoreError::Timeout`]. PostgreSQL's own `statement_timeout` cannot fire when the server is frozen
    /// or the network drops packets silently, and then a statement would wait until the request's deadline
    /// (and everyone waiting on the same cached page's load with it). Set a little above the statement
    /// timeout, so that the server's own limit, which cancels the statement cleanly, fires first.
    /// Commits are not bounded: giving up on one would not undo it.
    pub answer_within: Option<Duration>,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            slow: Duration::from_millis(100),
            read_retries: 2,
            retry_base: Duration::from_millis(25),
            breaker: BreakerConfig::default(),
            answer_within: None,
        }
    }
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    primary: Arc<Endpoint>,
    /// SQLite: the reader pool. PostgreSQL: the replicas (possibly none).
    reads: Vec<Arc<Endpoint>>,
    next_read: AtomicUsize,
    res: Resilience,
    slow_log: Mutex<VecDeque<SlowQuery>>,
}

/// Handle to the database: cheap to clone, shared by the whole process. Every query passes here, where it
/// is routed (writer/primary, readers/replicas, read-your-writes), guarded by the endpoint's circuit
/// breaker, retried when it is an idempotent read that met an outage, timed, and counted.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

fn bind_as<'q, DB, O>(
    mut q: sqlx::query::QueryAs<'q, DB, O, <DB as Database>::Arguments>,
    args: Vec<Arg>,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as Database>::Arguments>
where
    DB: Database,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    Option<Json<Value>>: Encode<'q, DB> + Type<DB>,
{
    for a in args {
        q = match a {
            Arg::I64(v) => q.bind(v),
            Arg::F64(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::Time(v) => q.bind(v),
            Arg::Json(v) => q.bind(v.map(Json)),
        };
    }
    q
}

fn bind<'q, DB>(
    mut q: sqlx::query::Query<'q, DB, <DB as Database>::Arguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments>
where
    DB: Database,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    Option<Json<Value>>: Encode<'q, DB> + Type<DB>,
{
    for a in args {
        q = match a {
            Arg::I64(v) => q.bind(v),
            Arg::F64(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::Time(v) => q.bind(v),
            Arg::Json(v) => q.bind(v.map(Json)),
        };
    }
    q
}

/// What a statement returns.
enum Out<T> {
    Rows(Vec<T>),
    Row(Option<T>),
    Affected(u64),
}

#[derive(Clone, Copy)]
enum Kind {
    All,
    Opt,
    Exec,
}

/// Runs one statement of `kind` against an executor of either engine.
macro_rules! run {
    ($kind:expr, $db:ty, $exec:expr, $q:expr) => {
        match $kind {
            Kind::All => {
                bind_as(sqlx::query_as::<$db, T>(AssertSqlSafe($q.text)), $q.args).fetch_all($exec).await.map(Out::Rows)
            }
            Kind::Opt => bind_as(sqlx::query_as::<$db, T>(AssertSqlSafe($q.text)), $q.args)
                .fetch_optional($exec)
                .await
                .map(Out::Row),
            Kind::Exec => bind(sqlx::query::<$db>(AssertSqlSafe($q.text)), $q.args)
                .execute($exec)
                .await
                .map(|r| Out::Affected(r.rows_affected())),
        }
    };
}

impl Db {
    pub(crate) fn sqlite(writer: SqlitePool, reader: SqlitePool, res: Resilience) -> Self {
        let primary = Endpoint::new("primary", Role::Primary, PoolRef::Sqlite(writer), res.breaker);
        let reader = Endpoint::new("reader", Role::Reader, PoolRef::Sqlite(reader), res.breaker);
        Self::assemble(Backend::Sqlite, primary, vec![reader], res)
    }

    pub(crate) fn postgres(primary: PgPool, replicas: Vec<PgPool>, res: Resilience) -> Self {
        let primary = Endpoint::new("primary", Role::Primary, PoolRef::Postgres(primary), res.breaker);
        let replicas = replicas
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                Endpoint::new(&format!("replica-{}", i + 1), Role::Replica, PoolRef::Postgres(p), res.breaker)
            })
            .collect();
        Self::assemble(Backend::Postgres, primary, replicas, res)
    }

    fn assemble(backend: Backend, primary: Arc<Endpoint>, reads: Vec<Arc<Endpoint>>, res: Resilience) -> Self {
        Db {
            inner: Arc::new(Inner {
                backend,
                primary,
                reads,
                next_read: AtomicUsize::new(0),
                res,
                slow_log: Mutex::new(VecDeque::with_capacity(SLOW_LOG)),
            }),
        }
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Statements run on every endpoint since start (tests use it to count store queries).
    pub fn statements(&self) -> u64 {
        self.endpoints().iter().map(|e| e.statements()).sum()
    }

    /// Are all the endpoints' circuits closed? Statements of one request may then run side by side; while
    /// a circuit is half-open it lets one probe through, and two statements of one request sent at once
    /// would have the second refused (failing the request) while the first holds the probe.
    pub fn breakers_closed(&self) -> bool {
        std::iter::once(&self.inner.primary)
            .chain(self.inner.reads.iter())
            .all(|ep| ep.breaker.state() == BreakerState::Closed)
    }

    /// Runs two calls of one request side by side while every circuit is closed, else one after the other
    /// ([`Db::breakers_closed`]), so that the first can take a half-open circuit's probe and close it for
    /// the second. Either way the first error is the result.
    pub async fn side_by_side<A, B>(
        &self,
        a: impl std::future::Future<Output = Result<A, StoreError>>,
        b: impl std::future::Future<Output = Result<B, StoreError>>,
    ) -> Result<(A, B), StoreError> {
        if self.breakers_closed() { tokio::try_join!(a, b) } else { Ok((a.await?, b.await?)) }
    }

    /// Every endpoint: the primary first.
    pub fn endpoints(&self) -> Vec<Arc<Endpoint>> {
        std::iter::once(self.inner.primary.clone()).chain(self.inner.reads.iter().cloned()).collect()
    }

    /// Where a read goes: the primary for a request that asked for it (read-your-writes), else the next
    /// usable replica (round robin) or SQLite's readers, else the primary.
    fn read_endpoint(&self) -> &Arc<Endpoint> {
        let i = &self.inner;
        if i.reads.is_empty() {
            return &i.primary;
        }
        if i.backend == Backend::Sqlite {
            // Read-your-writes holds on any SQLite connection (see `read`).
            return &i.reads[0];
        }
        if primary_reads_requested() {
            return &i.primary;
        }
        let n = i.reads.len();
        let start = i.next_read.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|k| &i.reads[(start + k) % n]).find(|e| e.usable()).unwrap_or(&i.primary)
    }

    /// One attempt of one statement on one endpoint, through its breaker.
    async fn attempt<T: DbRow>(&self, ep: &Endpoint, q: Sql, kind: Kind) -> Result<Out<T>, StoreError> {
        let permit = admit(ep)?;
        let (name, t0) = (q.name, Instant::now());
        ep.statements.fetch_add(1, Ordering::Relaxed);
        let r = match &ep.pool {
            PoolRef::Sqlite(p) => match Waiting::on(&ep.waiters, p.acquire()).await {
                Ok(mut c) => run!(kind, sqlx::Sqlite, &mut *c, q).map_err(StoreError::from),
                Err(e) => Err(e.into()),
            },
            PoolRef::Postgres(p) => match Waiting::on(&ep.waiters, p.acquire()).await {
                Ok(mut c) => {
                    let r =
                        answered_within(self.inner.res.answer_within, async { run!(kind, sqlx::Postgres, &mut *c, q) })
                            .await;
                    if let Err(Unanswered::Abandoned) = r {
                        // Closed with a bounded wait, rather than checked with a query on its way back to the
                        // pool, which would wait for the silent server as long as TCP does.
                        c.close_on_drop();
                    }
                    r.map_err(StoreError::from)
                }
                Err(e) => Err(e.into()),
            },
        };
        self.finish(Some(permit), ep, name, t0, r)
    }

    /// Records a statement's outcome: through its permit, or on the breaker directly for a statement inside
    /// a transaction (admitted with its `BEGIN`, not gated again).
    fn finish<R>(
        &self,
        permit: Option<Permit<'_>>,
        ep: &Endpoint,
        name: &'static str,
        t0: Instant,
        r: Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let outage = r.as_ref().err().is_some_and(StoreError::is_outage);
        match permit {
            Some(permit) => permit.record(!outage),
            None => ep.breaker.record(!outage),
        }
        self.observe(name, ep.role, t0.elapsed(), r.as_ref().err());
        r
    }

    fn observe(&self, name: &'static str, role: Role, took: Duration, err: Option<&StoreError>) {
        let backend = self.inner.backend.as_str();
        metrics::histogram!("pitchey_db_query_duration_seconds", "query" => name, "backend" => backend, "role" => role.as_str())
            .record(took.as_secs_f64());
        if let Some(e) = err {
            metrics::counter!("pitchey_db_errors_total", "query" => name, "kind" => e.kind()).increment(1);
            if e.is_unexpected() {
                tracing::error!(query = name, role = role.as_str(), error = %e, "database error");
            }
        }
        if took >= self.inner.res.slow {
            // Never log parameters: they may hold personal data.
            tracing::warn!(query = name, backend, role = role.as_str(), ms = took.as_millis() as u64, "slow query");
            metrics::counter!("pitchey_db_slow_queries_total", "query" => name).increment(1);
            let mut log = self.inner.slow_log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if log.len() == SLOW_LOG {
                log.pop_front();
            }
            log.push_back(SlowQuery { name, role: role.as_str(), millis: took.as_secs_f64() * 1000.0, at: Utc::now() });
        }
    }

    /// An idempotent read: routed, retried with backoff and jitter after outage errors (moving to the
    /// primary when a replica failed), failing fast when the circuit is open.
    async fn read<T: DbRow>(&self, q: Sql, kind: Kind, on_primary: bool) -> Result<Out<T>, StoreError> {
        // SQLite's readers are as fresh as its writer: in WAL mode every statement outside a transaction
        // reads the latest commit. Only PostgreSQL replicas lag, so only there does "on the primary" change
        // where a read goes; on SQLite it would only queue reads behind the single writer connection.
        let on_primary = on_primary && self.inner.backend == Backend::Postgres;
        let mut ep = if on_primary { &self.inner.primary } else { self.read_endpoint() };
        let mut attempt = 0;
        loop {
            match self.attempt(ep, q.clone(), kind).await {
                // A replica failed: the primary can answer, at once.
                Err(e) if e.is_outage() && ep.role == Role::Replica => {
                    metrics::counter!("pitchey_db_retries_total", "query" => q.name).increment(1);
                    ep = &self.inner.primary;
                }
                Err(e) if e.is_retryable() && attempt < self.inner.res.read_retries => {
                    attempt += 1;
                    let base = self.inner.res.retry_base * 2u32.pow(attempt - 1);
                    let jitter = Duration::from_millis(rand::random_range(0..=base.as_millis() as u64));
                    metrics::counter!("pitchey_db_retries_total", "query" => q.name).increment(1);
                    tokio::time::sleep(base + jitter).await;
                }
                other => return other,
            }
        }
    }

    /// Reads rows (on a replica or reader connection, unless read-your-writes applies).
    pub async fn all<T: DbRow>(&self, q: Sql) -> Result<Vec<T>, StoreError> {
        match self.read::<T>(q, Kind::All, false).await? {
            Out::Rows(v) => Ok(v),
            _ => Ok(Vec::new()),
        }
    }

    /// Reads at most one row (on a replica or reader connection, unless read-your-writes applies).
    pub async fn opt<T: DbRow>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        match self.read::<T>(q, Kind::Opt, false).await? {
            Out::Row(r) => Ok(r),
            _ => Ok(None),
        }
    }

    /// Reads exactly one row; none is [`StoreError::NotFound`].
    pub async fn one<T: DbRow>(&self, q: Sql) -> Result<T, StoreError> {
        self.opt(q).await?.ok_or(StoreError::NotFound)
    }

    /// Reads at most one row that must see the latest writes: on the PostgreSQL primary (on SQLite any
    /// connection does, see `read`).
    pub async fn primary_opt<T: DbRow>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        match self.read::<T>(q, Kind::Opt, true).await? {
            Out::Row(r) => Ok(r),
            _ => Ok(None),
        }
    }

    /// Like [`Db::primary_opt`]; no row is [`StoreError::NotFound`].
    pub async fn primary_one<T: DbRow>(&self, q: Sql) -> Result<T, StoreError> {
        self.primary_opt(q).await?.ok_or(StoreError::NotFound)
    }

    /// Reads rows that must see the latest writes (see [`Db::primary_opt`]).
    pub async fn primary_all<T: DbRow>(&self, q: Sql) -> Result<Vec<T>, StoreError> {
        match self.read::<T>(q, Kind::All, true).await? {
            Out::Rows(v) => Ok(v),
            _ => Ok(Vec::new()),
        }
    }

    /// Runs a single-statement write in its own transaction (on the writer / primary), returning the
    /// number of rows affected. Writes are never retried: a retry could apply them twice.
    pub async fn exec(&self, q: Sql) -> Result<u64, StoreError> {
        match self.attempt::<(i64,)>(&self.inner.primary, q, Kind::Exec).await? {
            Out::Affected(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// Runs a single-statement write that returns rows (`RETURNING`), on the writer / primary.
    pub async fn write_opt<T: DbRow>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        match self.attempt::<T>(&self.inner.primary, q, Kind::Opt).await? {
            Out::Row(r) => Ok(r),
            _ => Ok(None),
        }
    }

    /// Starts a write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock up front, so the
    /// transaction never fails half-way on a lock upgrade), `BEGIN` on the PostgreSQL primary.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let ep = self.inner.primary.clone();
        let permit = admit(&ep)?;
        let t0 = Instant::now();
        let r = match &ep.pool {
            PoolRef::Sqlite(p) => p.begin_with("BEGIN IMMEDIATE").await.map(TxConn::Sqlite).map_err(StoreError::from),
            PoolRef::Postgres(p) => {
                // In a task of its own: sqlx counts the transaction only once `BEGIN` is answered, so a
                // `BEGIN` future dropped while waiting would hand its connection back to the pool inside an
                // open transaction, where later autocommit writes would never commit (sqlx #4393). Given up
                // on, the task runs on; when the answer comes, it drops the transaction, which rolls back.
                let p = p.clone();
                let begin = tokio::spawn(async move { p.begin().await });
                let answer = async {
                    begin.await.unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("BEGIN task failed: {e}"))))
                };
                answered_within(self.inner.res.answer_within, answer)
                    .await
                    .map(TxConn::Postgres)
                    .map_err(StoreError::from)
            }
        };
        let conn = self.finish(Some(permit), &ep, "begin", t0, r)?;
        Ok(Tx { conn, answer_within: self.inner.res.answer_within, db: self.clone(), ep })
    }

    /// The plan of a statement, one line per plan node (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on
    /// PostgreSQL), run where reads run.
    pub async fn explain(&self, q: Sql) -> Result<Vec<String>, StoreError> {
        match &self.read_endpoint().pool {
            PoolRef::Sqlite(p) => {
                let text = format!("EXPLAIN QUERY PLAN {}", q.text);
                let rows: Vec<(i64, i64, i64, String)> =
                    bind_as(sqlx::query_as::<sqlx::Sqlite, (i64, i64, i64, String)>(AssertSqlSafe(text)), q.args)
                        .fetch_all(p)
                        .await
                        .map_err(StoreError::from)?;
                Ok(rows.into_iter().map(|r| r.3).collect())
            }
            PoolRef::Postgres(p) => {
                let text = format!("EXPLAIN {}", q.text);
                let rows: Vec<(String,)> =
                    bind_as(sqlx::query_as::<sqlx::Postgres, (String,)>(AssertSqlSafe(text)), q.args)
                        .fetch_all(p)
                        .await
                        .map_err(StoreError::from)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }
        }
    }

    /// Executes a maintenance statement (`ANALYZE`, `VACUUM`) on the primary, outside the prepared-statement
    /// cache and without the per-statement limit meant for serving: over a large catalogue on a busy machine
    /// these outlast it (a `VACUUM ANALYZE` after a 100,000-pitch seed passed 5 s in CI). On PostgreSQL the
    /// limit is lifted on a connection of its own that is closed afterwards rather than handed back to the
    /// pool with it lifted. (`VACUUM` cannot share a multi-statement string with the `SET`.)
    pub async fn maintenance(&self, text: &'static str) -> Result<(), StoreError> {
        let r = match &self.inner.primary.pool {
            PoolRef::Sqlite(p) => sqlx::raw_sql(text).execute(p).await.map(|_| ()),
            PoolRef::Postgres(p) => {
                let mut conn = p.acquire().await?;
                conn.close_on_drop();
                sqlx::raw_sql("SET statement_timeout = 0").execute(&mut *conn).await?;
                sqlx::raw_sql(text).execute(&mut *conn).await.map(|_| ())
            }
        };
        r.map_err(StoreError::from)
    }

    pub(crate) fn sqlite_writer(&self) -> Option<&SqlitePool> {
        match &self.inner.primary.pool {
            PoolRef::Sqlite(p) => Some(p),
            PoolRef::Postgres(_) => None,
        }
    }

    pub(crate) fn pg_primary(&self) -> Option<&PgPool> {
        match &self.inner.primary.pool {
            PoolRef::Postgres(p) => Some(p),
            PoolRef::Sqlite(_) => None,
        }
    }

    /// Probes every endpoint directly (`SELECT 1`, and the replication lag of replicas), bypassing the
    /// breakers, and marks replicas healthy or not for routing.
    pub async fn check_endpoints(&self, timeout: Duration) -> Vec<EndpointHealth> {
        let mut out = Vec::new();
        for ep in self.endpoints() {
            let t0 = Instant::now();
            let probe = async {
                match &ep.pool {
                    PoolRef::Sqlite(p) => sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(p).await.map(|_| None),
                    PoolRef::Postgres(p) if ep.role == Role::Replica => sqlx::query_scalar::<_, f64>(
                        "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                         ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8",
                    )
                    .fetch_one(p)
                    .await
                    .map(Some),
                    PoolRef::Postgres(p) => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p).await.map(|_| None),
                }
            };
            let (ok, error, lag) = match tokio::time::timeout(timeout, probe).await {
                Ok(Ok(lag)) => (true, None, lag),
                Ok(Err(e)) => (false, Some(StoreError::from(e).to_string()), None),
                Err(_) => (false, Some(format!("no answer within {} ms", timeout.as_millis())), None),
            };
            ep.healthy.store(ok, Ordering::Relaxed);
            if let Some(l) = lag {
                metrics::gauge!("pitchey_db_replica_lag_seconds", "endpoint" => ep.name.clone()).set(l);
            }
            metrics::gauge!("pitchey_db_up", "endpoint" => ep.name.clone(), "role" => ep.role.as_str()).set(if ok {
                1.0
            } else {
                0.0
            });
            out.push(EndpointHealth {
                name: ep.name.clone(),
                role: ep.role,
                ok,
                latency: t0.elapsed(),
                error,
                breaker: ep.breaker.state(),
                lag_secs: lag,
            });
        }
        out
    }

    /// Registers per-endpoint counters at zero (so `rate()` over them works before their first event).
    pub fn register_metrics(&self) {
        for ep in self.endpoints() {
            metrics::counter!("pitchey_db_circuit_rejections_total", "endpoint" => ep.name.clone()).increment(0);
        }
        self.record_gauges();
    }

    /// Publishes pool sizes, idle connections, waiters and breaker states as gauges.
    pub fn record_gauges(&self) {
        for ep in self.endpoints() {
            let (size, idle) = match &ep.pool {
                PoolRef::Sqlite(p) => (p.size(), p.num_idle()),
                PoolRef::Postgres(p) => (p.size(), p.num_idle()),
            };
            let name = ep.name.clone();
            metrics::gauge!("pitchey_db_pool_connections", "endpoint" => name.clone(), "state" => "idle")
                .set(idle as f64);
            metrics::gauge!("pitchey_db_pool_connections", "endpoint" => name.clone(), "state" => "in_use")
                .set(f64::from(size).max(idle as f64) - idle as f64);
            metrics::gauge!("pitchey_db_pool_waiters", "endpoint" => name.clone())
                .set(ep.waiters.load(Ordering::Relaxed).max(0) as f64);
            metrics::gauge!("pitchey_db_circuit_state", "endpoint" => name).set(ep.breaker.state().gauge());
        }
    }

    /// The slowest recent queries (at most [`SLOW_LOG`]), slowest first.
    pub fn slow_queries(&self) -> Vec<SlowQuery> {
        let log = self.inner.slow_log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v: Vec<SlowQuery> = log.iter().cloned().collect();
        v.sort_by(|a, b| b.millis.total_cmp(&a.millis));
        v
    }

    /// Closes every pool, waiting for connections to be returned.
    pub async fn close(&self) {
        for ep in self.endpoints().iter().rev() {
            match &ep.pool {
                PoolRef::Sqlite(p) => p.close().await,
                PoolRef::Postgres(p) => p.close().await,
            }
        }
    }
}

/// Slow queries kept for the performance endpoint.
pub const SLOW_LOG: usize = 100;

#[derive(Debug)]
enum TxConn {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A write transaction on the primary. Dropping it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub struct Tx {
    conn: TxConn,
    /// [`Resilience::answer_within`], unless the transaction lifted its statement timeout.
    answer_within: Option<Duration>,
    db: Db,
    ep: Arc<Endpoint>,
}

impl Tx {
    /// The engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Lifts the per-statement limits for the rest of this transaction, for a batch job (a bulk load)
    /// whose statements may outlast the limit meant for serving: PostgreSQL's `statement_timeout` (`SET
    /// LOCAL`, until the transaction ends) and the store's wait for an answer. No-op on SQLite.
    pub async fn lift_statement_timeout(&mut self) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            self.exec(Sql::new("tx_no_statement_timeout", "SET LOCAL statement_timeout = 0")).await?;
            self.answer_within = None;
        }
        Ok(())
    }

    async fn run<T: DbRow>(&mut self, q: Sql, kind: Kind) -> Result<Out<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        self.ep.statements.fetch_add(1, Ordering::Relaxed);
        let r = match &mut self.conn {
            TxConn::Sqlite(tx) => run!(kind, sqlx::Sqlite, &mut **tx, q).map_err(StoreError::from),
            TxConn::Postgres(tx) => {
                answered_within(self.answer_within, async { run!(kind, sqlx::Postgres, &mut **tx, q) })
                    .await
                    .map_err(StoreError::from)
            }
        };
        self.db.finish(None, &self.ep, name, t0, r)
    }

    /// Reads rows inside the transaction.
    pub async fn all<T: DbRow>(&mut self, q: Sql) -> Result<Vec<T>, StoreError> {
        match self.run::<T>(q, Kind::All).await? {
            Out::Rows(v) => Ok(v),
            _ => Ok(Vec::new()),
        }
    }

    /// Reads at most one row inside the transaction.
    pub async fn opt<T: DbRow>(&mut self, q: Sql) -> Result<Option<T>, StoreError> {
        match self.run::<T>(q, Kind::Opt).await? {
            Out::Row(r) => Ok(r),
            _ => Ok(None),
        }
    }

    /// Reads exactly one row inside the transaction; none is [`StoreError::NotFound`].
    pub async fn one<T: DbRow>(&mut self, q: Sql) -> Result<T, StoreError> {
        self.opt(q).await?.ok_or(StoreError::NotFound)
    }

    /// Executes a statement inside the transaction, returning rows affected.
    pub async fn exec(&mut self, q: Sql) -> Result<u64, StoreError> {
        match self.run::<(i64,)>(q, Kind::Exec).await? {
            Out::Affected(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// Commits. An error here means the outcome is unknown to us only if the connection broke; the
    /// database itself either committed everything or nothing.
    pub async fn commit(self) -> Result<(), StoreError> {
        let t0 = Instant::now();
        let r = match self.conn {
            TxConn::Sqlite(tx) => tx.commit().await,
            TxConn::Postgres(tx) => tx.commit().await,
        };
        self.db.finish(None, &self.ep, "commit", t0, r.map_err(StoreError::from))
    }
}

/// Waits for a PostgreSQL answer at most `limit` ([`Resilience::answer_within`]). Giving up drops the
/// statement's future: sqlx then discards the late answer before the connection's next statement.
async fn answered_within<T>(
    limit: Option<Duration>,
    answer: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, Unanswered> {
    match limit {
        Some(limit) => match tokio::time::timeout(limit, answer).await {
            Ok(r) => r.map_err(Unanswered::Failed),
            Err(_) => Err(Unanswered::Abandoned),
        },
        None => answer.await.map_err(Unanswered::Failed),
    }
}

/// Why [`answered_within`] has no answer.
#[derive(Debug)]
enum Unanswered {
    /// The database answered with an error.
    Failed(sqlx::Error),
    /// It did not answer in time and we stopped waiting: a statement timeout to the caller.
    Abandoned,
}

impl From<Unanswered> for StoreError {
    fn from(u: Unanswered) -> Self {
        match u {
            Unanswered::Failed(e) => e.into(),
            Unanswered::Abandoned => StoreError::Timeout,
        }
    }
}

/// Builds `($a, $b, ...)` for an `IN` list, binding each value.
pub fn in_list<A: Into<Arg>>(q: &mut Sql, values: impl IntoIterator<Item = A>) -> String {
    let parts: Vec<String> = values.into_iter().map(|v| q.push_arg(v)).collect();
    if parts.is_empty() { "(NULL)".to_owned() } else { format!("({})", parts.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two reads of one request while the reader's circuit is half-open: sent at once, the first takes the
    /// probe and the second is refused; [`Db::side_by_side`] runs them in turn, and both pass.
    #[tokio::test]
    async fn side_by_side_takes_turns_while_a_circuit_is_half_open() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::open::StoreConfig {
            url: format!("sqlite://{}", dir.path().join("t.db").display()),
            breaker: BreakerConfig { min_calls: 2, open_for: Duration::from_millis(50), ..BreakerConfig::default() },
            ..Default::default()
        };
        let store = crate::open::connect(&cfg).await.unwrap();
        let db = store.db();
        // A read that takes a while, so that it is still in flight when the other starts.
        let slow = || {
            let q = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) \
                     SELECT COUNT(*) FROM c";
            db.one::<(i64,)>(Sql::new("test_slow", q))
        };
        let quick = || db.one::<(i64,)>(Sql::new("test_quick", "SELECT 1"));
        let half_open = || async {
            for ep in db.endpoints() {
                ep.breaker.record(false);
                ep.breaker.record(false);
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
            assert!(!db.breakers_closed());
        };
        assert!(db.breakers_closed());
        assert!(db.side_by_side(slow(), quick()).await.is_ok(), "closed: side by side");
        half_open().await;
        let both = tokio::try_join!(slow(), quick());
        assert!(matches!(both, Err(StoreError::CircuitOpen(_))), "at once, the second is refused: {both:?}");
        let reader = &db.endpoints()[1];
        assert_eq!(reader.breaker_state(), BreakerState::HalfOpen, "the probe was given up, not kept");
        let (a, b) = db.side_by_side(slow(), quick()).await.expect("in turn, both pass");
        assert_eq!((a.0, b.0), (300_000, 1));
        assert_eq!(reader.breaker_state(), BreakerState::Closed, "the first read's probe closed the circuit");
    }
}
