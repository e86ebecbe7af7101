//! Credits: a balance per user that NDA requests draw on. Every change is a row in `credit_transactions`
//! written in the same transaction as the balance, and a debit is one conditional `UPDATE`, so concurrent
//! requests cannot overdraw.

use crate::{Sql, Store, StoreError, Tx, now};
use chrono::{DateTime, Utc};

/// Credits a new account starts with (one NDA request).
pub const SIGNUP_GRANT: i64 = 10;
/// Credits an NDA request costs.
pub const NDA_REQUEST_COST: i64 = 10;

/// A user's credit balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct Balance {
    /// Credits available.
    pub balance: i64,
    /// Credits ever bought or granted.
    pub total_purchased: i64,
    /// Credits ever spent (net of refunds).
    pub total_used: i64,
}

/// One credit movement.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CreditTransaction {
    /// Row id.
    pub id: i64,
    /// `purchase`, `usage`, `refund` or `grant`.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Signed change.
    pub amount: i64,
    /// Balance after.
    pub balance_after: i64,
    /// What it was for.
    pub description: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The NDA request a credit movement is for, recorded on its ledger row (charges and refunds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NdaRef {
    pub nda_id: i64,
    pub pitch_id: i64,
}

/// Adds `amount` credits of `kind` (`grant`, `purchase` or `refund`) inside a transaction.
pub(crate) async fn credit(
    tx: &mut Tx,
    user_id: i64,
    amount: i64,
    kind: &str,
    description: &str,
    about: Option<NdaRef>,
) -> Result<i64, StoreError> {
    let t = now();
    tx.exec(
        Sql::new(
            "credits_ensure",
            "INSERT INTO user_credits (user_id, balance, total_purchased, total_used, updated_at) VALUES ($1, 0, 0, 0, $2) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .arg(user_id)
        .arg(t),
    )
    .await?;
    let counts_as_purchase = kind != "refund";
    let (after,): (i64,) = tx
        .one(
            Sql::new(
                "credits_add",
                "UPDATE user_credits SET balance = balance + $1, \
                 total_purchased = total_purchased + CASE WHEN $2 THEN $1 ELSE 0 END, \
                 total_used = total_used - CASE WHEN $2 THEN 0 ELSE $1 END, updated_at = $3 \
                 WHERE user_id = $4 RETURNING balance",
            )
            .arg(amount)
            .arg(counts_as_purchase)
            .arg(t)
            .arg(user_id),
        )
        .await?;
    record(tx, user_id, kind, amount, after, None, description, about).await?;
    Ok(after)
}

/// Takes `amount` credits if the balance allows; `None` when it does not (nothing changes then).
pub(crate) async fn debit(
    tx: &mut Tx,
    user_id: i64,
    amount: i64,
    usage_type: &str,
    description: &str,
    about: Option<NdaRef>,
) -> Result<Option<i64>, StoreError> {
    let after: Option<(i64,)> = tx
        .opt(
            Sql::new(
                "credits_debit",
                "UPDATE user_credits SET balance = balance - $1, total_used = total_used + $1, updated_at = $2 \
                 WHERE user_id = $3 AND balance >= $1 RETURNING balance",
            )
            .arg(amount)
            .arg(now())
            .arg(user_id),
        )
        .await?;
    let Some((after,)) = after else { return Ok(None) };
    record(tx, user_id, "usage", -amount, after, Some(usage_type), description, about).await?;
    Ok(Some(after))
}

#[allow(clippy::too_many_arguments)] // one column each
async fn record(
    tx: &mut Tx,
    user_id: i64,
    kind: &str,
    amount: i64,
    after: i64,
    usage_type: Option<&str>,
    description: &str,
    about: Option<NdaRef>,
) -> Result<(), StoreError> {
    tx.exec(
        Sql::new(
            "credits_record",
            "INSERT INTO credit_transactions (user_id, type, amount, balance_before, balance_after, usage_type, \
             description, nda_id, pitch_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .arg(user_id)
        .arg(kind)
        .arg(amount)
        .arg(after - amount)
        .arg(after)
        .arg(usage_type)
        .arg(description)
        .arg(about.map(|a| a.nda_id))
        .arg(about.map(|a| a.pitch_id))
        .arg(now()),
    )
    .await?;
    Ok(())
}

impl Store {
    /// A user's balance (zero when they never had credits).
    pub async fn credit_balance(&self, user_id: i64) -> Result<Balance, StoreError> {
        let q = Sql::new(
            "credits_balance",
            "SELECT balance, total_purchased, total_used FROM user_credits WHERE user_id = $1",
        )
        .arg(user_id);
        Ok(self.db.primary_opt(q).await?.unwrap_or_default())
    }

    /// A user's latest credit movements.
    pub async fn credit_history(&self, user_id: i64, limit: i64) -> Result<Vec<CreditTransaction>, StoreError> {
        let mut q = Sql::dynamic("credits_history", String::new()).arg(user_id);
        let lim = q.push_count(limit);
        q.push(&format!(
            "SELECT id, type, amount, balance_after, description, created_at FROM credit_transactions \
             WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT {lim}"
        ));
        self.db.primary_all(q).await
    }

    /// Grants credits to a user (operations and tests).
    pub async fn grant_credits(&self, user_id: i64, amount: i64, description: &str) -> Result<i64, StoreError> {
        let mut tx = self.db.begin().await?;
        let after = credit(&mut tx, user_id, amount, "grant", description, None).await?;
        tx.commit().await?;
        Ok(after)
    }
}
