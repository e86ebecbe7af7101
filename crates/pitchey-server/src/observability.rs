//! Metrics: the Prometheus recorder, per-route request metrics (and the quantiles the admin JSON shows),
//! and process gauges.
//!
//! Metric families (all prefixed `pitchey_`):
//! - `http_requests_total{route,method,status}` and `http_request_duration_seconds{route,method,status}`
//!   (histogram), `http_requests_in_flight`; `route` is the route template, `status` the class (`2xx`...).
//! - `db_query_duration_seconds{query,backend,role}` (histogram), `db_errors_total{query,kind}`,
//!   `db_slow_queries_total{query}`, `db_retries_total{query}`, `db_pool_connections{endpoint,state}`,
//!   `db_pool_waiters{endpoint}`, `db_circuit_state{endpoint}`, `db_circuit_rejections_total{endpoint}`,
//!   `db_up{endpoint,role}`, `db_replica_lag_seconds{endpoint}`.
//! - `cache_hits_total{cache,tier}`, `cache_misses_total{cache,tier}`, `cache_evictions_total{cache,tier}`,
//!   `cache_invalidations_total{cache}`, `cache_stale_served_total{cache}`, `cache_entries{cache,tier}`,
//!   `cache_bytes{cache,tier}`, `cache_l2_connected`.
//! - `rate_limit_rejections_total{limiter}`; business counters `logins_total{user_type}`,
//!   `signups_total{user_type}`, `pitches_created_total`, `pitches_published_total`,
//!   `nda_requests_total`, `nda_decisions_total{decision}`.
//! - `process_resident_memory_bytes`, `process_uptime_seconds`, `process_open_fds`, `build_info{version}`.

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

/// Latency bucket bounds in seconds, shared by the HTTP and database histograms (and the quantiles).
pub const BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus handle. The recorder is global, so it is installed once per process (tests
/// run many apps in one process; they share it).
pub fn prometheus() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let mut b = PrometheusBuilder::new();
            for name in ["pitchey_http_request_duration_seconds", "pitchey_db_query_duration_seconds"] {
                b = match b.set_buckets_for_metric(Matcher::Full(name.to_owned()), BUCKETS) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(error = %e, "bad histogram buckets");
                        return None;
                    }
                };
            }
            let recorder = b.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder was already installed");
                    None
                }
            }
        })
        .clone()
}

/// Request counts and latency buckets per route, kept alongside Prometheus so the admin JSON can show
/// p50/p95/p99 without a Prometheus server.
#[derive(Default)]
pub struct RouteStats {
    routes: RwLock<HashMap<String, Arc<RouteHist>>>,
}

#[derive(Default)]
struct RouteHist {
    counts: [AtomicU64; BUCKETS.len() + 1],
    errors: AtomicU64,
    total: AtomicU64,
    sum_micros: AtomicU64,
}

/// One route's summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSummary {
    /// `METHOD /route/template`.
    pub route: String,
    /// Requests.
    pub count: u64,
    /// 5xx responses.
    pub errors: u64,
    /// Mean latency in milliseconds.
    pub mean_ms: f64,
    /// Median latency (interpolated within buckets), in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
}

impl RouteStats {
    fn hist(&self, key: &str) -> Arc<RouteHist> {
        if let Some(h) = self.routes.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(key) {
            return h.clone();
        }
        let mut w = self.routes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        w.entry(key.to_owned()).or_default().clone()
    }

    /// Records one request.
    pub fn record(&self, key: &str, secs: f64, server_error: bool) {
        let h = self.hist(key);
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        h.counts[i].fetch_add(1, Ordering::Relaxed);
        h.total.fetch_add(1, Ordering::Relaxed);
        h.sum_micros.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        if server_error {
            h.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every route's summary, busiest first.
    pub fn summaries(&self) -> Vec<RouteSummary> {
        let routes = self.routes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v: Vec<RouteSummary> = routes
            .iter()
            .map(|(route, h)| {
                let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                let total = h.total.load(Ordering::Relaxed);
                RouteSummary {
                    route: route.clone(),
                    count: total,
                    errors: h.errors.load(Ordering::Relaxed),
                    mean_ms: if total > 0 {
                        h.sum_micros.load(Ordering::Relaxed) as f64 / total as f64 / 1000.0
                    } else {
                        0.0
                    },
                    p50_ms: quantile(&counts, 0.50) * 1000.0,
                    p95_ms: quantile(&counts, 0.95) * 1000.0,
                    p99_ms: quantile(&counts, 0.99) * 1000.0,
                }
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.route.cmp(&b.route)));
        v
    }
}

/// The `q` quantile of bucketed counts, interpolating linearly within the bucket (as Prometheus'
/// `histogram_quantile` does); the overflow bucket reports the largest bound.
pub fn quantile(counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, c) in counts.iter().enumerate() {
        if *c > 0 && (seen + c) as f64 >= rank {
            let lo = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            let Some(hi) = BUCKETS.get(i) else { return BUCKETS[BUCKETS.len() - 1] };
            let within = (rank - seen as f64) / *c as f64;
            return lo + (hi - lo) * within.clamp(0.0, 1.0);
        }
        seen += c;
    }
    BUCKETS[BUCKETS.len() - 1]
}

fn status_class(code: u16) -> &'static str {
    match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Counts and times one request by route template, method and status class: started before the request
/// goes down the stack, finished with its response.
pub struct RequestTimer {
    route: String,
    method: String,
    t0: Instant,
}

impl RequestTimer {
    /// Starts timing `req` and counts it in flight.
    pub fn start(req: &Request) -> Self {
        let route =
            req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
        metrics::gauge!("pitchey_http_requests_in_flight").increment(1.0);
        RequestTimer { route, method: method_label(req.method()).to_owned(), t0: Instant::now() }
    }

    /// Records the request's duration and status.
    pub fn finish(self, stats: &RouteStats, res: &Response) {
        let secs = self.t0.elapsed().as_secs_f64();
        metrics::gauge!("pitchey_http_requests_in_flight").decrement(1.0);
        let class = status_class(res.status().as_u16());
        let key = format!("{} {}", self.method, self.route);
        let labels = [("route", self.route), ("method", self.method), ("status", class.to_owned())];
        metrics::counter!("pitchey_http_requests_total", &labels).increment(1);
        metrics::histogram!("pitchey_http_request_duration_seconds", &labels).record(secs);
        stats.record(&key, secs, class == "5xx");
    }
}

/// The method as a metric label: the standard ones by name, any other as `OTHER`. HTTP lets a client invent
/// methods, and each distinct label would be a new series and route entry kept for the process's life.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Registers the application's counters at zero, so every series exists from the start.
pub fn register_defaults() {
    metrics::counter!("pitchey_rate_limit_rejections_total", "limiter" => "login").increment(0);
    for t in ["creator", "investor", "production", "admin"] {
        metrics::counter!("pitchey_logins_total", "user_type" => t).increment(0);
        metrics::counter!("pitchey_signups_total", "user_type" => t).increment(0);
    }
    metrics::counter!("pitchey_pitches_created_total").increment(0);
    metrics::counter!("pitchey_pitches_published_total").increment(0);
    metrics::counter!("pitchey_nda_requests_total").increment(0);
    for d in ["approved", "rejected", "signed", "revoked", "expired"] {
        metrics::counter!("pitchey_nda_decisions_total", "decision" => d).increment(0);
    }
    metrics::gauge!("pitchey_http_requests_in_flight").increment(0.0);
}

/// Resident memory of this process in bytes (Linux; 0 elsewhere).
pub fn resident_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// Publishes process gauges.
pub fn record_process(started: Instant) {
    metrics::gauge!("pitchey_process_resident_memory_bytes").set(resident_memory_bytes() as f64);
    metrics::gauge!("pitchey_process_uptime_seconds").set(started.elapsed().as_secs_f64());
    metrics::gauge!("pitchey_process_open_fds").set(open_fds() as f64);
    metrics::gauge!("pitchey_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let mut counts = vec![0u64; BUCKETS.len() + 1];
        counts[0] = 50; // ≤ 0.5 ms
        counts[4] = 50; // 5–10 ms
        assert!((quantile(&counts, 0.5) - 0.0005).abs() < 1e-9);
        let p99 = quantile(&counts, 0.99);
        assert!(p99 > 0.005 && p99 <= 0.01, "{p99}");
        assert_eq!(quantile(&[0; 15], 0.5), 0.0);
        let mut over = vec![0u64; BUCKETS.len() + 1];
        over[BUCKETS.len()] = 1;
        assert_eq!(quantile(&over, 0.99), 10.0);
    }

    #[test]
    fn route_stats_summarise() {
        let s = RouteStats::default();
        for _ in 0..99 {
            s.record("GET /api/x", 0.001, false);
        }
        s.record("GET /api/x", 0.2, true);
        let v = s.summaries();
        assert_eq!(v[0].count, 100);
        assert_eq!(v[0].errors, 1);
        assert!(v[0].p50_ms <= 1.0 && v[0].p99_ms <= 1.0, "{v:?}");
    }
}
