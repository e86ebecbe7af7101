//! The NDA journey (contract §2.4, §3.4, §5.2): a brand-new investor signs up, signs in, browses, opens an
//! NDA-protected pitch of the demo creator and requests the NDA; the creator finds the request among the
//! incoming requests and approves it; the investor then sees `hasSignedNDA: true` and `protectedContent`.
//!
//! A new investor per iteration because one requester may hold only one open NDA per pitch.

use super::{CREATOR, DEMO_PASSWORD};
use crate::engine::Vu;
use crate::http::{self, Reply, success, success_with_array, success_with_number};
use crate::metrics::Failure;
use rand::seq::IndexedRandom;
use reqwest::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The new investors' password (8–128 characters).
const PASSWORD: &str = "load-test-Passw0rd";

/// One journey; the whole journey's time is noted (outside the percentiles) when every step succeeded.
pub async fn run(vu: &mut Vu) {
    let started = Instant::now();
    if steps(vu).await.is_some() {
        vu.note("journey (whole)", started.elapsed(), Ok(()));
    }
}

async fn steps(vu: &mut Vu) -> Option<()> {
    let investor = fresh_client(vu)?;
    let n = vu.next_seq();
    let email = format!("load-{}-{}-{n}@loadtest.example.com", vu.ctx.settings.run_id, vu.id);
    let req = investor.post(vu.url("/api/auth/sign-up")).json(&json!({
        "email": email, "password": PASSWORD, "userType": "investor", "companyName": "Load Test Capital",
    }));
    vu.send("POST /api/auth/sign-up", req, success).await?;
    let req = investor.post(vu.url("/api/auth/investor/login")).json(&json!({"email": email, "password": PASSWORD}));
    vu.send("POST /api/auth/investor/login", req, |r| super::reads::login_check(r, "investor")).await?;

    let req = investor.get(vu.url("/api/browse")).query(&[("tab", "trending"), ("limit", "20")]);
    vu.send("GET /api/browse", req, |r| success_with_array(r, "/items")).await?;

    let Some(&pitch) = vu.ctx.catalog.nda_pitch_ids.choose(&mut vu.rng) else {
        vu.note("pick an NDA pitch", Duration::ZERO, Err(Failure::new("no NDA pitch known", "catalog empty")));
        return None;
    };
    let detail = format!("/api/pitches/public/{pitch}");
    let req = investor.get(vu.url(&detail));
    vu.send("GET /api/pitches/public/:id (before NDA)", req, |r| access(r, false)).await?;

    let req = investor.post(vu.url("/api/ndas/request")).json(&json!({ "pitchId": pitch }));
    let reply = vu
        .send("POST /api/ndas/request", req, |r| {
            success_with_number(r, "/data/id")?;
            if r.at("/data/status").as_str() == Some("pending") {
                Ok(())
            } else {
                Err("data.status is not pending".into())
            }
        })
        .await?;
    let nda = reply.at("/data/id").as_i64()?;

    let creator = creator_client(vu).await?;
    let req = creator.get(vu.url("/api/ndas/incoming-requests"));
    vu.send("GET /api/ndas/incoming-requests", req, |r| {
        success_with_array(r, "/data/ndaRequests")?;
        let listed = r
            .at("/data/ndaRequests")
            .as_array()
            .is_some_and(|list| list.iter().any(|x| x.get("id").and_then(Value::as_i64) == Some(nda)));
        if listed { Ok(()) } else { Err("the new request is not among the incoming requests".into()) }
    })
    .await?;
    let req = creator.post(vu.url(&format!("/api/ndas/{nda}/approve"))).json(&json!({}));
    vu.send("POST /api/ndas/:id/approve", req, |r| {
        success(r)?;
        if r.at("/data/nda").is_object() { Ok(()) } else { Err("data.nda is not an object".into()) }
    })
    .await?;

    let req = investor.get(vu.url(&detail));
    vu.send("GET /api/pitches/public/:id (after NDA)", req, |r| access(r, true)).await?;
    Some(())
}

/// A pitch page seen with (`true`) or without NDA access: `hasSignedNDA` and the presence of
/// `protectedContent` must agree.
fn access(r: &Reply, granted: bool) -> Result<(), String> {
    success_with_number(r, "/data/id")?;
    if r.at("/data/hasSignedNDA").as_bool() != Some(granted) {
        return Err(format!("data.hasSignedNDA is not {granted}"));
    }
    match (granted, r.at("/data/protectedContent").is_object()) {
        (true, false) => Err("no protectedContent after approval".into()),
        (false, true) => Err("protectedContent shown without an NDA".into()),
        _ => Ok(()),
    }
}

/// A cookie-keeping client for a new investor (a new browser).
fn fresh_client(vu: &Vu) -> Option<Client> {
    match http::client(vu.ctx.settings.timeout, true) {
        Ok(c) => Some(c),
        Err(e) => {
            vu.note("new client", Duration::ZERO, Err(Failure::new("client", e.to_string())));
            None
        }
    }
}

/// The demo creator's signed-in client for this virtual user (signed in on first use).
async fn creator_client(vu: &mut Vu) -> Option<Client> {
    if let Some(c) = &vu.creator {
        return Some(c.clone());
    }
    let client = fresh_client(vu)?;
    let req = client
        .post(vu.url(&format!("/api/auth/{}/login", CREATOR.portal)))
        .json(&json!({"email": CREATOR.email, "password": DEMO_PASSWORD}));
    vu.send("POST /api/auth/creator/login", req, |r| super::reads::login_check(r, CREATOR.portal)).await?;
    vu.creator = Some(client.clone());
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: Value) -> Reply {
        Reply { status: 200, body, session_cookie: false }
    }

    #[test]
    fn access_checks_agree_with_the_contract() {
        let locked = reply(json!({"success": true, "data": {"id": 3, "hasSignedNDA": false, "requiresNDA": true}}));
        assert!(access(&locked, false).is_ok());
        assert!(access(&locked, true).is_err());
        let open = reply(json!({"success": true, "data": {"id": 3, "hasSignedNDA": true, "protectedContent": {}}}));
        assert!(access(&open, true).is_ok());
        assert_eq!(access(&open, false), Err("data.hasSignedNDA is not false".into()));
        let leak = reply(json!({"success": true, "data": {"id": 3, "hasSignedNDA": false, "protectedContent": {}}}));
        assert_eq!(access(&leak, false), Err("protectedContent shown without an NDA".into()));
        let empty = reply(json!({"success": true, "data": {"id": 3, "hasSignedNDA": true}}));
        assert_eq!(access(&empty, true), Err("no protectedContent after approval".into()));
    }
}
