//! Views, likes, saves and follows (contract §3.6).

use super::params::ListParams;
use super::pitches::{cards_for, private};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ClientIp};
use crate::session::{AuthUser, MaybeUser};
use crate::state::AppState;
use crate::wire::{iso, ok};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use pitchey_core::PitchStatus;
use pitchey_store::engagement::{AnonViewer, FollowUser, ViewOutcome};
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/views/track", post(track_view))
        .route("/api/analytics/track-view", post(track_view))
        .route("/api/creator/pitches/{id}/like", post(like).delete(unlike))
        .route("/api/pitches/{id}/like", post(like).delete(unlike))
        .route("/api/pitches/{id}/like-status", get(like_status))
        .route("/api/pitches/{id}/save", post(save_toggle_on).delete(save_toggle_off))
        .route("/api/saved-pitches", get(saved_list).post(save_add))
        .route("/api/saved-pitches/stats", get(saved_stats))
        .route("/api/saved-pitches/check/{pitch_id}", get(saved_check))
        .route("/api/saved-pitches/{id}", put(saved_notes).delete(saved_remove))
        .route("/api/follows/action", post(follow_action))
        .route("/api/follows/followers", get(followers))
        .route("/api/follows/following", get(following))
        .route("/api/follows/stats", get(follow_stats))
        .route("/api/follows/list", get(follow_list))
}

/// An id sent as a number or a numeric string (the client does both).
pub fn flex_id(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

/// 404 unless the pitch is published or the user owns it.
async fn visible_to(state: &AppState, pitch_id: i64, user_id: i64) -> ApiResult<()> {
    match state.store.pitch_owner(pitch_id).await? {
        Some((owner, status)) if status == PitchStatus::Published || owner == user_id => Ok(()),
        _ => Err(ApiError::not_found("Pitch not found")),
    }
}

/// `POST /api/views/track`: counts a view once per signed-in user, or once per anonymous session
/// (`X-Session-ID`) or address per 24 hours, and at most a few per network (an address, or an IPv6 /64) per
/// 24 hours, whatever session headers it sends. Owners' views are not counted.
async fn track_view(
    State(s): State<AppState>,
    user: MaybeUser,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let pitch_id = flex_id(body.get("pitchId").or_else(|| body.get("pitch_id")))
        .ok_or_else(|| ApiError::bad_request("Invalid pitchId"))?;
    let network = crate::ratelimit::limit_key(ip.0).to_string();
    let anon_key =
        match headers.get("x-session-id").and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()) {
            Some(sid) => format!("s:{}", sid.chars().take(128).collect::<String>()),
            None => format!("ip:{}", ip.0),
        };
    let user_id = user.0.as_ref().map(|a| a.user.id);
    let anon = AnonViewer { key: &anon_key, network: &network };
    Ok(Json(match s.store.track_view(pitch_id, user_id, anon).await? {
        ViewOutcome::Counted { view_id, viewed_at } => {
            json!({ "success": true, "data": { "viewId": view_id, "viewedAt": iso(viewed_at) } })
        }
        ViewOutcome::Duplicate => {
            json!({ "success": true, "message": "View already tracked", "duplicate": true })
        }
        ViewOutcome::Owner => {
            json!({ "success": true, "message": "Owner views are not counted", "duplicate": true })
        }
        ViewOutcome::NotFound => return Err(ApiError::not_found("Pitch not found")),
    }))
}

async fn set_like(s: &AppState, auth: &AuthUser, id: i64, like: bool) -> ApiResult<Json<Value>> {
    visible_to(s, id, auth.user.id).await?;
    let (liked, count) =
        s.store.set_like(id, auth.user.id, like).await?.ok_or_else(|| ApiError::not_found("Pitch not found"))?;
    // Like counts show on public lists and pages.
    s.pitches_changed().await;
    Ok(ok(json!({ "liked": liked, "likeCount": count })))
}

async fn like(State(s): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    set_like(&s, &auth, id, true).await
}

async fn unlike(State(s): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    set_like(&s, &auth, id, false).await
}

async fn like_status(State(s): State<AppState>, user: MaybeUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    let liked = match &user.0 {
        Some(a) => s.store.viewer_flags(id, a.user.id).await?.0,
        None => false,
    };
    Ok(private(ok(json!({ "liked": liked })).into_response()))
}

async fn save_toggle_on(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    visible_to(&s, id, auth.user.id).await?;
    s.store.save_pitch(id, auth.user.id, None).await?.ok_or_else(|| ApiError::not_found("Pitch not found"))?;
    s.pitches_changed().await;
    Ok(ok(json!({ "saved": true })))
}

async fn save_toggle_off(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    if s.store.unsave(auth.user.id, id, true).await?.is_some() {
        s.pitches_changed().await;
    }
    Ok(ok(json!({ "saved": false })))
}

/// `GET /api/saved-pitches`: the saved rows under `savedPitches` (top level) and `data` (an array), each
/// with the saved-row `id`, `pitchId`, the pitch's card fields and a nested `pitch`.
async fn saved_list(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let paging = p.paging(50, 100);
    let page = s.store.saved_pitches(auth.user.id, paging.limit, paging.offset).await?;
    let rows: Vec<_> = page.items.iter().map(|sp| sp.pitch.clone()).collect();
    let cards = cards_for(&rows, Some(auth.user.id));
    let items: Vec<Value> = page
        .items
        .iter()
        .zip(cards)
        .map(|(sp, card)| {
            let p = &sp.pitch;
            json!({
                "id": sp.saved_id, "pitchId": p.id, "pitch_id": p.id, "userId": sp.saved_user_id,
                "notes": sp.notes, "savedAt": iso(sp.saved_at), "saved_at": iso(sp.saved_at),
                "title": p.title, "logline": p.logline, "genre": p.genre, "status": p.status.as_str(),
                "thumbnail_url": p.thumbnail_url, "title_image": p.title_image, "budget_range": p.budget_range,
                "budget": p.budget_range, "view_count": p.view_count, "like_count": p.like_count,
                "creator": card["creator_name"], "creator_name": card["creator_name"], "creator_verified": false,
                "pitch": card,
            })
        })
        .collect();
    Ok(private(
        Json(json!({ "success": true, "savedPitches": items, "data": items, "total": page.total })).into_response(),
    ))
}

/// The `notes` of a saved pitch: a string of at most 5,000 characters, or absent or `null` for none.
fn notes_of(body: &Value) -> ApiResult<Option<String>> {
    match body.get("notes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) => {
            pitchey_core::validate::at_most(Some(n), 5000, "notes")?;
            Ok(Some(n.clone()))
        }
        Some(_) => Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "notes must be a string",
        )),
    }
}

async fn save_add(State(s): State<AppState>, auth: AuthUser, ApiJson(body): ApiJson<Value>) -> ApiResult<Json<Value>> {
    let pitch_id = flex_id(body.get("pitchId").or_else(|| body.get("pitch_id")))
        .ok_or_else(|| ApiError::validation("pitchId is required"))?;
    let notes = notes_of(&body)?;
    visible_to(&s, pitch_id, auth.user.id).await?;
    let (id, saved_at) = s
        .store
        .save_pitch(pitch_id, auth.user.id, notes.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found("Pitch not found"))?;
    s.pitches_changed().await;
    Ok(ok(json!({ "id": id, "userId": auth.user.id, "pitchId": pitch_id, "notes": notes, "savedAt": iso(saved_at) })))
}

async fn saved_remove(State(s): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let pitch_id =
        s.store.unsave(auth.user.id, id, false).await?.ok_or_else(|| ApiError::not_found("Saved pitch not found"))?;
    s.pitches_changed().await;
    Ok(ok(json!({ "message": "Pitch removed from saved", "pitchId": pitch_id })))
}

async fn saved_notes(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let notes = notes_of(&body)?;
    let notes = notes.as_deref();
    if !s.store.set_saved_notes(auth.user.id, id, notes).await? {
        return Err(ApiError::not_found("Saved pitch not found"));
    }
    Ok(ok(json!({ "id": id, "notes": notes })))
}

async fn saved_check(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(pitch_id): ApiPath<i64>,
) -> ApiResult<Response> {
    let data = match s.store.saved_entry(auth.user.id, pitch_id).await? {
        Some((id, at)) => json!({ "isSaved": true, "savedPitchId": id, "savedAt": iso(at) }),
        None => json!({ "isSaved": false }),
    };
    Ok(private(ok(data).into_response()))
}

async fn saved_stats(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    let page = s.store.saved_pitches(auth.user.id, 1, 0).await?;
    Ok(private(ok(json!({ "total": page.total, "totalSaved": page.total })).into_response()))
}

/// `POST /api/follows/action`: `{userId, action}` or `{targetId, targetType: "user"|"pitch", action}`.
async fn follow_action(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let target = flex_id(body.get("targetId").or_else(|| body.get("userId")).or_else(|| body.get("user_id")))
        .ok_or_else(|| ApiError::validation("userId or targetId is required"))?;
    let follow = match body.get("action").and_then(Value::as_str).unwrap_or("follow") {
        "follow" => true,
        "unfollow" => false,
        other => {
            return Err(ApiError::validation(format!("Unknown action {other:?} (follow or unfollow)")));
        }
    };
    let target_type = body.get("targetType").and_then(Value::as_str).unwrap_or("user");
    if target_type == "pitch" {
        if follow {
            // Someone else's draft does not exist for the follower, as for likes and saves.
            visible_to(&s, target, auth.user.id).await?;
        }
        let changed = s
            .store
            .set_pitch_follow(auth.user.id, target, follow)
            .await?
            .ok_or_else(|| ApiError::not_found("Pitch not found"))?;
        let message = match (follow, changed) {
            (true, true) => "Successfully followed",
            (true, false) => "Already following",
            (false, true) => "Successfully unfollowed",
            (false, false) => "Not following",
        };
        return Ok(Json(
            json!({ "success": true, "message": message, "data": { "isFollowing": follow, "targetType": "pitch" } }),
        ));
    }
    if target_type != "user" {
        return Err(ApiError::validation("targetType must be user or pitch"));
    }
    if target == auth.user.id {
        return Err(ApiError::bad_request("Cannot follow yourself"));
    }
    let changed =
        s.store.set_follow(auth.user.id, target, follow).await?.ok_or_else(|| ApiError::not_found("User not found"))?;
    let stats = s.store.follow_stats(target).await?;
    let message = match (follow, changed) {
        (true, true) => "Successfully followed",
        (true, false) => "Already following",
        (false, true) => "Successfully unfollowed",
        (false, false) => "Not following",
    };
    Ok(Json(json!({
        "success": true,
        "message": message,
        "data": { "isFollowing": follow, "followerCount": stats.followers, "followingCount": stats.following },
    })))
}

fn follow_user_json(u: &FollowUser) -> Value {
    let name = [u.first_name.as_deref(), u.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    json!({
        "id": u.id, "username": u.username, "name": if name.trim().is_empty() { u.username.clone() } else { name },
        "user_type": u.user_type, "userType": u.user_type, "company_name": u.company_name,
        "profile_image": u.profile_image, "avatar_url": u.profile_image, "bio": u.bio,
        "followed_at": iso(u.followed_at), "followedAt": iso(u.followed_at),
    })
}

/// The user a follow query is about: `userId`/`creatorId`, else the caller.
fn subject(p: &ListParams, auth: &AuthUser) -> i64 {
    p.user_id.unwrap_or(auth.user.id)
}

async fn followers(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let paging = p.paging(50, 100);
    let who = subject(&p, &auth);
    let list = s.store.follow_list(who, true, paging.limit, paging.offset).await?;
    let count = s.store.follow_stats(who).await?.followers;
    let users: Vec<Value> = list.iter().map(follow_user_json).collect();
    Ok(private(ok(json!({ "followers": users, "count": count })).into_response()))
}

async fn following(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let paging = p.paging(50, 100);
    let who = subject(&p, &auth);
    let list = s.store.follow_list(who, false, paging.limit, paging.offset).await?;
    let count = s.store.follow_stats(who).await?.following;
    let users: Vec<Value> = list.iter().map(follow_user_json).collect();
    Ok(private(ok(json!({ "following": users, "count": count })).into_response()))
}

async fn follow_stats(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let who = subject(&p, &auth);
    let stats = s.store.follow_stats(who).await?;
    let (is_following, follows_you) = if who == auth.user.id {
        (false, false)
    } else {
        (s.store.is_following(auth.user.id, who).await?, s.store.is_following(who, auth.user.id).await?)
    };
    let recent: Vec<Value> = s.store.follow_list(who, true, 5, 0).await?.iter().map(follow_user_json).collect();
    Ok(private(
        ok(json!({
            "stats": { "followers": stats.followers, "following": stats.following, "mutual": stats.mutual,
                       "isFollowing": is_following, "followsYou": follows_you },
            "followers": stats.followers, "following": stats.following,
            "recentFollowers": recent, "growth": [],
        }))
        .into_response(),
    ))
}

async fn follow_list(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let paging = p.paging(20, 100);
    let who = subject(&p, &auth);
    let followers = match p.kind.as_deref().unwrap_or("followers") {
        "followers" => true,
        "following" => false,
        other => {
            return Err(ApiError::bad_request(format!("Unknown type {other:?} (followers or following)")));
        }
    };
    let stats = s.store.follow_stats(who).await?;
    let total = if followers { stats.followers } else { stats.following };
    let users: Vec<Value> =
        s.store.follow_list(who, followers, paging.limit, paging.offset).await?.iter().map(follow_user_json).collect();
    let has_more = paging.offset + (users.len() as i64) < total;
    Ok(private(ok(json!({ "users": users, "total": total, "hasMore": has_more, "mutualFollows": [] })).into_response()))
}
