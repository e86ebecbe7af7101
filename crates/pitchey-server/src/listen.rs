//! The HTTP/1.1 accept loop.
//!
//! `axum::serve` gives hyper no timer, so hyper's deadline for reading a request's head never applies: a
//! client that connects and sends nothing, or half a request line, holds a connection and a file descriptor
//! for ever (a few thousand such clients exhaust the open-files limit). This loop is `axum::serve` as we used
//! it (the peer address as [`ConnectInfo`], graceful shutdown, accept errors survived), serving hyper's HTTP/1
//! connection, with a watchdog per connection: a connection on which no request has started for a whole
//! `idle` period, and none is in flight, is closed.
//!
//! Hyper's own deadline (a Tokio timer given to the connection) does the same per request, but it arms and
//! disarms a timer for every request, and that cost 10–25% of the throughput of 122 KB cached pages in
//! alternated runs (`docs/PERFORMANCE.md`). The watchdog sleeps once per period instead; it closes an idle
//! or stalled connection between one and two periods after its last request.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and returns once every
/// open connection has finished its request in flight and closed. Connections without a request for
/// `idle` are closed ([`stalled`]).
pub async fn serve_http(listener: TcpListener, router: Router, idle: Duration, shutdown: impl Future<Output = ()>) {
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    survive_accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = Arc::new(Activity::default());
        let seen = Arc::clone(&activity);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::start(&seen);
            let response = router.clone().oneshot(req.map(Body::new));
            async move {
                let res = response.await;
                drop(in_flight);
                res
            }
        });
        let conn = connections
            .watch(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            tokio::select! {
                ended = conn => if let Err(e) = ended {
                    tracing::trace!(%peer, error = %e, "connection ended with an error");
                },
                () = stalled(&activity, idle) => tracing::debug!(%peer, "closed a connection that sent no request"),
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// Requests started on one connection, and those whose response has not started yet.
#[derive(Debug, Default)]
struct Activity {
    started: AtomicU64,
    in_flight: AtomicU64,
}

/// A request from its start until its response starts (or it is dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.started.fetch_add(1, Relaxed);
        activity.in_flight.fetch_add(1, Relaxed);
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Resolves once a whole `period` has passed in which no request started on the connection and none was in
/// flight: half a request head, or nothing, or a keep-alive connection left idle. A response body still being
/// written counts as nothing in flight: a client that takes a whole period to read one is cut off too.
async fn stalled(activity: &Activity, period: Duration) {
    let mut seen = activity.started.load(Relaxed);
    loop {
        tokio::time::sleep(period).await;
        let now = activity.started.load(Relaxed);
        if now == seen && activity.in_flight.load(Relaxed) == 0 {
            return;
        }
        seen = now;
    }
}

/// Errors of one connection (reset before it was accepted) are not the listener's; others (out of file
/// descriptors, say) would repeat at once, so the loop waits a second, as `axum::serve` does.
async fn survive_accept_error(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
