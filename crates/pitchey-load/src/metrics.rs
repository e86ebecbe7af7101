//! The recorder: every request's outcome goes into HdrHistograms (whole scenario, per request label and per
//! second) and error counters; at the end it yields the summaries the reports show.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Largest latency a histogram holds exactly (longer ones are clamped): ten minutes in microseconds.
const MAX_MICROS: u64 = 600_000_000;
/// Distinct error kinds kept; more are folded into one "other errors" entry so a misbehaving server cannot
/// grow the report without bound.
const MAX_ERROR_KINDS: usize = 64;
/// Longest example body or message kept for an error kind.
const MAX_EXAMPLE: usize = 300;
/// Slowest requests kept per scenario, with their path and query, to show what to look at first.
const MAX_SLOWEST: usize = 10;

/// Latency percentiles of successful requests, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Successful requests measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// Totals and latency of one request label (e.g. `GET /api/browse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelReport {
    /// The label.
    pub label: String,
    /// Requests made.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Whether this label's latencies count toward the scenario's percentiles and thresholds.
    pub primary: bool,
    /// Requests per second while the label was in use: completions per second between its first and its
    /// last completion (0 with fewer than two). In a mix this is the label's share of the rate; in a
    /// scenario that runs one endpoint at a time (`hot`), that endpoint's throughput.
    #[serde(default)]
    pub throughput: f64,
    /// Latency of the successful ones.
    pub latency: Latency,
}

/// One second of a scenario (by completion time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the scenario started.
    pub second: u32,
    /// Requests completed in this second.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Virtual users (or iterations in flight) active at the end of the second.
    pub users: u32,
    /// Median latency of the successful primary requests, ms (0 when there were none).
    pub p50: f64,
    /// 95th percentile, ms.
    pub p95: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// The label of at least [`DOMINANT_SHARE`] of this second's requests, if one made that many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Cores the server kept busy in this second (when its process could be seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cores: Option<f64>,
    /// Cores the load tool kept busy in this second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_cores: Option<f64>,
}

/// The share of a second's requests one label must make for the second to count as that label's
/// ([`Point::label`]; the CPU by label of the report).
pub const DOMINANT_SHARE: f64 = 0.9;

/// A kind of failure, counted, with one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// `label: what went wrong`.
    pub kind: String,
    /// How often.
    pub count: u64,
    /// The first example's detail (response body or transport error), shortened.
    pub example: String,
}

/// One of a scenario's slowest requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowRequest {
    /// Latency, ms.
    pub ms: f64,
    /// The request label.
    pub label: String,
    /// Path and query.
    pub target: String,
    /// Whether it succeeded.
    pub ok: bool,
}

/// What the recorder hands back at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    /// Requests made (all labels).
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Latency over the primary labels.
    pub latency: Latency,
    /// Per label, in label order.
    pub labels: Vec<LabelReport>,
    /// Per second.
    pub timeline: Vec<Point>,
    /// Failures by kind, most frequent first.
    pub errors_by_kind: Vec<ErrorReport>,
    /// The slowest requests whose target was known, slowest first.
    pub slowest: Vec<SlowRequest>,
}

/// A failed request: a low-cardinality kind (`HTTP 500`, `timeout`, `items missing`) and a detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What went wrong, stable across occurrences.
    pub kind: String,
    /// The specific occurrence (body excerpt, error text).
    pub detail: String,
}

impl Failure {
    /// A failure of `kind` with `detail`.
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure { kind: kind.into(), detail: detail.into() }
    }
}

struct LabelAcc {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    primary: bool,
    /// First and last completion, since the recorder's start.
    first: Duration,
    last: Duration,
}

impl LabelAcc {
    fn throughput(&self) -> f64 {
        let span = (self.last - self.first).as_secs_f64();
        if self.requests > 1 && span > 0.0 { (self.requests - 1) as f64 / span } else { 0.0 }
    }
}

struct SecondAcc {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    users: u32,
    /// Requests per label (a second holds only a few labels, so a list is enough).
    labels: Vec<(&'static str, u64)>,
    /// The last CPU reading within this second: when (since the start), the server's and the tool's
    /// CPU seconds so far.
    cpu: Option<(Duration, Option<f64>, Option<f64>)>,
}

struct Inner {
    template: Histogram<u64>,
    second_template: Histogram<u64>,
    primary: Histogram<u64>,
    labels: BTreeMap<&'static str, LabelAcc>,
    seconds: Vec<SecondAcc>,
    errors: BTreeMap<String, (u64, String)>,
    slowest: Vec<SlowRequest>,
    requests: u64,
    failed: u64,
}

impl Inner {
    fn second(&mut self, i: usize) -> &mut SecondAcc {
        while self.seconds.len() <= i {
            let hist = self.second_template.clone();
            self.seconds.push(SecondAcc { hist, requests: 0, errors: 0, users: 0, labels: Vec::new(), cpu: None });
        }
        &mut self.seconds[i]
    }
}

/// Collects samples from every virtual user of one scenario. Cheap to share behind an `Arc`; the lock is
/// held only to add a number to a few counters, never across an await.
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> anyhow::Result<Recorder> {
        // Three significant digits overall; two per second keeps a long timeline small (about 25 KB a second).
        let template = Histogram::new_with_bounds(1, MAX_MICROS, 3)?;
        let second_template = Histogram::new_with_bounds(1, MAX_MICROS, 2)?;
        Ok(Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                primary: template.clone(),
                template,
                second_template,
                labels: BTreeMap::new(),
                seconds: Vec::new(),
                errors: BTreeMap::new(),
                slowest: Vec::new(),
                requests: 0,
                failed: 0,
            }),
        })
    }

    /// When the scenario started.
    pub fn start(&self) -> Instant {
        self.start
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not lose the measurements: the counters stay consistent per call.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn second_now(&self) -> usize {
        self.start.elapsed().as_secs() as usize
    }

    /// Records one request. `primary` requests count toward the scenario's percentiles; the others (setup
    /// steps, whole-journey timings) only toward their own label and the error rate.
    pub fn record(&self, label: &'static str, latency: Duration, outcome: Result<(), Failure>, primary: bool) {
        self.record_request(label, None, latency, outcome, primary);
    }

    /// Like [`Recorder::record`], for a request whose path and query are known (kept if among the slowest).
    pub fn record_request(
        &self,
        label: &'static str,
        target: Option<&str>,
        latency: Duration,
        outcome: Result<(), Failure>,
        primary: bool,
    ) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        let now = self.start.elapsed();
        let second = now.as_secs() as usize;
        let mut g = self.lock();
        let inner = &mut *g;
        inner.requests += 1;
        if let Some(target) = target {
            let ms = us as f64 / 1000.0;
            if inner.slowest.len() < MAX_SLOWEST || inner.slowest.last().is_some_and(|s| s.ms < ms) {
                let at = inner.slowest.partition_point(|s| s.ms >= ms);
                let ok = outcome.is_ok();
                inner.slowest.insert(at, SlowRequest { ms, label: label.to_owned(), target: target.to_owned(), ok });
                inner.slowest.truncate(MAX_SLOWEST);
            }
        }
        let template = &inner.template;
        let acc = inner.labels.entry(label).or_insert_with(|| LabelAcc {
            hist: template.clone(),
            requests: 0,
            errors: 0,
            primary,
            first: now,
            last: now,
        });
        acc.requests += 1;
        acc.last = acc.last.max(now);
        let ok = outcome.is_ok();
        match outcome {
            Ok(()) => {
                acc.hist.saturating_record(us);
                if primary {
                    inner.primary.saturating_record(us);
                }
            }
            Err(f) => {
                acc.errors += 1;
                inner.failed += 1;
                let key = format!("{label}: {}", f.kind);
                let full = inner.errors.len() >= MAX_ERROR_KINDS && !inner.errors.contains_key(&key);
                let key = if full { "other errors".to_owned() } else { key };
                let e = inner.errors.entry(key).or_insert_with(|| (0, shorten(&f.detail)));
                e.0 += 1;
            }
        }
        let sec = inner.second(second);
        sec.requests += 1;
        match sec.labels.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => sec.labels.push((label, 1)),
        }
        if ok && primary {
            sec.hist.saturating_record(us);
        } else if !ok {
            sec.errors += 1;
        }
    }

    /// Notes the number of active users at this moment (the second keeps the latest value).
    pub fn gauge_users(&self, users: u32) {
        let second = self.second_now();
        self.lock().second(second).users = users;
    }

    /// Notes the CPU time the server (when seen) and the load tool have used so far, seconds; each second
    /// keeps its latest reading, and a second's cores are the CPU used between its reading and the one
    /// before.
    pub fn gauge_cpu(&self, server: Option<f64>, tool: Option<f64>) {
        let now = self.start.elapsed();
        self.lock().second(now.as_secs() as usize).cpu = Some((now, server, tool));
    }

    /// Requests, errors and p95 (ms) of second `i` so far, for progress lines.
    pub fn second_stats(&self, i: usize) -> (u64, u64, f64) {
        let mut g = self.lock();
        let s = g.second(i);
        (s.requests, s.errors, s.hist.value_at_quantile(0.95) as f64 / 1000.0)
    }

    /// Everything recorded so far.
    pub fn measurements(&self) -> Measurements {
        let g = self.lock();
        let labels = g
            .labels
            .iter()
            .map(|(label, a)| LabelReport {
                label: (*label).to_owned(),
                requests: a.requests,
                errors: a.errors,
                primary: a.primary,
                throughput: a.throughput(),
                latency: Latency::of(&a.hist),
            })
            .collect();
        let mut previous_cpu = None;
        let timeline = g
            .seconds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let l = Latency::of(&s.hist);
                let label = s
                    .labels
                    .iter()
                    .max_by_key(|(_, n)| *n)
                    .filter(|(_, n)| *n as f64 >= DOMINANT_SHARE * s.requests as f64)
                    .map(|(l, _)| (*l).to_owned());
                let (server_cores, tool_cores) = match (previous_cpu, s.cpu) {
                    (Some((t0, s0, c0)), Some((t1, s1, c1))) => {
                        let secs = Duration::checked_sub(t1, t0).map_or(0.0, |d| d.as_secs_f64());
                        let cores = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / secs).filter(|_| secs > 0.0);
                        (cores(s0, s1), cores(c0, c1))
                    }
                    _ => (None, None),
                };
                if s.cpu.is_some() {
                    previous_cpu = s.cpu;
                }
                Point {
                    second: u32::try_from(i).unwrap_or(u32::MAX),
                    requests: s.requests,
                    errors: s.errors,
                    users: s.users,
                    p50: l.p50,
                    p95: l.p95,
                    p99: l.p99,
                    label,
                    server_cores,
                    tool_cores,
                }
            })
            .collect();
        let mut errors_by_kind: Vec<ErrorReport> = g
            .errors
            .iter()
            .map(|(kind, (count, example))| ErrorReport { kind: kind.clone(), count: *count, example: example.clone() })
            .collect();
        errors_by_kind.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
        Measurements {
            requests: g.requests,
            errors: g.failed,
            latency: Latency::of(&g.primary),
            labels,
            timeline,
            errors_by_kind,
            slowest: g.slowest.clone(),
        }
    }
}

/// The first characters of `s` on one line.
fn shorten(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(MAX_EXAMPLE) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_latency_errors_and_labels() {
        let r = Recorder::new().expect("recorder");
        for ms in 1..=100 {
            r.record("GET /a", Duration::from_millis(ms), Ok(()), true);
        }
        r.record("GET /a", Duration::from_millis(5), Err(Failure::new("HTTP 500", "boom\nbody")), true);
        r.record("journey", Duration::from_secs(3), Ok(()), false);
        let m = r.measurements();
        assert_eq!((m.requests, m.errors), (102, 1));
        // The whole-journey timing is not mixed into the request percentiles.
        assert_eq!(m.latency.count, 100);
        assert!((m.latency.p50 - 50.0).abs() < 0.1, "{:?}", m.latency);
        assert!((m.latency.p99 - 99.0).abs() < 0.1, "{:?}", m.latency);
        assert_eq!(m.labels.len(), 2);
        assert_eq!(
            m.errors_by_kind,
            vec![ErrorReport { kind: "GET /a: HTTP 500".into(), count: 1, example: "boom body".into() }]
        );
        assert_eq!(m.timeline.iter().map(|p| p.requests).sum::<u64>(), 102);
    }

    #[test]
    fn a_second_has_the_label_of_most_of_its_requests_and_the_cores_used_in_it() {
        let r = Recorder::new().expect("recorder");
        {
            let mut g = r.lock();
            let s0 = g.second(0);
            s0.requests = 100;
            s0.labels = vec![("GET /a", 95), ("GET /b", 5)];
            s0.cpu = Some((Duration::from_millis(900), Some(10.0), Some(4.0)));
            let s1 = g.second(1);
            s1.requests = 100;
            s1.labels = vec![("GET /a", 50), ("GET /b", 50)];
            s1.cpu = Some((Duration::from_millis(1900), Some(10.5), Some(4.25)));
            // No reading in second 2; second 3's is over the two seconds since second 1's.
            g.second(3).cpu = Some((Duration::from_millis(3900), None, Some(6.25)));
        }
        let t = r.measurements().timeline;
        assert_eq!(t[0].label.as_deref(), Some("GET /a"));
        assert_eq!((t[0].server_cores, t[0].tool_cores), (None, None), "no earlier reading");
        assert_eq!(t[1].label, None, "no label made 90% of second 1");
        assert_eq!((t[1].server_cores, t[1].tool_cores), (Some(0.5), Some(0.25)));
        assert_eq!((t[2].server_cores, t[2].tool_cores), (None, None));
        assert_eq!((t[3].server_cores, t[3].tool_cores), (None, Some(1.0)), "the server went out of sight");
    }

    #[test]
    fn keeps_the_slowest_requests_in_order() {
        let r = Recorder::new().expect("recorder");
        for ms in [5u64, 50, 1, 500, 20, 7, 8, 9, 10, 11, 12, 13, 3] {
            r.record_request("GET /x", Some(&format!("/x?ms={ms}")), Duration::from_millis(ms), Ok(()), true);
        }
        r.record("no target", Duration::from_secs(9), Ok(()), true);
        let slowest = r.measurements().slowest;
        assert_eq!(slowest.len(), MAX_SLOWEST);
        assert_eq!(slowest[0].target, "/x?ms=500");
        assert!(slowest.windows(2).all(|w| w[0].ms >= w[1].ms));
        assert!(slowest.iter().all(|s| s.ms >= 7.0));
    }

    #[test]
    fn error_kinds_are_bounded() {
        let r = Recorder::new().expect("recorder");
        for i in 0..200 {
            r.record("x", Duration::from_millis(1), Err(Failure::new(format!("kind {i}"), "d")), true);
        }
        let m = r.measurements();
        assert_eq!(m.errors_by_kind.len(), MAX_ERROR_KINDS + 1);
        assert_eq!(m.errors_by_kind.iter().map(|e| e.count).sum::<u64>(), 200);
    }
}
