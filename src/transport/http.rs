//! The HTTP listener's accept loop (dashboard, probes, `/metrics`, WebSocket upgrades): hyper
//! with the limits `axum::serve` does not have.
//!
//! - At most `max_connections` open at once, WebSockets included (the permit travels inside
//!   the connection, so an upgraded socket keeps it); past that, accepting pauses until one
//!   closes, and the kernel's listen backlog holds the rest.
//! - A connection must send its first bytes within the handshake timeout
//!   ([`Handshake`](super::accepted::Handshake)), and each request head within
//!   `header_read_timeout`, or it is closed: slow or silent clients free their slot.
//! - TCP keepalive, so a peer that vanished without a word is found out by the kernel.
//! - TLS, given an acceptor: each handshake runs in the connection's own task, within the
//!   handshake timeout, so a slow one holds up nobody else's.
//! - At shutdown, it stops accepting, asks every connection to finish (HTTP/1 after the
//!   response in progress, HTTP/2 with GOAWAY), and returns once they have; upgraded
//!   WebSockets close on the same shutdown token themselves.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

use super::accepted::{Accepted, Handshake, configure_accepted};

/// The HTTP listener's limits.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a connection has to send its first bytes.
    pub handshake_timeout: Duration,
    /// How long a client has to send a whole request head.
    pub header_read_timeout: Duration,
    /// TCP keepalive idle time and HTTP/2 ping interval; `None`: off.
    pub keepalive: Option<Duration>,
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown`, then lets the
/// connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keepalive);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, _peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was taken: neither
                    // ends the server. A short pause keeps a persistent error from spinning.
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        configure_accepted(&stream, limits.keepalive);
        let (builder, app, tls, watcher) = (
            builder.clone(),
            app.clone(),
            tls.clone(),
            graceful.watcher(),
        );
        tokio::spawn(async move {
            let stream =
                match Accepted::secure(stream, tls.as_ref(), limits.handshake_timeout).await {
                    Ok(stream) => stream,
                    Err(error) => {
                        tracing::debug!(%error, "TLS handshake failed");
                        return;
                    }
                };
            let io = Handshake::new(stream, limits.handshake_timeout).holding(permit);
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(app))
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
