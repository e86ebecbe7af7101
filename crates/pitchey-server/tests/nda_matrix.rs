//! Who may call what: every endpoint of the NDA/dashboard feature against anonymous, the pitch owner,
//! another creator, an investor, a production company and the NDA's requester; dashboard numbers against
//! counts computed directly from the data; and random action sequences over HTTP against the state machine.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{Kind, TestApp, create_user, get, post, session_for, user_id};
use pitchey_core::nda::transition;
use pitchey_core::{NdaAction, NdaActor, NdaError, NdaStatus, UserType};
use pitchey_store::Sql;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

both_backends!(
    authorization_matrix,
    dashboard_numbers_match_the_data,
    funding_overview_matches_the_data,
    following_feed_matches_the_follows,
);

static SEQ: AtomicUsize = AtomicUsize::new(0);

async fn pitch_id(app: &TestApp, title: &str) -> i64 {
    let (_, body) = get(&app.creator().await, app.url("/api/creator/pitches?limit=100")).await;
    body["pitches"].as_array().unwrap().iter().find(|p| p["title"] == title).unwrap()["id"].as_i64().unwrap()
}

/// A fresh investor with an NDA on `pitch` in `state` (pending or approved): `(client, nda id)`.
async fn fresh_nda(app: &TestApp, pitch: i64, approved: bool) -> (Client, i64) {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let uid = create_user(app, &format!("matrix{n}@example.com"), UserType::Investor).await;
    let c = session_for(app, uid).await;
    let r = c.post(app.url("/api/ndas/request")).json(&json!({"pitchId": pitch})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.json::<Value>().await.unwrap()["data"]["id"].as_i64().unwrap();
    if approved {
        let r = app
            .creator()
            .await
            .post(app.url(&format!("/api/ndas/{id}/approve")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    (c, id)
}

#[derive(Clone, Copy, PartialEq)]
enum Setup {
    /// The requester role holds a pending NDA on the row's pitch.
    None,
    /// Each role acts on a fresh pending NDA.
    Pending,
    /// Each role acts on a fresh approved NDA.
    Approved,
}

/// Method, path, body, pitch, setup, and the expected status per role.
type Row = (Method, &'static str, Value, i64, Setup, [u16; 6]);

const ROLES: [&str; 6] = ["anonymous", "owner", "other creator", "investor", "production", "requester"];

async fn authorization_matrix(app: &TestApp) {
    let owner = app.creator().await;
    let other_creator = session_for(app, create_user(app, "other.c@example.com", UserType::Creator).await).await;
    let investor = app.investor().await;
    let production = app.production().await;
    let anon = app.client();
    let ledger = pitch_id(app, "The Quiet Ledger").await;
    let lighthouse = pitch_id(app, "The Last Lighthouse").await;
    let signal = pitch_id(app, "Signal Fire").await;
    let sign = json!({"fullName": "Signer", "acceptTerms": true});
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        (Method::POST, "/api/ndas/request", json!({"pitchId": "{P}"}), lighthouse, Setup::None, [401, 400, 403, 200, 200, 409]),
        (Method::POST, "/api/pitches/{P}/request-nda", json!({}), signal, Setup::None, [401, 400, 403, 200, 200, 409]),
        (Method::GET, "/api/ndas/pitch/{P}/status", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/pitch/{P}/can-request", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::POST, "/api/ndas/{N}/approve", json!({}), ledger, Setup::Pending, [401, 200, 404, 404, 404, 403]),
        (Method::POST, "/api/ndas/{N}/reject", json!({"reason": "no"}), ledger, Setup::Pending, [401, 200, 404, 404, 404, 403]),
        (Method::POST, "/api/ndas/{N}/sign", sign.clone(), ledger, Setup::Approved, [401, 403, 404, 404, 404, 200]),
        (Method::POST, "/api/ndas/sign", json!({"ndaId": "{N}", "fullName": "S", "acceptTerms": true}), ledger, Setup::Approved, [401, 403, 404, 404, 404, 200]),
        (Method::POST, "/api/ndas/{N}/revoke", json!({}), ledger, Setup::Approved, [401, 200, 404, 404, 404, 403]),
        (Method::GET, "/api/ndas/{N}", Value::Null, ledger, Setup::Pending, [401, 200, 404, 404, 404, 200]),
        (Method::POST, "/api/ndas/bulk-approve", json!({"ndaIds": ["{N}"]}), ledger, Setup::Pending, [401, 200, 200, 200, 200, 200]),
        (Method::POST, "/api/ndas/bulk-reject", json!({"ndaIds": ["{N}"]}), ledger, Setup::Pending, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/incoming-requests", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/outgoing-requests", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/active", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/nda/active", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/signed", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/incoming-signed", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/outgoing-signed", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/ndas/stats", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/notifications", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/user/notifications", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/notifications/unread", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::PUT, "/api/notifications/read-multiple", json!({"notificationIds": []}), ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        // {O} is the owner's "nda_request" notification about the row's fresh NDA: only its recipient may mark it.
        (Method::PUT, "/api/notifications/{O}/read", json!({}), ledger, Setup::Pending, [401, 200, 404, 404, 404, 404]),
        (Method::PUT, "/api/notifications/read-all", json!({}), ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/poll/all", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/payments/credits/balance", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/payments/subscription-status", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/creator/dashboard", Value::Null, ledger, Setup::None, [401, 200, 200, 403, 403, 403]),
        (Method::GET, "/api/creator/funding/overview", Value::Null, ledger, Setup::None, [401, 200, 200, 403, 200, 403]),
        (Method::GET, "/api/investor/portfolio/summary", Value::Null, ledger, Setup::None, [401, 403, 403, 200, 200, 200]),
        (Method::GET, "/api/investor/investments", Value::Null, ledger, Setup::None, [401, 403, 403, 200, 200, 200]),
        (Method::GET, "/api/investment/recommendations", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/investor/dashboard", Value::Null, ledger, Setup::None, [401, 403, 403, 200, 403, 200]),
        (Method::GET, "/api/analytics/dashboard", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
        (Method::GET, "/api/production/dashboard", Value::Null, ledger, Setup::None, [401, 403, 403, 403, 200, 403]),
        (Method::GET, "/api/production/projects", Value::Null, ledger, Setup::None, [401, 403, 403, 403, 200, 403]),
        (Method::GET, "/api/pitches/following", Value::Null, ledger, Setup::None, [401, 200, 200, 200, 200, 200]),
    ];
    let mut failures = Vec::new();
    for (method, path, body, pitch, setup, expected) in rows {
        // The requester role of a stateless row holds a pending NDA on the row's pitch.
        let standing = if setup == Setup::None { Some(fresh_nda(app, pitch, false).await) } else { None };
        for (role, want) in ROLES.iter().zip(expected) {
            let (requester, nda) = match (&standing, setup) {
                (Some((c, n)), _) => (c.clone(), *n),
                (None, s) => fresh_nda(app, pitch, s == Setup::Approved).await,
            };
            let client = match *role {
                "anonymous" => &anon,
                "owner" => &owner,
                "other creator" => &other_creator,
                "investor" => &investor,
                "production" => &production,
                _ => &requester,
            };
            let note = if path.contains("{O}") { Some(owner_notification(app, nda).await) } else { None };
            let fill = |s: &str| {
                let s = s.replace("{P}", &pitch.to_string()).replace("{N}", &nda.to_string());
                match note {
                    Some(o) => s.replace("{O}", &o.to_string()),
                    None => s,
                }
            };
            let url = app.url(&fill(path));
            let mut req = client.request(method.clone(), url);
            if !body.is_null() {
                let text = fill(&body.to_string()).replace(&format!("\"{pitch}\""), &pitch.to_string());
                req = req.header("content-type", "application/json").body(text);
            }
            let r = req.send().await.unwrap();
            let got = r.status().as_u16();
            let text = r.text().await.unwrap();
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if let Some(o) = note
                && notification_is_read(app, o).await != (want == 200)
            {
                failures.push(format!("{method} {path} as {role}: notification {o} read state wrong after {got}"));
            }
            // A bulk decision answers 200 to anyone, listing what it could not decide: only the owner's
            // may change the NDA.
            if let Some(action) = path.strip_prefix("/api/ndas/bulk-")
                && got == 200
            {
                let decided = if action == "approve" { "approved" } else { "rejected" };
                let wanted = if *role == "owner" { decided } else { "pending" };
                let status = nda_status(app, nda).await;
                if status != wanted {
                    failures.push(format!("{method} {path} as {role}: NDA {nda} is {status}, want {wanted}"));
                }
            }
            if got != want {
                failures.push(format!("{method} {path} as {role}: want {want}, got {got}: {text:.200}"));
            } else if got >= 400 {
                assert_eq!(v["success"], false, "{path} as {role}: {text}");
                assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
            }
        }
    }
    assert!(failures.is_empty(), "authorization matrix:\n{}", failures.join("\n"));
}

/// The pitch owner's "nda_request" notification about NDA `nda`.
async fn owner_notification(app: &TestApp, nda: i64) -> i64 {
    scalar(app, "t_owner_note", "SELECT id FROM notifications WHERE type = 'nda_request' AND related_id = $1", nda)
        .await
}

async fn notification_is_read(app: &TestApp, id: i64) -> bool {
    scalar(app, "t_note_read", "SELECT COUNT(*) FROM notifications WHERE id = $1 AND is_read = TRUE", id).await == 1
}

async fn nda_status(app: &TestApp, nda: i64) -> String {
    let sql = Sql::new("t_nda_status", "SELECT status FROM ndas WHERE id = $1").arg(nda);
    app.state.store.db().primary_one::<(String,)>(sql).await.unwrap().0
}

async fn scalar(app: &TestApp, name: &'static str, sql: &'static str, arg: i64) -> i64 {
    app.state.store.db().primary_one::<(i64,)>(Sql::new(name, sql).arg(arg)).await.unwrap().0
}

async fn scalar_f(app: &TestApp, name: &'static str, sql: &'static str, arg: i64) -> f64 {
    app.state.store.db().primary_one::<(f64,)>(Sql::new(name, sql).arg(arg)).await.unwrap().0
}

async fn dashboard_numbers_match_the_data(app: &TestApp) {
    let alex = user_id(app, "alex.creator@demo.com").await;
    let sarah = user_id(app, "sarah.investor@demo.com").await;
    // Some activity first: follows, views, an NDA request.
    let investor = app.investor().await;
    investor.post(app.url("/api/follows/action")).json(&json!({"userId": alex})).send().await.unwrap();
    let lighthouse = pitch_id(app, "The Last Lighthouse").await;
    investor.post(app.url("/api/views/track")).json(&json!({"pitchId": lighthouse})).send().await.unwrap();
    investor.post(app.url("/api/ndas/request")).json(&json!({"pitchId": lighthouse})).send().await.unwrap();

    let (s, body) = get(&app.creator().await, app.url("/api/creator/dashboard")).await;
    assert_eq!(s, StatusCode::OK);
    let o = &body["data"]["overview"];
    assert_eq!(o["totalPitches"], scalar(app, "t1", "SELECT COUNT(*) FROM pitches WHERE user_id = $1", alex).await);
    assert_eq!(
        o["totalViews"],
        scalar(app, "t2", "SELECT CAST(SUM(view_count) AS BIGINT) FROM pitches WHERE user_id = $1", alex).await
    );
    assert_eq!(
        o["totalFollowers"],
        scalar(app, "t3", "SELECT COUNT(*) FROM follows WHERE following_id = $1", alex).await
    );
    assert_eq!(
        o["pendingActions"],
        scalar(app, "t4", "SELECT COUNT(*) FROM ndas WHERE owner_id = $1 AND status = 'pending'", alex).await
    );
    assert_eq!(o["pendingActions"], 1);
    assert_eq!(
        o["totalInvestments"],
        scalar(
            app,
            "t5",
            "SELECT COUNT(*) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1",
            alex
        )
        .await
    );
    let committed = scalar_f(app, "t6", "SELECT COALESCE(SUM(i.amount), 0.0) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 AND i.status IN ('active', 'completed')", alex).await;
    assert_eq!(body["data"]["revenue"]["totalRevenue"].as_f64().unwrap(), committed);
    assert!(committed > 0.0, "the seed has investments in alex's pitches");
    let recent = body["data"]["recentPitches"].as_array().unwrap();
    assert_eq!(recent.len(), 5);
    // What the client needs to render a pitch: id, title, userId, status.
    assert!(
        recent.iter().all(|p| p["userId"] == alex && p["title"].is_string() && p["status"].is_string()),
        "{recent:?}"
    );
    assert_eq!(body["data"]["recentActivity"]["ndaRequests"].as_array().unwrap().len(), 1);
    let trend: i64 =
        body["data"]["analytics"]["viewTrend"].as_array().unwrap().iter().map(|d| d["views"].as_i64().unwrap()).sum();
    assert_eq!(trend, 1, "one tracked view today");

    let (_, body) = get(&investor, app.url("/api/investor/portfolio/summary")).await;
    let invested = scalar_f(app, "t7", "SELECT COALESCE(SUM(amount), 0.0) FROM investments WHERE investor_id = $1 AND status IN ('active', 'completed')", sarah).await;
    assert_eq!(body["data"]["totalInvested"].as_f64().unwrap(), invested);
    assert_eq!(body["data"]["summary"]["total_invested"].as_f64().unwrap(), invested);
    assert_eq!(
        body["data"]["activeInvestments"],
        scalar(
            app,
            "t8",
            "SELECT COUNT(*) FROM investments WHERE investor_id = $1 AND status IN ('active', 'completed')",
            sarah
        )
        .await
    );
    let (_, body) = get(&investor, app.url("/api/investor/investments")).await;
    assert_eq!(
        body["data"].as_array().unwrap().len() as i64,
        scalar(app, "t9", "SELECT COUNT(*) FROM investments WHERE investor_id = $1", sarah).await
    );
    let (_, body) = get(&investor, app.url("/api/investor/dashboard")).await;
    assert_eq!(
        body["data"]["totalInvestments"],
        scalar(app, "t10", "SELECT COUNT(*) FROM investments WHERE investor_id = $1 AND status <> 'cancelled'", sarah)
            .await
    );
    let (_, body) = get(&investor, app.url("/api/investment/recommendations")).await;
    let recs = body["data"].as_array().unwrap();
    assert!(!recs.is_empty());
    assert!(recs.iter().all(|r| r["seekingInvestment"] == true && r["status"] == "published"));

    let stellar = user_id(app, "stellar.production@demo.com").await;
    let (_, body) = get(&app.production().await, app.url("/api/production/projects")).await;
    assert_eq!(
        body["data"]["projects"].as_array().unwrap().len() as i64,
        scalar(app, "t11", "SELECT COUNT(*) FROM pitches WHERE user_id = $1", stellar).await
    );
    let (_, body) = get(&app.production().await, app.url("/api/production/dashboard")).await;
    assert_eq!(
        body["dashboard"]["activeProjects"]["total_projects"],
        scalar(app, "t12", "SELECT COUNT(*) FROM pitches WHERE user_id = $1", stellar).await
    );
    let (_, body) = get(&app.creator().await, app.url("/api/analytics/dashboard")).await;
    assert_eq!(
        body["data"]["analytics"]["overview"]["totalLikes"],
        scalar(app, "t13", "SELECT CAST(SUM(like_count) AS BIGINT) FROM pitches WHERE user_id = $1", alex).await
    );
    let (_, body) = get(&investor, app.url("/api/payments/credits/balance")).await;
    assert_eq!(
        body["data"]["credits"],
        scalar(app, "t14", "SELECT balance FROM user_credits WHERE user_id = $1", sarah).await
    );
}

/// Adds an investment directly (investing has no endpoint yet) and returns its id.
async fn add_investment(app: &TestApp, investor: i64, pitch: i64, amount: f64, status: &str, days_ago: i64) -> i64 {
    let at = pitchey_store::now() - chrono::Duration::days(days_ago);
    app.state
        .store
        .db()
        .exec(
            Sql::new(
                "t_add_investment",
                "INSERT INTO investments (investor_id, pitch_id, amount, status, roi_percentage, invested_at, created_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $5)",
            )
            .arg(investor)
            .arg(pitch)
            .arg(amount)
            .arg(status)
            .arg(at),
        )
        .await
        .unwrap();
    scalar(app, "t_last_investment", "SELECT MAX(id) FROM investments WHERE investor_id = $1", investor).await
}

/// What `GET /api/creator/funding/overview` should say for `owner`, computed from the tables.
struct Funding {
    raised: f64,
    pending: f64,
    committed_count: i64,
    investors: i64,
    funded: i64,
    recent: Vec<i64>,
}

async fn funding_from_db(app: &TestApp, owner: i64) -> Funding {
    let recent: Vec<(i64,)> = app
        .state
        .store
        .db()
        .primary_all(
            Sql::new(
                "t_f_recent",
                "SELECT i.id FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 \
                 ORDER BY i.invested_at DESC, i.id DESC LIMIT 10",
            )
            .arg(owner),
        )
        .await
        .unwrap();
    Funding {
        raised: scalar_f(app, "t_f_raised", "SELECT COALESCE(SUM(i.amount), 0.0) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 AND i.status IN ('active', 'completed')", owner).await,
        pending: scalar_f(app, "t_f_pending", "SELECT COALESCE(SUM(i.amount), 0.0) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 AND i.status = 'pending'", owner).await,
        committed_count: scalar(app, "t_f_count", "SELECT COUNT(*) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 AND i.status IN ('active', 'completed')", owner).await,
        investors: scalar(app, "t_f_investors", "SELECT COUNT(DISTINCT i.investor_id) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 AND i.status <> 'cancelled'", owner).await,
        funded: scalar(app, "t_f_funded", "SELECT COUNT(DISTINCT i.pitch_id) FROM investments i JOIN pitches p ON p.id = i.pitch_id WHERE p.user_id = $1 AND i.status IN ('active', 'completed')", owner).await,
        recent: recent.into_iter().map(|(id,)| id).collect(),
    }
}

/// Asserts the overview `c` gets equals the numbers computed for `owner`; returns them.
async fn check_funding(app: &TestApp, c: &Client, owner: i64) -> Funding {
    let (s, body) = get(c, app.url("/api/creator/funding/overview")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let d = &body["data"];
    let want = funding_from_db(app, owner).await;
    let close = |field: &str, expected: f64| {
        let got = d[field].as_f64().unwrap_or_else(|| panic!("{field} is not a number: {d}"));
        assert!((got - expected).abs() < 0.006, "{field}: got {got}, computed {expected}: {d}");
    };
    close("totalRaised", want.raised);
    close("pendingAmount", want.pending);
    close("averageInvestment", if want.committed_count > 0 { want.raised / want.committed_count as f64 } else { 0.0 });
    assert_eq!(d["totalInvestors"], want.investors, "{d}");
    assert_eq!(d["fundedPitches"], want.funded, "{d}");
    let recent: Vec<i64> =
        d["recentInvestments"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(recent, want.recent, "recent investments, newest first");
    want
}

/// `GET /api/creator/funding/overview` against sums and counts over the investments table, before and after
/// investments of every status are added to the creator's pitches; and for a production company too.
async fn funding_overview_matches_the_data(app: &TestApp) {
    let alex = user_id(app, "alex.creator@demo.com").await;
    let creator = app.creator().await;
    let before = check_funding(app, &creator, alex).await;
    assert!(before.raised > 0.0 && before.funded > 0, "the seed has investments in alex's pitches");

    // A pitch of alex's that nobody has funded yet.
    let unfunded = scalar(
        app,
        "t_f_unfunded",
        "SELECT MIN(p.id) FROM pitches p WHERE p.user_id = $1 AND p.status = 'published' AND NOT EXISTS \
         (SELECT 1 FROM investments i WHERE i.pitch_id = p.id AND i.status IN ('active', 'completed'))",
        alex,
    )
    .await;
    let funded_one = scalar(
        app,
        "t_f_funded_one",
        "SELECT MIN(i.pitch_id) FROM investments i JOIN pitches p ON p.id = i.pitch_id \
         WHERE p.user_id = $1 AND i.status IN ('active', 'completed')",
        alex,
    )
    .await;
    let backer = create_user(app, "funding.backer@example.com", UserType::Investor).await;
    let waverer = create_user(app, "funding.waverer@example.com", UserType::Investor).await;
    let quitter = create_user(app, "funding.quitter@example.com", UserType::Investor).await;
    let active = add_investment(app, backer, unfunded, 123_456.78, "active", 1).await;
    add_investment(app, backer, funded_one, 20_000.0, "completed", 2).await;
    add_investment(app, waverer, funded_one, 55_000.5, "pending", 3).await;
    let cancelled = add_investment(app, quitter, unfunded, 999_999.0, "cancelled", 0).await;
    // Someone else's pitch: must not count for alex.
    let stellar = user_id(app, "stellar.production@demo.com").await;
    let (_, body) = get(&app.production().await, app.url("/api/creator/pitches?limit=100")).await;
    let orbital = body["pitches"].as_array().unwrap().iter().find(|p| p["title"] == "Orbital Decay").unwrap()["id"]
        .as_i64()
        .unwrap();
    add_investment(app, backer, orbital, 70_000.0, "active", 1).await;

    let after = check_funding(app, &creator, alex).await;
    // The expected deltas, independently of the SQL above.
    assert!((after.raised - before.raised - 143_456.78).abs() < 0.006, "active + completed are raised");
    assert!((after.pending - before.pending - 55_000.5).abs() < 0.006, "pending is pipeline, not raised");
    assert_eq!(after.committed_count, before.committed_count + 2);
    assert_eq!(after.funded, before.funded + 1, "one newly funded pitch");
    assert_eq!(after.investors, before.investors + 2, "backer and waverer; a cancelled-only investor is none");
    assert_eq!(after.recent.first(), Some(&cancelled), "newest first, every status listed");
    assert!(after.recent.contains(&active));
    // The production company sees its own pitches' funding.
    let stellar_funding = check_funding(app, &app.production().await, stellar).await;
    assert!(stellar_funding.raised >= 70_000.0);
}

/// `GET /api/pitches/following` against the follows and pitches tables: exactly the listed (published,
/// not private) pitches of the followed accounts, newest published first; follows, unfollows and archiving
/// show at once.
async fn following_feed_matches_the_follows(app: &TestApp) {
    let alex = user_id(app, "alex.creator@demo.com").await;
    let stellar = user_id(app, "stellar.production@demo.com").await;
    let maya = user_id(app, "maya.chen@demo.com").await;
    let fan = create_user(app, "fan.investor@example.com", UserType::Investor).await;
    let c = session_for(app, fan).await;
    let feed = |c: Client, query: &'static str| async move {
        let (s, body) = get(&c, app.url(&format!("/api/pitches/following{query}"))).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let ids: Vec<i64> =
            body["data"]["pitches"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        (ids, body["data"]["total"].as_i64().unwrap())
    };
    let expected = |owners: Vec<i64>| async move {
        let mut q = Sql::dynamic(
            "t_following_expected",
            // Pitches that hide their creator stay out of a feed chosen by creator.
            "SELECT id FROM pitches WHERE status = 'published' AND visibility <> 'private' AND NOT require_nda \
             AND user_id IN ("
                .to_owned(),
        );
        let marks: Vec<String> = owners.iter().map(|o| q.push_arg(*o)).collect();
        q.push(&format!("{}) ORDER BY published_at DESC, id DESC", marks.join(", ")));
        let rows: Vec<(i64,)> = app.state.store.db().primary_all(q).await.unwrap();
        rows.into_iter().map(|(id,)| id).collect::<Vec<i64>>()
    };
    assert_eq!(feed(c.clone(), "?limit=100").await, (vec![], 0), "follows nobody yet");

    // Someone else's follows are not the fan's.
    let other = session_for(app, create_user(app, "other.fan@example.com", UserType::Investor).await).await;
    let r = other.post(app.url("/api/follows/action")).json(&json!({"userId": maya, "action": "follow"})).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::OK);
    for who in [alex, stellar] {
        let r = c.post(app.url("/api/follows/action")).json(&json!({"userId": who, "action": "follow"})).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }
    let want = expected(vec![alex, stellar]).await;
    assert!(want.len() >= 5, "alex and stellar have published pitches: {want:?}");
    let hidden = scalar(
        app,
        "t_following_hidden",
        "SELECT COUNT(*) FROM pitches WHERE user_id = $1 AND status = 'published' AND require_nda",
        alex,
    )
    .await;
    assert!(hidden > 0, "alex has published pitches that hide him, which must not be listed");
    let (ids, total) = feed(c.clone(), "?limit=100").await;
    assert_eq!(ids, want, "the followed accounts' listed pitches, newest published first");
    assert_eq!(total, want.len() as i64);
    let drafts = scalar(
        app,
        "t_following_drafts",
        "SELECT COUNT(*) FROM pitches WHERE user_id = $1 AND status <> 'published'",
        alex,
    )
    .await;
    assert!(drafts > 0, "alex has a draft, which must not be listed");
    // Paging keeps the total.
    let (page, total) = feed(c.clone(), "?limit=2").await;
    assert_eq!((page.as_slice(), total), (&want[..2], want.len() as i64));

    // Archiving one of alex's pitches and unfollowing stellar show at once.
    let gone = *expected(vec![alex]).await.first().unwrap();
    let (s, body) = post(&app.creator().await, app.url(&format!("/api/pitches/{gone}/archive")), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = c.post(app.url("/api/follows/action")).json(&json!({"userId": stellar, "action": "unfollow"})).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::OK);
    let want = expected(vec![alex]).await;
    assert!(!want.contains(&gone));
    let (ids, total) = feed(c.clone(), "?limit=100").await;
    assert_eq!(ids, want);
    assert_eq!(total, want.len() as i64);
}

/// Random action sequences by random parties over HTTP agree with the pure state machine, status for status.
fn model_sequences(kind: Kind) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Some(app) = rt.block_on(TestApp::spawn(kind)) else { return };
    let (owner, ledger) = rt.block_on(async { (app.creator().await, pitch_id(&app, "The Quiet Ledger").await) });
    let stranger = rt.block_on(async {
        session_for(&app, create_user(&app, "model.stranger@example.com", UserType::Investor).await).await
    });
    let step = (
        prop::sample::select(vec![NdaAction::Approve, NdaAction::Reject, NdaAction::Sign, NdaAction::Revoke]),
        prop::sample::select(vec![NdaActor::Owner, NdaActor::Requester, NdaActor::Stranger]),
    );
    let mut runner = TestRunner::new(Config { cases: 16, failure_persistence: None, ..Config::default() });
    let result = runner.run(&prop::collection::vec(step, 1..8), |steps| {
        rt.block_on(async {
            let (requester, nda) = fresh_nda(&app, ledger, false).await;
            let mut state = NdaStatus::Pending;
            for (action, actor) in steps {
                let client = match actor {
                    NdaActor::Owner => &owner,
                    NdaActor::Requester => &requester,
                    _ => &stranger,
                };
                let verb = match action {
                    NdaAction::Approve => "approve",
                    NdaAction::Reject => "reject",
                    NdaAction::Sign => "sign",
                    _ => "revoke",
                };
                let r = client
                    .post(app.url(&format!("/api/ndas/{nda}/{verb}")))
                    .json(&json!({"fullName": "M", "acceptTerms": true}))
                    .send()
                    .await
                    .unwrap();
                let got = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                let want = match transition(state, action, actor) {
                    Ok(next) => {
                        prop_assert_eq!(body["data"]["nda"]["status"].as_str(), Some(next.as_str()));
                        state = next;
                        200
                    }
                    Err(NdaError::NotFound) => 404,
                    Err(NdaError::WrongParty(_)) => 403,
                    Err(NdaError::NotApproved) => 400,
                    Err(NdaError::InvalidTransition { .. }) => 409,
                    Err(e) => panic!("unexpected model error {e:?}"),
                };
                prop_assert_eq!(got, want, "{:?} by {:?} from {}: {}", action, actor, state, body);
            }
            // The stored state is the model's state.
            let (_, body) = get(&owner, app.url(&format!("/api/ndas/{nda}"))).await;
            prop_assert_eq!(body["data"]["nda"]["status"].as_str(), Some(state.as_str()));
            Ok(())
        })
    });
    rt.block_on(app.stop());
    result.unwrap();
}

#[test]
fn http_actions_follow_the_state_machine_sqlite() {
    model_sequences(Kind::Sqlite);
}

#[test]
fn http_actions_follow_the_state_machine_postgres() {
    model_sequences(Kind::Postgres);
}
