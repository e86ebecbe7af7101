//! The suite's results: a terminal table, `report.json`, `report.html` (charts drawn with plotters) and
//! `summary.txt` (the table, for committing next to benchmark notes).

mod html;

use crate::connections::ConnectionsReport;
use crate::metrics::{ErrorReport, LabelReport, Latency, Point, SlowRequest};
use crate::shape::Shape;
use crate::thresholds::{Check, Metric};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Results of a whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// Version of the load tool.
    pub tool_version: String,
    /// The server tested.
    pub host: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// The `--scale` factor.
    pub scale: f64,
    /// Whether every scenario met every threshold.
    pub passed: bool,
    /// The scenarios, in the order they ran.
    pub scenarios: Vec<ScenarioReport>,
}

/// Results of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: String,
    /// What it requests.
    pub requests_description: String,
    /// Its (scaled) load shape.
    pub shape: Shape,
    /// The shape in words.
    pub shape_description: String,
    /// How long it ran, seconds.
    pub elapsed_secs: f64,
    /// Requests made (all labels).
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Requests per second over the run.
    pub throughput: f64,
    /// Latency of the successful primary requests (what the thresholds judge).
    pub latency: Latency,
    /// Per request label.
    pub labels: Vec<LabelReport>,
    /// Per second.
    pub timeline: Vec<Point>,
    /// Failures by kind.
    pub errors_by_kind: Vec<ErrorReport>,
    /// The slowest requests, slowest first.
    #[serde(default)]
    pub slowest: Vec<SlowRequest>,
    /// Thresholds and their verdicts.
    pub thresholds: Vec<Check>,
    /// Whether every threshold passed.
    pub passed: bool,
    /// Extra figures of the connections scenario.
    pub connections: Option<ConnectionsReport>,
    /// CPU time the server used during the scenario, seconds (when its process could be seen).
    #[serde(default)]
    pub server_cpu_secs: Option<f64>,
    /// CPU time the load tool itself used during the scenario, seconds.
    #[serde(default)]
    pub client_cpu_secs: Option<f64>,
}

impl ScenarioReport {
    /// `(cores busy on average, milliseconds per request)` for `cpu_secs` of CPU time over this run.
    pub fn cpu_use(&self, cpu_secs: Option<f64>) -> Option<(f64, f64)> {
        let secs = cpu_secs?;
        (self.elapsed_secs > 0.0 && self.requests > 0)
            .then(|| (secs / self.elapsed_secs, secs * 1000.0 / self.requests as f64))
    }

    /// CPU use per request label, over the seconds one label dominated ([`Point::label`]), each such run of
    /// seconds without its first (which holds the change from the phase before), in the order the labels
    /// first dominated. Empty for mixes.
    pub fn cpu_by_label(&self) -> Vec<LabelCpu> {
        let mut acc: Vec<LabelCpu> = Vec::new();
        for pair in self.timeline.windows(2) {
            let (before, p) = (&pair[0], &pair[1]);
            let Some(label) = p.label.as_ref().filter(|l| before.label.as_ref() == Some(*l)) else { continue };
            if p.server_cores.is_none() && p.tool_cores.is_none() {
                continue;
            }
            let at = match acc.iter().position(|l| &l.label == label) {
                Some(i) => i,
                None => {
                    acc.push(LabelCpu { label: label.clone(), ..LabelCpu::default() });
                    acc.len() - 1
                }
            };
            let l = &mut acc[at];
            l.seconds += 1;
            l.requests += p.requests;
            let add = |sum: &mut Option<f64>, v: Option<f64>| {
                if let Some(v) = v {
                    *sum = Some(sum.unwrap_or(0.0) + v);
                }
            };
            add(&mut l.server_cores, p.server_cores);
            add(&mut l.tool_cores, p.tool_cores);
        }
        for l in &mut acc {
            let n = l.seconds as f64;
            l.server_cores = l.server_cores.map(|v| v / n);
            l.tool_cores = l.tool_cores.map(|v| v / n);
        }
        acc
    }

    /// The server's and the load tool's CPU use in words.
    pub fn cpu_text(&self) -> String {
        let text =
            |u: Option<(f64, f64)>| u.map_or_else(|| "-".into(), |(c, m)| format!("{c:.2} cores, {m:.2} ms/request"));
        format!(
            "server {}; load tool {}",
            text(self.cpu_use(self.server_cpu_secs)),
            text(self.cpu_use(self.client_cpu_secs))
        )
    }
}

/// One request label's CPU use ([`ScenarioReport::cpu_by_label`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelCpu {
    /// The label.
    pub label: String,
    /// Seconds the label dominated (and counted).
    pub seconds: usize,
    /// Requests completed in those seconds.
    pub requests: u64,
    /// Average cores the server kept busy in those seconds (a second without a reading counts as none).
    pub server_cores: Option<f64>,
    /// Average cores the load tool kept busy.
    pub tool_cores: Option<f64>,
}

impl LabelCpu {
    /// Microseconds of CPU per request for `cores` (one of this label's averages): the figure that compares
    /// two builds, or two machines, whatever their throughput.
    pub fn micros_per_request(&self, cores: Option<f64>) -> Option<f64> {
        let cores = cores?;
        (self.requests > 0).then(|| cores * self.seconds as f64 * 1e6 / self.requests as f64)
    }
}

/// Paths of the files written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// `report.json`.
    pub json: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// `summary.txt`.
    pub summary: PathBuf,
}

/// Writes `report.json`, `report.html` and `summary.txt` into `dir` (created if needed).
pub fn write_all(report: &SuiteReport, dir: &Path) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let written =
        Written { json: dir.join("report.json"), html: dir.join("report.html"), summary: dir.join("summary.txt") };
    std::fs::write(&written.json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", written.json.display()))?;
    std::fs::write(&written.html, html::render(report)?)
        .with_context(|| format!("writing {}", written.html.display()))?;
    std::fs::write(&written.summary, table(report))
        .with_context(|| format!("writing {}", written.summary.display()))?;
    Ok(written)
}

/// Reads a `report.json` back.
pub fn read_json(path: &Path) -> anyhow::Result<SuiteReport> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Milliseconds with one decimal.
fn ms(v: f64) -> String {
    format!("{v:.1}")
}

/// MiB from KiB, or `-`.
pub(crate) fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// The terminal table: one row per scenario, its request labels under it, then thresholds and notes.
pub fn table(r: &SuiteReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "pitchey-load {} against {} at scale {} ({})", r.tool_version, r.host, r.scale, r.started_at);
    let _ = writeln!(
        s,
        "\n{:<44} {:>8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}  result",
        "scenario / request", "requests", "errors", "err %", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let _ = writeln!(s, "{}", "-".repeat(124));
    for sc in &r.scenarios {
        let _ = writeln!(
            s,
            "{:<44} {:>8} {:>7} {:>7.2} {:>8.1} {:>8} {:>8} {:>8} {:>8}  {}",
            sc.name,
            sc.requests,
            sc.errors,
            sc.error_rate * 100.0,
            sc.throughput,
            ms(sc.latency.p50),
            ms(sc.latency.p95),
            ms(sc.latency.p99),
            ms(sc.latency.max),
            if sc.passed { "PASS" } else { "FAIL" }
        );
        if sc.labels.len() > 1 {
            for l in &sc.labels {
                let name: String =
                    format!("  {}{}", l.label, if l.primary { "" } else { " *" }).chars().take(44).collect();
                let _ = writeln!(
                    s,
                    "{name:<44} {:>8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
                    l.requests,
                    l.errors,
                    "",
                    format!("{:.1}", l.throughput),
                    ms(l.latency.p50),
                    ms(l.latency.p95),
                    ms(l.latency.p99),
                    ms(l.latency.max)
                );
            }
        }
    }
    let _ = writeln!(s, "\n(* = not counted in the scenario's percentiles)");
    let _ = writeln!(s, "\nThresholds:");
    for sc in &r.scenarios {
        let checks: Vec<String> = sc
            .thresholds
            .iter()
            .map(|c| format!("{} {}", if c.passed { "ok" } else { "MISSED" }, c.describe()))
            .collect();
        let _ = writeln!(s, "  {:<12} {}", sc.name, if checks.is_empty() { "none".into() } else { checks.join("; ") });
    }
    if r.scenarios.iter().any(|sc| sc.server_cpu_secs.is_some() || sc.client_cpu_secs.is_some()) {
        let _ = writeln!(s, "\nCPU time (averaged over each scenario):");
        for sc in &r.scenarios {
            let _ = writeln!(s, "  {:<12} {}", sc.name, sc.cpu_text());
        }
    }
    for sc in &r.scenarios {
        let by_label = sc.cpu_by_label();
        if by_label.len() < 2 {
            continue;
        }
        let _ = writeln!(
            s,
            "\nCPU by request label in {} (cores busy and CPU per request, seconds of one label):",
            sc.name
        );
        for l in by_label {
            let use_of = |c: Option<f64>| match (c, l.micros_per_request(c)) {
                (Some(c), Some(us)) => format!("{c:.2} ({us:>5.1} us/request)"),
                (Some(c), None) => format!("{c:.2}"),
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "  {:<42} server {}  load tool {}  ({} s)",
                l.label,
                use_of(l.server_cores),
                use_of(l.tool_cores),
                l.seconds
            );
        }
    }
    for sc in r.scenarios.iter().filter(|sc| !sc.errors_by_kind.is_empty()) {
        let _ = writeln!(s, "\nErrors in {}:", sc.name);
        for e in sc.errors_by_kind.iter().take(10) {
            let _ =
                writeln!(s, "  {:>6} x {}  e.g. {}", e.count, e.kind, e.example.chars().take(120).collect::<String>());
        }
    }
    for sc in r.scenarios.iter().filter(|sc| sc.thresholds.iter().any(|c| !c.passed && c.metric != Metric::ErrorRate)) {
        let _ = writeln!(s, "\nSlowest requests in {}:", sc.name);
        for slow in sc.slowest.iter().take(5) {
            let _ = writeln!(s, "  {:>9.1} ms  {}{}", slow.ms, slow.target, if slow.ok { "" } else { " (failed)" });
        }
    }
    for sc in &r.scenarios {
        if let Some(c) = &sc.connections {
            let _ = writeln!(s, "\nConnections ({}):", sc.name);
            let _ = writeln!(
                s,
                "  held {} of {} requested (opened in {:.1} s); {} still open after the hold, {} answered",
                c.opened, c.requested, c.open_secs, c.open_after_hold, c.answered_after_hold
            );
            let _ = writeln!(
                s,
                "  steady stream p50/p99: {} / {} ms alone, {} / {} ms with the connections held",
                ms(c.steady_baseline.p50),
                ms(c.steady_baseline.p99),
                ms(c.steady_held.p50),
                ms(c.steady_held.p99)
            );
            let _ = writeln!(
                s,
                "  server RSS (pid {}): {} before, {} held, {} peak; of which anonymous {} before, {} held; \
                 load tool peak {}; fd limit {}/{}",
                c.server_pid.map_or_else(|| "?".into(), |p| p.to_string()),
                mib(c.server_rss_baseline_kib),
                mib(c.server_rss_held_kib),
                mib(c.server_rss_peak_kib),
                mib(c.server_anon_baseline_kib),
                mib(c.server_anon_held_kib),
                mib(c.client_rss_peak_kib),
                c.fd_soft_limit.map_or_else(|| "?".into(), |v| v.to_string()),
                c.fd_hard_limit.map_or_else(|| "?".into(), |v| v.to_string())
            );
            for n in &c.notes {
                let _ = writeln!(s, "  note: {n}");
            }
        }
    }
    let _ = writeln!(
        s,
        "\nResult: {}",
        if r.passed { "PASS (every threshold met)" } else { "FAIL (a threshold was missed)" }
    );
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small but complete report.
    pub(crate) fn sample() -> SuiteReport {
        let timeline: Vec<Point> = (0..30)
            .map(|i| Point {
                second: i,
                requests: 100 + u64::from(i),
                errors: u64::from(i % 7 == 0),
                users: i.min(10),
                p50: 5.0 + f64::from(i) / 10.0,
                p95: 12.0 + f64::from(i) / 5.0,
                p99: 20.0 + f64::from(i),
                // Two phases of one label each; exact binary fractions survive the JSON round trip.
                label: Some(if i < 15 { "GET /api/browse" } else { "GET /api/health" }.into()),
                server_cores: Some(if i < 15 { 0.5 } else { 1.0 }),
                tool_cores: (i > 0).then_some(if i < 15 { 0.25 } else { 0.75 }),
            })
            .collect();
        let latency = Latency { count: 3000, p50: 6.0, p90: 11.0, p95: 14.0, p99: 30.0, max: 52.0, mean: 7.5 };
        SuiteReport {
            tool_version: "0.1.0".into(),
            host: "http://127.0.0.1:1".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            scale: 1.0,
            passed: false,
            scenarios: vec![ScenarioReport {
                name: "browse".into(),
                requests_description: "GET /api/browse <&> \"quoted\"".into(),
                shape: Shape::Users { start: 1, stages: vec![] },
                shape_description: "ramp".into(),
                elapsed_secs: 30.0,
                // Values that survive a JSON round trip exactly (serde_json parses floats to within an ulp).
                requests: 40,
                errors: 5,
                error_rate: 0.125,
                throughput: 100.2,
                latency,
                labels: vec![LabelReport {
                    label: "GET /api/browse".into(),
                    requests: 40,
                    errors: 5,
                    primary: true,
                    throughput: 1.5,
                    latency,
                }],
                timeline,
                errors_by_kind: vec![ErrorReport {
                    kind: "GET /api/browse: HTTP 500".into(),
                    count: 5,
                    example: "<script>alert(1)</script>".into(),
                }],
                slowest: vec![SlowRequest {
                    ms: 52.0,
                    label: "GET /api/browse".into(),
                    target: "/api/browse?tab=new&page=5".into(),
                    ok: true,
                }],
                thresholds: vec![Check { metric: Metric::P95, limit: 10.0, actual: 14.0, passed: false }],
                passed: false,
                connections: Some(ConnectionsReport { requested: 10, opened: 10, ..ConnectionsReport::default() }),
                server_cpu_secs: Some(6.0),
                client_cpu_secs: None,
            }],
        }
    }

    #[test]
    fn reports_are_written_and_the_json_parses_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = sample();
        let w = write_all(&report, &dir.path().join("nested/run")).expect("written");
        assert_eq!(read_json(&w.json).expect("parses"), report);
        let html = std::fs::read_to_string(&w.html).expect("html");
        assert!(html.len() > 1000);
        assert!(html.contains("<svg"), "charts are inline SVG");
        assert!(html.contains("p99"));
        // Server text is escaped, never injected.
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("&lt;script&gt;"));
        let summary = std::fs::read_to_string(&w.summary).expect("summary");
        assert!(summary.contains("browse"));
        assert!(summary.contains("MISSED p95 14.0 ms > 10 ms"));
        assert!(summary.contains("52.0 ms  /api/browse?tab=new&page=5"), "slowest requests of a slow scenario");
        assert!(summary.contains("FAIL"));
        // 6 s of server CPU over 30 s and 40 requests.
        assert!(summary.contains("browse       server 0.20 cores, 150.00 ms/request; load tool -"), "{summary}");
        // Each phase without its first second.
        assert!(summary.contains("CPU by request label in browse"), "{summary}");
        // Seconds 1-14 of 101..=114 requests each, 16-29 of 116..=129: CPU per request is cores x seconds over
        // requests.
        let browse = "GET /api/browse                            server 0.50 (4651.2 us/request)  load tool 0.25 \
                      (2325.6 us/request)  (14 s)";
        assert!(summary.contains(browse), "{summary}");
        let health = "GET /api/health                            server 1.00 (8163.3 us/request)  load tool 0.75 \
                      (6122.4 us/request)  (14 s)";
        assert!(summary.contains(health), "{summary}");
    }

    #[test]
    fn cpu_by_label_leaves_out_mixed_seconds_and_phase_changes() {
        let mut sc = sample().scenarios.remove(0);
        for p in &mut sc.timeline[10..20] {
            p.label = None;
        }
        sc.timeline[25].server_cores = Some(3.0);
        sc.timeline[25].tool_cores = None;
        let by_label = sc.cpu_by_label();
        // Seconds 1-9, of 101..=109 requests each.
        let browse = LabelCpu {
            label: "GET /api/browse".to_owned(),
            seconds: 9,
            requests: (101..=109).sum(),
            server_cores: Some(0.5),
            tool_cores: Some(0.25),
        };
        assert_eq!(by_label[0], browse, "seconds 1-9");
        assert_eq!(browse.micros_per_request(browse.server_cores), Some(0.5 * 9.0 * 1e6 / 945.0));
        assert_eq!(browse.micros_per_request(None), None);
        // Seconds 21-29; second 25 has no tool reading.
        let health = &by_label[1];
        assert_eq!((health.label.as_str(), health.seconds, health.requests), ("GET /api/health", 9, (121..=129).sum()));
        assert!((health.server_cores.unwrap() - (8.0 + 3.0) / 9.0).abs() < 1e-9);
        let tool = health.tool_cores;
        assert!((tool.unwrap() - 0.75 * 8.0 / 9.0).abs() < 1e-9, "a missing reading counts as nothing: {tool:?}");
        assert_eq!(LabelCpu { requests: 0, ..browse }.micros_per_request(Some(1.0)), None, "no requests, no figure");
    }
}
