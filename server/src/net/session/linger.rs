//! The lingering close, and the connection halves it needs back from fastwebsockets.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The lingering close, after the close frame was written: ends the sending direction (the
/// peer sees the end of the stream after the close frame) and reads and discards what the
/// peer still sends, until it closes too, `time` has passed or `budget` bytes were read.
/// Dropping a socket with unread bytes makes the kernel reset the connection and discard
/// what it has not sent yet (the close frame, behind a client's small window); once the
/// peer's bytes are read, the kernel delivers the rest after the socket is dropped.
pub(super) async fn linger<R, W>(rd: Option<R>, wr: Option<W>, time: Duration, budget: usize)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (Some(mut rd), Some(mut wr)) = (rd, wr) else {
        return;
    };
    let drain = async {
        let _ = wr.shutdown().await;
        let mut buf = [0u8; 4096];
        let mut left = budget;
        while left > 0 {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(time, drain).await;
}

/// One half of the connection, lent to fastwebsockets and taken back by the session once the
/// reader and writer have ended (it reads as the end of the stream after that).
pub(super) struct Reclaimable<T>(Arc<std::sync::Mutex<Option<T>>>);

impl<T> Default for Reclaimable<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Clone for Reclaimable<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Reclaimable<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn put(&self, half: T) {
        *self.lock() = Some(half);
    }

    pub(super) fn reclaim(&self) -> Option<T> {
        self.lock().take()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Reclaimable<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.lock().as_mut() {
            Some(r) => Pin::new(r).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Reclaimable<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.lock().as_mut() {
            Some(w) => Pin::new(w).poll_write(cx, buf),
            None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.lock().as_mut() {
            Some(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(AsyncWrite::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.lock().as_mut() {
            Some(w) => Pin::new(w).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.lock().as_mut() {
            Some(w) => Pin::new(w).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}
