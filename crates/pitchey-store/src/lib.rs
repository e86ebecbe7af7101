//! Pitchey's storage: one [`Store`] over either an embedded SQLite file or PostgreSQL.
//!
//! Both backends run the same store code and, wherever the dialects agree, the same SQL; where they differ
//! (full-text search, a few functions) the store asks [`Backend`]. Each backend has its own migrations under
//! `migrations/{sqlite,postgres}`. Nothing above this crate knows which backend is in use.

pub mod breaker;
mod bulk;
pub mod credits;
pub mod dashboards;
pub mod db;
pub mod engagement;
pub mod error;
pub mod explain;
mod listing;
pub mod models;
pub mod ndas;
pub mod notifications;
mod open;
mod pitches;
pub mod search;
pub mod seed;
pub mod sessions;
pub mod users;

pub use db::{Arg, Backend, Db, EndpointHealth, PRIMARY_READS, Resilience, Role, SlowQuery, Sql, Tx};
pub use error::StoreError;
pub use listing::{ListQuery, Order, Scope, SearchWindow};
pub use models::*;
pub use open::{StoreConfig, connect};
pub use pitches::{Moderated, PitchMeta, PitchUpdate};
pub use sessions::NewSession;
pub use users::{CreateUserError, NewUser, ProfileUpdate};

use chrono::{DateTime, SubsecRound, Utc};

/// The application's storage handle: cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// Recent sizes of the scopes with facet counts, for choosing SQLite list plans (listing.rs).
    scope_sizes: std::sync::Arc<listing::ScopeSizes>,
}

impl Store {
    /// The database door, for code in this crate and diagnostics (`pitchey db explain`).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Closes all connections.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// The current time at the precision both backends store (microseconds), so values round-trip exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
