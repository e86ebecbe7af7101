//! Login sessions. The cookie carries a random token; the database holds only its SHA-256.

use crate::models::user_columns;
use crate::{Backend, Session, Sql, Store, StoreError, Tx, User, now};
use chrono::{DateTime, Utc};

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Hex SHA-256 of the cookie token.
    pub token_hash: &'a str,
    /// Public id shown to the client.
    pub id: &'a str,
    /// Owner.
    pub user_id: i64,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Client address, for the user's session list.
    pub ip_address: Option<String>,
    /// Client user agent (truncated by the caller).
    pub user_agent: Option<String>,
}

pub(crate) fn session_lookup_sql(token_hash: &str) -> Sql {
    Sql::new(
        "session_lookup",
        concat!(
            "SELECT s.id AS session_id, s.expires_at AS session_expires_at, ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active = TRUE"
        ),
    )
    .arg(token_hash)
    .arg(now())
}

impl Store {
    /// Stores a new session.
    pub async fn create_session(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        self.db.exec(session_insert(s)).await.map(|_| ())
    }

    /// Creates a session for a login, only if the user's password hash is still `verified_hash`, the one
    /// the login checked: a password change between the check and this insert (it deletes the user's other
    /// sessions) must not be outlived by a session made with the old password. `false`: the password changed.
    /// On PostgreSQL the user row is held `FOR SHARE` until the insert commits, so the change waits for it
    /// (and then deletes the new session) or the check sees the new hash; SQLite's single writer serialises
    /// the two.
    pub async fn create_session_if_password_is(
        &self,
        s: &NewSession<'_>,
        verified_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let lock = if tx.backend() == Backend::Postgres { " FOR SHARE" } else { "" };
        let check = Sql::dynamic(
            "session_password_unchanged",
            format!("SELECT id FROM users WHERE id = $1 AND password_hash = $2{lock}"),
        )
        .arg(s.user_id)
        .arg(verified_hash);
        if tx.opt::<(i64,)>(check).await?.is_none() {
            return Ok(false);
        }
        tx.exec(session_insert(s)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The unexpired session with this token hash, with its user. Read from the primary: a session
    /// created a moment ago on another node must be found.
    pub async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            session_id: String,
            session_expires_at: DateTime<Utc>,
            #[sqlx(flatten)]
            user: User,
        }
        let q = session_lookup_sql(token_hash);
        Ok(self.db.primary_opt::<Row>(q).await?.map(|r| Session {
            id: r.session_id,
            expires_at: r.session_expires_at,
            user: r.user,
        }))
    }

    /// Deletes one session; returns whether it existed.
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let q = Sql::new("session_delete", "DELETE FROM sessions WHERE token_hash = $1").arg(token_hash);
        Ok(self.db.exec(q).await? > 0)
    }

    /// Removes expired sessions; returns how many.
    pub async fn delete_expired_sessions(&self) -> Result<u64, StoreError> {
        let q = Sql::new("session_delete_expired", "DELETE FROM sessions WHERE expires_at <= $1").arg(now());
        self.db.exec(q).await
    }
}

fn session_insert(s: &NewSession<'_>) -> Sql {
    Sql::new(
        "session_insert",
        "INSERT INTO sessions (token_hash, id, user_id, ip_address, user_agent, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .arg(s.token_hash)
    .arg(s.id)
    .arg(s.user_id)
    .arg(s.ip_address.clone())
    .arg(s.user_agent.clone())
    .arg(now())
    .arg(s.expires_at)
}

/// Deletes a user's sessions except `keep` (a token hash), inside a caller's transaction; returns how many.
pub(crate) async fn delete_other_sessions(tx: &mut Tx, user_id: i64, keep: &str) -> Result<u64, StoreError> {
    tx.exec(
        Sql::new("session_delete_user", "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .arg(user_id)
            .arg(keep),
    )
    .await
}
