//! Accounts.

use crate::credits::{SIGNUP_GRANT, credit};
use crate::models::user_columns;
use crate::{Sql, Store, StoreError, User, now};
use pitchey_core::{Email, UserType, Username};

/// A new account, validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login email.
    pub email: Email,
    /// Public handle.
    pub username: Username,
    /// Already-hashed password (PHC string).
    pub password_hash: String,
    /// Account kind.
    pub user_type: UserType,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Profile text.
    pub bio: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// Subscription tier.
    pub subscription_tier: String,
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The email is already registered.
    #[error("email taken")]
    EmailTaken,
    /// The username is already taken.
    #[error("username taken")]
    UsernameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Creates an account. Uniqueness is enforced by the database's unique indexes, not by a prior check.
    pub async fn create_user(&self, u: &NewUser) -> Result<User, CreateUserError> {
        let t = now();
        let q = Sql::new(
            "user_insert",
            "INSERT INTO users (email, username, password_hash, user_type, first_name, last_name, bio, \
             company_name, subscription_tier, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .arg(u.email.as_str())
        .arg(u.username.as_str())
        .arg(&u.password_hash)
        .arg(u.user_type.as_str())
        .arg(u.first_name.clone())
        .arg(u.last_name.clone())
        .arg(u.bio.clone())
        .arg(u.company_name.clone())
        .arg(&u.subscription_tier)
        .arg(t);
        // The account and its welcome credits are created together.
        let mut tx = self.db.begin().await?;
        match tx.opt::<(i64,)>(q).await {
            Ok(Some((id,))) => {
                credit(&mut tx, id, SIGNUP_GRANT, "grant", "Welcome credits", None).await?;
                tx.commit().await?;
                self.user_by_id_primary(id).await?.ok_or(StoreError::NotFound.into())
            }
            Ok(None) => Err(StoreError::NotFound.into()),
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                // Which unique index fired? Ask, rather than parse driver messages.
                if self.user_credentials(&u.email).await?.is_some() {
                    Err(CreateUserError::EmailTaken)
                } else {
                    Err(CreateUserError::UsernameTaken)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The account with this email and its password hash, read from the primary (logins must see a
    /// password change at once).
    pub async fn user_credentials(&self, email: &Email) -> Result<Option<(User, String)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            password_hash: String,
        }
        let q = Sql::new(
            "user_credentials",
            concat!("SELECT ", user_columns!(), ", u.password_hash FROM users u WHERE u.email = $1"),
        )
        .arg(email.as_str());
        Ok(self.db.primary_opt::<Row>(q).await?.map(|r| (r.user, r.password_hash)))
    }

    /// The password hash of a user (for change-password).
    pub async fn password_hash(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        let q = Sql::new("user_password_hash", "SELECT password_hash FROM users WHERE id = $1").arg(user_id);
        Ok(self.db.primary_opt::<(String,)>(q).await?.map(|r| r.0))
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let q = Sql::new("user_by_id", concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1")).arg(id);
        self.db.opt(q).await
    }

    async fn user_by_id_primary(&self, id: i64) -> Result<Option<User>, StoreError> {
        let q = Sql::new("user_by_id", concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1")).arg(id);
        self.db.primary_opt(q).await
    }

    /// Is this username taken?
    pub async fn username_taken(&self, name: &str) -> Result<bool, StoreError> {
        let q = Sql::new("user_username_taken", "SELECT id FROM users WHERE username = $1").arg(name);
        Ok(self.db.primary_opt::<(i64,)>(q).await?.is_some())
    }

    /// Changes a user's password hash from `old` to `new` and, with `revoke_except`, deletes the user's
    /// other sessions (all but that token hash), in one transaction: a failure leaves both as they were.
    /// Returns how many sessions were deleted, or `None` when the hash is no longer `old` (another change
    /// came first, so the password the caller verified is not the current one).
    pub async fn change_password_hash(
        &self,
        user_id: i64,
        old: &str,
        new: &str,
        revoke_except: Option<&str>,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.db.begin().await?;
        let q = Sql::new(
            "user_change_password",
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4",
        )
        .arg(new)
        .arg(now())
        .arg(user_id)
        .arg(old);
        if tx.exec(q).await? == 0 {
            return Ok(None);
        }
        let revoked = match revoke_except {
            Some(keep) => crate::sessions::delete_other_sessions(&mut tx, user_id, keep).await?,
            None => 0,
        };
        tx.commit().await?;
        Ok(Some(revoked))
    }

    /// Replaces a user's password hash only if it is still `old` (a legacy-hash upgrade racing a password
    /// change must not undo the change).
    pub async fn upgrade_password_hash(&self, user_id: i64, old: &str, new: &str) -> Result<bool, StoreError> {
        let q = Sql::new(
            "user_upgrade_password",
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
        )
        .arg(new)
        .arg(user_id)
        .arg(old);
        Ok(self.db.exec(q).await? == 1)
    }

    /// Records a successful login.
    pub async fn touch_login(&self, user_id: i64) -> Result<(), StoreError> {
        let q =
            Sql::new("user_touch_login", "UPDATE users SET last_login_at = $1 WHERE id = $2").arg(now()).arg(user_id);
        self.db.exec(q).await.map(|_| ())
    }

    /// Number of accounts (an empty database gets the demo data in embedded mode).
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let q = Sql::new("user_count", "SELECT COUNT(*) FROM users");
        Ok(self.db.primary_opt::<(i64,)>(q).await?.map_or(0, |r| r.0))
    }
}

/// Profile fields a user may change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Profile text.
    pub bio: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Avatar URL.
    pub profile_image: Option<String>,
    /// Location.
    pub location: Option<String>,
}

impl Store {
    /// Updates a user's profile and returns the account afterwards.
    pub async fn update_profile(&self, user_id: i64, p: &ProfileUpdate) -> Result<User, StoreError> {
        let mut q = Sql::dynamic("user_update_profile", String::new());
        let mut sets = Vec::new();
        for (col, v) in [
            ("first_name", &p.first_name),
            ("last_name", &p.last_name),
            ("bio", &p.bio),
            ("company_name", &p.company_name),
            ("profile_image", &p.profile_image),
            ("location", &p.location),
        ] {
            if let Some(v) = v {
                sets.push(format!("{col} = {}", q.push_arg(v.as_str())));
            }
        }
        sets.push(format!("updated_at = {}", q.push_arg(now())));
        let text = format!("UPDATE users SET {} WHERE id = {}", sets.join(", "), q.push_arg(user_id));
        q.push(&text);
        if self.db.exec(q).await? == 0 {
            return Err(StoreError::NotFound);
        }
        self.user_by_id_primary(user_id).await?.ok_or(StoreError::NotFound)
    }
}
