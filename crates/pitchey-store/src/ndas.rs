//! NDAs: one row from request to signature. Every change runs in one transaction that locks the NDA (or,
//! for a request, the pitch), applies the pure state machine of `pitchey_core::nda`, and writes the side
//! effects — credits, counters, notifications — with it.

use crate::credits::{NDA_REQUEST_COST, NdaRef, credit, debit};
use crate::notifications::{NewNotification, notify};
use crate::{Sql, Store, StoreError, Tx, now};
use chrono::{DateTime, Duration, Utc};
use pitchey_core::nda::{check_request, transition};
use pitchey_core::{NdaAction, NdaActor, NdaError, NdaStatus, PitchStatus, UserType};
use serde_json::{Value, json};

/// Columns of [`NdaRow`] with the pitch, requester and owner joined.
macro_rules! nda_select {
    () => {
        "SELECT n.id, n.pitch_id, n.requester_id, n.owner_id, n.status, n.nda_type, n.message, n.company_info, \
         n.custom_terms, n.expiry_days, n.expires_at, n.approved_at, n.approved_by, n.rejected_at, n.rejection_reason, \
         n.signed_at, n.signature_data, n.revoked_at, n.revocation_reason, n.credits_used, n.created_at, n.updated_at, \
         p.title AS pitch_title, p.genre AS pitch_genre, p.require_nda AS pitch_require_nda, \
         r.username AS requester_username, r.first_name AS requester_first_name, r.last_name AS requester_last_name, \
         r.company_name AS requester_company, r.email AS requester_email, r.user_type AS requester_type, \
         o.username AS owner_username, o.first_name AS owner_first_name, o.last_name AS owner_last_name, \
         o.company_name AS owner_company, o.email AS owner_email, o.user_type AS owner_type \
         FROM ndas n JOIN pitches p ON p.id = n.pitch_id JOIN users r ON r.id = n.requester_id \
         JOIN users o ON o.id = n.owner_id"
    };
}

/// An NDA with its pitch and both parties. `status` is as stored; use [`NdaRow::effective`] for what it
/// means now (an approved or signed NDA past `expires_at` is expired).
#[allow(missing_docs)] // fields mirror the columns of `ndas` and the joined names
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NdaRow {
    pub id: i64,
    pub pitch_id: i64,
    pub requester_id: i64,
    pub owner_id: i64,
    #[sqlx(try_from = "String")]
    pub status: NdaStatus,
    pub nda_type: String,
    pub message: Option<String>,
    #[sqlx(json(nullable))]
    pub company_info: Option<Value>,
    pub custom_terms: Option<String>,
    pub expiry_days: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<i64>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    #[sqlx(json(nullable))]
    pub signature_data: Option<Value>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    pub credits_used: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pitch_title: String,
    pub pitch_genre: String,
    pub pitch_require_nda: bool,
    pub requester_username: String,
    pub requester_first_name: Option<String>,
    pub requester_last_name: Option<String>,
    pub requester_company: Option<String>,
    pub requester_email: String,
    pub requester_type: String,
    pub owner_username: String,
    pub owner_first_name: Option<String>,
    pub owner_last_name: Option<String>,
    pub owner_company: Option<String>,
    pub owner_email: String,
    pub owner_type: String,
}

impl NdaRow {
    /// The state now: expiry applied.
    pub fn effective(&self) -> NdaStatus {
        self.status.effective(self.expires_at.is_some_and(|e| e <= now()))
    }
}

/// A new NDA request.
#[derive(Debug, Clone, Default)]
pub struct NdaRequest {
    /// Kind of NDA (`basic`, `enhanced`, `custom`).
    pub nda_type: String,
    /// Message to the owner.
    pub message: Option<String>,
    /// Requested validity in days (applied from approval).
    pub expiry_days: Option<i64>,
    /// The requester's company details.
    pub company_info: Option<Value>,
}

/// Why an NDA operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NdaFailure {
    /// The pitch does not exist or is not published.
    #[error("pitch not found")]
    PitchNotFound,
    /// Not enough credits for a request.
    #[error("insufficient credits")]
    InsufficientCredits,
    /// The rules refused it.
    #[error(transparent)]
    Rule(#[from] NdaError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Extra data of an action.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    /// Rejection or revocation reason.
    pub reason: Option<String>,
    /// Validity in days from approval (overrides the request's).
    pub expiry_days: Option<i64>,
    /// Custom terms set on approval.
    pub custom_terms: Option<String>,
    /// Signature details (sign).
    pub signature: Option<Value>,
}

/// Filters for NDA lists. A user sees only NDAs they are a party to.
#[derive(Debug, Clone, Default)]
pub struct NdaFilter {
    /// NDAs the user requested.
    pub as_requester: bool,
    /// NDAs on the user's pitches.
    pub as_owner: bool,
    /// Only these effective statuses (any when empty).
    pub statuses: Vec<NdaStatus>,
    /// Only signed ones (`signed_at` set).
    pub signed_only: bool,
    /// Only this pitch.
    pub pitch_id: Option<i64>,
    /// Only this requester (owner's filter).
    pub requester_id: Option<i64>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// Counts of a user's NDAs by effective status, on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NdaStats {
    /// All.
    pub total: i64,
    /// Pending.
    pub pending: i64,
    /// Approved (not yet signed, unexpired).
    pub approved: i64,
    /// Signed (unexpired).
    pub signed: i64,
    /// Rejected.
    pub rejected: i64,
    /// Expired.
    pub expired: i64,
    /// Revoked.
    pub revoked: i64,
    /// Requests on the user's pitches.
    pub incoming: i64,
    /// Requests the user made.
    pub outgoing: i64,
    /// Mean hours from request to decision, over decided requests.
    pub avg_response_hours: Option<f64>,
}

/// When a request was made, approved and rejected.
type DecisionTimes = (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Status predicate with expiry applied at `now` (`$t` is the bound current time).
fn status_condition(s: NdaStatus, t: &str) -> String {
    match s {
        NdaStatus::Expired => {
            format!("(n.status = 'expired' OR (n.status IN ('approved', 'signed') AND n.expires_at <= {t}))")
        }
        NdaStatus::Approved | NdaStatus::Signed => {
            format!("(n.status = '{}' AND (n.expires_at IS NULL OR n.expires_at > {t}))", s.as_str())
        }
        other => format!("n.status = '{}'", other.as_str()),
    }
}

async fn load(tx: &mut Tx, id: i64) -> Result<Option<NdaRow>, StoreError> {
    tx.opt(Sql::new("nda_by_id", concat!(nda_select!(), " WHERE n.id = $1")).arg(id)).await
}

fn display(first: &Option<String>, last: &Option<String>, company: &Option<String>, username: &str) -> String {
    let full = [first.as_deref(), last.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    match company.as_deref().filter(|c| !c.is_empty()) {
        Some(c) if full.trim().is_empty() => c.to_owned(),
        _ if full.trim().is_empty() => username.to_owned(),
        _ => full,
    }
}

impl Store {
    /// Requests an NDA: checks the rules, charges [`NDA_REQUEST_COST`] credits, creates the NDA, counts it on
    /// the pitch and notifies the owner — all or nothing.
    pub async fn request_nda(
        &self,
        pitch_id: i64,
        requester: i64,
        requester_type: UserType,
        req: &NdaRequest,
    ) -> Result<(NdaRow, i64), NdaFailure> {
        let mut tx = self.db.begin().await?;
        if !crate::engagement::lock_pitch(&mut tx, pitch_id).await? {
            return Err(NdaFailure::PitchNotFound);
        }
        #[derive(sqlx::FromRow)]
        struct P {
            user_id: i64,
            #[sqlx(try_from = "String")]
            status: PitchStatus,
            title: String,
        }
        let p: Option<P> = tx
            .opt(Sql::new("nda_pitch", "SELECT user_id, status, title FROM pitches WHERE id = $1").arg(pitch_id))
            .await?;
        let Some(p) = p.filter(|p| p.status == PitchStatus::Published || p.user_id == requester) else {
            return Err(NdaFailure::PitchNotFound);
        };
        let t = now();
        // Approved or signed NDAs past their expiry are expired: record that (and tell the requester, as the
        // sweep would have) before the rules look.
        let due: Vec<(i64,)> = tx
            .all(
                Sql::new(
                    "nda_due_pair",
                    "SELECT id FROM ndas WHERE pitch_id = $1 AND requester_id = $2 \
                     AND status IN ('approved', 'signed') AND expires_at <= $3",
                )
                .arg(pitch_id)
                .arg(requester)
                .arg(t),
            )
            .await?;
        for (id,) in due {
            expire_in(&mut tx, id, p.user_id).await?;
        }
        let latest: Option<(String,)> = tx
            .opt(
                Sql::new(
                    "nda_latest_status",
                    "SELECT status FROM ndas WHERE pitch_id = $1 AND requester_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .arg(pitch_id)
                .arg(requester),
            )
            .await?;
        let latest = latest.and_then(|(s,)| s.parse::<NdaStatus>().ok());
        check_request(requester_type, p.user_id == requester, latest)?;
        let inserted = tx
            .one::<(i64,)>(
                Sql::new(
                    "nda_insert",
                    "INSERT INTO ndas (pitch_id, requester_id, owner_id, status, nda_type, message, company_info, \
                     expiry_days, credits_used, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $9) RETURNING id",
                )
                .arg(pitch_id)
                .arg(requester)
                .arg(p.user_id)
                .arg(&req.nda_type)
                .arg(req.message.clone())
                .arg(req.company_info.clone())
                .arg(req.expiry_days)
                .arg(NDA_REQUEST_COST)
                .arg(t),
            )
            .await;
        let id = match inserted {
            Ok((id,)) => id,
            // A concurrent request by the same user won the unique index.
            Err(StoreError::Conflict(_)) => return Err(NdaFailure::Rule(NdaError::AlreadyExists)),
            Err(e) => return Err(e.into()),
        };
        // Charged after the insert, so the ledger row names the request; without the credits, the
        // transaction is dropped and the insert with it.
        let charge = format!("NDA request for \"{}\"", p.title);
        let about = Some(NdaRef { nda_id: id, pitch_id });
        let Some(balance) = debit(&mut tx, requester, NDA_REQUEST_COST, "nda_request", &charge, about).await? else {
            return Err(NdaFailure::InsufficientCredits);
        };
        tx.exec(Sql::new("pitch_nda_inc", "UPDATE pitches SET nda_count = nda_count + 1 WHERE id = $1").arg(pitch_id))
            .await?;
        let row = load(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        let who = display(
            &row.requester_first_name,
            &row.requester_last_name,
            &row.requester_company,
            &row.requester_username,
        );
        notify(
            &mut tx,
            NewNotification {
                user_id: p.user_id,
                kind: "nda_request",
                title: "New NDA Request",
                message: format!("{who} requested an NDA for \"{}\"", p.title),
                related_id: Some(id),
                related_type: Some("nda"),
                related_pitch_id: Some(pitch_id),
                from_user_id: Some(requester),
                priority: "normal",
                data: Some(json!({ "ndaId": id, "pitchId": pitch_id })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((row, balance))
    }

    /// Applies an action by `actor_id` to NDA `id`; returns the NDA afterwards.
    pub async fn nda_action(
        &self,
        id: i64,
        actor_id: i64,
        action: NdaAction,
        input: &ActionInput,
    ) -> Result<NdaRow, NdaFailure> {
        let mut tx = self.db.begin().await?;
        if tx.exec(Sql::new("nda_lock", "UPDATE ndas SET updated_at = updated_at WHERE id = $1").arg(id)).await? == 0 {
            return Err(NdaError::NotFound.into());
        }
        let row = load(&mut tx, id).await?.ok_or(NdaError::NotFound)?;
        let actor = if actor_id == row.owner_id {
            NdaActor::Owner
        } else if actor_id == row.requester_id {
            NdaActor::Requester
        } else {
            NdaActor::Stranger
        };
        let from = row.effective();
        let to = transition(from, action, actor)?;
        let t = now();
        let mut q = Sql::dynamic("nda_update", String::new());
        let mut sets = vec![format!("status = {}", q.push_arg(to.as_str())), format!("updated_at = {}", q.push_arg(t))];
        match action {
            NdaAction::Approve => {
                sets.push(format!("approved_at = {}", q.push_arg(t)));
                sets.push(format!("approved_by = {}", q.push_arg(actor_id)));
                if let Some(days) = input.expiry_days.or(row.expiry_days).filter(|d| *d > 0) {
                    sets.push(format!("expires_at = {}", q.push_arg(t + Duration::days(days.min(3650)))));
                }
                if let Some(terms) = &input.custom_terms {
                    sets.push(format!("custom_terms = {}", q.push_arg(terms)));
                }
            }
            NdaAction::Reject => {
                sets.push(format!("rejected_at = {}", q.push_arg(t)));
                sets.push(format!("rejection_reason = {}", q.push_arg(input.reason.clone())));
            }
            NdaAction::Sign => {
                sets.push(format!("signed_at = {}", q.push_arg(t)));
                sets.push(format!("signature_data = {}", q.push_arg(input.signature.clone())));
            }
            NdaAction::Revoke => {
                sets.push(format!("revoked_at = {}", q.push_arg(t)));
                sets.push(format!("revocation_reason = {}", q.push_arg(input.reason.clone())));
            }
            NdaAction::Expire => {}
        }
        let idp = q.push_arg(id);
        q.push(&format!("UPDATE ndas SET {} WHERE id = {idp}", sets.join(", ")));
        tx.exec(q).await?;
        // A rejected request bought nothing: its credits come back.
        if action == NdaAction::Reject && row.credits_used > 0 {
            let about = Some(NdaRef { nda_id: id, pitch_id: row.pitch_id });
            credit(&mut tx, row.requester_id, row.credits_used, "refund", "Refund: NDA request declined", about)
                .await?;
        }
        let owner_name = display(&row.owner_first_name, &row.owner_last_name, &row.owner_company, &row.owner_username);
        let requester_name = display(
            &row.requester_first_name,
            &row.requester_last_name,
            &row.requester_company,
            &row.requester_username,
        );
        let title = &row.pitch_title;
        // A pitch that hides its creator names him to a requester only with access (as routes/ndas.rs
        // `nda_json` does): a declined request's notice comes from no one. Revocation and expiry end an
        // access the requester had, so they name the owner as before.
        let owner_named = from.grants_access() || to.grants_access() || !row.pitch_require_nda;
        let (recipient, kind, headline, message, priority) = match action {
            NdaAction::Approve => (
                row.requester_id,
                "nda_approved",
                "NDA Approved",
                format!("Your NDA request for \"{title}\" was approved"),
                "high",
            ),
            NdaAction::Reject => (
                row.requester_id,
                "nda_rejected",
                "NDA Declined",
                match input.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => format!("Your NDA request for \"{title}\" was declined: {r}"),
                    None => format!("Your NDA request for \"{title}\" was declined"),
                },
                "normal",
            ),
            NdaAction::Sign => (
                row.owner_id,
                "nda_signed",
                "NDA Signed",
                format!("{requester_name} signed the NDA for \"{title}\""),
                "normal",
            ),
            NdaAction::Revoke => (
                row.requester_id,
                "nda_revoked",
                "NDA Revoked",
                format!("{owner_name} revoked your access to \"{title}\""),
                "high",
            ),
            NdaAction::Expire => {
                (row.requester_id, "nda_expired", "NDA Expired", format!("Your NDA for \"{title}\" expired"), "normal")
            }
        };
        notify(
            &mut tx,
            NewNotification {
                user_id: recipient,
                kind,
                title: headline,
                message,
                related_id: Some(id),
                related_type: Some("nda"),
                related_pitch_id: Some(row.pitch_id),
                // Only the owner's notices to the requester can be unnamed (the owner acts, the requester hears).
                from_user_id: (actor_id != row.owner_id || owner_named).then_some(actor_id),
                priority,
                data: Some(json!({ "ndaId": id, "pitchId": row.pitch_id, "status": to.as_str() })),
            },
        )
        .await?;
        let after = load(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(after)
    }

    /// One NDA, if `user_id` is a party to it.
    pub async fn nda_for(&self, id: i64, user_id: i64) -> Result<Option<NdaRow>, StoreError> {
        let q = Sql::new(
            "nda_get",
            concat!(nda_select!(), " WHERE n.id = $1 AND (n.requester_id = $2 OR n.owner_id = $2)"),
        )
        .arg(id)
        .arg(user_id);
        self.db.primary_opt(q).await
    }

    /// The requester's latest NDA for a pitch (the one that grants access first).
    pub async fn nda_for_pitch(&self, pitch_id: i64, requester: i64) -> Result<Option<NdaRow>, StoreError> {
        let q = Sql::new(
            "nda_for_pitch",
            concat!(
                nda_select!(),
                " WHERE n.pitch_id = $1 AND n.requester_id = $2 \
                 ORDER BY CASE WHEN n.status IN ('approved', 'signed') THEN 0 ELSE 1 END, n.created_at DESC, n.id DESC LIMIT 1"
            ),
        )
        .arg(pitch_id)
        .arg(requester);
        self.db.primary_opt(q).await
    }

    /// NDAs a user is a party to, newest first, with the total.
    pub async fn list_ndas(&self, user_id: i64, f: &NdaFilter) -> Result<(Vec<NdaRow>, i64), StoreError> {
        let build = |count: bool| {
            let mut q = Sql::dynamic(if count { "nda_count" } else { "nda_list" }, String::new());
            let t = q.push_arg(now());
            let u = q.push_arg(user_id);
            let mut conds = vec![match (f.as_requester, f.as_owner) {
                (true, false) => format!("n.requester_id = {u}"),
                (false, true) => format!("n.owner_id = {u}"),
                _ => format!("(n.requester_id = {u} OR n.owner_id = {u})"),
            }];
            if !f.statuses.is_empty() {
                let any: Vec<String> = f.statuses.iter().map(|s| status_condition(*s, &t)).collect();
                conds.push(format!("({})", any.join(" OR ")));
            }
            if f.signed_only {
                conds.push("n.signed_at IS NOT NULL".to_owned());
            }
            if let Some(p) = f.pitch_id {
                conds.push(format!("n.pitch_id = {}", q.push_arg(p)));
            }
            if let Some(r) = f.requester_id {
                conds.push(format!("n.requester_id = {}", q.push_arg(r)));
            }
            if let Some(s) = f.since {
                conds.push(format!("n.created_at >= {}", q.push_arg(s)));
            }
            if let Some(s) = f.until {
                conds.push(format!("n.created_at < {}", q.push_arg(s)));
            }
            let where_ = conds.join(" AND ");
            if count {
                q.push(&format!("SELECT COUNT(*) FROM ndas n WHERE {where_}"));
            } else {
                let lim = q.push_count(f.limit.clamp(1, 200));
                let off = q.push_count(f.offset.max(0));
                q.push(&format!(
                    "{} WHERE {where_} ORDER BY n.created_at DESC, n.id DESC LIMIT {lim} OFFSET {off}",
                    nda_select!()
                ));
            }
            q
        };
        let rows = self.db.primary_all(build(false)).await?;
        let (total,): (i64,) = self.db.primary_one(build(true)).await?;
        Ok((rows, total))
    }

    /// Counts of a user's NDAs (both sides) by effective status.
    pub async fn nda_stats(&self, user_id: i64) -> Result<NdaStats, StoreError> {
        let t = "$1";
        let sum = |s: NdaStatus| format!("COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)", status_condition(s, t));
        let text = format!(
            "SELECT COUNT(*), {}, {}, {}, {}, {}, {}, \
             COALESCE(SUM(CASE WHEN n.owner_id = $2 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN n.requester_id = $2 THEN 1 ELSE 0 END), 0) \
             FROM ndas n WHERE n.requester_id = $2 OR n.owner_id = $2",
            sum(NdaStatus::Pending),
            sum(NdaStatus::Approved),
            sum(NdaStatus::Signed),
            sum(NdaStatus::Rejected),
            sum(NdaStatus::Expired),
            sum(NdaStatus::Revoked),
        );
        let q = Sql::dynamic("nda_stats", text).arg(now()).arg(user_id);
        let r: (i64, i64, i64, i64, i64, i64, i64, i64, i64) = self.db.primary_one(q).await?;
        // Response time: from request to the owner's decision, computed here to stay dialect-free.
        let decided: Vec<DecisionTimes> = self
            .db
            .primary_all(
                Sql::new(
                    "nda_decided",
                    "SELECT created_at, approved_at, rejected_at FROM ndas WHERE owner_id = $1 \
                     AND (approved_at IS NOT NULL OR rejected_at IS NOT NULL) ORDER BY id DESC LIMIT 500",
                )
                .arg(user_id),
            )
            .await?;
        let hours: Vec<f64> =
            decided.iter().filter_map(|(c, a, r)| a.or(*r).map(|d| (d - *c).num_seconds() as f64 / 3600.0)).collect();
        Ok(NdaStats {
            total: r.0,
            pending: r.1,
            approved: r.2,
            signed: r.3,
            rejected: r.4,
            expired: r.5,
            revoked: r.6,
            incoming: r.7,
            outgoing: r.8,
            avg_response_hours: (!hours.is_empty()).then(|| hours.iter().sum::<f64>() / hours.len() as f64),
        })
    }

    /// Marks approved and signed NDAs past their expiry as expired (and tells the requesters); returns how
    /// many. Access already ends at `expires_at` without this; the sweep makes the stored state say so.
    pub async fn expire_ndas(&self) -> Result<u64, StoreError> {
        let due: Vec<(i64, i64)> = self
            .db
            .primary_all(
                Sql::new(
                    "nda_due",
                    "SELECT id, owner_id FROM ndas WHERE status IN ('approved', 'signed') AND expires_at <= $1 LIMIT 500",
                )
                .arg(now()),
            )
            .await?;
        let mut n = 0;
        for (id, owner) in due {
            // The system acts; the owner is recorded as the cause of the notification.
            match self.nda_expire(id, owner).await {
                Ok(()) => n += 1,
                Err(e) => tracing::warn!(nda = id, error = %e, "could not expire NDA"),
            }
        }
        Ok(n)
    }

    async fn nda_expire(&self, id: i64, owner: i64) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        expire_in(&mut tx, id, owner).await?;
        tx.commit().await
    }
}

/// Marks one NDA expired if it is approved or signed and past its expiry, and tells the requester; the
/// pitch's owner is recorded as the cause of the notification (the system acts).
async fn expire_in(tx: &mut Tx, id: i64, owner: i64) -> Result<(), StoreError> {
    let changed = tx
        .exec(
            Sql::new(
                "nda_expire",
                "UPDATE ndas SET status = 'expired', updated_at = $1 WHERE id = $2 \
                 AND status IN ('approved', 'signed') AND expires_at <= $1",
            )
            .arg(now())
            .arg(id),
        )
        .await?;
    if changed == 1
        && let Some(row) = load(tx, id).await?
    {
        notify(
            tx,
            NewNotification {
                user_id: row.requester_id,
                kind: "nda_expired",
                title: "NDA Expired",
                message: format!("Your NDA for \"{}\" expired", row.pitch_title),
                related_id: Some(id),
                related_type: Some("nda"),
                related_pitch_id: Some(row.pitch_id),
                from_user_id: Some(owner),
                priority: "normal",
                data: None,
            },
        )
        .await?;
    }
    Ok(())
}
