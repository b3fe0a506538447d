//! One bot: a real client that joins a room, plays the scenario's inputs and checks its view.
//!
//! After the `Welcome`, a bot is two tasks. Its own task writes: an input every 50 ms, the
//! WebSocket's control replies, and the close frame at the deadline. A spawned reader task
//! applies every update to a [`Replica`] (verifying the checksum if the bot is in the
//! verification sample), measures input round trips through a lock-free [`RttRing`], and counts
//! updates and bytes. Live totals go to the bot's [`BotCounters`] (atomics, read once a second
//! for progress); everything else stays in the tasks and comes back as one [`BotReport`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tickstream_shared::{
    ClientMsg, Join, PROTOCOL_VERSION, Replica, ReplicaError, ServerMsg, Welcome, close_code,
};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::MissedTickBehavior;

use crate::client::{Client, ClientError, ClientReader, ClientWriter, Incoming, NO_STATUS};
use crate::connect::{ConnectError, Connector};
use crate::rtt::{RttRing, micros_since, record_rtt, rtt_histogram};
use crate::schedule::{INPUT_INTERVAL, InputSchedule};

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
    /// The bot's number: it seeds the input PRNG (`1000 + index`).
    pub index: u32,
    /// The room to join.
    pub room: String,
    /// Verify every update's checksum (else apply without it, which is cheaper).
    pub verify: bool,
    /// When to connect (runs stagger their bots).
    pub start_at: Instant,
    /// The measured window; the bot closes at its end.
    pub window: Window,
    /// How long to wait for `Welcome` after sending `Join`.
    pub join_timeout: Duration,
    /// How long to wait for the server's close frame after sending ours.
    pub close_grace: Duration,
}

/// A bot's live totals, read by the progress display while the bot runs. Only the bot writes.
#[derive(Debug, Default)]
pub struct BotCounters {
    joined: AtomicBool,
    updates: AtomicU64,
    bytes: AtomicU64,
    desynced: AtomicBool,
    errors: AtomicU64,
    done: AtomicBool,
}

impl BotCounters {
    /// True once the bot got its `Welcome`.
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
    Connect(#[from] ConnectError),
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
    /// The bot's reader task panicked.
    #[error("reader task failed: {0}")]
    Task(String),
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
            Self::Task(_) => "task".into(),
        }
    }
}

/// What one bot measured. Traffic counts only cover the [`Window`].
#[derive(Debug)]
pub struct BotReport {
    /// The bot's number.
    pub index: u32,
    /// Whether it verified checksums.
    pub verified: bool,
    /// Whether it got its `Welcome`.
    pub joined: bool,
    /// How long it was joined within the window (to its end, even if the bot stopped early, so
    /// a stopped bot shows as a low update rate).
    pub measured: Duration,
    /// Updates received in the window.
    pub updates: u64,
    /// Payload bytes of those updates.
    pub update_bytes: u64,
    /// Payload bytes of all messages received in the window.
    pub bytes: u64,
    /// Input-to-acknowledgement round trips in the window, in microseconds.
    pub rtt_us: Histogram<u32>,
    /// The replica error that stopped the bot, if any.
    pub desync: Option<ReplicaError>,
    /// Everything else that went wrong.
    pub errors: Vec<BotError>,
}

impl BotReport {
    /// An empty report for bot `index`.
    #[must_use]
    pub fn new(index: u32, verified: bool) -> Self {
        Self {
            index,
            verified,
            joined: false,
            measured: Duration::ZERO,
            updates: 0,
            update_bytes: 0,
            bytes: 0,
            rtt_us: rtt_histogram(),
            desync: None,
            errors: Vec::new(),
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
    let mut errors = ErrorLog::new(&counters);
    play(&cfg, &connector, &counters, &mut report, &mut errors).await;
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

async fn play(
    cfg: &BotConfig,
    connector: &Connector,
    counters: &Arc<BotCounters>,
    report: &mut BotReport,
    errors: &mut ErrorLog<'_>,
) {
    tokio::time::sleep_until(cfg.start_at.into()).await;
    let end = cfg.window.end.into();
    let mut client = match tokio::time::timeout_at(end, connector.connect()).await {
        Err(_) => return errors.push(BotError::Late),
        Ok(Err(e)) => return errors.push(BotError::Connect(e)),
        Ok(Ok(client)) => client,
    };
    let join = ClientMsg::Join(Join {
        room: cfg.room.clone(),
    });
    if let Err(e) = client.send(&join).await {
        return errors.push(BotError::Send(e));
    }
    let welcome_by = std::cmp::min(Instant::now() + cfg.join_timeout, cfg.window.end);
    // Dropping a half-read frame on timeout is fine: the connection is abandoned.
    let welcome = match tokio::time::timeout_at(welcome_by.into(), welcome(&mut client)).await {
        Err(_) if Instant::now() >= cfg.window.end => Err(BotError::Late),
        Err(_) => Err(BotError::NoWelcome(cfg.join_timeout)),
        Ok(result) => result,
    };
    let welcome = match welcome {
        Ok(w) => w,
        Err(e) => {
            let _ = client.close(close_code::NORMAL, "").await;
            return errors.push(e);
        }
    };
    let joined_at = Instant::now();
    let welcome_len = client.last_payload_len() as u64;
    counters.add_message(welcome_len, false);
    if cfg.window.contains(joined_at) {
        report.bytes += welcome_len;
    }
    if welcome.protocol != PROTOCOL_VERSION {
        let _ = client.close(close_code::PROTOCOL_ERROR, "").await;
        return errors.push(BotError::ProtocolVersion {
            server: welcome.protocol,
            ours: PROTOCOL_VERSION,
        });
    }
    report.joined = true;
    report.measured = cfg.window.measured_since(joined_at);
    counters.joined.store(true, Ordering::Relaxed);

    let (reader, mut writer) = client.split();
    let shared = Arc::new(Shared {
        base: joined_at,
        rtt: RttRing::new(),
        closing: AtomicBool::new(false),
    });
    let (stop, stopped) = oneshot::channel();
    let mut reading = tokio::spawn(read_loop(
        reader,
        ReadCtx {
            shared: Arc::clone(&shared),
            counters: Arc::clone(counters),
            verify: cfg.verify,
            window: cfg.window,
        },
        stopped,
    ));
    let end = write_loop(cfg, &mut writer, &shared, &mut reading).await;
    let outcome = match end {
        WriteEnd::Deadline => {
            shared.closing.store(true, Ordering::Release);
            // A failure here means the connection is already gone, which no longer matters.
            let _ = writer.close(close_code::NORMAL, "").await;
            finish_reader(reading, stop, cfg.close_grace).await
        }
        WriteEnd::PeerClosed => finish_reader(reading, stop, cfg.close_grace).await,
        WriteEnd::ReaderDone(outcome) => {
            // Echo a queued close, or close ourselves after a desync or a reader error.
            let _ = writer.send_pending_control().await;
            let _ = writer.close(close_code::NORMAL, "").await;
            outcome
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
    match outcome {
        Ok(o) => {
            report.updates = o.updates;
            report.update_bytes = o.update_bytes;
            report.bytes += o.bytes;
            report.rtt_us = o.rtt_us;
            report.desync = o.desync;
            // Already counted live by the reader.
            errors.list.extend(o.errors);
        }
        Err(e) => errors.push(BotError::Task(e.to_string())),
    }
}

/// Waits for the `Welcome` that must answer `Join`.
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

/// State a bot's writer and reader share.
struct Shared {
    /// The zero of the round-trip clock.
    base: Instant,
    rtt: RttRing,
    /// Set before the bot sends its close frame: the server's close is then expected.
    closing: AtomicBool,
}

enum WriteEnd {
    /// The window ended.
    Deadline,
    /// The server closed and its close frame was echoed.
    PeerClosed,
    /// The reader stopped first (desync, error, close).
    ReaderDone(Result<ReadOutcome, JoinError>),
    /// Writing failed.
    Failed(ClientError),
}

async fn write_loop(
    cfg: &BotConfig,
    writer: &mut ClientWriter,
    shared: &Shared,
    reading: &mut JoinHandle<ReadOutcome>,
) -> WriteEnd {
    let mut schedule = InputSchedule::for_bot(cfg.index);
    let mut ticker = tokio::time::interval(INPUT_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep_until(cfg.window.end.into());
    tokio::pin!(deadline);
    loop {
        // Every branch is cancel safe: a sleep, a join handle, a channel receive, a tick.
        tokio::select! {
            biased;
            () = &mut deadline => return WriteEnd::Deadline,
            outcome = &mut *reading => return WriteEnd::ReaderDone(outcome),
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
    counters: Arc<BotCounters>,
    verify: bool,
    window: Window,
}

/// What a reader measured.
struct ReadOutcome {
    updates: u64,
    update_bytes: u64,
    bytes: u64,
    rtt_us: Histogram<u32>,
    desync: Option<ReplicaError>,
    errors: Vec<BotError>,
}

/// Reads until the connection ends, the replica desyncs, or `stop` fires.
///
/// `recv` is raced against `stop` only: when `stop` wins, the half-read frame is dropped with
/// the whole connection and nothing reads the stream again, so the lack of cancel safety is
/// harmless.
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
    };
    let mut errors = ErrorLog::new(&ctx.counters);
    let mut replica = Replica::new();
    let mut last_ack = 0u32;
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
                let is_update = matches!(msg, ServerMsg::Update(_));
                ctx.counters.add_message(len, is_update);
                if measured {
                    out.bytes += len;
                }
                match msg {
                    ServerMsg::Update(update) => {
                        let applied = if ctx.verify {
                            replica.apply(&update)
                        } else {
                            replica.apply_unverified(&update)
                        };
                        if let Err(e) = applied {
                            ctx.counters.desynced.store(true, Ordering::Relaxed);
                            out.desync = Some(e);
                            break;
                        }
                        if measured {
                            out.updates += 1;
                            out.update_bytes += len;
                        }
                        if update.ack_seq > last_ack {
                            last_ack = update.ack_seq;
                            let now_us = micros_since(ctx.shared.base, now);
                            if measured && let Some(rtt) = ctx.shared.rtt.rtt_us(last_ack, now_us) {
                                record_rtt(&mut out.rtt_us, u64::from(rtt));
                            }
                        }
                    }
                    ServerMsg::Pong(_) => {}
                    ServerMsg::Error(e) => {
                        server_error = true;
                        errors.push(BotError::Server {
                            code: e.code,
                            reason: e.reason,
                        });
                    }
                    ServerMsg::Welcome(_) => {
                        errors.push(BotError::Unexpected("a second Welcome"));
                        break;
                    }
                }
            }
            Ok(Incoming::Close { code, reason }) => {
                let asked = ctx.shared.closing.load(Ordering::Acquire);
                let expected = asked && (code == close_code::NORMAL || code == NO_STATUS);
                if !expected && !server_error {
                    errors.push(BotError::Closed { code, reason });
                }
                break;
            }
            Err(e) => {
                // Once closing, a connection dropped without a close frame is no error.
                if !server_error && !ctx.shared.closing.load(Ordering::Acquire) {
                    errors.push(BotError::Recv(e));
                }
                break;
            }
        }
    }
    out.errors = errors.list;
    out
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
    }
}
