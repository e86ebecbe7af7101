//! Every pitch list — marketplace tabs, home-page lists, owner lists, generic lists and full-text search —
//! is built here from one [`ListQuery`], so each list shares the same filters, the same access scope and
//! the same indexes (docs/INDEXES.md).

#[cfg(doc)]
use crate::db::Db;
use crate::db::in_list;
use crate::{Backend, Page, PitchRow, Sql, Store, StoreError};
use chrono::{DateTime, Utc};
use pitchey_core::PitchStatus;
use pitchey_core::catalog::BUDGET_BAND_BOUNDS;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
            // Pitches that hide their creator stay out: their presence here would name him.
            Scope::FollowedBy(u) => format!(
                "{MARKET} AND NOT p.require_nda \
                 AND p.user_id IN (SELECT following_id FROM follows WHERE follower_id = {})",
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
    /// Only pitches that name their creator to everyone (no `require_nda`). A list chosen by creator (an
    /// owner filter set by someone else) would otherwise tie each NDA-hidden pitch to the creator its card
    /// hides. [`Scope::FollowedBy`] applies the same rule itself.
    pub named_creators_only: bool,
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
    /// A search ranked in the index ranks at most this many matches, the newest; the rest follow them,
    /// newest first ([`RANK_WINDOW`] normally; `i64::MAX` ranks every match; see [`fts_subquery`]).
    pub rank_window: i64,
    /// How PostgreSQL finds that window ([`SearchWindow::Auto`] normally; SQLite's index has one way).
    pub search_window: SearchWindow,
}

/// How a PostgreSQL search with more matches than its rank window finds the window's rows
/// ([`fts_subquery`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchWindow {
    /// Chosen from the count ([`Store::plan`]).
    Auto,
    /// Walk the key backwards, testing each row.
    Walk,
    /// Read every match through the text index and sort them.
    SortMatches,
}

impl SearchWindow {
    /// The plan this names, unless it leaves the choice to the count.
    fn forced_plan(self) -> Option<Plan> {
        match self {
            SearchWindow::Auto => None,
            SearchWindow::Walk => Some(Plan::WalkOrder),
            SearchWindow::SortMatches => Some(Plan::SortMatches),
        }
    }
}

/// How many matches of a search are ranked by relevance, by default: the newest ones. Ranking costs about
/// a microsecond per match (bm25 reads each match's column sizes; `ts_rank` its document), and a common word
/// matches a tenth of a 100,000-pitch catalogue.
pub const RANK_WINDOW: i64 = 1000;

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
            named_creators_only: false,
            terms: Vec::new(),
            any_term: false,
            order: Order::Published,
            descending: true,
            limit: 20,
            offset: 0,
            with_total: true,
            full_rows: false,
            rank_window: RANK_WINDOW,
            search_window: SearchWindow::Auto,
        }
    }
}

impl ListQuery {
    /// The index a SQLite count should walk, where SQLite's planner picks a worse one: a time-windowed
    /// marketplace list without a genre (whose own index is best) is counted from the covering window index;
    /// followed creators' pitches from the owner index, one range per followed owner.
    fn count_index(&self) -> Option<&'static str> {
        let plain =
            self.terms.is_empty() && self.owner.is_none() && self.updated_since.is_none() && !self.named_creators_only;
        match &self.scope {
            Scope::Market if plain && self.published_since.is_some() && self.genres.is_empty() => {
                Some("pitches_market_window_idx")
            }
            Scope::FollowedBy(_) => Some("pitches_owner_status_idx"),
            _ => None,
        }
    }
}

impl Scope {
    /// The scope as the search index records it, for the scopes it knows (migration 0005): on SQLite the
    /// word in `pitch_search.hidden` of the pitches outside it, on PostgreSQL the flag column of those inside.
    fn search_tag(&self, backend: Backend) -> Option<&'static str> {
        match (self, backend) {
            (Scope::Market, Backend::Sqlite) => Some("unlisted"),
            (Scope::Public, Backend::Sqlite) => Some("nonpublic"),
            (Scope::Published, Backend::Sqlite) => Some("unpublished"),
            (Scope::Market, Backend::Postgres) => Some("is_market"),
            (Scope::Public, Backend::Postgres) => Some("is_public"),
            (Scope::Published, Backend::Postgres) => Some("is_published"),
            _ => None,
        }
    }

    /// The same scope over `pitch_facets` (published pitches only, by visibility).
    fn facet_predicate(&self) -> Option<&'static str> {
        match self {
            Scope::Market => Some("f.visibility IN ('public', 'investors_only')"),
            Scope::Public => Some("f.visibility = 'public'"),
            Scope::Published => Some("1 = 1"),
            _ => None,
        }
    }
}

impl ListQuery {
    /// Nothing but the scope, the search terms and the order?
    fn only_terms(&self) -> bool {
        self.published_since.is_none() && self.only_terms_and_window()
    }

    /// Nothing but the scope, the search terms, the publication window and the order?
    fn only_terms_and_window(&self) -> bool {
        self.genres.is_empty()
            && self.formats.is_empty()
            && self.stages.is_empty()
            && self.budget_ranges.is_empty()
            && self.budget_min.is_none()
            && self.budget_max.is_none()
            && self.updated_since.is_none()
            && self.owner.is_none()
            && !self.named_creators_only
    }

    /// A search that can be ranked and paged inside the search index, joining only the page's rows: relevance
    /// order, a scope the index records, and no filter that needs the pitch row.
    fn ranked_in_index(&self) -> bool {
        !self.terms.is_empty()
            && self.order == Order::Relevance
            && self.only_terms()
            && self.scope.search_tag(Backend::Sqlite).is_some() // both backends' indexes know the same scopes
    }

    /// The budget filter as a range of `pitch_facets.budget_band`, when its bounds are band boundaries
    /// (always so for the budget labels): `Some(None)` without a budget filter.
    fn budget_bands(&self) -> Option<Option<(Option<usize>, Option<usize>)>> {
        let band = |bound: f64| BUDGET_BAND_BOUNDS.iter().position(|b| *b == bound);
        match (self.budget_min, self.budget_max) {
            (None, None) => Some(None),
            (min, max) => {
                let lo = match min {
                    Some(m) => Some(band(m)?),
                    None => None,
                };
                let hi = match max {
                    Some(m) => Some(band(m)?),
                    None => None,
                };
                Some(Some((lo, hi)))
            }
        }
    }
}

/// How a list page reaches its rows, where the store knows better than the planner ([`Store::plan`]).
///
/// - A filtered SQLite list: SQLite's planner does not know how many rows a filter keeps, and with a filter
///   it tends to read every match through the filter's index and sort them all, even when walking the sort
///   order's index would find a page after a few dozen rows. The store knows the count (from the facets,
///   before the page), so it decides and tells the planner with unary `+`, which stops SQLite from using an
///   index for the marked term. PostgreSQL's statistics are good enough for these lists on their own.
/// - A PostgreSQL search ranked in its window: how the window is found ([`fts_subquery`]), walking or
///   sorting through `pitch_search`, or from `pitch_terms` ([`Plan::Terms`], chosen in
///   [`Store::list_pitches`] when [`Store::term_search`] allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Let the planner choose.
    Default,
    /// Walk the sort order's index and filter (the filters are marked `+`).
    WalkOrder,
    /// Read the matches through a filter index and sort them (the order is marked `+`).
    SortMatches,
    /// A PostgreSQL search whose matches `pitch_terms` lists newest first ([`TermMatch`]).
    Terms(TermMatch),
}

/// What `pitch_terms` (PostgreSQL migration 0010) can do for a search, from the lexemes its words reach
/// ([`Store::term_search`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum TermSearch {
    /// No pitch can match (every word a stop word, or a required word reaching no lexeme).
    Nothing,
    /// Count the matches and find the page's window from the table ([`Plan::Terms`]).
    Match(TermMatch),
    /// A word's prefix reaches more than [`MAX_WORD_LEXEMES`] lexemes: count by key ranges
    /// ([`term_count_sql`]), and find the window as without the table.
    Prefixes(Vec<String>),
}

/// A search's matches as lexemes of `pitch_terms`. The table's key is `(lexeme, pitch_id)`, so one
/// lexeme's pitches come out of one index-only scan newest first, and a search's newest matches are a merge
/// of a few such scans, where the text index reads every match's row (timings in docs/PERFORMANCE.md,
/// twelfth session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TermMatch {
    /// Pitches with this lexeme, for a search of one word whose prefix reaches only it: their ranks are in
    /// the table too (migration 0011), so its window is ranked without reading a document.
    Word(String),
    /// Pitches with any of these lexemes (one or more): a one-word search, every lexeme its prefix
    /// reaches, an any-word one, or required words that all reach the same one lexeme.
    Any(Vec<String>),
    /// Pitches with every one of these lexemes (two or more): required words, each reaching exactly one.
    All(Vec<String>),
}

/// The most lexemes one search word's prefix may reach for its matches to be merged from one scan per
/// lexeme.
pub(crate) const MAX_WORD_LEXEMES: i64 = 16;

impl TermMatch {
    /// The ids of the matching pitches in the scope flagged by `column` (a column of `pitch_terms`),
    /// newest first: `take` of them after skipping `skip`, or all of them, unordered, when `take` is
    /// `None`. Lexemes are bound and counts literal, so PostgreSQL can keep one plan per shape.
    pub(crate) fn ids_sql(&self, q: &mut Sql, column: &str, take: Option<i64>, skip: i64) -> String {
        let page = |key: &str| match take {
            Some(n) if skip > 0 => format!(" ORDER BY {key} DESC LIMIT {n} OFFSET {skip}"),
            Some(n) => format!(" ORDER BY {key} DESC LIMIT {n}"),
            None => String::new(),
        };
        let mut has =
            |alias: &str, lexeme: &str| format!("{alias}.lexeme = {} AND {alias}.{column}", q.push_arg(lexeme));
        match (self, self.lexemes()) {
            (_, [lexeme]) => {
                format!("SELECT t.pitch_id FROM pitch_terms t WHERE {}{}", has("t", lexeme), page("t.pitch_id"))
            }
            (TermMatch::Word(_) | TermMatch::Any(_), lexemes) => {
                // Each lexeme's newest, then the newest of those: a pitch with two of them comes twice.
                let branches: Vec<String> = lexemes
                    .iter()
                    .map(|l| {
                        let scan = format!("SELECT t.pitch_id FROM pitch_terms t WHERE {}", has("t", l));
                        match take {
                            Some(n) => format!("({scan} ORDER BY t.pitch_id DESC LIMIT {})", n.saturating_add(skip)),
                            None => scan,
                        }
                    })
                    .collect();
                format!("SELECT DISTINCT m.pitch_id FROM ({}) m{}", branches.join(" UNION ALL "), page("m.pitch_id"))
            }
            (TermMatch::All(_), lexemes) => {
                // One scan per lexeme, joined on the pitch (merge joins of scans in key order).
                let mut text = String::from("SELECT t0.pitch_id FROM pitch_terms t0");
                for (i, l) in lexemes.iter().enumerate().skip(1) {
                    let cond = has(&format!("t{i}"), l);
                    text.push_str(&format!(" JOIN pitch_terms t{i} ON t{i}.pitch_id = t0.pitch_id AND {cond}"));
                }
                let first = lexemes.first().map_or_else(|| "FALSE".to_owned(), |l| has("t0", l));
                format!("{text} WHERE {first}{}", page("t0.pitch_id"))
            }
        }
    }

    /// The lexemes matched.
    fn lexemes(&self) -> &[String] {
        match self {
            TermMatch::Word(lexeme) => std::slice::from_ref(lexeme),
            TermMatch::Any(lexemes) | TermMatch::All(lexemes) => lexemes,
        }
    }

    /// How many pitches in the scope flagged by `column` match.
    pub(crate) fn count_sql(&self, column: &str) -> Sql {
        let mut q = Sql::dynamic("pitch_term_count", String::new());
        let ids = self.ids_sql(&mut q, column, None, 0);
        q.push(&format!("SELECT COUNT(*) FROM ({ids}) m"));
        q
    }
}

/// How long a scope's size serves for planning; sizes change slowly and only steer plans, never results.
const SCOPE_SIZE_TTL: Duration = Duration::from_secs(30);

/// Recently counted scope sizes: `(scope tag, counted at, size)`.
#[derive(Debug, Default)]
pub(crate) struct ScopeSizes(Mutex<Vec<(&'static str, Instant, i64)>>);

/// A page of a search ranked inside the index: its limit and offset, and for a search with more matches
/// than its rank window, the window and how many matches past it the page reaches.
struct RankedPage {
    limit: i64,
    offset: i64,
    window: Option<(i64, i64)>,
}

/// The full-text match as a subquery of `(fts_id, fts_rank, fts_part)` rows for one backend, restricted to
/// the scope when the search index records it, and ranked and paged inside the index when `page` is given.
/// Returns the subquery and whether a higher rank is better.
///
/// Ranking every match of a common word is most of a search's cost, so a search with more matches than
/// [`ListQuery::rank_window`] ranks only the newest of them (`fts_part` 0): the index yields matches in id
/// order and stops there. The older matches follow, newest first (`fts_part` 1), read only as far as the page
/// reaches. Every match still has exactly one place in the order, so pages neither repeat nor skip, and the
/// count is exact. Searches with fewer matches are ranked whole (`fts_part` 0 throughout).
///
/// On PostgreSQL, `plan` says how the window is found. [`Plan::Terms`] takes it from `pitch_terms`
/// ([`term_ranked_page`]). Otherwise (chosen from the count, [`Store::plan`]) it is found by walking the
/// key backwards and testing each row (`ts_match_vq`, which no index serves, keeps the planner from reading
/// every match through the text index), or reading every match through the text index and sorting the
/// ids (`+ 0` keeps it from walking the key). Either way only the window's rows are ranked. PostgreSQL's own
/// estimate of how many pitches a prefix query matches can be ten times off, and the wrong choice cost a
/// search 16 ms instead of 4.
fn fts_subquery(
    backend: Backend,
    q: &mut Sql,
    lq: &ListQuery,
    page: Option<RankedPage>,
    plan: &Plan,
) -> (String, bool) {
    let tag = lq.scope.search_tag(backend);
    let mut window_source = None;
    let (matches, rank, rest_rank, desc) = match backend {
        Backend::Sqlite => {
            let words = lq.terms.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>();
            let words = words.join(if lq.any_term { " OR " } else { " AND " });
            let m = match tag {
                Some(hidden) => format!("({words}) NOT hidden : {hidden}"),
                None => words,
            };
            let p = q.push_arg(m);
            // bm25 weights per column: title, logline, synopsis, genre, format, hidden (not a relevance signal).
            // bm25: lower is better.
            (
                format!("FROM pitch_search WHERE pitch_search MATCH {p}"),
                "bm25(pitch_search, 10.0, 5.0, 2.0, 1.0, 1.0, 0.0)",
                "0.0",
                false,
            )
        }
        Backend::Postgres => {
            if let (Plan::Terms(terms), Some(column), Some(page)) = (plan, tag, &page) {
                return (term_ranked_page(q, lq, terms, column, page), true);
            }
            let from = pg_search_from(q, lq);
            let flag = tag.map_or_else(String::new, |column| format!(" AND s.{column}"));
            window_source = match plan {
                Plan::Default | Plan::Terms(_) => None,
                Plan::WalkOrder => Some((format!("{from} WHERE ts_match_vq(s.document, fts_q){flag}"), "s.pitch_id")),
                Plan::SortMatches => Some((format!("{from} WHERE s.document @@ fts_q{flag}"), "s.pitch_id + 0")),
            };
            (format!("{from} WHERE s.document @@ fts_q{flag}"), "ts_rank(s.document, fts_q)", "0::real", true)
        }
    };
    let id = if backend == Backend::Sqlite { "rowid" } else { "s.pitch_id" };
    let dir = if desc { "DESC" } else { "ASC" };
    // A search's best plan depends on its words, so PostgreSQL plans each one for its own.
    let mut count = |n: i64| q.push_count_planned_per_call(backend, n);
    let sql = match page {
        None => format!("SELECT {id} AS fts_id, {rank} AS fts_rank, 0 AS fts_part {matches}"),
        Some(RankedPage { limit, offset, window: None }) => {
            let (lim, off) = (count(limit), count(offset));
            format!(
                "SELECT {id} AS fts_id, {rank} AS fts_rank, 0 AS fts_part {matches} \
                 ORDER BY fts_rank {dir}, fts_id DESC LIMIT {lim} OFFSET {off}"
            )
        }
        Some(RankedPage { limit, offset, window: Some((window, past)) }) => {
            let (lim, off, window, past) = (count(limit), count(offset), count(window), count(past));
            let (ranked, source, key) = match window_source {
                // The window's ids first, then their rank: ranking is per row, and a plan that sorts the
                // matches would otherwise rank every one of them.
                Some((source, key)) => (
                    format!(
                        "SELECT w.fts_id, ts_rank(w.fts_doc, w.fts_q) AS fts_rank, 0 AS fts_part FROM (\
                         SELECT {id} AS fts_id, s.document AS fts_doc, fts_q {source} \
                         ORDER BY {key} DESC LIMIT {window}) w"
                    ),
                    source,
                    key,
                ),
                None => (
                    format!(
                        "SELECT {id} AS fts_id, {rank} AS fts_rank, 0 AS fts_part {matches} \
                         ORDER BY {id} DESC LIMIT {window}"
                    ),
                    matches.clone(),
                    id,
                ),
            };
            let rest = format!(
                "SELECT {id} AS fts_id, {rest_rank} AS fts_rank, 1 AS fts_part {source} \
                 ORDER BY {key} DESC LIMIT {past} OFFSET {window}"
            );
            format!(
                "SELECT fts_id, fts_rank, fts_part FROM (SELECT * FROM ({ranked}) ranked \
                 UNION ALL SELECT * FROM ({rest}) rest) windowed \
                 ORDER BY fts_part, fts_rank {dir}, fts_id DESC LIMIT {lim} OFFSET {off}"
            )
        }
    };
    (sql, desc)
}

/// `FROM` the PostgreSQL search table (`s`) and the search's query (`fts_q`): each word a prefix, all of them
/// required or any of them.
fn pg_search_from(q: &mut Sql, lq: &ListQuery) -> String {
    let words = lq.terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>();
    let p = q.push_arg(words.join(if lq.any_term { " | " } else { " & " }));
    format!("FROM pitch_search s CROSS JOIN to_tsquery('english', {p}) fts_q")
}

/// A PostgreSQL search page ranked in its window, the window from `pitch_terms` ([`TermMatch`]): the
/// window's newest matches, ranked, then (for a page past the window) the older matches, newest first; ranked
/// whole, every match. The same rows in the same order as a window found through `pitch_search`
/// ([`fts_subquery`]) when the table's lexemes are those the store looked up ([`Store::term_search`]). A [`TermMatch::Word`] takes its ranks from the table; other matches are fetched from
/// `pitch_search` by key and ranked there.
fn term_ranked_page(q: &mut Sql, lq: &ListQuery, terms: &TermMatch, column: &str, page: &RankedPage) -> String {
    let RankedPage { limit, offset, window } = *page;
    let ranked = |q: &mut Sql, take: Option<i64>| match terms {
        TermMatch::Word(lexeme) => {
            let newest = take.map_or_else(String::new, |n| format!(" ORDER BY t.pitch_id DESC LIMIT {n}"));
            format!(
                "SELECT w.pitch_id AS fts_id, w.score AS fts_rank, 0 AS fts_part FROM (\
                 SELECT t.pitch_id, t.score FROM pitch_terms t WHERE t.lexeme = {} AND t.{column}{newest}) w",
                q.push_arg(lexeme.as_str())
            )
        }
        _ => {
            let from = pg_search_from(q, lq);
            let ids = terms.ids_sql(q, column, take, 0);
            format!(
                "SELECT s.pitch_id AS fts_id, ts_rank(s.document, fts_q) AS fts_rank, 0 AS fts_part {from} \
                 WHERE s.pitch_id = ANY(ARRAY({ids}))"
            )
        }
    };
    let order = format!("ORDER BY fts_part, fts_rank DESC, fts_id DESC LIMIT {limit} OFFSET {offset}");
    match window {
        None => format!("{} {order}", ranked(q, None)),
        Some((window, past)) => {
            let mut parts = vec![ranked(q, Some(window))];
            if past > 0 {
                let ids = terms.ids_sql(q, column, Some(past), window);
                parts.push(format!("SELECT m.pitch_id AS fts_id, 0::real AS fts_rank, 1 AS fts_part FROM ({ids}) m"));
            }
            let parts: Vec<String> = parts.into_iter().map(|p| format!("SELECT * FROM ({p}) part")).collect();
            format!("SELECT fts_id, fts_rank, fts_part FROM ({}) windowed {order}", parts.join(" UNION ALL "))
        }
    }
}

/// Builds `FROM ... WHERE ...` (shared by the page and the count) and the ORDER BY clause. `ranked_page`
/// pages a search inside the index ([`ListQuery::ranked_in_index`]).
fn from_where(
    backend: Backend,
    q: &mut Sql,
    lq: &ListQuery,
    join_owner: bool,
    ranked_page: Option<RankedPage>,
    plan: &Plan,
) -> (String, String) {
    let mut conds = vec![lq.scope.predicate(q)];
    // In a walk of the order's index, filters on other columns must not pick an index of their own.
    let order_expr = lq.order.expr();
    let hint = |col: &str| if *plan == Plan::WalkOrder && !order_expr.contains(col) { "+" } else { "" };
    let mut rank = None;
    let mut from = if lq.terms.is_empty() {
        let mut f = String::from(" FROM pitches p");
        if !join_owner
            && backend == Backend::Sqlite
            && let Some(index) = lq.count_index()
        {
            f.push_str(" INDEXED BY ");
            f.push_str(index);
        }
        f
    } else {
        // The match drives the join (`CROSS JOIN` keeps SQLite from reordering it).
        let (sub, desc) = fts_subquery(backend, q, lq, ranked_page, plan);
        conds.push("p.id = fts.fts_id".to_owned());
        rank = Some(("fts.fts_rank", desc));
        format!(" FROM ({sub}) fts CROSS JOIN pitches p")
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
            conds.push(format!("{}{col} IN {}", hint(col), in_list(q, vals.iter())));
        }
    }
    if let Some(min) = lq.budget_min {
        conds.push(format!("{}p.estimated_budget >= {}", hint("p.estimated_budget"), q.push_arg(min)));
    }
    if let Some(max) = lq.budget_max {
        conds.push(format!("{}p.estimated_budget < {}", hint("p.estimated_budget"), q.push_arg(max)));
    }
    if let Some(t) = lq.published_since {
        conds.push(format!("{}p.published_at >= {}", hint("p.published_at"), q.push_arg(t)));
    }
    if let Some(o) = lq.owner {
        conds.push(format!("{}p.user_id = {}", hint("p.user_id"), q.push_arg(o)));
    }
    if lq.named_creators_only {
        conds.push(format!("NOT {}p.require_nda", hint("p.require_nda")));
    }
    if let Some(t) = lq.updated_since {
        conds.push(format!("{}p.updated_at >= {}", hint("p.updated_at"), q.push_arg(t)));
    }
    let where_ = format!("{from} WHERE {}", conds.join(" AND "));
    let dir = if lq.descending { "DESC" } else { "ASC" };
    // Sorting the matches: the order's first term must not match an index.
    let sort = if *plan == Plan::SortMatches { "+" } else { "" };
    let order = match (lq.order, rank) {
        (Order::Relevance, Some((expr, desc))) => {
            format!(" ORDER BY fts.fts_part, {expr} {}, p.id DESC", if desc { "DESC" } else { "ASC" })
        }
        // Titles compare byte-wise on both engines (PostgreSQL's default collation would not).
        (Order::Title, _) if backend == Backend::Postgres => {
            format!(" ORDER BY p.title COLLATE \"C\" {dir}, p.id {dir}")
        }
        // Pitches without a budget come last either way; SQLite spells NULLS LAST the way its indexes can.
        (Order::Budget, _) if backend == Backend::Sqlite => {
            format!(" ORDER BY {sort}(p.estimated_budget IS NULL), p.estimated_budget {dir}, p.id {dir}")
        }
        (Order::Budget, _) => format!(" ORDER BY p.estimated_budget {dir} NULLS LAST, p.id {dir}"),
        (o, _) => format!(" ORDER BY {sort}{} {dir}, p.id {dir}", o.expr()),
    };
    (where_, order)
}

/// The visibility totals of `pitch_facets` (genre, format and stage `'*'`, band -9). All four columns are
/// named so that both engines reach each total through the primary key: with the band alone they read
/// every facet row of the visibility (0.4 ms on SQLite for 100,000 pitches, against 0.006 ms).
const FACET_TOTALS: &str = "f.genre = '*' AND f.format = '*' AND f.production_stage = '*' AND f.budget_band = -9";

/// The count of a list from `pitch_facets`, when the list has only the filters the facets record.
fn facet_count(q: &mut Sql, lq: &ListQuery) -> Option<()> {
    if !lq.terms.is_empty()
        || !lq.budget_ranges.is_empty()
        || lq.published_since.is_some()
        || lq.updated_since.is_some()
        || lq.owner.is_some()
        || lq.named_creators_only
    {
        return None;
    }
    let scope = lq.scope.facet_predicate()?;
    let bands = lq.budget_bands()?;
    let mut conds = vec![scope.to_owned()];
    let filtered = !(lq.genres.is_empty() && lq.formats.is_empty() && lq.stages.is_empty() && bands.is_none());
    // The visibility totals (band -9) answer an unfiltered count; a filtered one sums the combinations.
    conds.push(if filtered { "f.budget_band <> -9" } else { FACET_TOTALS }.to_owned());
    for (col, vals) in [("f.genre", &lq.genres), ("f.format", &lq.formats), ("f.production_stage", &lq.stages)] {
        if !vals.is_empty() {
            conds.push(format!("{col} IN {}", in_list(q, vals.iter())));
        }
    }
    if let Some((lo, hi)) = bands {
        conds.push("f.budget_band <> -2".to_owned()); // no budget: outside every budget filter
        if let Some(lo) = lo {
            conds.push(format!("f.budget_band >= {}", q.push_arg(lo as i64)));
        }
        if let Some(hi) = hi {
            conds.push(format!("f.budget_band < {}", q.push_arg(hi as i64)));
        }
    }
    q.push(&format!("SELECT CAST(COALESCE(SUM(f.n), 0) AS BIGINT) FROM pitch_facets f WHERE {}", conds.join(" AND ")));
    Some(())
}

/// The count of a list whose only filter is a publication window (the marketplace's `new` and `trending`
/// tabs): the window's whole days from `pitch_published_days` (SQLite migration 0007, PostgreSQL 0006), and
/// its first, partial day from the pitches. The days are UTC days: the first one runs from `published_since`
/// to the next midnight, and every later day is whole.
fn window_count(backend: Backend, q: &mut Sql, lq: &ListQuery) -> Option<()> {
    let since = lq.published_since?;
    if !(lq.terms.is_empty() && lq.only_terms_and_window()) {
        return None;
    }
    let scope = lq.scope.facet_predicate()?; // over the alias `f`, like pitch_facets
    let first_day = since.date_naive();
    let next_midnight = first_day.succ_opt()?.and_time(chrono::NaiveTime::MIN).and_utc();
    let day = q.push_arg(first_day.format("%Y-%m-%d").to_string());
    // On PostgreSQL the whole days are also bounded above by a date no day reaches. The bound selects nothing
    // away; it is there for PostgreSQL's plan cache. With `day > $1` alone, the statement's generic plan
    // (costed with a default selectivity of a third for the unknown date) looked dearer than the plans for
    // each call's dates, so PostgreSQL planned every call afresh: 1.2 ms of planning to run it in 0.2 ms,
    // 9% of PostgreSQL's time in `lists` (PERFORMANCE.md, eleventh session). A range with one unknown end
    // is costed at 0.5%, and the generic plan is kept after the first five calls.
    let day = match backend {
        Backend::Sqlite => day,
        Backend::Postgres => format!("CAST({day} AS DATE) AND f.day <= DATE '9999-12-31'"),
    };
    let (first_day_rows, _) = from_where(backend, q, lq, false, None, &Plan::Default);
    let until = q.push_arg(next_midnight);
    q.push(&format!(
        "SELECT CAST((SELECT COALESCE(SUM(f.n), 0) FROM pitch_published_days f WHERE {scope} AND f.day > {day}) \
         + (SELECT COUNT(*){first_day_rows} AND p.published_at < {until}) AS BIGINT)"
    ));
    Some(())
}

impl Store {
    /// Runs a list query: one page of rows and, when asked, the total. A search whose terms all match no
    /// pitch together is retried matching any of them (so "zebra crossing" finds both words first, and
    /// still finds something when no pitch has both).
    pub async fn list_pitches(&self, lq: &ListQuery) -> Result<Page<PitchRow>, StoreError> {
        // Boxed: a list's state machine (several database calls, two of them side by side) is large, and
        // every caller's future would otherwise carry it inline (a debug build overflowed a 2 MiB test
        // thread's stack).
        let page = Box::pin(self.list_once(lq)).await?;
        if page.total == 0 && lq.terms.len() > 1 && !lq.any_term {
            return Box::pin(self.list_once(&ListQuery { any_term: true, ..lq.clone() })).await;
        }
        Ok(page)
    }

    async fn list_once(&self, lq: &ListQuery) -> Result<Page<PitchRow>, StoreError> {
        // The count first: it is cheap (facets, or the search index) and it steers the page's plan.
        let Some(count) = self.count_sql(lq) else {
            let items: Vec<PitchRow> = self.db.all(self.page_sql(lq, &Plan::Default, None)).await?;
            return Ok(Page { total: lq.offset + items.len() as i64, items });
        };
        let terms = self.term_search(lq).await?;
        let column = lq.scope.search_tag(Backend::Postgres).unwrap_or("is_published");
        let total = match terms {
            Some(TermSearch::Match(m)) => {
                // The count and the page at once: a page from the table does not depend on the count (ranked
                // in its window, a search with fewer matches than the window gets every match ranked, as
                // ranked whole), and a past-the-end page is simply empty. In turn while a circuit is
                // half-open ([`Db::side_by_side`]). Boxed: two database calls side by side make a large state
                // machine.
                let count = Box::pin(self.db.one::<(i64,)>(m.count_sql(column)));
                let page = Box::pin(self.db.all(self.page_sql(lq, &Plan::Terms(m), None)));
                let ((total,), items) = self.db.side_by_side(count, page).await?;
                return Ok(Page { items, total });
            }
            Some(TermSearch::Nothing) => 0,
            Some(TermSearch::Prefixes(p)) => {
                let prefixes: Vec<&str> = p.iter().map(String::as_str).collect();
                self.db.one::<(i64,)>(term_count_sql(column, &prefixes)).await?.0
            }
            // The text index (or facets, or the plain count).
            None => self.db.one::<(i64,)>(count).await?.0,
        };
        if lq.offset >= total || lq.limit <= 0 {
            return Ok(Page { items: Vec::new(), total });
        }
        let plan = self.plan(lq, total).await?;
        let items = self.db.all(self.page_sql(lq, &plan, Some(total))).await?;
        Ok(Page { items, total })
    }

    /// What `pitch_terms` can do for a PostgreSQL search ranked in the index ([`TermSearch`]), from the
    /// lexemes each word's prefix reaches in the table. `None` leaves the search to the text index:
    /// - on SQLite, whose FTS5 index counts without reading rows and pages by rank;
    /// - when [`ListQuery::search_window`] names a way through `pitch_search`;
    /// - for a word that `to_tsquery` reads as more than one node: a phrase of several tokens
    ///   (`drama²drama`: `'drama':* <-> 'drama':*`, though its one lexeme is "drama"; a word whose other
    ///   tokens are stop words, like `the²drama`, is one node and served here);
    /// - for a one-node word that `to_tsvector` gives no lexeme (the two never disagreed in tests);
    /// - for required words of which one reaches several lexemes (an intersection of unions).
    ///
    /// A word without a node (a stop word) is dropped, as `to_tsquery` drops it.
    ///
    /// The lookup, the count and the page are three statements, each its own snapshot (as the count and the
    /// page always were). A write that adds a lexeme new to the table under a searched prefix, or removes
    /// its last pitch, between the lookup and the page leaves that one request's page built on the lexemes
    /// looked up before the write: a match missing, or ranked by the lexeme it had before. The next request
    /// sees the write; a cached entry cannot keep the page, since the write invalidates it.
    async fn term_search(&self, lq: &ListQuery) -> Result<Option<TermSearch>, StoreError> {
        if self.backend() != Backend::Postgres
            || !lq.ranked_in_index()
            || lq.search_window != SearchWindow::Auto
            || lq.scope.search_tag(Backend::Postgres).is_none()
        {
            return Ok(None);
        }
        // One row per word and lexeme reached (or per word, with no lexeme), in word order.
        let rows: Vec<(i64, i64, Option<String>, Option<String>)> =
            self.db.all(word_lexemes_sql(&lq.terms, MAX_WORD_LEXEMES)).await?;
        let mut words: Vec<(String, Vec<String>)> = Vec::new();
        let mut last_word = None;
        for (word, nodes, prefix, lexeme) in rows {
            match (nodes, prefix) {
                (0, _) => continue,
                (1, Some(prefix)) => {
                    if last_word != Some(word) {
                        words.push((prefix, Vec::new()));
                        last_word = Some(word);
                    }
                    if let (Some(lexeme), Some((_, lexemes))) = (lexeme, words.last_mut()) {
                        lexemes.push(lexeme);
                    }
                }
                _ => return Ok(None),
            }
        }
        if words.len() > 1 && !lq.any_term {
            if words.iter().any(|(_, lexemes)| lexemes.is_empty()) {
                return Ok(Some(TermSearch::Nothing));
            }
            if words.iter().any(|(_, lexemes)| lexemes.len() != 1) {
                return Ok(None);
            }
            let mut all: Vec<String> = words.into_iter().flat_map(|(_, lexemes)| lexemes).collect();
            all.sort();
            all.dedup();
            return Ok(Some(TermSearch::Match(if all.len() == 1 { TermMatch::Any(all) } else { TermMatch::All(all) })));
        }
        if words.iter().any(|(_, lexemes)| lexemes.len() as i64 > MAX_WORD_LEXEMES) {
            return Ok(Some(TermSearch::Prefixes(words.into_iter().map(|(prefix, _)| prefix).collect())));
        }
        let one_word = words.len() == 1;
        let mut any: Vec<String> = words.into_iter().flat_map(|(_, lexemes)| lexemes).collect();
        any.sort();
        any.dedup();
        Ok(Some(match any.len() {
            0 => TermSearch::Nothing,
            // One word reaching one lexeme: `ts_rank` of its query is that lexeme's stored score (0011).
            1 if one_word => TermSearch::Match(TermMatch::Word(any.remove(0))),
            _ => TermSearch::Match(TermMatch::Any(any)),
        }))
    }

    /// Chooses a list plan ([`Plan`]) from the list's size and its scope's: walking the order's index
    /// visits about `(offset + limit) × scope / total` rows (matches spread evenly along the order);
    /// reading the matches and sorting them costs about `total`.
    ///
    /// - A filtered SQLite list: the walk must win by 4× to be chosen, as a margin for matches that bunch at
    ///   the far end of the order.
    /// - A PostgreSQL search ranked in a window ([`fts_subquery`]): the walk reaches the window's
    ///   `rank_window` matches, and each row it passes costs about a seventh of what a match read through
    ///   the text index does (`pgbench` over the load tool's search words on 100,000 pitches: the two cost
    ///   the same near 3,500 matches).
    async fn plan(&self, lq: &ListQuery, total: i64) -> Result<Plan, StoreError> {
        if self.backend() == Backend::Postgres {
            let windowed = lq.ranked_in_index() && lq.rank_window < i64::MAX && total > lq.rank_window.max(0);
            if !windowed {
                return Ok(Plan::Default);
            }
            if let Some(plan) = lq.search_window.forced_plan() {
                return Ok(plan);
            }
            let Some(scope) = self.scope_size(&lq.scope).await? else { return Ok(Plan::Default) };
            let walk = lq.rank_window.max(1).saturating_mul(scope) / total.max(1);
            return Ok(if walk <= total.saturating_mul(7) { Plan::WalkOrder } else { Plan::SortMatches });
        }
        let filtered = !lq.only_terms();
        if !lq.terms.is_empty() || !filtered {
            return Ok(Plan::Default);
        }
        let Some(scope) = self.scope_size(&lq.scope).await? else { return Ok(Plan::Default) };
        let wanted = lq.offset.saturating_add(lq.limit).max(1);
        let walk = wanted.saturating_mul(scope) / total.max(1);
        Ok(if walk.saturating_mul(4) <= total { Plan::WalkOrder } else { Plan::SortMatches })
    }

    /// The number of published pitches in a scope with facet counts, recounted at most every
    /// [`SCOPE_SIZE_TTL`].
    async fn scope_size(&self, scope: &Scope) -> Result<Option<i64>, StoreError> {
        let (Some(tag), Some(pred)) = (scope.search_tag(Backend::Sqlite), scope.facet_predicate()) else {
            return Ok(None);
        };
        let fresh = |sizes: &[(&str, Instant, i64)]| {
            sizes.iter().find(|(t, at, _)| *t == tag && at.elapsed() < SCOPE_SIZE_TTL).map(|(_, _, n)| *n)
        };
        if let Some(n) = fresh(&self.scope_sizes.0.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(Some(n));
        }
        let q = Sql::dynamic(
            "pitch_scope_size",
            format!("SELECT CAST(COALESCE(SUM(f.n), 0) AS BIGINT) FROM pitch_facets f WHERE {pred} AND {FACET_TOTALS}"),
        );
        let n = self.db.one::<(i64,)>(q).await?.0;
        let mut sizes = self.scope_sizes.0.lock().unwrap_or_else(|e| e.into_inner());
        sizes.retain(|(t, _, _)| *t != tag);
        sizes.push((tag, Instant::now(), n));
        Ok(Some(n))
    }

    /// The SQL of a list query and of its count (public for `pitchey db explain`), with the default plan
    /// unless `search_window` names one.
    pub fn list_sql(&self, lq: &ListQuery) -> (Sql, Option<Sql>) {
        let forced = lq.ranked_in_index().then(|| lq.search_window.forced_plan()).flatten();
        let plan = forced.unwrap_or(Plan::Default);
        (self.page_sql(lq, &plan, None), self.count_sql(lq))
    }

    /// The page's SQL. `total`, when counted, decides whether a ranked search is ranked whole or in its
    /// window ([`fts_subquery`]); uncounted, it is ranked in its window (unless the window is `i64::MAX`:
    /// then whole).
    pub(crate) fn page_sql(&self, lq: &ListQuery, plan: &Plan, total: Option<i64>) -> Sql {
        let backend = self.backend();
        let mut page = Sql::dynamic("pitch_list", String::new());
        let limit = lq.limit.clamp(0, 500);
        let offset = lq.offset.max(0);
        let cols = if lq.full_rows { pitch_columns!(full) } else { pitch_columns!(card) };
        let text = if lq.ranked_in_index() {
            // Ranked and paged inside the search index: only the page's rows are joined.
            let window = lq.rank_window.max(0);
            let windowed = window < i64::MAX && total.is_none_or(|t| t > window);
            let window = windowed.then(|| (window, offset.saturating_add(limit).saturating_sub(window).max(0)));
            let ranked = RankedPage { limit, offset, window };
            let (where_, order) = from_where(backend, &mut page, lq, true, Some(ranked), plan);
            format!("SELECT {cols}{where_}{order}")
        } else {
            // Any other list has one good plan, which a literal count lets PostgreSQL keep
            // ([`Sql::push_count`]); a search's depends on its words (see [`fts_subquery`]).
            let count = |page: &mut Sql, n: i64| {
                if lq.terms.is_empty() { page.push_count(n) } else { page.push_count_planned_per_call(backend, n) }
            };
            let (lim, off) = (count(&mut page, limit), count(&mut page, offset));
            let (where_, order) = from_where(backend, &mut page, lq, true, None, plan);
            format!("SELECT {cols}{where_}{order} LIMIT {lim} OFFSET {off}")
        };
        page.push(&text);
        page
    }

    fn count_sql(&self, lq: &ListQuery) -> Option<Sql> {
        lq.with_total.then(|| {
            let backend = self.backend();
            let mut c = Sql::dynamic("pitch_count", String::new());
            if lq.ranked_in_index() {
                // The scope is in the index: count the matches without reading a pitch row.
                let (sub, _) = fts_subquery(backend, &mut c, lq, None, &Plan::Default);
                c.push(&format!("SELECT COUNT(*) FROM ({sub}) fts"));
            } else if window_count(backend, &mut c, lq).is_none() && facet_count(&mut c, lq).is_none() {
                let (where_, _) = from_where(backend, &mut c, lq, false, None, &Plan::Default);
                c.push(&format!("SELECT COUNT(*){where_}"));
            }
            c
        })
    }
}

/// How PostgreSQL's `english` configuration reads each search word as a prefix query, and the lexemes of
/// `pitch_terms` that prefix reaches: rows of `(word number, nodes of to_tsquery(word:*), the word's least
/// lexeme, a lexeme the prefix reaches)`, by word, one row per lexeme (at most `max_lexemes + 1`, so that
/// "more than the maximum" shows) or one with no lexeme. One node is one prefix operand, whose lexeme is
/// then the word's only one; none is a stop word; more are a phrase.
///
/// The lexemes are found by skipping through the key: each step reads the next lexeme after the last, and
/// the walk stops at the first that does not start with the prefix (in code point order the strings with
/// one prefix are contiguous), so it costs one index probe per lexeme, not one per row.
pub(crate) fn word_lexemes_sql(words: &[String], max_lexemes: i64) -> Sql {
    Sql::new(
        "search_word_lexemes",
        "WITH RECURSIVE w AS (\
           SELECT u.i, numnode(to_tsquery('english', u.w || ':*')) AS nodes, \
                  (SELECT min(l) FROM unnest(tsvector_to_array(to_tsvector('english', u.w))) AS l) AS prefix \
           FROM jsonb_array_elements_text($1) WITH ORDINALITY AS u(w, i)), \
         lx AS (\
           SELECT w.i, w.prefix, \
                  (SELECT t.lexeme FROM pitch_terms t WHERE t.lexeme >= w.prefix ORDER BY t.lexeme LIMIT 1) AS lexeme, \
                  1 AS n \
           FROM w WHERE w.nodes = 1 \
           UNION ALL \
           SELECT lx.i, lx.prefix, \
                  (SELECT t.lexeme FROM pitch_terms t WHERE t.lexeme > lx.lexeme ORDER BY t.lexeme LIMIT 1), lx.n + 1 \
           FROM lx WHERE starts_with(lx.lexeme, lx.prefix) AND lx.n <= $2) \
         SELECT CAST(w.i AS BIGINT), CAST(w.nodes AS BIGINT), w.prefix, lx.lexeme \
         FROM w LEFT JOIN lx ON lx.i = w.i AND starts_with(lx.lexeme, lx.prefix) \
         ORDER BY w.i, lx.lexeme",
    )
    .arg(serde_json::json!(words))
    .arg(max_lexemes)
}

/// The number of pitches in the scope flagged by `column` with a lexeme starting with any of `prefixes`,
/// from `pitch_terms` (PostgreSQL): one index range per prefix, its end from [`prefix_end`].
pub(crate) fn term_count_sql(column: &str, prefixes: &[&str]) -> Sql {
    let mut q = Sql::dynamic("pitch_term_range_count", String::new());
    let ranges: Vec<String> = prefixes
        .iter()
        .map(|prefix| {
            let from = q.push_arg(*prefix);
            let below =
                prefix_end(prefix).map_or_else(String::new, |end| format!(" AND t.lexeme < {}", q.push_arg(end)));
            format!("SELECT t.pitch_id FROM pitch_terms t WHERE t.lexeme >= {from}{below} AND t.{column}")
        })
        .collect();
    q.push(&format!("SELECT COUNT(DISTINCT m.pitch_id) FROM ({}) m", ranges.join(" UNION ALL ")));
    q
}

/// The least string above every string that starts with `prefix`, in code point order (the order of
/// PostgreSQL's "C" collation on UTF-8): the prefix with its last character raised by one, after dropping
/// trailing characters that have no successor. `None` when nothing is above them all.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // `from_u32` skips the surrogate gap.
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_end_is_above_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_end("drama").as_deref(), Some("dramb"));
        assert_eq!(prefix_end("az\u{10FFFF}").as_deref(), Some("a{"));
        assert_eq!(prefix_end("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
        // Code point order is UTF-8 byte order, which PostgreSQL's "C" collation compares.
        for (prefix, inside, outside) in
            [("dram", "dramat", "dran"), ("é", "écrit", "ê"), ("z\u{10FFFF}", "z\u{10FFFF}a", "{")]
        {
            let end = prefix_end(prefix).unwrap();
            assert!(prefix.as_bytes() <= inside.as_bytes() && inside.as_bytes() < end.as_bytes());
            assert!(outside.as_bytes() >= end.as_bytes());
        }
    }
}
