//! Building the application from settings, and serving it.
//!
//! [`prepare`] connects (lazily) and builds the router without touching the database; the start-up work —
//! migrations, demo data, a first health check, cache warming — runs in [`start`]. The binary serves
//! probes while start-up runs (ready = false); [`build`] does both before returning, for tests and tools.

use crate::caching;
use crate::config::Settings;
use crate::error::ApiError;
use crate::extract::BodyReadTimeout;
use crate::health;
use crate::observability;
use crate::password;
use crate::ratelimit::LoginLimiter;
use crate::routes;
use crate::session;
use crate::state::{AppState, DASHBOARDS_OWED, Phase};
use crate::tasks;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use pitchey_cache::Cache;
use pitchey_store::Store;
use pitchey_store::seed::{BULK_LOAD, DEMO_PASSWORD, SeedOptions};
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// A built application, ready to serve.
pub struct App {
    /// Shared state (also used by tests and background tasks).
    pub state: AppState,
    router: Router,
    stop: CancellationToken,
}

/// Builds the application and runs its start-up (migrations, demo data, first health check, warming).
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let app = prepare(settings).await?;
    start(&app.state).await?;
    Ok(app)
}

/// Builds the application without touching the database: pools connect lazily.
pub async fn prepare(settings: Settings) -> anyhow::Result<App> {
    // Install the metrics recorder before anything records.
    let _ = observability::prometheus();
    let store = pitchey_store::connect(&settings.store_config()).await?;
    let stop = CancellationToken::new();
    let cache = Cache::new(&settings.cache_config(), stop.clone()).map_err(anyhow::Error::msg)?;
    let dummy_hash: Arc<str> = tokio::task::spawn_blocking(|| password::hash("no-such-account-password"))
        .await?
        .map_err(anyhow::Error::msg)?
        .into();
    let trusted = settings.trusted_proxy_nets()?;
    let limiter = LoginLimiter::new(settings.login_rate_per_minute);
    let metrics_on_api_port = settings.metrics_bind.is_none();
    store.db().register_metrics();
    cache.register_metrics();
    observability::register_defaults();
    let state = AppState::new(store, cache, Arc::new(settings), trusted, limiter, dummy_hash);
    let router = with_middleware(routes::router(metrics_on_api_port), &state)?.with_state(state.clone());
    Ok(App { state, router, stop })
}

/// How long start-up, and a command that invalidates the running nodes' caches, wait for the Redis
/// subscription (without it, other nodes' writes do not reach this node's cache, nor their
/// acknowledgements this node).
pub(crate) const REDIS_SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

/// Start-up: migrations, demo data when configured and the database is empty, a first health check, the
/// Redis subscription (bounded), and cache warming (bounded by `cache_warm_timeout_secs`). Then the
/// process is ready.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    let store = &state.store;
    store.migrate().await?;
    if state.settings.should_seed_demo() && store.count_users().await? == 0 {
        let report = seed_demo(store, 0).await?;
        tracing::info!(users = report.users_created, pitches = report.pitches_created, "seeded demo data");
    }
    health::refresh(state).await;
    if state.settings.cache_enabled {
        if state.settings.redis_url.is_some() && !state.cache.wait_subscribed(REDIS_SUBSCRIBE_WAIT).await {
            tracing::warn!(
                "no Redis subscription yet; starting without it (other nodes' writes reach this one once it is up)"
            );
        }
        let bound = Duration::from_secs(state.settings.cache_warm_timeout_secs);
        match tokio::time::timeout(bound, caching::warm(state)).await {
            Ok(keys) => tracing::info!(entries = keys.len(), "cache warmed"),
            Err(_) => tracing::warn!("cache warming passed its time bound; continuing without waiting"),
        }
    }
    state.set_phase(Phase::Ready);
    Ok(())
}

/// Seeds the demo accounts and catalogue plus `extra_pitches` generated pitches.
pub async fn seed_demo(store: &Store, extra_pitches: usize) -> anyhow::Result<pitchey_store::seed::SeedReport> {
    let password_hash =
        tokio::task::spawn_blocking(|| password::hash(DEMO_PASSWORD)).await?.map_err(anyhow::Error::msg)?;
    let report =
        store.seed_demo(&SeedOptions { password_hash, extra_pitches, bulk_load_from: BULK_LOAD, as_of: None }).await?;
    // Bulk loads leave the planner without statistics; refresh them so indexes are chosen from the start.
    store.analyze().await?;
    Ok(report)
}

/// Wraps every route (and the fallback) in the HTTP middleware, outermost first.
fn with_middleware(router: Router<AppState>, state: &AppState) -> anyhow::Result<Router<AppState>> {
    let s = &state.settings;
    let origins = s
        .cors_origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| anyhow::anyhow!("invalid CORS origin {o:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // A predicate over a shared list rather than `AllowOrigin::list`: the layer is cloned for every request, and
    // a list is a `Vec` copied with it.
    let origins = Arc::new(origins);
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| origins.contains(origin)))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([HeaderName::from_static("x-request-id"), header::ETAG, HeaderName::from_static("x-cache")])
        .max_age(Duration::from_secs(86400));
    let edge_state = state.clone();
    let handler_state = state.clone();
    Ok(router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let route =
                            req.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |m| m.as_str());
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                        tracing::info_span!("request", method = %req.method(), route, request_id = id)
                    })
                    .on_request(())
                    .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG))
                    .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            // Our own per-request work is two `from_fn` layers rather than one per concern: each `from_fn`
            // clones the whole stack below it for every request.
            .layer(middleware::from_fn(move |req: Request, next: Next| edge_middleware(edge_state.clone(), req, next)))
            .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
            .layer(cors)
            // `CompressionLayer`'s body holds a brotli and a gzip encoder inline: a response with it is about
            // 6 KB, copied whole at each layer it passes through. Boxed here, once (`from_fn` would box it
            // anyway), the CORS and panic layers move a 128-byte response instead.
            .map_response(|r: axum::http::Response<_>| r.map(axum::body::Body::new))
            // Brotli's default quality is 11: about 20 ms of CPU for one 120 KB marketplace page. Quality 4
            // (and gzip level 4) compresses that page in about a millisecond, to within a few percent. Bodies
            // under 1 KB (health, most mutations' answers) are not worth it and go out as they are.
            .layer(
                CompressionLayer::new().quality(CompressionLevel::Precise(COMPRESSION_LEVEL)).compress_when(
                    DefaultPredicate::new().and(SizeAbove::new(crate::caching::MIN_COMPRESSED_BODY as u64)),
                ),
            )
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                handler_middleware(handler_state.clone(), req, next)
            }))
            .layer(DefaultBodyLimit::max(s.body_limit_bytes)),
    ))
}

/// The outer per-request work, outside the CORS layer: counts and times the request
/// ([`observability::RequestTimer`]), answers API requests with 503 while the process is starting, counts
/// requests in flight, and answers CORS preflights 204 (the CORS layer answers them with an empty 200).
async fn edge_middleware(state: AppState, req: Request, next: Next) -> Response {
    let timer = observability::RequestTimer::start(&req);
    let path = req.uri().path();
    let mut res = if state.phase() == Phase::Starting && path.starts_with("/api/") && !path.starts_with("/api/health") {
        ApiError::unavailable(2).into_response()
    } else {
        let preflight = req.method() == Method::OPTIONS;
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut res = next.run(req).await;
        state.in_flight.fetch_sub(1, Ordering::Relaxed);
        if preflight && res.status() == StatusCode::OK {
            *res.status_mut() = StatusCode::NO_CONTENT;
        }
        res
    };
    security_headers(res.headers_mut(), state.settings.cookie_secure);
    timer.finish(&state.route_stats, &res);
    res
}

/// Headers that keep a browser from misreading, framing or keeping our answers, on every response: no MIME
/// sniffing, no framing, for JSON (the ops page sets its own policy) a policy that loads nothing, and
/// `private, no-store` where a route set no caching policy of its own (sign-in and session answers carry the
/// user's profile). With secure cookies, that is behind HTTPS, browsers are also told to use HTTPS only.
fn security_headers(h: &mut HeaderMap, https: bool) {
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-store"));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    h.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}

/// The cookie marking "this client wrote recently": its reads go to the primary until it expires.
const RYW_COOKIE: &str = "pitchey-rw";

/// The inner per-request work, around the handler:
///
/// - **Deadline.** A request running past `request_timeout_secs` is answered 503 in our envelope: a read is
///   cancelled (retry after a second); a write runs to completion and the answer says its outcome is unknown.
/// - **Read-your-writes** across replicas and nodes. A signed-in client that wrote gets a short-lived
///   cookie; while it is present, the request's reads go to the primary (replicas may lag behind its write).
/// - **Dashboards follow writes.** Cached dashboards (`caching::cached_dashboard`) show counts that almost any
///   write can change: the caller's own pitches, NDAs and investments, and others' actions on them (an NDA
///   request, a follow, a like). Rather than map every write to the dashboards it touches, every API write
///   that was not refused (any answer but a 4xx: a 5xx may have come after its commit) invalidates them all,
///   on every node. Two kinds of write are left out: sign-in, sign-up,
///   sign-out and password changes (`/api/auth/*`), which no dashboard shows, and view tracking, the write
///   every page view makes: view counts on dashboards may lag by the dashboard cache's TTL. A handler that
///   invalidates public pages takes the dashboards along in the same round of acknowledgements
///   ([`DASHBOARDS_OWED`]); the others' writes invalidate them here, after the handler.
async fn handler_middleware(state: AppState, mut req: Request, next: Next) -> Response {
    let s = &state.settings;
    let now = chrono::Utc::now().timestamp();
    let wrote_recently = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .flatten()
        .any(|c| c.name() == RYW_COOKIE && c.value().parse::<i64>().is_ok_and(|until| until > now));
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write {
        // Only writes read a body (`extract::body_bytes`); reads are spared the extension.
        req.extensions_mut().insert(BodyReadTimeout(Duration::from_secs(s.body_read_timeout_secs.max(1))));
    }
    let signed_in = session::token_from_headers(req.headers()).is_some();
    let path = req.uri().path();
    let view_tracking = matches!(path, "/api/views/track" | "/api/analytics/track-view");
    let dashboards_change = is_write && path.starts_with("/api/") && !view_tracking && !path.starts_with("/api/auth/");
    let work = {
        let state = state.clone();
        async move {
            let handler = async {
                let res = pitchey_store::PRIMARY_READS.scope(wrote_recently, next.run(req)).await;
                (res, DASHBOARDS_OWED.with(Cell::get))
            };
            // A handler that invalidates public pages takes the dashboards along (`DASHBOARDS_OWED`).
            let (res, still_owed) = DASHBOARDS_OWED.scope(Cell::new(dashboards_change), handler).await;
            // Any answer but a refusal (4xx): a 5xx may come after a commit, and a needless invalidation
            // only costs a reload.
            if still_owed && !res.status().is_client_error() && state.settings.cache_enabled {
                state.cache.invalidate(pitchey_cache::Ns::Dashboard).await;
            }
            res
        }
    };
    let limit = Duration::from_secs(s.request_timeout_secs.max(1));
    let mut res = if is_write {
        // A write is never cut off: dropped after its commit, it would skip the cache invalidations that
        // follow, and a client told to retry would apply it twice. It runs on (its statements have their
        // own timeouts) while the client hears that the outcome is unknown, with no `Retry-After`.
        // The task keeps the request's span (request id, route) for its logs.
        let mut task = tokio::spawn(tracing::Instrument::instrument(work, tracing::Span::current()));
        match tokio::time::timeout(limit, &mut task).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => return ApiError::internal(format!("request task failed: {e}")).into_response(),
            Err(_) => return ApiError::outcome_unknown().into_response(),
        }
    } else {
        match tokio::time::timeout(limit, work).await {
            Ok(res) => res,
            Err(_) => return ApiError::unavailable(1).into_response(),
        }
    };
    let window = s.read_your_writes_secs;
    if window > 0 && is_write && signed_in && res.status().is_success() {
        let until = now + i64::try_from(window).unwrap_or(i64::MAX / 2);
        let c = Cookie::build((RYW_COOKIE, until.to_string()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(s.cookie_secure)
            .max_age(cookie::time::Duration::seconds(i64::try_from(window).unwrap_or(60)))
            .build();
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Compression level of responses compressed on the fly (brotli quality and gzip level alike).
const COMPRESSION_LEVEL: i32 = 4;

/// Serves until `shutdown` resolves. If start-up has not run, it runs now in the background (probes are
/// answered meanwhile; other API requests get 503). On shutdown: readiness goes false, after
/// `shutdown_drain_delay_secs` the listener closes, in-flight requests drain (at most
/// `shutdown_grace_secs`), background tasks stop and the database closes.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = app.state.clone();
    let background = tasks::spawn_all(&state);
    if state.phase() == Phase::Starting {
        let s = state.clone();
        tokio::spawn(async move {
            // Retry start-up until the database is there (it may start after us).
            let mut wait = Duration::from_millis(500);
            while let Err(e) = start(&s).await {
                tracing::error!(error = %format!("{e:#}"), "start-up failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            tracing::info!("ready");
        });
    }
    let metrics_server = match state.settings.metrics_bind {
        Some(addr) => Some(tokio::spawn(serve_metrics(addr, state.clone(), app.stop.clone()))),
        None => None,
    };
    let grace = Duration::from_secs(state.settings.shutdown_grace_secs);
    let drain_delay = Duration::from_secs(state.settings.shutdown_drain_delay_secs);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let s = state.clone();
    let signal = async move {
        shutdown.await;
        s.set_phase(Phase::Draining);
        tracing::info!(delay_secs = drain_delay.as_secs(), "shutting down: reporting unready, then draining");
        tokio::time::sleep(drain_delay).await;
        let _ = stopping_tx.send(());
    };
    let limits = crate::listen::ConnectionLimits {
        first: Duration::from_secs(state.settings.header_read_timeout_secs.max(1)),
        idle: Duration::from_secs(state.settings.keep_alive_timeout_secs.max(1)),
    };
    let server = std::pin::pin!(crate::listen::serve_http(listener, app.router, limits, signal));
    let drained = async {
        // Only once the listener closes does the grace period start counting.
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {}
        () = drained => tracing::warn!("grace period over; closing remaining connections"),
    }
    app.stop.cancel();
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    background.stop().await;
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Connections the kernel may queue before we accept them (it caps this at `net.core.somaxconn`). The
/// default of the standard library and tokio (128 or 1024) overflows when thousands of clients connect
/// at once, and an overflowing queue drops connection attempts, which clients see as second-long stalls.
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds the API listener with a deep accept queue.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves `/metrics` alone on its own address (keeps the exposition off the public port).
async fn serve_metrics(addr: SocketAddr, state: AppState, stop: CancellationToken) {
    let router = routes::admin::metrics_router().with_state(state);
    match TcpListener::bind(addr).await {
        Ok(l) => {
            tracing::info!(address = %addr, "metrics listening");
            let _ = axum::serve(l, router).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        }
        Err(e) => tracing::error!(address = %addr, error = %e, "cannot bind the metrics address"),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
