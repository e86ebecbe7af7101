//! `/ops`: a one-page console for administrators — request rates, latency percentiles, error rates, cache
//! hit ratios, breaker and replica state, the slowest recent queries — rendered on the server and kept
//! fresh by a small inline script that polls the admin JSON. No external assets: it works offline.

use super::admin::require_admin;
use crate::session::MaybeUser;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/ops", get(console))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    res
}

fn refusal(status: StatusCode, message: &str) -> Response {
    page(
        status,
        format!("<!doctype html><meta charset=utf-8><title>Pitchey ops</title><h1 id=refused>{}</h1>", esc(message)),
    )
}

async fn console(State(s): State<AppState>, user: MaybeUser) -> Response {
    let Some(auth) = user.0 else {
        return refusal(StatusCode::UNAUTHORIZED, "Sign in as an administrator to see this page.");
    };
    if require_admin(&auth).is_err() {
        return refusal(StatusCode::FORBIDDEN, "Administrator access required.");
    }
    let routes = s.route_stats.summaries();
    let total: u64 = routes.iter().map(|r| r.count).sum();
    let errors: u64 = routes.iter().map(|r| r.errors).sum();
    let cache = s.cache.status();
    let snap = s.health.get();
    let mut rows = String::new();
    for r in routes.iter().take(30) {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            esc(&r.route),
            r.count,
            r.errors,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms
        );
    }
    let mut caches = String::new();
    for c in &cache.caches {
        let _ = write!(
            caches,
            "<tr><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.name,
            c.hit_ratio * 100.0,
            c.hits,
            c.misses,
            c.entries,
            c.evictions
        );
    }
    let mut db = String::new();
    for e in &snap.endpoints {
        let _ = write!(
            db,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.name),
            e.role.as_str(),
            if e.ok { "up" } else { "down" },
            e.breaker.as_str(),
            e.lag_secs.map_or_else(|| "–".to_owned(), |l| format!("{l:.1}s"))
        );
    }
    let mut slow = String::new();
    for q in s.store.db().slow_queries().iter().take(10) {
        let _ = write!(slow, "<tr><td>{}</td><td>{}</td><td>{:.1}</td></tr>", esc(q.name), q.role, q.millis);
    }
    let html = TEMPLATE
        .replace("{{backend}}", s.store.backend().as_str())
        .replace("{{total}}", &total.to_string())
        .replace("{{errors}}", &errors.to_string())
        .replace("{{routes}}", &rows)
        .replace("{{caches}}", &caches)
        .replace("{{db}}", &db)
        .replace("{{slow}}", &slow)
        .replace(
            "{{l2}}",
            if cache.l2_configured { if cache.l2_connected { "connected" } else { "DOWN" } } else { "not configured" },
        );
    page(StatusCode::OK, html)
}

const TEMPLATE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pitchey ops</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;padding:16px}
section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px #0002}
h2{font-size:15px;margin:0 0 8px}
.kpis{display:flex;gap:24px;flex-wrap:wrap}
.kpi b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
td,th{padding:3px 6px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}
canvas{width:100%;height:60px;background:#fafbfc}
.bad{color:#b00020;font-weight:600}
</style></head>
<body>
<header><h1>Pitchey operations</h1><span>backend: {{backend}}</span><span>Redis: <span id="l2">{{l2}}</span></span><span id="updated">rendered on the server</span></header>
<main>
<section><h2>Traffic</h2>
<div class="kpis">
<div class="kpi">requests<b id="total-requests">{{total}}</b></div>
<div class="kpi">requests/s<b id="rps">–</b></div>
<div class="kpi">5xx<b id="errors">{{errors}}</b></div>
<div class="kpi">error rate<b id="error-rate">–</b></div>
<div class="kpi">worst p99 (ms)<b id="p99">–</b></div>
</div>
<p>requests/s</p><canvas id="rps-chart" width="400" height="60"></canvas>
<p>worst p99 (ms)</p><canvas id="p99-chart" width="400" height="60"></canvas>
</section>
<section><h2>Latency by route</h2>
<table><thead><tr><th>route</th><th>count</th><th>5xx</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></thead>
<tbody id="routes">{{routes}}</tbody></table></section>
<section><h2>Cache</h2>
<table><thead><tr><th>cache</th><th>hit ratio</th><th>hits</th><th>misses</th><th>entries</th><th>evictions</th></tr></thead>
<tbody id="caches">{{caches}}</tbody></table></section>
<section><h2>Database</h2>
<table><thead><tr><th>endpoint</th><th>role</th><th>state</th><th>breaker</th><th>lag</th></tr></thead>
<tbody id="db">{{db}}</tbody></table>
<h2>Slowest recent queries</h2>
<table><thead><tr><th>query</th><th>role</th><th>ms</th></tr></thead><tbody id="slow">{{slow}}</tbody></table>
</section>
</main>
<script>
"use strict";
const series = {rps: [], p99: []};
let last = null;
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
function spark(id, data) {
  const c = document.getElementById(id), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (data.length < 2) return;
  const max = Math.max(...data, 1e-9);
  g.beginPath();
  data.forEach((v, i) => {
    const x = i * (c.width - 2) / (data.length - 1) + 1, y = c.height - 2 - v / max * (c.height - 6);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.strokeStyle = "#3b6fd8"; g.lineWidth = 2; g.stroke();
}
function rows(id, items, cells) {
  document.getElementById(id).innerHTML = items.map(i => "<tr>" + cells(i).map(v => "<td>" + esc(v) + "</td>").join("") + "</tr>").join("");
}
async function tick() {
  try {
    const r = await fetch("/api/performance/metrics", {credentials: "same-origin", cache: "no-store"});
    if (!r.ok) { document.getElementById("updated").textContent = "refresh failed: HTTP " + r.status; return; }
    const d = (await r.json()).data;
    const total = d.routes.reduce((a, x) => a + x.count, 0), errors = d.routes.reduce((a, x) => a + x.errors, 0);
    const now = Date.now();
    if (last) {
      const rps = Math.max(0, (total - last.total) / ((now - last.t) / 1000));
      series.rps.push(rps); document.getElementById("rps").textContent = rps.toFixed(1);
    }
    last = {total, t: now};
    const p99 = Math.max(0, ...d.routes.filter(x => x.count > 0).map(x => x.p99Ms));
    series.p99.push(p99);
    for (const k in series) if (series[k].length > 120) series[k].shift();
    document.getElementById("total-requests").textContent = total;
    document.getElementById("errors").textContent = errors;
    document.getElementById("error-rate").textContent = total ? (100 * errors / total).toFixed(2) + "%" : "0%";
    document.getElementById("p99").textContent = p99.toFixed(2);
    rows("routes", d.routes.slice(0, 30), x => [x.route, x.count, x.errors, x.p50Ms.toFixed(2), x.p95Ms.toFixed(2), x.p99Ms.toFixed(2)]);
    rows("caches", d.cache.caches, c => [c.name, (100 * c.hitRatio).toFixed(1) + "%", c.hits, c.misses, c.entries, c.evictions]);
    rows("db", d.database.endpoints, e => [e.name, e.role, e.ok ? "up" : "down", e.breaker, e.lagSeconds == null ? "–" : e.lagSeconds.toFixed(1) + "s"]);
    rows("slow", d.slowQueries.slice(0, 10), q => [q.query, q.role, q.ms.toFixed(1)]);
    document.getElementById("l2").textContent = d.cache.l2Configured ? (d.cache.l2Connected ? "connected" : "DOWN") : "not configured";
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    spark("rps-chart", series.rps); spark("p99-chart", series.p99);
  } catch (e) {
    document.getElementById("updated").textContent = "refresh failed: " + e;
  }
}
tick();
setInterval(tick, 3000);
</script>
</body></html>
"##;
