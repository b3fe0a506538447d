//! One bot: a real client that joins a room, plays the scenario's inputs and checks its view.
//!
//! A bot's life is one or more connections. On each, after the `Welcome`, a bot is two tasks.
//! Its own task writes: an input every 50 ms, the WebSocket's control replies, and the close
//! frame at the deadline. A spawned reader task applies every update to a [`View`] (verifying
//! the checksum if the bot is in the verification sample, and always on a connection's first
//! update, the full snapshot), checks the game events' sequence numbers ([`EventCheck`]),
//! measures input round trips through a lock-free [`RttRing`], and counts updates and bytes.
//! Live totals go to the bot's [`BotCounters`] (atomics, read once a second for progress);
//! everything else stays in the tasks and comes back as one [`BotReport`].
//!
//! With [`Churn`], the writer drops the connection at random times (no close frame: the socket
//! just goes away) and the bot reconnects with `Resume`, checking that it gets the same entity
//! back, that the snapshot passes the checksum, and that the events go on without a gap.
//!
//! When the server hands the bot's room to another process (protocol v5's `Moved`), the bot
//! follows: it keeps its replica as it was, resumes at the new URL, and compares the
//! successor's first update with it ([`MoveCheck`]), timing the gap.
//!
//! # Layout
//!
//! - here: the bot's settings ([`BotConfig`], [`Window`]), its live [`BotCounters`], and
//!   [`run_bot`], its life over one or more connections;
//! - `connection`: one connection, from connect to its end;
//! - `writer` and `reader`: the two tasks of a connection;
//! - `report`: [`BotReport`] and the errors it carries;
//! - [`duel`]: what a bot does in the `duel` game: fire at what its interpolated view shows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tickstream_client::{
    ConnectError, Connection, ConnectionError, ConnectionReader, ConnectionWriter, Connector,
    Incoming, NO_STATUS, OpenError, PlayerState, Verify, View, ViewError, WelcomeError,
};
use tickstream_shared::{ClientMsg, EntityId, ReplicaError, ServerMsg, Welcome, close_code};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::MissedTickBehavior;

use crate::churn::{Churn, ChurnSchedule};
use crate::events::{EventCheck, EventError};
use crate::moves::{BeforeMove, MoveCheck, MoveStateError};
use crate::rtt::{RttRing, micros_since, record_rtt, rtt_histogram};
use crate::schedule::{INPUT_INTERVAL, InputSchedule};

mod connection;
pub mod duel;
mod reader;
mod report;
#[cfg(test)]
mod tests;
mod writer;

use self::connection::{connection, open};
use self::reader::{finish_reader, read_loop};
pub use self::report::{BotError, BotReport, ResumeFailure, ws_frame_header_len};
use self::writer::write_loop;

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

/// Runs one bot to the end of its window and reports. Never panics on anything the server does.
pub async fn run_bot(
    cfg: BotConfig,
    connector: Arc<Connector>,
    counters: Arc<BotCounters>,
) -> BotReport {
    let mut report = BotReport::new(cfg.index, cfg.verify);
    report.room.clone_from(&cfg.room);
    let mut errors = ErrorLog::new(&counters);
    let mut player = Player::new(cfg.index, &cfg.room);
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
    /// Room, entity, resume token: the client library's bookkeeping.
    state: PlayerState,
    events: EventCheck,
    /// The latest input the server acknowledged.
    last_ack: u32,
    /// Inputs keep counting across resumes (the server wants `seq` above the last applied).
    schedule: InputSchedule,
    churn: Option<ChurnSchedule>,
    /// After a `Moved`: the view before it and when it came, for the next connection's check.
    after_move: Option<(BeforeMove, MoveCheck, Instant)>,
}

impl Player {
    fn new(index: u32, room: &str) -> Self {
        Self {
            state: PlayerState::new(room),
            events: EventCheck::new(),
            last_ack: 0,
            schedule: InputSchedule::for_bot(index),
            churn: None,
            after_move: None,
        }
    }

    /// The first message of a connection: `Join`, or `Resume` after a drop.
    fn hello(&mut self) -> ClientMsg {
        self.state.event_delivered(self.events.last_seq());
        self.state.hello()
    }

    /// Checks a welcome against what the bot asked for and takes it on; `Err` is a failed
    /// resume (the connection is useless), `Ok(Err)` a protocol error that ends the bot.
    fn welcomed(
        &mut self,
        welcome: &Welcome,
        resuming: bool,
    ) -> Result<Result<(), BotError>, ResumeFailure> {
        match self.state.welcomed(welcome, resuming) {
            Ok(()) if resuming => self.events.resumed(&welcome.event_kinds),
            Ok(()) => self.events.new_player(&welcome.event_kinds),
            Err(WelcomeError::NotResumed) => return Err(ResumeFailure::NotResumed),
            Err(WelcomeError::OtherEntity { was, now }) => {
                return Err(ResumeFailure::OtherEntity { was, now });
            }
            Err(WelcomeError::ResumedJoin) => {
                return Ok(Err(BotError::Unexpected(
                    "a resumed Welcome answering Join",
                )));
            }
            Err(WelcomeError::ProtocolVersion { server, ours }) => {
                return Ok(Err(BotError::ProtocolVersion { server, ours }));
            }
            Err(WelcomeError::MoveRule(_)) => {
                return Ok(Err(BotError::Unexpected(
                    "a Welcome with an invalid move rule",
                )));
            }
        }
        Ok(Ok(()))
    }
}

/// What ended one connection.
enum ConnEnd {
    /// The bot dropped it on purpose, to resume.
    Dropped,
    /// The room moved to another process: resume at this URL.
    Moved(String),
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
    // Where the room runs now, once it moved.
    let mut moved_to: Option<Connector> = None;
    loop {
        let resuming = player.state.resumes();
        let hello = player.hello();
        let current = moved_to.as_ref().unwrap_or(connector);
        let (mut client, welcome) = match open(cfg, current, &hello).await {
            Ok(opened) => opened,
            // The run ended while the bot was offline: nothing to resume into.
            Err(BotError::Late) if resuming => return,
            Err(e) if resuming => {
                resume_failed(report, counters, ResumeFailure::Refused(e));
                player.state.forget();
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
        match player.welcomed(&welcome, resuming) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = client.close(close_code::PROTOCOL_ERROR, "").await;
                return errors.push(e);
            }
            Err(failure) => {
                // The player is forgotten: the next connection joins afresh.
                let _ = client.close(close_code::NORMAL, "").await;
                resume_failed(report, counters, failure);
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
            ConnEnd::Moved(url) => {
                report.moves += 1;
                match current.for_url(&url) {
                    Ok(c) => moved_to = Some(c),
                    Err(e) => return errors.push(BotError::Connect(e)),
                }
            }
            ConnEnd::Dropped => {
                report.drops += 1;
                let delay = cfg.churn.map_or(Duration::ZERO, |c| c.reconnect_delay);
                let at = std::cmp::min(Instant::now() + delay, cfg.window.end);
                tokio::time::sleep_until(at.into()).await;
                if Instant::now() >= cfg.window.end {
                    return;
                }
            }
        }
    }
}

fn resume_failed(report: &mut BotReport, counters: &BotCounters, failure: ResumeFailure) {
    counters.resume_failures.fetch_add(1, Ordering::Relaxed);
    report.resume_failures.push(failure);
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
    Failed(ConnectionError),
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
    /// In the duel: the bot's eyes, and where its decisions go to the writer.
    duel: Option<(duel::DuelBrain, tokio::sync::mpsc::Sender<duel::DuelCmd>)>,
    /// This connection's game, for checking a room that moves.
    rules: MoveCheck,
    /// After a move: the view before it, the previous game's rules, and when `Moved` came.
    after_move: Option<(BeforeMove, MoveCheck, Instant)>,
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
    socket_bytes: u64,
    residuals: BTreeMap<(i64, i64), u64>,
    shots: u64,
    hits_confirmed: u64,
    /// The room moved: where to, the view before, the rules, when.
    moved: Option<(String, BeforeMove, MoveCheck, Instant)>,
    /// After a move: from `Moved` to the successor's first update.
    move_gap: Option<Duration>,
    /// After a move: how the successor's first view does not continue the one before.
    move_state_errors: Vec<MoveStateError>,
}
