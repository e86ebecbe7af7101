//! Property: for random pitches, viewers and NDA states, no response of any endpoint contains a pitch's
//! protected fields (or its hidden creator) unless the access rule allows it — and the detail endpoints
//! do show them when it does. Runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{Kind, TestApp, create_user, insert_nda, session_for, user_id};
use pitchey_core::{NdaStatus, PitchAccess, PitchFields, PitchStatus, UserType, Viewer, Visibility};
use pitchey_store::PitchMeta;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Client;
use serde_json::json;

#[derive(Debug, Clone)]
struct PitchCase {
    owner: usize,
    require_nda: bool,
    status: PitchStatus,
    /// NDA of each requester (sarah, marcus, stellar): status and whether it is past its expiry.
    ndas: [Option<(NdaStatus, bool)>; 3],
}

fn pitch_case() -> impl Strategy<Value = PitchCase> {
    let status = prop::sample::select(vec![
        PitchStatus::Published,
        PitchStatus::Published,
        PitchStatus::Draft,
        PitchStatus::Archived,
        PitchStatus::UnderReview,
    ]);
    let nda = prop::option::of((prop::sample::select(NdaStatus::ALL.to_vec()), any::<bool>()));
    (0usize..3, any::<bool>(), status, [nda.clone(), nda.clone(), nda])
        .prop_map(|(owner, require_nda, status, ndas)| PitchCase { owner, require_nda, status, ndas })
}

struct World {
    /// Owners: alex (creator), stellar (production), a fresh creator.
    owners: [i64; 3],
    owner_names: [String; 3],
    /// Requesters: sarah (investor), marcus (investor), stellar (production).
    requesters: [i64; 3],
    /// Every viewer: `None` is anonymous.
    viewers: Vec<(Option<Viewer>, Client)>,
}

async fn world(app: &TestApp) -> World {
    let alex = user_id(app, "alex.creator@demo.com").await;
    let stellar = user_id(app, "stellar.production@demo.com").await;
    let sarah = user_id(app, "sarah.investor@demo.com").await;
    let marcus = user_id(app, "marcus.bell@demo.com").await;
    let fresh = create_user(app, "fresh.creator@example.com", UserType::Creator).await;
    let fresh_name = app.state.store.user_by_id(fresh).await.unwrap().unwrap().username;
    let mut viewers = vec![(None, app.client())];
    for (id, t) in [
        (alex, UserType::Creator),
        (stellar, UserType::Production),
        (sarah, UserType::Investor),
        (marcus, UserType::Investor),
        (fresh, UserType::Creator),
    ] {
        viewers.push((Some(Viewer { user_id: id, user_type: t }), session_for(app, id).await));
    }
    World {
        owners: [alex, stellar, fresh],
        owner_names: ["alexcreator".into(), "stellarprod".into(), fresh_name],
        requesters: [sarah, marcus, stellar],
        viewers,
    }
}

fn secret(tag: &str) -> String {
    format!("SECRET{tag}")
}

async fn create(app: &TestApp, w: &World, case: &PitchCase, word: &str, tag: &str) -> i64 {
    let s = secret(tag);
    let fields = PitchFields {
        title: Some(format!("{word} Story {tag}")),
        logline: Some(format!("A {word} tale told for property testing.")),
        genre: Some("drama".into()),
        require_nda: Some(case.require_nda),
        budget_breakdown: Some(json!({"note": s})),
        attached_talent: Some(json!([{"name": s}])),
        financial_projections: Some(json!({"note": s})),
        distribution_plan: Some(s.clone()),
        marketing_strategy: Some(s.clone()),
        revenue_model: Some(s.clone()),
        private_attachments: Some(json!([{"url": format!("r2://{s}")}])),
        contact_details: Some(json!({"email": format!("{s}@example.com")})),
        pitch_deck_url: Some(format!("/deck/{s}.pdf")),
        script_url: Some(format!("/script/{s}.pdf")),
        video_password: Some(s.clone()),
        ..Default::default()
    };
    let published = case.status == PitchStatus::Published;
    let now = pitchey_store::now();
    let meta = PitchMeta {
        user_id: w.owners[case.owner],
        status: case.status,
        visibility: if published { Visibility::Public } else { Visibility::Private },
        published_at: published.then_some(now),
        view_count: 0,
        created_at: now,
    };
    let id = app.state.store.insert_pitch(&meta, &fields).await.unwrap();
    for (r, nda) in case.ndas.iter().enumerate() {
        let requester = w.requesters[r];
        if let Some((status, expired)) = nda
            && requester != w.owners[case.owner]
        {
            insert_nda(app, id, requester, w.owners[case.owner], status.as_str(), *expired).await;
        }
    }
    id
}

fn access(w: &World, case: &PitchCase, viewer: Option<Viewer>) -> PitchAccess {
    let owner = w.owners[case.owner];
    let nda = viewer.and_then(|v| {
        let r = w.requesters.iter().position(|&x| x == v.user_id)?;
        if v.user_id == owner {
            return None;
        }
        case.ndas[r].map(|(s, expired)| s.effective(expired))
    });
    PitchAccess::decide(viewer, owner, case.status, nda)
}

async fn text(c: &Client, url: String) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn check_case(app: &TestApp, w: &World, n: usize, cases: &[PitchCase]) -> Result<(), TestCaseError> {
    let word = format!("Quokka{n}x");
    let mut ids = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        ids.push(create(app, w, c, &word, &format!("{n}t{i}")).await);
    }
    // Written behind the API's back: tell the cache, as an API write would.
    app.state.cache.invalidate_all().await;
    for (viewer, client) in &w.viewers {
        // Lists: a marker may appear only where access allows it.
        let mut lists = vec![
            format!("/api/browse?tab=popular&q={word}&limit=100"),
            format!("/api/search?q={word}&limit=100"),
            format!("/api/pitches?status=all&search={word}&limit=100"),
            format!("/api/pitches/public?search={word}&limit=100"),
            "/api/pitches/public/new?limit=50".to_owned(),
        ];
        if viewer.is_some() {
            lists.extend([
                "/api/saved-pitches".to_owned(),
                "/api/pitches/following".to_owned(),
                "/api/creator/pitches?limit=100".to_owned(),
            ]);
        }
        for path in lists {
            let (status, body) = text(client, app.url(&path)).await;
            // The creator portal's own list is closed to investors; everything else answers everyone.
            let portal_closed =
                path.starts_with("/api/creator/") && viewer.is_some_and(|v| v.user_type == UserType::Investor);
            prop_assert_eq!(status, if portal_closed { 403 } else { 200 }, "{} for {:?}: {}", path, viewer, body);
            // And the lists are not empty for want of trying: search finds every published pitch, for anyone.
            if path.starts_with("/api/search?") {
                for (i, c) in cases.iter().enumerate().filter(|(_, c)| c.status == PitchStatus::Published) {
                    let title = format!("Story {n}t{i}\"");
                    prop_assert!(
                        body.contains(&title),
                        "{} missed published pitch {} {:?} for {:?}",
                        path,
                        i,
                        c,
                        viewer
                    );
                }
            }
            for (i, c) in cases.iter().enumerate() {
                if body.contains(&secret(&format!("{n}t{i}"))) {
                    prop_assert!(access(w, c, *viewer).protected(), "{path} leaked pitch {i} {c:?} to {viewer:?}");
                }
            }
        }
        // Lists chosen by creator: a pitch that hides its creator from this viewer must not be among them.
        for owner in w.owners {
            for path in [
                format!("/api/browse?tab=popular&q={word}&creatorId={owner}&limit=100"),
                format!("/api/search?q={word}&userId={owner}&limit=100"),
                format!("/api/pitches?status=all&search={word}&userId={owner}&limit=100"),
                format!("/api/pitches/public?search={word}&user_id={owner}&limit=100"),
            ] {
                let (status, body) = text(client, app.url(&path)).await;
                prop_assert_eq!(status, 200, "{} for {:?}: {}", path, viewer, body);
                check_attribution(w, cases, n, *viewer, &path, &body)?;
            }
        }
        // Details: exactly when access allows, and the creator only when shown.
        for (i, c) in cases.iter().enumerate() {
            let a = access(w, c, *viewer);
            for path in [format!("/api/pitches/public/{}", ids[i]), format!("/api/pitches/{}", ids[i])] {
                let (status, body) = text(client, app.url(&path)).await;
                if !a.visible() {
                    prop_assert_eq!(status, 404, "{} visible to {:?}", path, viewer);
                    continue;
                }
                prop_assert_eq!(status, 200);
                prop_assert_eq!(
                    body.contains(&secret(&format!("{n}t{i}"))),
                    a.protected(),
                    "{} for {:?}: {:?}",
                    path,
                    viewer,
                    c
                );
                if !a.shows_creator(c.require_nda) {
                    prop_assert!(
                        !body.contains(&w.owner_names[c.owner]),
                        "{} revealed the creator to {:?}",
                        path,
                        viewer
                    );
                }
            }
        }
    }
    Ok(())
}

fn run(kind: Kind) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Some(app) = rt.block_on(TestApp::spawn(kind)) else { return };
    let w = rt.block_on(world(&app));
    // Viewers save and follow everything they can, so those lists are exercised too.
    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&prop::collection::vec(pitch_case(), 1..4), |cases| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(async {
            check_case(&app, &w, n, &cases).await?;
            for (viewer, client) in w.viewers.iter().skip(1) {
                for owner in w.owners {
                    let r = client
                        .post(app.url("/api/follows/action"))
                        .json(&json!({"userId": owner, "action": "follow"}))
                        .send()
                        .await
                        .unwrap();
                    let me = viewer.is_some_and(|v| v.user_id == owner);
                    prop_assert_eq!(r.status().as_u16(), if me { 400 } else { 200 }, "{:?} follows {}", viewer, owner);
                }
                let (_, body) = text(client, app.url(&format!("/api/search?q=Quokka{n}x&limit=100"))).await;
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                for p in v["data"]["pitches"].as_array().into_iter().flatten() {
                    let r = client.post(app.url("/api/saved-pitches")).json(&json!({"pitchId": p["id"]})).send().await;
                    prop_assert!(r.unwrap().status().is_success(), "{:?} saves pitch {}", viewer, p["id"]);
                }
            }
            // Check again now that saved and following lists hold these pitches.
            check_case_lists_only(&app, &w, n, &cases).await
        })
    });
    rt.block_on(app.stop());
    result.unwrap();
}

/// A list of one creator's pitches (or of followed creators') names the creator of every pitch in it: a
/// pitch may appear there only if this viewer may see who created it.
fn check_attribution(
    w: &World,
    cases: &[PitchCase],
    n: usize,
    viewer: Option<Viewer>,
    path: &str,
    body: &str,
) -> Result<(), TestCaseError> {
    for (i, c) in cases.iter().enumerate() {
        if body.contains(&format!("Story {n}t{i}\"")) {
            let a = access(w, c, viewer);
            prop_assert!(a.shows_creator(c.require_nda), "{path} tied pitch {i} {c:?} to its creator for {viewer:?}");
        }
    }
    Ok(())
}

async fn check_case_lists_only(app: &TestApp, w: &World, n: usize, cases: &[PitchCase]) -> Result<(), TestCaseError> {
    for (viewer, client) in w.viewers.iter().skip(1) {
        for path in ["/api/saved-pitches", "/api/pitches/following?limit=100"] {
            let (status, body) = text(client, app.url(path)).await;
            prop_assert_eq!(status, 200, "{} for {:?}: {}", path, viewer, body);
            for (i, c) in cases.iter().enumerate() {
                if body.contains(&secret(&format!("{n}t{i}"))) {
                    prop_assert!(access(w, c, *viewer).protected(), "{path} leaked pitch {i} to {viewer:?}");
                }
            }
            if path.contains("following") {
                check_attribution(w, cases, n, *viewer, path, &body)?;
            }
        }
    }
    Ok(())
}

#[test]
fn protected_fields_never_leak_sqlite() {
    run(Kind::Sqlite);
}

#[test]
fn protected_fields_never_leak_postgres() {
    run(Kind::Postgres);
}
