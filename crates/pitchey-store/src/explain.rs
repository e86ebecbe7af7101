//! The hot queries of the API with sample arguments, for `pitchey db explain` and the index tests. Each is
//! built by the same function the store uses to serve it, so the plan shown is the plan served.

use crate::engagement::{follow_list_sql, saved_list_sql, view_find_anon_sql, view_network_recent_sql};
use crate::listing::{MAX_WORD_LEXEMES, Plan as ListPlan, TermMatch, term_count_sql, word_lexemes_sql};
use crate::pitches::{pitch_by_id_sql, protected_sql, viewer_nda_sql};
use crate::search::{facet_sql, title_suggestions_sql, typo_suggestions_sql};
use crate::sessions::session_lookup_sql;
use crate::{ListQuery, Order, Scope, SearchWindow, Sql, Store, StoreError, now};
use chrono::Duration;

/// A named query and its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What the query serves.
    pub name: String,
    /// Plan lines.
    pub lines: Vec<String>,
}

impl Store {
    /// The hot queries: `(description, SQL)`. Samples use user 1 and pitch 1.
    pub fn hot_queries(&self) -> Vec<(String, Sql)> {
        let t = now();
        let mut out: Vec<(String, Sql)> = Vec::new();
        let mut list = |name: &str, lq: ListQuery| {
            let (page, count) = self.list_sql(&lq);
            out.push((format!("{name}: page"), page));
            if let Some(c) = count {
                out.push((format!("{name}: count"), c));
            }
        };
        let market = |order: Order| {
            let mut lq = ListQuery::new(Scope::Market);
            lq.order = order;
            lq
        };
        let mut lq = market(Order::Score);
        lq.published_since = Some(t - Duration::days(90));
        list("browse tab=trending", lq);
        let mut lq = market(Order::Published);
        lq.published_since = Some(t - Duration::days(30));
        list("browse tab=new", lq);
        list("browse tab=popular", market(Order::Score));
        let mut lq = market(Order::Updated);
        lq.updated_since = Some(t - Duration::days(90));
        list("browse tab=recent", lq);
        let mut lq = market(Order::Score);
        lq.genres = vec!["drama".into()];
        list("browse genre=drama", lq);
        let mut lq = market(Order::Published);
        lq.formats = vec!["tv".into()];
        list("browse format=tv sort=date", lq);
        let mut lq = market(Order::Score);
        lq.stages = vec!["financing".into()];
        list("browse productionStage=financing", lq);
        let mut lq = market(Order::Score);
        lq.budget_ranges = vec!["1m-5m".into()];
        list("browse budgetRange=1m-5m", lq);
        let mut lq = market(Order::Score);
        lq.budget_min = Some(1_000_000.0);
        lq.budget_max = Some(5_000_000.0);
        list("browse budgetRange=$1M-$5M", lq);
        for (name, order, descending) in [
            ("browse sort=likes", Order::Likes, true),
            ("browse sort=views", Order::Views, true),
            ("browse sort=ndas", Order::Ndas, true),
            ("browse sort=title", Order::Title, false),
            ("browse sort=budget", Order::Budget, true),
            ("browse sort=budget order=asc", Order::Budget, false),
        ] {
            let mut lq = market(order);
            lq.descending = descending;
            list(name, lq);
        }
        for (name, order) in [
            ("home trending", Order::PublicTrending),
            ("home new", Order::Created),
            ("home featured", Order::PublicFeatured),
        ] {
            let mut lq = ListQuery::new(Scope::Public);
            lq.order = order;
            list(name, lq);
        }
        let mut lq = ListQuery::new(Scope::Published);
        lq.order = Order::Created;
        list("pitches/public", lq);
        let mut lq = ListQuery::new(Scope::Owner(1));
        lq.order = Order::Updated;
        list("my pitches", lq);
        let mut lq = ListQuery::new(Scope::OwnerStatus(1, pitchey_core::PitchStatus::Draft));
        lq.order = Order::Updated;
        list("my pitches status=draft", lq);
        // A common word: more matches than the rank window (listing.rs), so only the newest are ranked. On
        // PostgreSQL the window is found one of two ways, chosen from the count.
        let mut lq = market(Order::Relevance);
        lq.terms = vec!["lighthouse".into()];
        lq.search_window = SearchWindow::Walk;
        list("search q=lighthouse, window walked", lq.clone());
        lq.search_window = SearchWindow::SortMatches;
        list("search q=lighthouse, window sorted", lq.clone());
        // A search with fewer matches than the window is ranked whole.
        lq.rank_window = i64::MAX;
        list("search q=lighthouse ranked whole", lq);
        let mut lq = market(Order::Relevance);
        lq.terms = vec!["silent".into(), "harbor".into()];
        lq.genres = vec!["drama".into()];
        list("search q=silent harbor genre=drama", lq);
        let mut lq = ListQuery::new(Scope::FollowedBy(1));
        lq.order = Order::Published;
        list("pitches/following", lq);
        if self.backend() == crate::Backend::Postgres {
            // Searches whose words reach few lexemes are counted and windowed from `pitch_terms`
            // ("lighthous" is the lexeme of "lighthouse"; the store looks the lexemes up first).
            out.push((
                "search q=lighthouse: word lexemes".into(),
                word_lexemes_sql(&["lighthouse".into()], MAX_WORD_LEXEMES),
            ));
            let word = TermMatch::Word("lighthous".into());
            out.push(("search q=lighthouse: count by terms".into(), word.count_sql("is_market")));
            let two = TermMatch::All(vec!["harbor".into(), "silent".into()]);
            out.push(("search q=silent harbor: count by terms".into(), two.count_sql("is_market")));
            let mut lq = market(Order::Relevance);
            lq.terms = vec!["lighthouse".into()];
            let page = self.page_sql(&lq, &ListPlan::Terms(word), None);
            out.push(("search q=lighthouse, window from terms: page".into(), page));
            // A prefix reaching two lexemes ("border", "borderland"): the window merged, then ranked.
            lq.terms = vec!["border".into()];
            let either = TermMatch::Any(vec!["border".into(), "borderland".into()]);
            let page = self.page_sql(&lq, &ListPlan::Terms(either), None);
            out.push(("search q=border, window from terms: page".into(), page));
            lq.terms = vec!["silent".into(), "harbor".into()];
            let page = self.page_sql(&lq, &ListPlan::Terms(two), None);
            out.push(("search q=silent harbor, window from terms: page".into(), page));
            // A prefix reaching too many lexemes is counted by key ranges.
            out.push(("search q=li: count by key ranges".into(), term_count_sql("is_market", &["li"])));
        }
        out.push(("pitch detail".into(), pitch_by_id_sql(1)));
        out.push(("pitch protected fields".into(), protected_sql(1)));
        out.push(("viewer NDA for a pitch".into(), viewer_nda_sql(1, 1)));
        out.push(("saved pitches".into(), saved_list_sql(1, 50, 0)));
        out.push(("followers".into(), follow_list_sql(1, true, 50, 0)));
        out.push(("following".into(), follow_list_sql(1, false, 50, 0)));
        out.push(("view dedup (anonymous)".into(), view_find_anon_sql(1, "ip:127.0.0.1", t - Duration::hours(24))));
        out.push((
            "view cap (anonymous network)".into(),
            view_network_recent_sql(1, "127.0.0.1", t - Duration::hours(24)),
        ));
        out.push(("session lookup".into(), session_lookup_sql("0".repeat(64).as_str())));
        out.push(("title suggestions".into(), title_suggestions_sql(self.backend(), &["light".into()], 8)));
        if self.backend() == crate::Backend::Postgres {
            out.push(("title suggestions (typos)".into(), typo_suggestions_sql("lihgt", 8)));
        }
        for col in ["genre", "format", "budget_band", "production_stage"] {
            if let Some(q) = facet_sql(col) {
                out.push((format!("facets {col}"), q));
            }
        }
        out
    }

    /// The plan of every hot query.
    pub async fn explain_hot_queries(&self) -> Result<Vec<Plan>, StoreError> {
        let mut plans = Vec::new();
        for (name, q) in self.hot_queries() {
            plans.push(Plan { name, lines: self.db.explain(q).await? });
        }
        Ok(plans)
    }

    /// Refreshes the planner's statistics (after bulk loads).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        match self.backend() {
            crate::Backend::Sqlite => self.db.maintenance("ANALYZE").await,
            crate::Backend::Postgres => self.db.maintenance("VACUUM ANALYZE").await,
        }
    }
}
