//! [`CountingStream`]: a byte stream that counts what it reads, so a connection can report the
//! bytes that arrived on its socket (WebSocket framing and, over `wss://`, TLS records), not
//! only the payloads it decoded.
//!
//! Self-contained on purpose: it wraps the `TcpStream` in [`crate::Connector`] and nothing else
//! needs to know it is there beyond [`ConnectionReader::socket_bytes_read`](crate::ConnectionReader::socket_bytes_read).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read so far from a [`CountingStream`]; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct ReadCounter(Arc<AtomicU64>);

impl ReadCounter {
    /// Bytes read so far.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// `S` with every byte read counted in a [`ReadCounter`]; writes pass through uncounted.
#[derive(Debug)]
pub struct CountingStream<S> {
    inner: S,
    read: ReadCounter,
}

impl<S> CountingStream<S> {
    /// Wraps `inner`, counting into `read`.
    pub fn new(inner: S, read: ReadCounter) -> Self {
        Self { inner, read }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.read.0.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_bytes_read_not_written() {
        let (a, mut b) = tokio::io::duplex(64);
        let counter = ReadCounter::default();
        let mut s = CountingStream::new(a, counter.clone());
        b.write_all(b"hello").await.expect("writes");
        s.write_all(b"not counted").await.expect("writes");
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.expect("reads");
        assert_eq!(&got, b"hello", "bytes pass through");
        assert_eq!(counter.get(), 5, "only reads are counted");
    }
}
