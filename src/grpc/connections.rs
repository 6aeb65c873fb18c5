//! The connection limit: at most `max_connections` open at once, each accepted connection
//! holding a permit until it closes, its handshake due within a deadline ([`Handshake`]), its
//! writes coalesced ([`Coalesced`]).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::{Stream, StreamExt};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tonic::transport::server::{Connected, TcpIncoming};

use super::coalesce::Coalesced;
use crate::transport::Handshake;

/// Accepted connections, at most `max` open at once: each carries a permit it returns on close,
/// and is closed if its handshake has not come within `handshake_timeout`.
pub(super) fn limited(
    incoming: TcpIncoming,
    max: usize,
    handshake_timeout: Duration,
) -> impl Stream<Item = std::io::Result<Counted>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    Box::pin(futures::stream::unfold(
        (incoming, permits),
        move |(mut incoming, permits)| async move {
            let permit = permits.clone().acquire_owned().await.ok()?;
            let accepted = incoming.next().await?;
            let counted = accepted.map(|io| Counted {
                io: Coalesced::new(Handshake::new(io, handshake_timeout)),
                _permit: permit,
            });
            Some((counted, (incoming, permits)))
        },
    ))
}

/// A connection holding one of the permits of [`limited`].
pub(super) struct Counted {
    io: Coalesced<Handshake<TcpStream>>,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Counted {
    type ConnectInfo = <TcpStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.get_ref().get_ref().connect_info()
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
