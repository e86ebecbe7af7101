//! Pitches: writes.

use crate::credits::{NdaRef, credit};
use crate::notifications::{NewNotification, notify};
use crate::{Arg, Backend, Sql, Store, StoreError, Tx, now};
use chrono::{DateTime, Utc};
use pitchey_core::{FieldRef, PitchFields, PitchStatus, Visibility};

/// Lifecycle columns set when a pitch is inserted (the create endpoint uses [`PitchMeta::new_draft`]).
#[derive(Debug, Clone)]
pub struct PitchMeta {
    /// Owner.
    pub user_id: i64,
    /// Status.
    pub status: PitchStatus,
    /// Visibility.
    pub visibility: Visibility,
    /// Publication time.
    pub published_at: Option<DateTime<Utc>>,
    /// Initial view count (demo data carries historical views).
    pub view_count: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl PitchMeta {
    /// A private draft owned by `user_id`, created now.
    pub fn new_draft(user_id: i64) -> Self {
        PitchMeta {
            user_id,
            status: PitchStatus::Draft,
            visibility: Visibility::Private,
            published_at: None,
            view_count: 0,
            created_at: now(),
        }
    }
}

pub(crate) fn field_arg(v: FieldRef<'_>) -> Arg {
    match v {
        FieldRef::Text(s) => Arg::from(s),
        FieldRef::Json(j) => Arg::from(j.clone()),
        FieldRef::Bool(b) => Arg::from(b),
        FieldRef::Float(x) => Arg::from(x),
    }
}

const META_COLUMNS: [&str; 7] =
    ["user_id", "status", "visibility", "published_at", "view_count", "created_at", "updated_at"];

fn meta_args(m: &PitchMeta) -> [Arg; 7] {
    [
        m.user_id.into(),
        m.status.as_str().into(),
        m.visibility.as_str().into(),
        m.published_at.into(),
        m.view_count.into(),
        m.created_at.into(),
        m.created_at.into(),
    ]
}

fn columns_of(f: &PitchFields) -> Vec<&'static str> {
    let mut cols = Vec::new();
    f.for_each_set(|c, _| cols.push(c));
    cols
}

/// Most parameters in one statement: under SQLite's limit (32766) and PostgreSQL's (65535).
const MAX_PARAMS: usize = 30_000;

impl Store {
    /// Inserts one pitch and returns its id.
    pub async fn insert_pitch(&self, meta: &PitchMeta, fields: &PitchFields) -> Result<i64, StoreError> {
        let mut tx = self.db.begin().await?;
        let ids = insert_pitches(&mut tx, &[(meta.clone(), fields.clone())]).await?;
        tx.commit().await?;
        ids.first().copied().ok_or(StoreError::NotFound)
    }
}

/// Inserts pitches in multi-row statements (rows with the same set of fields share a statement) and
/// returns their ids in order.
pub(crate) async fn insert_pitches(tx: &mut Tx, rows: &[(PitchMeta, PitchFields)]) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut start = 0;
    while start < rows.len() {
        let cols = columns_of(&rows[start].1);
        let width = META_COLUMNS.len() + cols.len();
        let per_stmt = (MAX_PARAMS / width).max(1);
        let mut end = start + 1;
        while end < rows.len() && end - start < per_stmt && columns_of(&rows[end].1) == cols {
            end += 1;
        }
        let mut q = Sql::dynamic("pitch_insert", String::new());
        let mut text = format!(
            "INSERT INTO pitches ({}{}{}) VALUES ",
            META_COLUMNS.join(", "),
            if cols.is_empty() { "" } else { ", " },
            cols.join(", ")
        );
        for (i, (meta, fields)) in rows[start..end].iter().enumerate() {
            let mut ph: Vec<String> = meta_args(meta).into_iter().map(|a| q.push_arg(a)).collect();
            fields.for_each_set(|_, v| ph.push(q.push_arg(field_arg(v))));
            if i > 0 {
                text.push_str(", ");
            }
            text.push('(');
            text.push_str(&ph.join(", "));
            text.push(')');
        }
        text.push_str(" RETURNING id");
        q.push(&text);
        let mut got: Vec<(i64,)> = tx.all(q).await?;
        // RETURNING order follows VALUES order on both engines for a plain INSERT; sort to be certain.
        got.sort_unstable();
        ids.extend(got.into_iter().map(|r| r.0));
        start = end;
    }
    Ok(ids)
}

use crate::listing::pitch_columns;
use crate::{PitchRow, ProtectedFields};
use pitchey_core::NdaStatus;

/// What moderation did to a pitch ([`Store::moderate_pitch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    /// The pitch's owner.
    pub owner_id: i64,
    /// Its title.
    pub title: String,
    /// Its status now.
    pub status: PitchStatus,
    /// Whether the status changed (hiding a hidden pitch, or restoring one that is not hidden, does not).
    pub changed: bool,
}

/// What changes on `PUT`: fields to overwrite and, optionally, a new status.
#[derive(Debug, Clone, Default)]
pub struct PitchUpdate {
    /// Fields given (others are kept).
    pub fields: PitchFields,
    /// New lifecycle status, if any.
    pub status: Option<PitchStatus>,
}

/// How a status change is applied: publishing also lists the pitch publicly and stamps `published_at`.
fn status_sets(q: &mut Sql, status: PitchStatus, sets: &mut Vec<String>) {
    sets.push(format!("status = {}", q.push_arg(status.as_str())));
    if status == PitchStatus::Published {
        sets.push(format!("visibility = {}", q.push_arg(Visibility::Public.as_str())));
        sets.push(format!("published_at = {}", q.push_arg(now())));
    }
}

pub(crate) fn pitch_by_id_sql(id: i64) -> Sql {
    Sql::new(
        "pitch_by_id",
        concat!("SELECT ", pitch_columns!(full), " FROM pitches p JOIN users u ON u.id = p.user_id WHERE p.id = $1"),
    )
    .arg(id)
}

pub(crate) fn protected_sql(id: i64) -> Sql {
    Sql::new(
        "pitch_protected",
        "SELECT pitch_deck_url, script_url, video_password, budget_breakdown, attached_talent, \
         financial_projections, distribution_plan, marketing_strategy, revenue_model, private_attachments, \
         contact_details, production_timeline FROM pitches WHERE id = $1",
    )
    .arg(id)
}

pub(crate) fn viewer_nda_sql(pitch_id: i64, viewer_id: i64) -> Sql {
    Sql::new(
        "nda_viewer_status",
        "SELECT status, expires_at FROM ndas WHERE pitch_id = $1 AND requester_id = $2 \
         ORDER BY CASE WHEN status IN ('approved', 'signed') THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1",
    )
    .arg(pitch_id)
    .arg(viewer_id)
}

impl Store {
    /// One pitch with all public columns (no access check: callers apply the access rule).
    pub async fn pitch(&self, id: i64) -> Result<Option<PitchRow>, StoreError> {
        self.db.opt(pitch_by_id_sql(id)).await
    }

    /// One pitch read from the primary (right after the caller changed it).
    pub async fn pitch_fresh(&self, id: i64) -> Result<Option<PitchRow>, StoreError> {
        self.db.primary_opt(pitch_by_id_sql(id)).await
    }

    /// The protected columns of a pitch. Call only after the access rule said yes.
    pub async fn pitch_protected(&self, id: i64) -> Result<Option<ProtectedFields>, StoreError> {
        self.db.opt(protected_sql(id)).await
    }

    /// The viewer's NDA for a pitch that currently grants access, in its effective state (expiry applied),
    /// or the latest other one. Read from the primary: an approval or revocation must apply at once.
    pub async fn viewer_nda(&self, pitch_id: i64, viewer_id: i64) -> Result<Option<NdaStatus>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(try_from = "String")]
            status: NdaStatus,
            expires_at: Option<DateTime<Utc>>,
        }
        let q = viewer_nda_sql(pitch_id, viewer_id);
        let t = now();
        Ok(self.db.primary_opt::<Row>(q).await?.map(|r| r.status.effective(r.expires_at.is_some_and(|e| e <= t))))
    }

    /// Has the user liked / saved this pitch?
    pub async fn viewer_flags(&self, pitch_id: i64, user_id: i64) -> Result<(bool, bool), StoreError> {
        let q = Sql::new(
            "pitch_viewer_flags",
            "SELECT EXISTS (SELECT 1 FROM likes WHERE pitch_id = $1 AND user_id = $2), \
                    EXISTS (SELECT 1 FROM saved_pitches WHERE pitch_id = $1 AND user_id = $2)",
        )
        .arg(pitch_id)
        .arg(user_id);
        let (liked, saved): (bool, bool) = self.db.primary_opt(q).await?.unwrap_or((false, false));
        Ok((liked, saved))
    }

    /// Applies a partial update to a pitch the user owns; `false` when no such pitch is owned, or when the
    /// update changes the status of a pitch that moderation hid (only moderation takes it out of `hidden`).
    pub async fn update_pitch(&self, id: i64, owner_id: i64, u: &PitchUpdate) -> Result<bool, StoreError> {
        let mut q = Sql::dynamic("pitch_update", String::new());
        let mut sets = Vec::new();
        u.fields.for_each_set(|col, v| sets.push(format!("{col} = {}", q.push_arg(field_arg(v)))));
        if let Some(s) = u.status {
            status_sets(&mut q, s, &mut sets);
        }
        sets.push(format!("updated_at = {}", q.push_arg(now())));
        let unhidden = if u.status.is_some() { " AND status <> 'hidden'" } else { "" };
        let text = format!(
            "UPDATE pitches SET {} WHERE id = {} AND user_id = {}{unhidden}",
            sets.join(", "),
            q.push_arg(id),
            q.push_arg(owner_id)
        );
        q.push(&text);
        Ok(self.db.exec(q).await? == 1)
    }

    /// Sets a pitch's status (publish, archive); `false` when the user owns no such pitch.
    pub async fn set_pitch_status(&self, id: i64, owner_id: i64, status: PitchStatus) -> Result<bool, StoreError> {
        self.update_pitch(id, owner_id, &PitchUpdate { fields: PitchFields::default(), status: Some(status) }).await
    }

    /// Deletes a pitch the user owns (its likes, saves, views and NDAs go with it); `false` when none.
    /// Pending NDA requests paid for an answer that will never come: their credits go back to the
    /// requesters, who are told, in the same transaction as the delete.
    pub async fn delete_pitch(&self, id: i64, owner_id: i64) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        // The pitch first (as an NDA request does), then its pending requests: a concurrent decline waits
        // for these locks or has committed before them, so no request is refunded twice. On PostgreSQL the
        // pitch is locked `FOR UPDATE`, the lock its `DELETE` needs at the end: a weaker one would let a
        // like's or a save's foreign-key check take a share lock on the row meanwhile, and the two
        // transactions would each wait for the other. (SQLite runs one writer at a time.)
        let lock = match self.backend() {
            Backend::Postgres => "SELECT id FROM pitches WHERE id = $1 AND user_id = $2 FOR UPDATE",
            Backend::Sqlite => "UPDATE pitches SET nda_count = nda_count WHERE id = $1 AND user_id = $2 RETURNING id",
        };
        if tx.opt::<(i64,)>(Sql::new("pitch_delete_lock", lock).arg(id).arg(owner_id)).await?.is_none() {
            return Ok(false);
        }
        let pending = Sql::new(
            "pitch_delete_lock_ndas",
            "UPDATE ndas SET updated_at = updated_at WHERE pitch_id = $1 AND status = 'pending'",
        );
        tx.exec(pending.arg(id)).await?;
        let paid: Vec<(i64, i64, i64, String)> = tx
            .all(
                Sql::new(
                    "pitch_delete_pending_ndas",
                    "SELECT n.id, n.requester_id, n.credits_used, p.title FROM ndas n JOIN pitches p ON p.id = n.pitch_id \
                     WHERE n.pitch_id = $1 AND n.status = 'pending' AND n.credits_used > 0 \
                     ORDER BY n.requester_id, n.id",
                )
                .arg(id),
            )
            .await?;
        // In requester order: each refund locks that user's credit row, and two deletes refunding the same
        // users must lock them in the same order, or each may wait for the other.
        for (nda_id, requester, credits, title) in paid {
            let about = Some(NdaRef { nda_id, pitch_id: id });
            credit(&mut tx, requester, credits, "refund", "Refund: pitch withdrawn", about).await?;
            notify(
                &mut tx,
                NewNotification {
                    user_id: requester,
                    kind: "nda_cancelled",
                    title: "NDA Request Cancelled",
                    message: format!("\"{title}\" was withdrawn; your {credits} credits were refunded"),
                    related_id: None,
                    related_type: None,
                    related_pitch_id: None,
                    // The pitch may have hidden its creator from the requester.
                    from_user_id: None,
                    priority: "normal",
                    data: None,
                },
            )
            .await?;
        }
        let q = Sql::new("pitch_delete", "DELETE FROM pitches WHERE id = $1 AND user_id = $2").arg(id).arg(owner_id);
        let deleted = tx.exec(q).await? == 1;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Moderation: `hide` takes a published pitch out of everyone's view but its owner's (status `hidden`,
    /// which only moderation changes; any other status is left as it is, `changed: false`); otherwise a
    /// hidden pitch is restored to `published`. The owner is told, with `reason`, in the same transaction.
    /// `None` when there is no such pitch.
    pub async fn moderate_pitch(
        &self,
        id: i64,
        hide: bool,
        reason: Option<&str>,
    ) -> Result<Option<Moderated>, StoreError> {
        let mut tx = self.db.begin().await?;
        let lock = match self.backend() {
            Backend::Postgres => {
                "SELECT user_id, title, status, published_at IS NOT NULL AS was_published FROM pitches WHERE id = $1 FOR UPDATE"
            }
            Backend::Sqlite => {
                "UPDATE pitches SET nda_count = nda_count WHERE id = $1 \
                 RETURNING user_id, title, status, published_at IS NOT NULL AS was_published"
            }
        };
        #[derive(sqlx::FromRow)]
        struct Row {
            user_id: i64,
            title: String,
            #[sqlx(try_from = "String")]
            status: PitchStatus,
            was_published: bool,
        }
        let Some(Row { user_id: owner_id, title, status, was_published }) =
            tx.opt::<Row>(Sql::new("pitch_moderate_lock", lock).arg(id)).await?
        else {
            return Ok(None);
        };
        // Only what the public sees is taken down, and while hidden its owner cannot change its status
        // (`update_pitch`), so a restored pitch was published. (One hidden by hand in the database, from
        // any status, comes back published if it ever was, else as a draft.)
        let target = match (hide, status) {
            (true, PitchStatus::Published) => PitchStatus::Hidden,
            (true, other) => other,
            (false, PitchStatus::Hidden) if was_published => PitchStatus::Published,
            (false, PitchStatus::Hidden) => PitchStatus::Draft,
            (false, other) => other,
        };
        if target == status {
            return Ok(Some(Moderated { owner_id, title, status, changed: false }));
        }
        let q = Sql::new("pitch_moderate", "UPDATE pitches SET status = $1, updated_at = $2 WHERE id = $3")
            .arg(target.as_str())
            .arg(now())
            .arg(id);
        tx.exec(q).await?;
        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
        let (kind, headline, message) = if hide {
            ("pitch_hidden", "Pitch hidden by moderation", format!("\"{title}\" was hidden by moderation{why}"))
        } else {
            ("pitch_restored", "Pitch restored", format!("\"{title}\" was restored by moderation{why}"))
        };
        notify(
            &mut tx,
            NewNotification {
                user_id: owner_id,
                kind,
                title: headline,
                message,
                related_id: Some(id),
                related_type: Some("pitch"),
                related_pitch_id: Some(id),
                from_user_id: None,
                priority: "high",
                data: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(Moderated { owner_id, title, status: target, changed: true }))
    }

    /// The owner of a pitch and its status (for authorisation decisions).
    pub async fn pitch_owner(&self, id: i64) -> Result<Option<(i64, PitchStatus)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            user_id: i64,
            #[sqlx(try_from = "String")]
            status: PitchStatus,
        }
        let q = Sql::new("pitch_owner", "SELECT user_id, status FROM pitches WHERE id = $1").arg(id);
        Ok(self.db.primary_opt::<Row>(q).await?.map(|r| (r.user_id, r.status)))
    }
}
