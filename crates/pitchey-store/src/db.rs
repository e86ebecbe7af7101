//! The one door to the database. Every query names itself, goes through [`Db`], and is timed there; the
//! SQL text is shared by both backends wherever the dialects agree (placeholders are `$1`, `$2`, ... on
//! both), and the few places where they differ ask [`Backend`].

use crate::error::StoreError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Database, Encode, FromRow, Type};
use std::borrow::Cow;
use std::sync::Arc;
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
    /// A SQLite reader connection or a PostgreSQL replica.
    Replica,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

#[derive(Debug)]
enum Pools {
    Sqlite { writer: SqlitePool, reader: SqlitePool },
    Postgres { primary: PgPool },
}

#[derive(Debug)]
struct Inner {
    pools: Pools,
    slow: Duration,
}

/// Handle to the database: cheap to clone, shared by the whole process.
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

/// Runs one statement against an executor of either backend, as `$kind` (`all`, `opt` or `exec`).
macro_rules! run {
    (all, $db:ty, $exec:expr, $q:expr) => {
        bind_as(sqlx::query_as::<$db, T>(AssertSqlSafe($q.text)), $q.args).fetch_all($exec).await
    };
    (opt, $db:ty, $exec:expr, $q:expr) => {
        bind_as(sqlx::query_as::<$db, T>(AssertSqlSafe($q.text)), $q.args).fetch_optional($exec).await
    };
    (exec, $db:ty, $exec:expr, $q:expr) => {
        bind(sqlx::query::<$db>(AssertSqlSafe($q.text)), $q.args).execute($exec).await.map(|r| r.rows_affected())
    };
}

impl Db {
    pub(crate) fn sqlite(writer: SqlitePool, reader: SqlitePool, slow: Duration) -> Self {
        Db { inner: Arc::new(Inner { pools: Pools::Sqlite { writer, reader }, slow }) }
    }

    pub(crate) fn postgres(primary: PgPool, slow: Duration) -> Self {
        Db { inner: Arc::new(Inner { pools: Pools::Postgres { primary }, slow }) }
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        match self.inner.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Reads rows (on a reader connection / replica).
    pub async fn all<T: DbRow>(&self, q: Sql) -> Result<Vec<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match &self.inner.pools {
            Pools::Sqlite { reader, .. } => run!(all, sqlx::Sqlite, reader, q),
            Pools::Postgres { primary } => run!(all, sqlx::Postgres, primary, q),
        };
        self.finish(name, Role::Replica, t0, r)
    }

    /// Reads at most one row (on a reader connection / replica).
    pub async fn opt<T: DbRow>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match &self.inner.pools {
            Pools::Sqlite { reader, .. } => run!(opt, sqlx::Sqlite, reader, q),
            Pools::Postgres { primary } => run!(opt, sqlx::Postgres, primary, q),
        };
        self.finish(name, Role::Replica, t0, r)
    }

    /// Reads exactly one row; none is [`StoreError::NotFound`].
    pub async fn one<T: DbRow>(&self, q: Sql) -> Result<T, StoreError> {
        self.opt(q).await?.ok_or(StoreError::NotFound)
    }

    /// Runs a single-statement write in its own transaction (on the writer / primary), returning the
    /// number of rows affected.
    pub async fn exec(&self, q: Sql) -> Result<u64, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match &self.inner.pools {
            Pools::Sqlite { writer, .. } => run!(exec, sqlx::Sqlite, writer, q),
            Pools::Postgres { primary } => run!(exec, sqlx::Postgres, primary, q),
        };
        self.finish(name, Role::Primary, t0, r)
    }

    /// Runs a single-statement write that returns rows (`RETURNING`), on the writer / primary.
    pub async fn write_opt<T: DbRow>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match &self.inner.pools {
            Pools::Sqlite { writer, .. } => run!(opt, sqlx::Sqlite, writer, q),
            Pools::Postgres { primary } => run!(opt, sqlx::Postgres, primary, q),
        };
        self.finish(name, Role::Primary, t0, r)
    }

    /// Reads at most one row on the writer / primary: for reads that must see the latest writes.
    pub async fn primary_opt<T: DbRow>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        self.write_opt(q).await
    }

    /// Reads exactly one row on the writer / primary; none is [`StoreError::NotFound`].
    pub async fn primary_one<T: DbRow>(&self, q: Sql) -> Result<T, StoreError> {
        self.write_opt(q).await?.ok_or(StoreError::NotFound)
    }

    /// Reads rows on the writer / primary.
    pub async fn primary_all<T: DbRow>(&self, q: Sql) -> Result<Vec<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match &self.inner.pools {
            Pools::Sqlite { writer, .. } => run!(all, sqlx::Sqlite, writer, q),
            Pools::Postgres { primary } => run!(all, sqlx::Postgres, primary, q),
        };
        self.finish(name, Role::Primary, t0, r)
    }

    /// Starts a write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock up front, so the
    /// transaction never fails half-way on a lock upgrade), `BEGIN` on the PostgreSQL primary.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let t0 = Instant::now();
        let r = match &self.inner.pools {
            Pools::Sqlite { writer, .. } => writer.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
            Pools::Postgres { primary } => primary.begin().await.map(Tx::Postgres),
        };
        let tx = self.finish("begin", Role::Primary, t0, r)?;
        Ok(tx)
    }

    /// The query plan of a statement, one line per plan node (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN`
    /// on PostgreSQL), run where reads run.
    pub async fn explain(&self, q: Sql) -> Result<Vec<String>, StoreError> {
        match &self.inner.pools {
            Pools::Sqlite { reader, .. } => {
                let text = format!("EXPLAIN QUERY PLAN {}", q.text);
                let rows: Vec<(i64, i64, i64, String)> =
                    bind_as(sqlx::query_as::<sqlx::Sqlite, (i64, i64, i64, String)>(AssertSqlSafe(text)), q.args)
                        .fetch_all(reader)
                        .await
                        .map_err(StoreError::from)?;
                Ok(rows.into_iter().map(|r| r.3).collect())
            }
            Pools::Postgres { primary } => {
                let text = format!("EXPLAIN {}", q.text);
                let rows: Vec<(String,)> =
                    bind_as(sqlx::query_as::<sqlx::Postgres, (String,)>(AssertSqlSafe(text)), q.args)
                        .fetch_all(primary)
                        .await
                        .map_err(StoreError::from)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }
        }
    }

    /// Executes a multi-statement script outside the prepared-statement cache (maintenance only).
    pub async fn raw_script(&self, text: &'static str) -> Result<(), StoreError> {
        let r = match &self.inner.pools {
            Pools::Sqlite { writer, .. } => sqlx::raw_sql(text).execute(writer).await.map(|_| ()),
            Pools::Postgres { primary } => sqlx::raw_sql(text).execute(primary).await.map(|_| ()),
        };
        r.map_err(StoreError::from)
    }

    pub(crate) fn sqlite_writer(&self) -> Option<&SqlitePool> {
        match &self.inner.pools {
            Pools::Sqlite { writer, .. } => Some(writer),
            Pools::Postgres { .. } => None,
        }
    }

    pub(crate) fn pg_primary(&self) -> Option<&PgPool> {
        match &self.inner.pools {
            Pools::Postgres { primary } => Some(primary),
            Pools::Sqlite { .. } => None,
        }
    }

    /// Closes every pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match &self.inner.pools {
            Pools::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres { primary } => primary.close().await,
        }
    }

    fn finish<R>(
        &self,
        name: &'static str,
        role: Role,
        t0: Instant,
        r: Result<R, sqlx::Error>,
    ) -> Result<R, StoreError> {
        record(self.backend(), name, role, t0.elapsed(), self.inner.slow, r.is_ok());
        r.map_err(|e| {
            let e = StoreError::from(e);
            if e.is_unexpected() {
                tracing::error!(query = name, error = %e, "database error");
            }
            e
        })
    }
}

fn record(backend: Backend, name: &'static str, role: Role, took: Duration, slow: Duration, ok: bool) {
    if took >= slow {
        // Never log parameters: they may hold personal data.
        tracing::warn!(
            query = name,
            backend = backend.as_str(),
            role = role.as_str(),
            ms = took.as_millis() as u64,
            "slow query"
        );
    }
    tracing::trace!(query = name, ok, us = took.as_micros() as u64, "query");
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub enum Tx {
    /// SQLite writer connection inside `BEGIN IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL primary connection inside `BEGIN`.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    /// The engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// Reads rows inside the transaction.
    pub async fn all<T: DbRow>(&mut self, q: Sql) -> Result<Vec<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match self {
            Tx::Sqlite(tx) => run!(all, sqlx::Sqlite, &mut **tx, q),
            Tx::Postgres(tx) => run!(all, sqlx::Postgres, &mut **tx, q),
        };
        self.finish(name, t0, r)
    }

    /// Reads at most one row inside the transaction.
    pub async fn opt<T: DbRow>(&mut self, q: Sql) -> Result<Option<T>, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match self {
            Tx::Sqlite(tx) => run!(opt, sqlx::Sqlite, &mut **tx, q),
            Tx::Postgres(tx) => run!(opt, sqlx::Postgres, &mut **tx, q),
        };
        self.finish(name, t0, r)
    }

    /// Reads exactly one row inside the transaction; none is [`StoreError::NotFound`].
    pub async fn one<T: DbRow>(&mut self, q: Sql) -> Result<T, StoreError> {
        self.opt(q).await?.ok_or(StoreError::NotFound)
    }

    /// Executes a statement inside the transaction, returning rows affected.
    pub async fn exec(&mut self, q: Sql) -> Result<u64, StoreError> {
        let (name, t0) = (q.name, Instant::now());
        let r = match self {
            Tx::Sqlite(tx) => run!(exec, sqlx::Sqlite, &mut **tx, q),
            Tx::Postgres(tx) => run!(exec, sqlx::Postgres, &mut **tx, q),
        };
        self.finish(name, t0, r)
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        let t0 = Instant::now();
        let backend = self.backend();
        let r = match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        };
        record(backend, "commit", Role::Primary, t0.elapsed(), Duration::MAX, r.is_ok());
        r.map_err(StoreError::from)
    }

    fn finish<R>(&self, name: &'static str, t0: Instant, r: Result<R, sqlx::Error>) -> Result<R, StoreError> {
        record(self.backend(), name, Role::Primary, t0.elapsed(), Duration::from_millis(100), r.is_ok());
        r.map_err(|e| {
            let e = StoreError::from(e);
            if e.is_unexpected() {
                tracing::error!(query = name, error = %e, "database error");
            }
            e
        })
    }
}

/// Builds `($a, $b, ...)` for an `IN` list, binding each value.
pub fn in_list<A: Into<Arg>>(q: &mut Sql, values: impl IntoIterator<Item = A>) -> String {
    let parts: Vec<String> = values.into_iter().map(|v| q.push_arg(v)).collect();
    if parts.is_empty() { "(NULL)".to_owned() } else { format!("({})", parts.join(", ")) }
}
