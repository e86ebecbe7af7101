//! Rows as the store returns them. They are plain data: the HTTP layer decides what reaches the wire.

use chrono::{DateTime, Utc};
use pitchey_core::UserType;

/// A user account (without its password hash).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Lower-cased email.
    pub email: String,
    /// Public handle.
    pub username: String,
    /// Account kind (portal).
    #[sqlx(try_from = "String")]
    pub user_type: UserType,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Profile text.
    pub bio: Option<String>,
    /// Company (investors and production companies).
    pub company_name: Option<String>,
    /// Avatar URL.
    pub profile_image: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Subscription tier name.
    pub subscription_tier: String,
    /// Has the email been verified?
    pub email_verified: bool,
    /// Is the company verified?
    pub company_verified: bool,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last profile change.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// "First Last", falling back to the company or the username.
    pub fn display_name(&self) -> String {
        let full = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !full.is_empty() {
            full
        } else if let Some(c) = self.company_name.as_deref().filter(|c| !c.is_empty()) {
            c.to_owned()
        } else {
            self.username.clone()
        }
    }
}

/// Columns selected for [`User`], prefixed with the `u.` alias (a macro so `concat!` can build queries).
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.username, u.user_type, u.first_name, u.last_name, u.bio, \
     u.company_name, u.profile_image, u.location, u.subscription_tier, u.email_verified, u.company_verified, \
     u.last_login_at, u.created_at, u.updated_at"
    };
}
pub(crate) use user_columns;

/// A live session and its user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Public session id (not the secret token).
    pub id: String,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Its user.
    pub user: User,
}

/// A pitch's public columns with its owner's public profile. Protected columns are not here: they are
/// read only through [`crate::Store::pitch_protected`], after the access rule allows it.
/// Fields mirror the columns of the same name (see `pitchey_core::PitchFields` and the migrations).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PitchRow {
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub logline: String,
    pub tagline: Option<String>,
    pub genre: String,
    pub format: Option<String>,
    pub format_category: Option<String>,
    pub format_subtype: Option<String>,
    pub custom_format: Option<String>,
    pub short_synopsis: Option<String>,
    pub long_synopsis: Option<String>,
    pub opener: Option<String>,
    pub premise: Option<String>,
    pub target_audience: Option<String>,
    #[sqlx(json(nullable))]
    pub characters: Option<serde_json::Value>,
    pub themes: Option<String>,
    pub world_description: Option<String>,
    #[sqlx(json(nullable))]
    pub episode_breakdown: Option<serde_json::Value>,
    pub tone_and_style: Option<String>,
    pub comps: Option<String>,
    pub story_breakdown: Option<String>,
    pub why_now: Option<String>,
    pub production_location: Option<String>,
    pub development_stage: Option<String>,
    pub development_stage_other: Option<String>,
    pub production_stage: String,
    pub production_timeline: Option<String>,
    pub budget_range: Option<String>,
    pub budget_bracket: Option<String>,
    pub estimated_budget: Option<f64>,
    pub seeking_investment: bool,
    pub require_nda: bool,
    pub title_image: Option<String>,
    pub thumbnail_url: Option<String>,
    pub poster_url: Option<String>,
    pub lookbook_url: Option<String>,
    pub trailer_url: Option<String>,
    pub video_url: Option<String>,
    pub video_platform: Option<String>,
    #[sqlx(json(nullable))]
    pub additional_media: Option<serde_json::Value>,
    #[sqlx(json(nullable))]
    pub visibility_settings: Option<serde_json::Value>,
    pub ai_used: bool,
    #[sqlx(try_from = "String")]
    pub status: pitchey_core::PitchStatus,
    #[sqlx(try_from = "String")]
    pub visibility: pitchey_core::Visibility,
    pub published_at: Option<DateTime<Utc>>,
    pub view_count: i64,
    pub like_count: i64,
    pub nda_count: i64,
    pub save_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Owner's username.
    pub creator_username: String,
    pub creator_first_name: Option<String>,
    pub creator_last_name: Option<String>,
    pub creator_company: Option<String>,
    #[sqlx(try_from = "String")]
    pub creator_type: UserType,
    pub creator_avatar: Option<String>,
}

impl PitchRow {
    /// The owner's display name: the company for production companies, else "First Last".
    pub fn creator_name(&self) -> String {
        if self.creator_type == UserType::Production
            && let Some(c) = self.creator_company.as_deref().filter(|c| !c.is_empty())
        {
            return c.to_owned();
        }
        let full = [self.creator_first_name.as_deref(), self.creator_last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if full.trim().is_empty() { self.creator_username.clone() } else { full }
    }
}

/// A pitch's protected columns (§3.2 "P"): read only for the owner or an NDA holder.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProtectedFields {
    pub pitch_deck_url: Option<String>,
    pub script_url: Option<String>,
    pub video_password: Option<String>,
    #[sqlx(json(nullable))]
    pub budget_breakdown: Option<serde_json::Value>,
    #[sqlx(json(nullable))]
    pub attached_talent: Option<serde_json::Value>,
    #[sqlx(json(nullable))]
    pub financial_projections: Option<serde_json::Value>,
    pub distribution_plan: Option<String>,
    pub marketing_strategy: Option<String>,
    pub revenue_model: Option<String>,
    #[sqlx(json(nullable))]
    pub private_attachments: Option<serde_json::Value>,
    #[sqlx(json(nullable))]
    pub contact_details: Option<serde_json::Value>,
    pub production_timeline: Option<String>,
}

/// A page of results with the total that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// This page.
    pub items: Vec<T>,
    /// All matches.
    pub total: i64,
}
