//! Pitch lifecycle and detail (contract §3.1, §3.4, §3.5): create, update, delete, publish, archive,
//! the owner's list, the generic list, and the two detail endpoints.

use super::params::ListParams;
use crate::caching::{anonymous_variant, cached, key};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::session::{AuthUser, MaybeUser};
use crate::state::AppState;
use crate::wire::pitch::{Detail, pitch_json};
use crate::wire::pitch_input;
use crate::wire::{ok, ok_value};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pitchey_cache::Ns;
use pitchey_core::{PitchAccess, PitchStatus};
use pitchey_store::{ListQuery, Order, PitchMeta, PitchRow, PitchUpdate, Scope};
use serde_json::{Map, Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/pitches", get(generic_list).post(create))
        .route("/api/pitches/{id}", get(detail).put(update).delete(remove))
        .route("/api/creator/pitches", get(my_pitches).post(create))
        .route("/api/creator/pitches/{id}", get(detail).put(update).delete(remove))
        .route("/api/pitches/public/{id}", get(public_detail))
        .route("/api/pitches/{id}/publish", post(publish))
        .route("/api/pitches/{id}/archive", post(archive))
        .route("/api/creator/pitches/{id}/publish", post(publish))
        .route("/api/creator/pitches/{id}/archive", post(archive))
}

/// Only accounts that may own pitches (creators, production companies, admins) pass.
pub fn require_pitch_owner_type(auth: &AuthUser) -> ApiResult<()> {
    if auth.user.user_type.can_own_pitches() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Access denied. Required portal: creator or production. Your account type: {}",
            auth.user.user_type
        )))
    }
}

/// The owner's full view of one of their pitches, read fresh from the primary.
async fn owner_view(state: &AppState, id: i64) -> ApiResult<Map<String, Value>> {
    let row = state.store.pitch_fresh(id).await?.ok_or_else(|| ApiError::not_found("Pitch not found"))?;
    let protected = state.store.pitch_protected(id).await?;
    Ok(pitch_json(&row, PitchAccess::Owner, protected.as_ref(), Detail::Full))
}

async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    require_pitch_owner_type(&auth)?;
    let input = pitch_input::parse(body)?;
    input.fields.validate_new()?;
    let id = state.store.insert_pitch(&PitchMeta::new_draft(auth.user.id), &input.fields).await?;
    tracing::info!(pitch_id = id, user_id = auth.user.id, "pitch created");
    metrics::counter!("pitchey_pitches_created_total").increment(1);
    Ok(ok(json!({ "pitch": owner_view(&state, id).await? })))
}

/// Loads a pitch for a change by `user`: 404 if it does not exist or is not visible to them, 403 if they
/// can see it but do not own it. Returns its status.
async fn owned(state: &AppState, id: i64, user_id: i64) -> ApiResult<PitchStatus> {
    match state.store.pitch_owner(id).await? {
        Some((owner, status)) if owner == user_id => Ok(status),
        Some((_, PitchStatus::Published)) => Err(ApiError::forbidden("Not authorized to update this pitch")),
        _ => Err(ApiError::not_found("Pitch not found")),
    }
}

async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    require_pitch_owner_type(&auth)?;
    let input = pitch_input::parse(body)?;
    input.fields.validate()?;
    if input.status == Some(PitchStatus::Hidden) {
        return Err(ApiError::validation("status hidden is set by moderation only"));
    }
    let current = owned(&state, id, auth.user.id).await?;
    if input.status.is_some() {
        unless_moderated(current)?;
    }
    let update = PitchUpdate { fields: input.fields, status: input.status };
    if !state.store.update_pitch(id, auth.user.id, &update).await? {
        // Deleted, or hidden by moderation, since `owned` looked.
        return Err(ApiError::not_found("Pitch not found"));
    }
    state.pitches_withdrawn().await;
    if update.status == Some(PitchStatus::Published) {
        metrics::counter!("pitchey_pitches_published_total").increment(1);
    }
    Ok(ok(json!({ "pitch": owner_view(&state, id).await? })))
}

async fn remove(State(state): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    if !state.store.delete_pitch(id, auth.user.id).await? {
        return Err(ApiError::not_found("Pitch not found or not authorized"));
    }
    state.pitches_withdrawn().await;
    tracing::info!(pitch_id = id, user_id = auth.user.id, "pitch deleted");
    // The contract's `message`; `pitch` for the client, which reads `data.pitch` after every change of a pitch.
    Ok(ok(json!({ "message": "Pitch deleted", "id": id, "pitch": { "id": id, "deleted": true } })))
}

/// A pitch that moderation hid keeps that status until moderation changes it: its owner may still edit
/// and delete it, but not publish, archive or unpublish it.
fn unless_moderated(current: PitchStatus) -> ApiResult<()> {
    if current == PitchStatus::Hidden {
        return Err(ApiError::forbidden("This pitch was hidden by moderation; its status cannot be changed"));
    }
    Ok(())
}

async fn set_status(state: &AppState, auth: &AuthUser, id: i64, status: PitchStatus) -> ApiResult<Json<Value>> {
    if let Some((owner, current)) = state.store.pitch_owner(id).await?
        && owner == auth.user.id
    {
        unless_moderated(current)?;
    }
    if !state.store.set_pitch_status(id, auth.user.id, status).await? {
        return Err(ApiError::not_found("Pitch not found or not owned by you"));
    }
    state.pitches_withdrawn().await;
    if status == PitchStatus::Published {
        metrics::counter!("pitchey_pitches_published_total").increment(1);
    }
    Ok(ok(json!({ "pitch": owner_view(state, id).await? })))
}

async fn publish(State(state): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    set_status(&state, &auth, id, PitchStatus::Published).await
}

async fn archive(State(state): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    set_status(&state, &auth, id, PitchStatus::Archived).await
}

/// Per-user responses must not be stored by shared caches.
pub fn private(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("Cookie"));
    res
}

/// `GET /api/creator/pitches`: the caller's own pitches, top-level `pitches` (camelCase and snake_case).
async fn my_pitches(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    require_pitch_owner_type(&auth)?;
    let scope = match p.status.as_deref().filter(|s| !s.is_empty() && *s != "all") {
        None => Scope::Owner(auth.user.id),
        Some(s) => Scope::OwnerStatus(
            auth.user.id,
            s.parse().map_err(|_| ApiError::bad_request(format!("Unknown status {s:?}")))?,
        ),
    };
    let paging = p.paging(50, 100);
    let mut lq = ListQuery::new(scope);
    lq.order = Order::Updated;
    lq.limit = paging.limit;
    lq.offset = paging.offset;
    let page = state.store.list_pitches(&lq).await?;
    let items: Vec<Value> =
        page.items.iter().map(|r| Value::Object(pitch_json(r, PitchAccess::Owner, None, Detail::Card))).collect();
    let has_more = paging.offset + (items.len() as i64) < page.total;
    let body = json!({
        "success": true,
        "pitches": items,
        "total": page.total,
        "pagination": { "limit": paging.limit, "offset": paging.offset, "hasMore": has_more },
        "data": { "pitches": items, "total": page.total },
    });
    Ok(private(Json(body).into_response()))
}

/// Cards for a viewer: their own pitches in the owner's view, everything else public.
pub fn cards_for(rows: &[PitchRow], viewer: Option<i64>) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let access = if viewer == Some(r.user_id) { PitchAccess::Owner } else { PitchAccess::Public };
            Value::Object(pitch_json(r, access, None, Detail::Card))
        })
        .collect()
}

/// `GET /api/pitches`: the generic list. `status=all` adds the caller's own unpublished pitches, never
/// anyone else's; other non-published statuses list only the caller's own pitches.
async fn generic_list(
    State(state): State<AppState>,
    user: MaybeUser,
    uri: Uri,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let me = user.0.as_ref().map(|a| a.user.id);
    if me.is_none() {
        // Anonymous lists are the same for everyone: cached.
        let res =
            cached(&state, Ns::Lists, key("generic", &uri), &headers, || generic_list_body(&state, None, p)).await;
        return anonymous_variant(res);
    }
    Ok(private(Json(generic_list_body(&state, me, p).await?).into_response()))
}

async fn generic_list_body(state: &AppState, me: Option<i64>, p: ListParams) -> ApiResult<Value> {
    let status = p.status.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("published");
    let scope = match (status, me) {
        ("published", _) => Some(Scope::Market),
        ("all", Some(u)) => Some(Scope::MarketOrOwn(u)),
        ("all", None) => Some(Scope::Market),
        (s, Some(u)) => {
            Some(Scope::OwnerStatus(u, s.parse().map_err(|_| ApiError::bad_request(format!("Unknown status {s:?}")))?))
        }
        (s, None) => {
            s.parse::<PitchStatus>().map_err(|_| ApiError::bad_request(format!("Unknown status {s:?}")))?;
            None
        }
    };
    let paging = p.paging(20, 100);
    let (rows, total) = match scope {
        Some(scope) => {
            let mut lq = ListQuery::new(scope);
            p.apply_filters(&mut lq, me)?;
            if let Some((o, d)) = p.sort()? {
                lq.order = o;
                lq.descending = d;
            } else if !lq.terms.is_empty() {
                lq.order = Order::Relevance;
            } else {
                lq.order = Order::Created;
            }
            lq.limit = paging.limit;
            lq.offset = paging.offset;
            let page = state.store.list_pitches(&lq).await?;
            (page.items, page.total)
        }
        None => (Vec::new(), 0),
    };
    let items = cards_for(&rows, me);
    let has_more = paging.offset + (items.len() as i64) < total;
    Ok(json!({
        "success": true,
        "data": items,
        "pitches": items,
        "total": total,
        "meta": { "pagination": { "page": paging.page, "limit": paging.limit, "total": total, "hasMore": has_more } },
    }))
}

/// What a viewer may see of one pitch, and the pitch itself; 404 when not visible.
pub async fn visible_pitch(
    state: &AppState,
    id: i64,
    user: &MaybeUser,
) -> ApiResult<(PitchRow, PitchAccess, Option<pitchey_core::NdaStatus>)> {
    let row = state.store.pitch(id).await?.ok_or_else(|| ApiError::not_found("Pitch not found"))?;
    let viewer = user.0.as_ref().map(AuthUser::viewer);
    let nda = match viewer {
        Some(v) if v.user_id != row.user_id => state.store.viewer_nda(id, v.user_id).await?,
        _ => None,
    };
    let access = PitchAccess::decide(viewer, row.user_id, row.status, nda);
    if !access.visible() {
        return Err(ApiError::not_found("Pitch not found"));
    }
    Ok((row, access, nda))
}

async fn detail_json(state: &AppState, id: i64, user: &MaybeUser) -> ApiResult<Map<String, Value>> {
    let (row, access, nda) = visible_pitch(state, id, user).await?;
    // Protected columns are read only after the access rule allowed them.
    let protected = if access.protected() { state.store.pitch_protected(id).await? } else { None };
    let mut m = pitch_json(&row, access, protected.as_ref(), Detail::Full);
    m.insert("hasSignedNDA".into(), access.protected().into());
    m.insert("isOwner".into(), (access == PitchAccess::Owner).into());
    m.insert("ndaStatus".into(), nda.map(|s| s.as_str()).into());
    Ok(m)
}

/// `GET /api/pitches/public/:id`: the pitch directly in `data`. Anonymous views are cached.
async fn public_detail(
    State(state): State<AppState>,
    user: MaybeUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    if user.0.is_none() {
        let s = &state;
        let res = cached(s, Ns::Pitch, format!("public:{id}"), &headers, || async move {
            Ok(ok_value(Value::Object(detail_json(s, id, &MaybeUser(None)).await?)))
        })
        .await;
        return anonymous_variant(res);
    }
    Ok(private(ok(Value::Object(detail_json(&state, id, &user).await?)).into_response()))
}

/// `GET /api/pitches/:id`: `data.pitch`, with the viewer's flags. Anonymous views are cached.
async fn detail(
    State(state): State<AppState>,
    user: MaybeUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    if user.0.is_none() {
        let s = &state;
        let res = cached(s, Ns::Pitch, format!("detail:{id}"), &headers, || async move {
            Ok(ok_value(json!({ "pitch": detail_body(s, id, &MaybeUser(None)).await? })))
        })
        .await;
        return anonymous_variant(res);
    }
    Ok(private(ok(json!({ "pitch": detail_body(&state, id, &user).await? })).into_response()))
}

async fn detail_body(state: &AppState, id: i64, user: &MaybeUser) -> ApiResult<Map<String, Value>> {
    let mut m = detail_json(state, id, user).await?;
    let is_owner = m.get("isOwner").and_then(Value::as_bool).unwrap_or(false);
    let (liked, saved) = match &user.0 {
        Some(a) => state.store.viewer_flags(id, a.user.id).await?,
        None => (false, false),
    };
    m.insert("isLiked".into(), liked.into());
    m.insert("isSaved".into(), saved.into());
    m.insert("canEdit".into(), is_owner.into());
    m.insert("investment_count".into(), 0.into());
    Ok(m)
}
