//! Public reads (health, browse, home lists, pitch pages, search), portal logins, and the mixes of them
//! that the cache and spike scenarios run.

use super::{ACCOUNTS, Account, DEMO_PASSWORD};
use crate::body_check::Want;
use crate::engine::Vu;
use crate::http::{Reply, success};
use rand::RngExt;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

/// Search terms: words of the demo and generated catalogues, phrases, and a few that match nothing.
pub const TERMS: &[&str] = &[
    "midnight",
    "harbor",
    "detective",
    "golden",
    "lighthouse",
    "circus",
    "kingdom",
    "hacker",
    "astronaut",
    "silent witness",
    "iron coast",
    "broken signal",
    "family",
    "thriller",
    "comedy",
    "drama",
    "magician",
    "border",
    "heir",
    "empire",
    "velvet vault",
    "chef",
    "frontier",
    "summer",
    "zzqxj",
    "a",
    "crimson ember",
    "war reporter",
    "mayor",
    "poker",
];

/// How many terms the cache scenario keeps hot.
const HOT_TERMS: usize = 8;
/// How many of the most popular pitches the cache scenario reads.
const HOT_PITCHES: usize = 20;

/// `GET` the health endpoint: the contract's `{"success":true,...}` or a probe's `{"status":"ok"}`.
pub async fn health(vu: &mut Vu) {
    let req = vu.get(&vu.ctx.settings.health_path);
    vu.send("GET health", req, |r| match r.body.get("success") {
        Some(Value::Bool(true)) => Ok(()),
        Some(_) => Err("success is not true".into()),
        None if r.body.get("status").and_then(Value::as_str) == Some("ok") => Ok(()),
        None => Err("neither success nor status ok".into()),
    })
    .await;
}

/// A marketplace page: `items` and `total` at the top level.
const BROWSE_SHAPE: &[(&str, Want)] = &[("/success", Want::True), ("/items", Want::Array), ("/total", Want::Number)];
/// A home-page list.
pub(crate) const HOME_LIST_SHAPE: &[(&str, Want)] = &[("/success", Want::True), ("/data/pitches", Want::Array)];
/// A public pitch page.
const DETAIL_SHAPE: &[(&str, Want)] = &[("/success", Want::True), ("/data/id", Want::Number)];
/// Search results.
const SEARCH_SHAPE: &[(&str, Want)] =
    &[("/success", Want::True), ("/data/pitches", Want::Array), ("/total", Want::Number)];

/// A marketplace page: random tab, sometimes filters and a sort, pages weighted toward the first.
pub async fn browse(vu: &mut Vu) {
    let cat = vu.ctx.catalog.clone();
    let rng = &mut vu.rng;
    let mut q: Vec<(&str, String)> = vec![("tab", pick(rng, &["trending", "new", "popular"]).to_owned())];
    let mut maybe = |key: &'static str, p: f64, values: &[String], rng: &mut rand::rngs::SmallRng| {
        if rng.random_bool(p)
            && let Some(v) = values.choose(rng)
        {
            q.push((key, v.clone()));
        }
    };
    maybe("genre", 0.3, &cat.genres, rng);
    maybe("format", 0.2, &cat.formats, rng);
    maybe("productionStage", 0.1, &cat.stages, rng);
    maybe("budgetRange", 0.15, &cat.budget_ranges, rng);
    if rng.random_bool(0.3) {
        q.push(("sort", pick(rng, &["date", "views", "likes", "title", "budget"]).to_owned()));
        q.push(("order", pick(rng, &["asc", "desc"]).to_owned()));
    }
    let page = if rng.random_bool(0.5) { 1 } else { rng.random_range(2..=5) };
    q.push(("page", page.to_string()));
    q.push(("limit", pick(rng, &["12", "20", "24"]).to_owned()));
    let req = vu.get("/api/browse").query(&q);
    vu.send_shaped("GET /api/browse", true, req, BROWSE_SHAPE).await;
}

/// A home-page list (trending, new or featured).
pub async fn home_list(vu: &mut Vu) {
    let list = pick(&mut vu.rng, &["trending", "new", "featured"]);
    let req = vu.get(&format!("/api/pitches/public/{list}")).query(&[("limit", "12")]);
    vu.send_shaped("GET /api/pitches/public/{list}", true, req, HOME_LIST_SHAPE).await;
}

/// A public pitch page, among the first `among` popular pitches.
pub async fn detail(vu: &mut Vu, among: usize) {
    let ids = &vu.ctx.catalog.pitch_ids;
    let Some(&id) = ids[..ids.len().min(among.max(1))].choose(&mut vu.rng) else { return };
    let req = vu.get(&format!("/api/pitches/public/{id}"));
    vu.send_shaped("GET /api/pitches/public/:id", true, req, DETAIL_SHAPE).await;
}

/// A search for term number `n` (cycling through the first `among` terms); one in five asks for page two.
pub async fn search(vu: &mut Vu, n: usize, among: usize) {
    let term = TERMS[n % among.clamp(1, TERMS.len())];
    let mut q = vec![("q", term.to_owned())];
    if vu.rng.random_ratio(1, 5) {
        q.push(("page", "2".into()));
    }
    let req = vu.get("/api/search").query(&q);
    vu.send_shaped("GET /api/search", true, req, SEARCH_SHAPE).await;
}

/// A portal login; the session cookie must be set and the account must be on that portal.
pub async fn login(vu: &mut Vu, account: Account) {
    let label = match account.portal {
        "creator" => "POST /api/auth/creator/login",
        "investor" => "POST /api/auth/investor/login",
        _ => "POST /api/auth/production/login",
    };
    let req = vu
        .client
        .post(vu.url(&format!("/api/auth/{}/login", account.portal)))
        .json(&json!({"email": account.email, "password": DEMO_PASSWORD}));
    vu.send(label, req, |r| login_check(r, account.portal)).await;
}

/// A login reply: success, the account's user type, and a session cookie.
pub fn login_check(r: &Reply, portal: &str) -> Result<(), String> {
    success(r)?;
    if r.at("/user/userType").as_str() != Some(portal) {
        return Err("user.userType is not the portal's".into());
    }
    if !r.session_cookie {
        return Err("no pitchey-session cookie".into());
    }
    Ok(())
}

/// What a cache should absorb: a few hot keys of each kind of public read.
pub async fn cache_mix(vu: &mut Vu) {
    match vu.rng.random_range(0..100) {
        0..15 => health(vu).await,
        15..50 => {
            let tab = pick(&mut vu.rng, &["trending", "new", "popular"]);
            let req = vu.get("/api/browse").query(&[("tab", tab), ("page", "1"), ("limit", "20")]);
            vu.send_shaped("GET /api/browse", true, req, BROWSE_SHAPE).await;
        }
        50..80 => detail(vu, HOT_PITCHES).await,
        _ => {
            let n = vu.rng.random_range(0..HOT_TERMS);
            search(vu, n, HOT_TERMS).await;
        }
    }
}

/// The store's reads one by one, each under its own label: a marketplace tab (page 1–5 of 20), a pitch page
/// among every discovered pitch, or a search for any term.
pub async fn lists_mix(vu: &mut Vu) {
    let (label, tab) = match vu.rng.random_range(0..5) {
        0 => ("GET /api/browse?tab=trending", "trending"),
        1 => ("GET /api/browse?tab=new", "new"),
        2 => ("GET /api/browse?tab=popular", "popular"),
        3 => return detail(vu, usize::MAX).await,
        _ => {
            let n = vu.rng.random_range(0..TERMS.len());
            return search(vu, n, TERMS.len()).await;
        }
    };
    let page = vu.rng.random_range(1..=5).to_string();
    let req = vu.get("/api/browse").query(&[("tab", tab), ("page", page.as_str()), ("limit", "20")]);
    vu.send_shaped(label, true, req, BROWSE_SHAPE).await;
}

/// Everything at once, weighted like real traffic (reads dominate, a few logins).
pub async fn spike_mix(vu: &mut Vu) {
    match vu.rng.random_range(0..100) {
        0..15 => health(vu).await,
        15..45 => browse(vu).await,
        45..55 => home_list(vu).await,
        55..80 => detail(vu, usize::MAX).await,
        80..97 => {
            let n = vu.rng.random_range(0..TERMS.len());
            search(vu, n, TERMS.len()).await;
        }
        _ => {
            let account = pick(&mut vu.rng, &ACCOUNTS);
            login(vu, account).await;
        }
    }
}

fn pick<T: Copy>(rng: &mut rand::rngs::SmallRng, items: &[T]) -> T {
    // Every caller passes a non-empty literal list.
    items[rng.random_range(0..items.len())]
}

/// The hot scenario's time line, in units of [`HOT_UNIT_SECS`] at scale 1: one unit of warm-up, then
/// [`HOT_PHASE_UNITS`] per endpoint of [`HOT_ENDPOINTS`] and as many for the dashboards.
pub const HOT_UNITS: u32 = 1 + HOT_PHASE_UNITS * (HOT_ENDPOINTS.len() as u32 + 1);
/// Seconds per unit at scale 1.
pub const HOT_UNIT_SECS: f64 = 5.0;
const HOT_PHASE_UNITS: u32 = 4;

/// The anonymous hot endpoints, in the order they are measured, each under its own label.
const HOT_ENDPOINTS: [(&str, &str); 4] = [
    ("GET /api/health/live (static JSON)", "/api/health/live"),
    ("GET /api/health", "/api/health"),
    ("GET /api/pitches/public/trending", "/api/pitches/public/trending?limit=12"),
    ("GET /api/browse?tab=trending", "/api/browse?tab=trending&limit=20"),
];

/// The signed-in user's portal dashboard request, under the label the hot scenario reports it by.
fn dashboard_request(vu: &Vu) -> Option<(&'static str, reqwest::RequestBuilder)> {
    let (client, portal) = vu.signed_in.as_ref()?;
    let (label, path) = match *portal {
        "creator" => ("GET /api/creator/dashboard (signed in)", "/api/creator/dashboard"),
        "investor" => ("GET /api/investor/dashboard (signed in)", "/api/investor/dashboard"),
        _ => ("GET /api/production/dashboard (signed in)", "/api/production/dashboard"),
    };
    Some((label, encoded(vu, client.get(vu.url(path)))))
}

/// `req` with the run's `Accept-Encoding` (`--accept-encoding`), if any.
fn encoded(vu: &Vu, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match vu.ctx.settings.accept_encoding {
        Some(e) => req.header(reqwest::header::ACCEPT_ENCODING, e.as_str()),
        None => req,
    }
}

/// One request of the hot scenario: which endpoint depends on the time since the scenario started (the
/// phases split the shape's whole duration, so `--scale` stretches them alike). In the warm-up each user
/// signs in and touches every endpoint once, outside the percentiles, so the measured phases start with
/// warm caches and no logins.
pub async fn hot(vu: &mut Vu) {
    let unit = vu.ctx.secs / f64::from(HOT_UNITS);
    let at = (vu.ctx.recorder.start().elapsed().as_secs_f64() / unit) as u32;
    let phase = (at.max(1) - 1) / HOT_PHASE_UNITS;
    let dashboards = phase as usize >= HOT_ENDPOINTS.len();
    if vu.signed_in.is_none() && (at == 0 || dashboards) {
        let account = ACCOUNTS[(vu.id % 3) as usize];
        let Ok(client) = crate::http::client(vu.ctx.settings.timeout, true) else { return };
        let req = client
            .post(vu.url(&format!("/api/auth/{}/login", account.portal)))
            .json(&json!({"email": account.email, "password": DEMO_PASSWORD}));
        let label = "warm-up: sign in";
        if vu.send_as(label, false, req, |r| login_check(r, account.portal)).await.is_some() {
            vu.signed_in = Some((client, account.portal));
        }
        return;
    }
    if at == 0 {
        for (_, path) in HOT_ENDPOINTS {
            let req = encoded(vu, vu.get(path));
            vu.send_light("warm-up", false, req).await;
        }
        if let Some((_, req)) = dashboard_request(vu) {
            vu.send_light("warm-up", false, req).await;
        }
        return;
    }
    let next = match HOT_ENDPOINTS.get(phase as usize) {
        Some(&(label, path)) => Some((label, encoded(vu, vu.get(path)))),
        None => dashboard_request(vu),
    };
    if let Some((label, req)) = next {
        vu.send_light(label, true, req).await;
    }
}
