//! Notifications (contract §7.1) and the polling endpoint the client falls back to (§6.4).

use super::engagement::flex_id;
use super::pitches::private;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery, JsonOrEmpty};
use crate::session::AuthUser;
use crate::state::AppState;
use crate::wire::{iso, ok};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use pitchey_store::notifications::Notification;
use serde::Deserialize;
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/notifications", get(list))
        .route("/api/user/notifications", get(list))
        .route("/api/notifications/unread", get(unread))
        .route("/api/notifications/read-multiple", put(read_many).post(read_many))
        .route("/api/notifications/read-all", put(read_all).post(read_all))
        .route("/api/notifications/mark-all-read", put(read_all).post(read_all))
        .route("/api/notifications/{id}/read", put(read_one).post(read_one))
        .route("/api/poll/all", get(poll))
}

/// A notification in both casings.
pub fn notification_json(n: &Notification) -> Value {
    json!({
        "id": n.id, "user_id": n.user_id, "userId": n.user_id, "type": n.kind, "title": n.title, "message": n.message,
        "data": n.data, "related_id": n.related_id, "relatedId": n.related_id, "related_type": n.related_type,
        "relatedType": n.related_type, "related_pitch_id": n.related_pitch_id, "relatedPitchId": n.related_pitch_id,
        "from_user_id": n.from_user_id, "fromUserId": n.from_user_id, "from_user_name": n.from_user_name,
        "fromUserName": n.from_user_name, "from_user_avatar": n.from_user_avatar, "priority": n.priority,
        "is_read": n.is_read, "isRead": n.is_read, "read": n.is_read, "read_at": n.read_at.map(iso),
        "created_at": iso(n.created_at), "createdAt": iso(n.created_at),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListParams {
    limit: Option<String>,
    offset: Option<String>,
    unread: Option<String>,
    since: Option<String>,
}

impl ListParams {
    fn paging(&self) -> ApiResult<(i64, i64)> {
        let parse = |v: &Option<String>, d: i64, what: &str| -> ApiResult<i64> {
            match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(d),
                Some(x) => x.parse().map_err(|_| ApiError::bad_request(format!("{what} must be a number"))),
            }
        };
        Ok((parse(&self.limit, 20, "limit")?.clamp(1, 100), parse(&self.offset, 0, "offset")?.clamp(0, 100_000)))
    }
}

async fn list(State(s): State<AppState>, auth: AuthUser, ApiQuery(p): ApiQuery<ListParams>) -> ApiResult<Response> {
    let (limit, offset) = p.paging()?;
    let unread_only = matches!(p.unread.as_deref(), Some("true" | "1"));
    let items = s.store.notifications(auth.user.id, unread_only, limit, offset).await?;
    let (total, unread) = s.store.notification_counts(auth.user.id).await?;
    let list: Vec<Value> = items.iter().map(notification_json).collect();
    Ok(private(ok(json!({ "notifications": list, "unreadCount": unread, "total": total })).into_response()))
}

/// `{count}` of unread notifications; with `since`, also the unread ones newer than it.
async fn unread(State(s): State<AppState>, auth: AuthUser, ApiQuery(p): ApiQuery<ListParams>) -> ApiResult<Response> {
    let (_, count) = s.store.notification_counts(auth.user.id).await?;
    let since = p.since.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(parse_since).transpose()?;
    let recent: Vec<Value> = s
        .store
        .notifications(auth.user.id, true, 20, 0)
        .await?
        .iter()
        .filter(|n| since.is_none_or(|t| n.created_at > t))
        .map(notification_json)
        .collect();
    Ok(private(ok(json!({ "count": count, "notifications": recent })).into_response()))
}

/// A polling client's `since`: an RFC 3339 time, or a Unix time in milliseconds (what `Date.now()` gives) or,
/// below 10^11 (March 1973 in milliseconds), in seconds.
fn parse_since(v: &str) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    let bad = || ApiError::bad_request("since must be an RFC 3339 time (2026-01-31T12:00:00Z) or Unix milliseconds");
    if let Ok(n) = v.parse::<i64>() {
        let ms = if n.unsigned_abs() < 100_000_000_000 { n.checked_mul(1000).ok_or_else(bad)? } else { n };
        return chrono::DateTime::from_timestamp_millis(ms).ok_or_else(bad);
    }
    chrono::DateTime::parse_from_rfc3339(v).map(|t| t.to_utc()).map_err(|_| bad())
}

async fn read_one(State(s): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    if s.store.mark_notifications_read(auth.user.id, Some(&[id])).await? == 0 {
        return Err(ApiError::not_found("Notification not found"));
    }
    Ok(ok(json!({ "id": id, "read": true })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ManyBody {
    notification_ids: Vec<Value>,
    ids: Vec<Value>,
}

async fn read_many(
    State(s): State<AppState>,
    auth: AuthUser,
    JsonOrEmpty(b): JsonOrEmpty<ManyBody>,
) -> ApiResult<Json<Value>> {
    let raw: Vec<&Value> = b.notification_ids.iter().chain(b.ids.iter()).collect();
    if raw.len() > 1000 {
        return Err(ApiError::validation("At most 1000 ids at a time"));
    }
    let ids: Vec<i64> = raw.iter().filter_map(|v| flex_id(Some(v))).collect();
    if ids.len() != raw.len() {
        return Err(ApiError::validation("notificationIds must be ids"));
    }
    let updated = if ids.is_empty() { 0 } else { s.store.mark_notifications_read(auth.user.id, Some(&ids)).await? };
    Ok(ok(json!({ "updated": updated })))
}

async fn read_all(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Json<Value>> {
    let updated = s.store.mark_notifications_read(auth.user.id, None).await?;
    Ok(ok(json!({ "updated": updated })))
}

/// Everything a page polls for at once: unread notifications, counters, and (empty) messages and presence.
async fn poll(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    let me = auth.user.id;
    let unread: Vec<Value> = s.store.notifications(me, true, 20, 0).await?.iter().map(notification_json).collect();
    let (_, unread_count) = s.store.notification_counts(me).await?;
    let nda = s.store.nda_stats(me).await?;
    let data = json!({
        "notifications": unread,
        "messages": [],
        "unreadCount": unread_count,
        "dashboardMetrics": { "unreadNotifications": unread_count, "pendingNdas": nda.pending, "activeNdas": nda.approved + nda.signed },
        "presence": { "users": [] },
        "timestamp": iso(chrono::Utc::now()),
    });
    Ok(private(ok(data).into_response()))
}
