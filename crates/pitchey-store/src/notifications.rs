//! Notifications, written in the same transaction as the event they report.

use crate::{Sql, Store, StoreError, Tx, now};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A notification to write.
#[derive(Debug, Clone)]
pub(crate) struct NewNotification<'a> {
    pub user_id: i64,
    pub kind: &'a str,
    pub title: &'a str,
    pub message: String,
    pub related_id: Option<i64>,
    pub related_type: Option<&'a str>,
    pub related_pitch_id: Option<i64>,
    pub from_user_id: Option<i64>,
    pub priority: &'a str,
    pub data: Option<Value>,
}

pub(crate) async fn notify(tx: &mut Tx, n: NewNotification<'_>) -> Result<(), StoreError> {
    tx.exec(
        Sql::new(
            "notification_insert",
            "INSERT INTO notifications (user_id, type, title, message, data, related_id, related_type, \
             related_pitch_id, from_user_id, priority, is_read, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, $11)",
        )
        .arg(n.user_id)
        .arg(n.kind)
        .arg(n.title)
        .arg(n.message)
        .arg(n.data)
        .arg(n.related_id)
        .arg(n.related_type)
        .arg(n.related_pitch_id)
        .arg(n.from_user_id)
        .arg(n.priority)
        .arg(now()),
    )
    .await?;
    Ok(())
}

/// A stored notification with its sender's public profile.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Notification {
    /// Row id.
    pub id: i64,
    /// Recipient.
    pub user_id: i64,
    /// Kind (`nda_request`, `nda_approved`, `new_follower`, ...).
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Headline.
    pub title: String,
    /// Text.
    pub message: String,
    /// Extra data.
    #[sqlx(json(nullable))]
    pub data: Option<Value>,
    /// Related record.
    pub related_id: Option<i64>,
    /// Related record kind (`nda`, `user`, `pitch`).
    pub related_type: Option<String>,
    /// Related pitch.
    pub related_pitch_id: Option<i64>,
    /// Who caused it.
    pub from_user_id: Option<i64>,
    /// `normal` or `high`.
    pub priority: String,
    /// Read yet?
    pub is_read: bool,
    /// When read.
    pub read_at: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Sender's display name.
    pub from_user_name: Option<String>,
    /// Sender's avatar.
    pub from_user_avatar: Option<String>,
}

impl Store {
    /// A user's notifications, newest first; `unread_only` narrows to unread ones.
    pub async fn notifications(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let mut q = Sql::dynamic("notification_list", String::new()).arg(user_id).arg(unread_only);
        let (lim, off) = (q.push_count(limit), q.push_count(offset));
        q.push(&format!(
            "SELECT n.id, n.user_id, n.type, n.title, n.message, n.data, n.related_id, n.related_type, \
             n.related_pitch_id, n.from_user_id, n.priority, n.is_read, n.read_at, n.created_at, \
             CASE WHEN f.id IS NULL THEN NULL \
                  ELSE COALESCE(NULLIF(TRIM(COALESCE(f.first_name, '') || ' ' || COALESCE(f.last_name, '')), ''), f.username) END \
                  AS from_user_name, \
             f.profile_image AS from_user_avatar \
             FROM notifications n LEFT JOIN users f ON f.id = n.from_user_id \
             WHERE n.user_id = $1 AND ($2 = FALSE OR n.is_read = FALSE) \
             ORDER BY n.created_at DESC, n.id DESC LIMIT {lim} OFFSET {off}"
        ));
        self.db.primary_all(q).await
    }

    /// Counts of a user's notifications: `(total, unread)`.
    pub async fn notification_counts(&self, user_id: i64) -> Result<(i64, i64), StoreError> {
        let q = Sql::new(
            "notification_counts",
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN is_read THEN 0 ELSE 1 END), 0) FROM notifications WHERE user_id = $1",
        )
        .arg(user_id);
        self.db.primary_one(q).await
    }

    /// Marks some of a user's notifications read (all unread ones when `ids` is `None`); returns how many
    /// matched. Ids of other users' notifications are ignored.
    pub async fn mark_notifications_read(&self, user_id: i64, ids: Option<&[i64]>) -> Result<u64, StoreError> {
        let mut q = Sql::dynamic("notification_mark_read", String::new());
        let t = q.push_arg(now());
        let u = q.push_arg(user_id);
        // Named ids count as matched even when already read (so callers can tell "not yours" from "done").
        let filter = match ids {
            Some(ids) => format!(" AND id IN {}", crate::db::in_list(&mut q, ids.iter().copied())),
            None => " AND is_read = FALSE".to_owned(),
        };
        q.push(&format!(
            "UPDATE notifications SET is_read = TRUE, read_at = COALESCE(read_at, {t}) WHERE user_id = {u}{filter}"
        ));
        self.db.exec(q).await
    }
}
