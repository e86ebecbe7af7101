//! The NDA workflow (contract §5): request, decide, sign, revoke, and the lists both parties see. The
//! rules live in `pitchey_core::nda`; the store applies them in one transaction per change.

use super::engagement::flex_id;
use super::pitches::private;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, JsonOrEmpty};
use crate::session::AuthUser;
use crate::state::AppState;
use crate::wire::pitch::HIDDEN_CREATOR;
use crate::wire::{iso, ok};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Utc};
use pitchey_core::validate::at_most;
use pitchey_core::{NdaAction, NdaError, NdaStatus};
use pitchey_store::credits::NDA_REQUEST_COST;
use pitchey_store::ndas::{ActionInput, NdaFailure, NdaFilter, NdaRequest, NdaRow};
use serde::Deserialize;
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/ndas/request", post(request))
        .route("/api/pitches/{id}/request-nda", post(request_for_pitch))
        .route("/api/ndas/pitch/{pitch_id}/status", get(pitch_status))
        .route("/api/ndas/pitch/{pitch_id}/can-request", get(can_request))
        .route("/api/ndas/sign", post(sign_body))
        .route("/api/ndas/bulk-approve", post(bulk_approve))
        .route("/api/ndas/bulk-reject", post(bulk_reject))
        .route("/api/ndas/incoming-requests", get(incoming))
        .route("/api/ndas/outgoing-requests", get(outgoing))
        .route("/api/ndas/active", get(active))
        .route("/api/nda/active", get(active))
        .route("/api/ndas/signed", get(signed))
        .route("/api/nda/signed", get(signed))
        .route("/api/ndas/incoming-signed", get(incoming_signed))
        .route("/api/ndas/outgoing-signed", get(outgoing_signed))
        .route("/api/ndas/stats", get(stats))
        .route("/api/ndas", get(list))
        .route("/api/ndas/{id}", get(one))
        .route("/api/ndas/{id}/approve", post(approve))
        .route("/api/ndas/{id}/reject", post(reject))
        .route("/api/ndas/{id}/sign", post(sign))
        .route("/api/ndas/{id}/revoke", post(revoke))
}

/// Maps refusals to the contract's statuses and messages.
fn failure(e: NdaFailure) -> ApiError {
    match e {
        NdaFailure::PitchNotFound => ApiError::not_found("Pitch not found"),
        NdaFailure::InsufficientCredits => ApiError::new(
            StatusCode::BAD_REQUEST,
            "INSUFFICIENT_CREDITS",
            format!("Insufficient credits. NDA requests cost {NDA_REQUEST_COST} credits."),
        ),
        NdaFailure::Rule(r) => rule(r),
        NdaFailure::Store(s) => s.into(),
    }
}

fn rule(e: NdaError) -> ApiError {
    let msg = e.to_string();
    match e {
        NdaError::NotFound => ApiError::not_found("NDA request not found or not authorized"),
        NdaError::WrongParty(_) | NdaError::RoleNotAllowed => ApiError::forbidden(msg),
        NdaError::OwnPitch | NdaError::NotApproved => ApiError::bad_request(msg),
        NdaError::AlreadyExists => ApiError::conflict("ALREADY_EXISTS", msg),
        NdaError::InvalidTransition { .. } => ApiError::conflict("INVALID_STATE", msg),
    }
}

fn name(first: &Option<String>, last: &Option<String>, company: &Option<String>, username: &str, kind: &str) -> String {
    if kind == "production"
        && let Some(c) = company.as_deref().filter(|c| !c.is_empty())
    {
        return c.to_owned();
    }
    let full = [first.as_deref(), last.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if full.trim().is_empty() { username.to_owned() } else { full }
}

/// An NDA as `viewer` (a party) sees it. The pitch owner's identity is shown to the requester only once
/// the NDA grants access (or when the pitch does not hide its creator).
pub fn nda_json(n: &NdaRow, viewer: i64) -> Value {
    let status = n.effective();
    let reveal_owner = viewer == n.owner_id || status.grants_access() || !n.pitch_require_nda;
    let requester_name = name(
        &n.requester_first_name,
        &n.requester_last_name,
        &n.requester_company,
        &n.requester_username,
        &n.requester_type,
    );
    let owner = if reveal_owner {
        let owner_name =
            name(&n.owner_first_name, &n.owner_last_name, &n.owner_company, &n.owner_username, &n.owner_type);
        json!({
            "id": n.owner_id, "username": n.owner_username, "name": owner_name, "email": n.owner_email,
            "firstName": n.owner_first_name, "lastName": n.owner_last_name, "companyName": n.owner_company, "userType": n.owner_type,
        })
    } else {
        json!({ "id": null, "username": null, "name": HIDDEN_CREATOR, "email": null, "userType": null })
    };
    let responded = n.approved_at.or(n.rejected_at);
    let t = |x: Option<DateTime<Utc>>| x.map(iso);
    json!({
        "id": n.id,
        "pitch_id": n.pitch_id, "pitchId": n.pitch_id,
        "requester_id": n.requester_id, "requesterId": n.requester_id, "signer_id": n.requester_id,
        "pitch_owner_id": owner["id"], "owner_id": owner["id"], "ownerId": owner["id"], "creator_id": owner["id"],
        "status": status.as_str(),
        "nda_type": n.nda_type, "ndaType": n.nda_type,
        "message": n.message, "request_message": n.message, "requestMessage": n.message,
        "company_info": n.company_info, "companyInfo": n.company_info,
        "custom_terms": n.custom_terms, "customTerms": n.custom_terms,
        "expires_at": t(n.expires_at), "expiresAt": t(n.expires_at),
        "approved_at": t(n.approved_at), "approvedAt": t(n.approved_at), "approved_by": n.approved_by,
        "rejected_at": t(n.rejected_at), "rejection_reason": n.rejection_reason, "rejectionReason": n.rejection_reason,
        "signed_at": t(n.signed_at), "signedAt": t(n.signed_at), "signature_data": n.signature_data,
        "revoked_at": t(n.revoked_at), "revocation_reason": n.revocation_reason,
        "responded_at": t(responded), "respondedAt": t(responded),
        "access_granted": status.grants_access(), "accessGranted": status.grants_access(),
        "created_at": iso(n.created_at), "createdAt": iso(n.created_at),
        "requested_at": iso(n.created_at), "requestedAt": iso(n.created_at),
        "updated_at": iso(n.updated_at), "updatedAt": iso(n.updated_at),
        "credits_used": n.credits_used,
        "pitch_title": n.pitch_title, "pitchTitle": n.pitch_title, "pitch_genre": n.pitch_genre,
        "pitch": { "id": n.pitch_id, "title": n.pitch_title, "genre": n.pitch_genre },
        "requester": {
            "id": n.requester_id, "username": n.requester_username, "name": requester_name, "email": n.requester_email,
            "firstName": n.requester_first_name, "lastName": n.requester_last_name,
            "companyName": n.requester_company, "userType": n.requester_type,
        },
        "requester_username": n.requester_username, "requester_name": requester_name, "requester_email": n.requester_email,
        "requester_first_name": n.requester_first_name, "requester_last_name": n.requester_last_name,
        "requester_company_name": n.requester_company, "requester_type": n.requester_type,
        "creator": owner,
        "creator_username": owner["username"], "creator_name": owner["name"], "creator_email": owner["email"],
        "creator_company_name": if reveal_owner { json!(n.owner_company) } else { Value::Null },
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RequestBody {
    pitch_id: Option<Value>,
    #[serde(rename = "pitch_id")]
    pitch_id_snake: Option<Value>,
    message: Option<String>,
    request_message: Option<String>,
    expiry_days: Option<i64>,
    nda_type: Option<String>,
    request_type: Option<String>,
    company_info: Option<Value>,
    full_name: Option<String>,
    company: Option<String>,
    purpose: Option<String>,
}

async fn do_request(state: &AppState, auth: &AuthUser, pitch_id: i64, b: RequestBody) -> ApiResult<Json<Value>> {
    let nda_type = b.nda_type.or(b.request_type).unwrap_or_else(|| "basic".into()).trim().to_lowercase();
    if !matches!(nda_type.as_str(), "basic" | "standard" | "enhanced" | "custom") {
        return Err(ApiError::validation("ndaType must be basic, standard, enhanced or custom"));
    }
    if b.expiry_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(ApiError::validation("expiryDays must be between 1 and 3650"));
    }
    let message = b.message.or(b.request_message).or(b.purpose).map(|m| m.chars().take(5000).collect::<String>());
    at_most(b.full_name.as_deref(), NAME_MAX, "fullName")?;
    at_most(b.company.as_deref(), NAME_MAX, "company")?;
    if let Some(info) = &b.company_info {
        at_most(Some(&info.to_string()), COMPANY_INFO_MAX, "companyInfo (as JSON)")?;
    }
    let company_info = b.company_info.or_else(|| {
        (b.full_name.is_some() || b.company.is_some()).then(|| json!({ "fullName": b.full_name, "company": b.company }))
    });
    let req = NdaRequest { nda_type, message, expiry_days: b.expiry_days, company_info };
    let (row, balance) =
        state.store.request_nda(pitch_id, auth.user.id, auth.user.user_type, &req).await.map_err(failure)?;
    tracing::info!(nda_id = row.id, pitch_id, requester = auth.user.id, "NDA requested");
    metrics::counter!("pitchey_nda_requests_total").increment(1);
    // The pitch's NDA count shows on public lists and pages.
    state.pitches_changed().await;
    let mut data = nda_json(&row, auth.user.id);
    data["creditsUsed"] = NDA_REQUEST_COST.into();
    data["newBalance"] = balance.into();
    data["success"] = true.into();
    Ok(ok(data))
}

async fn request(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiJson(b): ApiJson<RequestBody>,
) -> ApiResult<Json<Value>> {
    let pitch_id = flex_id(b.pitch_id.as_ref().or(b.pitch_id_snake.as_ref()))
        .ok_or_else(|| ApiError::validation("pitchId is required"))?;
    do_request(&s, &auth, pitch_id, b).await
}

async fn request_for_pitch(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    JsonOrEmpty(b): JsonOrEmpty<RequestBody>,
) -> ApiResult<Json<Value>> {
    do_request(&s, &auth, id, b).await
}

async fn pitch_status(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(pitch_id): ApiPath<i64>,
) -> ApiResult<Response> {
    let nda = s.store.nda_for_pitch(pitch_id, auth.user.id).await?;
    let status = nda.as_ref().map(NdaRow::effective);
    let data = json!({
        "hasNDA": nda.is_some(),
        "nda": nda.as_ref().map(|n| nda_json(n, auth.user.id)),
        "status": status.map(NdaStatus::as_str),
        "canAccess": status.is_some_and(NdaStatus::grants_access),
    });
    Ok(private(ok(data).into_response()))
}

async fn can_request(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(pitch_id): ApiPath<i64>,
) -> ApiResult<Response> {
    let owner = s.store.pitch_owner(pitch_id).await?;
    let Some((owner_id, status)) =
        owner.filter(|(o, st)| *st == pitchey_core::PitchStatus::Published || *o == auth.user.id)
    else {
        return Err(ApiError::not_found("Pitch not found"));
    };
    let _ = status;
    let existing = s.store.nda_for_pitch(pitch_id, auth.user.id).await?;
    let latest = existing.as_ref().map(NdaRow::effective);
    let balance = s.store.credit_balance(auth.user.id).await?.balance;
    let verdict = pitchey_core::nda::check_request(auth.user.user_type, owner_id == auth.user.id, latest);
    let reason = match (&verdict, balance >= NDA_REQUEST_COST) {
        (Err(NdaError::AlreadyExists), _) => Some("You already have an NDA request for this pitch".to_owned()),
        (Err(e), _) => Some(e.to_string()),
        (Ok(()), false) => Some(format!("Insufficient credits. NDA requests cost {NDA_REQUEST_COST} credits.")),
        (Ok(()), true) => None,
    };
    let data = json!({
        "canRequest": reason.is_none(),
        "reason": reason,
        "existingNDA": existing.as_ref().map(|n| nda_json(n, auth.user.id)),
        "credits": balance,
        "cost": NDA_REQUEST_COST,
    });
    Ok(private(ok(data).into_response()))
}

/// Longest name, title or company on a request or a signature, in characters.
const NAME_MAX: usize = 200;
/// Longest `companyInfo`, as JSON text.
const COMPANY_INFO_MAX: usize = 10_000;
/// Longest custom terms an owner attaches on approval.
const CUSTOM_TERMS_MAX: usize = 20_000;
/// Longest signature: room for a drawn signature sent as an image data URL.
const SIGNATURE_MAX: usize = 200_000;
/// Rejection and revocation reasons are cut to this many characters.
const REASON_MAX: usize = 2000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ActionBody {
    reason: Option<String>,
    rejection_reason: Option<String>,
    notes: Option<String>,
    custom_terms: Option<String>,
    expiry_days: Option<i64>,
    nda_id: Option<Value>,
    signature: Option<String>,
    full_name: Option<String>,
    title: Option<String>,
    company: Option<String>,
    accept_terms: Option<bool>,
}

async fn act(s: &AppState, auth: &AuthUser, id: i64, action: NdaAction, input: ActionInput) -> ApiResult<NdaRow> {
    let row = s.store.nda_action(id, auth.user.id, action, &input).await.map_err(failure)?;
    tracing::info!(nda_id = id, actor = auth.user.id, status = row.status.as_str(), "NDA {:?}", action);
    metrics::counter!("pitchey_nda_decisions_total", "decision" => row.status.as_str()).increment(1);
    Ok(row)
}

async fn approve(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    JsonOrEmpty(b): JsonOrEmpty<ActionBody>,
) -> ApiResult<Json<Value>> {
    if b.expiry_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(ApiError::validation("expiryDays must be between 1 and 3650"));
    }
    let custom_terms = b.custom_terms.or(b.notes);
    at_most(custom_terms.as_deref(), CUSTOM_TERMS_MAX, "customTerms")?;
    let input = ActionInput { expiry_days: b.expiry_days, custom_terms, ..Default::default() };
    let row = act(&s, &auth, id, NdaAction::Approve, input).await?;
    Ok(ok(json!({ "nda": nda_json(&row, auth.user.id) })))
}

async fn reject(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    JsonOrEmpty(b): JsonOrEmpty<ActionBody>,
) -> ApiResult<Json<Value>> {
    let reason = b.reason.or(b.rejection_reason).map(|r| r.chars().take(REASON_MAX).collect());
    let row = act(&s, &auth, id, NdaAction::Reject, ActionInput { reason, ..Default::default() }).await?;
    Ok(ok(json!({ "nda": nda_json(&row, auth.user.id) })))
}

async fn revoke(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    JsonOrEmpty(b): JsonOrEmpty<ActionBody>,
) -> ApiResult<Json<Value>> {
    let reason = b.reason.map(|r| r.chars().take(REASON_MAX).collect());
    let row = act(&s, &auth, id, NdaAction::Revoke, ActionInput { reason, ..Default::default() }).await?;
    Ok(ok(json!({ "nda": nda_json(&row, auth.user.id) })))
}

async fn do_sign(s: &AppState, auth: &AuthUser, id: i64, b: ActionBody) -> ApiResult<Json<Value>> {
    if b.accept_terms != Some(true) {
        return Err(ApiError::validation("acceptTerms must be true to sign"));
    }
    let full_name = b.full_name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let Some(full_name) = full_name else { return Err(ApiError::validation("fullName is required to sign")) };
    for (text, max, what) in [
        (Some(full_name.as_str()), NAME_MAX, "fullName"),
        (b.title.as_deref(), NAME_MAX, "title"),
        (b.company.as_deref(), NAME_MAX, "company"),
        (b.signature.as_deref(), SIGNATURE_MAX, "signature"),
    ] {
        at_most(text, max, what)?;
    }
    let signature = json!({
        "signature": b.signature.unwrap_or_else(|| full_name.clone()), "fullName": full_name, "title": b.title,
        "company": b.company, "acceptTerms": true, "signedAt": iso(Utc::now()),
    });
    let row =
        act(s, auth, id, NdaAction::Sign, ActionInput { signature: Some(signature), ..Default::default() }).await?;
    let n = nda_json(&row, auth.user.id);
    let conversation =
        json!({ "creatorId": n["creator"]["id"], "creatorName": n["creator"]["name"], "pitchTitle": row.pitch_title });
    Ok(ok(json!({ "nda": n, "conversation": conversation })))
}

async fn sign(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ActionBody>,
) -> ApiResult<Json<Value>> {
    do_sign(&s, &auth, id, b).await
}

async fn sign_body(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiJson(b): ApiJson<ActionBody>,
) -> ApiResult<Json<Value>> {
    let id = flex_id(b.nda_id.as_ref()).ok_or_else(|| ApiError::validation("ndaId is required"))?;
    do_sign(&s, &auth, id, b).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BulkBody {
    nda_ids: Vec<Value>,
    reason: Option<String>,
}

async fn bulk(s: &AppState, auth: &AuthUser, b: BulkBody, action: NdaAction) -> ApiResult<Json<Value>> {
    if b.nda_ids.is_empty() || b.nda_ids.len() > 100 {
        return Err(ApiError::validation("ndaIds must list 1 to 100 ids"));
    }
    let mut outcomes = Vec::with_capacity(b.nda_ids.len());
    let mut server_failed = false;
    for raw in &b.nda_ids {
        let Some(id) = flex_id(Some(raw)) else {
            outcomes.push((raw.clone(), Err(ApiError::validation("Invalid id"))));
            continue;
        };
        // After a server error the rest are not tried: in an outage each would wait out its own timeouts,
        // and the request would run past its deadline instead of answering which ids were decided.
        if server_failed {
            let skipped = "Not attempted after a server error on an earlier id; retry it";
            outcomes.push((json!(id), Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "NOT_ATTEMPTED", skipped))));
            continue;
        }
        let input = ActionInput {
            reason: b.reason.as_ref().map(|r| r.chars().take(REASON_MAX).collect()),
            ..Default::default()
        };
        let outcome = act(s, auth, id, action, input).await.map(drop);
        server_failed = outcome.as_ref().is_err_and(|e| e.status.is_server_error());
        outcomes.push((json!(id), outcome));
    }
    bulk_answer(outcomes)
}

/// The answer to a bulk decision. Each NDA is decided in its own transaction, so a server error part-way
/// (the database lost, say) leaves the earlier ones decided: the answer lists every id as decided or failed,
/// with the failure's code, and the client retries the failed ones. Only when nothing was decided does a
/// server error answer the request, so that retrying the whole request is safe.
fn bulk_answer(outcomes: Vec<(Value, Result<(), ApiError>)>) -> ApiResult<Json<Value>> {
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut server_error = None;
    for (id, outcome) in outcomes {
        match outcome {
            Ok(()) => successful.push(id),
            Err(e) => {
                failed.push(json!({ "id": id, "error": e.message, "code": e.code }));
                if e.status.is_server_error() && server_error.is_none() {
                    server_error = Some(e);
                }
            }
        }
    }
    match server_error {
        Some(e) if successful.is_empty() => Err(e),
        _ => Ok(ok(json!({ "successful": successful, "failed": failed }))),
    }
}

async fn bulk_approve(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiJson(b): ApiJson<BulkBody>,
) -> ApiResult<Json<Value>> {
    bulk(&s, &auth, b, NdaAction::Approve).await
}

async fn bulk_reject(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiJson(b): ApiJson<BulkBody>,
) -> ApiResult<Json<Value>> {
    bulk(&s, &auth, b, NdaAction::Reject).await
}

async fn one(State(s): State<AppState>, auth: AuthUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    let row = s
        .store
        .nda_for(id, auth.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("NDA not found or not authorized"))?;
    Ok(private(ok(json!({ "nda": nda_json(&row, auth.user.id) })).into_response()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ListQueryParams {
    #[serde(rename = "type")]
    kind: Option<String>,
    status: Option<String>,
    pitch_id: Option<String>,
    requester_id: Option<String>,
    creator_id: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn num(s: &Option<String>, what: &str) -> ApiResult<Option<i64>> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty() && *s != "undefined" && *s != "null") {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ApiError::bad_request(format!("{what} must be a number"))),
    }
}

fn date(s: &Option<String>, what: &str) -> ApiResult<Option<DateTime<Utc>>> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).map_or_else(Utc::now, |t| t.and_utc()))
            })
            .ok()
            // Both backends store years 1–9999 only (PostgreSQL refuses others; SQLite compares text).
            .filter(|d| (1..=9999).contains(&d.year()))
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{what} must be a date between the years 1 and 9999"))),
    }
}

/// The `status` filter's statuses, each once (a status repeated a thousand times was a thousand ORs, past
/// SQLite's expression depth).
fn statuses(s: &Option<String>) -> ApiResult<Vec<NdaStatus>> {
    let mut out = Vec::new();
    if let Some(v) = s.as_deref().map(str::trim).filter(|s| !s.is_empty() && *s != "all") {
        for x in v.split(',') {
            let status = x
                .trim()
                .parse::<NdaStatus>()
                .map_err(|_| ApiError::bad_request(format!("Unknown NDA status {x:?}")))?;
            if !out.contains(&status) {
                out.push(status);
            }
        }
    }
    Ok(out)
}

impl ListQueryParams {
    fn filter(&self, me: i64, default_statuses: &[NdaStatus]) -> ApiResult<NdaFilter> {
        let mut f = NdaFilter {
            statuses: statuses(&self.status)?,
            pitch_id: num(&self.pitch_id, "pitchId")?,
            since: date(&self.date_from, "dateFrom")?,
            until: date(&self.date_to, "dateTo")?,
            limit: num(&self.limit, "limit")?.unwrap_or(50).clamp(1, 200),
            offset: num(&self.offset, "offset")?.unwrap_or(0).clamp(0, 100_000),
            ..Default::default()
        };
        if self.status.is_none() {
            f.statuses = default_statuses.to_vec();
        }
        match self.kind.as_deref().unwrap_or("all") {
            "sent" | "outgoing" => f.as_requester = true,
            "received" | "incoming" => f.as_owner = true,
            "all" | "" => {}
            other => return Err(ApiError::bad_request(format!("Unknown type {other:?} (sent, received or all)"))),
        }
        // The client passes its own id as creatorId / requesterId to pick a side.
        if num(&self.creator_id, "creatorId")? == Some(me) {
            f.as_owner = true;
        }
        match num(&self.requester_id, "requesterId")? {
            Some(r) if r == me => f.as_requester = true,
            Some(r) => f.requester_id = Some(r),
            None => {}
        }
        Ok(f)
    }
}

async fn listing(s: &AppState, auth: &AuthUser, f: NdaFilter) -> ApiResult<(Vec<Value>, i64)> {
    let (rows, total) = s.store.list_ndas(auth.user.id, &f).await?;
    Ok((rows.iter().map(|r| nda_json(r, auth.user.id)).collect(), total))
}

async fn list(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    let (items, total) = listing(&s, &auth, p.filter(auth.user.id, &[])?).await?;
    Ok(private(ok(json!({ "ndas": items, "total": total })).into_response()))
}

async fn requests_list(
    s: &AppState,
    auth: &AuthUser,
    p: ListQueryParams,
    owner_side: bool,
    default: &[NdaStatus],
) -> ApiResult<Response> {
    let mut f = p.filter(auth.user.id, default)?;
    f.as_owner = owner_side;
    f.as_requester = !owner_side;
    let (items, total) = listing(s, auth, f).await?;
    Ok(private(ok(json!({ "ndaRequests": items, "total": total })).into_response()))
}

/// Requests on the caller's pitches awaiting a decision (`status` widens it, `status=all` for every one).
async fn incoming(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    requests_list(&s, &auth, p, true, &[NdaStatus::Pending]).await
}

/// The caller's own requests awaiting a decision.
async fn outgoing(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    requests_list(&s, &auth, p, false, &[NdaStatus::Pending]).await
}

/// Open or granted NDAs on either side.
async fn active(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    let f = p.filter(auth.user.id, &[NdaStatus::Pending, NdaStatus::Approved, NdaStatus::Signed])?;
    let (items, total) = listing(&s, &auth, f).await?;
    Ok(private(ok(json!({ "ndaRequests": items, "total": total })).into_response()))
}

/// NDAs that were signed, on either side.
async fn signed(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    let mut f = p.filter(auth.user.id, &[])?;
    f.signed_only = true;
    let (items, total) = listing(&s, &auth, f).await?;
    Ok(private(ok(json!({ "ndaRequests": items, "total": total })).into_response()))
}

async fn signed_side(s: &AppState, auth: &AuthUser, p: ListQueryParams, owner_side: bool) -> ApiResult<Response> {
    let mut f = p.filter(auth.user.id, &[NdaStatus::Signed])?;
    f.as_owner = owner_side;
    f.as_requester = !owner_side;
    let (items, total) = listing(s, auth, f).await?;
    Ok(private(Json(json!({ "success": true, "data": items, "total": total })).into_response()))
}

async fn incoming_signed(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    signed_side(&s, &auth, p, true).await
}

async fn outgoing_signed(
    State(s): State<AppState>,
    auth: AuthUser,
    ApiQuery(p): ApiQuery<ListQueryParams>,
) -> ApiResult<Response> {
    signed_side(&s, &auth, p, false).await
}

async fn stats(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    let st = s.store.nda_stats(auth.user.id).await?;
    let decided = st.approved + st.signed + st.rejected + st.revoked + st.expired;
    let granted = st.approved + st.signed + st.revoked + st.expired;
    let approval_rate = if decided > 0 { (granted as f64 / decided as f64 * 1000.0).round() / 10.0 } else { 0.0 };
    let stats = json!({
        "total": st.total, "pending": st.pending, "approved": st.approved, "signed": st.signed,
        "rejected": st.rejected, "expired": st.expired, "revoked": st.revoked,
        "incoming": st.incoming, "outgoing": st.outgoing,
        "approvalRate": approval_rate,
        "avgResponseTime": st.avg_response_hours.map(|h| (h * 10.0).round() / 10.0),
    });
    let mut data = stats.clone();
    data["stats"] = stats;
    Ok(private(ok(data).into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(answer: ApiResult<Json<Value>>) -> Value {
        answer.map(|Json(v)| v).unwrap_or_else(|e| panic!("expected 200, got {} {}", e.status, e.code))
    }

    #[test]
    fn a_bulk_decision_lists_what_was_decided_before_a_server_error() {
        let v = body(bulk_answer(vec![
            (json!(1), Ok(())),
            (json!(2), Err(ApiError::unavailable(5))),
            (json!(3), Err(ApiError::conflict("NDA_NOT_PENDING", "not pending"))),
            (json!("x"), Err(ApiError::validation("Invalid id"))),
        ]));
        assert_eq!(v["data"]["successful"], json!([1]));
        let failed = v["data"]["failed"].as_array().unwrap();
        let ids_and_codes: Vec<_> = failed.iter().map(|f| (f["id"].clone(), f["code"].clone())).collect();
        assert_eq!(
            ids_and_codes,
            [
                (json!(2), json!("SERVICE_UNAVAILABLE")),
                (json!(3), json!("NDA_NOT_PENDING")),
                (json!("x"), json!("VALIDATION_ERROR"))
            ]
        );
    }

    #[test]
    fn a_bulk_decision_that_decided_nothing_answers_with_its_server_error() {
        let e = bulk_answer(vec![
            (json!(1), Err(ApiError::conflict("NDA_NOT_PENDING", "not pending"))),
            (json!(2), Err(ApiError::unavailable(5))),
        ])
        .unwrap_err();
        assert_eq!((e.status, e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(5)));
        // Client errors alone are an answer, not a failure of the request.
        let v = body(bulk_answer(vec![(json!(1), Err(ApiError::not_found("NDA not found")))]));
        assert_eq!(
            (v["data"]["successful"].clone(), v["data"]["failed"][0]["code"].clone()),
            (json!([]), json!("NOT_FOUND"))
        );
    }
}
