//! [`PlayerState`]: what a client carries from one connection to the next so that a dropped
//! connection resumes as the same player (PROTOCOL.md §3.8), and [`open`], one connection from
//! the TCP connect to its `Welcome`.

use std::time::Duration;

use tickstream_shared::{
    ClientMsg, EntityId, Input, Join, PROTOCOL_VERSION, Resume, ServerMsg, Welcome, Welcome4,
    close_code,
};

use crate::connect::{ConnectError, Connector};
use crate::connection::{Connection, ConnectionError, Incoming};

/// The player behind a series of connections: its room, entity, resume token, the last event
/// delivered and the last input sequence number sent.
///
/// A [`crate::Session`] keeps one (save [`crate::Session::player`] to resume in another
/// process); a client driving [`open`] itself (the bots) keeps its own.
///
/// ```
/// use tickstream_client::PlayerState;
/// use tickstream_shared::ClientMsg;
///
/// let mut player = PlayerState::new("lobby");
/// assert!(matches!(player.hello(), ClientMsg::Join(_)), "a new player joins");
/// assert_eq!(player.next_input(1.0, 0.0, 0).seq, 1, "inputs count from 1");
/// ```
#[derive(Debug, Clone)]
pub struct PlayerState {
    room: String,
    /// Set by the first welcome, kept by every resume.
    entity: Option<EntityId>,
    /// The newest welcome's single-use resume token; `None` before the first welcome.
    token: Option<String>,
    /// What `Resume` asks the server to send after.
    last_event_seq: u32,
    /// Inputs keep counting across resumes: the server wants a `seq` above the last applied.
    last_input_seq: u32,
}

/// A welcome that does not fit what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WelcomeError {
    /// The server answered `Resume` with a welcome for a new player (`resumed: false`).
    #[error("the Welcome answering Resume says resumed: false")]
    NotResumed,
    /// The server resumed the player as another entity.
    #[error("resumed as entity {now:?}, was {was:?}")]
    OtherEntity {
        /// The entity before the drop.
        was: EntityId,
        /// The entity of the welcome.
        now: EntityId,
    },
    /// A welcome with `resumed: true` answered a `Join`.
    #[error("a resumed Welcome answering Join")]
    ResumedJoin,
    /// The welcome names another protocol version than the upgrade agreed on.
    #[error("the server speaks protocol {server}, the connection agreed on {ours}")]
    ProtocolVersion {
        /// `Welcome::protocol`.
        server: u16,
        /// The version of the negotiated subprotocol.
        ours: u16,
    },
    /// A v4 welcome whose movement rule no client can run (a negative or non-finite speed).
    #[error("the Welcome's move rule is invalid: {0}")]
    MoveRule(String),
}

impl WelcomeError {
    /// True when the welcome is a failed resume (the player is lost, join afresh); false for a
    /// protocol violation.
    #[must_use]
    pub fn is_failed_resume(&self) -> bool {
        matches!(self, Self::NotResumed | Self::OtherEntity { .. })
    }
}

impl PlayerState {
    /// A player that has not joined yet: the first connection sends `Join { room }`.
    #[must_use]
    pub fn new(room: impl Into<String>) -> Self {
        Self {
            room: room.into(),
            entity: None,
            token: None,
            last_event_seq: 0,
            last_input_seq: 0,
        }
    }

    /// The room.
    #[must_use]
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The player's entity, once welcomed.
    #[must_use]
    pub fn entity(&self) -> Option<EntityId> {
        self.entity
    }

    /// True when the next connection resumes (a welcome brought a resume token).
    #[must_use]
    pub fn resumes(&self) -> bool {
        self.token.is_some()
    }

    /// The seq of the last event delivered (0 = none).
    #[must_use]
    pub fn last_event_seq(&self) -> u32 {
        self.last_event_seq
    }

    /// Records that the event `seq` was delivered, so a resume does not ask for it again.
    pub fn event_delivered(&mut self, seq: u32) {
        self.last_event_seq = seq;
    }

    /// The last input sequence number handed out.
    #[must_use]
    pub fn last_input_seq(&self) -> u32 {
        self.last_input_seq
    }

    /// Continues the input sequence after `seq` (a [`crate::Session`] numbers its inputs
    /// itself and records the last one here).
    pub fn set_last_input_seq(&mut self, seq: u32) {
        self.last_input_seq = seq;
    }

    /// The next input, numbered after the last one (across resumes).
    pub fn next_input(&mut self, dx: f32, dy: f32, buttons: u32) -> Input {
        self.last_input_seq += 1;
        Input {
            seq: self.last_input_seq,
            dx,
            dy,
            buttons,
        }
    }

    /// The first message of a connection: `Resume` once welcomed, `Join` before.
    #[must_use]
    pub fn hello(&self) -> ClientMsg {
        match &self.token {
            Some(token) => ClientMsg::Resume(Resume {
                room: self.room.clone(),
                token: token.clone(),
                last_event_seq: self.last_event_seq,
            }),
            None => ClientMsg::Join(Join {
                room: self.room.clone(),
            }),
        }
    }

    /// Checks a welcome against the hello it answers (`resuming`: it was a `Resume`) and
    /// takes its entity and token. On a failed resume the player is forgotten (the next hello
    /// joins afresh).
    pub fn welcomed(&mut self, welcome: &Welcome, resuming: bool) -> Result<(), WelcomeError> {
        if resuming {
            let failure = if !welcome.resumed {
                Some(WelcomeError::NotResumed)
            } else {
                self.entity.filter(|was| *was != welcome.entity).map(|was| {
                    WelcomeError::OtherEntity {
                        was,
                        now: welcome.entity,
                    }
                })
            };
            if let Some(failure) = failure {
                self.forget();
                return Err(failure);
            }
        } else {
            if welcome.resumed {
                return Err(WelcomeError::ResumedJoin);
            }
            self.entity = Some(welcome.entity);
            self.last_event_seq = 0;
            self.last_input_seq = 0;
        }
        self.token = Some(welcome.resume_token.clone());
        Ok(())
    }

    /// Forgets the player after a refused resume: the next hello joins as a new player.
    pub fn forget(&mut self) {
        self.entity = None;
        self.token = None;
        self.last_event_seq = 0;
        self.last_input_seq = 0;
    }
}

/// Why [`open`] did not end in a welcome. Every variant that the server caused carries its
/// close code ([`OpenError::close_code`]).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The connection could not be opened.
    #[error("connect: {0}")]
    Connect(ConnectError),
    /// The hello could not be sent.
    #[error("send: {0}")]
    Send(ConnectionError),
    /// Receiving failed before the welcome: connection lost, malformed frame, undecodable.
    #[error("receive: {0}")]
    Recv(ConnectionError),
    /// No `Welcome` came in time.
    #[error("no Welcome within {0:?}")]
    NoWelcome(Duration),
    /// Something other than `Welcome` came first.
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    /// The server refused with an `Error` message (it then closes with the same code).
    #[error("server error {code}: {reason}")]
    Server {
        /// The close code.
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// The server closed without an `Error` message.
    #[error("closed by the server with code {code}: {reason:?}")]
    Closed {
        /// The close code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// The welcome does not fit the hello.
    #[error("{0}")]
    Welcome(WelcomeError),
}

impl OpenError {
    /// The close code the server gave, if it gave one (`Error` message or close frame).
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Server { code, .. } | Self::Closed { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Connects, sends `hello` (`Join` or `Resume`), waits up to `welcome_timeout` for the
/// `Welcome` and checks that it names the protocol version the upgrade agreed on. The caller
/// checks the welcome against its [`PlayerState`] ([`PlayerState::welcomed`]).
///
/// The welcome comes back as protocol v4's [`Welcome4`] whatever version was spoken: a v2 or
/// v3 welcome carries the movement rule those versions assumed ([`Welcome4::assumed`]).
///
/// After an `Error` the server's close frame is read too, so that a refusal carries its code
/// and reason once, as [`OpenError::Server`].
pub async fn open(
    connector: &Connector,
    hello: &ClientMsg,
    welcome_timeout: Duration,
) -> Result<(Connection, Welcome4), OpenError> {
    let mut conn = connector.connect().await.map_err(OpenError::Connect)?;
    conn.send(hello).await.map_err(OpenError::Send)?;
    // Dropping a half-read frame on timeout is fine: the connection is abandoned.
    let welcome = match tokio::time::timeout(welcome_timeout, welcome(&mut conn)).await {
        Err(_) => Err(OpenError::NoWelcome(welcome_timeout)),
        Ok(result) => result,
    };
    let welcome = match welcome {
        Ok(w) => w,
        Err(e) => {
            // Best effort: the server may be gone already.
            let _ = conn.close(close_code::NORMAL, "").await;
            return Err(e);
        }
    };
    let ours = conn.protocol().unwrap_or(PROTOCOL_VERSION);
    if welcome.protocol != ours {
        let _ = conn.close(close_code::PROTOCOL_ERROR, "").await;
        return Err(OpenError::Welcome(WelcomeError::ProtocolVersion {
            server: welcome.protocol,
            ours,
        }));
    }
    if !welcome.move_rule.is_valid() {
        let _ = conn.close(close_code::PROTOCOL_ERROR, "").await;
        return Err(OpenError::Welcome(WelcomeError::MoveRule(format!(
            "{:?}",
            welcome.move_rule
        ))));
    }
    Ok((conn, welcome))
}

/// Waits for the `Welcome` that must answer `Join` or `Resume`.
async fn welcome(conn: &mut Connection) -> Result<Welcome4, OpenError> {
    match conn.recv().await {
        Ok(Incoming::Msg(ServerMsg::Welcome4(w))) => Ok(w),
        Ok(Incoming::Msg(ServerMsg::Welcome(w))) => Ok(Welcome4::assumed(w)),
        Ok(Incoming::Msg(ServerMsg::Error(e))) => Err(OpenError::Server {
            code: e.code,
            reason: e.reason,
        }),
        Ok(Incoming::Msg(_)) => Err(OpenError::Unexpected("a message before Welcome")),
        Ok(Incoming::Close { code, reason }) => Err(OpenError::Closed { code, reason }),
        Err(e) => Err(OpenError::Recv(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::Tick;

    fn welcome(entity: u32, resumed: bool, token: &str) -> Welcome {
        Welcome {
            protocol: 3,
            entity: EntityId(entity),
            tick_rate_hz: 30,
            tick: Tick(1),
            world_width: 100.0,
            world_height: 100.0,
            view_radius: 0.0,
            game: "arena".into(),
            kinds: Vec::new(),
            fields: Vec::new(),
            event_kinds: Vec::new(),
            resume_token: token.into(),
            resumed,
        }
    }

    #[test]
    fn a_player_joins_then_resumes_with_the_newest_token() {
        let mut p = PlayerState::new("r");
        p.welcomed(&welcome(7, false, "t1"), false).expect("a join");
        p.event_delivered(4);
        let input = p.next_input(1.0, 0.0, 0);
        assert_eq!(input.seq, 1, "first input");
        match p.hello() {
            ClientMsg::Resume(r) => assert_eq!(
                (r.token.as_str(), r.last_event_seq),
                ("t1", 4),
                "resume with the token and the last event"
            ),
            other => panic!("expected a resume, got {other:?}"),
        }
        p.welcomed(&welcome(7, true, "t2"), true).expect("a resume");
        assert_eq!(p.next_input(0.0, 0.0, 0).seq, 2, "inputs keep counting");
        assert_eq!(p.entity(), Some(EntityId(7)), "same entity");
    }

    #[test]
    fn a_failed_resume_forgets_the_player() {
        let mut p = PlayerState::new("r");
        p.welcomed(&welcome(7, false, "t1"), false).expect("a join");
        let err = p
            .welcomed(&welcome(8, true, "t2"), true)
            .expect_err("another entity");
        assert!(err.is_failed_resume(), "{err}");
        assert!(matches!(p.hello(), ClientMsg::Join(_)), "joins afresh");
        let err = p
            .welcomed(&welcome(8, true, "t2"), false)
            .expect_err("a resumed welcome for a join");
        assert_eq!(err, WelcomeError::ResumedJoin, "a protocol error");
    }
}
