//! The HTTP/1.1 accept loop.
//!
//! `axum::serve` gives hyper no timer, so hyper's deadline for reading a request's head never applies: a
//! client that opens a connection and sends half a request line holds it, and a file descriptor, for ever
//! (a few thousand such clients exhaust the open-files limit). This loop is `axum::serve` as we used it (the
//! peer address as [`ConnectInfo`], graceful shutdown, accept errors survived) with hyper's HTTP/1 connection
//! given a Tokio timer and `header_read_timeout`. The deadline also closes a keep-alive connection that stays
//! idle that long between requests, as hyper starts it when it waits for the next request's head. No
//! route upgrades its connection (there is no WebSocket endpoint), so connections are served without upgrades.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and returns once every
/// open connection has finished its request in flight and closed.
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
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
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(Body::new))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = connections.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
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
