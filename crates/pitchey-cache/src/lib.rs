//! Pitchey's two-tier cache.
//!
//! - **L1**: in-process [moka] caches, one per [`Ns`] (namespace), each with its own TTL and a share of a
//!   byte budget. Concurrent misses for one key are coalesced into a single load.
//! - **L2** (optional): Redis, shared by every node. Used when L1 misses, before the loader runs.
//! - **Invalidation** is by namespace generation: keys carry their namespace's generation, so bumping it
//!   makes every older entry unreachable at once, and a load racing a write can only store under the old
//!   generation. Bumps are shared through Redis (`INCR` for the L2 generation, pub/sub to other nodes'
//!   L1), and an invalidation returns once every node has acknowledged it (bounded by the Redis timeout).
//! - **Stale on error**: the last value of each key is kept for a bounded time; when a load fails because
//!   the database is unavailable, that value is served instead of an error.

mod redis_tier;

use bytes::Bytes;
use moka::future::Cache as Moka;
use moka::notification::RemovalCause;
use redis_tier::RedisTier;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A cache namespace: what is cached, with its own TTL, generation and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ns {
    /// Public pitch lists and marketplace pages.
    Lists,
    /// Public pitch detail pages.
    Pitch,
    /// Search results, suggestions and facets.
    Search,
    /// Configuration lists.
    Config,
    /// Sessions (cookie token hash → user).
    Session,
    /// Signed-in users' dashboards, one entry per user and route (never shared between users).
    Dashboard,
}

impl Ns {
    /// Every namespace.
    pub const ALL: [Ns; 6] = [Ns::Lists, Ns::Pitch, Ns::Search, Ns::Config, Ns::Session, Ns::Dashboard];

    /// The namespace's name (metrics label, Redis key part, management API prefix).
    pub fn name(self) -> &'static str {
        match self {
            Ns::Lists => "lists",
            Ns::Pitch => "pitch",
            Ns::Search => "search",
            Ns::Config => "config",
            Ns::Session => "session",
            Ns::Dashboard => "dashboard",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Ns> {
        Ns::ALL.into_iter().find(|n| n.name() == s)
    }

    /// Share of the L1 byte budget, in percent.
    fn share(self) -> u64 {
        match self {
            Ns::Lists => 30,
            Ns::Pitch => 30,
            Ns::Search => 20,
            Ns::Config => 5,
            Ns::Session => 10,
            Ns::Dashboard => 5,
        }
    }
}

/// Settings of the cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Bytes the L1 may hold in total (split between namespaces).
    pub l1_max_bytes: u64,
    /// Time to live per namespace, in [`Ns::ALL`] order.
    pub ttl: [Duration; 6],
    /// How long a value may still be served after it expired, when its reload fails on an outage.
    pub stale_for: Duration,
    /// Redis URL for the shared tier and cross-node invalidation.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (lets several deployments or tests share a Redis).
    pub redis_prefix: String,
    /// Time limit of each Redis command.
    pub redis_timeout: Duration,
    /// How often the invalidation subscription is pinged; one not answered within four Redis timeouts is
    /// dropped and made again.
    pub pubsub_keepalive: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            l1_max_bytes: 64 * 1024 * 1024,
            ttl: [
                Duration::from_secs(30),
                Duration::from_secs(60),
                Duration::from_secs(30),
                Duration::from_secs(3600),
                Duration::from_secs(60),
                Duration::from_secs(10),
            ],
            stale_for: Duration::from_secs(300),
            redis_url: None,
            redis_prefix: "pitchey:".to_owned(),
            redis_timeout: Duration::from_millis(250),
            pubsub_keepalive: Duration::from_secs(5),
        }
    }
}

/// A cached value: bytes (a response body, a serialized session) and their strong ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The bytes.
    pub body: Bytes,
    /// Strong validator of `body`.
    pub etag: String,
}

impl Entry {
    /// An entry for `body`, with an ETag derived from its content.
    pub fn new(body: Bytes) -> Entry {
        let etag = etag_of(&body);
        Entry { body, etag }
    }

    fn weight(&self, key: &str) -> u32 {
        u32::try_from(self.body.len() + self.etag.len() + key.len() + 64).unwrap_or(u32::MAX)
    }
}

/// A strong ETag for bytes: the first 128 bits of their BLAKE3 hash, so every node tags equal content
/// equally. A cryptographic hash, because compressed copies are found by ETag: crafting two bodies with one
/// tag must be impractical. BLAKE3 rather than SHA-256: hashing a 120 KB page was 3% of an uncached list
/// request's CPU with SHA-256, and BLAKE3 does it several times faster.
pub fn etag_of(body: &[u8]) -> String {
    let hash = blake3::hash(body);
    let hex = hash.to_hex();
    format!("\"{}\"", &hex[..32])
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Found in L1.
    L1,
    /// Found in L2 (Redis).
    L2,
    /// Loaded from the store.
    Loaded,
    /// The store failed; an expired value was served.
    Stale,
}

/// Whole milliseconds of `d`, saturating below the "never" marker `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1).min(u64::MAX - 1)
}

/// A load failure that the cache can bridge with a stale value.
pub trait Outage {
    /// Is this failure an outage of the backing store (as opposed to, say, "not found")?
    fn is_outage(&self) -> bool;
}

#[derive(Debug, Default)]
struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    l2_hits: AtomicU64,
    l2_misses: AtomicU64,
    loads: AtomicU64,
    stale_served: AtomicU64,
    evictions: Arc<AtomicU64>,
    invalidations: AtomicU64,
    ack_timeouts: AtomicU64,
}

struct Space {
    ns: Ns,
    ttl: Duration,
    main: Moka<String, Arc<Entry>>,
    /// Last value per unversioned key, kept `stale_for` longer than the TTL, for serving during outages.
    stale: Moka<String, Arc<Entry>>,
    /// Generation of L1 keys (bumped locally and on messages from other nodes).
    generation: AtomicU64,
    /// When the generation was last bumped, in milliseconds since `created`; `u64::MAX` before the first.
    bumped_at_ms: AtomicU64,
    created: std::time::Instant,
    stats: Stats,
}

impl Space {
    fn new(ns: Ns, cfg: &CacheConfig) -> Space {
        let budget = cfg.l1_max_bytes / 100 * ns.share();
        let stats = Stats::default();
        let evictions = stats.evictions.clone();
        let name = ns.name();
        let main = Moka::builder()
            .max_capacity(budget * 2 / 3)
            .weigher(|k: &String, v: &Arc<Entry>| v.weight(k))
            .time_to_live(cfg.ttl[ns.index()])
            .eviction_listener(move |_k, _v, cause| {
                if cause == RemovalCause::Size {
                    evictions.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("pitchey_cache_evictions_total", "cache" => name, "tier" => "l1").increment(1);
                }
            })
            .build();
        let stale = Moka::builder()
            .max_capacity(budget / 3)
            .weigher(|k: &String, v: &Arc<Entry>| v.weight(k))
            .time_to_live(cfg.ttl[ns.index()] + cfg.stale_for)
            .build();
        Space {
            ns,
            ttl: cfg.ttl[ns.index()],
            main,
            stale,
            generation: AtomicU64::new(0),
            bumped_at_ms: AtomicU64::new(u64::MAX),
            created: std::time::Instant::now(),
            stats,
        }
    }

    fn key(&self, key: &str) -> String {
        self.key_at(self.generation.load(Ordering::Acquire), key)
    }

    /// Makes every L1 entry unreachable (a new generation) and marks the namespace as just invalidated;
    /// `forget` drops the outage values as well.
    fn reset(&self, forget: bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.bumped_at_ms.store(millis(self.created.elapsed()), Ordering::Release);
        // Entries of older generations can never be read again: let them go now rather than at TTL.
        self.main.invalidate_all();
        // A revoked session must not come back as a "stale" value during an outage.
        if forget || self.ns == Ns::Session {
            self.stale.invalidate_all();
        }
    }

    fn key_at(&self, generation: u64, key: &str) -> String {
        format!("{}:{generation}:{key}", self.ns.name())
    }
}

/// Statistics of one namespace, for the management API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceStatus {
    /// Namespace name.
    pub name: &'static str,
    /// L1 hits.
    pub hits: u64,
    /// L1 misses.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
    /// L2 hits (after an L1 miss).
    pub l2_hits: u64,
    /// L2 misses.
    pub l2_misses: u64,
    /// Loads from the store.
    pub loads: u64,
    /// Expired values served during outages.
    pub stale_served: u64,
    /// Entries evicted for size.
    pub evictions: u64,
    /// Generation bumps.
    pub invalidations: u64,
    /// This node's invalidations that some node receiving them did not acknowledge within the Redis
    /// timeout (that node may have served the old value a little longer).
    pub ack_timeouts: u64,
    /// Entries in L1.
    pub entries: u64,
    /// Bytes in L1.
    pub bytes: u64,
    /// Time to live, in seconds.
    pub ttl_secs: u64,
    /// Current generation.
    pub generation: u64,
}

/// Status of the whole cache.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    /// Per namespace.
    pub caches: Vec<SpaceStatus>,
    /// Is Redis configured?
    pub l2_configured: bool,
    /// Is Redis reachable (last command or subscription succeeded)?
    pub l2_connected: bool,
    /// Is this node subscribed to other nodes' invalidations?
    pub l2_subscribed: bool,
}

struct Inner {
    spaces: Vec<Space>,
    redis: Option<RedisTier>,
}

/// The cache. Cheap to clone.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("redis", &self.inner.redis.is_some()).finish()
    }
}

impl Cache {
    /// Builds the cache; with a Redis URL, connects lazily and starts listening for other nodes'
    /// invalidations (until `stop` is cancelled).
    pub fn new(cfg: &CacheConfig, stop: tokio_util::sync::CancellationToken) -> Result<Cache, String> {
        let spaces: Vec<Space> = Ns::ALL.iter().map(|ns| Space::new(*ns, cfg)).collect();
        let redis = match &cfg.redis_url {
            Some(url) => Some(RedisTier::new(url, &cfg.redis_prefix, cfg.redis_timeout, cfg.pubsub_keepalive)?),
            None => None,
        };
        let cache = Cache { inner: Arc::new(Inner { spaces, redis }) };
        if let Some(r) = &cache.inner.redis {
            r.spawn_listener(cache.clone(), stop);
        }
        Ok(cache)
    }

    fn space(&self, ns: Ns) -> &Space {
        &self.inner.spaces[ns.index()]
    }

    /// The value of `key` in `ns`: from L1, else L2, else `load` (concurrent misses share one load). When
    /// `load` fails with an outage, an expired value of the key is served if one is still kept.
    pub async fn get_or_load<F, Fut, E>(&self, ns: Ns, key: &str, load: F) -> Result<(Arc<Entry>, Source), Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
        E: Outage + Send + Sync + 'static,
    {
        let space = self.space(ns);
        let generation = space.generation.load(Ordering::Acquire);
        let vkey = space.key_at(generation, key);
        if let Some(e) = space.main.get(&vkey).await {
            space.stats.hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("pitchey_cache_hits_total", "cache" => ns.name(), "tier" => "l1").increment(1);
            return Ok((e, Source::L1));
        }
        space.stats.misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("pitchey_cache_misses_total", "cache" => ns.name(), "tier" => "l1").increment(1);
        // The miss path holds the load's future, Redis's and moka's: together tens of kilobytes for a
        // store query. Boxed, it is allocated on a miss only, and the future of every hit (which its
        // caller moves, and axum boxes, per request) stays small.
        Box::pin(self.load_missed(ns, key, vkey, generation, load)).await
    }

    /// [`Cache::get_or_load`] after an L1 miss of `vkey` (the key at `generation`).
    async fn load_missed<F, Fut, E>(
        &self,
        ns: Ns,
        key: &str,
        vkey: String,
        generation: u64,
        load: F,
    ) -> Result<(Arc<Entry>, Source), Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
        E: Outage + Send + Sync + 'static,
    {
        let space = self.space(ns);
        let source = std::sync::Mutex::new(Source::Loaded);
        // The L2 key is fixed before the load, like the L1 key: see `RedisTier::set`.
        let l2 = self.inner.redis.as_ref().filter(|r| !r.bypassed(ns)).map(|r| (r, r.key(ns, key)));
        let init = async {
            if let Some((r, rkey)) = &l2 {
                if let Some(e) = r.get(rkey).await {
                    space.stats.l2_hits.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("pitchey_cache_hits_total", "cache" => ns.name(), "tier" => "l2").increment(1);
                    if let Ok(mut s) = source.lock() {
                        *s = Source::L2;
                    }
                    return Ok(Arc::new(e));
                }
                space.stats.l2_misses.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("pitchey_cache_misses_total", "cache" => ns.name(), "tier" => "l2").increment(1);
            }
            space.stats.loads.fetch_add(1, Ordering::Relaxed);
            let body = load().await?;
            let entry = Arc::new(Entry::new(body));
            if let Some((r, rkey)) = &l2 {
                r.set(rkey, &entry, space.ttl).await;
            }
            Ok(entry)
        };
        match space.main.try_get_with::<_, E>(vkey, init).await {
            Ok(e) => {
                // A value loaded before an invalidation is not kept for outages: it may be what the write
                // took out of view.
                if space.generation.load(Ordering::Acquire) == generation {
                    space.stale.insert(key.to_owned(), e.clone()).await;
                }
                let src = source.lock().map(|s| *s).unwrap_or(Source::Loaded);
                Ok((e, src))
            }
            Err(err) if err.is_outage() => match space.stale.get(key).await {
                Some(e) => {
                    space.stats.stale_served.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("pitchey_cache_stale_served_total", "cache" => ns.name()).increment(1);
                    Ok((e, Source::Stale))
                }
                None => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    /// Looks a key up in L1 only (no load).
    pub async fn peek(&self, ns: Ns, key: &str) -> Option<Arc<Entry>> {
        let space = self.space(ns);
        space.main.get(&space.key(key)).await
    }

    /// Invalidates a namespace on this node and, through Redis, on every node. The values kept for outages
    /// stay: a failing database may still be bridged with the value from before the write.
    pub async fn invalidate(&self, ns: Ns) {
        self.bump(ns, false).await;
    }

    /// Invalidates a namespace everywhere, like [`Cache::invalidate`], and drops the values kept for
    /// outages too: for writes that take something out of public view (unpublishing, archiving, deleting,
    /// hiding the creator), whose old value must not come back while the database is down.
    pub async fn invalidate_and_forget(&self, ns: Ns) {
        self.bump(ns, true).await;
    }

    /// The shared generation moves first, then this node's: a load between the two would otherwise miss
    /// the new local generation, find the pre-write value under the old shared one, and keep it for a TTL.
    /// When Redis does not take the bump, the other nodes cannot hear of it, and this node stops using
    /// L2 for the namespace for a TTL, after which nothing older than the write is left there. Returns,
    /// once every node that received the bump has applied it (or the Redis timeout has passed), whether
    /// Redis took it (false without Redis).
    async fn bump(&self, ns: Ns, forget: bool) -> bool {
        let Some(r) = &self.inner.redis else {
            self.bump_local(ns, forget);
            return false;
        };
        let published = r.publish_bump(ns, forget).await;
        self.bump_local(ns, forget);
        if !published.taken {
            r.bypass(ns, self.space(ns).ttl);
        }
        if let Some(acks) = published.acks
            && !r.await_acks(ns, acks).await
        {
            self.space(ns).stats.ack_timeouts.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("pitchey_cache_invalidation_ack_timeouts_total", "cache" => ns.name()).increment(1);
        }
        published.taken
    }

    /// Was `ns` invalidated, on this node or through Redis on another, within `window`? Loads just after a
    /// write read from the primary: a replica that has not replayed the write yet would put what it
    /// replaced back into the cache for a whole TTL.
    pub fn invalidated_within(&self, ns: Ns, window: Duration) -> bool {
        let space = self.space(ns);
        let at = space.bumped_at_ms.load(Ordering::Acquire);
        at != u64::MAX && millis(space.created.elapsed()).saturating_sub(at) <= millis(window)
    }

    /// Invalidates every namespace. Returns whether every other node was told, through Redis (false without
    /// Redis, or when Redis did not take a bump).
    pub async fn invalidate_all(&self) -> bool {
        futures::future::join_all(Ns::ALL.map(|ns| self.bump(ns, false))).await.into_iter().all(|told| told)
    }

    /// Makes every L1 entry of this node unreachable and drops its outage values, as an invalidation does,
    /// without counting one: used when the first subscription comes up, since writes on other nodes may
    /// have been missed before it.
    fn drop_local(&self) {
        for space in &self.inner.spaces {
            space.reset(true);
        }
    }

    /// Waits, for at most `bound`, until this node hears other nodes' invalidations; `true` when it does
    /// (always `false` without Redis). Start-up waits before warming: what is cached before the first
    /// subscription is dropped when it comes up, since writes elsewhere may have been missed meanwhile.
    pub async fn wait_subscribed(&self, bound: Duration) -> bool {
        let Some(r) = &self.inner.redis else { return false };
        let until = tokio::time::Instant::now() + bound;
        while !r.subscribed() {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Makes this node's L1 entries of `ns` unreachable; `forget` drops its outage values as well.
    fn bump_local(&self, ns: Ns, forget: bool) {
        let space = self.space(ns);
        space.reset(forget);
        space.stats.invalidations.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("pitchey_cache_invalidations_total", "cache" => ns.name()).increment(1);
    }

    /// Is the Redis tier configured and connected?
    pub fn l2_connected(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(RedisTier::connected)
    }

    /// Per-namespace statistics and L2 state.
    pub fn status(&self) -> CacheStatus {
        let caches = self
            .inner
            .spaces
            .iter()
            .map(|s| {
                let hits = s.stats.hits.load(Ordering::Relaxed);
                let misses = s.stats.misses.load(Ordering::Relaxed);
                SpaceStatus {
                    name: s.ns.name(),
                    hits,
                    misses,
                    hit_ratio: if hits + misses > 0 { hits as f64 / (hits + misses) as f64 } else { 0.0 },
                    l2_hits: s.stats.l2_hits.load(Ordering::Relaxed),
                    l2_misses: s.stats.l2_misses.load(Ordering::Relaxed),
                    loads: s.stats.loads.load(Ordering::Relaxed),
                    stale_served: s.stats.stale_served.load(Ordering::Relaxed),
                    evictions: s.stats.evictions.load(Ordering::Relaxed),
                    invalidations: s.stats.invalidations.load(Ordering::Relaxed),
                    ack_timeouts: s.stats.ack_timeouts.load(Ordering::Relaxed),
                    entries: s.main.entry_count(),
                    bytes: s.main.weighted_size(),
                    ttl_secs: s.ttl.as_secs(),
                    generation: s.generation.load(Ordering::Relaxed),
                }
            })
            .collect();
        let (connected, subscribed) =
            self.inner.redis.as_ref().map_or((false, false), |r| (r.connected(), r.subscribed()));
        CacheStatus {
            caches,
            l2_configured: self.inner.redis.is_some(),
            l2_connected: connected,
            l2_subscribed: subscribed,
        }
    }

    /// Pings Redis (health checks): `None` when not configured.
    pub async fn ping_l2(&self) -> Option<Result<Duration, String>> {
        match &self.inner.redis {
            Some(r) => Some(r.ping().await),
            None => None,
        }
    }

    /// Publishes L1 sizes as gauges.
    pub fn record_gauges(&self) {
        for s in &self.inner.spaces {
            metrics::gauge!("pitchey_cache_entries", "cache" => s.ns.name(), "tier" => "l1")
                .set(s.main.entry_count() as f64);
            metrics::gauge!("pitchey_cache_bytes", "cache" => s.ns.name(), "tier" => "l1")
                .set(s.main.weighted_size() as f64);
        }
        let up = self.inner.redis.as_ref().is_some_and(RedisTier::connected);
        metrics::gauge!("pitchey_cache_l2_connected").set(if up { 1.0 } else { 0.0 });
        metrics::gauge!("pitchey_cache_l2_configured").set(if self.inner.redis.is_some() { 1.0 } else { 0.0 });
    }

    /// Registers this cache's counters at zero, so dashboards and alerts see every series from the start
    /// (a counter that appears only on its first event makes `rate()` blind until then).
    pub fn register_metrics(&self) {
        for s in &self.inner.spaces {
            let name = s.ns.name();
            for tier in ["l1", "l2"] {
                metrics::counter!("pitchey_cache_hits_total", "cache" => name, "tier" => tier).increment(0);
                metrics::counter!("pitchey_cache_misses_total", "cache" => name, "tier" => tier).increment(0);
            }
            metrics::counter!("pitchey_cache_evictions_total", "cache" => name, "tier" => "l1").increment(0);
            metrics::counter!("pitchey_cache_invalidations_total", "cache" => name).increment(0);
            metrics::counter!("pitchey_cache_stale_served_total", "cache" => name).increment(0);
            metrics::counter!("pitchey_cache_invalidation_ack_timeouts_total", "cache" => name).increment(0);
        }
        self.record_gauges();
    }

    /// Applies pending housekeeping (tests use it to observe sizes and evictions deterministically).
    pub async fn sync(&self) {
        for s in &self.inner.spaces {
            s.main.run_pending_tasks().await;
            s.stale.run_pending_tasks().await;
        }
    }
}

/// Helpers for tests of this crate and of its dependents (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// A TCP proxy to Redis on 127.0.0.1:6379 that holds everything Redis sends back for `delay` (in order):
    /// a node whose messages from Redis arrive late. It lives as long as the runtime.
    pub struct LateRedis {
        /// Its `redis://` URL.
        pub url: String,
        frozen: Arc<AtomicBool>,
    }

    impl LateRedis {
        /// From now on nothing passes either way, and no connection is closed: a Redis that went silent
        /// (a half-open connection).
        pub fn freeze(&self) {
            self.frozen.store(true, Ordering::Release);
        }
    }

    /// Starts a [`LateRedis`].
    ///
    /// # Errors
    ///
    /// When it cannot listen on a local port.
    pub async fn late_redis(delay: Duration) -> std::io::Result<LateRedis> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect("127.0.0.1:6379").await else { continue };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = flag.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                        if !up.load(Ordering::Acquire) && to_server.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                        if tx.send((tokio::time::Instant::now() + delay, buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                });
                let down = flag.clone();
                tokio::spawn(async move {
                    while let Some((at, bytes)) = rx.recv().await {
                        tokio::time::sleep_until(at).await;
                        if !down.load(Ordering::Acquire) && to_client.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(LateRedis { url: format!("redis://127.0.0.1:{port}"), frozen })
    }

    /// A subscriber to the invalidations of the caches under `prefix` that never acknowledges one (a hung
    /// node, or a `redis-cli SUBSCRIBE` left open), until dropped. Subscribed when this returns.
    pub struct SilentSubscriber {
        _connection: redis::aio::PubSub,
    }

    /// Starts a [`SilentSubscriber`] on the Redis at `url`.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached or refuses the subscription.
    pub async fn silent_subscriber(url: &str, prefix: &str) -> redis::RedisResult<SilentSubscriber> {
        let mut connection = redis::Client::open(url)?.get_async_pubsub().await?;
        connection.subscribe(crate::redis_tier::invalidation_channel(prefix)).await?;
        Ok(SilentSubscriber { _connection: connection })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Debug)]
    struct Fail(bool);
    impl Outage for Fail {
        fn is_outage(&self) -> bool {
            self.0
        }
    }

    fn cache() -> Cache {
        let cfg = CacheConfig { ttl: [Duration::from_secs(60); Ns::ALL.len()], ..CacheConfig::default() };
        Cache::new(&cfg, tokio_util::sync::CancellationToken::new()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_load() {
        let c = cache();
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (c, loads) = (c.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_load(Ns::Lists, "k", || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, Fail>(Bytes::from_static(b"v"))
                })
                .await
                .map(|(e, _)| e.body.clone())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.ok().and_then(Result::ok), Some(Bytes::from_static(b"v")));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let (_, src) = c
            .get_or_load(Ns::Lists, "k", || async { Ok::<_, Fail>(Bytes::new()) })
            .await
            .map_err(|_| ())
            .unwrap_or_else(|()| panic!());
        assert_eq!(src, Source::L1);
    }

    /// A lookup's future does not hold its load's: every request's future is moved (and boxed by axum)
    /// whole, hit or miss, and a store query's future is tens of kilobytes.
    #[tokio::test]
    async fn a_lookup_future_stays_small_whatever_its_load() {
        let c = cache();
        let big_load = || async {
            let scratch = [7u8; 64 * 1024];
            tokio::task::yield_now().await;
            Ok::<_, Fail>(Bytes::copy_from_slice(&scratch[..1]))
        };
        let lookup = c.get_or_load(Ns::Lists, "big", big_load);
        let size = std::mem::size_of_val(&lookup);
        assert!(size < 4096, "a lookup's future is {size} bytes");
        // The boxed load still runs on a miss.
        let (entry, src) = lookup.await.map_err(|_| ()).unwrap_or_else(|()| panic!("load failed"));
        assert_eq!((entry.body.as_ref(), src), (&[7u8][..], Source::Loaded));
    }

    #[tokio::test]
    async fn invalidation_forces_a_reload_and_outages_serve_stale() {
        let c = cache();
        let get = |v: &'static str, fail: Option<bool>| {
            let c = c.clone();
            async move {
                c.get_or_load(Ns::Pitch, "p1", || async move {
                    match fail {
                        Some(outage) => Err(Fail(outage)),
                        None => Ok(Bytes::from_static(v.as_bytes())),
                    }
                })
                .await
                .map(|(e, s)| (e.body.clone(), s))
                .map_err(|_| ())
            }
        };
        assert_eq!(get("one", None).await, Ok((Bytes::from_static(b"one"), Source::Loaded)));
        assert_eq!(get("two", None).await, Ok((Bytes::from_static(b"one"), Source::L1)));
        c.invalidate(Ns::Pitch).await;
        assert_eq!(get("two", None).await, Ok((Bytes::from_static(b"two"), Source::Loaded)));
        c.invalidate(Ns::Pitch).await;
        // The store is down: the last value is served, marked stale.
        assert_eq!(get("three", Some(true)).await, Ok((Bytes::from_static(b"two"), Source::Stale)));
        // A non-outage failure is an error, not a stale hit.
        assert!(get("three", Some(false)).await.is_err());
        // Other namespaces are untouched by this one's invalidation.
        let s = c.status();
        assert_eq!(s.caches[Ns::Pitch.index()].invalidations, 2);
        assert_eq!(s.caches[Ns::Lists.index()].invalidations, 0);
    }

    /// Loads "p1" in `ns`, or fails it with an outage (`None`).
    async fn load_p1(c: &Cache, v: Option<&'static str>) -> Result<(Bytes, Source), ()> {
        c.get_or_load(Ns::Pitch, "p1", || async move { v.map(|v| Bytes::from_static(v.as_bytes())).ok_or(Fail(true)) })
            .await
            .map(|(e, s)| (e.body.clone(), s))
            .map_err(|_| ())
    }

    /// Starts loading "p1" as "before the write" and returns once the load is running; the load finishes
    /// when the sender is used.
    async fn held_load(c: &Cache) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<Bytes, ()>>) {
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let c = c.clone();
        let racing = tokio::spawn(async move {
            c.get_or_load(Ns::Pitch, "p1", || async move {
                let _ = started.send(());
                let _ = wait.await;
                Ok::<_, Fail>(Bytes::from_static(b"before the write"))
            })
            .await
            .map(|(e, _)| e.body.clone())
            .map_err(|_| ())
        });
        running.await.expect("the load started");
        (release, racing)
    }

    #[tokio::test]
    async fn withdrawals_drop_the_outage_values() {
        let c = cache();
        assert!(!c.invalidated_within(Ns::Pitch, Duration::from_secs(3600)));
        assert_eq!(load_p1(&c, Some("published")).await, Ok((Bytes::from_static(b"published"), Source::Loaded)));
        c.invalidate_and_forget(Ns::Pitch).await;
        assert!(c.invalidated_within(Ns::Pitch, Duration::from_secs(3600)));
        assert!(!c.invalidated_within(Ns::Lists, Duration::from_secs(3600)));
        // The database is down: the withdrawn value is not served.
        assert_eq!(load_p1(&c, None).await, Err(()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!c.invalidated_within(Ns::Pitch, Duration::from_millis(5)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_load_that_raced_an_invalidation_is_not_kept_for_outages() {
        let c = cache();
        let (release, racing) = held_load(&c).await;
        c.invalidate(Ns::Pitch).await;
        let _ = release.send(());
        assert_eq!(racing.await.ok(), Some(Ok(Bytes::from_static(b"before the write"))));
        // Neither served from L1 under the new generation nor kept for an outage.
        assert_eq!(load_p1(&c, None).await, Err(()));
    }

    /// Two nodes on the shared Redis (127.0.0.1:6379, as the server's tests use it, under a key prefix of
    /// their own). A load on one node that began before the other node's invalidation, and ends after this
    /// node heard of it, must not reach the other node through L2.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_load_that_raced_an_invalidation_is_not_shared_through_redis() {
        let cfg = CacheConfig {
            ttl: [Duration::from_secs(60); Ns::ALL.len()],
            redis_url: Some("redis://127.0.0.1:6379".into()),
            redis_prefix: format!("pitchey-cache-test-{}:", uuid::Uuid::new_v4().simple()),
            ..CacheConfig::default()
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let (a, b) = (Cache::new(&cfg, stop.clone()).unwrap(), Cache::new(&cfg, stop.clone()).unwrap());
        let t0 = std::time::Instant::now();
        while !(a.status().l2_subscribed && b.status().l2_subscribed) {
            assert!(t0.elapsed() < Duration::from_secs(10), "no Redis subscription on 127.0.0.1:6379");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (release, racing) = held_load(&a).await;
        b.invalidate(Ns::Pitch).await;
        while a.status().caches[Ns::Pitch.index()].invalidations == 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "a never heard of b's invalidation");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = release.send(());
        assert_eq!(racing.await.ok(), Some(Ok(Bytes::from_static(b"before the write"))));
        let (body, source) = b
            .get_or_load(Ns::Pitch, "p1", || async { Ok::<_, Fail>(Bytes::from_static(b"after the write")) })
            .await
            .map(|(e, s)| (e.body.clone(), s))
            .map_err(|_| ())
            .unwrap();
        assert_eq!((body, source), (Bytes::from_static(b"after the write"), Source::Loaded));
        stop.cancel();
    }

    /// Redis at `url` under `prefix`, with a 1 s timeout (a late node's 100 ms stays well inside it on a busy
    /// machine).
    fn shared_redis(prefix: &str, url: String) -> CacheConfig {
        CacheConfig {
            ttl: [Duration::from_secs(60); Ns::ALL.len()],
            redis_url: Some(url),
            redis_prefix: prefix.to_owned(),
            redis_timeout: Duration::from_secs(1),
            ..CacheConfig::default()
        }
    }

    async fn subscribed(nodes: &[&Cache]) {
        let t0 = std::time::Instant::now();
        while !nodes.iter().all(|c| c.status().l2_subscribed) {
            assert!(t0.elapsed() < Duration::from_secs(10), "no Redis subscription on 127.0.0.1:6379");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Node B hears from Redis 100 ms late. An invalidation on node A returns only once B has applied it,
    /// so B's next read, right after A's write was answered, no longer finds the old value. (Before
    /// acknowledgements, A returned at once and B served the old value for those 100 ms.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invalidation_returns_once_every_node_has_applied_it() {
        let prefix = format!("pitchey-cache-test-{}:", uuid::Uuid::new_v4().simple());
        let stop = tokio_util::sync::CancellationToken::new();
        let a = Cache::new(&shared_redis(&prefix, "redis://127.0.0.1:6379".into()), stop.clone()).unwrap();
        let late = crate::testing::late_redis(Duration::from_millis(100)).await.unwrap().url;
        let b = Cache::new(&shared_redis(&prefix, late), stop.clone()).unwrap();
        subscribed(&[&a, &b]).await;
        assert_eq!(load_p1(&b, Some("before")).await, Ok((Bytes::from_static(b"before"), Source::Loaded)));
        assert_eq!(load_p1(&b, Some("unused")).await, Ok((Bytes::from_static(b"before"), Source::L1)));
        let t0 = std::time::Instant::now();
        a.invalidate(Ns::Pitch).await;
        let waited = t0.elapsed();
        assert_eq!(b.status().caches[Ns::Pitch.index()].invalidations, 1, "B applied it before A returned");
        assert!(waited >= Duration::from_millis(100), "A waited for B ({waited:?})");
        assert_eq!(load_p1(&b, Some("after")).await, Ok((Bytes::from_static(b"after"), Source::Loaded)));
        assert_eq!(a.status().caches[Ns::Pitch.index()].ack_timeouts, 0);
        stop.cancel();
    }

    /// Redis goes silent without closing the connection: the keepalive finds out, and the node stops
    /// counting itself subscribed (so its writes do not wait for answers it cannot hear; it keeps trying to
    /// subscribe again, and drops everything when it does).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_subscription_is_noticed() {
        let prefix = format!("pitchey-cache-test-{}:", uuid::Uuid::new_v4().simple());
        let stop = tokio_util::sync::CancellationToken::new();
        let proxy = crate::testing::late_redis(Duration::ZERO).await.unwrap();
        let cfg = CacheConfig {
            redis_timeout: Duration::from_millis(100),
            pubsub_keepalive: Duration::from_millis(100),
            ..shared_redis(&prefix, proxy.url.clone())
        };
        let a = Cache::new(&cfg, stop.clone()).unwrap();
        subscribed(&[&a]).await;
        proxy.freeze();
        let t0 = std::time::Instant::now();
        while a.status().l2_subscribed {
            assert!(t0.elapsed() < Duration::from_secs(10), "the silent subscription still counts as up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.cancel();
    }

    /// A client on the channel that is not a node never acknowledges: the invalidation waits for it no
    /// longer than the Redis timeout, and says so in the node's statistics.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_receiver_that_never_acknowledges_is_waited_for_at_most_the_timeout() {
        let prefix = format!("pitchey-cache-test-{}:", uuid::Uuid::new_v4().simple());
        let stop = tokio_util::sync::CancellationToken::new();
        let a = Cache::new(&shared_redis(&prefix, "redis://127.0.0.1:6379".into()), stop.clone()).unwrap();
        subscribed(&[&a]).await;
        let timeouts = |c: &Cache| c.status().caches[Ns::Lists.index()].ack_timeouts;
        a.invalidate(Ns::Lists).await;
        assert_eq!(timeouts(&a), 0, "alone, a node acknowledges its own invalidation");
        let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
        let mut watcher = client.get_async_pubsub().await.unwrap();
        watcher.subscribe(format!("{prefix}invalidate")).await.unwrap();
        let t0 = std::time::Instant::now();
        let bounded = tokio::time::timeout(Duration::from_secs(10), a.invalidate(Ns::Lists)).await;
        assert!(bounded.is_ok(), "the invalidation waited past its bound");
        assert!(t0.elapsed() >= Duration::from_secs(1), "it waited for the silent receiver");
        assert_eq!(timeouts(&a), 1);
        drop(watcher);
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let t0 = std::time::Instant::now();
        loop {
            let (_, n): (String, i64) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(format!("{prefix}invalidate"))
                .query_async(&mut conn)
                .await
                .unwrap();
            if n == 1 {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "Redis kept the watcher's subscription");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a.invalidate(Ns::Lists).await;
        assert_eq!(timeouts(&a), 1, "the watcher is gone");
        stop.cancel();
    }

    /// Redis that does not take a bump (here: nothing listens on the port) leaves the pre-write value in
    /// L2 under the shared generation: this node stops reading L2 for the namespace.
    #[tokio::test]
    async fn a_bump_redis_did_not_take_sets_l2_aside() {
        let cfg = CacheConfig {
            ttl: [Duration::from_secs(60); Ns::ALL.len()],
            redis_url: Some("redis://127.0.0.1:1".into()),
            redis_timeout: Duration::from_millis(50),
            ..CacheConfig::default()
        };
        let c = Cache::new(&cfg, tokio_util::sync::CancellationToken::new()).unwrap_or_else(|e| panic!("{e}"));
        let l2_misses = |c: &Cache| c.status().caches[Ns::Pitch.index()].l2_misses;
        assert_eq!(load_p1(&c, Some("one")).await, Ok((Bytes::from_static(b"one"), Source::Loaded)));
        assert_eq!(l2_misses(&c), 1, "L2 was asked first");
        c.invalidate(Ns::Pitch).await;
        assert_eq!(load_p1(&c, Some("two")).await, Ok((Bytes::from_static(b"two"), Source::Loaded)));
        assert_eq!(l2_misses(&c), 1, "L2 was set aside after the failed bump");
        assert_eq!(c.status().caches[Ns::Lists.index()].invalidations, 0);
    }

    #[tokio::test]
    async fn byte_budget_evicts() {
        let cfg = CacheConfig { l1_max_bytes: 100_000, ..CacheConfig::default() };
        let c = Cache::new(&cfg, tokio_util::sync::CancellationToken::new()).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..200 {
            let _ = c
                .get_or_load(Ns::Search, &format!("k{i}"), || async { Ok::<_, Fail>(Bytes::from(vec![b'x'; 1000])) })
                .await;
        }
        c.sync().await;
        let s = &c.status().caches[Ns::Search.index()];
        assert!(s.bytes <= 100_000 / 100 * 20, "{s:?}");
        assert!(s.evictions > 0, "{s:?}");
    }

    #[test]
    fn etags_follow_content() {
        assert_eq!(etag_of(b"abc"), etag_of(b"abc"));
        assert_ne!(etag_of(b"abc"), etag_of(b"abd"));
        assert!(etag_of(b"").starts_with('"') && etag_of(b"").ends_with('"'));
    }
}
