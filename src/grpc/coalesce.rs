//! A connection that lets the tasks already queued add their frames before it writes.
//!
//! HTTP/2 (h2) writes whatever it has buffered every time its connection task runs, and it
//! runs as soon as any stream hands it a frame. When one notification goes to a thousand
//! subscribers, a hundred to a connection, the stream tasks hand their frames over one after
//! another, and the connection task ran in between: measured, one `sendto` per five or six
//! frames, 180,000 a second at 1,000 events/s, and half of Rift's CPU in the kernel's TCP path
//! (loopback delivery included).
//!
//! [`Coalesced`] takes every write into a buffer and, when asked to flush, first yields once:
//! it wakes its own task and returns `Pending`, so the task goes to the back of the run queue,
//! behind the stream tasks already woken. When it is polled again, their frames are in the
//! buffer too, and one write carries them all. A lone reply waits for one trip through the
//! run queue, which on an idle server is immediate; nothing waits on a timer.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this much buffered, a write waits for the socket to take the buffer first.
const MAX_BUFFERED: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct Coalesced<T> {
    io: T,
    /// Written by the protocol, not yet taken by the socket.
    buffered: BytesMut,
    /// Whether the flush in progress has already let other tasks run once.
    yielded: bool,
}

impl<T> Coalesced<T> {
    pub(super) fn new(io: T) -> Self {
        Self {
            io,
            buffered: BytesMut::new(),
            yielded: false,
        }
    }

    pub(super) fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncWrite + Unpin> Coalesced<T> {
    /// Writes out everything buffered.
    fn poll_write_buffered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.buffered.is_empty() {
            let written = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buffered))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.buffered.advance(written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalesced<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesced<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buffered.len() >= MAX_BUFFERED {
            ready!(this.poll_write_buffered(cx))?;
        }
        this.buffered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    /// Not vectored, on purpose: h2 copies a DATA frame into its own buffer only when the
    /// payload is under 256 bytes on a vectored connection, 1 KiB otherwise, and queues a
    /// larger one by reference, one at a time, each needing a flush of its own. Notifications
    /// are a few hundred bytes.
    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.buffered.is_empty() {
            if !this.yielded {
                this.yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            ready!(this.poll_write_buffered(cx))?;
        }
        this.yielded = false;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_buffered(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    #[tokio::test]
    async fn a_flush_sends_every_write_before_it_in_order() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut coalesced = Coalesced::new(near);
        coalesced.write_all(b"one ").await.expect("written");
        coalesced.write_all(b"two").await.expect("written");
        coalesced.flush().await.expect("flushed");
        let mut received = [0; 7];
        far.read_exact(&mut received).await.expect("read");
        assert_eq!(&received, b"one two");
    }

    #[tokio::test]
    async fn nothing_reaches_the_socket_before_the_flush_has_yielded_once() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut coalesced = Coalesced::new(near);
        coalesced.write_all(b"frame").await.expect("written");
        let mut flush = std::pin::pin!(coalesced.flush());
        assert!(
            poll_once(flush.as_mut()).is_pending(),
            "the first poll yields"
        );
        assert!(poll_once(flush.as_mut()).is_ready(), "the second writes");
        let mut received = [0; 5];
        far.read_exact(&mut received).await.expect("read");
        assert_eq!(&received, b"frame");
    }

    #[tokio::test]
    async fn a_full_buffer_waits_for_the_socket() {
        // The socket takes 16 bytes; past the buffer's limit, writes wait for it.
        let (near, mut far) = tokio::io::duplex(16);
        let mut coalesced = Coalesced::new(near);
        let chunk = vec![7u8; MAX_BUFFERED];
        coalesced.write_all(&chunk).await.expect("buffered");
        let second = std::pin::pin!(coalesced.write_all(b"more"));
        assert!(poll_once(second).is_pending());
        let mut received = vec![0; 16];
        far.read_exact(&mut received).await.expect("read");
        assert_eq!(received, vec![7u8; 16]);
    }
}
