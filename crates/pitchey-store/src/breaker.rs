//! A circuit breaker per database endpoint. Closed: calls pass and outcomes are counted over a sliding
//! window. Open (after the failure rate crosses the threshold over enough calls): calls fail fast until the
//! cool-down ends. Half-open: one probe call is let through; success closes the circuit, failure reopens it.
//! Only outages (unreachable, timed out) count as failures — a constraint violation is a healthy answer.
//!
//! The window is [`BUCKETS`] time buckets of calls and failures, so recording an outcome costs the same at
//! any call rate. (It was a queue of every outcome, recounted on each call: at a few thousand statements a
//! second that was tens of thousands of entries walked per statement, 2% of the server's CPU.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Failure share (0..1) that opens the circuit.
    pub failure_rate: f64,
    /// Fewest calls in the window before the rate is judged.
    pub min_calls: usize,
    /// Length of the sliding window.
    pub window: Duration,
    /// How long the circuit stays open before a probe.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_rate: 0.5,
            min_calls: 5,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
        }
    }
}

/// The breaker's state, for health and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// One probe may pass.
    HalfOpen,
    /// Calls fail fast.
    Open,
}

impl BreakerState {
    /// Name for health output.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }

    /// Numeric value for the metrics gauge (0 closed, 1 half-open, 2 open).
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// `probe`: the number of the probe let through, if one is in flight.
    HalfOpen {
        probe: Option<u64>,
    },
}

/// How many buckets the sliding window is split into: the window is the current bucket and the
/// `BUCKETS - 1` before it, so an outcome leaves it between `window × (1 - 1/BUCKETS)` and `window` after it
/// was recorded.
pub const BUCKETS: usize = 10;

/// Outcomes of the calls of one time bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which bucket since the breaker was made (time / bucket length); a slot holding an older one is stale.
    index: u64,
    calls: usize,
    failures: usize,
}

/// The sliding window: bucket `i` lives in slot `i % BUCKETS`.
#[derive(Debug, Default)]
struct Window {
    slots: [Bucket; BUCKETS],
}

impl Window {
    /// Counts one outcome in bucket `index`; returns the calls and failures of the window ending there.
    fn record(&mut self, index: u64, ok: bool) -> (usize, usize) {
        let slot = &mut self.slots[(index % BUCKETS as u64) as usize];
        if slot.index != index {
            *slot = Bucket { index, calls: 0, failures: 0 };
        }
        slot.calls += 1;
        slot.failures += usize::from(!ok);
        let oldest = index.saturating_sub(BUCKETS as u64 - 1);
        self.slots
            .iter()
            .filter(|b| b.index >= oldest && b.calls > 0)
            .fold((0, 0), |(calls, failures), b| (calls + b.calls, failures + b.failures))
    }

    fn clear(&mut self) {
        self.slots = Default::default();
    }
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    window: Window,
    /// Probes let through so far: numbers them, so that an abandoned probe frees only its own place.
    probes: u64,
}

/// Leave for one call ([`Breaker::allow`]); its outcome goes back through [`Permit::record`]. A permit
/// dropped unrecorded is a call given up on (its request gone, or a sibling query that failed first): no
/// outcome is counted, and if it is still the half-open probe in flight, its place goes to the next call.
/// Without that, a probe abandoned mid-flight would hold the circuit half-open, refusing every call, for
/// good.
#[derive(Debug)]
#[must_use = "a permit records the call's outcome"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    /// The probe's number, for a half-open probe.
    probe: Option<u64>,
    recorded: bool,
}

impl Permit<'_> {
    /// Records the call's outcome (`ok` = not an outage).
    pub fn record(mut self, ok: bool) {
        self.recorded = true;
        self.breaker.record(ok);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let (Some(n), false) = (self.probe, self.recorded) {
            self.breaker.abandon_probe(n);
        }
    }
}

/// One endpoint's breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    /// Time zero of the window's buckets.
    born: Instant,
    /// The window's length over [`BUCKETS`], at least a microsecond.
    bucket: Duration,
    inner: Mutex<Inner>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: BreakerConfig) -> Self {
        Breaker {
            cfg,
            born: Instant::now(),
            bucket: (cfg.window / BUCKETS as u32).max(Duration::from_micros(1)),
            inner: Mutex::new(Inner { phase: Phase::Closed, window: Window::default(), probes: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere mid-update; the state is still usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May a call go ahead now? A [`Permit`] to record its outcome with, or `Err(wait)` when the circuit is
    /// open.
    pub fn allow(&self) -> Result<Permit<'_>, Duration> {
        let mut s = self.lock();
        let now = Instant::now();
        let probe = match s.phase {
            Phase::Closed => None,
            Phase::Open { until } if now < until => return Err(until - now),
            Phase::Open { .. } | Phase::HalfOpen { probe: None } => {
                s.probes += 1;
                s.phase = Phase::HalfOpen { probe: Some(s.probes) };
                Some(s.probes)
            }
            Phase::HalfOpen { probe: Some(_) } => return Err(Duration::from_millis(500)),
        };
        Ok(Permit { breaker: self, probe, recorded: false })
    }

    /// Probe number `n` given up before its outcome: if it is still the one in flight, the next call may
    /// probe instead.
    fn abandon_probe(&self, n: u64) {
        let mut s = self.lock();
        if let Phase::HalfOpen { probe: Some(current) } = s.phase
            && current == n
        {
            s.phase = Phase::HalfOpen { probe: None };
        }
    }

    /// Records the outcome of an allowed call (`ok` = not an outage): through its [`Permit`], or directly
    /// for the statements of a transaction, which are admitted with its `BEGIN` and not gated again.
    pub(crate) fn record(&self, ok: bool) {
        let mut s = self.lock();
        let now = Instant::now();
        match s.phase {
            Phase::HalfOpen { .. } => {
                if ok {
                    s.phase = Phase::Closed;
                    s.window.clear();
                } else {
                    s.phase = Phase::Open { until: now + self.cfg.open_for };
                }
            }
            Phase::Open { .. } => {}
            Phase::Closed => {
                let index = (now.duration_since(self.born).as_nanos() / self.bucket.as_nanos()) as u64;
                let (total, failed) = s.window.record(index, ok);
                if total >= self.cfg.min_calls && failed as f64 / total as f64 >= self.cfg.failure_rate {
                    s.phase = Phase::Open { until: now + self.cfg.open_for };
                    s.window.clear();
                }
            }
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
            Phase::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cool-downs long enough that a test paused by a busy machine between two steps does not see the
    /// breaker half-open where it expects it open.
    fn quick() -> Breaker {
        Breaker::new(BreakerConfig { min_calls: 4, open_for: Duration::from_millis(250), ..BreakerConfig::default() })
    }

    /// A quick breaker opened by failures and past its cool-down: the next call probes.
    fn cooled_down() -> Breaker {
        let b = quick();
        for _ in 0..4 {
            b.record(false);
        }
        std::thread::sleep(Duration::from_millis(300));
        b
    }

    #[test]
    fn opens_on_failure_rate_then_probes_and_closes() {
        let b = quick();
        b.record(true);
        b.record(false);
        b.record(true);
        assert_eq!(b.state(), BreakerState::Closed, "under min_calls or rate");
        b.record(false);
        assert_eq!(b.state(), BreakerState::Open, "2 of 4 failed");
        assert!(b.allow().is_err());
        std::thread::sleep(Duration::from_millis(300));
        let probe = b.allow().expect("one probe after the cool-down");
        assert!(b.allow().is_err(), "only one probe at a time");
        probe.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow().is_ok());
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = cooled_down();
        let probe = b.allow().expect("a probe");
        assert!(b.allow().is_err(), "only one probe at a time");
        drop(probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.allow().expect("the next call probes").record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        // An abandoned call while closed counts for nothing.
        drop(b.allow().expect("closed"));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_stale_probe_frees_only_its_own_place() {
        let b = cooled_down();
        let first = b.allow().expect("probe 1");
        // The circuit opens again meanwhile (a transaction's statement records a failure directly)...
        b.record(false);
        std::thread::sleep(Duration::from_millis(300));
        let second = b.allow().expect("probe 2");
        // ...and the first probe, given up late, must not let a third call in beside the second.
        drop(first);
        assert!(b.allow().is_err(), "probe 2 is still in flight");
        second.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let b = cooled_down();
        b.allow().expect("a probe").record(false);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn outcomes_leave_the_window() {
        let b = Breaker::new(BreakerConfig {
            min_calls: 4,
            window: Duration::from_millis(400),
            open_for: Duration::from_millis(250),
            ..BreakerConfig::default()
        });
        for _ in 0..3 {
            b.record(false);
        }
        // Past the window, the three failures no longer count: one more is 1 of 1, under
        // min_calls, and three successes after it make 1 of 4.
        std::thread::sleep(Duration::from_millis(500));
        b.record(false);
        for _ in 0..3 {
            b.record(true);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // Within the window they add up: 3 failures of 6 calls.
        b.record(false);
        b.record(false);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn window_counts_only_its_own_buckets() {
        let mut w = Window::default();
        assert_eq!(w.record(0, false), (1, 1));
        assert_eq!(w.record(0, true), (2, 1));
        assert_eq!(w.record(BUCKETS as u64 - 1, true), (3, 1), "bucket 0 is still in the window");
        assert_eq!(w.record(BUCKETS as u64, true), (2, 0), "bucket 0 has left it");
        assert_eq!(w.record(3 * BUCKETS as u64, false), (1, 1), "a reused slot starts empty");
    }

    #[test]
    fn healthy_traffic_never_opens() {
        let b = quick();
        for _ in 0..1000 {
            b.allow().expect("closed").record(true);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
