//! The many-connections scenario: a steady open-loop stream of a cached read is measured alone, then while
//! thousands of keep-alive connections are opened (each proven by a request) and held idle; at the end every
//! held connection must still answer. The server's resident memory is sampled throughout.
//!
//! Held connections use hyper's connection-level client directly: one TCP connection each, under our
//! control, instead of a pool that might quietly reuse or close them.

use crate::engine::{self, Ctx, Vu};
use crate::metrics::{Failure, Latency, Recorder};
use crate::process;
use crate::scenarios::reads::HOME_LIST_SHAPE;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Connections opened at once. Kept well under the accept backlog of a server bound with tokio's or the
/// standard library's `TcpListener::bind` (128): a full accept queue drops SYNs, and each drop costs the
/// client a one-second retransmission that would be measured as the server's latency.
const OPEN_CONCURRENCY: usize = 64;
/// Descriptors kept free beyond the held connections (steady stream, files, the runtime).
const FD_MARGIN: u64 = 512;
/// The cheap request that proves each held connection is served.
const PROBE_PATH: &str = "/api/health/live";

/// Steady-stream labels, by phase; only the holding phase counts toward the scenario's percentiles.
pub const STEADY_LABELS: [&str; 4] =
    ["GET steady (baseline)", "GET steady (opening)", "GET steady (holding)", "GET steady (checking)"];
const HOLDING: u8 = 2;

/// What the connections scenario measured beyond the usual request statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsReport {
    /// Connections asked for.
    pub requested: u32,
    /// Connections opened and answered their first request.
    pub opened: u32,
    /// Of those, still open when the hold ended.
    pub open_after_hold: u32,
    /// Of those, answered a request after the hold.
    pub answered_after_hold: u32,
    /// Time to open them all, seconds.
    pub open_secs: f64,
    /// File-descriptor soft limit of the load tool after raising it.
    pub fd_soft_limit: Option<u64>,
    /// File-descriptor hard limit of the load tool.
    pub fd_hard_limit: Option<u64>,
    /// The server process whose memory was sampled.
    pub server_pid: Option<u32>,
    /// Server RSS before opening the connections, KiB.
    pub server_rss_baseline_kib: Option<u64>,
    /// Server RSS with every connection open, KiB.
    pub server_rss_held_kib: Option<u64>,
    /// Server anonymous (private) resident memory before opening the connections, KiB: RSS without
    /// mapped files such as an mmap-ed SQLite database.
    #[serde(default)]
    pub server_anon_baseline_kib: Option<u64>,
    /// Server anonymous resident memory with every connection open, KiB.
    #[serde(default)]
    pub server_anon_held_kib: Option<u64>,
    /// Highest server RSS seen, KiB.
    pub server_rss_peak_kib: Option<u64>,
    /// Highest RSS of the load tool itself, KiB.
    pub client_rss_peak_kib: Option<u64>,
    /// Steady-stream latency before any connection was held.
    pub steady_baseline: Latency,
    /// Steady-stream latency while every connection was held.
    pub steady_held: Latency,
    /// Anything that qualifies the numbers.
    pub notes: Vec<String>,
}

/// Options of the scenario that are not part of its shape.
#[derive(Debug, Clone)]
pub struct ConnectionsOptions {
    /// Path of the steady stream's request.
    pub steady_path: String,
    /// The server process to sample (found by its listening port when absent).
    pub server_pid: Option<u32>,
}

/// Runs the scenario: `connections` held for `hold_secs` after `baseline_secs` of steady stream alone.
pub async fn run(
    ctx: Arc<Ctx>,
    connections: u32,
    baseline_secs: f64,
    hold_secs: f64,
    steady_rate: f64,
    opts: &ConnectionsOptions,
) -> anyhow::Result<ConnectionsReport> {
    let mut report = ConnectionsReport { requested: connections, ..ConnectionsReport::default() };
    raise_fd_limit(&mut report, connections);
    let url = reqwest::Url::parse(&ctx.settings.base)?;
    let host = url.host_str().ok_or_else(|| anyhow::anyhow!("--host has no host name"))?.to_owned();
    let port = url.port_or_known_default().ok_or_else(|| anyhow::anyhow!("--host has no port"))?;
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{host} does not resolve"))?;
    let authority = format!("{host}:{port}");

    report.server_pid =
        opts.server_pid.or_else(|| if addr.ip().is_loopback() { process::listener_pid(port) } else { None });
    match report.server_pid {
        Some(pid) if pid == std::process::id() => {
            report.notes.push("the server runs inside the load tool's process: its RSS includes the tool's".into());
        }
        Some(_) => {}
        None => report.notes.push("server process not found (pass --server-pid): no server memory figures".into()),
    }
    let peaks = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let sampler = tokio::spawn(sample_memory(report.server_pid, peaks.clone()));

    // The steady stream runs through every phase; its label says which.
    let phase = Arc::new(AtomicU8::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let steady = {
        let (ctx, phase, stop, path) = (ctx.clone(), phase.clone(), stop.clone(), opts.steady_path.clone());
        // Bounded even if a phase hangs: the stream gives up ten minutes after the planned end.
        let limit = baseline_secs + hold_secs + 600.0;
        tokio::spawn(async move {
            let iteration = move |mut vu: Vu| {
                let p = phase.load(Ordering::Relaxed);
                let req = vu.get(&path);
                async move {
                    let label = STEADY_LABELS[usize::from(p).min(STEADY_LABELS.len() - 1)];
                    vu.send_shaped(label, p == HOLDING, req, HOME_LIST_SHAPE).await;
                }
            };
            engine::open_loop(&ctx, steady_rate, limit, 1000, stop, iteration).await;
        })
    };

    tokio::time::sleep(Duration::from_secs_f64(baseline_secs)).await;
    report.server_rss_baseline_kib = report.server_pid.and_then(process::rss_kib);
    report.server_anon_baseline_kib = report.server_pid.and_then(process::anon_kib);

    phase.store(1, Ordering::Relaxed);
    let alive = Arc::new(AtomicU32::new(0));
    let opened_at = Instant::now();
    let mut held = open_all(&ctx, addr, &authority, connections, &alive).await;
    report.open_secs = opened_at.elapsed().as_secs_f64();
    report.opened = held.len() as u32;
    report.server_rss_held_kib = report.server_pid.and_then(process::rss_kib);
    report.server_anon_held_kib = report.server_pid.and_then(process::anon_kib);

    phase.store(HOLDING, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(hold_secs)).await;
    report.open_after_hold = alive.load(Ordering::Relaxed);

    phase.store(3, Ordering::Relaxed);
    report.answered_after_hold = check_all(&ctx, &mut held, &authority).await;
    stop.store(true, Ordering::Relaxed);
    let _ = steady.await;
    drop(held);
    sampler.abort();

    let (server_peak, client_peak) = (peaks.0.load(Ordering::Relaxed), peaks.1.load(Ordering::Relaxed));
    report.server_rss_peak_kib = (server_peak > 0).then_some(server_peak);
    report.client_rss_peak_kib = (client_peak > 0).then_some(client_peak);
    let m = ctx.recorder.measurements();
    let steady_latency =
        |label: &str| m.labels.iter().find(|l| l.label == label).map(|l| l.latency).unwrap_or_default();
    report.steady_baseline = steady_latency(STEADY_LABELS[0]);
    report.steady_held = steady_latency(STEADY_LABELS[2]);
    if report.opened < connections {
        report.notes.push(format!(
            "only {} of {connections} connections opened: see the errors (a server or tool file-descriptor limit, \
             or the accept backlog, are the usual causes)",
            report.opened
        ));
    }
    Ok(report)
}

/// Raises this process's descriptor soft limit to the hard limit (no `unsafe`: the `rlimit` crate).
fn raise_fd_limit(report: &mut ConnectionsReport, connections: u32) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => report.fd_soft_limit = Some(soft),
        Err(e) => report.notes.push(format!("could not raise the file-descriptor limit: {e}")),
    }
    report.fd_hard_limit = rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(_, hard)| hard);
    if let Some(soft) = report.fd_soft_limit
        && soft < u64::from(connections) + FD_MARGIN
    {
        report.notes.push(format!("the load tool may open only about {soft} descriptors"));
    }
}

/// Samples the server's and our own RSS every 250 ms, keeping the peaks (KiB).
async fn sample_memory(server: Option<u32>, peaks: Arc<(AtomicU64, AtomicU64)>) {
    let me = std::process::id();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if let Some(kib) = server.and_then(process::rss_kib) {
            peaks.0.fetch_max(kib, Ordering::Relaxed);
        }
        if let Some(kib) = process::rss_kib(me) {
            peaks.1.fetch_max(kib, Ordering::Relaxed);
        }
    }
}

type Held = SendRequest<Empty<Bytes>>;

/// Opens `n` connections, each proven by one request; returns those that worked.
async fn open_all(ctx: &Ctx, addr: SocketAddr, authority: &str, n: u32, alive: &Arc<AtomicU32>) -> Vec<Held> {
    let timeout = ctx.settings.timeout;
    futures::stream::iter(0..n)
        .map(|_| async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(timeout, open_one(addr, authority, alive.clone())).await {
                Ok(r) => r,
                Err(_) => Err(Failure::new("timeout", format!("no answer within {timeout:?}"))),
            };
            record(&ctx.recorder, "open connection + GET /api/health/live", started, outcome)
        })
        .buffer_unordered(OPEN_CONCURRENCY)
        .filter_map(|c| async move { c })
        .collect()
        .await
}

fn record<T>(rec: &Recorder, label: &'static str, started: Instant, outcome: Result<T, Failure>) -> Option<T> {
    match outcome {
        Ok(v) => {
            rec.record(label, started.elapsed(), Ok(()), false);
            Some(v)
        }
        Err(f) => {
            rec.record(label, started.elapsed(), Err(f), false);
            None
        }
    }
}

async fn open_one(addr: SocketAddr, authority: &str, alive: Arc<AtomicU32>) -> Result<Held, Failure> {
    let stream =
        tokio::net::TcpStream::connect(addr).await.map_err(|e| Failure::new("connect error", e.to_string()))?;
    // Small requests: do not let Nagle's algorithm hold them back.
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::new("handshake error", e.to_string()))?;
    alive.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        // Resolves when the connection closes (by the server, or when we drop the sender).
        let _ = conn.await;
        alive.fetch_sub(1, Ordering::Relaxed);
    });
    probe(&mut sender, authority).await?;
    Ok(sender)
}

/// One keep-alive request on a held connection.
async fn probe(sender: &mut Held, authority: &str) -> Result<(), Failure> {
    sender.ready().await.map_err(|e| Failure::new("connection closed", e.to_string()))?;
    let req = hyper::Request::get(PROBE_PATH)
        .header(hyper::header::HOST, authority)
        .body(Empty::new())
        .map_err(|e| Failure::new("bad request", e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(|e| Failure::new("request failed", e.to_string()))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| Failure::new("body error", e.to_string()))?.to_bytes();
    if !status.is_success() {
        return Err(Failure::new(format!("HTTP {}", status.as_u16()), String::from_utf8_lossy(&body).into_owned()));
    }
    Ok(())
}

/// Sends one request on every held connection; returns how many answered.
async fn check_all(ctx: &Ctx, held: &mut [Held], authority: &str) -> u32 {
    let timeout = ctx.settings.timeout;
    futures::stream::iter(held.iter_mut())
        .map(|sender| async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(timeout, probe(sender, authority)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::new("timeout", format!("no answer within {timeout:?}"))),
            };
            record(&ctx.recorder, "GET /api/health/live on a held connection", started, outcome).is_some()
        })
        .buffer_unordered(OPEN_CONCURRENCY)
        .fold(0u32, |n, ok| async move { n + u32::from(ok) })
        .await
}
