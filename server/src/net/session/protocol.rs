//! The session's rules, without sockets, tasks or a clock: [`Protocol`].
//!
//! The socket side (the session's reader) feeds it what happened — a frame read (opcode, `fin`,
//! payload), a framing violation or read error, the answer to a join it asked for, the join
//! deadline passing — with the time as an argument, and carries out the [`Action`]s it returns
//! in order: what to send, what to ask the room, how to close and with which code. Every rule
//! (message order, room names, join refusals, input validation, the rate limit, pings,
//! fragmentation, close frames) is decided here and unit-tested in memory, as quinn-proto does
//! for QUIC. New messages (a newer protocol version, spectators, a move to another server) go
//! here first.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tickstream_shared::codec::{CodecError, decode_client};
use tickstream_shared::{ClientMsg, EntityId, Input, RoomName, close_code};

use crate::join_token::TokenError;
use crate::net::frame_guard::Violation;
use crate::net::rate::TokenBucket;
use crate::room::JoinError;
use crate::sim::{InputError, ViewTime, validate_direction};

/// The reason of the 1001 close when the server shuts down.
pub const SHUTTING_DOWN: &str = "server shutting down";

/// The limits one session enforces (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest message, after reassembling fragments; one byte more closes with 1009.
    pub max_message_bytes: usize,
    /// Messages (frames of any kind) per second on average; faster closes with 1008.
    pub max_messages_per_sec: u32,
    /// Messages allowed in a burst above the average rate.
    pub message_burst: u32,
    /// How long after the upgrade a `Join` or `Resume` must arrive (then 4001).
    pub join_timeout: Duration,
}

/// A WebSocket frame's opcode (RFC 6455 §5.2), as the protocol sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// The rest of a fragmented message.
    Continuation,
    /// A text frame: never valid, the protocol is binary.
    Text,
    /// A binary frame: one message, or its first fragment.
    Binary,
    /// The peer closes, with an optional code.
    Close,
    /// A WebSocket ping, answered with a pong carrying its payload.
    Ping,
    /// A WebSocket pong (the answer to the server's liveness ping).
    Pong,
}

/// Why reading the next frame failed, as the socket side saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailure {
    /// The peer is gone: end of stream, an I/O error, or the connection was closed.
    Gone,
    /// A frame longer than the message limit.
    TooLarge,
    /// A frame that broke RFC 6455 in a way the frame reader noticed.
    Malformed(String),
}

/// Why a join or resume was refused, as the socket side learned it from the join token check
/// or the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The join token's verdict.
    Token(TokenError),
    /// The registry's or the room's.
    Room(JoinError),
}

/// Something the session counts (the socket side turns these into metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// A whole message received (after reassembly), with its size.
    Message {
        /// Its payload bytes.
        bytes: usize,
    },
    /// A frame or message that broke the protocol (1002) or was too big (1009).
    DecodeError,
    /// An input ignored, and why.
    RejectedInput(InputError),
    /// A join or resume refused, by the metric label of its reason.
    RejectedJoin(&'static str),
}

/// What the socket side must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer a WebSocket ping with a pong carrying this payload. Every ping the rate limit
    /// admits is answered: the socket side waits for room in the control queue rather than
    /// drop one.
    PongFrame(Vec<u8>),
    /// Answer a `Ping` message with a `Pong` carrying `client_time` and the tick of the room
    /// the session is in (0 before joining).
    Pong {
        /// The ping's `client_time`, unchanged.
        client_time: u64,
    },
    /// Ask the registry to join this room; feed the answer to [`Protocol::entered`] before the
    /// next frame.
    Join(RoomName),
    /// Ask the registry to resume a player; feed the answer to [`Protocol::entered`].
    Resume {
        /// The room.
        room: RoomName,
        /// The previous connection's resume token.
        token: String,
        /// The last event the client received.
        last_event_seq: u32,
    },
    /// Ask the registry to admit a spectator of this room (protocol v6); feed the answer to
    /// [`Protocol::entered`].
    Spectate {
        /// The room.
        room: RoomName,
        /// The entity to follow; `None`: the whole room.
        follow: Option<EntityId>,
    },
    /// A spectator's new choice of view.
    Follow(Option<EntityId>),
    /// Store this validated input for the room's next tick.
    Input(Input),
    /// Store this validated v5 input and the time the client displayed (not yet clamped).
    InputAt(Input, ViewTime),
    /// The client closed on purpose (1000 or 1001): its player leaves without a resume grace.
    Left,
    /// Close the session. With `error_message`, a `ServerMsg::Error` carrying the code and
    /// reason goes before the close frame; without, the close frame only (echoing a client's
    /// own close). Nothing is read after it.
    Close {
        /// The close code.
        code: u16,
        /// The close frame's reason.
        reason: Cow<'static, str>,
        /// Whether an `Error` message goes first.
        error_message: bool,
    },
    /// Count this (a metric).
    Count(Count),
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Upgraded; waiting for `Join` or `Resume` until the deadline.
    AwaitingJoin,
    /// A join or resume was handed to the registry; its answer comes next.
    Entering,
    /// In a room: inputs and pings.
    Joined,
    /// A close was decided; nothing more is read.
    Closed,
}

/// One session's protocol state: fed events and the time, it queues [`Action`]s.
#[derive(Debug)]
pub struct Protocol {
    state: State,
    /// The version the upgrade agreed on.
    version: u16,
    limits: Limits,
    /// When the join deadline passes.
    join_deadline: Instant,
    bucket: TokenBucket,
    /// The newest input `seq` accepted: later inputs must be greater.
    last_seq: u32,
    /// A fragmented message being collected, bounded by `limits.max_message_bytes`.
    fragments: Option<Vec<u8>>,
    /// True once the session asked to spectate: it sends no input, and may send `Follow`.
    spectator: bool,
    actions: VecDeque<Action>,
}

impl Protocol {
    /// A session that upgraded at `now` speaking protocol `version`.
    #[must_use]
    pub fn new(version: u16, limits: Limits, now: Instant) -> Self {
        Self {
            state: State::AwaitingJoin,
            version,
            limits,
            join_deadline: now + limits.join_timeout,
            bucket: TokenBucket::new(limits.max_messages_per_sec, limits.message_burst, now),
            last_seq: 0,
            fragments: None,
            spectator: false,
            actions: VecDeque::new(),
        }
    }

    /// The protocol version the upgrade agreed on.
    #[must_use]
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// True once a close was decided: the socket side stops reading.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True once the session is in a room.
    #[must_use]
    pub fn is_joined(&self) -> bool {
        self.state == State::Joined
    }

    /// When [`Protocol::on_timeout`] must be called if no frame arrives first: the join
    /// deadline while waiting for `Join`, `None` after it (silence in a room is the
    /// supervisor's [`liveness`] check).
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        (self.state == State::AwaitingJoin).then_some(self.join_deadline)
    }

    /// Time passed with nothing read: closes with 4001 once the join deadline is over.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.deadline().is_some_and(|d| now >= d) {
            self.close(close_code::JOIN_TIMEOUT, "no join in time");
        }
    }

    /// The frame reader found a broken framing rule (an unmasked frame, a big control frame).
    pub fn on_violation(&mut self, v: Violation) {
        if self.state != State::Closed {
            self.close(close_code::PROTOCOL_ERROR, v.reason());
        }
    }

    /// Reading the next frame failed.
    pub fn on_read_failure(&mut self, failure: ReadFailure) {
        if self.state == State::Closed {
            return;
        }
        match failure {
            // Nobody is left to tell.
            ReadFailure::Gone => self.state = State::Closed,
            ReadFailure::TooLarge => self.close(close_code::TOO_BIG, "message too big"),
            ReadFailure::Malformed(e) => {
                self.close(close_code::PROTOCOL_ERROR, format!("bad frame: {e}"));
            }
        }
    }

    /// A frame arrived at `now`.
    pub fn on_frame(&mut self, now: Instant, opcode: Opcode, fin: bool, payload: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        // Every frame counts, control frames and fragments too: a peer cannot make the server
        // work faster than the limit by any kind of frame.
        if !self.bucket.take(now) {
            self.close(close_code::POLICY, "message rate over the limit");
            return;
        }
        let collecting = self.fragments.is_some();
        match opcode {
            Opcode::Binary if fin && !collecting => self.on_message(payload),
            Opcode::Binary if !collecting => self.fragments = Some(payload.to_vec()),
            Opcode::Continuation if collecting => {
                let mut buf = self.fragments.take().unwrap_or_default();
                if buf.len() + payload.len() > self.limits.max_message_bytes {
                    self.close(close_code::TOO_BIG, "message too big");
                    return;
                }
                buf.extend_from_slice(payload);
                if fin {
                    self.on_message(&buf);
                } else {
                    self.fragments = Some(buf);
                }
            }
            Opcode::Text => self.close(
                close_code::UNSUPPORTED_DATA,
                "text frames are not supported: the protocol is binary",
            ),
            Opcode::Binary | Opcode::Continuation => {
                self.close(close_code::PROTOCOL_ERROR, "bad fragmentation");
            }
            Opcode::Ping => self.actions.push_back(Action::PongFrame(payload.to_vec())),
            Opcode::Pong => {}
            Opcode::Close => {
                let code = match payload {
                    [a, b, ..] => u16::from_be_bytes([*a, *b]),
                    _ => close_code::NORMAL,
                };
                if code == close_code::NORMAL || code == close_code::GOING_AWAY {
                    self.actions.push_back(Action::Left);
                }
                // Echo the client's code, as RFC 6455 suggests, without an error message.
                self.state = State::Closed;
                self.actions.push_back(Action::Close {
                    code,
                    reason: Cow::Borrowed(""),
                    error_message: false,
                });
            }
        }
    }

    /// A whole message (one binary frame, or reassembled fragments).
    fn on_message(&mut self, bytes: &[u8]) {
        self.count(Count::Message { bytes: bytes.len() });
        let msg = match decode_client(bytes) {
            Ok(msg) => msg,
            Err(e @ CodecError::TooBig { .. }) => {
                self.close(close_code::TOO_BIG, e.to_string());
                return;
            }
            Err(e) => {
                self.close(
                    close_code::PROTOCOL_ERROR,
                    format!("undecodable message: {e}"),
                );
                return;
            }
        };
        match msg {
            ClientMsg::Join(join) => {
                if let Some(room) = self.check_entry(join.room) {
                    self.state = State::Entering;
                    self.actions.push_back(Action::Join(room));
                }
            }
            ClientMsg::Resume(resume) => {
                // The resume token is the credential here: it was handed to the player that
                // joined with a valid join token, over its own connection.
                if let Some(room) = self.check_entry(resume.room) {
                    self.state = State::Entering;
                    self.actions.push_back(Action::Resume {
                        room,
                        token: resume.token,
                        last_event_seq: resume.last_event_seq,
                    });
                }
            }
            ClientMsg::Spectate(spectate) => {
                if !self.v6("Spectate") {
                    return;
                }
                if let Some(room) = self.check_entry(spectate.room) {
                    self.state = State::Entering;
                    self.spectator = true;
                    self.actions.push_back(Action::Spectate {
                        room,
                        follow: spectate.follow,
                    });
                }
            }
            ClientMsg::Follow(follow) => {
                if !self.v6("Follow") {
                    return;
                }
                if self.state != State::Joined || !self.spectator {
                    self.close(close_code::PROTOCOL_ERROR, "Follow is for spectators");
                    return;
                }
                self.actions.push_back(Action::Follow(follow.entity));
            }
            ClientMsg::Input(input) => self.on_input(input, None),
            ClientMsg::Input5(input) => {
                if self.version < 5 {
                    self.close(
                        close_code::PROTOCOL_ERROR,
                        "Input5 is a protocol v5 message",
                    );
                    return;
                }
                let view = ViewTime::new(input.view_tick, input.view_frac);
                self.on_input(input.input(), Some(view));
            }
            ClientMsg::Ping(ping) => self.actions.push_back(Action::Pong {
                client_time: ping.client_time,
            }),
        }
    }

    /// True for a protocol v6 session; otherwise closes it with 1002 for sending `what`.
    fn v6(&mut self, what: &str) -> bool {
        if self.version >= 6 {
            return true;
        }
        self.close(
            close_code::PROTOCOL_ERROR,
            format!("{what} is a protocol v6 message"),
        );
        false
    }

    /// An input after the join, with a direction in range and a fresh sequence number; else
    /// it is ignored and counted.
    fn on_input(&mut self, input: Input, view: Option<ViewTime>) {
        if self.spectator {
            self.close(close_code::PROTOCOL_ERROR, "a spectator sends no input");
            return;
        }
        if self.state != State::Joined {
            self.close(close_code::PROTOCOL_ERROR, "join first");
            return;
        }
        let fresh = input.seq > self.last_seq;
        let checked = validate_direction(&input)
            .and_then(|()| fresh.then_some(()).ok_or(InputError::StaleSeq));
        match checked {
            Ok(()) => {
                self.last_seq = input.seq;
                self.actions.push_back(match view {
                    Some(view) => Action::InputAt(input, view),
                    None => Action::Input(input),
                });
            }
            Err(e) => self.count(Count::RejectedInput(e)),
        }
    }

    /// A `Join` or `Resume` is the first message, once, and names a valid room.
    fn check_entry(&mut self, room: String) -> Option<RoomName> {
        if self.state != State::AwaitingJoin {
            self.close(close_code::PROTOCOL_ERROR, "already joined");
            return None;
        }
        match RoomName::try_from(room) {
            Ok(room) => Some(room),
            Err(_) => {
                self.close(close_code::BAD_ROOM_NAME, RoomName::RULE);
                None
            }
        }
    }

    /// The answer to the [`Action::Join`] or [`Action::Resume`] asked for: `Ok` with the
    /// player's latest applied input `seq` (0 for a new player; later inputs must be greater),
    /// or why it was refused, which decides the close code.
    pub fn entered(&mut self, answer: Result<u32, Refused>) {
        if self.state != State::Entering {
            return;
        }
        match answer {
            Ok(ack_seq) => {
                self.last_seq = ack_seq;
                self.state = State::Joined;
            }
            Err(Refused::Token(e)) => {
                self.count(Count::RejectedJoin(e.label()));
                let code = if e == TokenError::Full {
                    close_code::TRY_AGAIN
                } else {
                    close_code::POLICY
                };
                self.close(code, e.to_string());
            }
            Err(Refused::Room(JoinError::ShuttingDown)) => {
                self.close(close_code::GOING_AWAY, SHUTTING_DOWN);
            }
            Err(Refused::Room(JoinError::ResumeRefused(reason))) => {
                self.close(close_code::RESUME_REFUSED, reason);
            }
            Err(Refused::Room(e @ (JoinError::NoSuchRoom | JoinError::SpectatorsOnly))) => {
                self.count(Count::RejectedJoin(e.label()));
                let code = if e == JoinError::NoSuchRoom {
                    close_code::NO_SUCH_ROOM
                } else {
                    close_code::SPECTATORS_ONLY
                };
                self.close(code, e.to_string());
            }
            Err(Refused::Room(e)) => {
                self.count(Count::RejectedJoin(e.label()));
                let code = if matches!(e, JoinError::UnknownGame | JoinError::RoomFailed) {
                    close_code::INTERNAL
                } else {
                    close_code::TRY_AGAIN
                };
                self.close(code, e.to_string());
            }
        }
    }

    fn count(&mut self, c: Count) {
        self.actions.push_back(Action::Count(c));
    }

    /// Decides the close: an error message and a close frame with `code`. A protocol error
    /// (1002) or a message too big (1009) is also counted as a decode error, whichever rule it
    /// broke.
    fn close(&mut self, code: u16, reason: impl Into<Cow<'static, str>>) {
        if code == close_code::PROTOCOL_ERROR || code == close_code::TOO_BIG {
            self.count(Count::DecodeError);
        }
        self.state = State::Closed;
        self.fragments = None;
        self.actions.push_back(Action::Close {
            code,
            reason: reason.into(),
            error_message: true,
        });
    }
}

/// What the supervisor's periodic liveness check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Send a WebSocket ping: the client answers it, proving it is there.
    Ping,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// The liveness check after the client has been `silent` for that long: a client that sent
/// nothing (not even a pong) for longer than `idle` is closed with 4003.
#[must_use]
pub fn liveness(silent: Duration, idle: Duration) -> Liveness {
    if silent > idle {
        Liveness::Close(close_code::IDLE_TIMEOUT, "nothing received for too long")
    } else {
        Liveness::Ping
    }
}

#[cfg(test)]
mod tests;
