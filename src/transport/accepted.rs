//! An accepted connection that must say something within a deadline.
//!
//! A socket that connects and sends nothing holds a connection slot and a descriptor for as
//! long as it likes: hyper waits for the first bytes before it knows the protocol, and HTTP/2's
//! keepalive starts only once the handshake has. [`Handshake`] fails the connection's reads
//! with `TimedOut` when its first [`HANDSHAKE_BYTES`] have not arrived by the deadline, which
//! ends the connection and frees its slot. After that, the protocols' own timers take over:
//! HTTP/1's header-read timeout, HTTP/2's keepalive pings, TCP keepalive. Over TLS
//! ([`Accepted::secure`]), the TLS handshake has a deadline of its own, and the bytes counted
//! are the decrypted ones. A [`Handshake`] can also carry its listener's connection permit
//! ([`Handshake::holding`]).

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
    time::Sleep,
};

/// The HTTP/2 connection preface (24 bytes) and the header of the first frame (9), or that
/// much of an HTTP/1 request head.
pub const HANDSHAKE_BYTES: usize = 24 + 9;

/// See the module docs.
#[derive(Debug)]
pub struct Handshake<T> {
    io: T,
    /// Until the handshake bytes are in; `None` after.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Handshake bytes still to come.
    remaining: usize,
    /// The listener's connection permit, returned when the connection is dropped, wherever
    /// it went (an upgraded WebSocket takes it along).
    _permit: Option<OwnedSemaphorePermit>,
}

impl<T> Handshake<T> {
    /// `io`, whose first [`HANDSHAKE_BYTES`] must arrive within `timeout`.
    pub fn new(io: T, timeout: Duration) -> Self {
        Self {
            io,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            remaining: HANDSHAKE_BYTES,
            _permit: None,
        }
    }

    /// The same, holding `permit` for as long as the connection lives.
    pub fn holding(mut self, permit: OwnedSemaphorePermit) -> Self {
        self._permit = Some(permit);
        self
    }

    /// The connection inside.
    pub fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Handshake<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection did not complete its handshake in time",
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if this.deadline.is_some() {
            let read = buf.filled().len() - before;
            this.remaining = this.remaining.saturating_sub(read);
            // End of input (read 0) ends the connection anyway.
            if this.remaining == 0 || read == 0 {
                this.deadline = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Handshake<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// An accepted connection, in clear or over TLS.
#[derive(Debug)]
pub enum Accepted {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP, the handshake done.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Accepted {
    /// Completes the TLS handshake within `timeout` when `tls` is given; plain TCP otherwise.
    pub async fn secure(
        tcp: TcpStream,
        tls: Option<&tokio_rustls::TlsAcceptor>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let Some(tls) = tls else {
            return Ok(Self::Plain(tcp));
        };
        match tokio::time::timeout(timeout, tls.accept(tcp)).await {
            Ok(Ok(stream)) => Ok(Self::Tls(Box::new(stream))),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the TLS handshake did not complete in time",
            )),
        }
    }

    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for Accepted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Accepted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(tcp) => tcp.is_write_vectored(),
            Self::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Socket options of every accepted connection: no Nagle (replies are small and
/// latency-bound), and TCP keepalive probes after `keepalive` of silence, so the kernel finds
/// out a peer that vanished and the connection ends.
pub fn configure_accepted(stream: &TcpStream, keepalive: Option<Duration>) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    if let Some(idle) = keepalive {
        let probes = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval(idle);
        if let Err(error) = socket2::SockRef::from(stream).set_tcp_keepalive(&probes) {
            tracing::debug!(%error, "cannot set TCP keepalive");
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn silence_past_the_deadline_fails_the_read() {
        let (near, _far) = tokio::io::duplex(64);
        let mut io = Handshake::new(near, Duration::from_secs(3));
        let mut buffer = [0u8; 8];
        let error = io.read(&mut buffer).await.expect_err("timed out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_completed_handshake_may_then_idle() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut io = Handshake::new(near, Duration::from_secs(3));
        far.write_all(&[b'x'; HANDSHAKE_BYTES])
            .await
            .expect("write");
        let mut buffer = [0u8; HANDSHAKE_BYTES];
        io.read_exact(&mut buffer).await.expect("read");
        tokio::time::sleep(Duration::from_secs(10)).await;
        far.write_all(b"later").await.expect("write");
        let mut later = [0u8; 5];
        io.read_exact(&mut later)
            .await
            .expect("no deadline any more");
        assert_eq!(&later, b"later");
    }
}
