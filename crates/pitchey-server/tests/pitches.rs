//! Pitch lifecycle, detail access, and engagement over real HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{TestApp, create_user, delete, error_code, get, insert_nda, post, put, session_for, user_id};
use pitchey_core::UserType;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    create_form_persists_every_field,
    lifecycle_publish_archive_delete,
    only_the_owner_changes_a_pitch,
    my_pitches_filters_and_pages,
    detail_access_follows_the_nda_rule,
    generic_list_status_all_shows_only_own_drafts,
    views_are_deduplicated,
    likes_and_saves,
    saved_pitches_api,
    follows_api,
    concurrent_likes_and_views_keep_exact_counters,
    moderation_keeps_a_hidden_pitch_hidden,
    moderation_api_hides_and_restores,
);

/// The create form's body (contract §3.5), camelCase, every field.
fn full_form() -> Value {
    json!({
        "title": "The Cartographer's Daughter", "genre": "Historical Drama", "format": "Feature Film",
        "formatCategory": "Film", "formatSubtype": "feature",
        "logline": "A mapmaker's daughter forges the map that could end a war, or start another.",
        "shortSynopsis": "Venice, 1571. A forged map, two navies, one girl who can draw the truth.",
        "longSynopsis": "Longer synopsis text.", "requireNDA": true, "seekingInvestment": true,
        "budgetRange": "5m-20m", "budgetBracket": "5m-20m", "estimatedBudget": 12500000,
        "productionTimeline": "18-24 months", "themes": "Truth, loyalty, craft", "worldDescription": "Renaissance Venice",
        "characters": [{"name": "Isabella", "description": "Forger", "age": "17", "displayOrder": 0}],
        "aiUsed": false, "toneAndStyle": "Lush and tense", "comps": "The Favourite meets Master and Commander",
        "storyBreakdown": "Act one...", "whyNow": "Maps and misinformation.", "productionLocation": "Venice, Malta",
        "developmentStage": "script", "targetAudience": "Adults 25-54",
        "videoUrl": "https://video.example/reel", "videoPassword": "reel-pass", "videoPlatform": "vimeo",
        "trailerUrl": "https://video.example/trailer", "titleImage": "/api/media/file/x.jpg",
        "visibilitySettings": {"showShortSynopsis": true, "showCharacters": true, "showBudget": false, "showMedia": true},
        "additionalMedia": [{"type": "lookbook", "url": "https://x.example/lb.pdf", "title": "Lookbook"}],
        "budgetBreakdown": {"production": 8000000}, "distributionPlan": "Festival then streaming",
        "contactDetails": {"email": "agent@example.com"},
        "documents": [], "customNdaText": "ignored",
    })
}

async fn create_form_persists_every_field(app: &TestApp) {
    let c = app.creator().await;
    let (s, body) = post(&c, app.url("/api/pitches"), full_form()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let p = &body["data"]["pitch"];
    let id = p["id"].as_i64().unwrap();
    assert_eq!(p["status"], "draft");
    assert_eq!(p["visibility"], "private");
    let (s, body) = get(&c, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    let p = &body["data"]["pitch"];
    for (k, v) in [
        ("genre", json!("historical drama")),
        ("format", json!("feature")),
        ("formatCategory", json!("Film")),
        ("shortSynopsis", json!("Venice, 1571. A forged map, two navies, one girl who can draw the truth.")),
        ("longSynopsis", json!("Longer synopsis text.")),
        ("requireNDA", json!(true)),
        ("seekingInvestment", json!(true)),
        ("budgetRange", json!("5m-20m")),
        ("budgetBracket", json!("5m-20m")),
        ("estimatedBudget", json!(12500000.0)),
        ("productionTimeline", json!("18-24 months")),
        ("themes", json!("Truth, loyalty, craft")),
        ("worldDescription", json!("Renaissance Venice")),
        ("aiUsed", json!(false)),
        ("toneAndStyle", json!("Lush and tense")),
        ("storyBreakdown", json!("Act one...")),
        ("whyNow", json!("Maps and misinformation.")),
        ("productionLocation", json!("Venice, Malta")),
        ("developmentStage", json!("script")),
        ("targetAudience", json!("Adults 25-54")),
        ("videoUrl", json!("https://video.example/reel")),
        ("videoPlatform", json!("vimeo")),
        ("trailerUrl", json!("https://video.example/trailer")),
        ("titleImage", json!("/api/media/file/x.jpg")),
        ("videoPassword", json!("reel-pass")),
        ("distribution_plan", json!("Festival then streaming")),
    ] {
        assert_eq!(p[k], v, "field {k}");
    }
    assert_eq!(p["characters"][0]["name"], "Isabella");
    assert_eq!(p["visibilitySettings"]["showCharacters"], true);
    assert_eq!(p["additionalMedia"][0]["type"], "lookbook");
    assert_eq!(p["protectedContent"]["contactDetails"]["email"], "agent@example.com");
    assert_eq!(p["isOwner"], true);
    assert_eq!(p["canEdit"], true);

    // snake_case works just as well, and validation errors are clear.
    let (s, body) = post(&c, app.url("/api/pitches"), json!({"title": "Snake Case", "logline": "A logline of length.", "genre": "comedy", "short_synopsis": "snake", "require_nda": false})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["pitch"]["short_synopsis"], "snake");
    let (s, body) =
        post(&c, app.url("/api/pitches"), json!({"title": "ab", "logline": "A logline of length.", "genre": "comedy"}))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    let (s, _) =
        post(&c, app.url("/api/pitches"), json!({"title": "Long enough", "logline": "short", "genre": "comedy"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) =
        post(&c, app.url("/api/pitches"), json!({"title": "No genre here", "logline": "A logline of length."})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post(
        &c,
        app.url("/api/pitches"),
        json!({"title": "Bad budget", "logline": "A logline of length.", "genre": "x", "estimatedBudget": "lots"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Only creators and production companies create.
    let (s, body) = post(&app.investor().await, app.url("/api/pitches"), full_form()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "FORBIDDEN");
    let (s, _) = post(&app.client(), app.url("/api/pitches"), full_form()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Production companies create from their own portal.
    let (s, _) = post(&app.production().await, app.url("/api/pitches"), full_form()).await;
    assert_eq!(s, StatusCode::OK);
}

async fn lifecycle_publish_archive_delete(app: &TestApp) {
    let c = app.creator().await;
    let anon = app.client();
    let (_, body) = post(&c, app.url("/api/pitches"), json!({"title": "Zebra Crossing Nights", "logline": "A night-shift crossing guard solves a string of thefts.", "genre": "comedy"})).await;
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    // A draft is invisible to everyone else.
    assert_eq!(get(&anon, app.url(&format!("/api/pitches/public/{id}"))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app.investor().await, app.url(&format!("/api/pitches/{id}"))).await.0, StatusCode::NOT_FOUND);
    // Submit for review through PUT {status}.
    let (s, body) =
        put(&c, app.url(&format!("/api/creator/pitches/{id}")), json!({"status": "under_review", "requireNDA": true}))
            .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["pitch"]["status"], "under_review");
    assert_eq!(body["data"]["pitch"]["requireNDA"], true);
    // Publish: public, stamped, listed.
    let (s, body) = post(&c, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let p = &body["data"]["pitch"];
    assert_eq!((p["status"].as_str(), p["visibility"].as_str()), (Some("published"), Some("public")));
    assert!(p["published_at"].is_string());
    let (s, body) = get(&anon, app.url(&format!("/api/pitches/public/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["title"], "Zebra Crossing Nights");
    let (_, body) = get(&anon, app.url("/api/pitches/public/new?limit=50")).await;
    assert!(body["data"]["pitches"].as_array().unwrap().iter().any(|p| p["id"] == id));
    let (_, body) = get(&anon, app.url("/api/search?q=zebra%20crossing")).await;
    assert_eq!(body["data"]["pitches"][0]["id"], id, "{body}");
    // Archive: out of the lists and the public page.
    let (s, body) = post(&c, app.url(&format!("/api/pitches/{id}/archive")), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["pitch"]["status"], "archived");
    assert_eq!(get(&anon, app.url(&format!("/api/pitches/public/{id}"))).await.0, StatusCode::NOT_FOUND);
    let (_, body) = get(&anon, app.url("/api/search?q=zebra%20crossing")).await;
    assert!(body["data"]["pitches"].as_array().unwrap().iter().all(|p| p["id"] != id), "{body}");
    // Delete: 200 JSON, then 404.
    let (s, body) = delete(&c, app.url(&format!("/api/creator/pitches/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert_eq!((&body["data"]["message"], &body["data"]["pitch"]["id"]), (&json!("Pitch deleted"), &json!(id)));
    let (s, body) = delete(&c, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "NOT_FOUND");
    assert_eq!(get(&c, app.url(&format!("/api/pitches/{id}"))).await.0, StatusCode::NOT_FOUND);
    // Bad ids are 400, unknown ones 404.
    assert_eq!(get(&anon, app.url("/api/pitches/abc")).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&anon, app.url("/api/pitches/public/999999")).await.0, StatusCode::NOT_FOUND);
}

async fn only_the_owner_changes_a_pitch(app: &TestApp) {
    let owner = app.creator().await;
    let other = session_for(app, create_user(app, "other.creator@example.com", UserType::Creator).await).await;
    let (_, body) = post(
        &owner,
        app.url("/api/pitches"),
        json!({"title": "Owner Only", "logline": "Only the owner may change this.", "genre": "drama"}),
    )
    .await;
    let id = body["data"]["pitch"]["id"].as_i64().unwrap();
    // Someone else's draft does not exist for them.
    assert_eq!(
        put(&other, app.url(&format!("/api/pitches/{id}")), json!({"title": "Hijacked"})).await.0,
        StatusCode::NOT_FOUND
    );
    post(&owner, app.url(&format!("/api/pitches/{id}/publish")), json!({})).await;
    // A published pitch they can see but not change.
    let (s, body) = put(&other, app.url(&format!("/api/pitches/{id}")), json!({"title": "Hijacked"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(post(&other, app.url(&format!("/api/pitches/{id}/archive")), json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(delete(&other, app.url(&format!("/api/pitches/{id}"))).await.0, StatusCode::NOT_FOUND);
    let (_, body) = get(&app.client(), app.url(&format!("/api/pitches/public/{id}"))).await;
    assert_eq!(body["data"]["title"], "Owner Only");
    // Investors cannot edit at all.
    assert_eq!(
        put(&app.investor().await, app.url(&format!("/api/pitches/{id}")), json!({"title": "x y z"})).await.0,
        StatusCode::FORBIDDEN
    );
}

/// Only moderation takes a pitch out of `hidden`: its owner may still edit and delete it.
async fn moderation_keeps_a_hidden_pitch_hidden(app: &TestApp) {
    let c = app.creator().await;
    let id = common::published_pitch(app, &c, "Flagged Reel").await;
    let (s, b) = post(&app.admin().await, app.url(&format!("/api/admin/pitches/{id}/hide")), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for (path, body) in [
        (format!("/api/pitches/{id}/publish"), json!({})),
        (format!("/api/pitches/{id}/archive"), json!({})),
        (format!("/api/creator/pitches/{id}/publish"), json!({})),
    ] {
        let (s, b) = post(&c, app.url(&path), body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {b}");
        assert_eq!(error_code(&b), "FORBIDDEN");
    }
    for status in ["published", "draft", "archived", "under_review"] {
        let (s, b) = put(&c, app.url(&format!("/api/pitches/{id}")), json!({"status": status})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{status}: {b}");
    }
    assert_eq!(app.state.store.pitch(id).await.unwrap().unwrap().status.as_str(), "hidden");
    assert_eq!(get(&app.client(), app.url(&format!("/api/pitches/public/{id}"))).await.0, StatusCode::NOT_FOUND);
    // Its content may still be fixed, and the pitch deleted.
    let (s, b) = put(&c, app.url(&format!("/api/pitches/{id}")), json!({"logline": "Fixed after review."})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["pitch"]["status"], "hidden");
    assert_eq!(delete(&c, app.url(&format!("/api/pitches/{id}"))).await.0, StatusCode::OK);
}

/// Administrators hide a pitch from everyone but its owner, and restore it; nobody else may.
async fn moderation_api_hides_and_restores(app: &TestApp) {
    let c = app.creator().await;
    let id = common::published_pitch(app, &c, "Takedown Test").await;
    let anon = app.client();
    let detail = app.url(&format!("/api/pitches/public/{id}"));
    let list = app.url("/api/pitches/public/new?limit=50");
    let listed = |body: &Value| body["data"]["pitches"].as_array().unwrap().iter().any(|p| p["id"] == id);
    let search = app.url("/api/search?q=takedown");
    for _ in 0..2 {
        assert_eq!(get(&anon, detail.clone()).await.0, StatusCode::OK);
        assert!(listed(&get(&anon, list.clone()).await.1));
        assert_eq!(get(&anon, search.clone()).await.1["data"]["pitches"][0]["id"], id);
    }
    let hide = app.url(&format!("/api/admin/pitches/{id}/hide"));
    let unhide = app.url(&format!("/api/admin/pitches/{id}/unhide"));
    let investor = app.investor().await;
    assert_eq!(post(&c, hide.clone(), json!({})).await.0, StatusCode::FORBIDDEN, "not even the owner");
    assert_eq!(post(&investor, hide.clone(), json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post(&anon, hide.clone(), json!({})).await.0, StatusCode::UNAUTHORIZED);
    let admin = app.admin().await;
    let (s, b) = post(&admin, app.url("/api/admin/pitches/999999999/hide"), json!({})).await;
    assert_eq!((s, error_code(&b)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    assert_eq!(post(&admin, app.url("/api/admin/pitches/abc/hide"), json!({})).await.0, StatusCode::BAD_REQUEST);
    let (s, b) = post(&admin, hide.clone(), json!({"reason": "x".repeat(501)})).await;
    assert_eq!((s, error_code(&b)), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"));
    let (s, b) = post(&admin, hide.clone(), json!({"reason": 5})).await;
    assert_eq!((s, error_code(&b)), (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR"), "a wrong type");
    assert_eq!(get(&anon, detail.clone()).await.0, StatusCode::OK, "refused requests changed nothing");

    let (s, b) = post(&admin, hide.clone(), json!({"reason": "Reported as infringing"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["data"]["pitch"]["status"].as_str(), b["data"]["changed"].as_bool()), (Some("hidden"), Some(true)));
    assert_eq!(post(&admin, hide.clone(), json!({})).await.1["data"]["changed"], false, "hiding twice");
    // Gone for everyone else at once, cached views included.
    assert_eq!(get(&anon, detail.clone()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&anon, search.clone()).await.1["data"]["pitches"], json!([]), "search");
    assert!(!listed(&get(&anon, list.clone()).await.1));
    assert_eq!(get(&investor, app.url(&format!("/api/pitches/{id}"))).await.0, StatusCode::NOT_FOUND);
    // The owner still sees it, hidden, and was told why.
    let (s, b) = get(&c, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!((s, b["data"]["pitch"]["status"].as_str()), (StatusCode::OK, Some("hidden")), "{b}");
    let (_, n) = get(&c, app.url("/api/user/notifications?limit=20")).await;
    let told = n["data"]["notifications"].as_array().unwrap().iter().find(|n| n["type"] == "pitch_hidden").cloned();
    assert!(told.is_some_and(|n| n["message"].as_str().unwrap().contains("Reported as infringing")), "{n}");

    let (s, b) = post(&admin, unhide.clone(), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["pitch"]["status"], "published", "it had been published");
    assert_eq!(post(&admin, unhide, json!({})).await.1["data"]["changed"], false, "restoring twice");
    assert_eq!(get(&anon, detail).await.0, StatusCode::OK);
    assert!(listed(&get(&anon, list).await.1));
    assert_eq!(get(&anon, search).await.1["data"]["pitches"][0]["id"], id, "search");
    let (_, n) = get(&c, app.url("/api/user/notifications?limit=20")).await;
    assert!(n["data"]["notifications"].as_array().unwrap().iter().any(|n| n["type"] == "pitch_restored"), "{n}");
    // Only published pitches are taken down: a draft or an archived pitch is refused, and stays as it was
    // (so a restore never publishes what its owner had withdrawn).
    let draft = common::draft_pitch(app, &c, "Never Out").await;
    let archived = common::published_pitch(app, &c, "Withdrawn Reel").await;
    post(&c, app.url(&format!("/api/pitches/{archived}/archive")), json!({})).await;
    for (pitch, status) in [(draft, "draft"), (archived, "archived")] {
        let (s, b) = post(&admin, app.url(&format!("/api/admin/pitches/{pitch}/hide")), json!({})).await;
        assert_eq!((s, error_code(&b)), (StatusCode::CONFLICT, "INVALID_STATE"), "{status}: {b}");
        let (s, b) = post(&admin, app.url(&format!("/api/admin/pitches/{pitch}/unhide")), json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (b["data"]["pitch"]["status"].as_str(), b["data"]["changed"].as_bool()),
            (Some(status), Some(false))
        );
    }
}

async fn my_pitches_filters_and_pages(app: &TestApp) {
    let c = app.creator().await;
    let (s, body) = get(&c, app.url("/api/creator/pitches")).await;
    assert_eq!(s, StatusCode::OK);
    let all = body["pitches"].as_array().unwrap().clone();
    assert_eq!(body["total"].as_i64().unwrap() as usize, all.len());
    assert!(all.len() >= 7, "the demo creator owns the curated pitches");
    assert!(all.iter().any(|p| p["status"] == "draft"));
    for p in &all {
        assert!(p["viewCount"].is_number() && p["requireNDA"].is_boolean() && p["createdAt"].is_string());
    }
    let (_, body) = get(&c, app.url("/api/creator/pitches?status=draft")).await;
    assert!(body["pitches"].as_array().unwrap().iter().all(|p| p["status"] == "draft"));
    let (_, body) = get(&c, app.url("/api/creator/pitches?limit=2&offset=1")).await;
    let page = body["pitches"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["id"], all[1]["id"]);
    assert_eq!(body["pagination"]["hasMore"], true);
    assert_eq!(get(&c, app.url("/api/creator/pitches?status=bogus")).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app.investor().await, app.url("/api/creator/pitches")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&app.client(), app.url("/api/creator/pitches")).await.0, StatusCode::UNAUTHORIZED);
}

/// The seeded NDA pitch "The Last Lighthouse" of the demo creator.
async fn lighthouse(app: &TestApp) -> i64 {
    let (_, body) = get(&app.client(), app.url("/api/search?q=last%20lighthouse")).await;
    let p = &body["data"]["pitches"][0];
    assert_eq!(p["title"], "The Last Lighthouse");
    p["id"].as_i64().unwrap()
}

fn assert_no_protected(v: &Value) {
    let text = v.to_string();
    for marker in [
        "budget_breakdown",
        "protectedContent",
        "contact_details",
        "private_attachments",
        "video_password",
        "screening-only",
        "rights@example.com",
    ] {
        assert!(!text.contains(marker), "{marker} leaked: {text}");
    }
}

async fn detail_access_follows_the_nda_rule(app: &TestApp) {
    let id = lighthouse(app).await;
    let anon = app.client();
    let (s, body) = get(&anon, app.url(&format!("/api/pitches/public/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    let d = &body["data"];
    assert_eq!(d["hasSignedNDA"], false);
    assert_eq!(d["requiresNDA"], true);
    assert_eq!(d["creator"]["name"], "Hidden (NDA Required)");
    assert!(d["userId"].is_null());
    assert!(!d.to_string().contains("alexcreator"));
    assert_no_protected(d);

    let investor = app.investor().await;
    let (_, body) = get(&investor, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(body["data"]["pitch"]["hasSignedNDA"], false);
    assert_eq!(body["data"]["pitch"]["isOwner"], false);
    assert_no_protected(&body);

    // An approved NDA unlocks it at once, on both detail endpoints.
    let sarah = user_id(app, "sarah.investor@demo.com").await;
    let alex = user_id(app, "alex.creator@demo.com").await;
    insert_nda(app, id, sarah, alex, "approved", false).await;
    let (_, body) = get(&investor, app.url(&format!("/api/pitches/public/{id}"))).await;
    let d = &body["data"];
    assert_eq!(d["hasSignedNDA"], true);
    assert_eq!(d["creator"]["name"], "Alex Creator");
    assert_eq!(d["protectedContent"]["contactDetails"]["email"], "rights@example.com");
    let (_, body) = get(&investor, app.url(&format!("/api/pitches/{id}"))).await;
    assert!(body["data"]["pitch"]["budget_breakdown"].is_object());
    assert_eq!(body["data"]["pitch"]["ndaStatus"], "approved");
    // ...but not for anyone else.
    let (_, body) = get(&app.production().await, app.url(&format!("/api/pitches/public/{id}"))).await;
    assert_no_protected(&body);
    // Revocation removes it at once.
    app.state
        .store
        .db()
        .exec(pitchey_store::Sql::new("test_revoke", "UPDATE ndas SET status = 'revoked' WHERE pitch_id = $1").arg(id))
        .await
        .unwrap();
    let (_, body) = get(&investor, app.url(&format!("/api/pitches/public/{id}"))).await;
    assert_eq!(body["data"]["hasSignedNDA"], false);
    assert_no_protected(&body);
    // An expired signed NDA grants nothing.
    insert_nda(app, id, sarah, alex, "signed", true).await;
    let (_, body) = get(&investor, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(body["data"]["pitch"]["ndaStatus"], "expired");
    assert_no_protected(&body);
    // The owner sees everything.
    let (_, body) = get(&app.creator().await, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(
        body["data"]["pitch"]["protectedContent"]["marketingStrategy"],
        "Festival buzz, a targeted social campaign and talent-led press."
    );
    assert_eq!(body["data"]["pitch"]["videoPassword"], "screening-only");
}

async fn generic_list_status_all_shows_only_own_drafts(app: &TestApp) {
    let stellar = app.production().await;
    let stellar_id = user_id(app, "stellar.production@demo.com").await;
    let (s, body) = get(&stellar, app.url(&format!("/api/pitches?status=all&userId={stellar_id}&limit=100"))).await;
    assert_eq!(s, StatusCode::OK);
    let items = body["data"].as_array().unwrap();
    assert!(items.iter().any(|p| p["status"] == "draft"), "own draft listed");
    assert!(items.iter().all(|p| p["userId"] == stellar_id));
    // Someone else asking for status=all never sees stellar's drafts; anonymous neither.
    for c in [app.investor().await, app.client()] {
        let (_, body) = get(&c, app.url(&format!("/api/pitches?status=all&userId={stellar_id}&limit=100"))).await;
        assert!(body["data"].as_array().unwrap().iter().all(|p| p["status"] == "published"), "{body}");
        let (_, body) = get(&c, app.url("/api/pitches?status=draft&limit=100")).await;
        assert!(body["data"].as_array().unwrap().iter().all(|p| p["userId"] != stellar_id));
    }
    let (_, body) = get(&app.client(), app.url("/api/pitches?limit=5")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
    assert!(body["meta"]["pagination"]["total"].as_i64().unwrap() > 5);
    assert_eq!(body["meta"]["pagination"]["hasMore"], true);
    assert_no_protected(&body);
}

async fn views_are_deduplicated(app: &TestApp) {
    let id = lighthouse(app).await;
    let before = app.state.store.pitch(id).await.unwrap().unwrap().view_count;
    let anon = app.client();
    let (s, body) =
        post(&anon, app.url("/api/views/track"), json!({"pitchId": id, "timestamp": "2026-01-01T00:00:00Z"})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["data"]["viewId"].is_number(), "{body}");
    let (_, body) = post(&anon, app.url("/api/views/track"), json!({"pitchId": id.to_string()})).await;
    assert_eq!(body["duplicate"], true);
    // Another anonymous session counts once.
    let r = anon
        .post(app.url("/api/analytics/track-view"))
        .header("x-session-id", "tab-2")
        .json(&json!({"pitchId": id}))
        .send()
        .await
        .unwrap();
    assert!(common::json_of(r).await.1["data"]["viewId"].is_number());
    // Signed-in: once per user, ever.
    let inv = app.investor().await;
    assert!(post(&inv, app.url("/api/views/track"), json!({"pitchId": id})).await.1["data"]["viewId"].is_number());
    assert_eq!(post(&inv, app.url("/api/views/track"), json!({"pitchId": id})).await.1["duplicate"], true);
    // The owner's own views are not counted.
    assert_eq!(
        post(&app.creator().await, app.url("/api/views/track"), json!({"pitchId": id})).await.1["duplicate"],
        true
    );
    assert_eq!(app.state.store.pitch(id).await.unwrap().unwrap().view_count, before + 3);
    // A session header is the client's own choice: one network (here 127.0.0.1) adds at most five anonymous
    // views a day to a pitch, however many sessions it names. Two are counted above.
    for tab in 3..=9 {
        let r = anon
            .post(app.url("/api/views/track"))
            .header("x-session-id", format!("tab-{tab}"))
            .json(&json!({"pitchId": id}))
            .send()
            .await
            .unwrap();
        let body = common::json_of(r).await.1;
        assert_eq!(body["success"], true);
        assert_eq!(body["data"]["viewId"].is_number(), tab <= 5, "tab {tab}: {body}");
    }
    assert_eq!(app.state.store.pitch(id).await.unwrap().unwrap().view_count, before + 6);
    let (s, body) = post(&anon, app.url("/api/views/track"), json!({"pitchId": "nope"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "BAD_REQUEST");
    assert_eq!(post(&anon, app.url("/api/views/track"), json!({"pitchId": 987654})).await.0, StatusCode::NOT_FOUND);
}

async fn likes_and_saves(app: &TestApp) {
    let id = lighthouse(app).await;
    let inv = app.investor().await;
    let (s, body) = post(&inv, app.url(&format!("/api/creator/pitches/{id}/like")), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["liked"], true);
    let count = body["data"]["likeCount"].as_i64().unwrap();
    // Liking twice changes nothing; the other path family works the same.
    let (_, body) = post(&inv, app.url(&format!("/api/pitches/{id}/like")), json!({})).await;
    assert_eq!(body["data"]["likeCount"], count);
    assert_eq!(get(&inv, app.url(&format!("/api/pitches/{id}/like-status"))).await.1["data"]["liked"], true);
    assert_eq!(get(&app.client(), app.url(&format!("/api/pitches/{id}/like-status"))).await.1["data"]["liked"], false);
    let (_, body) = get(&inv, app.url(&format!("/api/pitches/{id}"))).await;
    assert_eq!(body["data"]["pitch"]["isLiked"], true);
    let r = inv.delete(app.url(&format!("/api/pitches/{id}/like"))).send().await.unwrap();
    let (_, body) = common::json_of(r).await;
    assert_eq!(body["data"], json!({"liked": false, "likeCount": count - 1}));
    let r = inv.delete(app.url(&format!("/api/creator/pitches/{id}/like"))).send().await.unwrap();
    assert_eq!(common::json_of(r).await.1["data"]["likeCount"], count - 1);
    assert_eq!(
        post(&app.client(), app.url(&format!("/api/pitches/{id}/like")), json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(&inv, app.url("/api/pitches/424242/like"), json!({})).await.0, StatusCode::NOT_FOUND);
    // Save toggle.
    assert_eq!(post(&inv, app.url(&format!("/api/pitches/{id}/save")), json!({})).await.1["data"]["saved"], true);
    assert_eq!(get(&inv, app.url(&format!("/api/pitches/{id}"))).await.1["data"]["pitch"]["isSaved"], true);
    let r = inv.delete(app.url(&format!("/api/pitches/{id}/save"))).send().await.unwrap();
    assert_eq!(common::json_of(r).await.1["data"]["saved"], false);
    assert_eq!(get(&inv, app.url(&format!("/api/pitches/{id}"))).await.1["data"]["pitch"]["isSaved"], false);
}

async fn saved_pitches_api(app: &TestApp) {
    let id = lighthouse(app).await;
    let inv = app.investor().await;
    let (s, body) = post(&inv, app.url("/api/saved-pitches"), json!({"pitchId": id, "notes": "promising"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let saved_id = body["data"]["id"].as_i64().unwrap();
    assert_eq!(body["data"]["pitchId"], id);
    // snake_case form too (idempotent).
    let (_, body) = post(&inv, app.url("/api/saved-pitches"), json!({"pitch_id": id.to_string()})).await;
    assert_eq!(body["data"]["id"], saved_id);
    assert_eq!(post(&inv, app.url("/api/saved-pitches"), json!({})).await.0, StatusCode::BAD_REQUEST);
    let (_, body) = get(&inv, app.url("/api/saved-pitches")).await;
    assert_eq!(body["total"], 1);
    let row = &body["savedPitches"][0];
    assert_eq!((row["id"].as_i64(), row["pitchId"].as_i64()), (Some(saved_id), Some(id)));
    assert_eq!(row["notes"], "promising");
    assert_eq!(row["title"], "The Last Lighthouse");
    assert_eq!(body["data"], body["savedPitches"]);
    assert_no_protected(&body);
    let (_, body) = get(&inv, app.url(&format!("/api/saved-pitches/check/{id}"))).await;
    assert_eq!(body["data"]["isSaved"], true);
    assert_eq!(body["data"]["savedPitchId"], saved_id);
    assert_eq!(
        put(&inv, app.url(&format!("/api/saved-pitches/{saved_id}")), json!({"notes": "very"})).await.0,
        StatusCode::OK
    );
    assert_eq!(get(&inv, app.url("/api/saved-pitches")).await.1["data"][0]["notes"], "very");
    assert_eq!(get(&inv, app.url("/api/saved-pitches/stats")).await.1["data"]["total"], 1);
    // Delete by saved-row id; then by pitch id after saving again.
    assert_eq!(delete(&inv, app.url(&format!("/api/saved-pitches/{saved_id}"))).await.0, StatusCode::OK);
    assert_eq!(get(&inv, app.url(&format!("/api/saved-pitches/check/{id}"))).await.1["data"]["isSaved"], false);
    post(&inv, app.url("/api/saved-pitches"), json!({"pitchId": id})).await;
    assert_eq!(delete(&inv, app.url(&format!("/api/saved-pitches/{id}"))).await.0, StatusCode::OK);
    assert_eq!(delete(&inv, app.url(&format!("/api/saved-pitches/{id}"))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app.client(), app.url("/api/saved-pitches")).await.0, StatusCode::UNAUTHORIZED);
    // A stranger's draft cannot be saved.
    let (_, body) = get(&app.creator().await, app.url("/api/creator/pitches?status=draft")).await;
    let draft = body["pitches"][0]["id"].as_i64().unwrap();
    assert_eq!(post(&inv, app.url("/api/saved-pitches"), json!({"pitchId": draft})).await.0, StatusCode::NOT_FOUND);
}

async fn follows_api(app: &TestApp) {
    let alex = user_id(app, "alex.creator@demo.com").await;
    let inv = app.investor().await;
    let prod = app.production().await;
    let (s, body) =
        post(&inv, app.url("/api/follows/action"), json!({"userId": alex.to_string(), "action": "follow"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"]["isFollowing"], true);
    assert_eq!(body["data"]["followerCount"], 1);
    let (_, body) = post(
        &prod,
        app.url("/api/follows/action"),
        json!({"targetId": alex, "targetType": "user", "action": "follow"}),
    )
    .await;
    assert_eq!(body["data"]["followerCount"], 2);
    let (_, body) = post(&inv, app.url("/api/follows/action"), json!({"userId": alex, "action": "follow"})).await;
    assert_eq!(body["message"], "Already following");
    let creator = app.creator().await;
    let (_, body) = get(&creator, app.url(&format!("/api/follows/followers?creatorId={alex}"))).await;
    assert_eq!(body["data"]["count"], 2);
    let names: Vec<&str> =
        body["data"]["followers"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"sarahinvestor") && names.contains(&"stellarprod"));
    assert!(!body.to_string().contains("@demo.com"), "no emails in follower lists");
    let (_, body) = get(&inv, app.url("/api/follows/following")).await;
    assert_eq!(body["data"]["following"][0]["id"], alex);
    let (_, body) = get(&inv, app.url(&format!("/api/follows/stats?userId={alex}"))).await;
    assert_eq!(body["data"]["stats"]["followers"], 2);
    assert_eq!(body["data"]["stats"]["isFollowing"], true);
    // Followed creators' pitches.
    let (_, body) = get(&inv, app.url("/api/pitches/following")).await;
    let pitches = body["data"]["pitches"].as_array().unwrap();
    assert!(!pitches.is_empty());
    assert!(pitches.iter().all(|p| p["status"] == "published"));
    // Pitch follows, unfollow, self-follow, unknown user.
    let id = lighthouse(app).await;
    assert_eq!(
        post(&inv, app.url("/api/follows/action"), json!({"targetId": id, "targetType": "pitch", "action": "follow"}))
            .await
            .0,
        StatusCode::OK
    );
    let (_, body) = post(&inv, app.url("/api/follows/action"), json!({"userId": alex, "action": "unfollow"})).await;
    assert_eq!(body["data"]["isFollowing"], false);
    assert_eq!(body["data"]["followerCount"], 1);
    // Following again within a day does not tell alex again.
    post(&inv, app.url("/api/follows/action"), json!({"userId": alex, "action": "follow"})).await;
    post(&inv, app.url("/api/follows/action"), json!({"userId": alex, "action": "unfollow"})).await;
    let (_, body) = get(&creator, app.url("/api/notifications?limit=50")).await;
    let told = body["data"]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "new_follower" && n["message"].as_str().is_some_and(|m| m.starts_with("Sarah")));
    assert_eq!(told.count(), 1, "{body}");
    // Someone else's draft cannot be followed; it does not exist for them.
    let (_, body) = post(
        &creator,
        app.url("/api/pitches"),
        json!({"title": "Quiet Draft", "logline": "Not out yet.", "genre": "drama"}),
    )
    .await;
    let draft = body["data"]["pitch"]["id"].as_i64().unwrap();
    let (s, _) = post(
        &inv,
        app.url("/api/follows/action"),
        json!({"targetId": draft, "targetType": "pitch", "action": "follow"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = post(&creator, app.url("/api/follows/action"), json!({"userId": alex, "action": "follow"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(post(&inv, app.url("/api/follows/action"), json!({"userId": 999999})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        post(&inv, app.url("/api/follows/action"), json!({"userId": alex, "action": "poke"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&app.client(), app.url("/api/follows/action"), json!({"userId": alex})).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn concurrent_likes_and_views_keep_exact_counters(app: &TestApp) {
    let id = lighthouse(app).await;
    let start = app.state.store.pitch(id).await.unwrap().unwrap();
    let mut clients = Vec::new();
    for i in 0..50 {
        let uid = create_user(app, &format!("liker{i}@example.com"), UserType::Investor).await;
        clients.push(session_for(app, uid).await);
    }
    let url = app.url(&format!("/api/pitches/{id}/like"));
    let likes = clients.iter().map(|c| c.post(url.clone()).json(&json!({})).send());
    for r in futures::future::join_all(likes).await {
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }
    // 50 signed-in viewers and 20 anonymous sessions of one network at once, then all of them again.
    let anon = app.client();
    let view_url = app.url("/api/views/track");
    for _ in 0..2 {
        let signed_in = clients.iter().map(|c| c.post(view_url.clone()).json(&json!({"pitchId": id})).send());
        let anonymous = (0..20).map(|i| {
            anon.post(view_url.clone())
                .header("x-session-id", format!("concurrent-{i}"))
                .json(&json!({"pitchId": id}))
                .send()
        });
        let (a, b) =
            futures::future::join(futures::future::join_all(signed_in), futures::future::join_all(anonymous)).await;
        for r in a.into_iter().chain(b) {
            assert_eq!(r.unwrap().status(), StatusCode::OK);
        }
    }
    let end = app.state.store.pitch(id).await.unwrap().unwrap();
    assert_eq!(end.like_count, start.like_count + 50);
    // Each signed-in viewer once; the network's sessions up to its daily allowance, not one more.
    let allowance = pitchey_store::engagement::ANON_VIEWS_PER_NETWORK;
    assert_eq!(end.view_count, start.view_count + 50 + allowance);
    // Concurrent unlikes bring it back exactly.
    let unlikes = clients.iter().map(|c| c.delete(url.clone()).send());
    futures::future::join_all(unlikes).await;
    assert_eq!(app.state.store.pitch(id).await.unwrap().unwrap().like_count, start.like_count);
    // Saves likewise, and each saver removing the save twice at once counts it down once.
    let save = app.url(&format!("/api/pitches/{id}/save"));
    for r in futures::future::join_all(clients.iter().map(|c| c.post(save.clone()).json(&json!({})).send())).await {
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(app.state.store.pitch(id).await.unwrap().unwrap().save_count, start.save_count + 50);
    let unsaves = clients.iter().flat_map(|c| [c.delete(save.clone()).send(), c.delete(save.clone()).send()]);
    futures::future::join_all(unsaves).await;
    assert_eq!(app.state.store.pitch(id).await.unwrap().unwrap().save_count, start.save_count);
}
