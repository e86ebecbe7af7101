//! Accounts, sessions and HTTP conventions over real HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{Kind, TestApp, error_code, get, json_of, post, put};
use pitchey_core::{Email, UserType, Username};
use pitchey_store::NewUser;
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    portal_logins_with_demo_accounts,
    wrong_password_wrong_portal_unknown_email,
    session_after_login_and_logout,
    sign_up_then_login,
    sign_up_rules,
    change_password_then_old_fails,
    legacy_hashes_verify_then_rehash,
    generic_sign_in_admits_admin,
    expired_sessions_are_rejected_and_cleaned,
    a_login_checked_against_a_replaced_password_makes_no_session,
    http_conventions,
    hostile_values_get_clear_errors,
    config_lists,
);

async fn portal_logins_with_demo_accounts(app: &TestApp) {
    for (portal, email, kind) in [
        ("creator", "alex.creator@demo.com", "creator"),
        ("investor", "sarah.investor@demo.com", "investor"),
        ("production", "stellar.production@demo.com", "production"),
    ] {
        let c = app.client();
        let r = c
            .post(app.url(&format!("/api/auth/{portal}/login")))
            .json(&json!({"email": email, "password": "Demo123"}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(cookie.starts_with("pitchey-session="), "{cookie}");
        for attr in ["HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=604800"] {
            assert!(cookie.contains(attr), "{attr} missing in {cookie}");
        }
        let (status, body) = json_of(r).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["success"], true);
        let user = &body["user"];
        assert!(user["id"].is_string(), "auth user ids are strings: {user}");
        assert_eq!(user["email"], email);
        assert_eq!(user["userType"], kind);
        assert!(user["bio"].as_str().is_some_and(|b| !b.is_empty()));
        assert!(user["firstName"].is_string() && user["lastName"].is_string());
        assert!(body["session"]["expiresAt"].is_string());
        assert_eq!(body["data"]["user"], body["user"]);
        if kind != "creator" {
            assert!(user["companyName"].as_str().is_some_and(|c| !c.is_empty()));
        }
    }
}

async fn wrong_password_wrong_portal_unknown_email(app: &TestApp) {
    let c = app.client();
    let cases = [
        ("/api/auth/creator/login", "alex.creator@demo.com", "Wrong123"),
        ("/api/auth/creator/login", "sarah.investor@demo.com", "Demo123"),
        ("/api/auth/investor/login", "alex.creator@demo.com", "Demo123"),
        ("/api/auth/creator/login", "nobody@demo.com", "Demo123"),
        ("/api/auth/sign-in", "nobody@demo.com", "Demo123"),
    ];
    for (path, email, pw) in cases {
        let r = c.post(app.url(path)).json(&json!({"email": email, "password": pw})).send().await.unwrap();
        assert!(r.headers().get("set-cookie").is_none(), "no cookie on failure");
        let (status, body) = json_of(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {email}");
        assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    }
    // Missing fields are a client error, not a 401.
    let (status, body) = post(&c, app.url("/api/auth/creator/login"), json!({"email": "a@b.co"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    let (s, _) = get(&c, app.url("/api/auth/session")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn session_after_login_and_logout(app: &TestApp) {
    let c = app.investor().await;
    let r = c.get(app.url("/api/auth/session")).send().await.unwrap();
    // The answer carries the user's profile: no cache may keep it, and no page may frame or sniff it.
    let h = r.headers();
    assert_eq!(h["cache-control"], "private, no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert!(h.get("strict-transport-security").is_none(), "HSTS only behind HTTPS (secure cookies)");
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["email"], "sarah.investor@demo.com");
    assert_eq!(body["user"]["userType"], "investor");
    assert!(body["session"]["id"].is_string());

    let r = c.post(app.url("/api/auth/sign-out")).send().await.unwrap();
    let cleared: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap_or_default().to_owned()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("pitchey-session=;") && c.contains("Max-Age=0")), "{cleared:?}");
    assert!(cleared.iter().any(|c| c.starts_with("better-auth-session=;")), "{cleared:?}");
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["success"], true);

    let (s, body) = get(&c, app.url("/api/auth/session")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "UNAUTHORIZED");

    // The old token is dead server-side too, not just forgotten by the client.
    let c2 = app.investor().await;
    let token = session_token_of(app, &c2).await;
    c2.post(app.url("/api/auth/logout")).send().await.unwrap();
    let r = app
        .client()
        .get(app.url("/api/auth/session"))
        .header("cookie", format!("pitchey-session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Logs in again on a cookie-less client to read the raw token from `Set-Cookie`.
async fn session_token_of(app: &TestApp, _c: &reqwest::Client) -> String {
    let r = reqwest::Client::new()
        .post(app.url("/api/auth/investor/login"))
        .json(&json!({"email": "sarah.investor@demo.com", "password": "Demo123"}))
        .send()
        .await
        .unwrap();
    let v = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    let token = v.split(';').next().unwrap().trim_start_matches("pitchey-session=").to_owned();
    // Sign that session out through its own cookie.
    let (s, _) = json_of(
        reqwest::Client::new()
            .post(app.url("/api/auth/sign-out"))
            .header("cookie", format!("pitchey-session={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    token
}

async fn sign_up_then_login(app: &TestApp) {
    let c = app.client();
    // A search cached before the sign-up finds the new account after it.
    let search = app.url("/api/search?q=newinvestor&type=investor");
    assert_eq!(get(&c, search.clone()).await.1["data"]["users"], json!([]));
    let r = c
        .post(app.url("/api/auth/sign-up"))
        .json(&json!({"email": "New.Investor@Example.com", "username": "newinvestor", "password": "longenough1",
                      "userType": "investor", "companyName": "Fresh Capital"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none(), "sign-up does not sign in");
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["email"], "new.investor@example.com");
    assert_eq!(body["data"]["user"]["userType"], "investor");
    assert_eq!(body["data"]["user"]["companyName"], "Fresh Capital");
    let (_, found) = get(&c, search).await;
    assert_eq!(found["data"]["users"][0]["username"], "newinvestor", "{found}");

    let c = app.login("investor", "new.investor@example.com", "longenough1").await;
    let (s, body) = get(&c, app.url("/api/auth/session")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["username"], "newinvestor");

    // /register is the same handler; without a username one is derived, and made unique.
    for email in ["dup.name@example.com", "dup.name@example.org"] {
        let (s, body) =
            post(&c, app.url("/api/auth/register"), json!({"email": email, "password": "longenough1"})).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["user"]["userType"], "creator");
    }
}

async fn sign_up_rules(app: &TestApp) {
    let c = app.client();
    let (s, body) =
        post(&c, app.url("/api/auth/sign-up"), json!({"email": "ALEX.creator@demo.com", "password": "longenough1"}))
            .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "EMAIL_EXISTS");
    let (s, body) =
        post(&c, app.url("/api/auth/sign-up"), json!({"email": "short@example.com", "password": "Demo123"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    let (s, _) =
        post(&c, app.url("/api/auth/sign-up"), json!({"email": "long@example.com", "password": "x".repeat(129)})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) =
        post(&c, app.url("/api/auth/sign-up"), json!({"email": "not-an-email", "password": "longenough1"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post(
        &c,
        app.url("/api/auth/sign-up"),
        json!({"email": "a@example.com", "password": "longenough1", "userType": "admin"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "nobody signs up as admin");
    let (s, body) = post(
        &c,
        app.url("/api/auth/sign-up"),
        json!({"email": "b@example.com", "password": "longenough1", "username": "alexcreator"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "USERNAME_EXISTS");
}

async fn change_password_then_old_fails(app: &TestApp) {
    let other_device = app.creator().await;
    let c = app.creator().await;
    // Looked up, and so cached, before the change: the revocation must reach the cache too.
    assert_eq!(get(&other_device, app.url("/api/auth/session")).await.0, StatusCode::OK);
    let (s, body) = post(
        &c,
        app.url("/api/auth/change-password"),
        json!({"currentPassword": "wrong-one", "newPassword": "NewPassword9"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a wrong current password must not sign the client out");
    assert_eq!(error_code(&body), "INVALID_PASSWORD");
    let (s, _) =
        post(&c, app.url("/api/auth/change-password"), json!({"currentPassword": "Demo123", "newPassword": "short"}))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post(
        &c,
        app.url("/api/auth/change-password"),
        json!({"currentPassword": "Demo123", "newPassword": "NewPassword9"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let (s, _) = post(
        &app.client(),
        app.url("/api/auth/creator/login"),
        json!({"email": "alex.creator@demo.com", "password": "Demo123"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.login("creator", "alex.creator@demo.com", "NewPassword9").await;
    // A change checked against a hash that is no longer current (another change came first) changes
    // nothing and revokes nothing.
    let alex = common::user_id(app, "alex.creator@demo.com").await;
    let store = &app.state.store;
    let current = store.password_hash(alex).await.unwrap().unwrap();
    assert_eq!(store.change_password_hash(alex, "stale-hash", "other-hash", Some("none")).await.unwrap(), None);
    assert_eq!(store.password_hash(alex).await.unwrap().unwrap(), current);
    // This session survives; the other device's is revoked.
    assert_eq!(get(&c, app.url("/api/auth/session")).await.0, StatusCode::OK);
    assert_eq!(get(&other_device, app.url("/api/auth/session")).await.0, StatusCode::UNAUTHORIZED);
    // Unauthenticated change is refused.
    let (s, _) = post(
        &app.client(),
        app.url("/api/auth/change-password"),
        json!({"currentPassword": "x", "newPassword": "yyyyyyyy"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn legacy_hashes_verify_then_rehash(app: &TestApp) {
    let store = &app.state.store;
    let pbkdf2 = pitchey_server::password::legacy_pbkdf2("OldSecret1", [3; 16]);
    let bcrypt = bcrypt_hash("OldSecret2");
    for (email, hash, pw) in
        [("legacy.pbkdf2@example.com", pbkdf2, "OldSecret1"), ("legacy.bcrypt@example.com", bcrypt, "OldSecret2")]
    {
        let e = Email::parse(email).unwrap();
        let u = store
            .create_user(&NewUser {
                username: Username::from_email(&e),
                email: e,
                password_hash: hash.clone(),
                user_type: UserType::Investor,
                first_name: Some("Legacy".into()),
                last_name: Some("User".into()),
                bio: Some("Imported".into()),
                company_name: None,
                subscription_tier: "free".into(),
            })
            .await
            .unwrap();
        let (s, _) =
            post(&app.client(), app.url("/api/auth/investor/login"), json!({"email": email, "password": "wrong-pass"}))
                .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(
            store.password_hash(u.id).await.unwrap().as_deref(),
            Some(hash.as_str()),
            "failed login keeps the hash"
        );
        app.login("investor", email, pw).await;
        let now = store.password_hash(u.id).await.unwrap().unwrap();
        assert!(now.starts_with("$argon2id$"), "rehashed: {now}");
        app.login("investor", email, pw).await;
    }
}

fn bcrypt_hash(pw: &str) -> String {
    // The web platform's seed data used `$2a$`; the crate writes `$2b$` (same algorithm).
    pitchey_server::password::legacy_bcrypt_for_tests(pw)
}

async fn generic_sign_in_admits_admin(app: &TestApp) {
    let c = app.admin().await;
    let (s, body) = get(&c, app.url("/api/auth/session")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["userType"], "admin");
    // Portal logins admit only their own portal: no admin through the creator door.
    let (s, _) = post(
        &app.client(),
        app.url("/api/auth/creator/login"),
        json!({"email": "admin@demo.com", "password": "Demo123"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // sign-in with an explicit, mismatching userType is refused; the legacy /login alias works.
    let (s, _) = post(
        &app.client(),
        app.url("/api/auth/sign-in"),
        json!({"email": "admin@demo.com", "password": "Demo123", "userType": "investor"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, body) = post(
        &app.client(),
        app.url("/api/auth/login"),
        json!({"email": "sarah.investor@demo.com", "password": "Demo123"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["userType"], "investor");
}

/// A login verifies the password, then creates the session. A password change in between (which deletes
/// the user's other sessions) must not be outlived by a session made with the old password.
async fn a_login_checked_against_a_replaced_password_makes_no_session(app: &TestApp) {
    let store = &app.state.store;
    let (user, verified) =
        store.user_credentials(&Email::parse("alex.creator@demo.com").unwrap()).await.unwrap().unwrap();
    let session = |hash: &'static str| pitchey_store::NewSession {
        token_hash: hash,
        id: hash,
        user_id: user.id,
        expires_at: pitchey_store::now() + chrono::Duration::hours(1),
        ip_address: None,
        user_agent: None,
    };
    assert!(store.create_session_if_password_is(&session("before-the-change"), &verified).await.unwrap());
    assert!(store.upgrade_password_hash(user.id, &verified, "a-new-hash").await.unwrap());
    assert!(!store.create_session_if_password_is(&session("after-the-change"), &verified).await.unwrap());
    assert!(store.session_by_token_hash("after-the-change").await.unwrap().is_none());
    assert!(store.session_by_token_hash("before-the-change").await.unwrap().is_some());
}

async fn expired_sessions_are_rejected_and_cleaned(app: &TestApp) {
    let store = &app.state.store;
    let user = store.user_credentials(&Email::parse("alex.creator@demo.com").unwrap()).await.unwrap().unwrap().0;
    let (token, hash) = pitchey_server::session::new_token();
    store
        .create_session(&pitchey_store::NewSession {
            token_hash: &hash,
            id: "expired-session",
            user_id: user.id,
            expires_at: pitchey_store::now() - chrono::Duration::seconds(1),
            ip_address: None,
            user_agent: None,
        })
        .await
        .unwrap();
    let r = app
        .client()
        .get(app.url("/api/auth/session"))
        .header("cookie", format!("pitchey-session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(store.delete_expired_sessions().await.unwrap() >= 1);
    assert_eq!(store.delete_expired_sessions().await.unwrap(), 0);
    // A live session is untouched by the cleanup.
    let c = app.creator().await;
    store.delete_expired_sessions().await.unwrap();
    assert_eq!(get(&c, app.url("/api/auth/session")).await.0, StatusCode::OK);
}

async fn http_conventions(app: &TestApp) {
    let c = app.client();
    // Malformed JSON → 400 in our envelope.
    let r = c
        .post(app.url("/api/auth/sign-in"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-request-id").is_some());
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "INVALID_JSON");
    // Wrong types → 422.
    let (s, body) = post(&c, app.url("/api/auth/sign-in"), json!({"email": 42, "password": ["x"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    // Not JSON at all → 415.
    let r = c.post(app.url("/api/auth/sign-in")).body("email=a").send().await.unwrap();
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(&body), "UNSUPPORTED_MEDIA_TYPE");
    // Oversized body → 413.
    let big = json!({"email": "a@b.co", "password": "x".repeat(2 * 1024 * 1024)});
    // Its own client: the server stops reading the body and closes that connection, which a pooled client
    // could otherwise try to reuse for the next request.
    let (s, body) = post(&app.client(), app.url("/api/auth/sign-in"), big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE");
    // Unknown /api routes → 404 JSON, never 401, even for protected-looking paths.
    for path in ["/api/x", "/api/admin/secret", "/api/ndas/whatever/deep"] {
        let (s, body) = get(&c, app.url(path)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(&body), "NOT_FOUND");
    }
    // Wrong method → 405 JSON.
    let (s, body) = get(&c, app.url("/api/auth/sign-out")).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    // CORS preflight from an allowed origin: 204 with the exact origin echoed and credentials allowed.
    let r = c
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/creator/login"))
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-csrf-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "http://127.0.0.1:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert!(h["access-control-allow-headers"].to_str().unwrap().contains("x-csrf-token"));
    // Simple request from an allowed origin carries the CORS headers; a foreign origin gets none.
    let r = c.get(app.url("/api/config/all")).header("origin", "http://localhost:5173").send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "http://localhost:5173");
    let r = c.get(app.url("/api/config/all")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Compression when asked for.
    let r = c.get(app.url("/api/config/all")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
}

/// Values the databases cannot store, or that no field should hold, are refused with a 4xx in the envelope,
/// on both backends alike (PostgreSQL would otherwise answer 500 for some of them).
async fn hostile_values_get_clear_errors(app: &TestApp) {
    let anon = app.client();
    let creator = app.creator().await;
    let pitch = |title: &str| json!({"title": title, "logline": "A logline of length.", "genre": "comedy"});
    // NUL characters: in a JSON string, in a query string, in a path.
    let (s, body) = post(&creator, app.url("/api/pitches"), pitch("Nul \u{0}here")).await;
    assert_eq!((s, error_code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{body}");
    let (s, body) = post(&creator, app.url("/api/pitches"), json!({"title": "Fine title", "logline": "A logline of length.", "genre": "comedy", "characters": [{"name": "\u{0}"}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // An escaped backslash followed by the letters u0000 is text, not a NUL.
    let (s, body) = post(&creator, app.url("/api/pitches"), pitch("Backslash \\u0000 kept")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["pitch"]["title"], "Backslash \\u0000 kept");
    for path in ["/api/browse?genre=%00", "/api/search/suggestions?q=ab%00", "/api/search?q=x%00y", "/api/pitches/1%00"]
    {
        let (s, body) = get(&anon, app.url(path)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {body}");
        error_code(&body);
    }
    let (s, body) = post(
        &anon,
        app.url("/api/auth/sign-up"),
        json!({"email": "nul@example.com", "password": "Password123", "firstName": "A\u{0}"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // Sign-up has the profile's limits.
    let (s, body) = post(
        &anon,
        app.url("/api/auth/sign-up"),
        json!({"email": "long@example.com", "password": "Password123", "bio": "b".repeat(5001)}),
    )
    .await;
    assert_eq!((s, error_code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{body}");
    // Dates and amounts outside what can be stored or compared.
    let (s, body) = get(&creator, app.url("/api/ndas?dateFrom=-5000-01-01")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    for q in ["minBudget=NaN", "maxBudget=inf", "minBudget=1e999", "minBudget=-5"] {
        let (s, body) = get(&anon, app.url(&format!("/api/browse?{q}"))).await;
        assert_eq!((s, error_code(&body)), (StatusCode::BAD_REQUEST, "INVALID_QUERY"), "{q}: {body}");
    }
    // Filter lists: a value repeated is the value once; more distinct values than any catalogue has are a 400.
    let repeated = vec!["Comedy"; 5_000].join(",");
    for path in ["/api/browse", "/api/search", "/api/pitches/public", "/api/pitches"] {
        let (s, body) = get(&anon, app.url(&format!("{path}?genre={repeated}"))).await;
        assert_eq!(s, StatusCode::OK, "{path}: {body}");
        let distinct = (0..65).map(|i| format!("g{i}")).collect::<Vec<_>>().join(",");
        let (s, body) = get(&anon, app.url(&format!("{path}?format={distinct}"))).await;
        assert_eq!((s, error_code(&body)), (StatusCode::BAD_REQUEST, "INVALID_QUERY"), "{path}: {body}");
    }
    let (s, body) = get(&creator, app.url("/api/notifications/unread?since=yesterday")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // Saved-pitch notes: a string within its limit, on both ways in.
    let investor = app.investor().await;
    let (_, body) = get(&anon, app.url("/api/pitches/public/trending?limit=1")).await;
    let id = body["data"]["pitches"][0]["id"].as_i64().unwrap();
    let (s, body) = post(&investor, app.url("/api/saved-pitches"), json!({"pitchId": id, "notes": 42})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) = post(&investor, app.url("/api/saved-pitches"), json!({"pitchId": id, "notes": "ok"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let saved = body["data"]["id"].as_i64().unwrap();
    let (s, body) = put(&investor, app.url(&format!("/api/saved-pitches/{saved}")), json!({"notes": ["x"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) =
        put(&investor, app.url(&format!("/api/saved-pitches/{saved}")), json!({"notes": "n".repeat(5001)})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // A path parameter that is not UTF-8 gets the envelope too.
    let (s, body) = get(&anon, app.url("/api/health/%FF")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    error_code(&body);
    // Symbols alone name no creator.
    let (s, body) = get(&anon, app.url("/api/search/autocomplete?q=!!&field=creator")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["suggestions"], json!([]), "{body}");
    // The backstop: a value PostgreSQL refuses is the request's fault, not a 500.
    if app.kind == Kind::Postgres {
        let q = pitchey_store::Sql::new("test_nul", "SELECT CAST($1 AS TEXT)").arg("a\0b");
        let err = app.state.store.db().one::<(String,)>(q).await.unwrap_err();
        assert!(matches!(err, pitchey_store::StoreError::InvalidValue(_)), "{err:?}");
    }
}

async fn config_lists(app: &TestApp) {
    let c = app.client();
    let (s, body) = get(&c, app.url("/api/config/all")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["genres"].as_array().map(Vec::len), Some(53));
    assert_eq!(body["data"]["formats"][0], "Feature Film");
    assert_eq!(body["data"]["budgetRanges"].as_array().map(Vec::len), Some(7));
    for part in ["genres", "formats", "budget-ranges", "stages"] {
        let (s, body) = get(&c, app.url(&format!("/api/config/{part}"))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body["data"].as_array().is_some_and(|a| !a.is_empty()), "{part}");
    }
}

/// The limiter lives in the node's memory, not the database; these run on both backends all the same, as
/// every account test does.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod rate_limits_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Sqlite).await;
                }
            )*
        }
        mod rate_limits_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(login_rate_limit_answers_429_with_retry_after, forwarded_for_is_used_only_behind_a_trusted_proxy);

async fn login_rate_limit_answers_429_with_retry_after(kind: Kind) {
    let Some(app) = TestApp::spawn_with(kind, |s| s.login_rate_per_minute = 3).await else { return };
    let c = app.client();
    for _ in 0..3 {
        let (s, _) = post(
            &c,
            app.url("/api/auth/creator/login"),
            json!({"email": "alex.creator@demo.com", "password": "bad-password"}),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let r = c
        .post(app.url("/api/auth/creator/login"))
        .json(&json!({"email": "alex.creator@demo.com", "password": "Demo123"}))
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert_eq!(body["error"]["message"], "Too many login attempts. Please try again later.");
    // Sign-up shares the limit.
    let (s, _) =
        post(&c, app.url("/api/auth/sign-up"), json!({"email": "z@example.com", "password": "longenough1"})).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // So does checking the current password in a password change (a stolen session must not guess freely).
    let alex = common::user_id(&app, "alex.creator@demo.com").await;
    let signed_in = common::session_for(&app, alex).await;
    let (s, body) = post(
        &signed_in,
        app.url("/api/auth/change-password"),
        json!({"currentPassword": "a-guess", "newPassword": "NewPassword9"}),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    app.stop().await;
}

async fn forwarded_for_is_used_only_behind_a_trusted_proxy(kind: Kind) {
    let Some(app) = TestApp::spawn_with(kind, |s| {
        s.login_rate_per_minute = 1;
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    let c = app.client();
    let attempt = |ip: &'static str| {
        c.post(app.url("/api/auth/creator/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": "alex.creator@demo.com", "password": "bad-password"}))
            .send()
    };
    // Each forwarded client has its own budget because the peer (127.0.0.1) is trusted.
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("198.51.100.2").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // Metrics on the API port are for local scrapers: not for a forwarded client, even one forwarded from
    // this host.
    let metrics = |xff: Option<&'static str>| {
        let r = c.get(app.url("/metrics"));
        match xff {
            Some(ip) => r.header("x-forwarded-for", ip),
            None => r,
        }
        .send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), StatusCode::OK);
    for ip in ["198.51.100.1", "127.0.0.1"] {
        let (s, body) = json_of(metrics(Some(ip)).await.unwrap()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{ip}");
        assert_eq!(error_code(&body), "FORBIDDEN");
    }
    let r = c.get(app.url("/metrics")).header("x-real-ip", "198.51.100.7").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a proxy that sets only X-Real-IP");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_sqlite_file_keeps_users_and_sessions() {
    let mut app = TestApp::spawn(Kind::Sqlite).await.unwrap();
    let url = app.database_url.clone();
    let dir = app.take_dir();
    let token_cookie = {
        let r = reqwest::Client::new()
            .post(app.url("/api/auth/sign-up"))
            .json(&json!({"email": "keeper@example.com", "password": "longenough1", "userType": "production", "companyName": "Keep Co"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = reqwest::Client::new()
            .post(app.url("/api/auth/production/login"))
            .json(&json!({"email": "keeper@example.com", "password": "longenough1"}))
            .send()
            .await
            .unwrap();
        r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
    };
    let users_before = app.state.store.count_users().await.unwrap();
    app.shutdown().await;

    let app2 = TestApp::start(common::test_settings(&url), Kind::Sqlite).await;
    assert_eq!(app2.state.store.count_users().await.unwrap(), users_before, "no reseed, nothing lost");
    let r =
        reqwest::Client::new().get(app2.url("/api/auth/session")).header("cookie", token_cookie).send().await.unwrap();
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["email"], "keeper@example.com");
    app2.stop().await;
    drop(dir);
}

/// `pitchey user create --admin` makes an administrator who can sign in and reach admin-only endpoints; a
/// second account with the same email is refused with a non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_admin_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let create = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pitchey"))
            .args(["--database-url", &url, "user", "create", "--email", "ops@example.com", "--admin"])
            .args(["--password", "longenough1"])
            .env("PITCHEY_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    };
    let out = create();
    assert!(out.status.success(), "user create failed: {}", String::from_utf8_lossy(&out.stderr));
    let again = create();
    assert!(!again.status.success(), "a duplicate email is refused");

    let app = TestApp::start(common::test_settings(&url), Kind::Sqlite).await;
    let c = app.client();
    let (s, body) =
        post(&c, app.url("/api/auth/sign-in"), json!({"email": "ops@example.com", "password": "longenough1"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["userType"], "admin");
    let (s, _) = get(&c, app.url("/api/cache/status")).await;
    assert_eq!(s, StatusCode::OK, "the new admin reaches admin-only endpoints");
    app.stop().await;
}
