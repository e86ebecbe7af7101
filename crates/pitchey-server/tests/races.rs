//! Writes that race on the same rows, on SQLite and PostgreSQL: whatever the interleaving, each answer is a
//! clear success or 404, never a 5xx, and the rows and counters agree afterwards. On PostgreSQL these orders
//! deadlocked before the store took its row locks in one order (a deadlock is a rolled-back 500 or 503).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{TestApp, create_user, published_pitch, session_for};
use futures::future::join_all;
use pitchey_core::UserType;
use pitchey_store::Sql;
use reqwest::StatusCode;
use serde_json::json;

both_backends!(likes_and_saves_racing_a_delete, deletes_refunding_the_same_requesters);

async fn count(app: &TestApp, name: &'static str, sql: &'static str, id: i64) -> i64 {
    app.state.store.db().one::<(i64,)>(Sql::new(name, sql).arg(id)).await.unwrap().0
}

/// Likes, saves, unlikes and unsaves of a pitch while its owner deletes it.
async fn likes_and_saves_racing_a_delete(app: &TestApp) {
    let owner = session_for(app, create_user(app, "race.owner@example.com", UserType::Creator).await).await;
    let mut fans = Vec::new();
    for i in 0..12 {
        fans.push(
            session_for(app, create_user(app, &format!("race.fan{i}@example.com"), UserType::Investor).await).await,
        );
    }
    for round in 0..6 {
        let id = published_pitch(app, &owner, &format!("Race Round {round}")).await;
        // Half the fans already like and saved it, so the race also has removals.
        for fan in &fans[..6] {
            fan.post(app.url(&format!("/api/pitches/{id}/like"))).json(&json!({})).send().await.unwrap();
            fan.post(app.url("/api/saved-pitches")).json(&json!({"pitchId": id})).send().await.unwrap();
        }
        let changes = fans.iter().enumerate().flat_map(|(i, fan)| {
            let (like, save) = if i < 6 {
                (
                    fan.delete(app.url(&format!("/api/pitches/{id}/like"))),
                    fan.delete(app.url(&format!("/api/saved-pitches/{id}"))),
                )
            } else {
                (
                    fan.post(app.url(&format!("/api/pitches/{id}/like"))).json(&json!({})),
                    fan.post(app.url("/api/saved-pitches")).json(&json!({"pitchId": id})),
                )
            };
            [like.send(), save.send()]
        });
        let delete = owner.delete(app.url(&format!("/api/pitches/{id}"))).send();
        let (answers, deleted) = futures::future::join(join_all(changes), delete).await;
        assert_eq!(deleted.unwrap().status(), StatusCode::OK, "round {round}: the delete");
        for r in answers {
            let r = r.unwrap();
            let status = r.status();
            assert!(
                status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                "round {round}: {status} {}",
                r.text().await.unwrap()
            );
        }
        assert_eq!(count(app, "race_pitch", "SELECT COUNT(*) FROM pitches WHERE id = $1", id).await, 0);
        assert_eq!(count(app, "race_likes", "SELECT COUNT(*) FROM likes WHERE pitch_id = $1", id).await, 0);
        assert_eq!(count(app, "race_saves", "SELECT COUNT(*) FROM saved_pitches WHERE pitch_id = $1", id).await, 0);
    }
}

/// Several pitches deleted at once, each with pending paid NDA requests from the same requesters, requested
/// in a different order per pitch: each delete refunds every requester.
async fn deletes_refunding_the_same_requesters(app: &TestApp) {
    let mut requesters = Vec::new();
    for i in 0..5 {
        requesters.push(create_user(app, &format!("race.requester{i}@example.com"), UserType::Investor).await);
    }
    let balance = |user: i64| {
        count(app, "race_balance", "SELECT COALESCE(MAX(balance), 0) FROM user_credits WHERE user_id = $1", user)
    };
    let mut before = Vec::new();
    for &r in &requesters {
        before.push(balance(r).await);
    }
    let mut deletes = Vec::new();
    for p in 0..8 {
        let owner_id = create_user(app, &format!("race.creator{p}@example.com"), UserType::Creator).await;
        let owner = session_for(app, owner_id).await;
        let id = published_pitch(app, &owner, &format!("Refund Race {p}")).await;
        // Requested in a different order per pitch: rotated, and reversed for every other pitch.
        let mut order: Vec<i64> = requesters.iter().copied().cycle().skip(p).take(requesters.len()).collect();
        if p % 2 == 1 {
            order.reverse();
        }
        for requester in order {
            let now = pitchey_store::now();
            let insert = Sql::new(
                "race_insert_nda",
                "INSERT INTO ndas (pitch_id, requester_id, owner_id, status, credits_used, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'pending', 10, $4, $4)",
            )
            .arg(id)
            .arg(requester)
            .arg(owner_id)
            .arg(now);
            app.state.store.db().exec(insert).await.unwrap();
        }
        deletes.push((owner, id));
    }
    let answers =
        join_all(deletes.iter().map(|(owner, id)| owner.delete(app.url(&format!("/api/pitches/{id}"))).send())).await;
    for r in answers {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
    for (i, &r) in requesters.iter().enumerate() {
        assert_eq!(balance(r).await, before[i] + 8 * 10, "requester {i} refunded once per pitch");
    }
}

/// Two transactions that lock two rows in opposite orders: PostgreSQL rolls one back, and that is a
/// `Contention` error, answered 503 with `Retry-After` (nothing was applied, so sending it again is safe),
/// not a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_is_a_retryable_503() {
    use axum::response::IntoResponse;
    use pitchey_store::StoreError;
    let Some(app) = TestApp::spawn(common::Kind::Postgres).await else { return };
    let lock = |id: i64| Sql::new("race_lock", "UPDATE pitches SET view_count = view_count WHERE id = $1").arg(id);
    let db = app.state.store.db();
    let (mut first, mut second) = (db.begin().await.unwrap(), db.begin().await.unwrap());
    first.exec(lock(1)).await.unwrap();
    second.exec(lock(2)).await.unwrap();
    let (a, b) = futures::future::join(
        async move {
            let r = first.exec(lock(2)).await;
            if r.is_ok() {
                first.commit().await.unwrap();
            }
            r
        },
        async move {
            let r = second.exec(lock(1)).await;
            if r.is_ok() {
                second.commit().await.unwrap();
            }
            r
        },
    )
    .await;
    let lost = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("exactly one side should lose: {other:?}"),
    };
    assert!(matches!(lost, StoreError::Contention(_)), "{lost:?}");
    assert!(!lost.is_outage(), "a lost lock race says nothing about the database's health");
    let res = pitchey_server::error::ApiError::from(lost).into_response();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    app.stop().await;
}
