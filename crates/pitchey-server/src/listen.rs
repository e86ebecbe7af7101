//! The HTTP/1.1 accept loop.
//!
//! `axum::serve` gives hyper no timer, so hyper's deadline for reading a request's head never applies: a
//! client that connects and sends nothing, or half a request line, holds a connection and a file descriptor
//! for ever (a few thousand such clients exhaust the open-files limit). This loop is `axum::serve` as we used
//! it (the peer address as [`ConnectInfo`], graceful shutdown, accept errors survived), serving hyper's HTTP/1
//! connection, with a watchdog per connection ([`stalled`]) that closes it when it has had nothing in flight
//! for too long: `first` from the accept while no request has started (nothing sent, or half a head), `idle`
//! from the end of the last response after that (a keep-alive connection left idle). A request is in flight
//! from its start until its response body has been written or dropped, so neither a slow handler nor a slow
//! reader is cut off.
//!
//! Hyper's own deadline (a Tokio timer given to the connection) arms and disarms a timer for every request,
//! and that cost 10–25% of the throughput of 122 KB cached pages in alternated runs (`docs/PERFORMANCE.md`).
//! The watchdog sleeps until the connection's deadline instead, and each request costs two clock reads and a
//! few atomic operations.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a connection may go with nothing in flight before it is closed.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From the accept, while no request has started.
    pub first: Duration,
    /// From the end of the last response (keep-alive). Must exceed a balancer's idle timeout in front, or
    /// the balancer may send a request on a connection as it closes.
    pub idle: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and returns once every
/// open connection has finished its request in flight and closed.
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
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
        let activity = Arc::new(Activity::new());
        let seen = Arc::clone(&activity);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::start(&seen);
            let response = router.clone().oneshot(req.map(Body::new));
            async move { response.await.map(|res| res.map(|body| Guarded { body, _in_flight: in_flight })) }
        });
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = connections.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                ended = conn => if let Err(e) = ended {
                    tracing::trace!(%peer, error = %e, "connection ended with an error");
                },
                () = stalled(&activity, limits) => tracing::debug!(%peer, "closed a connection with nothing in flight"),
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// What one connection is doing, for its watchdog.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Whether a request has started.
    served: AtomicBool,
    /// Requests whose response body has not been written (or dropped) yet.
    in_flight: AtomicU64,
    /// Milliseconds after `opened` that a request last started or ended.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            served: AtomicBool::new(false),
            in_flight: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms.store(u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// A request from its start until its response body is written or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.served.store(true, Relaxed);
        activity.in_flight.fetch_add(1, Relaxed);
        activity.touch();
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// A response body that keeps its request [`InFlight`] until hyper has written it or dropped it.
struct Guarded {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Resolves once the connection has had nothing in flight for its limit: `first` from the accept while no
/// request has started, `idle` from the last response's end after that.
async fn stalled(activity: &Activity, limits: ConnectionLimits) {
    loop {
        let limit = if activity.served.load(Relaxed) { limits.idle } else { limits.first };
        if activity.in_flight.load(Relaxed) > 0 {
            tokio::time::sleep(limit).await;
            continue;
        }
        let due = activity.opened + Duration::from_millis(activity.last_ms.load(Relaxed)) + limit;
        if Instant::now() >= due {
            return;
        }
        tokio::time::sleep_until(due.into()).await;
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
