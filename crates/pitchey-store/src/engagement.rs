//! Views, likes, saves and follows. Counters on `pitches` change in the same transaction as the rows they
//! count, and only when a row was really inserted or deleted, so they stay exact under concurrency.

use crate::notifications::{NewNotification, notify};
use crate::{Page, PitchRow, Sql, Store, StoreError, Tx, listing::pitch_columns, now};
use chrono::{DateTime, Duration, Utc};

/// Outcome of recording a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewOutcome {
    /// A new view was counted.
    Counted {
        /// The view row.
        view_id: i64,
        /// When.
        viewed_at: DateTime<Utc>,
    },
    /// The viewer was already counted (signed-in: ever; anonymous: within 24 hours).
    Duplicate,
    /// The owner's own views are not counted.
    Owner,
    /// No published pitch with this id.
    NotFound,
}

/// A saved pitch with the pitch's card fields.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SavedPitch {
    /// Saved-row id.
    pub saved_id: i64,
    /// Saver.
    pub saved_user_id: i64,
    /// Notes.
    pub notes: Option<String>,
    /// When saved.
    pub saved_at: DateTime<Utc>,
    /// The pitch.
    #[sqlx(flatten)]
    pub pitch: PitchRow,
}

/// A user in a follower or following list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FollowUser {
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
    /// Avatar.
    pub profile_image: Option<String>,
    /// Profile text.
    pub bio: Option<String>,
    /// When the follow started.
    pub followed_at: DateTime<Utc>,
}

/// Follower and following counts of a user, and the relation to a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FollowStats {
    /// Users following this one.
    pub followers: i64,
    /// Users this one follows.
    pub following: i64,
    /// Users both following and followed.
    pub mutual: i64,
}

/// Locks a pitch row for the rest of the transaction ([`lock_pitch`]) and returns its owner if it is
/// published.
async fn lock_published(tx: &mut Tx, pitch_id: i64) -> Result<Option<i64>, StoreError> {
    if !lock_pitch(tx, pitch_id).await? {
        return Ok(None);
    }
    Ok(tx
        .opt::<(i64,)>(
            Sql::new("pitch_published_owner", "SELECT user_id FROM pitches WHERE id = $1 AND status = 'published'")
                .arg(pitch_id),
        )
        .await?
        .map(|r| r.0))
}

/// Locks a pitch's row for the rest of the transaction (a no-op update works on both engines; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers); `false` when the pitch does not exist (or was deleted
/// while this waited).
///
/// Every transaction that adds or removes a row referring to a pitch and counts it on the pitch (a view, a
/// like, a save, an NDA request) takes this lock **before** touching the child row. Otherwise, on
/// PostgreSQL, the child insert's foreign-key check holds a share lock on the pitch row while the
/// transaction waits to update its counter, and a concurrent delete of the pitch, which holds the row lock
/// and waits for that share lock to go, deadlocks with it.
pub(crate) async fn lock_pitch(tx: &mut Tx, pitch_id: i64) -> Result<bool, StoreError> {
    Ok(tx
        .exec(Sql::new("pitch_lock", "UPDATE pitches SET like_count = like_count WHERE id = $1").arg(pitch_id))
        .await?
        == 1)
}

/// How many anonymous views one network (an address, or an IPv6 /64) adds to a pitch in 24 hours, however
/// many session headers it sends.
pub const ANON_VIEWS_PER_NETWORK: i64 = 5;

/// An anonymous viewer: the key a view is deduplicated on (session header or address) and the network it
/// came from.
#[derive(Debug, Clone, Copy)]
pub struct AnonViewer<'a> {
    /// Session header or client address.
    pub key: &'a str,
    /// Client address, or its /64 for IPv6.
    pub network: &'a str,
}

pub(crate) fn view_network_recent_sql(pitch_id: i64, network: &str, since: DateTime<Utc>) -> Sql {
    Sql::new(
        "view_network_recent",
        "SELECT count(*) FROM (SELECT 1 FROM views WHERE pitch_id = $1 AND anon_net = $2 AND user_id IS NULL \
         AND viewed_at > $3 LIMIT $4) recent",
    )
    .arg(pitch_id)
    .arg(network)
    .arg(since)
    .arg(ANON_VIEWS_PER_NETWORK)
}

pub(crate) fn view_find_anon_sql(pitch_id: i64, anon_key: &str, since: DateTime<Utc>) -> Sql {
    Sql::new(
        "view_find_anon",
        "SELECT id FROM views WHERE pitch_id = $1 AND anon_key = $2 AND user_id IS NULL AND viewed_at > $3 LIMIT 1",
    )
    .arg(pitch_id)
    .arg(anon_key)
    .arg(since)
}

pub(crate) fn saved_list_sql(user_id: i64, limit: i64, offset: i64) -> Sql {
    let mut q = Sql::dynamic("saved_list", String::new()).arg(user_id);
    let (lim, off) = (q.push_count(limit), q.push_count(offset));
    q.push(concat!(
        "SELECT s.id AS saved_id, s.user_id AS saved_user_id, s.notes, s.saved_at, ",
        pitch_columns!(card),
        " FROM saved_pitches s JOIN pitches p ON p.id = s.pitch_id JOIN users u ON u.id = p.user_id \
         WHERE s.user_id = $1 AND (p.status = 'published' OR p.user_id = $1) \
         ORDER BY s.saved_at DESC, s.id DESC LIMIT "
    ));
    q.push(&format!("{lim} OFFSET {off}"));
    q
}

pub(crate) fn follow_list_sql(user_id: i64, followers: bool, limit: i64, offset: i64) -> Sql {
    // Followers: who follows `user_id`; following: whom `user_id` follows.
    let (name, listed, by) = if followers {
        ("follow_list_followers", "follower_id", "following_id")
    } else {
        ("follow_list_following", "following_id", "follower_id")
    };
    let mut q = Sql::dynamic(name, String::new()).arg(user_id);
    let (lim, off) = (q.push_count(limit), q.push_count(offset));
    q.push(&format!(
        "SELECT u.id, u.username, u.user_type, u.first_name, u.last_name, u.company_name, u.profile_image, u.bio, \
         f.created_at AS followed_at FROM follows f JOIN users u ON u.id = f.{listed} \
         WHERE f.{by} = $1 ORDER BY f.created_at DESC, u.id DESC LIMIT {lim} OFFSET {off}"
    ));
    q
}

impl Store {
    /// Records a view by a signed-in user, or else by an anonymous viewer: once per key per 24 hours, and
    /// at most [`ANON_VIEWS_PER_NETWORK`] per network per 24 hours.
    pub async fn track_view(
        &self,
        pitch_id: i64,
        user_id: Option<i64>,
        anon: AnonViewer<'_>,
    ) -> Result<ViewOutcome, StoreError> {
        let mut tx = self.db.begin().await?;
        let Some(owner) = lock_published(&mut tx, pitch_id).await? else {
            return Ok(ViewOutcome::NotFound);
        };
        if user_id == Some(owner) {
            return Ok(ViewOutcome::Owner);
        }
        let t = now();
        let new_id: Option<(i64,)> = match user_id {
            Some(u) => {
                let r = tx
                    .opt(
                        Sql::new(
                            "view_insert_user",
                            "INSERT INTO views (pitch_id, user_id, viewed_at, created_at) VALUES ($1, $2, $3, $3) \
                             ON CONFLICT (user_id, pitch_id) WHERE user_id IS NOT NULL DO NOTHING RETURNING id",
                        )
                        .arg(pitch_id)
                        .arg(u)
                        .arg(t),
                    )
                    .await?;
                if r.is_none() {
                    tx.exec(
                        Sql::new(
                            "view_touch_user",
                            "UPDATE views SET viewed_at = $1 WHERE user_id = $2 AND pitch_id = $3",
                        )
                        .arg(t)
                        .arg(u)
                        .arg(pitch_id),
                    )
                    .await?;
                }
                r
            }
            None => {
                // The pitch row lock makes these check-then-insert steps safe against concurrent duplicates.
                let since = t - Duration::hours(24);
                let seen = tx.opt::<(i64,)>(view_find_anon_sql(pitch_id, anon.key, since)).await?.is_some();
                let (from_network,): (i64,) = tx.one(view_network_recent_sql(pitch_id, anon.network, since)).await?;
                if seen || from_network >= ANON_VIEWS_PER_NETWORK {
                    None
                } else {
                    Some(
                        tx.one(
                            Sql::new(
                                "view_insert_anon",
                                "INSERT INTO views (pitch_id, anon_key, anon_net, viewed_at, created_at) \
                                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
                            )
                            .arg(pitch_id)
                            .arg(anon.key)
                            .arg(anon.network)
                            .arg(t),
                        )
                        .await?,
                    )
                }
            }
        };
        let outcome = match new_id {
            Some((view_id,)) => {
                tx.exec(
                    Sql::new("pitch_view_inc", "UPDATE pitches SET view_count = view_count + 1 WHERE id = $1")
                        .arg(pitch_id),
                )
                .await?;
                ViewOutcome::Counted { view_id, viewed_at: t }
            }
            None => ViewOutcome::Duplicate,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Likes (`true`) or unlikes a pitch; returns whether it is now liked and the pitch's like count,
    /// or `None` if the pitch does not exist.
    pub async fn set_like(&self, pitch_id: i64, user_id: i64, like: bool) -> Result<Option<(bool, i64)>, StoreError> {
        let mut tx = self.db.begin().await?;
        if !lock_pitch(&mut tx, pitch_id).await? {
            return Ok(None);
        }
        let changed = if like {
            let ins = Sql::new(
                "like_insert",
                "INSERT INTO likes (user_id, pitch_id, created_at) SELECT $1, id, $3 FROM pitches WHERE id = $2 \
                 ON CONFLICT (user_id, pitch_id) DO NOTHING",
            )
            .arg(user_id)
            .arg(pitch_id)
            .arg(now());
            tx.exec(ins).await?
        } else {
            tx.exec(
                Sql::new("like_delete", "DELETE FROM likes WHERE user_id = $1 AND pitch_id = $2")
                    .arg(user_id)
                    .arg(pitch_id),
            )
            .await?
        };
        if changed == 1 {
            let text = if like {
                "UPDATE pitches SET like_count = like_count + 1 WHERE id = $1"
            } else {
                "UPDATE pitches SET like_count = like_count - 1 WHERE id = $1"
            };
            tx.exec(Sql::new("pitch_like_count", text).arg(pitch_id)).await?;
        }
        let count = tx
            .opt::<(i64,)>(
                Sql::new("pitch_like_count_read", "SELECT like_count FROM pitches WHERE id = $1").arg(pitch_id),
            )
            .await?;
        tx.commit().await?;
        Ok(count.map(|(c,)| (like, c)))
    }

    /// Saves a pitch (idempotent; updates the notes when given); returns the saved row id and time, or
    /// `None` when the pitch does not exist.
    pub async fn save_pitch(
        &self,
        pitch_id: i64,
        user_id: i64,
        notes: Option<&str>,
    ) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
        let mut tx = self.db.begin().await?;
        if !lock_pitch(&mut tx, pitch_id).await? {
            return Ok(None);
        }
        let inserted = tx
            .exec(
                Sql::new(
                    "save_insert",
                    "INSERT INTO saved_pitches (user_id, pitch_id, notes, saved_at) SELECT $1, id, $3, $4 FROM pitches \
                     WHERE id = $2 ON CONFLICT (user_id, pitch_id) DO NOTHING",
                )
                .arg(user_id)
                .arg(pitch_id)
                .arg(notes)
                .arg(now()),
            )
            .await?;
        if inserted == 1 {
            tx.exec(
                Sql::new("pitch_save_inc", "UPDATE pitches SET save_count = save_count + 1 WHERE id = $1")
                    .arg(pitch_id),
            )
            .await?;
        } else if let Some(n) = notes {
            tx.exec(
                Sql::new("save_notes", "UPDATE saved_pitches SET notes = $1 WHERE user_id = $2 AND pitch_id = $3")
                    .arg(n)
                    .arg(user_id)
                    .arg(pitch_id),
            )
            .await?;
        }
        let row = tx
            .opt::<(i64, DateTime<Utc>)>(
                Sql::new("save_find", "SELECT id, saved_at FROM saved_pitches WHERE user_id = $1 AND pitch_id = $2")
                    .arg(user_id)
                    .arg(pitch_id),
            )
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Removes a saved pitch, matched by saved-row id first and then by pitch id; returns the pitch id.
    pub async fn unsave(&self, user_id: i64, id_or_pitch: i64, by_pitch_only: bool) -> Result<Option<i64>, StoreError> {
        let mut tx = self.db.begin().await?;
        let mut found = None;
        if !by_pitch_only {
            found = tx
                .opt::<(i64,)>(
                    Sql::new("save_by_id", "SELECT pitch_id FROM saved_pitches WHERE id = $1 AND user_id = $2")
                        .arg(id_or_pitch)
                        .arg(user_id),
                )
                .await?;
        }
        if found.is_none() {
            found = tx
                .opt::<(i64,)>(
                    Sql::new(
                        "save_by_pitch",
                        "SELECT pitch_id FROM saved_pitches WHERE pitch_id = $1 AND user_id = $2",
                    )
                    .arg(id_or_pitch)
                    .arg(user_id),
                )
                .await?;
        }
        let Some((pitch_id,)) = found else {
            return Ok(None);
        };
        // A pitch deleted meanwhile took its saved rows with it.
        if !lock_pitch(&mut tx, pitch_id).await? {
            return Ok(None);
        }
        let deleted = tx
            .exec(
                Sql::new("save_delete", "DELETE FROM saved_pitches WHERE pitch_id = $1 AND user_id = $2")
                    .arg(pitch_id)
                    .arg(user_id),
            )
            .await?;
        // Two concurrent removals both find the row (PostgreSQL, read committed); only the one whose DELETE
        // removed it counts it down.
        if deleted == 1 {
            tx.exec(
                Sql::new("pitch_save_dec", "UPDATE pitches SET save_count = save_count - 1 WHERE id = $1")
                    .arg(pitch_id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(pitch_id))
    }

    /// Updates the notes of a saved row; `false` when the user has no such row.
    pub async fn set_saved_notes(&self, user_id: i64, saved_id: i64, notes: Option<&str>) -> Result<bool, StoreError> {
        let q = Sql::new("save_set_notes", "UPDATE saved_pitches SET notes = $1 WHERE id = $2 AND user_id = $3")
            .arg(notes)
            .arg(saved_id)
            .arg(user_id);
        Ok(self.db.exec(q).await? == 1)
    }

    /// A user's saved pitches, newest first. Pitches that stopped being visible (unpublished by their
    /// owner) are left out.
    pub async fn saved_pitches(&self, user_id: i64, limit: i64, offset: i64) -> Result<Page<SavedPitch>, StoreError> {
        let q = saved_list_sql(user_id, limit, offset);
        let items = self.db.primary_all(q).await?;
        let (total,): (i64,) = self
            .db
            .primary_one(
                Sql::new(
                    "saved_count",
                    "SELECT COUNT(*) FROM saved_pitches s JOIN pitches p ON p.id = s.pitch_id \
                     WHERE s.user_id = $1 AND (p.status = 'published' OR p.user_id = $1)",
                )
                .arg(user_id),
            )
            .await?;
        Ok(Page { items, total })
    }

    /// The saved row of a pitch, if the user saved it: `(saved id, saved at)`.
    pub async fn saved_entry(&self, user_id: i64, pitch_id: i64) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
        let q = Sql::new("save_check", "SELECT id, saved_at FROM saved_pitches WHERE user_id = $1 AND pitch_id = $2")
            .arg(user_id)
            .arg(pitch_id);
        self.db.primary_opt(q).await
    }

    /// Follows or unfollows a user; returns whether anything changed, or `None` if the target does not exist.
    pub async fn set_follow(&self, follower: i64, target: i64, follow: bool) -> Result<Option<bool>, StoreError> {
        if self.user_by_id(target).await?.is_none() {
            return Ok(None);
        }
        if !follow {
            let q = Sql::new("follow_delete", "DELETE FROM follows WHERE follower_id = $1 AND following_id = $2")
                .arg(follower)
                .arg(target);
            return Ok(Some(self.db.exec(q).await? == 1));
        }
        let mut tx = self.db.begin().await?;
        let n = tx
            .exec(
                Sql::new(
                    "follow_insert",
                    "INSERT INTO follows (follower_id, following_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (follower_id, following_id) DO NOTHING",
                )
                .arg(follower)
                .arg(target)
                .arg(now()),
            )
            .await?;
        // One "new follower" notification per follower per day: following, unfollowing and following again
        // must not flood the followed user's notifications.
        let told_lately = Sql::new(
            "follow_told_lately",
            "SELECT id FROM notifications WHERE user_id = $1 AND type = 'new_follower' \
             AND from_user_id = $2 AND created_at > $3 LIMIT 1",
        );
        let told_lately = told_lately.arg(target).arg(follower).arg(now() - Duration::hours(24));
        if n == 1 && tx.opt::<(i64,)>(told_lately).await?.is_none() {
            let who: Option<(String,)> = tx
                .opt(
                    Sql::new(
                        "follow_who",
                        "SELECT COALESCE(NULLIF(TRIM(COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')), ''), username) \
                         FROM users WHERE id = $1",
                    )
                    .arg(follower),
                )
                .await?;
            let name = who.map_or_else(|| "Someone".to_owned(), |w| w.0);
            notify(
                &mut tx,
                NewNotification {
                    user_id: target,
                    kind: "new_follower",
                    title: "New Follower",
                    message: format!("{name} started following you"),
                    related_id: Some(follower),
                    related_type: Some("user"),
                    related_pitch_id: None,
                    from_user_id: Some(follower),
                    priority: "normal",
                    data: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(n == 1))
    }

    /// Follows or unfollows a pitch; `None` if the pitch does not exist.
    pub async fn set_pitch_follow(
        &self,
        user_id: i64,
        pitch_id: i64,
        follow: bool,
    ) -> Result<Option<bool>, StoreError> {
        let n = if follow {
            let inserted = self
                .db
                .exec(
                    Sql::new(
                        "pitch_follow_insert",
                        "INSERT INTO pitch_follows (user_id, pitch_id, created_at) SELECT $1, id, $3 FROM pitches WHERE id = $2 \
                         ON CONFLICT (user_id, pitch_id) DO NOTHING",
                    )
                    .arg(user_id)
                    .arg(pitch_id)
                    .arg(now()),
                )
                .await;
            match inserted {
                // The pitch was deleted between the insert's read of it and its foreign-key check.
                Err(StoreError::ForeignKey) => return Ok(None),
                other => other?,
            }
        } else {
            self.db
                .exec(
                    Sql::new("pitch_follow_delete", "DELETE FROM pitch_follows WHERE user_id = $1 AND pitch_id = $2")
                        .arg(user_id)
                        .arg(pitch_id),
                )
                .await?
        };
        if n == 0 && self.pitch_owner(pitch_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(n == 1))
    }

    /// Does `follower` follow `target`?
    pub async fn is_following(&self, follower: i64, target: i64) -> Result<bool, StoreError> {
        let q = Sql::new("follow_check", "SELECT 1 FROM follows WHERE follower_id = $1 AND following_id = $2")
            .arg(follower)
            .arg(target);
        Ok(self.db.primary_opt::<(i32,)>(q).await?.is_some())
    }

    /// Follower, following and mutual counts.
    pub async fn follow_stats(&self, user_id: i64) -> Result<FollowStats, StoreError> {
        let q = Sql::new(
            "follow_stats",
            "SELECT (SELECT COUNT(*) FROM follows WHERE following_id = $1), \
                    (SELECT COUNT(*) FROM follows WHERE follower_id = $1), \
                    (SELECT COUNT(*) FROM follows a JOIN follows b ON b.follower_id = a.following_id AND b.following_id = $1 \
                     WHERE a.follower_id = $1)",
        )
        .arg(user_id);
        let (followers, following, mutual): (i64, i64, i64) = self.db.primary_one(q).await?;
        Ok(FollowStats { followers, following, mutual })
    }

    /// Users following `user_id` (`followers = true`) or followed by them, newest first.
    pub async fn follow_list(
        &self,
        user_id: i64,
        followers: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FollowUser>, StoreError> {
        let q = follow_list_sql(user_id, followers, limit, offset);
        self.db.primary_all(q).await
    }
}
