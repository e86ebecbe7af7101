//! Every pitch list — marketplace tabs, home-page lists, owner lists, generic lists and full-text search —
//! is built here from one [`ListQuery`], so each list shares the same filters, the same access scope and
//! the same indexes (docs/INDEXES.md).

use crate::db::in_list;
use crate::{Backend, Page, PitchRow, Sql, Store, StoreError};
use chrono::{DateTime, Utc};
use pitchey_core::PitchStatus;

/// The pitch columns of [`PitchRow`] (with the owner joined as `u`). Card lists blank the long texts.
macro_rules! pitch_columns {
    (full) => { pitch_columns!(@ "p.long_synopsis, p.opener, p.premise, p.episode_breakdown, p.story_breakdown, p.why_now, p.additional_media") };
    (card) => { pitch_columns!(@ "NULL AS long_synopsis, NULL AS opener, NULL AS premise, NULL AS episode_breakdown, NULL AS story_breakdown, NULL AS why_now, NULL AS additional_media") };
    (@ $heavy:literal) => {
        concat!(
            "p.id, p.user_id, p.title, p.logline, p.tagline, p.genre, p.format, p.format_category, p.format_subtype, \
             p.custom_format, p.short_synopsis, p.target_audience, p.characters, p.themes, p.world_description, \
             p.tone_and_style, p.comps, p.production_location, p.development_stage, p.development_stage_other, \
             p.production_stage, p.production_timeline, p.budget_range, p.budget_bracket, p.estimated_budget, \
             p.seeking_investment, p.require_nda, p.title_image, p.thumbnail_url, p.poster_url, p.lookbook_url, \
             p.trailer_url, p.video_url, p.video_platform, p.visibility_settings, p.ai_used, p.status, p.visibility, \
             p.published_at, p.view_count, p.like_count, p.nda_count, p.save_count, p.created_at, p.updated_at, \
             u.username AS creator_username, u.first_name AS creator_first_name, u.last_name AS creator_last_name, \
             u.company_name AS creator_company, u.user_type AS creator_type, u.profile_image AS creator_avatar, ",
            $heavy
        )
    };
}
pub(crate) use pitch_columns;

/// Which pitches a list may contain.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The marketplace: published and listed (`public` or `investors_only`).
    Market,
    /// Published and `public` (the anonymous home page).
    Public,
    /// Published, any visibility.
    Published,
    /// Everything one user owns.
    Owner(i64),
    /// One user's pitches in one status.
    OwnerStatus(i64, PitchStatus),
    /// The marketplace plus everything this user owns (a generic list with `status=all`).
    MarketOrOwn(i64),
    /// Marketplace pitches by creators this user follows.
    FollowedBy(i64),
}

impl Scope {
    /// The predicate, written exactly like the partial indexes' predicates so the planners use them.
    fn predicate(&self, q: &mut Sql) -> String {
        const MARKET: &str = "p.status = 'published' AND p.visibility IN ('public', 'investors_only')";
        match self {
            Scope::Market => MARKET.to_owned(),
            Scope::Public => "p.status = 'published' AND p.visibility = 'public'".to_owned(),
            Scope::Published => "p.status = 'published'".to_owned(),
            Scope::Owner(u) => format!("p.user_id = {}", q.push_arg(*u)),
            Scope::OwnerStatus(u, s) => {
                format!("p.user_id = {} AND p.status = {}", q.push_arg(*u), q.push_arg(s.as_str()))
            }
            Scope::MarketOrOwn(u) => format!("(({MARKET}) OR p.user_id = {})", q.push_arg(*u)),
            Scope::FollowedBy(u) => format!(
                "{MARKET} AND p.user_id IN (SELECT following_id FROM follows WHERE follower_id = {})",
                q.push_arg(*u)
            ),
        }
    }
}

/// Sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Marketplace engagement: `view_count + 2·like_count + 5·nda_count`.
    Score,
    /// Home-page trending: `view_count + 2·like_count`.
    PublicTrending,
    /// Home-page featured: `view_count + 3·like_count`.
    PublicFeatured,
    /// Publication time.
    Published,
    /// Creation time.
    Created,
    /// Last change.
    Updated,
    /// Views.
    Views,
    /// Likes.
    Likes,
    /// NDA requests.
    Ndas,
    /// Title, alphabetical.
    Title,
    /// Estimated budget (pitches without one last).
    Budget,
    /// Full-text relevance (only with search terms; otherwise falls back to `Published`).
    Relevance,
}

impl Order {
    fn expr(self) -> &'static str {
        match self {
            Order::Score => "(p.view_count + 2 * p.like_count + 5 * p.nda_count)",
            Order::PublicTrending => "(p.view_count + 2 * p.like_count)",
            Order::PublicFeatured => "(p.view_count + 3 * p.like_count)",
            Order::Published | Order::Relevance => "p.published_at",
            Order::Created => "p.created_at",
            Order::Updated => "p.updated_at",
            Order::Views => "p.view_count",
            Order::Likes => "p.like_count",
            Order::Ndas => "p.nda_count",
            Order::Title => "p.title",
            Order::Budget => "p.estimated_budget",
        }
    }
}

/// A list request. Empty filter lists mean "any".
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Which pitches may appear.
    pub scope: Scope,
    /// Stored genre values (any of).
    pub genres: Vec<String>,
    /// Stored format values (any of).
    pub formats: Vec<String>,
    /// Production stages (any of), lower-case.
    pub stages: Vec<String>,
    /// `budget_range` values (any of).
    pub budget_ranges: Vec<String>,
    /// Estimated budget at least this.
    pub budget_min: Option<f64>,
    /// Estimated budget below this.
    pub budget_max: Option<f64>,
    /// Published at or after.
    pub published_since: Option<DateTime<Utc>>,
    /// Updated at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// Only this owner's pitches (within the scope).
    pub owner: Option<i64>,
    /// Full-text terms from [`pitchey_core::search::terms`], matched as prefixes: pitches with every term;
    /// when none has them all, pitches with any term (see [`Store::list_pitches`]).
    pub terms: Vec<String>,
    /// Match any term instead of every term.
    pub any_term: bool,
    /// Sort key.
    pub order: Order,
    /// Descending?
    pub descending: bool,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
    /// Count all matches (a second query)?
    pub with_total: bool,
    /// Include the long text columns.
    pub full_rows: bool,
}

impl ListQuery {
    /// A query over `scope`, newest publications first, 20 per page, counted.
    pub fn new(scope: Scope) -> Self {
        ListQuery {
            scope,
            genres: Vec::new(),
            formats: Vec::new(),
            stages: Vec::new(),
            budget_ranges: Vec::new(),
            budget_min: None,
            budget_max: None,
            published_since: None,
            updated_since: None,
            owner: None,
            terms: Vec::new(),
            any_term: false,
            order: Order::Published,
            descending: true,
            limit: 20,
            offset: 0,
            with_total: true,
            full_rows: false,
        }
    }
}

impl ListQuery {
    /// The index a SQLite count should walk: the partial index holding exactly this list when the query has
    /// nothing but its scope, or the owner index for followed creators.
    fn whole_list_index(&self) -> Option<&'static str> {
        let unfiltered = self.genres.is_empty()
            && self.formats.is_empty()
            && self.stages.is_empty()
            && self.budget_ranges.is_empty()
            && self.budget_min.is_none()
            && self.budget_max.is_none()
            && self.published_since.is_none()
            && self.updated_since.is_none()
            && self.owner.is_none()
            && self.terms.is_empty();
        match (&self.scope, unfiltered) {
            (Scope::Market, true) => Some("pitches_market_published_idx"),
            (Scope::Public, true) => Some("pitches_public_new_idx"),
            (Scope::Published, true) => Some("pitches_published_created_idx"),
            // Followed creators' pitches: one index range per followed owner.
            (Scope::FollowedBy(_), _) => Some("pitches_owner_status_idx"),
            _ => None,
        }
    }
}

/// The full-text parts of a query for one backend: a join and a rank expression.
/// The full-text parts of a query for one backend: the `FROM` clause that starts with the match (so the
/// match drives the join), the condition tying it to `p`, and the rank expression (and whether higher is
/// better).
fn fts(backend: Backend, q: &mut Sql, terms: &[String], any: bool) -> (String, String, String, bool) {
    match backend {
        Backend::Sqlite => {
            let m =
                terms.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(if any { " OR " } else { " AND " });
            let p = q.push_arg(m);
            (
                format!(
                    " FROM (SELECT rowid AS fts_id, bm25(pitches_fts, 10.0, 5.0, 2.0, 1.0, 1.0) AS fts_rank \
                     FROM pitches_fts WHERE pitches_fts MATCH {p}) fts CROSS JOIN pitches p"
                ),
                "p.id = fts.fts_id".to_owned(),
                "fts.fts_rank".to_owned(),
                false, // bm25: lower is better
            )
        }
        Backend::Postgres => {
            let m = terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(if any { " | " } else { " & " });
            let p = q.push_arg(m);
            (
                format!(" FROM pitches p CROSS JOIN to_tsquery('english', {p}) fts_q"),
                "p.search_vector @@ fts_q".to_owned(),
                "ts_rank_cd(p.search_vector, fts_q)".to_owned(),
                true,
            )
        }
    }
}

/// Builds `FROM ... WHERE ...` (shared by the page and the count) and the ORDER BY clause.
fn from_where(backend: Backend, q: &mut Sql, lq: &ListQuery, join_owner: bool) -> (String, String) {
    let mut conds = vec![lq.scope.predicate(q)];
    let mut rank = None;
    let mut from = if lq.terms.is_empty() {
        let mut f = String::from(" FROM pitches p");
        if !join_owner
            && backend == Backend::Sqlite
            && let Some(index) = lq.whole_list_index()
        {
            // SQLite estimates a full scan as cheaper than walking a partial index to count a list the index
            // covers exactly; the table's rows are wide, the index's narrow, so name the index.
            f.push_str(" INDEXED BY ");
            f.push_str(index);
        }
        f
    } else {
        let (from, cond, expr, desc) = fts(backend, q, &lq.terms, lq.any_term);
        conds.push(cond);
        rank = Some((expr, desc));
        from
    };
    if join_owner {
        // `CROSS JOIN` + a WHERE equality is an ordinary inner join to PostgreSQL, and tells SQLite's planner
        // to drive the loop from the pitches (through the index matching the order) rather than from users.
        from.push_str(" CROSS JOIN users u");
        conds.push("u.id = p.user_id".to_owned());
    }
    for (col, vals) in [
        ("p.genre", &lq.genres),
        ("p.format", &lq.formats),
        ("p.production_stage", &lq.stages),
        ("p.budget_range", &lq.budget_ranges),
    ] {
        if !vals.is_empty() {
            conds.push(format!("{col} IN {}", in_list(q, vals.iter())));
        }
    }
    if let Some(min) = lq.budget_min {
        conds.push(format!("p.estimated_budget >= {}", q.push_arg(min)));
    }
    if let Some(max) = lq.budget_max {
        conds.push(format!("p.estimated_budget < {}", q.push_arg(max)));
    }
    if let Some(t) = lq.published_since {
        conds.push(format!("p.published_at >= {}", q.push_arg(t)));
    }
    if let Some(o) = lq.owner {
        conds.push(format!("p.user_id = {}", q.push_arg(o)));
    }
    if let Some(t) = lq.updated_since {
        conds.push(format!("p.updated_at >= {}", q.push_arg(t)));
    }
    let where_ = format!("{from} WHERE {}", conds.join(" AND "));
    let dir = if lq.descending { "DESC" } else { "ASC" };
    let order = match (lq.order, rank) {
        (Order::Relevance, Some((expr, desc))) => {
            format!(" ORDER BY {expr} {}, p.id DESC", if desc { "DESC" } else { "ASC" })
        }
        // Titles compare byte-wise on both engines (PostgreSQL's default collation would not).
        (Order::Title, _) if backend == Backend::Postgres => {
            format!(" ORDER BY p.title COLLATE \"C\" {dir}, p.id {dir}")
        }
        (Order::Title | Order::Budget, _) => {
            format!(" ORDER BY {} {dir} NULLS LAST, p.id {dir}", lq.order.expr())
        }
        (o, _) => format!(" ORDER BY {} {dir}, p.id {dir}", o.expr()),
    };
    (where_, order)
}

impl Store {
    /// Runs a list query: one page of rows and, when asked, the total. A search whose terms all match no
    /// pitch together is retried matching any of them (so "zebra crossing" finds both words first, and
    /// still finds something when no pitch has both).
    pub async fn list_pitches(&self, lq: &ListQuery) -> Result<Page<PitchRow>, StoreError> {
        let page = self.list_once(lq).await?;
        if page.total == 0 && lq.terms.len() > 1 && !lq.any_term {
            return self.list_once(&ListQuery { any_term: true, ..lq.clone() }).await;
        }
        Ok(page)
    }

    async fn list_once(&self, lq: &ListQuery) -> Result<Page<PitchRow>, StoreError> {
        let (page, count) = self.list_sql(lq);
        let items: Vec<PitchRow> = self.db.all(page).await?;
        let total = match count {
            Some(c) => self.db.one::<(i64,)>(c).await?.0,
            None => lq.offset + items.len() as i64,
        };
        Ok(Page { items, total })
    }

    /// The SQL of a list query and of its count (public for `pitchey db explain`).
    pub fn list_sql(&self, lq: &ListQuery) -> (Sql, Option<Sql>) {
        let backend = self.backend();
        let mut page = Sql::dynamic("pitch_list", String::new());
        let (where_, order) = from_where(backend, &mut page, lq, true);
        let lim = page.push_arg(lq.limit.clamp(0, 500));
        let off = page.push_arg(lq.offset.max(0));
        let cols = if lq.full_rows { pitch_columns!(full) } else { pitch_columns!(card) };
        page.push(&format!("SELECT {cols}{where_}{order} LIMIT {lim} OFFSET {off}"));
        let count = lq.with_total.then(|| {
            let mut c = Sql::dynamic("pitch_count", String::new());
            let (where_, _) = from_where(backend, &mut c, lq, false);
            c.push(&format!("SELECT COUNT(*){where_}"));
            c
        });
        (page, count)
    }
}

impl Store {
    /// Every pitch with its public columns, in id order (exports, consistency checks and tests).
    pub async fn all_pitch_rows(&self) -> Result<Vec<PitchRow>, StoreError> {
        let q = Sql::new(
            "pitch_all",
            concat!("SELECT ", pitch_columns!(full), " FROM pitches p JOIN users u ON u.id = p.user_id ORDER BY p.id"),
        );
        self.db.primary_all(q).await
    }
}
