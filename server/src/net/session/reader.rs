//! The reader task: reads frames, feeds them to the session's [`Protocol`] and carries out
//! what it decides. Nothing here decides a rule; it performs I/O, asks the registry, and
//! turns counts into metrics.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use fastwebsockets::{Frame, OpCode, WebSocketError, WebSocketRead};
use tickstream_shared::codec::encode_server;
use tickstream_shared::{Pong, RoomName, ServerMsg, Tick};
use tokio::io::AsyncRead;

use super::protocol::{Action, Count, Opcode, Protocol, ReadFailure, Refused};
use crate::metrics as m;
use crate::net::NetCtx;
use crate::net::frame_guard::{FrameGuard, Violations};
use crate::room::{ClientLink, Joined, Outgoing};

/// What the reader holds besides the protocol state.
pub(super) struct Reader {
    /// The session's link to its room and writer.
    pub(super) link: Arc<ClientLink>,
    /// The registry and the join token verifier.
    pub(super) ctx: Arc<NetCtx>,
    /// The join token from the upgrade URL.
    pub(super) token: Option<String>,
    /// The client's address when per-address limits apply to it (rooms it may create).
    pub(super) creator: Option<std::net::IpAddr>,
    /// The first frame's violation of the framing rules, from the [`FrameGuard`].
    pub(super) violations: Arc<Violations>,
    /// When the client was last heard from, in milliseconds since `opened`: stored for every
    /// frame (one atomic store, no timer per read); the supervisor's liveness check reads it.
    pub(super) heard: Arc<AtomicU64>,
    /// When the session opened.
    pub(super) opened: Instant,
}

/// Why the reader stopped: the close has been handed to the link (or the peer is gone).
struct Stop;

impl Reader {
    /// Reads until the protocol decides to close or the peer is gone.
    pub(super) async fn run<R>(self, mut rd: WebSocketRead<FrameGuard<R>>, mut proto: Protocol)
    where
        R: AsyncRead + Unpin,
    {
        let max = self.ctx.server.max_message_bytes;
        rd.set_auto_close(false);
        rd.set_auto_pong(false);
        // fastwebsockets refuses frames of this many bytes or more.
        rd.set_max_message_size(max + 1);
        let mut room: Option<Joined> = None;
        // Counted here and handed over in batches (and when the task ends, however it ends).
        let mut received = m::Tally::new(m::BYTES_RECEIVED, m::MESSAGES_RECEIVED);
        let mut no_obligations = |_: Frame<'_>| std::future::ready(Ok::<(), Infallible>(()));
        loop {
            let read = rd.read_frame(&mut no_obligations);
            let frame = match proto.deadline() {
                // Dropping a half-read frame on the deadline is fine: the connection is closing.
                Some(deadline) => tokio::time::timeout_at(deadline.into(), read).await.ok(),
                // Silence after the join is caught by the supervisor's liveness check.
                None => Some(read.await),
            };
            let now = Instant::now();
            match frame {
                None => proto.on_timeout(now),
                Some(frame) => {
                    let since = now.saturating_duration_since(self.opened);
                    self.heard
                        .store(since.as_millis() as u64, Ordering::Relaxed);
                    if let Some(v) = self.violations.get() {
                        proto.on_violation(v);
                    } else {
                        match frame {
                            Ok(f) => {
                                proto.on_frame(now, opcode(f.opcode), f.fin, &f.payload);
                            }
                            Err(e) => proto.on_read_failure(failure(&e)),
                        }
                    }
                }
            }
            while let Some(action) = proto.poll_action() {
                let done = match action {
                    Action::Count(c) => {
                        match c {
                            Count::Message { bytes } => received.add(bytes),
                            other => count(other),
                        }
                        Ok(())
                    }
                    other => self.perform(other, &mut proto, &mut room).await,
                };
                if done.is_err() {
                    return;
                }
            }
            if proto.is_closed() {
                return;
            }
        }
    }

    /// Carries out one action; the answer to a join or resume goes back to `proto`.
    async fn perform(
        &self,
        action: Action,
        proto: &mut Protocol,
        room: &mut Option<Joined>,
    ) -> Result<(), Stop> {
        match action {
            Action::PongFrame(payload) => {
                // Every ping the rate limit admits is answered: with the queue full, reading
                // waits for the writer.
                self.link
                    .push_control_waiting(Outgoing::Pong(payload))
                    .await;
            }
            Action::Pong { client_time } => {
                let server_tick = room.as_ref().map_or(Tick(0), |j| j.room.tick());
                let pong = ServerMsg::Pong(Pong {
                    client_time,
                    server_tick,
                });
                let mut buf = Vec::new();
                if encode_server(&pong, &mut buf).is_ok() {
                    self.link.push_control_waiting(Outgoing::Message(buf)).await;
                }
            }
            Action::Join(name) => {
                let answer = match self.admit(&name) {
                    Ok(()) => self
                        .ctx
                        .registry
                        .join(&name, Arc::clone(&self.link), self.creator)
                        .await
                        .map_err(Refused::Room),
                    Err(e) => Err(e),
                };
                proto.entered(self.keep(answer, room));
            }
            Action::Resume {
                room: name,
                token,
                last_event_seq,
            } => {
                let answer = self
                    .ctx
                    .registry
                    .resume(&name, token, last_event_seq, Arc::clone(&self.link))
                    .await
                    .map_err(Refused::Room);
                proto.entered(self.keep(answer, room));
            }
            Action::Spectate { room: name, follow } => {
                // A server that requires join tokens requires one to watch a room, too.
                let answer = match self.admit(&name) {
                    Ok(()) => self
                        .ctx
                        .registry
                        .spectate(&name, follow, Arc::clone(&self.link))
                        .await
                        .map_err(Refused::Room),
                    Err(e) => Err(e),
                };
                proto.entered(self.keep(answer, room));
            }
            Action::Follow(follow) => self.link.set_follow(follow),
            Action::Input(input) => self.link.set_input(input),
            Action::InputAt(input, view) => self.link.set_input_at(input, Some(view)),
            Action::Left => self.link.mark_left(),
            Action::Close {
                code,
                reason,
                error_message,
            } => {
                tracing::debug!(conn = self.link.conn_id, code, %reason, "closing session");
                if error_message {
                    self.link.close(code, &reason);
                } else {
                    self.link.close_with(code, &reason, None);
                }
                return Err(Stop);
            }
            Action::Count(c) => count(c),
        }
        Ok(())
    }

    /// The join token's verdict for a join to `room`, when the server requires tokens.
    fn admit(&self, room: &RoomName) -> Result<(), Refused> {
        let Some(tokens) = &self.ctx.tokens else {
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = tokens
            .admit(self.token.as_deref(), room.as_str(), now)
            .map_err(Refused::Token)?;
        tracing::debug!(conn = self.link.conn_id, player = %claims.player, "join token accepted");
        Ok(())
    }

    /// Keeps the room of a successful join; the protocol needs only the input `seq` applied.
    fn keep(
        &self,
        answer: Result<Joined, Refused>,
        room: &mut Option<Joined>,
    ) -> Result<u32, Refused> {
        let joined = answer?;
        let ack_seq = joined.ack_seq;
        *room = Some(joined);
        Ok(ack_seq)
    }
}

/// Turns a count into its metric.
fn count(c: Count) {
    match c {
        Count::Message { bytes } => {
            metrics::counter!(m::BYTES_RECEIVED).increment(bytes as u64);
            metrics::counter!(m::MESSAGES_RECEIVED).increment(1);
        }
        Count::DecodeError => metrics::counter!(m::DECODE_ERRORS).increment(1),
        Count::RejectedInput(e) => {
            metrics::counter!(m::REJECTED_INPUTS, "reason" => e.label()).increment(1);
        }
        Count::RejectedJoin(label) => {
            metrics::counter!(m::REJECTED_JOINS, "reason" => label).increment(1);
        }
    }
}

fn opcode(op: OpCode) -> Opcode {
    match op {
        OpCode::Continuation => Opcode::Continuation,
        OpCode::Text => Opcode::Text,
        OpCode::Binary => Opcode::Binary,
        OpCode::Close => Opcode::Close,
        OpCode::Ping => Opcode::Ping,
        OpCode::Pong => Opcode::Pong,
    }
}

fn failure(e: &WebSocketError) -> ReadFailure {
    match e {
        WebSocketError::UnexpectedEOF
        | WebSocketError::IoError(_)
        | WebSocketError::ConnectionClosed => ReadFailure::Gone,
        WebSocketError::FrameTooLarge => ReadFailure::TooLarge,
        other => ReadFailure::Malformed(other.to_string()),
    }
}
