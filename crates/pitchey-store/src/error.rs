//! Storage errors, already classified for the layers above (which never see driver types).

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated (the constraint or index name, when the driver reports it).
    #[error("conflict on {0:?}")]
    Conflict(Option<String>),
    /// A foreign key was violated: the row refers to something that does not exist, or is still referred to.
    #[error("foreign key violation")]
    ForeignKey,
    /// A check constraint rejected the value.
    #[error("check constraint violated")]
    Check,
    /// The database refused a value the request supplied (PostgreSQL: a NUL character in text, a date or a
    /// number out of the type's range). The boundary rejects these first; this is the backstop.
    #[error("value refused by the database: {0}")]
    InvalidValue(String),
    /// The database cannot be reached or is overloaded (pool timeout, I/O, busy).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// No pooled connection became available within the acquire timeout (the database is unreachable or
    /// every connection is busy).
    #[error("no database connection available in time")]
    PoolTimeout,
    /// The statement ran past its timeout.
    #[error("database statement timed out")]
    Timeout,
    /// The endpoint's circuit breaker is open: the call was not attempted (retry after the duration).
    #[error("database circuit open")]
    CircuitOpen(std::time::Duration),
    /// The transaction lost a lock race (PostgreSQL: deadlock detected, serialization failure) and was
    /// rolled back: nothing it did took effect, and running it again is safe.
    #[error("transaction rolled back by lock contention: {0}")]
    Contention(String),
    /// Anything else: a bug or an unexpected database state.
    #[error("database error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Is this an error worth logging as a fault (rather than an expected outcome such as a conflict)?
    pub fn is_unexpected(&self) -> bool {
        matches!(
            self,
            StoreError::Internal(_)
                | StoreError::Unavailable(_)
                | StoreError::PoolTimeout
                | StoreError::Timeout
                | StoreError::Contention(_)
        )
    }

    /// Did the database (not the request) fail? Outages trip circuit breakers, are retried for reads, and
    /// let caches serve stale values.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::PoolTimeout | StoreError::Timeout | StoreError::CircuitOpen(_)
        )
    }

    /// Is a retry of an idempotent read worth it? Only for a broken connection or a lost lock race: a pool timeout has already
    /// waited its full time (and retrying under load adds load), a statement timeout would time out again,
    /// an open circuit says "not now".
    pub fn is_retryable(&self) -> bool {
        // A read that lost a lock race (or, on a replica, was cancelled by a conflict with recovery, also
        // 40001) simply runs again.
        matches!(self, StoreError::Unavailable(_) | StoreError::Contention(_))
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict(_) => "conflict",
            StoreError::ForeignKey => "foreign_key",
            StoreError::Check => "check",
            StoreError::InvalidValue(_) => "invalid_value",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Timeout => "timeout",
            StoreError::PoolTimeout => "pool_timeout",
            StoreError::CircuitOpen(_) => "circuit_open",
            StoreError::Contention(_) => "contention",
            StoreError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    return StoreError::Conflict(db.constraint().map(str::to_owned));
                }
                if db.is_foreign_key_violation() {
                    return StoreError::ForeignKey;
                }
                if db.is_check_violation() {
                    return StoreError::Check;
                }
                match db.code().as_deref() {
                    // PostgreSQL: query_canceled (statement_timeout).
                    Some("57014") => StoreError::Timeout,
                    // PostgreSQL data exceptions a value causes: numeric_value_out_of_range,
                    // datetime_field_overflow, character_not_in_repertoire (NUL in text), untranslatable_character
                    // (`\u0000` in JSON).
                    Some("22003" | "22008" | "22021" | "22P05") => StoreError::InvalidValue(db.message().to_owned()),
                    // PostgreSQL: deadlock_detected, serialization_failure.
                    Some("40P01" | "40001") => StoreError::Contention(db.message().to_owned()),
                    // PostgreSQL: connection exceptions, admin shutdown, cannot connect now, too many
                    // connections; SQLite: SQLITE_BUSY / SQLITE_LOCKED.
                    Some(c)
                        if c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300" | "5" | "6") =>
                    {
                        StoreError::Unavailable(db.message().to_owned())
                    }
                    _ => StoreError::Internal(e.to_string()),
                }
            }
            sqlx::Error::PoolTimedOut => StoreError::PoolTimeout,
            sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        }
    }
}
