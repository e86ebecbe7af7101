//! `pitchey-load`: load scenarios for the Pitchey server, thresholds that gate a deployment, and reports
//! (terminal table, JSON, HTML with plotters charts).
//!
//! The engine is our own (tokio + reqwest + HdrHistogram): closed-loop virtual users following staged load
//! shapes, open-loop constant arrival rate with coordinated-omission correction, shared iterations, and a
//! many-connections scenario on hyper's connection-level client. [`run`] runs scenarios against a server
//! and returns a [`report::SuiteReport`]; [`report::write_all`] writes the files.

pub mod body_check;
pub mod catalog;
pub mod cli;
pub mod connections;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod process;
pub mod report;
pub mod scenarios;
pub mod shape;
pub mod thresholds;

use crate::catalog::Catalog;
use crate::connections::ConnectionsOptions;
use crate::engine::{Ctx, RunSettings};
use crate::http::Encoding;
use crate::report::{ScenarioReport, SuiteReport};
use crate::scenarios::ScenarioName;
use crate::shape::Shape;
use crate::thresholds::{Observed, Override};
use anyhow::{Context, bail};
use std::sync::Arc;
use std::time::Duration;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub host: String,
    /// Scenarios to run, in order; empty means all of them.
    pub scenarios: Vec<ScenarioName>,
    /// Multiplier of durations, users, rates, iterations and connections.
    pub scale: f64,
    /// Threshold changes.
    pub overrides: Vec<Override>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Pause after each closed-loop iteration.
    pub think_time: Duration,
    /// Endpoint of the health scenario.
    pub health_path: String,
    /// Connections to hold, replacing the scaled default.
    pub connections: Option<u32>,
    /// Steady-stream endpoint of the connections scenario.
    pub steady_path: String,
    /// Steady-stream rate, replacing the scaled default.
    pub steady_rate: Option<f64>,
    /// Server process to sample for memory and CPU time (found by its listening port on a loopback host
    /// when absent).
    pub server_pid: Option<u32>,
    /// Print progress to stderr.
    pub progress: bool,
    /// Quiet time between scenarios, so one's stragglers do not land in the next.
    pub pause: Duration,
    /// The `Accept-Encoding` of the hot scenario's requests (none: bodies come uncompressed).
    pub accept_encoding: Option<Encoding>,
}

impl Options {
    /// The defaults, against `host`.
    pub fn new(host: impl Into<String>) -> Options {
        Options {
            host: host.into(),
            scenarios: Vec::new(),
            scale: 1.0,
            overrides: Vec::new(),
            timeout: Duration::from_secs(30),
            think_time: Duration::ZERO,
            health_path: "/api/health".into(),
            connections: None,
            steady_path: "/api/pitches/public/trending?limit=12".into(),
            steady_rate: None,
            server_pid: None,
            progress: true,
            pause: Duration::from_secs(2),
            accept_encoding: None,
        }
    }

    /// The scenarios to run, in order, without repeats.
    pub fn scenario_list(&self) -> Vec<ScenarioName> {
        if self.scenarios.is_empty() {
            return ScenarioName::ALL.to_vec();
        }
        let mut out: Vec<ScenarioName> = Vec::new();
        for s in &self.scenarios {
            if !out.contains(s) {
                out.push(*s);
            }
        }
        out
    }

    /// The shape `name` runs with under these options.
    pub fn shape_of(&self, name: ScenarioName) -> Shape {
        let mut shape = scenarios::definition(name).shape.scaled(self.scale);
        if let Shape::Connections { connections, steady_rate, .. } = &mut shape {
            *connections = self.connections.unwrap_or(*connections).max(1);
            *steady_rate = self.steady_rate.unwrap_or(*steady_rate).max(0.1);
        }
        shape
    }
}

/// Runs the scenarios in turn and evaluates their thresholds.
pub async fn run(opts: &Options) -> anyhow::Result<SuiteReport> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        bail!("--scale must be a positive number, not {}", opts.scale);
    }
    let base = opts.host.trim_end_matches('/').to_owned();
    let url = reqwest::Url::parse(&base).with_context(|| format!("--host {base:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("--host must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080");
    }
    // Any HTTP answer (even 404) shows the server is up; without one the run could not be made at all.
    http::client(opts.timeout, false)?
        .get(format!("{base}/api/health/live"))
        .send()
        .await
        .with_context(|| format!("the server at {base} does not answer"))?;
    let list = opts.scenario_list();
    let needs_catalog = list.iter().any(|n| {
        !matches!(n, ScenarioName::Health | ScenarioName::Auth | ScenarioName::Connections | ScenarioName::Hot)
    });
    let catalog = if needs_catalog {
        Catalog::discover(&base, opts.timeout, list.contains(&ScenarioName::Journey))
            .await
            .context("reading the server's catalogue before the run")?
    } else {
        Catalog::default()
    };
    let started_at = chrono::Utc::now();
    let settings = Arc::new(RunSettings {
        base,
        timeout: opts.timeout,
        think_time: opts.think_time,
        health_path: opts.health_path.clone(),
        run_id: format!("{}{:04x}", started_at.format("%Y%m%d%H%M%S"), rand::random::<u16>()),
        progress: opts.progress,
        accept_encoding: opts.accept_encoding,
    });
    let catalog = Arc::new(catalog);
    let server_pid = opts.server_pid.or_else(|| loopback_listener(&url));
    let mut reports = Vec::new();
    for (i, name) in list.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(opts.pause).await;
        }
        reports.push(run_scenario(*name, opts, server_pid, settings.clone(), catalog.clone()).await?);
    }
    Ok(SuiteReport {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        host: opts.host.clone(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        scale: opts.scale,
        passed: reports.iter().all(|r| r.passed),
        scenarios: reports,
    })
}

/// The process listening on `url`'s port, when `url` names this machine and it can be seen.
fn loopback_listener(url: &reqwest::Url) -> Option<u32> {
    let host = url.host_str()?;
    let local = host == "localhost"
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !local {
        return None;
    }
    process::listener_pid(url.port_or_known_default()?)
}

async fn run_scenario(
    name: ScenarioName,
    opts: &Options,
    server_pid: Option<u32>,
    settings: Arc<RunSettings>,
    catalog: Arc<Catalog>,
) -> anyhow::Result<ScenarioReport> {
    let def = scenarios::definition(name);
    let shape = opts.shape_of(name);
    let thresholds = def.thresholds.with_overrides(name, &opts.overrides);
    if opts.progress {
        eprintln!("== {name}: {}", shape.describe());
    }
    let ctx = Arc::new(Ctx::new(settings, catalog, shape.secs())?);
    // A server inside this process (the tests') has no CPU time of its own to report.
    let cpu_pid = server_pid.filter(|&p| p != std::process::id());
    let cpu_before = (cpu_pid.and_then(process::cpu_secs), process::cpu_secs(std::process::id()));
    let connections = match shape {
        Shape::Connections { connections, baseline_secs, hold_secs, steady_rate } => {
            let copts = ConnectionsOptions { steady_path: opts.steady_path.clone(), server_pid };
            let work = connections::run(ctx.clone(), connections, baseline_secs, hold_secs, steady_rate, &copts);
            Some(engine::monitored(name, &ctx, cpu_pid, work).await?)
        }
        _ => {
            engine::monitored(name, &ctx, cpu_pid, engine::run(name, &shape, &ctx)).await;
            None
        }
    };
    let elapsed = ctx.recorder.start().elapsed().as_secs_f64();
    let used = |before: Option<f64>, now: Option<f64>| Some(now? - before?);
    let server_cpu_secs = used(cpu_before.0, cpu_pid.and_then(process::cpu_secs));
    let client_cpu_secs = used(cpu_before.1, process::cpu_secs(std::process::id()));
    let m = ctx.recorder.measurements();
    let checks = thresholds.evaluate(&Observed {
        requests: m.requests,
        errors: m.errors,
        p95_ms: m.latency.p95,
        p99_ms: m.latency.p99,
    });
    Ok(ScenarioReport {
        name: name.as_str().into(),
        requests_description: def.requests.into(),
        shape_description: shape.describe(),
        shape,
        elapsed_secs: elapsed,
        requests: m.requests,
        errors: m.errors,
        error_rate: if m.requests == 0 { 0.0 } else { m.errors as f64 / m.requests as f64 },
        throughput: if elapsed > 0.0 { m.requests as f64 / elapsed } else { 0.0 },
        latency: m.latency,
        labels: m.labels,
        timeline: m.timeline,
        errors_by_kind: m.errors_by_kind,
        slowest: m.slowest,
        passed: checks.iter().all(|c| c.passed),
        thresholds: checks,
        connections,
        server_cpu_secs,
        client_cpu_secs,
    })
}
