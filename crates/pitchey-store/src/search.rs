//! Search beyond pitch lists: people, suggestions, autocomplete and facets. Pitch full-text search itself
//! is a [`crate::ListQuery`] with terms.

use crate::{Backend, Sql, Store, StoreError};
use pitchey_core::catalog::BUDGET_RANGES;
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
    /// By budget band, labelled as the budget filter's labels (`/api/config/budget-ranges`).
    pub budget_ranges: Vec<Facet>,
    /// By production stage.
    pub production_stages: Vec<Facet>,
}

pub(crate) fn title_suggestions_sql(backend: Backend, terms: &[String], limit: i64) -> Sql {
    match backend {
        Backend::Sqlite => {
            // Every term as a prefix within the title column of a marketplace pitch, ranked by bm25 inside
            // the index; only the best rows are joined (and re-checked against the pitch row).
            let m = terms.iter().map(|t| format!("title : \"{t}\"*")).collect::<Vec<_>>().join(" AND ");
            let mut q = Sql::dynamic("suggest_titles", String::new());
            let p = q.push_arg(format!("({m}) NOT hidden : unlisted"));
            let lim = q.push_count(limit);
            q.push(&format!(
                "SELECT p.title FROM (SELECT rowid AS fts_id, bm25(pitch_search) AS fts_rank FROM pitch_search \
                 WHERE pitch_search MATCH {p} ORDER BY fts_rank LIMIT {lim}) f CROSS JOIN pitches p \
                 WHERE p.id = f.fts_id AND p.status = 'published' AND p.visibility IN ('public', 'investors_only') \
                 ORDER BY f.fts_rank"
            ));
            q
        }
        Backend::Postgres => {
            // Every term as a prefix of a title word (weight A of the search document), ranked inside the
            // search table; only the best rows are joined.
            let m = terms.iter().map(|t| format!("{t}:*A")).collect::<Vec<_>>().join(" & ");
            Sql::new(
                "suggest_titles",
                "SELECT p.title FROM (SELECT s.pitch_id, ts_rank(s.document, q) AS r \
                 FROM pitch_search s CROSS JOIN to_tsquery('english', $1) q \
                 WHERE s.document @@ q AND s.is_market ORDER BY r DESC, s.pitch_id DESC LIMIT $2) f \
                 CROSS JOIN pitches p WHERE p.id = f.pitch_id \
                 AND p.status = 'published' AND p.visibility IN ('public', 'investors_only') \
                 ORDER BY f.r DESC, f.pitch_id DESC",
            )
            .arg(m)
            .arg(limit)
        }
    }
}

/// PostgreSQL only: titles with a word like the typed text (pg_trgm word similarity), for typos that no
/// prefix matches. The marketplace test goes through `pitch_search`, so the planner reaches the titles by
/// the trigram index (the partial title index would have it scan every listed title).
pub(crate) fn typo_suggestions_sql(raw: &str, limit: i64) -> Sql {
    let typed: String = raw.chars().take(100).collect();
    Sql::new(
        "suggest_titles_typo",
        "SELECT p.title FROM pitches p CROSS JOIN pitch_search s \
         WHERE $1 <% p.title AND s.pitch_id = p.id AND s.is_market \
         ORDER BY word_similarity($1, p.title) DESC, p.id DESC LIMIT $2",
    )
    .arg(typed)
    .arg(limit)
}

pub(crate) fn facet_sql(column: &str) -> Option<Sql> {
    // From the facet counts (migration 0005): a few thousand rows instead of every listed pitch.
    macro_rules! facet {
        ($col:literal, $name:literal) => {
            (
                $name,
                concat!(
                    "SELECT ",
                    $col,
                    " AS value, CAST(SUM(n) AS BIGINT) AS count FROM pitch_facets \
                     WHERE visibility IN ('public', 'investors_only') AND budget_band <> -9 AND ",
                    $col,
                    " <> '' \
                     GROUP BY ",
                    $col,
                    " HAVING SUM(n) > 0 ORDER BY count DESC, value"
                ),
            )
        };
    }
    let (name, text) = match column {
        "genre" => facet!("genre", "facet_genre"),
        "format" => facet!("format", "facet_format"),
        "production_stage" => facet!("production_stage", "facet_stage"),
        // Budget bands (-2 and -1: no budget, negative) by band, labelled by the caller.
        "budget_band" => (
            "facet_budget",
            "SELECT CAST(budget_band AS BIGINT), CAST(SUM(n) AS BIGINT) AS count FROM pitch_facets \
             WHERE visibility IN ('public', 'investors_only') AND budget_band >= 0 \
             GROUP BY budget_band HAVING SUM(n) > 0 ORDER BY budget_band",
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
            // "Contains", spelled per engine. SQLite marks a statement whose LIKE pattern is a bound value to
            // be prepared again whenever that value changes (in case the pattern allows an index range), so
            // on SQLite every search re-prepared this one; `instr` has no such optimisation to redo.
            let sqlite = self.backend() == Backend::Sqlite;
            let p = if sqlite { q.push_arg(t.as_str()) } else { q.push_arg(format!("%{}%", like_escape(t))) };
            let contains = |column: &str| {
                if sqlite { format!("instr({column}, {p}) > 0") } else { format!("{column} LIKE {p} ESCAPE '\\'") }
            };
            conds.push(format!(
                "({} OR {} OR {})",
                contains("LOWER(u.username)"),
                contains("LOWER(COALESCE(u.first_name, '') || ' ' || COALESCE(u.last_name, ''))"),
                contains("LOWER(COALESCE(u.company_name, ''))"),
            ));
        }
        if let Some(t) = user_type {
            conds.push(format!("u.user_type = {}", q.push_arg(t)));
        }
        let lim = q.push_count(limit);
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
        let q = title_suggestions_sql(self.backend(), terms, limit);
        let mut rows: Vec<(String,)> = self.db.all(q).await?;
        if self.backend() == Backend::Postgres && (rows.len() as i64) < limit {
            rows.extend(self.db.all::<(String,)>(typo_suggestions_sql(raw, limit)).await?);
        }
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
        let mut lists = Vec::with_capacity(3);
        for col in ["genre", "format", "production_stage"] {
            let q = facet_sql(col).ok_or_else(|| StoreError::Internal(format!("no facet {col}")))?;
            lists.push(self.db.all::<Facet>(q).await?);
        }
        let q = facet_sql("budget_band").ok_or_else(|| StoreError::Internal("no budget facet".to_owned()))?;
        let bands: Vec<(i64, i64)> = self.db.all(q).await?;
        let budget_ranges = bands
            .into_iter()
            .filter_map(|(band, count)| {
                let label = usize::try_from(band).ok().and_then(|b| BUDGET_RANGES.get(b))?;
                Some(Facet { value: (*label).to_owned(), count })
            })
            .collect();
        let mut it = lists.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Facets { genres: next(), formats: next(), production_stages: next(), budget_ranges })
    }
}
