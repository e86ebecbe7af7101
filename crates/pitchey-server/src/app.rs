//! Building the application from settings, and serving it.

use crate::config::Settings;
use crate::error::ApiError;
use crate::password;
use crate::ratelimit::LoginLimiter;
use crate::routes;
use crate::state::AppState;
use crate::tasks;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use pitchey_store::Store;
use pitchey_store::seed::{DEMO_PASSWORD, SeedOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// A built application, ready to serve.
pub struct App {
    /// Shared state (also used by tests and background tasks).
    pub state: AppState,
    router: Router,
}

/// Connects the store, runs migrations, seeds demo data when configured and the database is empty, and
/// builds the router.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let store = pitchey_store::connect(&settings.store_config()).await?;
    store.migrate().await?;
    if settings.should_seed_demo() && store.count_users().await? == 0 {
        let report = seed_demo(&store, 0).await?;
        tracing::info!(users = report.users_created, pitches = report.pitches_created, "seeded demo data");
    }
    let dummy_hash: Arc<str> = tokio::task::spawn_blocking(|| password::hash("no-such-account-password"))
        .await?
        .map_err(anyhow::Error::msg)?
        .into();
    let state = AppState {
        trusted_proxies: Arc::new(settings.trusted_proxy_nets()?),
        login_limiter: LoginLimiter::new(settings.login_rate_per_minute).map(Arc::new),
        store,
        dummy_hash,
        ready: Arc::new(AtomicBool::new(false)),
        started: Instant::now(),
        settings: Arc::new(settings),
    };
    let router = with_middleware(routes::router(), &state.settings)?.with_state(state.clone());
    Ok(App { state, router })
}

/// Seeds the demo accounts and catalogue plus `extra_pitches` generated pitches.
pub async fn seed_demo(store: &Store, extra_pitches: usize) -> anyhow::Result<pitchey_store::seed::SeedReport> {
    let password_hash =
        tokio::task::spawn_blocking(|| password::hash(DEMO_PASSWORD)).await?.map_err(anyhow::Error::msg)?;
    let report = store.seed_demo(&SeedOptions { password_hash, extra_pitches }).await?;
    // Bulk loads leave the planner without statistics; refresh them so indexes are chosen from the start.
    store.analyze().await?;
    Ok(report)
}

/// Wraps every route (and the fallback) in the HTTP middleware, outermost first.
fn with_middleware(router: Router<AppState>, s: &Settings) -> anyhow::Result<Router<AppState>> {
    let origins = s
        .cors_origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| anyhow::anyhow!("invalid CORS origin {o:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(86400));
    let timeout = Duration::from_secs(s.request_timeout_secs.max(1));
    Ok(router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str());
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                        tracing::info_span!("request", method = %req.method(), route, request_id = id)
                    })
                    .on_request(())
                    .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG))
                    .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
            .layer(middleware::from_fn(preflight_no_content))
            .layer(cors)
            .layer(CompressionLayer::new())
            .layer(middleware::from_fn(move |req: Request, next: Next| deadline(timeout, req, next)))
            .layer(DefaultBodyLimit::max(s.body_limit_bytes)),
    ))
}

/// CORS preflights are answered 204 (the CORS layer answers them with an empty 200).
async fn preflight_no_content(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut res = next.run(req).await;
    if preflight && res.status() == StatusCode::OK {
        *res.status_mut() = StatusCode::NO_CONTENT;
    }
    res
}

/// Answers 503 in our envelope when a request runs past the configured deadline.
async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::unavailable(1).into_response(),
    }
}

/// Serves until `shutdown` resolves, then stops accepting, drains in-flight requests (at most
/// `shutdown_grace_secs`), stops background tasks and closes the database.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = app.state.clone();
    let background = tasks::spawn_all(&state);
    state.ready.store(true, Ordering::Relaxed);
    let grace = Duration::from_secs(state.settings.shutdown_grace_secs);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let ready = state.ready.clone();
    let signal = async move {
        shutdown.await;
        ready.store(false, Ordering::Relaxed);
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(listener, app.router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(signal);
    let server = std::pin::pin!(server.into_future());
    let drained = async {
        // Only once shutdown has begun does the grace period start counting.
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = server => r?,
        () = drained => tracing::warn!("grace period over; closing remaining connections"),
    }
    background.stop().await;
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
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
