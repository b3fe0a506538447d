//! What a bot reports: [`BotReport`], and [`BotError`] / [`ResumeFailure`] for what went wrong.

use super::*;

/// Something that went wrong for a bot (a desync is counted apart, see [`BotReport::desync`]).
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The connection could not be opened.
    #[error("connect: {0}")]
    Connect(ConnectError),
    /// The run ended before the bot had joined.
    #[error("not joined before the end of the run")]
    Late,
    /// A message could not be sent.
    #[error("send: {0}")]
    Send(ConnectionError),
    /// Receiving failed: connection lost, malformed frame, undecodable message.
    #[error("receive: {0}")]
    Recv(ConnectionError),
    /// No `Welcome` came within the join timeout.
    #[error("no Welcome within {0:?}")]
    NoWelcome(Duration),
    /// A message out of protocol order.
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    /// The server speaks another protocol version.
    #[error("the server speaks protocol {server}, this bot {ours}")]
    ProtocolVersion {
        /// The server's version.
        server: u16,
        /// Ours.
        ours: u16,
    },
    /// The server sent an `Error` message (it then closes).
    #[error("server error {code}: {reason}")]
    Server {
        /// The close code it announces.
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// The server closed the connection when the bot did not ask it to.
    #[error("closed by the server with code {code}: {reason:?}")]
    Closed {
        /// The close code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// The first update of a connection (the full snapshot) lacks the bot's own entity.
    #[error("own entity {0:?} is not in the snapshot")]
    OwnEntityMissing(EntityId),
    /// The bot's reader task panicked.
    #[error("reader task failed: {0}")]
    Task(String),
}

// The cause is part of the message, not a `source()` too: it is printed once.
impl From<ConnectError> for BotError {
    fn from(e: ConnectError) -> Self {
        Self::Connect(e)
    }
}

impl From<OpenError> for BotError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Connect(e) => Self::Connect(e),
            OpenError::Send(e) => Self::Send(e),
            OpenError::Recv(e) => Self::Recv(e),
            OpenError::NoWelcome(t) => Self::NoWelcome(t),
            OpenError::Unexpected(what) => Self::Unexpected(what),
            OpenError::Server { code, reason } => Self::Server { code, reason },
            OpenError::Closed { code, reason } => Self::Closed { code, reason },
            OpenError::Welcome(WelcomeError::ProtocolVersion { server, ours }) => {
                Self::ProtocolVersion { server, ours }
            }
            OpenError::Welcome(_) => Self::Unexpected("a Welcome that does not fit the hello"),
        }
    }
}

impl BotError {
    /// A short stable key for counting errors by kind: `http_403`, `close_1008`,
    /// `server_error_4002`, `connection_lost`, …
    #[must_use]
    pub fn kind(&self) -> String {
        match self {
            Self::Connect(ConnectError::Status(s)) => format!("http_{s}"),
            Self::Connect(ConnectError::Timeout(_)) => "connect_timeout".into(),
            Self::Connect(ConnectError::Tls { .. }) => "tls".into(),
            Self::Connect(ConnectError::Tcp { .. }) => "tcp".into(),
            Self::Connect(ConnectError::Http(_) | ConnectError::BadUpgrade(_)) => "upgrade".into(),
            Self::Connect(_) => "connect".into(),
            Self::Late => "late".into(),
            Self::Send(_) => "send".into(),
            Self::Recv(ConnectionError::Decode(_)) => "decode".into(),
            Self::Recv(ConnectionError::TextFrame) => "text_frame".into(),
            Self::Recv(e) if e.is_connection_lost() => "connection_lost".into(),
            Self::Recv(_) => "websocket".into(),
            Self::NoWelcome(_) => "no_welcome".into(),
            Self::Unexpected(_) => "unexpected_message".into(),
            Self::ProtocolVersion { .. } => "protocol_version".into(),
            Self::Server { code, .. } => format!("server_error_{code}"),
            Self::Closed { code, .. } => format!("close_{code}"),
            Self::OwnEntityMissing(_) => "own_entity_missing".into(),
            Self::Task(_) => "task".into(),
        }
    }
}

/// Why a `Resume` did not give the bot its entity back.
#[derive(Debug, thiserror::Error)]
pub enum ResumeFailure {
    /// The server refused it (an `Error` and a close, usually 4005 `RESUME_REFUSED`) or the
    /// new connection failed.
    #[error("{0}")]
    Refused(BotError),
    /// The server welcomed the bot, but as a new player (`resumed: false`).
    #[error("the Welcome answering Resume says resumed: false")]
    NotResumed,
    /// The server resumed the bot as another entity.
    #[error("resumed as entity {now:?}, was {was:?}")]
    OtherEntity {
        /// The entity before the drop.
        was: EntityId,
        /// The entity of the welcome.
        now: EntityId,
    },
}

impl ResumeFailure {
    /// A short stable key: `close_CODE` for a refusal with a close code (from the `Error`
    /// message or the close frame, which carry the same code), else `not_resumed`,
    /// `other_entity`, or the [`BotError::kind`] of a failed connection.
    #[must_use]
    pub fn kind(&self) -> String {
        match self {
            Self::Refused(BotError::Server { code, .. } | BotError::Closed { code, .. }) => {
                format!("close_{code}")
            }
            Self::Refused(e) => e.kind(),
            Self::NotResumed => "not_resumed".into(),
            Self::OtherEntity { .. } => "other_entity".into(),
        }
    }
}

/// What one bot measured. Traffic counts only cover the [`Window`]; events, errors and resumes
/// cover the whole run.
#[derive(Debug)]
pub struct BotReport {
    /// The bot's number.
    pub index: u32,
    /// The room it joined (or tried to).
    pub room: String,
    /// The game the server runs in that room, from the welcome.
    pub game: Option<String>,
    /// Whether it verified checksums.
    pub verified: bool,
    /// Whether it got its `Welcome`.
    pub joined: bool,
    /// How long it was joined within the window (to its end, even if the bot stopped early or
    /// was offline between a drop and its resume, so that shows as a low update rate).
    pub measured: Duration,
    /// Updates received in the window.
    pub updates: u64,
    /// Payload bytes of those updates.
    pub update_bytes: u64,
    /// Payload bytes of all messages received in the window.
    pub bytes: u64,
    /// Input-to-acknowledgement round trips in the window, in microseconds.
    pub rtt_us: Histogram<u32>,
    /// Game events received in sequence, over the whole run.
    pub events: u64,
    /// The same, by kind name.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Events out of sequence (gaps, duplicates) or of an unknown kind.
    pub event_errors: u64,
    /// The first few of those, verbatim.
    pub event_error_samples: Vec<EventError>,
    /// Connections the bot dropped on purpose (churn).
    pub drops: u32,
    /// Resumes that got the same entity back and a snapshot that passed the checksum.
    pub resumes: u32,
    /// Resumes that did not.
    pub resume_failures: Vec<ResumeFailure>,
    /// The replica error that stopped the bot, if any.
    pub desync: Option<ReplicaError>,
    /// Everything else that went wrong.
    pub errors: Vec<BotError>,
    /// Bytes on the wire of the messages received in the window: payload plus WebSocket frame
    /// headers (computed, without TLS).
    pub wire_bytes: u64,
    /// Bytes read from the socket while receiving the messages of the window (measured):
    /// WebSocket framing and, over `wss://`, TLS records included.
    pub socket_bytes: u64,
    /// With [`BotConfig::residuals`]: how often each v3 position residual `(rx, ry)` occurred
    /// in the window, one count per held entity per update.
    pub residuals: BTreeMap<(i64, i64), u64>,
    /// In the duel: shots at a target on screen (see `duel`).
    pub shots: u64,
    /// Those the server judged hits.
    pub hits_confirmed: u64,
    /// Times the bot's room moved to another process and the bot followed (protocol v5).
    pub moves: u32,
    /// The longest time from a `Moved` to the successor's first update, in milliseconds.
    pub move_gap_ms_max: Option<f64>,
    /// Ways the successor's first view did not continue the view before the move
    /// ([`crate::moves::MoveCheck`]).
    pub move_state_errors: u64,
    /// The first few of those.
    pub move_state_error_samples: Vec<MoveStateError>,
}

/// The bytes of the header of an unmasked WebSocket frame (server to client) with `len` bytes
/// of payload (RFC 6455 §5.2).
#[must_use]
pub fn ws_frame_header_len(len: u64) -> u64 {
    match len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

impl BotReport {
    /// An empty report for bot `index`.
    #[must_use]
    pub fn new(index: u32, verified: bool) -> Self {
        Self {
            index,
            room: String::new(),
            game: None,
            verified,
            joined: false,
            measured: Duration::ZERO,
            updates: 0,
            update_bytes: 0,
            bytes: 0,
            rtt_us: rtt_histogram(),
            events: 0,
            events_by_kind: BTreeMap::new(),
            event_errors: 0,
            event_error_samples: Vec::new(),
            drops: 0,
            resumes: 0,
            resume_failures: Vec::new(),
            desync: None,
            errors: Vec::new(),
            wire_bytes: 0,
            socket_bytes: 0,
            residuals: BTreeMap::new(),
            shots: 0,
            hits_confirmed: 0,
            moves: 0,
            move_gap_ms_max: None,
            move_state_errors: 0,
            move_state_error_samples: Vec::new(),
        }
    }
}
