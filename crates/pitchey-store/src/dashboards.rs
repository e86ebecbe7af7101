//! Numbers for the portal dashboards, computed from the data (never constants).

use crate::{Backend, Sql, Store, StoreError, now};
use chrono::{DateTime, Duration, Utc};

/// Totals over the pitches one user owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct PitchTotals {
    /// All pitches.
    pub pitches: i64,
    /// Published ones.
    pub published: i64,
    /// Drafts (including under review).
    pub drafts: i64,
    /// Sum of views.
    pub views: i64,
    /// Sum of likes.
    pub likes: i64,
    /// Sum of NDA requests ever made.
    pub nda_requests: i64,
    /// Sum of saves.
    pub saves: i64,
}

/// Investment totals, either of one investor or on one owner's pitches.
#[derive(Debug, Clone, Copy, PartialEq, Default, sqlx::FromRow)]
pub struct InvestmentTotals {
    /// Investments (any status but cancelled).
    pub count: i64,
    /// Active or completed ones.
    pub active: i64,
    /// Amount in active or completed investments.
    pub committed: f64,
    /// Amount in pending investments.
    pub pending: f64,
    /// Distinct investors (or pitches, for an investor).
    pub counterparts: i64,
    /// Mean ROI over investments that report one.
    pub average_roi: Option<f64>,
    /// Committed amount grown by each investment's ROI.
    pub current_value: f64,
}

/// One investment with its pitch and investor.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InvestmentRow {
    /// Row id.
    pub id: i64,
    /// The pitch.
    pub pitch_id: i64,
    /// Its title.
    pub pitch_title: String,
    /// Its genre.
    pub pitch_genre: String,
    /// Its production stage.
    pub production_stage: String,
    /// Investor.
    pub investor_id: i64,
    /// Investor's display name.
    pub investor_name: String,
    /// Amount.
    pub amount: f64,
    /// `pending`, `active`, `completed` or `cancelled`.
    pub status: String,
    /// Return so far, in percent.
    pub roi_percentage: Option<f64>,
    /// When invested.
    pub invested_at: DateTime<Utc>,
}

const INVESTMENT_SELECT: &str = "SELECT i.id, i.pitch_id, p.title AS pitch_title, p.genre AS pitch_genre, \
     p.production_stage, i.investor_id, \
     COALESCE(NULLIF(TRIM(COALESCE(u.first_name, '') || ' ' || COALESCE(u.last_name, '')), ''), u.username) AS investor_name, \
     i.amount, i.status, i.roi_percentage, i.invested_at \
     FROM investments i JOIN pitches p ON p.id = i.pitch_id JOIN users u ON u.id = i.investor_id";

const INVESTMENT_TOTALS: &str = "SELECT \
     COALESCE(SUM(CASE WHEN i.status <> 'cancelled' THEN 1 ELSE 0 END), 0) AS count, \
     COALESCE(SUM(CASE WHEN i.status IN ('active', 'completed') THEN 1 ELSE 0 END), 0) AS active, \
     COALESCE(SUM(CASE WHEN i.status IN ('active', 'completed') THEN i.amount ELSE 0 END), 0.0) AS committed, \
     COALESCE(SUM(CASE WHEN i.status = 'pending' THEN i.amount ELSE 0 END), 0.0) AS pending, \
     COUNT(DISTINCT CASE WHEN i.status <> 'cancelled' THEN {counterpart} END) AS counterparts, \
     AVG(i.roi_percentage) AS average_roi, \
     COALESCE(SUM(CASE WHEN i.status IN ('active', 'completed') THEN i.amount * (1 + COALESCE(i.roi_percentage, 0) / 100.0) ELSE 0 END), 0.0) AS current_value \
     FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE {who}";

// PostgreSQL sums BIGINT columns into NUMERIC: such sums are cast back to BIGINT.
impl Store {
    /// Totals over a user's own pitches.
    pub async fn pitch_totals(&self, owner: i64) -> Result<PitchTotals, StoreError> {
        let q = Sql::new(
            "dash_pitch_totals",
            "SELECT COUNT(*) AS pitches, \
             COALESCE(SUM(CASE WHEN status = 'published' THEN 1 ELSE 0 END), 0) AS published, \
             COALESCE(SUM(CASE WHEN status IN ('draft', 'under_review') THEN 1 ELSE 0 END), 0) AS drafts, \
             CAST(COALESCE(SUM(view_count), 0) AS BIGINT) AS views, CAST(COALESCE(SUM(like_count), 0) AS BIGINT) AS likes, \
             CAST(COALESCE(SUM(nda_count), 0) AS BIGINT) AS nda_requests, \
             CAST(COALESCE(SUM(save_count), 0) AS BIGINT) AS saves \
             FROM pitches WHERE user_id = $1",
        )
        .arg(owner);
        self.db.primary_one(q).await
    }

    /// Investment totals on a user's pitches (`as_investor = false`) or of an investor.
    pub async fn investment_totals(&self, user_id: i64, as_investor: bool) -> Result<InvestmentTotals, StoreError> {
        let text = if as_investor {
            INVESTMENT_TOTALS.replace("{counterpart}", "i.pitch_id").replace("{who}", "i.investor_id = $1")
        } else {
            INVESTMENT_TOTALS.replace("{counterpart}", "i.investor_id").replace("{who}", "p.user_id = $1")
        };
        self.db.primary_one(Sql::dynamic("dash_investment_totals", text).arg(user_id)).await
    }

    /// Latest investments of an investor (`as_investor`) or on a user's pitches.
    pub async fn investments(
        &self,
        user_id: i64,
        as_investor: bool,
        limit: i64,
    ) -> Result<Vec<InvestmentRow>, StoreError> {
        let who = if as_investor { "i.investor_id = $1" } else { "p.user_id = $1" };
        let mut q = Sql::dynamic("dash_investments", String::new()).arg(user_id);
        let lim = q.push_count(limit);
        q.push(&format!("{INVESTMENT_SELECT} WHERE {who} ORDER BY i.invested_at DESC, i.id DESC LIMIT {lim}"));
        self.db.primary_all(q).await
    }

    /// Views of a user's pitches per UTC day over the last `days` days, oldest first (days without views
    /// included as zero).
    pub async fn views_per_day(&self, owner: i64, days: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let day = match self.backend() {
            Backend::Sqlite => "substr(v.viewed_at, 1, 10)",
            Backend::Postgres => "to_char(v.viewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        };
        let since = (now() - Duration::days(days - 1)).date_naive();
        let text = format!(
            "SELECT {day} AS day, COUNT(*) FROM views v JOIN pitches p ON p.id = v.pitch_id \
             WHERE p.user_id = $1 AND v.viewed_at >= $2 GROUP BY {day} ORDER BY day"
        );
        let start: DateTime<Utc> = since.and_hms_opt(0, 0, 0).map_or_else(now, |d| d.and_utc());
        let rows: Vec<(String, i64)> =
            self.db.primary_all(Sql::dynamic("dash_views_per_day", text).arg(owner).arg(start)).await?;
        Ok((0..days)
            .map(|i| {
                let d = (since + Duration::days(i)).format("%Y-%m-%d").to_string();
                let n = rows.iter().find(|(day, _)| *day == d).map_or(0, |r| r.1);
                (d, n)
            })
            .collect())
    }

    /// Who viewed a user's pitches, by account type (`anonymous` for signed-out viewers).
    pub async fn viewer_types(&self, owner: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let q = Sql::new(
            "dash_viewer_types",
            "SELECT COALESCE(u.user_type, 'anonymous') AS kind, COUNT(*) FROM views v JOIN pitches p ON p.id = v.pitch_id \
             LEFT JOIN users u ON u.id = v.user_id WHERE p.user_id = $1 GROUP BY COALESCE(u.user_type, 'anonymous') ORDER BY kind",
        )
        .arg(owner);
        self.db.primary_all(q).await
    }

    /// A user's pitches by genre.
    pub async fn owner_genres(&self, owner: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let q = Sql::new(
            "dash_owner_genres",
            "SELECT genre, COUNT(*) FROM pitches WHERE user_id = $1 GROUP BY genre ORDER BY COUNT(*) DESC, genre",
        )
        .arg(owner);
        self.db.primary_all(q).await
    }

    /// A user's pitches by production stage.
    pub async fn owner_stages(&self, owner: i64) -> Result<Vec<(String, i64, f64)>, StoreError> {
        let q = Sql::new(
            "dash_owner_stages",
            "SELECT production_stage, COUNT(*), COALESCE(SUM(estimated_budget), 0.0) FROM pitches WHERE user_id = $1 \
             GROUP BY production_stage ORDER BY production_stage",
        )
        .arg(owner);
        self.db.primary_all(q).await
    }

    /// Pitches an investor has invested in or saved (excluded from recommendations).
    pub async fn engaged_pitch_ids(&self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        let q = Sql::new(
            "dash_engaged",
            "SELECT pitch_id FROM investments WHERE investor_id = $1 UNION SELECT pitch_id FROM saved_pitches WHERE user_id = $1",
        )
        .arg(user_id);
        Ok(self.db.primary_all::<(i64,)>(q).await?.into_iter().map(|r| r.0).collect())
    }

    /// Accounts by type (marketplace demographics).
    pub async fn users_by_type(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let q = Sql::new(
            "dash_users_by_type",
            "SELECT user_type, COUNT(*) FROM users GROUP BY user_type ORDER BY user_type",
        );
        self.db.all(q).await
    }
}
