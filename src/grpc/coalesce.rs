//! A connection that lets the tasks already queued add their frames before it writes.
//!
//! HTTP/2 (h2) writes whatever it has buffered every time its connection task runs, and it
//! runs as soon as any stream hands it a frame. When one notification goes to a thousand
//! subscribers, a hundred to a connection, the stream tasks hand their frames over one after
//! another, and the connection task ran in between: measured, one `sendto` per five or six
//! frames, 180,000 a second at 1,000 events/s, and half of Rift's CPU in the kernel's TCP path
//! (loopback delivery included).
//!
//! [`Coalesced`] takes every write into a buffer. Asked to flush when more has come since the
//! last flush, it wakes its own task and reports the flush done without writing: the task goes
//! to the back of the run queue, behind the stream tasks already woken, and h2 goes on moving
//! their frames into the buffer (a flush that stays pending would stop it). When a flush finds
//! nothing new since the one before, or after 16 put off in a row, or at 64 KiB, it writes the
//! lot. A lone reply waits for one trip through the run queue, which on an idle server is
//! immediate; nothing waits on a timer. Measured: `sendto` calls down from 150,000 to about
//! 35,000 a second at 1,000 events/s to 1,000 subscribers (BENCHMARKS.md).
//!
//! This relies on the connection task flushing again on every poll, which hyper's HTTP/2 and
//! HTTP/1 connections do (h2 at the end of each `poll_complete`, HTTP/1 in each dispatch
//! loop), and on the wake guaranteeing that poll. It is not a general-purpose writer: a caller
//! that flushed once and then waited for an answer could wait forever.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this much buffered, a write waits for the socket to take the buffer first, and a flush
/// writes at once.
const MAX_BUFFERED: usize = 64 * 1024;

/// Most flushes put off in a row.
const MAX_YIELDS: u8 = 16;

#[derive(Debug)]
pub(super) struct Coalesced<T> {
    io: T,
    /// Written by the protocol, not yet taken by the socket.
    buffered: BytesMut,
    /// How often the flush in progress has let other tasks run.
    yields: u8,
    /// How much was buffered at the last of those yields.
    buffered_at_yield: usize,
}

impl<T> Coalesced<T> {
    pub(super) fn new(io: T) -> Self {
        Self {
            io,
            buffered: BytesMut::new(),
            yields: 0,
            buffered_at_yield: 0,
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
            let grew = this.buffered.len() > this.buffered_at_yield;
            if grew && this.yields < MAX_YIELDS && this.buffered.len() < MAX_BUFFERED {
                // More came since the last flush: come back after the tasks queued now have
                // run. Until then the bytes count as taken, so the protocol goes on moving
                // frames into this buffer instead of waiting on the flush (h2 stops queueing
                // while a flush is pending, and flushes every 16 KiB of frames).
                this.yields += 1;
                this.buffered_at_yield = this.buffered.len();
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            // Nothing new since the last flush, or enough waiting: write it all.
            ready!(this.poll_write_buffered(cx))?;
        }
        this.yields = 0;
        this.buffered_at_yield = 0;
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
    use std::{future::Future, task::Waker};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A waker that counts its wakes.
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn flush_with(coalesced: &mut Coalesced<tokio::io::DuplexStream>, waker: &Waker) -> bool {
        Pin::new(coalesced)
            .poll_flush(&mut Context::from_waker(waker))
            .is_ready()
    }

    #[tokio::test]
    async fn a_flush_with_something_new_is_put_off_and_its_task_woken() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut coalesced = Coalesced::new(near);
        let counter = std::sync::Arc::new(Counter(Default::default()));
        let waker = Waker::from(counter.clone());
        coalesced.write_all(b"one ").await.expect("written");
        assert!(flush_with(&mut coalesced, &waker));
        assert_eq!(
            counter.0.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "woken"
        );
        let mut nothing = [0; 1];
        assert!(
            poll_once(std::pin::pin!(far.read(&mut nothing))).is_pending(),
            "nothing written yet"
        );
        // More came: put off again. Then a flush with nothing new writes it all, in order.
        coalesced.write_all(b"two").await.expect("written");
        assert!(flush_with(&mut coalesced, &waker));
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert!(flush_with(&mut coalesced, &waker));
        assert_eq!(
            counter.0.load(std::sync::atomic::Ordering::Relaxed),
            2,
            "no wake"
        );
        let mut received = [0; 7];
        far.read_exact(&mut received).await.expect("read");
        assert_eq!(&received, b"one two");
    }

    #[tokio::test]
    async fn a_flush_is_put_off_at_most_sixteen_times_in_a_row() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut coalesced = Coalesced::new(near);
        let waker = Waker::noop();
        for _ in 0..MAX_YIELDS {
            coalesced.write_all(b"x").await.expect("written");
            assert!(flush_with(&mut coalesced, waker));
        }
        coalesced.write_all(b"y").await.expect("written");
        assert!(flush_with(&mut coalesced, waker), "written this time");
        let mut received = vec![0; usize::from(MAX_YIELDS) + 1];
        far.read_exact(&mut received).await.expect("read");
        assert_eq!(received.last(), Some(&b'y'));
    }

    #[tokio::test]
    async fn shutting_down_writes_what_is_buffered() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut coalesced = Coalesced::new(near);
        coalesced.write_all(b"last words").await.expect("written");
        coalesced.shutdown().await.expect("shut down");
        let mut received = Vec::new();
        far.read_to_end(&mut received).await.expect("read");
        assert_eq!(received, b"last words");
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
