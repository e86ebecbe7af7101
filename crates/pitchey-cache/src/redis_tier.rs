//! The Redis tier: shared values (L2) and the invalidation bus between nodes.
//!
//! Keys are `{prefix}{ns}:{g}:{key}` where `g` is the namespace's L2 generation, kept in Redis at
//! `{prefix}gen:{ns}`. An invalidation `INCR`s that counter and publishes `{ns}:{g}:{node}` on
//! `{prefix}invalidate` (with `:forget` appended when the nodes must also drop the values they keep for
//! outages); every node then bumps its L1 generation. A node that is not subscribed may miss messages: on
//! its first subscription it drops its own L1 and outage values, and when it resubscribes it bumps all
//! generations, everywhere. Redis failures never fail a request: the tier is skipped and the node keeps
//! serving from L1 and the store.
//!
//! A Redis that restarts empty (or from an older snapshot) starts its counters again from where it has
//! them, below what the nodes remember. A node keeps the highest generation it has heard of (messages may
//! arrive out of order), so it would go on using its old, higher generation in its keys while the counter
//! climbed back, and a write would no longer change any key: pages cached after the restart stayed for
//! their TTL. So on every (re)subscription, which a restart forces, a node first raises each counter in
//! Redis to at least the generation it remembers (generations are never handed out twice, so no key is
//! reused), then (on resubscription) bumps them all; and a bump that does not move a counter past what the
//! node knew before it sets L2 aside for the namespace, as a failed bump does, until the subscription
//! catches up.
//!
//! **Acknowledged invalidation.** A write's response must not leave its node before every node has
//! stopped serving what the write changed: a client told "done" may read next from any node. So each
//! receiver, once it has bumped its L1, publishes `{ns}:{g}` on the sender's own channel
//! `{prefix}ack:{node}`, and the sender waits until as many receivers as `PUBLISH` reported (itself
//! included: its own message comes back through its subscription) have answered, for at most the Redis
//! timeout. A receiver that does not answer in time (hung, an older version during a rolling deploy, or any
//! other client subscribed to the channel) costs the write that wait and is counted in
//! `pitchey_cache_invalidation_ack_timeouts_total`; it is then as late as it was before this existed.

use crate::{Cache, Entry, Ns, millis};
use bytes::Bytes;
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Suffix of an invalidation message whose receivers also drop their outage values.
const FORGET: &str = ":forget";

pub(crate) struct RedisTier {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    node: String,
    /// Last known L2 generation per namespace.
    gens: [AtomicU64; Ns::ALL.len()],
    connected: Arc<AtomicBool>,
    subscribed: Arc<AtomicBool>,
    timeout: Duration,
    /// Per namespace, until when (milliseconds since `created`) this node reads and writes no L2 entries.
    bypass_until_ms: [AtomicU64; Ns::ALL.len()],
    created: Instant,
    /// This node's bumps still awaiting acknowledgements: how many receivers have applied each so far.
    waiting: Waiting,
    /// How often the subscription is pinged.
    keepalive: Duration,
}

/// Per awaited bump: the waiter's number (so that a waiter removes only its own entry) and the count.
type Waiting = Arc<Mutex<HashMap<(Ns, u64), (u64, tokio::sync::watch::Sender<u32>)>>>;

/// Numbers the waiters of [`Waiting`].
static WAITERS: AtomicU64 = AtomicU64::new(0);

/// A bump sent through Redis.
pub(crate) struct Published {
    /// Redis took the bump and its announcement, and the counter moved past what this node knew.
    pub(crate) taken: bool,
    /// The acknowledgements to wait for ([`RedisTier::await_acks`]); `None` when nothing was published.
    pub(crate) acks: Option<Acks>,
}

/// The acknowledgements of one published bump. Dropping it stops listening for them.
pub(crate) struct Acks {
    key: (Ns, u64),
    id: u64,
    /// How many clients received the announcement (`PUBLISH`'s answer).
    receivers: u32,
    rx: tokio::sync::watch::Receiver<u32>,
    waiting: Waiting,
}

impl Drop for Acks {
    fn drop(&mut self) {
        if let Ok(mut w) = self.waiting.lock()
            && w.get(&self.key).is_some_and(|(id, _)| *id == self.id)
        {
            w.remove(&self.key);
        }
    }
}

/// The channel on which the nodes of the caches under `prefix` publish their invalidations.
pub(crate) fn invalidation_channel(prefix: &str) -> String {
    format!("{prefix}invalidate")
}

impl RedisTier {
    pub(crate) fn new(url: &str, prefix: &str, timeout: Duration, keepalive: Duration) -> Result<RedisTier, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout * 4))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), cfg).map_err(|e| e.to_string())?;
        Ok(RedisTier {
            client,
            conn,
            prefix: prefix.to_owned(),
            node: uuid::Uuid::new_v4().simple().to_string(),
            gens: Default::default(),
            connected: Arc::new(AtomicBool::new(false)),
            subscribed: Arc::new(AtomicBool::new(false)),
            timeout,
            bypass_until_ms: Default::default(),
            created: Instant::now(),
            waiting: Arc::default(),
            keepalive: keepalive.max(Duration::from_millis(10)),
        })
    }

    pub(crate) fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// The Redis key of `key` under the namespace's current L2 generation.
    pub(crate) fn key(&self, ns: Ns, key: &str) -> String {
        format!("{}{}:{}:{key}", self.prefix, ns.name(), self.gens[ns as usize].load(Ordering::Acquire))
    }

    fn gen_key(&self, ns: Ns) -> String {
        format!("{}gen:{}", self.prefix, ns.name())
    }

    fn channel(&self) -> String {
        invalidation_channel(&self.prefix)
    }

    /// Where `node` hears the acknowledgements of its bumps.
    fn ack_channel(&self, node: &str) -> String {
        format!("{}ack:{node}", self.prefix)
    }

    /// Runs a command with our deadline (the manager's own timeout covers responses, not reconnects).
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Option<T> {
        let mut conn = self.conn.clone();
        let r = tokio::time::timeout(self.timeout * 2, cmd.query_async::<T>(&mut conn)).await;
        match r {
            Ok(Ok(v)) => {
                self.connected.store(true, Ordering::Relaxed);
                Some(v)
            }
            Ok(Err(e)) => {
                if self.connected.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "Redis unavailable; serving from L1 and the store");
                }
                None
            }
            Err(_) => {
                if self.connected.swap(false, Ordering::Relaxed) {
                    tracing::warn!("Redis timed out; serving from L1 and the store");
                }
                None
            }
        }
    }

    /// The entry at a Redis key from [`RedisTier::key`].
    pub(crate) async fn get(&self, rkey: &str) -> Option<Entry> {
        let raw: Option<Vec<u8>> = self.run(redis::cmd("GET").arg(rkey).clone()).await.flatten();
        let raw = raw?;
        // Stored as `etag \n body`.
        let split = raw.iter().position(|b| *b == b'\n')?;
        let etag = String::from_utf8(raw[..split].to_vec()).ok()?;
        Some(Entry { body: Bytes::copy_from_slice(&raw[split + 1..]), etag })
    }

    /// Stores an entry at a Redis key from [`RedisTier::key`]: taken before the load, so that a load racing
    /// an invalidation stores under the generation it read under, which the invalidation made unreachable.
    pub(crate) async fn set(&self, rkey: &str, e: &Entry, ttl: Duration) {
        let mut v = Vec::with_capacity(e.etag.len() + 1 + e.body.len());
        v.extend_from_slice(e.etag.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(&e.body);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: Option<()> = self.run(redis::cmd("SET").arg(rkey).arg(v).arg("PX").arg(ms).clone()).await;
    }

    /// Bumps the shared generation of `ns` and tells the other nodes (`forget`: to drop their outage values
    /// too, [`Cache::invalidate_and_forget`]). Not `taken` when Redis did not take the bump or its
    /// announcement (the other nodes learn of a bump only from the announcement), or when the counter came
    /// back no higher than this node already knew: Redis lost its counters (a restart) and this node's keys
    /// did not change. (Rarely, another node's later bump was heard first; setting L2 aside is then merely
    /// cautious.)
    pub(crate) async fn publish_bump(&self, ns: Ns, forget: bool) -> Published {
        // Known before the `INCR`: every generation a node knows came from Redis earlier, so without a
        // restart the new one is higher, however other bumps interleave with this one.
        let known = self.gens[ns as usize].load(Ordering::Acquire);
        let Some(g) = self.run::<u64>(redis::cmd("INCR").arg(self.gen_key(ns)).clone()).await else {
            return Published { taken: false, acks: None };
        };
        self.gens[ns as usize].fetch_max(g, Ordering::AcqRel);
        // Acknowledgements come back through this node's subscription: while it is down (reconnecting)
        // none can arrive, and waiting would only delay the write. Listening starts before announcing:
        // they may come back before `PUBLISH`'s own answer.
        let mut acks = self.subscribed().then(|| self.listen_for_acks(ns, g));
        let flag = if forget { FORGET } else { "" };
        let msg = format!("{}:{g}:{}{flag}", ns.name(), self.node);
        let published: Option<i64> = self.run(redis::cmd("PUBLISH").arg(self.channel()).arg(msg).clone()).await;
        let Some(receivers) = published else {
            return Published { taken: false, acks: None };
        };
        if let Some(a) = &mut acks {
            a.receivers = u32::try_from(receivers).unwrap_or(0);
        }
        Published { taken: g > known, acks }
    }

    /// Starts counting the acknowledgements of this node's bump `(ns, g)`.
    fn listen_for_acks(&self, ns: Ns, g: u64) -> Acks {
        let (tx, rx) = tokio::sync::watch::channel(0u32);
        let id = WAITERS.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut w) = self.waiting.lock() {
            w.insert((ns, g), (id, tx));
        }
        Acks { key: (ns, g), id, receivers: 0, rx, waiting: self.waiting.clone() }
    }

    /// Waits until every receiver of a bump of `ns` has applied it, for at most the Redis timeout. Returns
    /// whether they all did.
    pub(crate) async fn await_acks(&self, ns: Ns, acks: Acks) -> bool {
        let mut rx = acks.rx.clone();
        let want = acks.receivers;
        // (A closed channel means another waiter took this key: Redis handed out `g` twice after losing its
        // counters. Not counted as acknowledged.)
        let all = matches!(tokio::time::timeout(self.timeout, rx.wait_for(|n| *n >= want)).await, Ok(Ok(_)));
        if !all {
            tracing::warn!(
                cache = ns.name(),
                receivers = want,
                acknowledged = *rx.borrow(),
                "an invalidation was not acknowledged by every receiver in time; answering anyway"
            );
        }
        all
    }

    /// Counts one acknowledgement of this node's bump `(ns, g)`.
    fn acknowledged(&self, ns: Ns, g: u64) {
        if let Ok(w) = self.waiting.lock()
            && let Some((_, tx)) = w.get(&(ns, g))
        {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Tells `origin` that this node applied its bump, without holding up the listener.
    fn send_ack(&self, origin: &str, ns: Ns, g: u64) {
        let cmd = redis::cmd("PUBLISH").arg(self.ack_channel(origin)).arg(format!("{}:{g}", ns.name())).clone();
        let mut conn = self.conn.clone();
        let deadline = self.timeout * 2;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(deadline, cmd.query_async::<i64>(&mut conn)).await;
        });
    }

    /// Stops using L2 for `ns` on this node for `ttl`.
    pub(crate) fn bypass(&self, ns: Ns, ttl: Duration) {
        let until = millis(self.created.elapsed().saturating_add(ttl));
        self.bypass_until_ms[ns as usize].fetch_max(until, Ordering::AcqRel);
    }

    /// Is L2 set aside for `ns` on this node ([`RedisTier::bypass`])?
    pub(crate) fn bypassed(&self, ns: Ns) -> bool {
        self.bypass_until_ms[ns as usize].load(Ordering::Acquire) > millis(self.created.elapsed())
    }

    pub(crate) async fn ping(&self) -> Result<Duration, String> {
        let t0 = Instant::now();
        match self.run::<String>(redis::cmd("PING").clone()).await {
            Some(_) => Ok(t0.elapsed()),
            None => Err("Redis unreachable".to_owned()),
        }
    }

    /// Reads the shared generations (start-up and after resubscribing), first raising each in Redis to at
    /// least the one this node knows: after a restart Redis has them lower, and handing out generations
    /// this node already used would bring back what it cached under them.
    async fn load_gens(&self) -> bool {
        const RAISE: &str = "local g = tonumber(redis.call('GET', KEYS[1]) or '0') \
                             local floor = tonumber(ARGV[1]) \
                             if g < floor then redis.call('SET', KEYS[1], floor) g = floor end \
                             return g";
        for ns in Ns::ALL {
            let known = self.gens[ns as usize].load(Ordering::Acquire);
            let cmd = redis::cmd("EVAL").arg(RAISE).arg(1).arg(self.gen_key(ns)).arg(known).clone();
            match self.run::<u64>(cmd).await {
                Some(g) => {
                    self.gens[ns as usize].fetch_max(g, Ordering::AcqRel);
                }
                None => return false,
            }
        }
        true
    }

    /// Listens for other nodes' invalidations, reconnecting with backoff, until `stop`.
    pub(crate) fn spawn_listener(&self, cache: Cache, stop: tokio_util::sync::CancellationToken) {
        let client = self.client.clone();
        let channel = self.channel();
        let ack_channel = self.ack_channel(&self.node);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut first = true;
            loop {
                let session = async {
                    let mut ps = client.get_async_pubsub().await?;
                    ps.subscribe(&channel).await?;
                    ps.subscribe(&ack_channel).await?;
                    Ok::<_, redis::RedisError>(ps)
                };
                let ps = tokio::select! {
                    () = stop.cancelled() => return,
                    r = tokio::time::timeout(Duration::from_secs(2), session) => r,
                };
                let Ok(Ok(ps)) = ps else {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                };
                backoff = Duration::from_millis(100);
                let Some(tier) = cache.inner.redis.as_ref() else { return };
                tier.load_gens().await;
                if first {
                    // Whatever this node cached before it could hear other nodes' writes may be older than
                    // them (nothing, when start-up waited for the subscription: `Cache::wait_subscribed`).
                    cache.drop_local();
                }
                tier.subscribed.store(true, Ordering::Relaxed);
                if !first {
                    // Messages may have been missed while disconnected, and L2 may hold values written
                    // before writes we never heard of: invalidate everything, everywhere.
                    tracing::info!("Redis subscription restored; invalidating caches");
                    // (Without waiting for acknowledgements: this task is the one that would hear them.)
                    for ns in Ns::ALL {
                        tier.publish_bump(ns, true).await;
                        cache.bump_local(ns, true);
                    }
                }
                first = false;
                let (mut sink, mut stream) = ps.split();
                // A connection that died without a word (a half-open TCP connection) would otherwise look
                // subscribed for ever while hearing nothing: ping it, and reconnect when it does not answer.
                let mut keepalive = tokio::time::interval(tier.keepalive);
                keepalive.reset();
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = keepalive.tick() => {
                            let pong = tokio::time::timeout(tier.timeout * 4, sink.ping::<redis::Value>()).await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break;
                            }
                        }
                        msg = stream.next() => match msg {
                            Some(m) => {
                                let payload: String = m.get_payload().unwrap_or_default();
                                if m.get_channel_name() == ack_channel {
                                    tier.apply_ack(&payload);
                                } else {
                                    tier.apply(&cache, &payload);
                                }
                            }
                            None => break,
                        }
                    }
                }
                tier.subscribed.store(false, Ordering::Relaxed);
                tracing::warn!("lost the Redis invalidation subscription; reconnecting");
            }
        });
    }

    /// Applies another node's bump (or notes that this node's own came back), then acknowledges it.
    fn apply(&self, cache: &Cache, payload: &str) {
        let (payload, forget) = match payload.strip_suffix(FORGET) {
            Some(p) => (p, true),
            None => (payload, false),
        };
        let mut parts = payload.splitn(3, ':');
        let (Some(ns), Some(g), Some(node)) = (parts.next(), parts.next(), parts.next()) else { return };
        let (Some(ns), Ok(g)) = (Ns::from_name(ns), g.parse::<u64>()) else { return };
        self.gens[ns as usize].fetch_max(g, Ordering::AcqRel);
        if node == self.node {
            self.acknowledged(ns, g);
        } else {
            cache.bump_local(ns, forget);
            self.send_ack(node, ns, g);
        }
    }

    /// An acknowledgement `{ns}:{g}` of one of this node's bumps.
    fn apply_ack(&self, payload: &str) {
        let Some((ns, g)) = payload.split_once(':') else { return };
        if let (Some(ns), Ok(g)) = (Ns::from_name(ns), g.parse::<u64>()) {
            self.acknowledged(ns, g);
        }
    }
}
