//! Rows as the store returns them. They are plain data: the HTTP layer decides what reaches the wire.

use chrono::{DateTime, Utc};
use pitchey_core::UserType;

/// A user account (without its password hash).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Public session id (not the secret token).
    pub id: String,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Its user.
    pub user: User,
}
