//! Portal dashboards (contract §6) and the payment widgets every portal page loads (§9.8). Every number is
//! computed from the data. The three portal dashboards are cached per user (`caching::cached_dashboard`).

use super::ndas::nda_json;
use super::notifications::notification_json;
use super::pitches::private;
use crate::caching::cached_dashboard;
use crate::error::{ApiError, ApiResult};
use crate::session::AuthUser;
use crate::state::AppState;
use crate::wire::pitch::public_cards;
use crate::wire::{iso, ok, ok_value};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pitchey_core::{NdaStatus, UserType};
use pitchey_store::dashboards::InvestmentRow;
use pitchey_store::ndas::NdaFilter;
use pitchey_store::{ListQuery, Order, Scope};
use serde_json::{Value, json};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/creator/dashboard", get(creator_dashboard))
        .route("/api/creator/funding/overview", get(funding_overview))
        .route("/api/investor/portfolio/summary", get(portfolio_summary))
        .route("/api/investor/investments", get(investor_investments))
        .route("/api/investment/recommendations", get(recommendations))
        .route("/api/investor/dashboard", get(investor_dashboard))
        .route("/api/analytics/dashboard", get(analytics_dashboard))
        .route("/api/production/dashboard", get(production_dashboard))
        .route("/api/production/projects", get(production_projects))
        .route("/api/payments/credits/balance", get(credits_balance))
        .route("/api/payments/subscription-status", get(subscription_status))
}

fn require(auth: &AuthUser, allowed: &[UserType]) -> ApiResult<()> {
    if allowed.contains(&auth.user.user_type) || auth.user.user_type == UserType::Admin {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
    Err(ApiError::forbidden(format!(
        "Access denied. Required portal: {}. Your account type: {}",
        names.join(" or "),
        auth.user.user_type
    )))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn investment_json(i: &InvestmentRow) -> Value {
    json!({
        "id": i.id, "pitchId": i.pitch_id, "pitch_id": i.pitch_id, "pitchTitle": i.pitch_title, "pitch_title": i.pitch_title,
        "genre": i.pitch_genre, "investorId": i.investor_id, "investorName": i.investor_name, "amount": i.amount,
        "status": i.status, "roi": i.roi_percentage, "roi_percentage": i.roi_percentage,
        "dateInvested": iso(i.invested_at), "invested_at": iso(i.invested_at), "productionStage": i.production_stage,
    })
}

/// Owner-side NDA counts: pending requests and granted (approved or signed, unexpired) NDAs.
async fn owner_nda_counts(s: &AppState, me: i64) -> ApiResult<(i64, i64, i64)> {
    let count = |statuses: Vec<NdaStatus>| NdaFilter { as_owner: true, statuses, limit: 1, ..Default::default() };
    let (_, pending) = s.store.list_ndas(me, &count(vec![NdaStatus::Pending])).await?;
    let (_, granted) = s.store.list_ndas(me, &count(vec![NdaStatus::Approved, NdaStatus::Signed])).await?;
    let (_, all) = s.store.list_ndas(me, &count(Vec::new())).await?;
    Ok((pending, granted, all))
}

/// `GET /api/creator/dashboard`.
async fn creator_dashboard(State(s): State<AppState>, auth: AuthUser, headers: HeaderMap) -> ApiResult<Response> {
    require(&auth, &[UserType::Creator])?;
    let me = auth.user.id;
    cached_dashboard(&s, "/api/creator/dashboard", me, &headers, || creator_dashboard_body(s.clone(), me)).await
}

/// What `/api/creator/dashboard` shows `me` (cached per user by the handler above).
async fn creator_dashboard_body(s: AppState, me: i64) -> ApiResult<Value> {
    let totals = s.store.pitch_totals(me).await?;
    let followers = s.store.follow_stats(me).await?.followers;
    let inv = s.store.investment_totals(me, false).await?;
    let (pending, granted, all_ndas) = owner_nda_counts(&s, me).await?;
    let mut lq = ListQuery::new(Scope::Owner(me));
    lq.order = Order::Updated;
    lq.limit = 5;
    lq.with_total = false;
    let recent = s.store.list_pitches(&lq).await?.items;
    let recent_pitches: Vec<Value> = recent
        .iter()
        .map(|p| {
            // The contract's fields, and what the client needs to render a pitch (`userId` among them).
            json!({
                "id": p.id, "title": p.title, "logline": p.logline, "genre": p.genre, "status": p.status.as_str(),
                "views": p.view_count, "likes": p.like_count, "ndaRequests": p.nda_count,
                "thumbnail": p.thumbnail_url.clone().or_else(|| p.title_image.clone()), "rating": Value::Null,
                "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
                "userId": p.user_id, "user_id": p.user_id, "viewCount": p.view_count, "likeCount": p.like_count,
                "ndaCount": p.nda_count, "requireNDA": p.require_nda, "createdAt": iso(p.created_at),
            })
        })
        .collect();
    let recent_ndas: Vec<Value> = s
        .store
        .list_ndas(me, &NdaFilter { as_owner: true, limit: 5, ..Default::default() })
        .await?
        .0
        .iter()
        .map(|n| nda_json(n, me))
        .collect();
    let recent_investments: Vec<Value> = s.store.investments(me, false, 5).await?.iter().map(investment_json).collect();
    let recent_notifications: Vec<Value> =
        s.store.notifications(me, false, 5, 0).await?.iter().map(notification_json).collect();
    let trend = s.store.views_per_day(me, 7).await?;
    let top = recent
        .iter()
        .max_by_key(|p| p.view_count)
        .map(|p| json!({ "id": p.id, "title": p.title, "views": p.view_count }));
    let mut all = ListQuery::new(Scope::Owner(me));
    all.order = Order::Views;
    all.limit = 1;
    all.with_total = false;
    let top = s
        .store
        .list_pitches(&all)
        .await?
        .items
        .first()
        .map(|p| json!({ "id": p.id, "title": p.title, "views": p.view_count }))
        .or(top);
    let engagement =
        if totals.views > 0 { round2((totals.likes + totals.saves) as f64 / totals.views as f64 * 100.0) } else { 0.0 };
    let data = json!({
        "overview": {
            "totalPitches": totals.pitches, "publishedPitches": totals.published, "draftPitches": totals.drafts,
            "totalViews": totals.views, "totalLikes": totals.likes, "totalFollowers": followers,
            "totalInvestments": inv.count, "activeDeals": granted, "pendingActions": pending, "totalNDAs": all_ndas,
        },
        "revenue": {
            "totalRevenue": round2(inv.committed), "committedFunds": round2(inv.committed), "pipelineValue": round2(inv.pending),
            "activeInvestors": inv.counterparts,
            "avgDealSize": if inv.active > 0 { round2(inv.committed / inv.active as f64) } else { 0.0 },
        },
        "recentPitches": recent_pitches,
        "recentActivity": { "investments": recent_investments, "ndaRequests": recent_ndas, "notifications": recent_notifications },
        "analytics": {
            "viewTrend": trend.iter().map(|(d, n)| json!({ "date": d, "views": n })).collect::<Vec<_>>(),
            "engagementRate": engagement,
            "topPerformingPitch": top,
        },
    });
    Ok(ok_value(data))
}

/// `GET /api/creator/funding/overview`: investments in the caller's pitches.
async fn funding_overview(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    require(&auth, &[UserType::Creator, UserType::Production])?;
    let inv = s.store.investment_totals(auth.user.id, false).await?;
    let recent: Vec<Value> = s.store.investments(auth.user.id, false, 10).await?.iter().map(investment_json).collect();
    let funded: std::collections::BTreeSet<i64> = s
        .store
        .investments(auth.user.id, false, 500)
        .await?
        .iter()
        .filter(|i| matches!(i.status.as_str(), "active" | "completed"))
        .map(|i| i.pitch_id)
        .collect();
    let data = json!({
        "totalRaised": round2(inv.committed), "totalInvestors": inv.counterparts, "fundedPitches": funded.len(),
        "averageInvestment": if inv.active > 0 { round2(inv.committed / inv.active as f64) } else { 0.0 },
        "pendingAmount": round2(inv.pending), "recentInvestments": recent,
    });
    Ok(private(ok(data).into_response()))
}

/// `GET /api/investor/portfolio/summary`: the page's fields and the original's `summary` object.
async fn portfolio_summary(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    require(&auth, &[UserType::Investor, UserType::Production])?;
    let me = auth.user.id;
    let t = s.store.investment_totals(me, true).await?;
    let list = s.store.investments(me, true, 100).await?;
    let top = list
        .iter()
        .filter(|i| i.roi_percentage.is_some())
        .max_by(|a, b| a.roi_percentage.partial_cmp(&b.roi_percentage).unwrap_or(std::cmp::Ordering::Equal))
        .map(|i| json!({ "pitchId": i.pitch_id, "title": i.pitch_title, "roi": i.roi_percentage }));
    let mut distribution = serde_json::Map::new();
    for i in list.iter().filter(|i| i.status != "cancelled") {
        let e = distribution.entry(i.pitch_genre.clone()).or_insert(json!(0.0));
        *e = json!(e.as_f64().unwrap_or(0.0) + i.amount);
    }
    let avg_roi = t.average_roi.map(round2).unwrap_or(0.0);
    let data = json!({
        "totalInvested": round2(t.committed), "activeInvestments": t.active, "averageROI": avg_roi, "topPerformer": top,
        "pendingInvestments": round2(t.pending), "portfolioValue": round2(t.current_value),
        "summary": {
            "total_invested": round2(t.committed), "total_returns": round2(t.current_value - t.committed),
            "active_investments": t.active, "average_roi": avg_roi, "portfolio_value": round2(t.current_value),
        },
        "recentInvestments": list.iter().take(5).map(investment_json).collect::<Vec<_>>(),
        "distribution": distribution,
    });
    Ok(private(ok(data).into_response()))
}

/// `GET /api/investor/investments`: `data` is the array the dashboard reads; `investments` repeats it.
async fn investor_investments(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    require(&auth, &[UserType::Investor, UserType::Production])?;
    let list: Vec<Value> = s.store.investments(auth.user.id, true, 200).await?.iter().map(investment_json).collect();
    let total = list.len();
    Ok(private(Json(json!({ "success": true, "data": list, "investments": list, "total": total })).into_response()))
}

/// `GET /api/investment/recommendations`: marketplace pitches seeking investment that the caller has not
/// invested in or saved, most engaging first.
async fn recommendations(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    let engaged = s.store.engaged_pitch_ids(auth.user.id).await?;
    let mut lq = ListQuery::new(Scope::Market);
    lq.order = Order::Score;
    lq.limit = 40;
    lq.with_total = false;
    let rows: Vec<_> = s
        .store
        .list_pitches(&lq)
        .await?
        .items
        .into_iter()
        .filter(|p| p.seeking_investment && p.user_id != auth.user.id && !engaged.contains(&p.id))
        .take(6)
        .collect();
    let cards = public_cards(&rows);
    let list: Vec<Value> = rows
        .iter()
        .zip(cards)
        .map(|(p, mut card)| {
            card["pitch_id"] = p.id.into();
            card["budget"] = json!(p.budget_range);
            card
        })
        .collect();
    Ok(private(Json(json!({ "success": true, "data": list, "recommendations": list })).into_response()))
}

/// `GET /api/investor/dashboard`.
async fn investor_dashboard(State(s): State<AppState>, auth: AuthUser, headers: HeaderMap) -> ApiResult<Response> {
    require(&auth, &[UserType::Investor])?;
    let me = auth.user.id;
    cached_dashboard(&s, "/api/investor/dashboard", me, &headers, || investor_dashboard_body(s.clone(), me)).await
}

/// What `/api/investor/dashboard` shows `me` (cached per user by the handler above).
async fn investor_dashboard_body(s: AppState, me: i64) -> ApiResult<Value> {
    let t = s.store.investment_totals(me, true).await?;
    let list = s.store.investments(me, true, 200).await?;
    let active = NdaFilter {
        as_requester: true,
        statuses: vec![NdaStatus::Approved, NdaStatus::Signed],
        limit: 1,
        ..Default::default()
    };
    let (_, active_ndas) = s.store.list_ndas(me, &active).await?;
    let saved = s.store.saved_pitches(me, 1, 0).await?.total;
    let mut breakdown =
        json!({ "preProduction": 0, "production": 0, "postProduction": 0, "released": 0, "development": 0 });
    for i in list.iter().filter(|i| i.status != "cancelled") {
        let key = match i.production_stage.as_str() {
            "pre-production" => "preProduction",
            "production" => "production",
            "post-production" => "postProduction",
            "released" | "distribution" => "released",
            _ => "development",
        };
        breakdown[key] = json!(breakdown[key].as_i64().unwrap_or(0) + 1);
    }
    let activity: Vec<Value> = s.store.notifications(me, false, 10, 0).await?.iter().map(notification_json).collect();
    let data = json!({
        "totalInvestments": t.count, "portfolioValue": round2(t.current_value), "totalInvested": round2(t.committed),
        "activeNDAs": active_ndas, "savedPitches": saved, "recentActivity": activity, "investmentBreakdown": breakdown,
    });
    Ok(ok_value(data))
}

fn series(label: &str, points: &[(String, i64)]) -> Value {
    json!({
        "labels": points.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
        "datasets": [{ "label": label, "data": points.iter().map(|(_, n)| *n).collect::<Vec<_>>() }],
    })
}

/// `GET /api/analytics/dashboard`: the caller's pitches, as `data.analytics` and directly in `data`.
async fn analytics_dashboard(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    let me = auth.user.id;
    let totals = s.store.pitch_totals(me).await?;
    let followers = s.store.follow_stats(me).await?.followers;
    let inv = s.store.investment_totals(me, false).await?;
    let views = s.store.views_per_day(me, 30).await?;
    let last7: i64 = views.iter().rev().take(7).map(|(_, n)| n).sum();
    let prior7: i64 = views.iter().rev().skip(7).take(7).map(|(_, n)| n).sum();
    let change = if prior7 > 0 { round2((last7 - prior7) as f64 / prior7 as f64 * 100.0) } else { 0.0 };
    let genres: Vec<Value> =
        s.store.owner_genres(me).await?.iter().map(|(g, n)| json!({ "genre": g, "count": n })).collect();
    let viewers: Vec<Value> =
        s.store.viewer_types(me).await?.iter().map(|(t, n)| json!({ "type": t, "count": n })).collect();
    let roles: Vec<Value> =
        s.store.users_by_type().await?.iter().map(|(t, n)| json!({ "role": t, "count": n })).collect();
    let analytics = json!({
        "overview": {
            "totalViews": totals.views, "totalLikes": totals.likes, "totalFollowers": followers, "totalPitches": totals.pitches,
            "totalInvestments": inv.count, "totalRevenue": round2(inv.committed), "totalNDAs": totals.nda_requests,
            "averageRating": 0, "viewsChange": change, "likesChange": 0, "ndasChange": 0,
        },
        "trends": { "viewsOverTime": series("Views", &views) },
        "demographics": { "usersByRole": roles, "pitchesByGenre": genres, "viewerTypes": viewers },
    });
    let mut data = analytics.clone();
    data["analytics"] = analytics;
    Ok(private(ok(data).into_response()))
}

/// Pitch lifecycle and production stage as a production project status.
fn project_status(status: &str, stage: &str) -> &'static str {
    match (status, stage) {
        ("archived", _) => "completed",
        ("published", "pre-production") => "pre-production",
        ("published", "production") => "in-production",
        ("published", "post-production") => "post-production",
        ("published", _) => "development",
        _ => "draft",
    }
}

/// `GET /api/production/projects`: the company's own pitches as projects.
async fn production_projects(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    require(&auth, &[UserType::Production])?;
    let mut lq = ListQuery::new(Scope::Owner(auth.user.id));
    lq.order = Order::Updated;
    lq.limit = 100;
    let page = s.store.list_pitches(&lq).await?;
    let projects: Vec<Value> = page
        .items
        .iter()
        .map(|p| {
            json!({
                "id": p.id, "pitchId": p.id, "title": p.title, "genre": p.genre,
                "status": project_status(p.status.as_str(), &p.production_stage), "pitchStatus": p.status.as_str(),
                "stage": p.production_stage, "budget": p.estimated_budget, "budgetRange": p.budget_range,
                "views": p.view_count, "ndaRequests": p.nda_count, "createdAt": iso(p.created_at), "updatedAt": iso(p.updated_at),
            })
        })
        .collect();
    Ok(private(ok(json!({ "projects": projects, "total": page.total })).into_response()))
}

/// `GET /api/production/dashboard`: top-level `dashboard` (and the same under `data`).
async fn production_dashboard(State(s): State<AppState>, auth: AuthUser, headers: HeaderMap) -> ApiResult<Response> {
    require(&auth, &[UserType::Production])?;
    let me = auth.user.id;
    cached_dashboard(&s, "/api/production/dashboard", me, &headers, || production_dashboard_body(s.clone(), me)).await
}

/// What `/api/production/dashboard` shows `me` (cached per user by the handler above).
async fn production_dashboard_body(s: AppState, me: i64) -> ApiResult<Value> {
    let stages = s.store.owner_stages(me).await?;
    let count = |names: &[&str]| {
        stages.iter().filter(|(st, _, _)| names.contains(&st.as_str())).map(|(_, n, _)| n).sum::<i64>()
    };
    let total: i64 = stages.iter().map(|(_, n, _)| n).sum();
    let budget: f64 = stages.iter().map(|(_, _, b)| b).sum();
    let (pending, granted, _) = owner_nda_counts(&s, me).await?;
    let dashboard = json!({
        "activeProjects": {
            "total_projects": total, "pre_production": count(&["pre-production"]), "in_production": count(&["production"]),
            "post_production": count(&["post-production"]), "total_budget_allocated": round2(budget),
            "avg_completion": if total > 0 {
                round2((count(&["pre-production"]) * 25 + count(&["production"]) * 60 + count(&["post-production"]) * 90) as f64 / total as f64)
            } else { 0.0 },
        },
        "talentStats": {},
        "upcomingDeadlines": [],
        "budgetOverview": { "total_budget": round2(budget), "by_stage": stages.iter().map(|(st, n, b)| json!({ "stage": st, "projects": n, "budget": round2(*b) })).collect::<Vec<_>>() },
        "recentAssignments": [],
        "locationUpdates": [],
        "ndas": { "pending": pending, "active": granted },
    });
    Ok(json!({ "success": true, "dashboard": dashboard, "data": { "dashboard": dashboard } }))
}

/// `GET /api/payments/credits/balance`.
async fn credits_balance(State(s): State<AppState>, auth: AuthUser) -> ApiResult<Response> {
    let b = s.store.credit_balance(auth.user.id).await?;
    let history: Vec<Value> = s
        .store
        .credit_history(auth.user.id, 10)
        .await?
        .iter()
        .map(|t| json!({ "id": t.id, "type": t.kind, "amount": t.amount, "balanceAfter": t.balance_after, "description": t.description, "createdAt": iso(t.created_at) }))
        .collect();
    let data = json!({
        "balance": { "credits": b.balance, "totalPurchased": b.total_purchased, "totalUsed": b.total_used },
        "credits": b.balance, "currency": "USD", "recentTransactions": history,
    });
    Ok(private(ok(data).into_response()))
}

/// `GET /api/payments/subscription-status`: from the account's tier (no billing provider is connected, so
/// paid tiers report no period or amount).
async fn subscription_status(auth: AuthUser) -> Response {
    let tier = auth.user.subscription_tier.as_str();
    let data = if tier == "free" || tier.is_empty() {
        json!({ "active": false, "tier": "watcher", "status": "none", "renewalDate": null })
    } else {
        json!({
            "active": true, "tier": tier, "status": "active", "currentPeriodStart": iso(auth.user.created_at),
            "currentPeriodEnd": null, "amount": null, "billingInterval": null, "renewalDate": null,
        })
    };
    private(ok(data).into_response())
}
