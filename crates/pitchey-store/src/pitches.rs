//! Pitches: writes.

use crate::{Arg, Sql, Store, StoreError, Tx, now};
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

const META_COLUMNS: [&str; 7] = [
    "user_id",
    "status",
    "visibility",
    "published_at",
    "view_count",
    "created_at",
    "updated_at",
];

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
    pub async fn insert_pitch(
        &self,
        meta: &PitchMeta,
        fields: &PitchFields,
    ) -> Result<i64, StoreError> {
        let mut tx = self.db.begin().await?;
        let ids = insert_pitches(&mut tx, &[(meta.clone(), fields.clone())]).await?;
        tx.commit().await?;
        ids.first().copied().ok_or(StoreError::NotFound)
    }
}

/// Inserts pitches in multi-row statements (rows with the same set of fields share a statement) and
/// returns their ids in order.
pub(crate) async fn insert_pitches(
    tx: &mut Tx,
    rows: &[(PitchMeta, PitchFields)],
) -> Result<Vec<i64>, StoreError> {
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
