//! The application state shared by every handler.

use crate::config::Settings;
use crate::health::Health;
use crate::observability::RouteStats;
use crate::ratelimit::LoginLimiter;
use ipnet::IpNet;
use pitchey_cache::{Cache, Ns};
use pitchey_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::Instant;

tokio::task_local! {
    /// Whether the current request still owes the cached dashboards their invalidation. Set by
    /// `app::handler_middleware` for a write that changes them, and cleared by the first invalidation of
    /// public pages ([`AppState::pitches_changed`]), which takes the dashboards along: a write then waits
    /// for one round of every node's acknowledgements instead of two. The middleware invalidates whatever is
    /// still owed after the handler.
    pub static DASHBOARDS_OWED: std::cell::Cell<bool>;
}

/// Where the process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Migrating, seeding, warming: not ready.
    Starting,
    /// Serving.
    Ready,
    /// Shutting down: not ready, finishing in-flight requests.
    Draining,
}

/// Cloneable handle to everything a request may need: one reference count, however many parts. Every
/// request clones it several times (each `from_fn` middleware and each `State` extractor), which with a
/// struct of a dozen `Arc`s was about 5% of the server's CPU on small responses. Derefs to [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What an [`AppState`] holds.
pub struct Shared {
    /// Storage.
    pub store: Store,
    /// The two-tier cache.
    pub cache: Cache,
    /// Compressed copies of cached response bodies.
    pub compressed: crate::caching::CompressedBodies,
    /// Settings in effect.
    pub settings: Arc<Settings>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Per-address limiter for logins and sign-ups (absent when disabled).
    pub login_limiter: Option<Arc<LoginLimiter>>,
    /// An argon2id hash verified when an email is unknown, so a miss costs as much as a wrong password.
    pub dummy_hash: Arc<str>,
    /// Permits for password hashing: argon2id is built to take a core for tens of milliseconds, and a
    /// burst of logins must not take every core from the requests that read.
    pub hash_permits: Arc<tokio::sync::Semaphore>,
    /// The latest health snapshot.
    pub health: Arc<Health>,
    /// Per-route latency summaries for the admin JSON.
    pub route_stats: Arc<RouteStats>,
    /// Requests in flight.
    pub in_flight: Arc<AtomicI64>,
    phase: Arc<AtomicU8>,
    /// When the process started.
    pub started: Instant,
}

impl AppState {
    #[allow(clippy::too_many_arguments)] // assembled once, in `app::prepare`
    pub(crate) fn new(
        store: Store,
        cache: Cache,
        settings: Arc<Settings>,
        trusted_proxies: Vec<IpNet>,
        login_limiter: Option<LoginLimiter>,
        dummy_hash: Arc<str>,
    ) -> Self {
        AppState(Arc::new(Shared {
            hash_permits: Arc::new(tokio::sync::Semaphore::new(settings.password_hash_concurrency())),
            store,
            cache,
            // An eighth of the L1 budget: compressed pages are a tenth to a twentieth of the originals.
            compressed: crate::caching::CompressedBodies::new(settings.cache_l1_max_bytes / 8),
            settings,
            trusted_proxies: Arc::new(trusted_proxies),
            login_limiter: login_limiter.map(Arc::new),
            dummy_hash,
            health: Arc::new(Health::default()),
            route_stats: Arc::new(RouteStats::default()),
            in_flight: Arc::new(AtomicI64::new(0)),
            phase: Arc::new(AtomicU8::new(0)),
            started: Instant::now(),
        }))
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::Draining,
        }
    }

    pub(crate) fn set_phase(&self, p: Phase) {
        let v = match p {
            Phase::Starting => 0,
            Phase::Ready => 1,
            Phase::Draining => 2,
        };
        self.phase.store(v, Ordering::Release);
    }

    /// Is the process accepting traffic (started, not draining, primary database reachable)?
    pub fn is_ready(&self) -> bool {
        self.phase() == Phase::Ready && self.health.get().primary_ok()
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// After a write that changes what public pages show (a pitch's content, status or counters): every
    /// cached list, pitch page and search result is invalidated, on every node, and the dashboards too when
    /// the request owes them their invalidation ([`DASHBOARDS_OWED`]). The invalidations run at once:
    /// each waits for every node's acknowledgement, so the write waits for one round, not one per namespace.
    pub async fn pitches_changed(&self) {
        let pages = futures::future::join_all([Ns::Lists, Ns::Pitch, Ns::Search].map(|ns| self.cache.invalidate(ns)));
        futures::future::join(pages, self.owed_dashboards()).await;
    }

    /// After a write that may take a pitch out of public view or hide its creator (an edit, a status
    /// change, a deletion): as [`AppState::pitches_changed`], and the values the caches keep for database
    /// outages are dropped too, so the old view cannot come back while the database is down.
    pub async fn pitches_withdrawn(&self) {
        let pages = futures::future::join_all(
            [Ns::Lists, Ns::Pitch, Ns::Search].map(|ns| self.cache.invalidate_and_forget(ns)),
        );
        futures::future::join(pages, self.owed_dashboards()).await;
    }

    /// Invalidates the dashboards if the current request owes them their invalidation, and clears the debt.
    async fn owed_dashboards(&self) {
        if DASHBOARDS_OWED.try_with(|owed| owed.replace(false)).unwrap_or(false) {
            self.cache.invalidate(Ns::Dashboard).await;
        }
    }

    /// After sign-out, a password change or a profile change: cached sessions are reloaded.
    pub async fn sessions_changed(&self) {
        self.cache.invalidate(Ns::Session).await;
    }
}
