//! One bot: a real client that joins a room, plays the scenario's inputs and checks its view.
//!
//! A bot's life is one or more connections. On each, after the `Welcome`, a bot is two tasks.
//! Its own task writes: an input every 50 ms, the WebSocket's control replies, and the close
//! frame at the deadline. A spawned reader task applies every update to a [`Replica`] (verifying
//! the checksum if the bot is in the verification sample, and always on a connection's first
//! update, the full snapshot), checks the game events' sequence numbers ([`EventCheck`]),
//! measures input round trips through a lock-free [`RttRing`], and counts updates and bytes.
//! Live totals go to the bot's [`BotCounters`] (atomics, read once a second for progress);
//! everything else stays in the tasks and comes back as one [`BotReport`].
//!
//! With [`Churn`], the writer drops the connection at random times (no close frame: the socket
//! just goes away) and the bot reconnects with `Resume`, checking that it gets the same entity
//! back, that the snapshot passes the checksum, and that the events go on without a gap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tickstream_shared::{
    ClientMsg, EntityId, Join, PROTOCOL_VERSION, Replica, ReplicaError, Resume, ServerMsg, Welcome,
    close_code,
};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::MissedTickBehavior;

use crate::churn::{Churn, ChurnSchedule};
use crate::client::{Client, ClientError, ClientReader, ClientWriter, Incoming, NO_STATUS};
use crate::connect::{ConnectError, Connector};
use crate::events::{EventCheck, EventError};
use crate::rtt::{RttRing, micros_since, record_rtt, rtt_histogram};
use crate::schedule::{INPUT_INTERVAL, InputSchedule};

/// How many event errors a bot keeps verbatim (it counts them all).
pub const MAX_EVENT_ERROR_SAMPLES: usize = 5;

/// No drop is planned this close to the end of the window (plus the reconnect delay), so that
/// every drop has time for its resume.
pub const CHURN_QUIET: Duration = Duration::from_secs(1);

/// How often a due drop checks again whether the connection has its first update yet.
const SYNC_POLL: Duration = Duration::from_millis(20);

/// The span of a run whose traffic is measured. Errors and desyncs count at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Measuring starts here (after the warm-up).
    pub start: Instant,
    /// Measuring stops here, and bots close their connections.
    pub end: Instant,
}

impl Window {
    /// True if `t` is inside the window (start inclusive, end exclusive).
    #[must_use]
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }

    /// How much of the window a bot that joined at `joined` was present for.
    #[must_use]
    pub fn measured_since(&self, joined: Instant) -> Duration {
        self.end
            .saturating_duration_since(std::cmp::max(self.start, joined))
    }
}

/// What one bot does.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The bot's number: it seeds the input PRNG (`1000 + index`) and the churn PRNG.
    pub index: u32,
    /// The room to join.
    pub room: String,
    /// Verify every update's checksum (else apply without it, which is cheaper; the first
    /// update of every connection is verified anyway).
    pub verify: bool,
    /// When to connect (runs stagger their bots).
    pub start_at: Instant,
    /// The measured window; the bot closes at its end.
    pub window: Window,
    /// How long to wait for `Welcome` after sending `Join` or `Resume`.
    pub join_timeout: Duration,
    /// How long to wait for the server's close frame after sending ours.
    pub close_grace: Duration,
    /// Drop the connection at random and resume; `None` keeps one connection for the run.
    pub churn: Option<Churn>,
    /// Count the v3 position residuals of the measured updates (for their entropy).
    pub residuals: bool,
}

/// A bot's live totals, read by the progress display while the bot runs. Only the bot writes.
#[derive(Debug, Default)]
pub struct BotCounters {
    joined: AtomicBool,
    updates: AtomicU64,
    bytes: AtomicU64,
    desynced: AtomicBool,
    errors: AtomicU64,
    event_errors: AtomicU64,
    resumes: AtomicU64,
    resume_failures: AtomicU64,
    done: AtomicBool,
}

impl BotCounters {
    /// True once the bot got its first `Welcome`.
    #[must_use]
    pub fn joined(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
    }

    /// Updates received so far, inside or outside the window.
    #[must_use]
    pub fn updates(&self) -> u64 {
        self.updates.load(Ordering::Relaxed)
    }

    /// Payload bytes received so far, inside or outside the window.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// True if the bot's replica disagreed with the server.
    #[must_use]
    pub fn desynced(&self) -> bool {
        self.desynced.load(Ordering::Relaxed)
    }

    /// Errors so far.
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Events out of sequence so far (gaps, duplicates, unknown kinds).
    #[must_use]
    pub fn event_errors(&self) -> u64 {
        self.event_errors.load(Ordering::Relaxed)
    }

    /// Successful resumes so far.
    #[must_use]
    pub fn resumes(&self) -> u64 {
        self.resumes.load(Ordering::Relaxed)
    }

    /// Failed resumes so far.
    #[must_use]
    pub fn resume_failures(&self) -> u64 {
        self.resume_failures.load(Ordering::Relaxed)
    }

    /// True once the bot has finished.
    #[must_use]
    pub fn done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    fn add_message(&self, bytes: u64, update: bool) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if update {
            self.updates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

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
    Send(ClientError),
    /// Receiving failed: connection lost, malformed frame, undecodable message.
    #[error("receive: {0}")]
    Recv(ClientError),
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
            Self::Recv(ClientError::Decode(_)) => "decode".into(),
            Self::Recv(ClientError::TextFrame) => "text_frame".into(),
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
    /// headers (no TLS records: the benchmark runs plain ws).
    pub wire_bytes: u64,
    /// With [`BotConfig::residuals`]: how often each v3 position residual `(rx, ry)` occurred
    /// in the window, one count per held entity per update.
    pub residuals: BTreeMap<(i64, i64), u64>,
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
            residuals: BTreeMap::new(),
        }
    }
}

/// Runs one bot to the end of its window and reports. Never panics on anything the server does.
pub async fn run_bot(
    cfg: BotConfig,
    connector: Arc<Connector>,
    counters: Arc<BotCounters>,
) -> BotReport {
    let mut report = BotReport::new(cfg.index, cfg.verify);
    report.room.clone_from(&cfg.room);
    let mut errors = ErrorLog::new(&counters);
    let mut player = Player::new(cfg.index);
    play(
        &cfg,
        &connector,
        &counters,
        &mut player,
        &mut report,
        &mut errors,
    )
    .await;
    report.events = player.events.received();
    report.events_by_kind = player.events.by_kind().clone();
    report.errors.append(&mut errors.list);
    counters.done.store(true, Ordering::Relaxed);
    report
}

/// Errors of one bot, mirrored into its live counter.
struct ErrorLog<'a> {
    list: Vec<BotError>,
    counters: &'a BotCounters,
}

impl<'a> ErrorLog<'a> {
    fn new(counters: &'a BotCounters) -> Self {
        Self {
            list: Vec::new(),
            counters,
        }
    }

    fn push(&mut self, e: BotError) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.list.push(e);
    }
}

/// What a bot carries from one connection to the next.
struct Player {
    /// The entity of the current player (set by a `Join`'s welcome, kept by resumes).
    entity: Option<EntityId>,
    /// The resume token of the latest welcome.
    token: String,
    events: EventCheck,
    /// The latest input the server acknowledged.
    last_ack: u32,
    /// Inputs keep counting across resumes (the server wants `seq` above the last applied).
    schedule: InputSchedule,
    churn: Option<ChurnSchedule>,
}

impl Player {
    fn new(index: u32) -> Self {
        Self {
            entity: None,
            token: String::new(),
            events: EventCheck::new(),
            last_ack: 0,
            schedule: InputSchedule::for_bot(index),
            churn: None,
        }
    }

    /// The first message of a connection: `Join`, or `Resume` after a drop.
    fn hello(&self, room: &str, resuming: bool) -> ClientMsg {
        if resuming {
            ClientMsg::Resume(Resume {
                room: room.to_owned(),
                token: self.token.clone(),
                last_event_seq: self.events.last_seq(),
            })
        } else {
            ClientMsg::Join(Join {
                room: room.to_owned(),
            })
        }
    }

    /// Checks a welcome against what the bot asked for and takes it on; `Err` is a failed
    /// resume (the connection is useless), `Ok(Err)` a protocol error that ends the bot.
    fn welcomed(
        &mut self,
        welcome: &Welcome,
        resuming: bool,
    ) -> Result<Result<(), BotError>, ResumeFailure> {
        if resuming {
            if !welcome.resumed {
                return Err(ResumeFailure::NotResumed);
            }
            if let Some(was) = self.entity
                && was != welcome.entity
            {
                return Err(ResumeFailure::OtherEntity {
                    was,
                    now: welcome.entity,
                });
            }
            self.events.resumed(&welcome.event_kinds);
        } else {
            if welcome.resumed {
                return Ok(Err(BotError::Unexpected(
                    "a resumed Welcome answering Join",
                )));
            }
            self.entity = Some(welcome.entity);
            self.events.new_player(&welcome.event_kinds);
        }
        self.token.clone_from(&welcome.resume_token);
        Ok(Ok(()))
    }
}

/// What ended one connection.
enum ConnEnd {
    /// The bot dropped it on purpose, to resume.
    Dropped,
    /// Anything else: the bot is done.
    Over,
}

async fn play(
    cfg: &BotConfig,
    connector: &Connector,
    counters: &Arc<BotCounters>,
    player: &mut Player,
    report: &mut BotReport,
    errors: &mut ErrorLog<'_>,
) {
    tokio::time::sleep_until(cfg.start_at.into()).await;
    let shared = Arc::new(Shared {
        base: Instant::now(),
        rtt: RttRing::new(),
    });
    player.churn = cfg
        .churn
        .map(|c| ChurnSchedule::for_bot(cfg.index, c.mean_interval));
    let mut resuming = false;
    loop {
        let hello = player.hello(&cfg.room, resuming);
        let (mut client, welcome) = match open(cfg, connector, &hello).await {
            Ok(opened) => opened,
            // The run ended while the bot was offline: nothing to resume into.
            Err(BotError::Late) if resuming => return,
            Err(e) if resuming => {
                resume_failed(report, counters, ResumeFailure::Refused(e));
                resuming = false;
                continue;
            }
            Err(e) => return errors.push(e),
        };
        let welcomed_at = Instant::now();
        let welcome_len = client.last_payload_len() as u64;
        counters.add_message(welcome_len, false);
        if cfg.window.contains(welcomed_at) {
            report.bytes += welcome_len;
        }
        // The version the upgrade agreed on; the welcome must name the same.
        let ours = client
            .subprotocol()
            .and_then(|p| p.strip_prefix("tickstream.v"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(PROTOCOL_VERSION);
        if welcome.protocol != ours {
            let _ = client.close(close_code::PROTOCOL_ERROR, "").await;
            return errors.push(BotError::ProtocolVersion {
                server: welcome.protocol,
                ours,
            });
        }
        match player.welcomed(&welcome, resuming) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = client.close(close_code::PROTOCOL_ERROR, "").await;
                return errors.push(e);
            }
            Err(failure) => {
                let _ = client.close(close_code::NORMAL, "").await;
                resume_failed(report, counters, failure);
                resuming = false;
                continue;
            }
        }
        if !report.joined {
            report.joined = true;
            report.measured = cfg.window.measured_since(welcomed_at);
            counters.joined.store(true, Ordering::Relaxed);
        }
        if report.game.as_deref() != Some(welcome.game.as_str()) {
            report.game = Some(welcome.game.clone());
        }
        let end = connection(
            cfg, client, &welcome, &shared, counters, player, report, errors,
        )
        .await;
        match end {
            ConnEnd::Over => return,
            ConnEnd::Dropped => {
                report.drops += 1;
                let delay = cfg.churn.map_or(Duration::ZERO, |c| c.reconnect_delay);
                let at = std::cmp::min(Instant::now() + delay, cfg.window.end);
                tokio::time::sleep_until(at.into()).await;
                if Instant::now() >= cfg.window.end {
                    return;
                }
                resuming = true;
            }
        }
    }
}

fn resume_failed(report: &mut BotReport, counters: &BotCounters, failure: ResumeFailure) {
    counters.resume_failures.fetch_add(1, Ordering::Relaxed);
    report.resume_failures.push(failure);
}

/// Connects, sends `hello` (`Join` or `Resume`) and waits for the `Welcome`.
async fn open(
    cfg: &BotConfig,
    connector: &Connector,
    hello: &ClientMsg,
) -> Result<(Client, Welcome), BotError> {
    let end = cfg.window.end.into();
    let mut client = match tokio::time::timeout_at(end, connector.connect()).await {
        Err(_) => return Err(BotError::Late),
        Ok(Err(e)) => return Err(BotError::Connect(e)),
        Ok(Ok(client)) => client,
    };
    if let Err(e) = client.send(hello).await {
        return Err(BotError::Send(e));
    }
    let welcome_by = std::cmp::min(Instant::now() + cfg.join_timeout, cfg.window.end);
    // Dropping a half-read frame on timeout is fine: the connection is abandoned.
    let welcome = match tokio::time::timeout_at(welcome_by.into(), welcome(&mut client)).await {
        Err(_) if Instant::now() >= cfg.window.end => Err(BotError::Late),
        Err(_) => Err(BotError::NoWelcome(cfg.join_timeout)),
        Ok(result) => result,
    };
    match welcome {
        Ok(w) => Ok((client, w)),
        Err(e) => {
            let _ = client.close(close_code::NORMAL, "").await;
            Err(e)
        }
    }
}

/// Plays one connection from its welcome to its end, and adds what it measured to `report`.
#[allow(clippy::too_many_arguments)]
async fn connection(
    cfg: &BotConfig,
    client: Client,
    welcome: &Welcome,
    shared: &Arc<Shared>,
    counters: &Arc<BotCounters>,
    player: &mut Player,
    report: &mut BotReport,
    errors: &mut ErrorLog<'_>,
) -> ConnEnd {
    let resumed = welcome.resumed;
    let (reader, mut writer) = client.split();
    let flags = Arc::new(ConnFlags::default());
    let (stop, stopped) = oneshot::channel();
    let mut reading = tokio::spawn(read_loop(
        reader,
        ReadCtx {
            shared: Arc::clone(shared),
            flags: Arc::clone(&flags),
            counters: Arc::clone(counters),
            verify: cfg.verify,
            window: cfg.window,
            own: welcome.entity,
            events: std::mem::take(&mut player.events),
            last_ack: player.last_ack,
            residuals: cfg.residuals,
        },
        stopped,
    ));
    let drop_at = drop_time(cfg, player);
    let end = write_loop(
        cfg,
        &mut writer,
        shared,
        &flags,
        &mut player.schedule,
        drop_at,
        &mut reading,
    )
    .await;
    let mut dropped = false;
    let outcome = match end {
        WriteEnd::Deadline => {
            flags.closing.store(true, Ordering::Release);
            // A failure here means the connection is already gone, which no longer matters.
            let _ = writer.close(close_code::NORMAL, "").await;
            finish_reader(reading, stop, cfg.close_grace).await
        }
        WriteEnd::Drop => {
            dropped = true;
            flags.closing.store(true, Ordering::Release);
            let outcome = finish_reader(reading, stop, Duration::ZERO).await;
            // The reader's half went with its task; with this one the socket closes, without
            // a close frame, as when a phone loses its network.
            drop(writer);
            outcome
        }
        WriteEnd::PeerClosed => finish_reader(reading, stop, cfg.close_grace).await,
        WriteEnd::ReaderDone(outcome) => {
            // Echo a queued close, or close ourselves after a desync or a reader error.
            let _ = writer.send_pending_control().await;
            let _ = writer.close(close_code::NORMAL, "").await;
            *outcome
        }
        WriteEnd::Failed(e) => {
            let outcome = finish_reader(reading, stop, Duration::ZERO).await;
            // The reader usually saw the cause (a close, an EOF); report the write only if not.
            if let Ok(o) = &outcome
                && o.errors.is_empty()
                && o.desync.is_none()
            {
                errors.push(BotError::Send(e));
            }
            outcome
        }
    };
    let o = match outcome {
        Ok(o) => o,
        Err(e) => {
            errors.push(BotError::Task(e.to_string()));
            return ConnEnd::Over;
        }
    };
    report.updates += o.updates;
    report.update_bytes += o.update_bytes;
    report.bytes += o.bytes;
    report.wire_bytes += o.wire_bytes;
    for (r, n) in o.residuals {
        *report.residuals.entry(r).or_insert(0) += n;
    }
    if report.rtt_us.add(&o.rtt_us).is_err() {
        // Only if the histogram cannot grow; then the samples are lost, not the run.
        for v in o.rtt_us.iter_recorded() {
            report
                .rtt_us
                .saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
    report.event_errors += o.event_errors;
    for e in o.event_error_samples {
        if report.event_error_samples.len() < MAX_EVENT_ERROR_SAMPLES {
            report.event_error_samples.push(e);
        }
    }
    player.events = o.events;
    player.last_ack = o.last_ack;
    if resumed && o.synced {
        report.resumes += 1;
        counters.resumes.fetch_add(1, Ordering::Relaxed);
    }
    let stopped_by_error = o.desync.is_some() || !o.errors.is_empty();
    if o.desync.is_some() {
        report.desync = o.desync;
    }
    // Already counted live by the reader.
    errors.list.extend(o.errors);
    if dropped && !stopped_by_error {
        ConnEnd::Dropped
    } else {
        ConnEnd::Over
    }
}

/// When to drop this connection (churn), or `None`: never, or too close to the end for a
/// resume to fit.
fn drop_time(cfg: &BotConfig, player: &mut Player) -> Option<Instant> {
    let churn = cfg.churn?;
    let at = Instant::now() + player.churn.as_mut()?.next_interval();
    let latest = cfg
        .window
        .end
        .checked_sub(churn.reconnect_delay + CHURN_QUIET)?;
    (at < latest).then_some(at)
}

/// Waits for the `Welcome` that must answer `Join` or `Resume`.
async fn welcome(client: &mut Client) -> Result<Welcome, BotError> {
    match client.recv().await {
        Ok(Incoming::Msg(ServerMsg::Welcome(w))) => Ok(w),
        Ok(Incoming::Msg(ServerMsg::Error(e))) => Err(BotError::Server {
            code: e.code,
            reason: e.reason,
        }),
        Ok(Incoming::Msg(_)) => Err(BotError::Unexpected("a message before Welcome")),
        Ok(Incoming::Close { code, reason }) => Err(BotError::Closed { code, reason }),
        Err(e) => Err(BotError::Recv(e)),
    }
}

/// What a bot's writer and readers share over all its connections.
struct Shared {
    /// The zero of the round-trip clock.
    base: Instant,
    rtt: RttRing,
}

/// What a connection's writer and reader share.
#[derive(Default)]
struct ConnFlags {
    /// Set before the bot sends its close frame or drops the connection: the end of the
    /// connection is then expected.
    closing: AtomicBool,
    /// Set once the first update (the snapshot) has been applied and verified.
    synced: AtomicBool,
}

enum WriteEnd {
    /// The window ended.
    Deadline,
    /// Time to drop the connection (churn).
    Drop,
    /// The server closed and its close frame was echoed.
    PeerClosed,
    /// The reader stopped first (desync, error, close).
    ReaderDone(Box<Result<ReadOutcome, JoinError>>),
    /// Writing failed.
    Failed(ClientError),
}

async fn write_loop(
    cfg: &BotConfig,
    writer: &mut ClientWriter,
    shared: &Shared,
    flags: &ConnFlags,
    schedule: &mut InputSchedule,
    drop_at: Option<Instant>,
    reading: &mut JoinHandle<ReadOutcome>,
) -> WriteEnd {
    let mut ticker = tokio::time::interval(INPUT_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep_until(cfg.window.end.into());
    tokio::pin!(deadline);
    let churn = tokio::time::sleep_until(drop_at.unwrap_or(cfg.window.end).into());
    tokio::pin!(churn);
    loop {
        // Every branch is cancel safe: a sleep, a join handle, a channel receive, a tick.
        tokio::select! {
            biased;
            () = &mut deadline => return WriteEnd::Deadline,
            outcome = &mut *reading => return WriteEnd::ReaderDone(Box::new(outcome)),
            () = &mut churn, if drop_at.is_some() => {
                // Drop only a connection that has shown its snapshot, so every resume has
                // something to compare with.
                if flags.synced.load(Ordering::Acquire) {
                    return WriteEnd::Drop;
                }
                churn.as_mut().reset((Instant::now() + SYNC_POLL).into());
            }
            Some(control) = writer.next_control() => {
                let close = control.is_close();
                if let Err(e) = writer.send_control(control).await {
                    return WriteEnd::Failed(e);
                }
                if close {
                    return WriteEnd::PeerClosed;
                }
            }
            _ = ticker.tick() => {
                let input = schedule.next_input();
                // Recorded before sending: the acknowledgement cannot come sooner.
                shared.rtt.record(input.seq, micros_since(shared.base, Instant::now()));
                if let Err(e) = writer.send(&ClientMsg::Input(input)).await {
                    return WriteEnd::Failed(e);
                }
            }
        }
    }
}

/// Lets the reader finish by itself for up to `grace`, then stops it.
async fn finish_reader(
    mut reading: JoinHandle<ReadOutcome>,
    stop: oneshot::Sender<()>,
    grace: Duration,
) -> Result<ReadOutcome, JoinError> {
    if let Ok(outcome) = tokio::time::timeout(grace, &mut reading).await {
        return outcome;
    }
    // The reader may have just finished; then nobody receives this, which is fine.
    let _ = stop.send(());
    reading.await
}

struct ReadCtx {
    shared: Arc<Shared>,
    flags: Arc<ConnFlags>,
    counters: Arc<BotCounters>,
    verify: bool,
    window: Window,
    /// The bot's own entity, which the snapshot must hold.
    own: EntityId,
    /// The event bookkeeping, lent to the reader for the connection.
    events: EventCheck,
    /// The latest acknowledged input before this connection.
    last_ack: u32,
    /// Count residuals (see [`BotConfig::residuals`]).
    residuals: bool,
}

/// What a reader measured, and the state it hands back for the next connection.
struct ReadOutcome {
    updates: u64,
    update_bytes: u64,
    bytes: u64,
    rtt_us: Histogram<u32>,
    desync: Option<ReplicaError>,
    errors: Vec<BotError>,
    events: EventCheck,
    event_errors: u64,
    event_error_samples: Vec<EventError>,
    last_ack: u32,
    /// The first update was applied and verified.
    synced: bool,
    wire_bytes: u64,
    residuals: BTreeMap<(i64, i64), u64>,
}

/// Reads until the connection ends, the replica desyncs, or `stop` fires.
///
/// `recv` is raced against `stop` only: when `stop` wins, the half-read frame is dropped with
/// the whole connection and nothing reads the stream again, so the lack of cancel safety is
/// harmless. (An update lost that way is one whose events were not counted either: a resume
/// asks for them again.)
async fn read_loop(
    mut reader: ClientReader,
    ctx: ReadCtx,
    mut stop: oneshot::Receiver<()>,
) -> ReadOutcome {
    let mut out = ReadOutcome {
        updates: 0,
        update_bytes: 0,
        bytes: 0,
        rtt_us: rtt_histogram(),
        desync: None,
        errors: Vec::new(),
        events: ctx.events,
        event_errors: 0,
        event_error_samples: Vec::new(),
        last_ack: ctx.last_ack,
        synced: false,
        wire_bytes: 0,
        residuals: BTreeMap::new(),
    };
    let mut errors = ErrorLog::new(&ctx.counters);
    // A fresh replica on every welcome: the first update spawns the whole view.
    let mut replica = Replica::new();
    // After an `Error` message, the close (or EOF) that follows is not a second error.
    let mut server_error = false;
    loop {
        let received = tokio::select! {
            biased;
            _ = &mut stop => break,
            received = reader.recv() => received,
        };
        let now = Instant::now();
        match received {
            Ok(Incoming::Msg(msg)) => {
                let len = reader.last_payload_len() as u64;
                let measured = ctx.window.contains(now);
                let is_update = matches!(msg, ServerMsg::Update(_) | ServerMsg::Update3(_));
                ctx.counters.add_message(len, is_update);
                if measured {
                    out.bytes += len;
                    out.wire_bytes += len + ws_frame_header_len(len);
                }
                // The snapshot after a welcome is always verified: it is where a resume shows
                // whether the server rebuilt the view right.
                let verify = ctx.verify || !out.synced;
                let update = match msg {
                    ServerMsg::Update(update) => {
                        let applied = if verify {
                            replica.apply(&update)
                        } else {
                            replica.apply_unverified(&update)
                        };
                        applied.map(|()| (update.ack_seq, update.events))
                    }
                    ServerMsg::Update3(update) => {
                        let applied = if verify {
                            replica.apply3(&update)
                        } else {
                            replica.apply3_unverified(&update).map(|_| ())
                        };
                        if measured && ctx.residuals && applied.is_ok() {
                            count_residuals(&mut out.residuals, &update.delta.motion);
                        }
                        applied.map(|()| (replica.ack_seq(), update.events))
                    }
                    ServerMsg::Pong(_) => continue,
                    ServerMsg::Error(e) => {
                        server_error = true;
                        errors.push(BotError::Server {
                            code: e.code,
                            reason: e.reason,
                        });
                        continue;
                    }
                    ServerMsg::Welcome(_) => {
                        errors.push(BotError::Unexpected("a second Welcome"));
                        break;
                    }
                };
                match update {
                    Ok((ack_seq, events)) => {
                        if !out.synced {
                            if replica.get(ctx.own).is_none() {
                                errors.push(BotError::OwnEntityMissing(ctx.own));
                                break;
                            }
                            out.synced = true;
                            ctx.flags.synced.store(true, Ordering::Release);
                        }
                        for e in &events {
                            if let Err(err) = out.events.check(e) {
                                ctx.counters.event_errors.fetch_add(1, Ordering::Relaxed);
                                out.event_errors += 1;
                                if out.event_error_samples.len() < MAX_EVENT_ERROR_SAMPLES {
                                    out.event_error_samples.push(err);
                                }
                            }
                        }
                        if measured {
                            out.updates += 1;
                            out.update_bytes += len;
                        }
                        if ack_seq > out.last_ack {
                            out.last_ack = ack_seq;
                            let now_us = micros_since(ctx.shared.base, now);
                            if measured
                                && let Some(rtt) = ctx.shared.rtt.rtt_us(out.last_ack, now_us)
                            {
                                record_rtt(&mut out.rtt_us, u64::from(rtt));
                            }
                        }
                    }
                    Err(e) => {
                        ctx.counters.desynced.store(true, Ordering::Relaxed);
                        out.desync = Some(e);
                        break;
                    }
                }
            }
            Ok(Incoming::Close { code, reason }) => {
                let asked = ctx.flags.closing.load(Ordering::Acquire);
                let expected = asked && (code == close_code::NORMAL || code == NO_STATUS);
                if !expected && !server_error {
                    errors.push(BotError::Closed { code, reason });
                }
                break;
            }
            Err(e) => {
                // Once closing, a connection dropped without a close frame is no error.
                if !server_error && !ctx.flags.closing.load(Ordering::Acquire) {
                    errors.push(BotError::Recv(e));
                }
                break;
            }
        }
    }
    out.errors = errors.list;
    out
}

/// Adds one update's residuals: (0, 0) for every held entity without a move.
fn count_residuals(hist: &mut BTreeMap<(i64, i64), u64>, m: &tickstream_shared::Motion) {
    let still = u64::from(m.held).saturating_sub(m.moves.len() as u64);
    if still > 0 {
        *hist.entry((0, 0)).or_insert(0) += still;
    }
    for mv in &m.moves {
        *hist.entry((mv.rx, mv.ry)).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_half_open() {
        let start = Instant::now();
        let w = Window {
            start,
            end: start + Duration::from_secs(10),
        };
        assert!(w.contains(start), "start is inside");
        assert!(!w.contains(w.end), "end is outside");
        assert_eq!(
            w.measured_since(start - Duration::from_secs(3)),
            Duration::from_secs(10),
            "joined before the window: the whole window"
        );
        assert_eq!(
            w.measured_since(start + Duration::from_secs(4)),
            Duration::from_secs(6),
            "joined inside: the rest"
        );
        assert_eq!(
            w.measured_since(w.end + Duration::from_secs(1)),
            Duration::ZERO,
            "joined after: nothing"
        );
    }

    #[test]
    fn error_kinds_are_stable_keys() {
        assert_eq!(
            BotError::Connect(ConnectError::Status(403)).kind(),
            "http_403"
        );
        assert_eq!(
            BotError::Closed {
                code: 1008,
                reason: String::new()
            }
            .kind(),
            "close_1008"
        );
        assert_eq!(
            BotError::Server {
                code: 4002,
                reason: String::new()
            }
            .kind(),
            "server_error_4002"
        );
        assert_eq!(BotError::Late.kind(), "late");
        assert_eq!(
            BotError::OwnEntityMissing(EntityId(3)).kind(),
            "own_entity_missing"
        );
    }

    #[test]
    fn resume_failures_are_keyed_by_close_code() {
        let refused = |e| ResumeFailure::Refused(e).kind();
        assert_eq!(
            refused(BotError::Server {
                code: 4005,
                reason: "unknown token".into()
            }),
            "close_4005",
            "an Error message"
        );
        assert_eq!(
            refused(BotError::Closed {
                code: 1013,
                reason: "room is full".into()
            }),
            "close_1013",
            "a close frame"
        );
        assert_eq!(refused(BotError::Late), "late", "anything else by its kind");
        assert_eq!(ResumeFailure::NotResumed.kind(), "not_resumed");
        assert_eq!(
            ResumeFailure::OtherEntity {
                was: EntityId(1),
                now: EntityId(2)
            }
            .kind(),
            "other_entity"
        );
    }

    fn welcome(entity: u32, resumed: bool, token: &str) -> Welcome {
        Welcome {
            protocol: PROTOCOL_VERSION,
            entity: EntityId(entity),
            tick_rate_hz: 30,
            tick: tickstream_shared::Tick(1),
            world_width: 100.0,
            world_height: 100.0,
            view_radius: 0.0,
            game: "arena".into(),
            kinds: vec!["player".into(), "npc".into()],
            fields: vec![],
            event_kinds: vec!["joined".into(), "left".into()],
            resume_token: token.into(),
            resumed,
        }
    }

    #[test]
    fn a_resume_must_come_back_resumed_as_the_same_entity() {
        let mut p = Player::new(0);
        assert!(
            matches!(p.hello("r", false), ClientMsg::Join(j) if j.room == "r"),
            "the first connection joins"
        );
        assert!(
            matches!(p.welcomed(&welcome(5, false, "t1"), false), Ok(Ok(()))),
            "a fresh join"
        );
        match p.hello("r", true) {
            ClientMsg::Resume(r) => assert_eq!(
                (r.room.as_str(), r.token.as_str(), r.last_event_seq),
                ("r", "t1", 0),
                "the resume carries the room, the latest token and the last event"
            ),
            other => panic!("a drop resumes, not {other:?}"),
        }
        assert!(
            matches!(p.welcomed(&welcome(5, true, "t2"), true), Ok(Ok(()))),
            "same entity, resumed"
        );
        assert_eq!(p.token, "t2", "the new token replaces the used one");
        assert!(
            matches!(
                p.welcomed(&welcome(5, false, "t3"), true),
                Err(ResumeFailure::NotResumed)
            ),
            "a welcome as a new player fails the resume"
        );
        assert!(
            matches!(
                p.welcomed(&welcome(6, true, "t4"), true),
                Err(ResumeFailure::OtherEntity { .. })
            ),
            "another entity fails the resume"
        );
        assert!(
            matches!(
                p.welcomed(&welcome(7, true, "t5"), false),
                Ok(Err(BotError::Unexpected(_)))
            ),
            "a resumed welcome answering Join is a protocol error"
        );
    }

    #[test]
    fn drops_are_planned_only_with_churn_and_not_near_the_end() {
        let now = Instant::now();
        let mut cfg = BotConfig {
            index: 0,
            room: "r".into(),
            verify: true,
            start_at: now,
            window: Window {
                start: now,
                end: now + Duration::from_secs(3600),
            },
            join_timeout: Duration::from_secs(1),
            close_grace: Duration::from_secs(1),
            churn: None,
            residuals: false,
        };
        let mut p = Player::new(0);
        assert_eq!(drop_time(&cfg, &mut p), None, "no churn, no drop");
        cfg.churn = Some(Churn {
            mean_interval: Duration::from_millis(100),
            reconnect_delay: Duration::from_millis(10),
        });
        p.churn = Some(ChurnSchedule::for_bot(0, Duration::from_millis(100)));
        let at = drop_time(&cfg, &mut p).expect("a drop within an hour");
        assert!(
            at <= Instant::now() + Duration::from_secs(1),
            "within ten means: {:?}",
            at.saturating_duration_since(Instant::now())
        );
        cfg.window.end = Instant::now() + CHURN_QUIET;
        assert_eq!(
            drop_time(&cfg, &mut p),
            None,
            "no drop without time left to resume"
        );
    }
}
