//! The gRPC listener's accept loop: at most `max_connections` open at once, each accepted
//! connection holding a permit until it closes, its TLS handshake (if any) done in a task of
//! its own within the handshake timeout, its first bytes due within the same deadline
//! ([`Handshake`]), its writes coalesced ([`Coalesced`]).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::coalesce::Coalesced;
use crate::transport::{Accepted, Handshake, configure_accepted};

/// How connections are accepted.
#[derive(Clone)]
pub(super) struct Limits {
    /// Connections open at once.
    pub(super) max_connections: usize,
    /// For the TLS handshake, then for the first bytes of HTTP/2.
    pub(super) handshake_timeout: Duration,
    /// TCP keepalive idle time.
    pub(super) keepalive: Option<Duration>,
    /// TLS, or plaintext.
    pub(super) tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Connections accepted on `listener` within `limits`, ready for tonic. The accept loop runs
/// until tonic drops the stream (at shutdown), then closes the listener.
pub(super) fn limited(
    listener: TcpListener,
    limits: Limits,
) -> ReceiverStream<std::io::Result<Counted>> {
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        loop {
            let permit = tokio::select! {
                () = sender.closed() => return,
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let tcp = tokio::select! {
                () = sender.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(error) => {
                        // Out of descriptors, or a connection reset before it was taken:
                        // neither ends the server; a short pause keeps it from spinning.
                        tracing::debug!(%error, "gRPC accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            configure_accepted(&tcp, limits.keepalive);
            let (sender, tls, timeout) =
                (sender.clone(), limits.tls.clone(), limits.handshake_timeout);
            tokio::spawn(async move {
                match Accepted::secure(tcp, tls.as_ref(), timeout).await {
                    Ok(io) => {
                        let counted = Counted {
                            io: Coalesced::new(Handshake::new(io, timeout).holding(permit)),
                        };
                        let _ = sender.send(Ok(counted)).await;
                    }
                    Err(error) => tracing::debug!(%error, "gRPC TLS handshake failed"),
                }
            });
        }
    });
    ReceiverStream::new(receiver)
}

/// A connection holding one of the permits of [`limited`].
pub(super) struct Counted {
    io: Coalesced<Handshake<Accepted>>,
}

impl Connected for Counted {
    type ConnectInfo = <TcpStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.get_ref().get_ref().tcp().connect_info()
    }
}
impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
