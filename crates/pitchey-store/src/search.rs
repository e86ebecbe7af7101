//! Search beyond pitch lists: people, suggestions, autocomplete and facets. Pitch full-text search itself
//! is a [`crate::ListQuery`] with terms.

use crate::{Backend, Sql, Store, StoreError};
use pitchey_core::search::like_escape;

/// A user found by search (no email: search results are public).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UserHit {
    /// User id.
    pub id: i64,
    /// Handle.
    pub username: String,
    /// Account kind.
    pub user_type: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Profile text.
    pub bio: Option<String>,
    /// Avatar.
    pub profile_image: Option<String>,
    /// Account creation.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A value with how many marketplace pitches carry it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Facet {
    /// The value.
    pub value: String,
    /// Pitches with it.
    pub count: i64,
}

/// Facet counts over the marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facets {
    /// By genre.
    pub genres: Vec<Facet>,
    /// By format.
    pub formats: Vec<Facet>,
    /// By budget range.
    pub budget_ranges: Vec<Facet>,
    /// By production stage.
    pub production_stages: Vec<Facet>,
}

pub(crate) fn title_suggestions_sql(backend: Backend, terms: &[String], raw: &str, limit: i64) -> Sql {
    match backend {
        Backend::Sqlite => {
            // Every term as a prefix within the title column, ranked by bm25.
            let m = terms.iter().map(|t| format!("title : \"{t}\"*")).collect::<Vec<_>>().join(" AND ");
            Sql::new(
                "suggest_titles",
                "SELECT p.title FROM pitches_fts f CROSS JOIN pitches p \
                 WHERE pitches_fts MATCH $1 AND p.id = f.rowid AND p.status = 'published' AND p.visibility IN ('public', 'investors_only') \
                 ORDER BY bm25(pitches_fts) LIMIT $2",
            )
            .arg(m)
            .arg(limit)
        }
        Backend::Postgres => {
            let typed: String = raw.chars().take(100).collect();
            Sql::new(
                "suggest_titles",
                "SELECT p.title FROM pitches p \
                 WHERE p.status = 'published' AND p.visibility IN ('public', 'investors_only') \
                 AND (p.title ILIKE $1 ESCAPE '\\' OR p.title % $2) \
                 ORDER BY similarity(p.title, $2) DESC, p.id DESC LIMIT $3",
            )
            .arg(format!("{}%", like_escape(&typed)))
            .arg(typed)
            .arg(limit)
        }
    }
}

pub(crate) fn facet_sql(column: &str) -> Option<Sql> {
    let (name, text) = match column {
        "genre" => (
            "facet_genre",
            "SELECT genre AS value, COUNT(*) AS count FROM pitches \
            WHERE status = 'published' AND visibility IN ('public', 'investors_only') GROUP BY genre ORDER BY count DESC, value",
        ),
        "format" => (
            "facet_format",
            "SELECT format AS value, COUNT(*) AS count FROM pitches \
            WHERE status = 'published' AND visibility IN ('public', 'investors_only') AND format IS NOT NULL \
            GROUP BY format ORDER BY count DESC, value",
        ),
        "budget_range" => (
            "facet_budget",
            "SELECT budget_range AS value, COUNT(*) AS count FROM pitches \
            WHERE status = 'published' AND visibility IN ('public', 'investors_only') AND budget_range IS NOT NULL \
            GROUP BY budget_range ORDER BY count DESC, value",
        ),
        "production_stage" => (
            "facet_stage",
            "SELECT production_stage AS value, COUNT(*) AS count FROM pitches \
            WHERE status = 'published' AND visibility IN ('public', 'investors_only') \
            GROUP BY production_stage ORDER BY count DESC, value",
        ),
        _ => return None,
    };
    Some(Sql::new(name, text))
}

impl Store {
    /// Users whose username, name or company contains every term (case-insensitive), optionally of one
    /// type, marketplace accounts only (no admins).
    pub async fn search_users(
        &self,
        terms: &[String],
        user_type: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UserHit>, StoreError> {
        let mut q = Sql::dynamic("user_search", String::new());
        let mut conds = vec!["u.user_type IN ('creator', 'investor', 'production')".to_owned()];
        for t in terms {
            let p = q.push_arg(format!("%{}%", like_escape(t)));
            conds.push(format!(
                "(LOWER(u.username) LIKE {p} ESCAPE '\\' OR LOWER(COALESCE(u.first_name, '') || ' ' || COALESCE(u.last_name, '')) LIKE {p} ESCAPE '\\' \
                 OR LOWER(COALESCE(u.company_name, '')) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(t) = user_type {
            conds.push(format!("u.user_type = {}", q.push_arg(t)));
        }
        let lim = q.push_arg(limit);
        q.push(&format!(
            "SELECT u.id, u.username, u.user_type, u.first_name, u.last_name, u.company_name, u.bio, u.profile_image, \
             u.created_at FROM users u WHERE {} ORDER BY u.username LIMIT {lim}",
            conds.join(" AND ")
        ));
        self.db.all(q).await
    }

    /// Marketplace titles starting with (or, on PostgreSQL, close to) the typed text, best first.
    pub async fn title_suggestions(&self, terms: &[String], raw: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let q = title_suggestions_sql(self.backend(), terms, raw, limit);
        let rows: Vec<(String,)> = self.db.all(q).await?;
        let mut out: Vec<String> = Vec::new();
        for (t,) in rows {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Facet counts of the marketplace.
    pub async fn facets(&self) -> Result<Facets, StoreError> {
        let mut lists = Vec::with_capacity(4);
        for col in ["genre", "format", "budget_range", "production_stage"] {
            let q = facet_sql(col).ok_or_else(|| StoreError::Internal(format!("no facet {col}")))?;
            lists.push(self.db.all::<Facet>(q).await?);
        }
        let mut it = lists.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Facets { genres: next(), formats: next(), budget_ranges: next(), production_stages: next() })
    }
}
