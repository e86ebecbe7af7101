//! The engine: runs a scenario's iterations under its load shape (closed-loop staged users, open-loop
//! constant arrival rate, or shared iterations), keeps the active-user gauge and prints progress.

use crate::body_check::Want;
use crate::catalog::Catalog;
use crate::http::{self, Encoding, Reply};
use crate::metrics::{Failure, Recorder};
use crate::process;
use crate::scenarios::{self, ScenarioName};
use crate::shape::Shape;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use reqwest::{Client, RequestBuilder};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

/// Settings every scenario reads.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Pause after each closed-loop iteration.
    pub think_time: Duration,
    /// Path of the health scenario's endpoint.
    pub health_path: String,
    /// Unique per run: makes the journey's sign-up emails unique across runs.
    pub run_id: String,
    /// Print a progress line per second to stderr.
    pub progress: bool,
    /// The `Accept-Encoding` of the hot scenario's requests.
    pub accept_encoding: Option<Encoding>,
}

/// Shared state of one running scenario.
pub struct Ctx {
    /// The run's settings.
    pub settings: Arc<RunSettings>,
    /// Where samples go.
    pub recorder: Recorder,
    /// What the server holds (pitch ids, filter values, NDA pitches).
    pub catalog: Arc<Catalog>,
    /// Client shared by open-loop arrivals (a pool of keep-alive connections).
    pub shared: Client,
    /// Virtual users or arrivals currently running.
    pub active: AtomicU32,
    /// A counter for unique names.
    pub seq: AtomicU64,
    /// How long the scenario's shape runs, seconds (scenarios that change what they request over time
    /// read it).
    pub secs: f64,
}

impl Ctx {
    /// A fresh context, for a shape of `secs` seconds, whose recorder's clock starts now.
    pub fn new(settings: Arc<RunSettings>, catalog: Arc<Catalog>, secs: f64) -> anyhow::Result<Ctx> {
        Ok(Ctx {
            shared: http::client(settings.timeout, false)?,
            settings,
            recorder: Recorder::new()?,
            catalog,
            active: AtomicU32::new(0),
            seq: AtomicU64::new(0),
            secs,
        })
    }
}

/// Counts a running user for the gauge while alive.
struct Active<'a>(&'a AtomicU32);

impl<'a> Active<'a> {
    fn new(a: &'a AtomicU32) -> Active<'a> {
        a.fetch_add(1, Ordering::Relaxed);
        Active(a)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One virtual user: its own client (own connections, optionally a cookie jar) and random numbers.
pub struct Vu {
    /// Index of the user (or arrival).
    pub id: u64,
    /// The scenario.
    pub ctx: Arc<Ctx>,
    /// This user's client.
    pub client: Client,
    /// This user's random numbers.
    pub rng: SmallRng,
    /// The creator's signed-in client, for journeys (created on first use).
    pub creator: Option<Client>,
    /// This user's own signed-in client and the portal it signed in to (the hot scenario's dashboards).
    pub signed_in: Option<(Client, &'static str)>,
    intended: Option<Instant>,
    /// The last body [`Vu::send_light`] checked and passed.
    light_known: Option<bytes::Bytes>,
}

impl Vu {
    /// A user with a client of its own (anonymous: journeys make their own signed-in clients).
    pub fn new(id: u64, ctx: Arc<Ctx>) -> anyhow::Result<Vu> {
        let client = http::client(ctx.settings.timeout, false)?;
        Ok(Vu { id, client, rng: seeded(id), creator: None, signed_in: None, intended: None, light_known: None, ctx })
    }

    /// An open-loop arrival on the shared client, due at `intended`.
    fn arrival(id: u64, ctx: Arc<Ctx>, intended: Instant) -> Vu {
        Vu {
            id,
            client: ctx.shared.clone(),
            rng: seeded(id),
            creator: None,
            signed_in: None,
            intended: Some(intended),
            light_known: None,
            ctx,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ctx.settings.base)
    }

    /// A GET of `path` on this user's client.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    /// Sends and records a request whose latency counts toward the scenario's percentiles. The first
    /// request of an open-loop arrival is timed from its intended start.
    pub async fn send(
        &mut self,
        label: &'static str,
        req: RequestBuilder,
        check: impl FnOnce(&Reply) -> Result<(), String>,
    ) -> Option<Reply> {
        self.send_as(label, true, req, check).await
    }

    /// Like [`Vu::send`], choosing whether the latency counts toward the scenario's percentiles.
    pub async fn send_as(
        &mut self,
        label: &'static str,
        primary: bool,
        req: RequestBuilder,
        check: impl FnOnce(&Reply) -> Result<(), String>,
    ) -> Option<Reply> {
        let started = self.intended.take().unwrap_or_else(Instant::now);
        http::send(&self.ctx.recorder, label, req, started, primary, check).await
    }

    /// Sends and records a read whose reply is not needed, checking the body's shape in one pass
    /// ([`http::send_shaped`]); its latency counts toward the scenario's percentiles when `primary`.
    pub async fn send_shaped(
        &mut self,
        label: &'static str,
        primary: bool,
        req: RequestBuilder,
        wants: &[(&str, Want)],
    ) -> bool {
        let started = self.intended.take().unwrap_or_else(Instant::now);
        http::send_shaped(&self.ctx.recorder, label, req, started, primary, wants).await
    }

    /// Sends a request whose body is only checked for the envelope's success ([`http::send_light`]), timed
    /// like [`Vu::send_as`].
    pub async fn send_light(&mut self, label: &'static str, primary: bool, req: RequestBuilder) -> bool {
        let started = self.intended.take().unwrap_or_else(Instant::now);
        http::send_light(&self.ctx.recorder, label, req, started, primary, &mut self.light_known).await
    }

    /// Records a step outside the percentiles (whole-journey timing, a failed precondition).
    pub fn note(&self, label: &'static str, latency: Duration, outcome: Result<(), Failure>) {
        self.ctx.recorder.record(label, latency, outcome, false);
    }

    /// A number unique within the scenario.
    pub fn next_seq(&self) -> u64 {
        self.ctx.seq.fetch_add(1, Ordering::Relaxed)
    }
}

fn seeded(id: u64) -> SmallRng {
    // Reproducible per user within a run, different between users.
    SmallRng::seed_from_u64(0x5eed_0000_0000 ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Runs `kind`'s iterations under `shape`. Connection-holding shapes have their own driver
/// ([`crate::connections::run`]) and do nothing here.
pub async fn run(kind: ScenarioName, shape: &Shape, ctx: &Arc<Ctx>) {
    match shape {
        Shape::Users { .. } => closed_loop(kind, shape, ctx).await,
        Shape::Arrival { rate, secs, max_in_flight } => {
            let never = Arc::new(AtomicBool::new(false));
            open_loop(ctx, *rate, *secs, *max_in_flight, never, move |mut vu: Vu| async move {
                scenarios::iteration(kind, &mut vu).await;
            })
            .await;
        }
        Shape::Iterations { users, iterations, max_secs } => {
            shared_iterations(kind, *users, *iterations, *max_secs, ctx).await
        }
        Shape::Connections { .. } => {}
    }
}

/// Runs `work` while keeping the active-user gauge and printing progress; returns its output.
pub async fn monitored<T>(
    kind: ScenarioName,
    ctx: &Arc<Ctx>,
    server_pid: Option<u32>,
    work: impl Future<Output = T>,
) -> T {
    let monitor = tokio::spawn(monitor(kind, ctx.clone(), server_pid));
    let out = work.await;
    monitor.abort();
    ctx.recorder.gauge_users(ctx.active.load(Ordering::Relaxed));
    out
}

/// Keeps the active-user and CPU gauges (the CPU of `server_pid` too, when given) and prints a line per
/// second.
async fn monitor(kind: ScenarioName, ctx: Arc<Ctx>, server_pid: Option<u32>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut printed = 0usize;
    loop {
        tick.tick().await;
        let users = ctx.active.load(Ordering::Relaxed);
        ctx.recorder.gauge_users(users);
        ctx.recorder.gauge_cpu(server_pid.and_then(process::cpu_secs), process::cpu_secs(std::process::id()));
        let now = ctx.recorder.start().elapsed().as_secs() as usize;
        if ctx.settings.progress && now > printed {
            let (req, err, p95) = ctx.recorder.second_stats(now - 1);
            eprintln!(
                "[{:<11}] {now:>4} s  users {users:>4}  req/s {req:>6}  errors {err:>4}  p95 {p95:>8.1} ms",
                kind
            );
            printed = now;
        }
    }
}

/// A closed-loop user; a client that cannot be built is recorded as a failure.
fn start_user(id: u64, ctx: &Arc<Ctx>) -> Option<Vu> {
    match Vu::new(id, ctx.clone()) {
        Ok(vu) => Some(vu),
        Err(e) => {
            ctx.recorder.record("start user", Duration::ZERO, Err(Failure::new("client", e.to_string())), false);
            None
        }
    }
}

/// How long stragglers may finish after the shape ends.
fn grace(ctx: &Ctx) -> Duration {
    ctx.settings.timeout.min(Duration::from_secs(30)) + Duration::from_secs(1)
}

/// Waits for `tasks` until `deadline`, then aborts what is left.
async fn drain(tasks: Vec<JoinHandle<()>>, deadline: tokio::time::Instant) {
    for mut t in tasks {
        if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
            t.abort();
        }
    }
}

/// Closed loop: a controller sets the wanted number of users every 100 ms; user `i` runs while `i` is below
/// it, and is (re)started when it is.
async fn closed_loop(kind: ScenarioName, shape: &Shape, ctx: &Arc<Ctx>) {
    let start = ctx.recorder.start();
    let total = shape.secs();
    let target = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut users: Vec<Option<JoinHandle<()>>> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let t = start.elapsed().as_secs_f64();
        if t >= total {
            break;
        }
        let n = shape.users_at(t);
        target.store(n, Ordering::Relaxed);
        for i in 0..n as usize {
            if users.len() <= i {
                users.push(None);
            }
            if users[i].as_ref().is_none_or(JoinHandle::is_finished) {
                let (ctx, target, stop) = (ctx.clone(), target.clone(), stop.clone());
                users[i] = Some(tokio::spawn(async move {
                    let _active = Active::new(&ctx.active);
                    let Some(mut vu) = start_user(i as u64, &ctx) else { return };
                    while !stop.load(Ordering::Relaxed) && (i as u32) < target.load(Ordering::Relaxed) {
                        scenarios::iteration(kind, &mut vu).await;
                        think(&ctx).await;
                    }
                }));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    target.store(0, Ordering::Relaxed);
    drain(users.into_iter().flatten().collect(), tokio::time::Instant::now() + grace(ctx)).await;
}

async fn think(ctx: &Ctx) {
    if !ctx.settings.think_time.is_zero() {
        tokio::time::sleep(ctx.settings.think_time).await;
    }
}

/// Open loop: iteration `i` is due at `start + i / rate` whether or not earlier ones have finished, until
/// `secs` pass or `stop` is set. Each is timed from when it was due, so a server that falls behind shows its
/// queueing in the latency instead of silently lowering the request rate (coordinated omission). At most
/// `max_in_flight` run at once; an arrival that cannot start before the run's grace period ends is dropped
/// and counted as an error.
pub async fn open_loop<F, Fut>(
    ctx: &Arc<Ctx>,
    rate: f64,
    secs: f64,
    max_in_flight: u32,
    stop: Arc<AtomicBool>,
    iteration: F,
) where
    F: Fn(Vu) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = tokio::time::Instant::from_std(ctx.recorder.start());
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1) as usize));
    let total = (rate * secs).floor().max(1.0) as u64;
    let give_up = start + Duration::from_secs_f64(secs) + grace(ctx);
    let iteration = Arc::new(iteration);
    let mut tasks = JoinSet::new();
    let mut dropped = 0;
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(Ok(slot)) = tokio::time::timeout_at(give_up, slots.clone().acquire_owned()).await else {
            dropped = total - i;
            break;
        };
        let (ctx, iteration) = (ctx.clone(), iteration.clone());
        tasks.spawn(async move {
            let _slot = slot;
            let _active = Active::new(&ctx.active);
            iteration(Vu::arrival(i, ctx.clone(), due.into_std())).await;
        });
        while tasks.try_join_next().is_some() {}
    }
    for _ in 0..dropped {
        ctx.recorder.record(
            "dropped arrival",
            Duration::ZERO,
            Err(Failure::new("not started: all slots busy", format!("{max_in_flight} iterations in flight"))),
            false,
        );
    }
    let deadline = tokio::time::Instant::now() + grace(ctx);
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {}
    tasks.abort_all();
}

/// `users` users take iterations from a shared budget until it is spent or `max_secs` pass; iterations left
/// at the time limit are counted as errors (the server was too slow to finish the work).
async fn shared_iterations(kind: ScenarioName, users: u32, iterations: u64, max_secs: f64, ctx: &Arc<Ctx>) {
    let left = Arc::new(AtomicU64::new(iterations));
    let deadline = ctx.recorder.start() + Duration::from_secs_f64(max_secs);
    let mut tasks = Vec::new();
    for i in 0..users.max(1) {
        let (ctx, left) = (ctx.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let _active = Active::new(&ctx.active);
            let Some(mut vu) = start_user(u64::from(i), &ctx) else { return };
            while Instant::now() < deadline
                && left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
            {
                scenarios::iteration(kind, &mut vu).await;
                think(&ctx).await;
            }
        }));
    }
    drain(tasks, tokio::time::Instant::from_std(deadline) + grace(ctx)).await;
    let unfinished = left.load(Ordering::Relaxed);
    for _ in 0..unfinished {
        ctx.recorder.record(
            "unstarted iteration",
            Duration::ZERO,
            Err(Failure::new("time limit reached", format!("{max_secs} s"))),
            false,
        );
    }
}
