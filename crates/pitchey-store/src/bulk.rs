//! Bulk loading: for a large load of pitches, the work that the pitch tables' indexes and triggers do row by
//! row is deferred and done once, set-wise, at the end of the load's transaction.
//!
//! - **Secondary indexes** of `pitches` and `pitch_search` are dropped and built again afterwards. Building an
//!   index over all its rows is one sort; keeping twenty-odd indexes current row by row is a random B-tree
//!   insert per index per row, and was most of what a large SQLite seed cost. Unique indexes are kept: they
//!   enforce rules the load must obey.
//! - **Facet counts** (`pitch_facets`, migration 0005) and, on PostgreSQL, **publication days**
//!   (`pitch_published_days`, migration 0006): the per-row trigger is suspended and the table is recounted
//!   from the pitches. On PostgreSQL a trigger updates the same few rows over and over in one transaction,
//!   and each update leaves a row version that no one can prune until the commit, so every later update walks
//!   a longer chain: quadratic. (SQLite's day counter is an upsert without row versions; its trigger stays.)
//! - **Search index** on SQLite: the FTS5 insert trigger is dropped and the load's rows are indexed by one
//!   `INSERT ... SELECT`, so FTS5 writes a few large segments instead of one small segment per row that it
//!   must then merge. (PostgreSQL's `pitch_search` trigger inserts one row per pitch; it stays.)
//! - **Search terms** on PostgreSQL (`pitch_terms`, migrations 0010 and 0011): the trigger on `pitch_search`
//!   is suspended, the table's key is dropped, the load's lexemes (28 rows a pitch, each with its score) are
//!   inserted by one `INSERT ... SELECT`, and the key is built again from the whole table, one sort. (Its
//!   uniqueness is the documents' own: a `tsvector` holds each lexeme once.)
//!
//! Index and trigger definitions are read back from the database's catalogue (`sqlite_master`,
//! `pg_indexes`) and replayed verbatim, so the migrations stay the only place that defines them. Everything
//! happens in the caller's transaction: if the load fails, the rollback restores every index and trigger.
//! On PostgreSQL the dropped indexes and the suspended trigger lock `pitches` until the load commits; a
//! bulk load is for seeding benchmark catalogues, not for a serving database.

use crate::{Backend, Sql, StoreError, Tx};

/// Tables whose secondary indexes a bulk load defers.
const TABLES: &[&str] = &["pitches", "pitch_search"];

/// SQLite's per-row triggers on insert that a load replaces: search indexing ([`FTS_BACKFILL`]) and facet
/// counting ([`facets_recount`]).
const SQLITE_TRIGGERS: &[&str] = &["pitch_search_insert", "pitch_facets_insert"];

/// Indexes the rows inserted since the load began, as the trigger above would have one by one. The view
/// `pitch_search_source` (migration 0006) says what an index row holds.
const FTS_BACKFILL: &str = "INSERT INTO pitch_search (rowid, title, logline, short_synopsis, genre, format, hidden) \
     SELECT pitch_id, title, logline, short_synopsis, genre, format, hidden FROM pitch_search_source \
     WHERE pitch_id > $1";

/// Recounts `pitch_facets` from the pitches, as migration 0005 first filled it. `band` is how the backend
/// computes a pitch's budget band: a generated column on SQLite, a function on PostgreSQL.
fn facets_recount(band: &str) -> [String; 3] {
    let insert = "INSERT INTO pitch_facets (visibility, genre, format, production_stage, budget_band, n)";
    [
        "DELETE FROM pitch_facets".to_owned(),
        format!(
            "{insert} SELECT visibility, genre, coalesce(format, ''), production_stage, {band}, COUNT(*) \
             FROM pitches WHERE status = 'published' GROUP BY 1, 2, 3, 4, 5"
        ),
        // One row per visibility with the number of published pitches in it.
        format!(
            "{insert} SELECT visibility, '*', '*', '*', -9, COUNT(*) FROM pitches WHERE status = 'published' \
             GROUP BY 1"
        ),
    ]
}

/// PostgreSQL's counting triggers, suspended for the load: `(table, trigger)`.
const POSTGRES_TRIGGERS: &[(&str, &str)] =
    &[("pitches", "pitch_facets_sync"), ("pitches", "pitch_published_days_sync"), ("pitch_search", "pitch_terms_sync")];

/// Adds the lexemes of the pitches inserted since the load began to `pitch_terms` (PostgreSQL), as its
/// trigger would have one pitch at a time.
const POSTGRES_TERMS_BACKFILL: &str = "INSERT INTO pitch_terms \
     (lexeme, pitch_id, is_published, is_market, is_public, score) \
     SELECT l, s.pitch_id, s.is_published, s.is_market, s.is_public, ts_rank(s.document, pitch_term_query(l)) \
     FROM pitch_search s, unnest(tsvector_to_array(s.document)) AS l WHERE s.pitch_id > $1";

/// `pitch_terms`'s key (PostgreSQL), set aside for the load: `(name, definition)`.
const POSTGRES_TERMS_KEY: &str = "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
     WHERE conrelid = 'pitch_terms'::regclass AND contype = 'p'";

/// Recounts `pitch_published_days` (PostgreSQL) from the pitches, as migration 0006 first filled it.
const POSTGRES_DAYS_RECOUNT: [&str; 2] = [
    "DELETE FROM pitch_published_days",
    "INSERT INTO pitch_published_days (visibility, day, n) \
     SELECT visibility, (published_at AT TIME ZONE 'UTC')::date, COUNT(*) FROM pitches \
     WHERE status = 'published' AND published_at IS NOT NULL GROUP BY 1, 2",
];

/// What a bulk load set aside and must put back: the `CREATE` statements, in catalogue order.
#[derive(Debug)]
pub(crate) struct DeferredIndexes {
    backend: Backend,
    ddl: Vec<String>,
    /// The largest pitch id before the load.
    before: i64,
}

impl DeferredIndexes {
    /// Drops the non-unique secondary indexes of the pitch tables and sets the per-row insert triggers aside
    /// (see the module docs), remembering their definitions.
    pub(crate) async fn drop(tx: &mut Tx) -> Result<Self, StoreError> {
        let backend = tx.backend();
        let list = match backend {
            Backend::Sqlite => Sql::dynamic(
                "bulk_list_indexes",
                format!(
                    "SELECT type, name, sql FROM sqlite_master \
                     WHERE tbl_name IN ({}) AND sql IS NOT NULL \
                       AND ((type = 'index' AND sql NOT LIKE 'CREATE UNIQUE%') \
                            OR (type = 'trigger' AND name IN ({}))) \
                     ORDER BY rowid",
                    quoted_list(TABLES),
                    quoted_list(SQLITE_TRIGGERS)
                ),
            ),
            Backend::Postgres => Sql::dynamic(
                "bulk_list_indexes",
                format!(
                    "SELECT 'index'::text, indexname::text, indexdef FROM pg_indexes \
                     WHERE schemaname = current_schema() AND tablename IN ({}) \
                       AND indexdef NOT LIKE 'CREATE UNIQUE%' ORDER BY indexname",
                    quoted_list(TABLES)
                ),
            ),
        };
        let found: Vec<(String, String, String)> = tx.all(list).await?;
        let (before,): (i64,) =
            tx.one(Sql::new("bulk_max_pitch_id", "SELECT COALESCE(MAX(id), 0) FROM pitches")).await?;
        if backend == Backend::Postgres {
            // Building an index over the whole table can outlast the per-statement limit meant for serving
            // (5 s by default) on a busy machine; this transaction is a batch job.
            tx.lift_statement_timeout().await?;
            for (table, trigger) in POSTGRES_TRIGGERS {
                let sql = format!("ALTER TABLE {table} DISABLE TRIGGER {trigger}");
                tx.exec(Sql::dynamic("bulk_suspend_trigger", sql)).await?;
            }
        }
        let mut ddl = Vec::with_capacity(found.len() + 1);
        for (kind, name, sql) in found {
            let drop = if kind == "trigger" { "DROP TRIGGER" } else { "DROP INDEX" };
            tx.exec(Sql::dynamic("bulk_drop", format!("{drop} \"{name}\""))).await?;
            ddl.push(sql);
        }
        if backend == Backend::Postgres {
            let keys: Vec<(String, String)> = tx.all(Sql::new("bulk_terms_key", POSTGRES_TERMS_KEY)).await?;
            for (name, definition) in keys {
                let drop = format!("ALTER TABLE pitch_terms DROP CONSTRAINT \"{name}\"");
                tx.exec(Sql::dynamic("bulk_drop", drop)).await?;
                ddl.push(format!("ALTER TABLE pitch_terms ADD CONSTRAINT \"{name}\" {definition}"));
            }
        }
        Ok(DeferredIndexes { backend, ddl, before })
    }

    /// Does set-wise what the triggers would have done row by row, then recreates everything
    /// [`drop`](Self::drop) removed.
    pub(crate) async fn rebuild(self, tx: &mut Tx) -> Result<(), StoreError> {
        let band = match self.backend {
            Backend::Sqlite => {
                tx.exec(Sql::new("bulk_fts_backfill", FTS_BACKFILL).arg(self.before)).await?;
                "budget_band"
            }
            Backend::Postgres => "pitch_budget_band(estimated_budget)",
        };
        for sql in facets_recount(band) {
            tx.exec(Sql::dynamic("bulk_facets_recount", sql)).await?;
        }
        if self.backend == Backend::Postgres {
            for sql in POSTGRES_DAYS_RECOUNT {
                tx.exec(Sql::new("bulk_days_recount", sql)).await?;
            }
            tx.exec(Sql::new("bulk_terms_backfill", POSTGRES_TERMS_BACKFILL).arg(self.before)).await?;
            for (table, trigger) in POSTGRES_TRIGGERS {
                let sql = format!("ALTER TABLE {table} ENABLE TRIGGER {trigger}");
                tx.exec(Sql::dynamic("bulk_resume_trigger", sql)).await?;
            }
        }
        for sql in self.ddl {
            tx.exec(Sql::dynamic("bulk_create", sql)).await?;
        }
        Ok(())
    }
}

fn quoted_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}
