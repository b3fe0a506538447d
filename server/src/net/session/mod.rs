//! A connected client: a supervisor around a reader task and a writer task that share a
//! [`ClientLink`].
//!
//! # Layout
//!
//! - [`protocol`]: [`protocol::Protocol`], the session's rules without I/O: fed frames and the
//!   time, it decides what to send, what to ask the room and how to close.
//! - `reader`: reads frames, feeds the protocol, carries out its actions. It never blocks on
//!   the room: an input is stored in the link (latest wins) and the room picks it up at its
//!   next tick.
//! - `writer`: sends control frames first, then the newest update; the only task that writes.
//! - `linger`: the lingering close once the close frame is written.
//!
//! The supervisor here ends the session when either side ends or a close is requested, giving
//! the writer a short grace period to deliver the error message and the close frame.

mod linger;
pub mod protocol;
mod reader;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fastwebsockets::{Role, WebSocket};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tickstream_shared::close_code;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use self::linger::{Reclaimable, linger};
use self::protocol::{Limits, Liveness, Protocol, liveness};
use self::reader::Reader;
use super::NetCtx;
use super::frame_guard::{FrameGuard, Violations};
use super::ip_limit::ConnPermit;
use crate::metrics as m;
use crate::room::{ClientLink, Outgoing};

/// How long the writer may take to deliver the last frames once a close is decided; a peer
/// that does not read gets its connection dropped after this.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The close code recorded when the peer vanished without a close frame (RFC 6455 1006).
const ABNORMAL: u16 = 1006;

/// Runs one WebSocket session to its end, on the connection the upgrade gave.
///
/// A plain TCP connection is taken out of hyper's upgrade wrapper and split into tokio's
/// owned halves, which need no lock per read or write (what hyper read past the request is
/// read first); a TLS one (`buffered`) is split with `tokio::io::split` around the wrapper.
pub(crate) async fn run(
    ws: WebSocket<TokioIo<Upgraded>>,
    buffered: bool,
    ctx: Arc<NetCtx>,
    permit: ConnPermit,
    token: Option<String>,
    protocol: u16,
) {
    let io = ws.into_inner().into_inner();
    if !buffered {
        match io.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                let (r, w) = parts.io.into_inner().into_split();
                let r = Prefixed::new(parts.read_buf, r);
                return run_halves(r, w, buffered, ctx, permit, token, protocol).await;
            }
            Err(io) => {
                let (r, w) = tokio::io::split(TokioIo::new(io));
                return run_halves(r, w, buffered, ctx, permit, token, protocol).await;
            }
        }
    }
    let (r, w) = tokio::io::split(TokioIo::new(io));
    run_halves(r, w, buffered, ctx, permit, token, protocol).await;
}

/// Bytes hyper read past the upgrade request, then the connection.
struct Prefixed<R> {
    prefix: bytes::Bytes,
    inner: R,
}

impl<R> Prefixed<R> {
    fn new(prefix: bytes::Bytes, inner: R) -> Self {
        Self { prefix, inner }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Prefixed<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.prefix.is_empty() {
            return std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix.split_to(n));
        std::task::Poll::Ready(Ok(()))
    }
}

/// Runs one session on the two halves of its connection.
async fn run_halves<R, W>(
    r: R,
    w: W,
    buffered: bool,
    ctx: Arc<NetCtx>,
    permit: ConnPermit,
    token: Option<String>,
    protocol: u16,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let conn_id = ctx.next_conn_id();
    let link = Arc::new(ClientLink::with_protocol(conn_id, protocol));
    let by_protocol = metrics::gauge!(m::SESSIONS_BY_PROTOCOL, "protocol" => protocol.to_string());
    by_protocol.increment(1.0);
    let violations = Arc::new(Violations::default());
    let guard = Arc::clone(&violations);
    // The halves stay reachable from here once the reader and writer are done with them, for
    // the lingering close.
    let read_half = Reclaimable::default();
    let write_half = Reclaimable::default();
    read_half.put(r);
    write_half.put(w);
    let (rd, wr) = fastwebsockets::after_handshake_split(
        FrameGuard::new(read_half.clone(), Arc::clone(&guard)),
        write_half.clone(),
        Role::Server,
    );
    metrics::gauge!(m::CONNECTIONS).increment(1.0);
    tracing::debug!(conn = conn_id, "session opened");
    let mut writer = tokio::spawn(writer::write_loop(
        wr,
        write_half.clone(),
        buffered,
        Arc::clone(&link),
    ));
    let s = &ctx.server;
    let opened = Instant::now();
    let limits = Limits {
        max_message_bytes: s.max_message_bytes,
        max_messages_per_sec: s.max_messages_per_sec,
        message_burst: s.message_burst,
        join_timeout: Duration::from_millis(s.join_timeout_ms),
    };
    let heard = Arc::new(AtomicU64::new(0));
    let reader = Reader {
        link: Arc::clone(&link),
        ctx: Arc::clone(&ctx),
        token,
        creator: permit.limited_ip(),
        violations,
        heard: Arc::clone(&heard),
        opened,
    };
    let mut reader = tokio::spawn(reader.run(rd, Protocol::new(protocol, limits, opened)));
    let mut shutdown = ctx.shutdown.clone();
    let every = Duration::from_millis(s.ping_interval_ms);
    let idle = Duration::from_millis(s.idle_timeout_ms);
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // What the writer ended with, once it did: `Ok(true)` when it sent the close frame.
    let mut written = None;
    loop {
        tokio::select! {
            _ = &mut reader => break,
            w = &mut writer => {
                written = Some(w);
                break;
            }
            _ = link.killed() => break,
            _ = shutdown.changed() => {
                link.close(close_code::GOING_AWAY, protocol::SHUTTING_DOWN);
                break;
            }
            _ = pings.tick() => {
                let silent = opened
                    .elapsed()
                    .saturating_sub(Duration::from_millis(heard.load(Ordering::Relaxed)));
                match liveness(silent, idle) {
                    Liveness::Close(code, reason) => link.close(code, reason),
                    Liveness::Ping => {
                        link.push_control(Outgoing::Ping);
                    }
                }
            }
        }
    }
    if written.is_none() && link.closing_code().is_some() {
        written = tokio::time::timeout(CLOSE_GRACE, &mut writer).await.ok();
    }
    reader.abort();
    writer.abort();
    link.mark_gone();
    let code = link.closing_code().unwrap_or(ABNORMAL);
    metrics::counter!(m::DISCONNECTS, "code" => m::close_code_label(code)).increment(1);
    metrics::gauge!(m::CONNECTIONS).decrement(1.0);
    by_protocol.decrement(1.0);
    tracing::debug!(conn = conn_id, code, "session closed");
    if matches!(written, Some(Ok(Ok(true)))) {
        linger(
            read_half.reclaim(),
            write_half.reclaim(),
            Duration::from_millis(s.close_linger_ms),
            s.close_linger_bytes,
        )
        .await;
    }
    drop(permit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn bytes_read_past_the_upgrade_come_first() {
        let (mut near, far) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut near, b" world")
            .await
            .expect("writes");
        drop(near);
        let mut r = Prefixed::new(bytes::Bytes::from_static(b"hello"), far);
        let mut got = String::new();
        r.read_to_string(&mut got).await.expect("reads");
        assert_eq!(got, "hello world", "the prefix, then the stream");
    }
}
