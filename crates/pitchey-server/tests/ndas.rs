//! The NDA workflow, credits and notifications over real HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{TestApp, create_user, error_code, get, post, session_for, user_id};
use pitchey_core::UserType;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

both_backends!(
    investor_journey_request_approve_sign_revoke,
    production_journey_request_approve_sign_revoke,
    production_journey_rejected_and_refunded,
    production_owner_decides_on_own_pitch,
    invalid_moves_get_clear_errors,
    credits_are_charged_once_and_never_overdrawn,
    lists_stats_and_bulk_actions,
    expiry_ends_access_immediately,
    notifications_and_polling,
    deleting_a_pitch_refunds_its_pending_requests,
);

/// A published NDA pitch of the demo creator, by title.
async fn pitch_id(app: &TestApp, title: &str) -> i64 {
    let (_, body) = get(&app.creator().await, app.url("/api/creator/pitches?limit=100")).await;
    body["pitches"].as_array().unwrap().iter().find(|p| p["title"] == title).unwrap()["id"].as_i64().unwrap()
}

async fn public_detail(app: &TestApp, c: &Client, id: i64) -> Value {
    let (s, body) = get(c, app.url(&format!("/api/pitches/public/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    body["data"].clone()
}

async fn investor_journey_request_approve_sign_revoke(app: &TestApp) {
    let id = pitch_id(app, "The Last Lighthouse").await;
    let investor = app.investor().await;
    let creator = app.creator().await;
    assert_eq!(public_detail(app, &investor, id).await["hasSignedNDA"], false);
    let before = get(&investor, app.url("/api/payments/credits/balance")).await.1["data"]["credits"].as_i64().unwrap();

    // The investor's page sends pitchId as a number.
    let (s, body) = post(
        &investor,
        app.url("/api/ndas/request"),
        json!({"pitchId": id, "ndaType": "basic", "message": "Keen to read"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let nda = &body["data"];
    assert_eq!(nda["status"], "pending");
    assert_eq!(nda["pitchId"], id);
    assert_eq!(nda["creditsUsed"], 10);
    assert_eq!(nda["newBalance"], before - 10);
    assert_eq!(nda["creator"]["name"], "Hidden (NDA Required)", "owner hidden until granted");
    let nda_id = nda["id"].as_i64().unwrap();
    assert_eq!(public_detail(app, &investor, id).await["hasSignedNDA"], false);

    // The owner sees it in the incoming requests, with the requester.
    let (_, body) = get(&creator, app.url("/api/ndas/incoming-requests")).await;
    let req = body["data"]["ndaRequests"].as_array().unwrap().iter().find(|r| r["id"] == nda_id).unwrap().clone();
    assert_eq!(req["requester"]["username"], "sarahinvestor");
    assert_eq!(req["pitch"]["title"], "The Last Lighthouse");
    assert_eq!(req["status"], "pending");

    let (s, body) = post(&creator, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["nda"]["status"], "approved");
    // Access is immediate, on both detail endpoints.
    let d = public_detail(app, &investor, id).await;
    assert_eq!(d["hasSignedNDA"], true);
    assert_eq!(d["creator"]["name"], "Alex Creator");
    assert!(d["protectedContent"]["contactDetails"].is_object());
    let (_, body) = get(&investor, app.url(&format!("/api/pitches/{id}"))).await;
    assert!(body["data"]["pitch"]["budget_breakdown"].is_object());
    let (_, body) = get(&investor, app.url(&format!("/api/ndas/pitch/{id}/status"))).await;
    assert_eq!(body["data"]["canAccess"], true);

    // The requester signs (and only the requester).
    let (s, _) =
        post(&creator, app.url(&format!("/api/ndas/{nda_id}/sign")), json!({"fullName": "Alex", "acceptTerms": true}))
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) =
        post(&investor, app.url(&format!("/api/ndas/{nda_id}/sign")), json!({"fullName": "Sarah Investor"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "terms must be accepted");
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    let (s, body) = post(
        &investor,
        app.url("/api/ndas/sign"),
        json!({"ndaId": nda_id.to_string(), "signature": "S.I.", "fullName": "Sarah Investor", "acceptTerms": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["nda"]["status"], "signed");
    assert_eq!(body["data"]["conversation"]["creatorName"], "Alex Creator");
    assert_eq!(public_detail(app, &investor, id).await["hasSignedNDA"], true);

    // Revocation removes access at once.
    let (s, body) =
        post(&creator, app.url(&format!("/api/ndas/{nda_id}/revoke")), json!({"reason": "Deal closed"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["nda"]["status"], "revoked");
    let d = public_detail(app, &investor, id).await;
    assert_eq!(d["hasSignedNDA"], false);
    assert!(d.get("protectedContent").is_none());
    assert_eq!(d["creator"]["name"], "Hidden (NDA Required)");
    // After a revocation a new request is allowed.
    let (s, _) = post(
        &investor,
        app.url(&format!("/api/pitches/{id}/request-nda")),
        json!({"message": "Again", "requestType": "basic"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

/// The notifications `c` sees (newest first).
async fn notifications_of(app: &TestApp, c: &Client) -> Vec<Value> {
    let (s, body) = get(c, app.url("/api/notifications?limit=100")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["data"]["notifications"].as_array().unwrap().clone()
}

/// Notifications of `kind` about NDA `nda_id`, straight from the table: `(for anyone, for user)`.
async fn nda_notification_counts(app: &TestApp, kind: &str, nda_id: i64, user: i64) -> (i64, i64) {
    let db = app.state.store.db();
    let all: (i64,) = db
        .primary_one(
            pitchey_store::Sql::new(
                "test_nda_notes",
                "SELECT COUNT(*) FROM notifications WHERE type = $1 AND related_type = 'nda' AND related_id = $2",
            )
            .arg(kind)
            .arg(nda_id),
        )
        .await
        .unwrap();
    let mine: (i64,) = db
        .primary_one(
            pitchey_store::Sql::new(
                "test_nda_notes_for",
                "SELECT COUNT(*) FROM notifications \
                 WHERE type = $1 AND related_type = 'nda' AND related_id = $2 AND user_id = $3",
            )
            .arg(kind)
            .arg(nda_id)
            .arg(user),
        )
        .await
        .unwrap();
    (all.0, mine.0)
}

async fn credits_of(app: &TestApp, c: &Client) -> i64 {
    get(c, app.url("/api/payments/credits/balance")).await.1["data"]["credits"].as_i64().unwrap()
}

/// The journey with a production company as the requester: request, the owner sees it, approves,
/// the company gets the protected content, signs, the owner revokes, and access is gone again; each step
/// notifies the right party (and only that party).
async fn production_journey_request_approve_sign_revoke(app: &TestApp) {
    let id = pitch_id(app, "The Last Lighthouse").await;
    let production = app.production().await;
    let creator = app.creator().await;
    let alex = user_id(app, "alex.creator@demo.com").await;
    let stellar = user_id(app, "stellar.production@demo.com").await;
    let d = public_detail(app, &production, id).await;
    assert_eq!(d["hasSignedNDA"], false);
    assert!(d.get("protectedContent").is_none(), "no protected content before an NDA: {d}");
    assert_eq!(d["creator"]["name"], "Hidden (NDA Required)");
    let before = credits_of(app, &production).await;

    let (s, body) = post(
        &production,
        app.url("/api/ndas/request"),
        json!({"pitchId": id, "message": "We would like to option it"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let nda = &body["data"];
    assert_eq!(nda["status"], "pending", "no demo shortcut: {nda}");
    assert_eq!(nda["pitchId"], id);
    assert_eq!(nda["requesterId"], stellar);
    assert_eq!(nda["creditsUsed"], 10);
    assert_eq!(nda["newBalance"], before - 10);
    let nda_id = nda["id"].as_i64().unwrap();
    assert_eq!(credits_of(app, &production).await, before - 10);
    assert_eq!(nda_notification_counts(app, "nda_request", nda_id, alex).await, (1, 1), "the owner is told");

    // The owner sees it among the incoming requests, with the company as the requester.
    let (s, body) = get(&creator, app.url("/api/ndas/incoming-requests")).await;
    assert_eq!(s, StatusCode::OK);
    let req = body["data"]["ndaRequests"].as_array().unwrap().iter().find(|r| r["id"] == nda_id).unwrap().clone();
    assert_eq!(req["status"], "pending");
    assert_eq!(req["pitch"]["title"], "The Last Lighthouse");
    assert_eq!(req["requester"]["id"], stellar);
    assert_eq!(req["requester"]["name"], "Stellar Productions");
    assert_eq!(req["requester"]["userType"], "production");
    assert_eq!(req["message"], "We would like to option it");
    let (_, body) = get(&production, app.url("/api/ndas/outgoing-requests")).await;
    assert!(body["data"]["ndaRequests"].as_array().unwrap().iter().any(|r| r["id"] == nda_id));
    // Still no access while pending.
    assert_eq!(public_detail(app, &production, id).await["hasSignedNDA"], false);

    let (s, body) = post(&creator, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["nda"]["status"], "approved");
    assert_eq!(nda_notification_counts(app, "nda_approved", nda_id, stellar).await, (1, 1));
    // Access is immediate, on both detail endpoints and the status endpoint.
    let d = public_detail(app, &production, id).await;
    assert_eq!(d["hasSignedNDA"], true, "{d}");
    assert_eq!(d["ndaStatus"], "approved");
    assert_eq!(d["creator"]["name"], "Alex Creator");
    assert!(d["protectedContent"]["contactDetails"].is_object(), "{d}");
    let (_, body) = get(&production, app.url(&format!("/api/pitches/{id}"))).await;
    assert!(body["data"]["pitch"]["budget_breakdown"].is_object(), "{body}");
    let (_, body) = get(&production, app.url(&format!("/api/ndas/pitch/{id}/status"))).await;
    assert_eq!(body["data"]["canAccess"], true);

    // The company signs; the owner (and nobody else) hears about it.
    let (s, body) = post(
        &production,
        app.url(&format!("/api/ndas/{nda_id}/sign")),
        json!({"fullName": "Stellar Productions", "company": "Stellar Productions", "acceptTerms": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["nda"]["status"], "signed");
    assert_eq!(body["data"]["conversation"]["creatorName"], "Alex Creator");
    assert_eq!(nda_notification_counts(app, "nda_signed", nda_id, alex).await, (1, 1), "signing notifies the owner");
    let signed = notifications_of(app, &creator)
        .await
        .into_iter()
        .find(|n| n["type"] == "nda_signed" && n["related_id"] == nda_id)
        .expect("the owner sees the signature notification");
    assert_eq!(signed["from_user_id"], stellar);
    assert_eq!(signed["relatedPitchId"], id);
    assert!(signed["message"].as_str().unwrap().contains("The Last Lighthouse"), "{signed}");
    assert!(!notifications_of(app, &production).await.iter().any(|n| n["type"] == "nda_signed"));
    let d = public_detail(app, &production, id).await;
    assert_eq!((d["hasSignedNDA"].as_bool(), d["ndaStatus"].as_str()), (Some(true), Some("signed")));

    // The owner revokes: access is gone at once, the company is told, and the credits stay spent.
    let (s, body) =
        post(&creator, app.url(&format!("/api/ndas/{nda_id}/revoke")), json!({"reason": "Went elsewhere"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["nda"]["status"], "revoked");
    let d = public_detail(app, &production, id).await;
    assert_eq!(d["hasSignedNDA"], false, "{d}");
    assert_eq!(d["ndaStatus"], "revoked");
    assert!(d.get("protectedContent").is_none(), "{d}");
    assert!(d.get("contact_details").is_none() && d.get("budget_breakdown").is_none(), "{d}");
    assert_eq!(d["creator"]["name"], "Hidden (NDA Required)");
    let (s, body) = get(&production, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["data"]["pitch"].is_object() && body["data"]["pitch"].get("budget_breakdown").is_none(), "{body}");
    let (_, body) = get(&production, app.url(&format!("/api/ndas/pitch/{id}/status"))).await;
    assert_eq!(body["data"]["canAccess"], false);
    assert_eq!(
        nda_notification_counts(app, "nda_revoked", nda_id, stellar).await,
        (1, 1),
        "revoking notifies the requester"
    );
    let revoked = notifications_of(app, &production)
        .await
        .into_iter()
        .find(|n| n["type"] == "nda_revoked" && n["related_id"] == nda_id)
        .expect("the company sees the revocation");
    assert_eq!(revoked["from_user_id"], alex);
    assert_eq!(revoked["priority"], "high");
    assert_eq!(revoked["is_read"], false);
    assert!(!notifications_of(app, &creator).await.iter().any(|n| n["type"] == "nda_revoked"));
    assert_eq!(credits_of(app, &production).await, before - 10, "revoked NDAs are not refunded");
    // A revoked NDA cannot be signed again, nor revoked twice.
    let (s, _) = post(
        &production,
        app.url(&format!("/api/ndas/{nda_id}/sign")),
        json!({"fullName": "Stellar Productions", "acceptTerms": true}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(post(&creator, app.url(&format!("/api/ndas/{nda_id}/revoke")), json!({})).await.0, StatusCode::CONFLICT);
    assert_eq!(public_detail(app, &production, id).await["hasSignedNDA"], false);
}

async fn production_journey_rejected_and_refunded(app: &TestApp) {
    let id = pitch_id(app, "Signal Fire").await;
    let production = app.production().await;
    let creator = app.creator().await;
    let before = get(&production, app.url("/api/payments/credits/balance")).await.1["data"]["balance"]["credits"]
        .as_i64()
        .unwrap();
    // The production pitch page sends pitchId as a string.
    let (s, body) = post(&production, app.url("/api/ndas/request"), json!({"pitchId": id.to_string()})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let nda_id = body["data"]["id"].as_i64().unwrap();
    let (_, body) = get(&production, app.url("/api/ndas/outgoing-requests")).await;
    assert!(body["data"]["ndaRequests"].as_array().unwrap().iter().any(|r| r["id"] == nda_id));
    let (s, body) =
        post(&creator, app.url(&format!("/api/ndas/{nda_id}/reject")), json!({"reason": "Not a fit right now"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["nda"]["status"], "rejected");
    // Production sees the rejection and the reason, and got its credits back.
    let (_, body) = get(&production, app.url(&format!("/api/ndas/{nda_id}"))).await;
    assert_eq!(body["data"]["nda"]["status"], "rejected");
    assert_eq!(body["data"]["nda"]["rejectionReason"], "Not a fit right now");
    let (_, body) = get(&production, app.url("/api/ndas/outgoing-requests?status=rejected")).await;
    assert_eq!(body["data"]["ndaRequests"][0]["id"], nda_id);
    let (_, body) = get(&production, app.url("/api/notifications")).await;
    let n =
        body["data"]["notifications"].as_array().unwrap().iter().find(|n| n["type"] == "nda_rejected").unwrap().clone();
    assert!(n["message"].as_str().unwrap().contains("Not a fit right now"));
    // The pitch hides its creator and the request never got access: the notice does not name him.
    for field in ["from_user_id", "fromUserId", "from_user_name", "from_user_avatar"] {
        assert_eq!(n[field], Value::Null, "{field}: {n}");
    }
    let after = get(&production, app.url("/api/payments/credits/balance")).await.1["data"]["balance"]["credits"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before, "rejected requests are refunded");
    assert_eq!(public_detail(app, &production, id).await["hasSignedNDA"], false);
}

async fn production_owner_decides_on_own_pitch(app: &TestApp) {
    // Stellar (production) owns "Orbital Decay"; the investor requests, stellar approves.
    let (_, body) = get(&app.production().await, app.url("/api/creator/pitches?limit=100")).await;
    let id = body["pitches"].as_array().unwrap().iter().find(|p| p["title"] == "Orbital Decay").unwrap()["id"]
        .as_i64()
        .unwrap();
    let investor = app.investor().await;
    let (_, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    let nda_id = body["data"]["id"].as_i64().unwrap();
    let production = app.production().await;
    let (_, body) = get(&production, app.url("/api/ndas/incoming-requests")).await;
    assert!(body["data"]["ndaRequests"].as_array().unwrap().iter().any(|r| r["id"] == nda_id));
    let (s, body) = post(&production, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({"expiryDays": 30})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["data"]["nda"]["expiresAt"].is_string());
    assert_eq!(public_detail(app, &investor, id).await["creator"]["name"], "Stellar Productions");
    // A production company cannot request an NDA on its own pitch.
    let (s, body) = post(&production, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "BAD_REQUEST");
}

async fn invalid_moves_get_clear_errors(app: &TestApp) {
    let id = pitch_id(app, "The Quiet Ledger").await;
    let investor = app.investor().await;
    let creator = app.creator().await;
    let stranger = session_for(app, create_user(app, "stranger.investor@example.com", UserType::Investor).await).await;
    // Creators do not request NDAs; nobody requests on a missing or unpublished pitch; pitchId is required.
    let (s, _) = post(
        &session_for(app, create_user(app, "c2@example.com", UserType::Creator).await).await,
        app.url("/api/ndas/request"),
        json!({"pitchId": id}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        post(&investor, app.url("/api/ndas/request"), json!({"pitchId": 999_999})).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, body) = post(&investor, app.url("/api/ndas/request"), json!({"message": "no id"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    assert_eq!(
        post(&app.client(), app.url("/api/ndas/request"), json!({"pitchId": id})).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (_, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    let nda_id = body["data"]["id"].as_i64().unwrap();
    // A second open request is a conflict.
    let (s, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "ALREADY_EXISTS");
    let (_, body) = get(&investor, app.url(&format!("/api/ndas/pitch/{id}/can-request"))).await;
    assert_eq!(body["data"]["canRequest"], false);
    // Signing before approval, approving as the requester, touching someone else's NDA.
    let (s, body) =
        post(&investor, app.url(&format!("/api/ndas/{nda_id}/sign")), json!({"fullName": "S", "acceptTerms": true}))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "NDA must be approved before signing");
    assert_eq!(
        post(&investor, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&stranger, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&stranger, app.url(&format!("/api/ndas/{nda_id}"))).await.0, StatusCode::NOT_FOUND);
    // Revoking a pending request is not a thing; approving twice neither.
    let (s, body) = post(&creator, app.url(&format!("/api/ndas/{nda_id}/revoke")), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "INVALID_STATE");
    assert_eq!(post(&creator, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await.0, StatusCode::OK);
    let (s, body) = post(&creator, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(post(&creator, app.url(&format!("/api/ndas/{nda_id}/reject")), json!({})).await.0, StatusCode::CONFLICT);
    // An empty body is fine for actions; a malformed one is not.
    let r = creator
        .post(app.url(&format!("/api/ndas/{nda_id}/revoke")))
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&r.json::<Value>().await.unwrap()), "INVALID_JSON");
    let r = creator.post(app.url(&format!("/api/ndas/{nda_id}/revoke"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(get(&investor, app.url("/api/ndas/abc")).await.0, StatusCode::BAD_REQUEST);
}

async fn credits_are_charged_once_and_never_overdrawn(app: &TestApp) {
    // A new account has exactly one request's worth of credits.
    let c = app.client();
    let (s, _) = post(
        &c,
        app.url("/api/auth/sign-up"),
        json!({"email": "poor.investor@example.com", "password": "longenough1", "userType": "investor"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let poor = app.login("investor", "poor.investor@example.com", "longenough1").await;
    assert_eq!(get(&poor, app.url("/api/payments/credits/balance")).await.1["data"]["credits"], 10);
    let first = pitch_id(app, "The Last Lighthouse").await;
    let second = pitch_id(app, "Signal Fire").await;
    assert_eq!(post(&poor, app.url("/api/ndas/request"), json!({"pitchId": first})).await.0, StatusCode::OK);
    let (s, body) = post(&poor, app.url("/api/ndas/request"), json!({"pitchId": second})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "INSUFFICIENT_CREDITS");
    assert_eq!(body["error"]["message"], "Insufficient credits. NDA requests cost 10 credits.");
    // Nothing was charged or created by the failed request.
    assert_eq!(get(&poor, app.url("/api/payments/credits/balance")).await.1["data"]["credits"], 0);
    let (_, body) = get(&poor, app.url("/api/ndas?type=sent")).await;
    assert_eq!(body["data"]["total"], 1);

    // Concurrent requests on different pitches by an account with 30 credits: exactly three succeed.
    let uid = create_user(app, "rich.investor@example.com", UserType::Investor).await;
    app.state.store.grant_credits(uid, 20, "test").await.unwrap();
    let rich = session_for(app, uid).await;
    let (_, body) = get(&app.client(), app.url("/api/browse?tab=popular&limit=12")).await;
    let ids: Vec<i64> = body["items"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    let tries = ids.iter().map(|id| rich.post(app.url("/api/ndas/request")).json(&json!({"pitchId": id})).send());
    let statuses: Vec<StatusCode> =
        futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST), "{statuses:?}");
    let b = app.state.store.credit_balance(uid).await.unwrap();
    assert_eq!((b.balance, b.total_used), (0, 30));
    // The same pitch requested many times at once: one NDA, one charge.
    let uid = create_user(app, "eager.investor@example.com", UserType::Investor).await;
    app.state.store.grant_credits(uid, 90, "test").await.unwrap();
    let eager = session_for(app, uid).await;
    let tries = (0..8).map(|_| eager.post(app.url("/api/ndas/request")).json(&json!({"pitchId": first})).send());
    let ok = futures::future::join_all(tries)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);
    assert_eq!(app.state.store.credit_balance(uid).await.unwrap().balance, 90);
}

async fn lists_stats_and_bulk_actions(app: &TestApp) {
    let creator = app.creator().await;
    let alex = user_id(app, "alex.creator@demo.com").await;
    let mut nda_ids = Vec::new();
    for (i, title) in ["The Last Lighthouse", "Signal Fire", "The Quiet Ledger"].iter().enumerate() {
        let id = pitch_id(app, title).await;
        let who = session_for(app, create_user(app, &format!("bulk{i}@example.com"), UserType::Investor).await).await;
        let (_, body) = post(&who, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
        nda_ids.push(body["data"]["id"].as_i64().unwrap());
    }
    let (_, body) = get(&creator, app.url("/api/ndas/stats")).await;
    assert_eq!(body["data"]["pending"], 3);
    assert_eq!(body["data"]["stats"]["incoming"], 3);
    // Bulk approve two plus a bogus id: partial success, reported per id.
    let (s, body) = post(
        &creator,
        app.url("/api/ndas/bulk-approve"),
        json!({"ndaIds": [nda_ids[0], nda_ids[1].to_string(), 999_999]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["successful"], json!([nda_ids[0], nda_ids[1]]));
    assert_eq!(body["data"]["failed"][0]["id"], 999_999);
    let (_, body) =
        post(&creator, app.url("/api/ndas/bulk-reject"), json!({"ndaIds": [nda_ids[2], nda_ids[0]], "reason": "No"}))
            .await;
    assert_eq!(body["data"]["successful"], json!([nda_ids[2]]));
    assert_eq!(body["data"]["failed"][0]["code"], "INVALID_STATE");
    assert_eq!(
        post(&creator, app.url("/api/ndas/bulk-approve"), json!({"ndaIds": []})).await.0,
        StatusCode::BAD_REQUEST
    );
    // Lists from the owner's side.
    let count = |v: &Value| v["data"]["ndaRequests"].as_array().unwrap().len();
    assert_eq!(count(&get(&creator, app.url("/api/ndas/incoming-requests")).await.1), 0);
    assert_eq!(count(&get(&creator, app.url("/api/ndas/incoming-requests?status=all")).await.1), 3);
    assert_eq!(count(&get(&creator, app.url("/api/ndas/active")).await.1), 2);
    assert_eq!(count(&get(&creator, app.url("/api/nda/active")).await.1), 2);
    assert_eq!(count(&get(&creator, app.url("/api/ndas/signed")).await.1), 0);
    let (_, body) = get(&creator, app.url(&format!("/api/ndas?status=pending&creatorId={alex}&limit=10"))).await;
    assert_eq!(body["data"]["total"], 0);
    let (_, body) = get(&creator, app.url("/api/ndas?type=received&status=approved")).await;
    assert_eq!(body["data"]["total"], 2);
    let (_, body) = get(&creator, app.url("/api/ndas?limit=1&offset=1")).await;
    assert_eq!(body["data"]["ndas"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["total"], 3);
    let (_, body) = get(&creator, app.url("/api/ndas/stats")).await;
    assert_eq!((body["data"]["approved"].as_i64(), body["data"]["rejected"].as_i64()), (Some(2), Some(1)));
    assert_eq!(get(&creator, app.url("/api/ndas?status=bogus")).await.0, StatusCode::BAD_REQUEST);
    // A status repeated is the status once (a thousand of them were a thousand ORs, and a 500 on SQLite).
    let repeated = vec!["approved"; 2000].join(",");
    let (s, body) = get(&creator, app.url(&format!("/api/ndas?type=received&status={repeated},rejected"))).await;
    assert_eq!((s, &body["data"]["total"]), (StatusCode::OK, &json!(3)), "{body}");
    // Signed lists from both sides after a signature.
    let signer_id = app.state.store.nda_for(nda_ids[0], alex).await.unwrap().unwrap().requester_id;
    let signer = session_for(app, signer_id).await;
    post(
        &signer,
        app.url(&format!("/api/ndas/{}/sign", nda_ids[0])),
        json!({"fullName": "Bulk Zero", "acceptTerms": true}),
    )
    .await;
    let (_, body) = get(&creator, app.url("/api/ndas/incoming-signed")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (_, body) = get(&signer, app.url("/api/ndas/outgoing-signed")).await;
    assert_eq!(body["data"][0]["id"], nda_ids[0]);
    assert_eq!(count(&get(&signer, app.url("/api/ndas/signed")).await.1), 1);
}

async fn expiry_ends_access_immediately(app: &TestApp) {
    let id = pitch_id(app, "The Last Lighthouse").await;
    let investor = app.investor().await;
    let (_, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id, "expiryDays": 90})).await;
    let nda_id = body["data"]["id"].as_i64().unwrap();
    let (_, body) = post(&app.creator().await, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await;
    assert!(body["data"]["nda"]["expiresAt"].is_string(), "the requested validity applies from approval");
    assert_eq!(public_detail(app, &investor, id).await["hasSignedNDA"], true);
    // Time passes.
    let age = |nda: i64| async move {
        app.state
            .store
            .db()
            .exec(
                pitchey_store::Sql::new("test_age_nda", "UPDATE ndas SET expires_at = $1 WHERE id = $2")
                    .arg(pitchey_store::now() - chrono::Duration::minutes(1))
                    .arg(nda),
            )
            .await
            .unwrap();
    };
    age(nda_id).await;
    let d = public_detail(app, &investor, id).await;
    assert_eq!(d["hasSignedNDA"], false, "no stale access after expiry");
    assert_eq!(d["ndaStatus"], "expired");
    let (_, body) = get(&investor, app.url(&format!("/api/ndas/{nda_id}"))).await;
    assert_eq!(body["data"]["nda"]["status"], "expired");
    // Signing an expired NDA is refused; the sweep records the state and tells the requester.
    assert_eq!(
        post(&investor, app.url(&format!("/api/ndas/{nda_id}/sign")), json!({"fullName": "S", "acceptTerms": true}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.state.store.expire_ndas().await.unwrap(), 1);
    assert_eq!(app.state.store.expire_ndas().await.unwrap(), 0);
    let (_, body) = get(&investor, app.url("/api/notifications")).await;
    assert!(body["data"]["notifications"].as_array().unwrap().iter().any(|n| n["type"] == "nda_expired"));
    // A fresh request is allowed after expiry.
    let (s, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    assert_eq!(s, StatusCode::OK);
    let second = body["data"]["id"].as_i64().unwrap();
    post(&app.creator().await, app.url(&format!("/api/ndas/{second}/approve")), json!({})).await;
    age(second).await;
    // Requesting again before the sweep has run expires the old NDA on the way, with the same notice.
    assert_eq!(post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await.0, StatusCode::OK);
    let (_, body) = get(&investor, app.url("/api/notifications")).await;
    let notices = body["data"]["notifications"].as_array().unwrap();
    assert!(
        notices.iter().any(|n| n["type"] == "nda_expired" && n["related_id"] == second),
        "the requester hears that the second NDA expired: {notices:?}"
    );
    assert_eq!(app.state.store.expire_ndas().await.unwrap(), 0, "nothing left for the sweep");
}

async fn notifications_and_polling(app: &TestApp) {
    let id = pitch_id(app, "Signal Fire").await;
    let investor = app.investor().await;
    let creator = app.creator().await;
    let alex = user_id(app, "alex.creator@demo.com").await;
    post(&investor, app.url("/api/follows/action"), json!({"userId": alex, "action": "follow"})).await;
    let (_, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    let nda_id = body["data"]["id"].as_i64().unwrap();
    let (s, body) = get(&creator, app.url("/api/notifications?limit=20")).await;
    assert_eq!(s, StatusCode::OK);
    let list = body["data"]["notifications"].as_array().unwrap().clone();
    let kinds: Vec<&str> = list.iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["nda_request", "new_follower"], "newest first");
    assert_eq!(list[0]["related_id"], nda_id);
    assert_eq!(list[0]["from_user_name"], "Sarah Investor");
    assert_eq!(body["data"]["unreadCount"], 2);
    assert_eq!(get(&creator, app.url("/api/notifications/unread")).await.1["data"]["count"], 2);
    let (_, body) = get(&creator, app.url("/api/user/notifications?limit=1&offset=1")).await;
    assert_eq!(body["data"]["notifications"][0]["type"], "new_follower");
    let (_, body) = get(&creator, app.url("/api/poll/all")).await;
    assert_eq!(body["data"]["unreadCount"], 2);
    assert_eq!(body["data"]["notifications"].as_array().unwrap().len(), 2);
    assert!(body["data"]["presence"]["users"].is_array() && body["data"]["messages"].is_array());
    // Mark one read, then the rest; others' notifications cannot be touched.
    let first = list[0]["id"].as_i64().unwrap();
    let r = creator.put(app.url(&format!("/api/notifications/{first}/read"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = investor.put(app.url(&format!("/api/notifications/{}/read", list[1]["id"]))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&creator, app.url("/api/notifications/unread")).await.1["data"]["count"], 1);
    let ids: Vec<Value> = list.iter().map(|n| n["id"].clone()).collect();
    let r = creator
        .put(app.url("/api/notifications/read-multiple"))
        .json(&json!({"notificationIds": ids}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(get(&creator, app.url("/api/notifications/unread")).await.1["data"]["count"], 0);
    // The requester hears about the decision.
    post(&creator, app.url(&format!("/api/ndas/{nda_id}/approve")), json!({})).await;
    let (_, body) = get(&investor, app.url("/api/notifications/unread")).await;
    assert_eq!(body["data"]["notifications"][0]["type"], "nda_approved");
    assert_eq!(body["data"]["notifications"][0]["priority"], "high");
    // A polling client asks for what is newer than its last poll, as an RFC 3339 time or Unix milliseconds.
    let created: chrono::DateTime<chrono::Utc> =
        body["data"]["notifications"][0]["created_at"].as_str().unwrap().parse().unwrap();
    let before = created - chrono::Duration::seconds(2);
    let after = created + chrono::Duration::seconds(2);
    for (since, expected) in [
        (before.timestamp_millis().to_string(), 1),
        (after.timestamp_millis().to_string(), 0),
        (before.timestamp().to_string(), 1),
        (after.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), 0),
    ] {
        let (s, body) = get(&investor, app.url(&format!("/api/notifications/unread?since={since}"))).await;
        assert_eq!(s, StatusCode::OK, "{since}: {body}");
        let recent = body["data"]["notifications"].as_array().unwrap();
        assert_eq!(recent.iter().filter(|n| n["type"] == "nda_approved").count(), expected, "since={since}: {body}");
    }
    assert_eq!(get(&app.client(), app.url("/api/notifications")).await.0, StatusCode::UNAUTHORIZED);
}

/// A pending NDA request paid for an answer; when the owner deletes the pitch, the answer never comes, so
/// the credits go back to the requester, who is told. Answered requests keep their charge.
async fn deleting_a_pitch_refunds_its_pending_requests(app: &TestApp) {
    let id = pitch_id(app, "Signal Fire").await;
    let investor = app.investor().await;
    let production = app.production().await;
    let creator = app.creator().await;
    let (investor_before, production_before) = (credits_of(app, &investor).await, credits_of(app, &production).await);
    let (s, body) = post(&investor, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = post(&production, app.url("/api/ndas/request"), json!({"pitchId": id})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let approved = body["data"]["id"].as_i64().unwrap();
    assert!(credits_of(app, &investor).await < investor_before, "the request was charged");
    post(&creator, app.url(&format!("/api/ndas/{approved}/approve")), json!({})).await;
    let r = creator.delete(app.url(&format!("/api/pitches/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(credits_of(app, &investor).await, investor_before, "the pending request is refunded");
    assert!(credits_of(app, &production).await < production_before, "the approved one keeps its charge");
    let (_, body) = get(&investor, app.url("/api/notifications")).await;
    let notices = body["data"]["notifications"].as_array().unwrap();
    let notice = notices.iter().find(|n| n["type"] == "nda_cancelled").expect("the requester is told");
    assert!(notice["message"].as_str().unwrap().contains("Signal Fire"), "{notice}");
    assert!(notice["from_user_id"].is_null(), "the pitch hid its creator: {notice}");
    let (_, body) = get(&production, app.url("/api/notifications")).await;
    assert!(!body["data"]["notifications"].as_array().unwrap().iter().any(|n| n["type"] == "nda_cancelled"));
    // The ledger says what the charge and the refund were for.
    let sarah = user_id(app, "sarah.investor@demo.com").await;
    let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = app
        .state
        .store
        .db()
        .all(
            pitchey_store::Sql::new(
                "test_ledger",
                "SELECT type, amount, nda_id, pitch_id FROM credit_transactions \
                 WHERE user_id = $1 AND type IN ('usage', 'refund') ORDER BY id",
            )
            .arg(sarah),
        )
        .await
        .unwrap();
    let [.., (charge, spent, charge_nda, charge_pitch), (refund, back, refund_nda, refund_pitch)] = &rows[..] else {
        panic!("a charge and a refund: {rows:?}")
    };
    assert_eq!((charge.as_str(), refund.as_str()), ("usage", "refund"));
    assert_eq!(-spent, *back);
    assert!(charge_nda.is_some() && charge_nda == refund_nda, "{rows:?}");
    assert_eq!((*charge_pitch, *refund_pitch), (Some(id), Some(id)));
}
