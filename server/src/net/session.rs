//! A connected client: a reader task and a writer task around a shared [`ClientLink`].
//!
//! The reader decodes and validates what the client sends and never blocks on the room: an
//! input is stored in the link (latest wins) and the room picks it up at its next tick. The
//! writer sends control frames first, then the newest update; it is the only task that writes.
//! A supervisor ends the session when either side ends or a close is requested, giving the
//! writer a short grace period to deliver the error message and the close frame.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fastwebsockets::{
    Frame, OpCode, Payload, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use std::pin::Pin;
use std::task::{Context, Poll};
use tickstream_shared::codec::{CodecError, decode_client, encode_server};
use tickstream_shared::{ClientMsg, Pong, ServerMsg, Tick, close_code};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::frame_guard::{FrameGuard, Violations};
use super::ip_limit::ConnPermit;
use super::rate::TokenBucket;
use crate::join_token::TokenError;
use crate::metrics as m;
use crate::room::link::WriterJob;
use crate::room::{ClientLink, JoinError, Joined, Outgoing};
use crate::server::ServerCtx;
use crate::sim::validate_direction;
use crate::sync::ClientSync;

/// How long the writer may take to deliver the last frames once a close is decided; a peer
/// that does not read gets its connection dropped after this.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The close code recorded when the peer vanished without a close frame (RFC 6455 1006).
const ABNORMAL: u16 = 1006;

/// The longest room name.
pub const MAX_ROOM_NAME: usize = 64;

/// Runs one WebSocket session to its end.
pub(crate) async fn run<S>(
    ws: WebSocket<S>,
    ctx: Arc<ServerCtx>,
    permit: ConnPermit,
    token: Option<String>,
    protocol: u16,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
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
    let (rd, wr) = ws.split(|io| {
        let (r, w) = tokio::io::split(io);
        read_half.put(r);
        write_half.put(w);
        (
            FrameGuard::new(read_half.clone(), Arc::clone(&guard)),
            write_half.clone(),
        )
    });
    metrics::gauge!(m::CONNECTIONS).increment(1.0);
    tracing::debug!(conn = conn_id, "session opened");
    let mut writer = tokio::spawn(write_loop(wr, Arc::clone(&link)));
    // When the client was last heard from, in milliseconds since `opened`: the reader stores
    // it for every frame (one atomic store, no timer per read), the ping tick checks it.
    let opened = Instant::now();
    let heard = Arc::new(AtomicU64::new(0));
    let mut reader = tokio::spawn(read_loop(
        rd,
        Arc::clone(&link),
        Arc::clone(&ctx),
        violations,
        (token, permit.limited_ip()),
        (opened, Arc::clone(&heard)),
    ));
    let mut shutdown = ctx.shutdown.clone();
    let every = Duration::from_millis(ctx.config.server.ping_interval_ms);
    let idle = Duration::from_millis(ctx.config.server.idle_timeout_ms);
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
                link.close(close_code::GOING_AWAY, "server shutting down");
                break;
            }
            _ = pings.tick() => {
                let silent = opened
                    .elapsed()
                    .saturating_sub(Duration::from_millis(heard.load(Ordering::Relaxed)));
                if silent > idle {
                    link.close(close_code::IDLE_TIMEOUT, "nothing received for too long");
                } else {
                    link.push_control(Outgoing::Ping);
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
        let s = &ctx.config.server;
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

/// The lingering close, after the close frame was written: ends the sending direction (the
/// peer sees the end of the stream after the close frame) and reads and discards what the
/// peer still sends, until it closes too, `time` has passed or `budget` bytes were read.
/// Dropping a socket with unread bytes makes the kernel reset the connection and discard
/// what it has not sent yet (the close frame, behind a client's small window); once the
/// peer's bytes are read, the kernel delivers the rest after the socket is dropped.
async fn linger<R, W>(rd: Option<R>, wr: Option<W>, time: Duration, budget: usize)
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
struct Reclaimable<T>(Arc<std::sync::Mutex<Option<T>>>);

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

    fn put(&self, half: T) {
        *self.lock() = Some(half);
    }

    fn reclaim(&self) -> Option<T> {
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

/// Writes until the close frame is sent (`Ok(true)`) or the connection fails.
async fn write_loop<W>(
    mut wr: WebSocketWrite<W>,
    link: Arc<ClientLink>,
) -> Result<bool, WebSocketError>
where
    W: AsyncWrite + Unpin,
{
    let mut unflushed = false;
    // This client's baseline and frame buffer live here: frames are built on this task, on
    // whichever core runs it, when the client is ready for one.
    let mut sync = ClientSync::for_protocol(link.protocol);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    // Metric handles looked up once per session, not once per frame.
    let bytes_sent = metrics::counter!(m::BYTES_SENT);
    let messages_sent = metrics::counter!(m::MESSAGES_SENT);
    let update_size = metrics::histogram!(m::UPDATE_SIZE);
    loop {
        let Some(job) = link.next_job() else {
            if unflushed {
                wr.flush().await?;
                unflushed = false;
            }
            link.writer_wait().await;
            continue;
        };
        match job {
            WriterJob::Update(p) => {
                buf.clear();
                events.clear();
                link.take_events(&mut events);
                if let Err(e) = sync.build_frame(&p.frame, p.entity, p.ack_seq, &events, &mut buf) {
                    tracing::error!(conn = link.conn_id, error = %e, "cannot encode update");
                    link.close(close_code::INTERNAL, "internal error");
                    continue;
                }
                wr.write_frame(Frame::binary(Payload::Borrowed(&buf)))
                    .await?;
                bytes_sent.increment(buf.len() as u64);
                messages_sent.increment(1);
                update_size.record(buf.len() as f64);
            }
            WriterJob::Control(Outgoing::Message(msg)) => {
                wr.write_frame(Frame::binary(Payload::Borrowed(&msg)))
                    .await?;
                bytes_sent.increment(msg.len() as u64);
                messages_sent.increment(1);
            }
            WriterJob::Control(Outgoing::Pong(payload)) => {
                wr.write_frame(Frame::pong(Payload::Owned(payload))).await?;
            }
            WriterJob::Control(Outgoing::Ping) => {
                let ping = Frame::new(true, OpCode::Ping, None, Payload::Borrowed(&[]));
                wr.write_frame(ping).await?;
            }
            WriterJob::Close(code, reason) => {
                let reason = truncate_utf8(&reason, 123);
                wr.write_frame(Frame::close(code, reason.as_bytes()))
                    .await?;
                wr.flush().await?;
                return Ok(true);
            }
        }
        unflushed = true;
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary (a close
/// frame's reason has room for 123 bytes).
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What the reader knows about its client.
struct Reader {
    link: Arc<ClientLink>,
    ctx: Arc<ServerCtx>,
    joined: Option<Joined>,
    last_seq: u32,
    bucket: TokenBucket,
    /// A fragmented message being collected, bounded by `server.max_message_bytes`.
    fragments: Option<Vec<u8>>,
    /// The join token from the upgrade URL.
    token: Option<String>,
    /// The client's address when per-address limits apply to it (rooms it may create).
    creator: Option<std::net::IpAddr>,
    /// Metric handles looked up once per session.
    bytes_received: metrics::Counter,
    messages_received: metrics::Counter,
}

/// Ends the reader: the reason has been handed to the link (or the peer is gone).
struct Stop;

async fn read_loop<R>(
    mut rd: WebSocketRead<FrameGuard<R>>,
    link: Arc<ClientLink>,
    ctx: Arc<ServerCtx>,
    violations: Arc<Violations>,
    (token, creator): (Option<String>, Option<std::net::IpAddr>),
    (opened, heard): (Instant, Arc<AtomicU64>),
) where
    R: AsyncRead + Unpin,
{
    let limits = &ctx.config.server;
    rd.set_auto_close(false);
    rd.set_auto_pong(false);
    // fastwebsockets refuses frames of this many bytes or more.
    rd.set_max_message_size(limits.max_message_bytes + 1);
    let join_deadline = tokio::time::Instant::now() + ctx.join_timeout;
    let mut reader = Reader {
        bucket: TokenBucket::new(
            limits.max_messages_per_sec,
            limits.message_burst,
            Instant::now(),
        ),
        link,
        ctx: Arc::clone(&ctx),
        joined: None,
        last_seq: 0,
        fragments: None,
        token,
        creator,
        bytes_received: metrics::counter!(m::BYTES_RECEIVED),
        messages_received: metrics::counter!(m::MESSAGES_RECEIVED),
    };
    let mut no_obligations = |_: Frame<'_>| std::future::ready(Ok::<(), Infallible>(()));
    loop {
        let read = rd.read_frame(&mut no_obligations);
        let frame = if reader.joined.is_none() {
            let Ok(frame) = tokio::time::timeout_at(join_deadline, read).await else {
                // Dropping a half-read frame is fine: the connection is closing.
                let _ = reader.fail(close_code::JOIN_TIMEOUT, "no join in time");
                return;
            };
            frame
        } else {
            // Silence after the join is caught by the supervisor's ping tick.
            read.await
        };
        heard.store(opened.elapsed().as_millis() as u64, Ordering::Relaxed);
        if let Some(v) = violations.get() {
            let _ = reader.fail(close_code::PROTOCOL_ERROR, v.reason());
            return;
        }
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                reader.read_error(&e);
                return;
            }
        };
        if reader.on_frame(frame).await.is_err() {
            return;
        }
    }
}

impl Reader {
    /// Closes the session with `code`; a protocol error (1002) or a message too big (1009) is
    /// also counted as a decode error, whichever rule it broke.
    fn fail(&self, code: u16, reason: &str) -> Result<(), Stop> {
        if code == close_code::PROTOCOL_ERROR || code == close_code::TOO_BIG {
            metrics::counter!(m::DECODE_ERRORS).increment(1);
        }
        tracing::debug!(conn = self.link.conn_id, code, reason, "closing session");
        self.link.close(code, reason);
        Err(Stop)
    }

    fn read_error(&self, e: &WebSocketError) {
        match e {
            WebSocketError::UnexpectedEOF
            | WebSocketError::IoError(_)
            | WebSocketError::ConnectionClosed => {}
            WebSocketError::FrameTooLarge => {
                let _ = self.fail(close_code::TOO_BIG, "message too big");
            }
            other => {
                let _ = self.fail(close_code::PROTOCOL_ERROR, &format!("bad frame: {other}"));
            }
        }
    }

    async fn on_frame(&mut self, frame: Frame<'_>) -> Result<(), Stop> {
        if !self.bucket.take(Instant::now()) {
            return self.fail(close_code::POLICY, "message rate over the limit");
        }
        match frame.opcode {
            OpCode::Binary if frame.fin && self.fragments.is_none() => {
                self.on_message(&frame.payload).await
            }
            OpCode::Binary if self.fragments.is_none() => {
                self.fragments = Some(frame.payload.to_vec());
                Ok(())
            }
            OpCode::Continuation if self.fragments.is_some() => {
                let mut buf = self.fragments.take().unwrap_or_default();
                if buf.len() + frame.payload.len() > self.ctx.config.server.max_message_bytes {
                    return self.fail(close_code::TOO_BIG, "message too big");
                }
                buf.extend_from_slice(&frame.payload);
                if frame.fin {
                    self.on_message(&buf).await
                } else {
                    self.fragments = Some(buf);
                    Ok(())
                }
            }
            OpCode::Text => self.fail(
                close_code::UNSUPPORTED_DATA,
                "text frames are not supported: the protocol is binary",
            ),
            OpCode::Binary | OpCode::Continuation => {
                self.fail(close_code::PROTOCOL_ERROR, "bad fragmentation")
            }
            OpCode::Ping => {
                // Every ping the rate limit admits is answered: with the queue full, reading
                // waits for the writer.
                self.link
                    .push_control_waiting(Outgoing::Pong(frame.payload.to_vec()))
                    .await;
                Ok(())
            }
            OpCode::Pong => Ok(()),
            OpCode::Close => {
                let code = match frame.payload.get(..2) {
                    Some(b) => u16::from_be_bytes([b[0], b[1]]),
                    None => close_code::NORMAL,
                };
                if code == close_code::NORMAL || code == close_code::GOING_AWAY {
                    self.link.mark_left();
                }
                // Echo the client's code, as RFC 6455 suggests, without an error message.
                self.link.close_with(code, "", None);
                Err(Stop)
            }
        }
    }

    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.bytes_received.increment(bytes.len() as u64);
        self.messages_received.increment(1);
        let msg = match decode_client(bytes) {
            Ok(msg) => msg,
            Err(e @ CodecError::TooBig { .. }) => {
                return self.fail(close_code::TOO_BIG, &e.to_string());
            }
            Err(e) => {
                return self.fail(
                    close_code::PROTOCOL_ERROR,
                    &format!("undecodable message: {e}"),
                );
            }
        };
        match msg {
            ClientMsg::Join(join) => {
                self.check_room(&join.room)?;
                if let Some(tokens) = &self.ctx.tokens {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    match tokens.admit(self.token.as_deref(), &join.room, now) {
                        Ok(claims) => tracing::debug!(
                            conn = self.link.conn_id,
                            player = %claims.player,
                            "join token accepted"
                        ),
                        Err(e) => {
                            metrics::counter!(m::REJECTED_JOINS, "reason" => e.label())
                                .increment(1);
                            let code = if e == TokenError::Full {
                                close_code::TRY_AGAIN
                            } else {
                                close_code::POLICY
                            };
                            return self.fail(code, &e.to_string());
                        }
                    }
                }
                let joined = self
                    .ctx
                    .registry
                    .join(&join.room, Arc::clone(&self.link), self.creator)
                    .await;
                self.entered(joined)
            }
            ClientMsg::Resume(resume) => {
                // The resume token is the credential here: it was handed to the player that
                // joined with a valid join token, over its own connection.
                self.check_room(&resume.room)?;
                let joined = self
                    .ctx
                    .registry
                    .resume(
                        &resume.room,
                        resume.token,
                        resume.last_event_seq,
                        Arc::clone(&self.link),
                    )
                    .await;
                self.entered(joined)
            }
            ClientMsg::Input(input) => {
                if self.joined.is_none() {
                    return self.fail(close_code::PROTOCOL_ERROR, "join first");
                }
                let checked = validate_direction(&input).and_then(|()| {
                    (input.seq > self.last_seq)
                        .then_some(())
                        .ok_or(crate::sim::InputError::StaleSeq)
                });
                match checked {
                    Ok(()) => {
                        self.last_seq = input.seq;
                        self.link.set_input(input);
                    }
                    Err(e) => {
                        metrics::counter!(m::REJECTED_INPUTS, "reason" => e.label()).increment(1);
                    }
                }
                Ok(())
            }
            ClientMsg::Ping(ping) => {
                let server_tick = self.joined.as_ref().map_or(Tick(0), |j| j.room.tick());
                let pong = ServerMsg::Pong(Pong {
                    client_time: ping.client_time,
                    server_tick,
                });
                let mut buf = Vec::new();
                if encode_server(&pong, &mut buf).is_ok() {
                    self.link.push_control_waiting(Outgoing::Message(buf)).await;
                }
                Ok(())
            }
        }
    }
}

impl Reader {
    /// Refuses a second join and a bad room name.
    fn check_room(&self, room: &str) -> Result<(), Stop> {
        if self.joined.is_some() {
            return self.fail(close_code::PROTOCOL_ERROR, "already joined");
        }
        if !valid_room_name(room) {
            return self.fail(
                close_code::BAD_ROOM_NAME,
                "room name must be 1-64 of [A-Za-z0-9_.-]",
            );
        }
        Ok(())
    }

    /// After a join or resume: remember the room, or close with the refusal's code.
    fn entered(&mut self, joined: Result<Joined, JoinError>) -> Result<(), Stop> {
        match joined {
            Ok(joined) => {
                self.last_seq = joined.ack_seq;
                self.joined = Some(joined);
                Ok(())
            }
            Err(JoinError::ShuttingDown) => {
                self.fail(close_code::GOING_AWAY, "server shutting down")
            }
            Err(JoinError::ResumeRefused(reason)) => self.fail(close_code::RESUME_REFUSED, reason),
            Err(e) => {
                metrics::counter!(m::REJECTED_JOINS, "reason" => e.label()).increment(1);
                let code = if matches!(e, JoinError::UnknownGame | JoinError::RoomFailed) {
                    close_code::INTERNAL
                } else {
                    close_code::TRY_AGAIN
                };
                self.fail(code, &e.to_string())
            }
        }
    }
}

/// 1 to 64 characters of `[A-Za-z0-9_.-]`.
#[must_use]
pub fn valid_room_name(name: &str) -> bool {
    (1..=MAX_ROOM_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(valid_room_name("lobby-1.eu_west"), "the allowed characters");
        assert!(!valid_room_name(""), "empty");
        assert!(!valid_room_name(&"a".repeat(65)), "too long");
        assert!(!valid_room_name("a b"), "a space");
        assert!(!valid_room_name("é"), "non-ASCII");
    }

    #[test]
    fn reasons_are_cut_on_character_boundaries() {
        assert_eq!(truncate_utf8("ééé", 3), "é", "never splits a character");
        assert_eq!(truncate_utf8("abc", 10), "abc", "short strings stay");
    }
}
