//! [`Session`]: a player in a room over as many connections as it takes. Updates are applied to
//! a verified replica, events come exactly once and in order, inputs are sent latest-wins, and a
//! connection that drops is resumed as the same player (PROTOCOL.md §3.8). When the server
//! hands the room to another process (a deploy; protocol v5's `Moved`, §17.2), the session
//! follows it: it resumes at the new URL as the same player, with no event lost or repeated.
//!
//! The game's task drives the session with [`Session::next`], which reads and applies; a small
//! writer task per connection sends inputs, pings and the WebSocket's replies, so inputs go out
//! while the game is busy elsewhere.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tickstream_shared::{
    ClientMsg, GameEvent, Input, Input5, Ping, Replica, ServerMsg, Welcome, Welcome4, close_code,
};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::connect::{ConnectError, ConnectOptions, Connector};
use crate::connection::{ConnectionError, ConnectionReader, ConnectionWriter, Incoming};
use crate::player::{OpenError, PlayerState, WelcomeError, open};
use crate::view::{Applied, Verify, View, ViewError};

/// How a [`Session`] connects and recovers.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Trust, offered protocol versions, join token, connect timeout.
    pub connect: ConnectOptions,
    /// How long to wait for the `Welcome` after `Join` or `Resume`.
    pub welcome_timeout: Duration,
    /// Resume after a connection drops without the player leaving (a lost link, 1011, 4000,
    /// 4003, 4004, a desync); `false` ends the session with the error instead.
    pub auto_resume: bool,
    /// Reconnect attempts in a row before [`Session::next`] gives up with the last error.
    pub max_reconnects: u32,
    /// The first reconnect delay; it doubles per failed attempt, up to 5 s.
    pub reconnect_delay: Duration,
    /// How often to measure the round trip with `Ping` ([`Session::rtt`]).
    pub ping_interval: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            connect: ConnectOptions::default(),
            // As the server's own join timeout: a busy server still answers within it.
            welcome_timeout: Duration::from_secs(10),
            // A game wants its player back after a network hiccup.
            auto_resume: true,
            // About 20 s of trying with the doubling delay: the server's resume grace period.
            max_reconnects: 8,
            // Quick enough for a blip, slow enough not to hammer a restarting server.
            reconnect_delay: Duration::from_millis(250),
            // As the JavaScript client: a few pings a second would count against the rate limit.
            ping_interval: Duration::from_secs(1),
        }
    }
}

/// Why a session ended. Every variant the server caused carries its close code
/// ([`SessionError::close_code`]).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session options are unusable (URL, certificate file, token).
    #[error("{0}")]
    Setup(ConnectError),
    /// A connection could not be opened or did not end in a welcome, and no retry is due.
    #[error("{0}")]
    Open(OpenError),
    /// The server closed the connection with a code after which resuming makes no sense
    /// (1000, 1001 going away, 1002, 1008, 1013, 4002…).
    #[error("closed by the server with code {code}: {reason:?}")]
    Closed {
        /// The close code (the `Error` message's, which the close frame repeats).
        code: u16,
        /// The reason.
        reason: String,
    },
    /// The connection failed and `auto_resume` is off (or every reconnect failed).
    #[error("connection: {0}")]
    Connection(ConnectionError),
    /// An update did not apply or its checksum did not match, and `auto_resume` is off.
    #[error("{0}")]
    Desync(ViewError),
    /// An event arrived out of sequence, and `auto_resume` is off.
    #[error("event seq {got} where {expected} was due")]
    EventGap {
        /// The seq due.
        expected: u32,
        /// The seq received.
        got: u32,
    },
    /// A welcome that does not fit the hello (a server bug).
    #[error("{0}")]
    Welcome(WelcomeError),
    /// The session was closed with [`Session::close`] or [`Session::suspend`].
    #[error("the session is closed")]
    Finished,
}

impl SessionError {
    /// The close code the server gave, if it gave one.
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Open(e) => e.close_code(),
            Self::Closed { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What [`Session::next`] hands the game, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// A new connection was welcomed: after a drop, `welcome.resumed` is true and the entity
    /// the same; after a refused resume, a new player joined. The view starts empty again.
    Welcome(Box<Welcome4>),
    /// An update was applied to the replica ([`Session::replica`]); its game events follow.
    Update(Applied),
    /// A game event, exactly once and in `seq` order, across resumes.
    Event(GameEvent),
    /// The room moved to another process (protocol v5's `Moved`): the next [`Session::next`]
    /// resumes there, at `url`, as the same player. The view restarts with that welcome.
    Moved {
        /// Where the room runs now; the session connects there from now on.
        url: String,
    },
    /// The connection dropped (code if the server sent one) and the session is resuming.
    Dropped {
        /// The close code, if the server closed.
        code: Option<u16>,
        /// What happened.
        reason: String,
    },
}

/// The latest input, waiting for the writer: one slot, never a queue.
#[derive(Debug, Default)]
struct InputSlot {
    state: Mutex<SlotState>,
    /// Wakes the writer when the slot fills.
    filled: Notify,
}

#[derive(Debug, Default)]
struct SlotState {
    /// The intent the game set last (re-sent after a resume).
    current: Option<(f32, f32, u32)>,
    /// Not sent yet; a newer input replaces it.
    pending: Option<Input>,
    /// The render tick the game displayed when it set the pending input (protocol v5 sends
    /// it with the input, for lag compensation); `None` sends a plain `Input`.
    view: Option<f64>,
    /// The last sequence number handed out.
    seq: u32,
}

impl InputSlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // The state stays consistent at every await-free step: a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, dx: f32, dy: f32, buttons: u32, view: Option<f64>) -> Option<u32> {
        let clamp = |v: f32| if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
        let intent = (clamp(dx), clamp(dy), buttons);
        let mut s = self.lock();
        if s.current == Some(intent) {
            // The same intent: not sent again; an unsent one takes the newer displayed time.
            if s.pending.is_some() && view.is_some() {
                s.view = view;
            }
            return None;
        }
        s.view = view;
        s.current = Some(intent);
        s.seq += 1;
        let seq = s.seq;
        s.pending = Some(Input {
            seq,
            dx: intent.0,
            dy: intent.1,
            buttons,
        });
        drop(s);
        self.filled.notify_one();
        Some(seq)
    }
}

/// Sets the player's intent from any task or thread: a cheap clone of the session's input slot.
#[derive(Debug, Clone)]
pub struct InputHandle {
    slot: Arc<InputSlot>,
}

impl InputHandle {
    /// See [`Session::set_input`].
    pub fn set(&self, dx: f32, dy: f32, buttons: u32) -> Option<u32> {
        self.slot.set(dx, dy, buttons, None)
    }

    /// See [`Session::set_input_at`].
    pub fn set_at(&self, dx: f32, dy: f32, buttons: u32, render_tick: f64) -> Option<u32> {
        self.slot.set(dx, dy, buttons, Some(render_tick))
    }
}

/// One connection's live parts.
struct Live {
    reader: ConnectionReader,
    view: View,
    /// Ends the writer: `Some(code)` sends a close frame first, a dropped sender does not.
    stop: Option<oneshot::Sender<u16>>,
    writer: JoinHandle<()>,
    /// The server's `Error`, to report with the close that follows.
    server_error: Option<(u16, String)>,
    /// The URL a `Moved` named: the room continues there once this connection closes.
    moved: Option<String>,
}

/// A player in a room: connect, join (or resume a saved player), read updates and events,
/// send inputs; dropped connections are resumed on their own.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut config = tickstream_server::Config::default();
/// # config.server.listen = "127.0.0.1:0".parse()?;
/// # config.server.ws_listen = Some("127.0.0.1:0".parse()?);
/// # config.server.metrics_listen = None;
/// # let server = tickstream_server::Server::bind(config).await?;
/// # let url = format!("ws://{}/ws", server.ws_addr().expect("ws enabled")?);
/// # tokio::spawn(server.run(std::future::pending()));
/// use tickstream_client::{Session, SessionEvent, SessionOptions};
///
/// let mut session = Session::join(&url, "lobby", SessionOptions::default()).await?;
/// let me = session.welcome().entity;
/// session.set_input(1.0, 0.0, 0); // walk right; sent at once, latest wins
/// loop {
///     match session.next().await? {
///         SessionEvent::Update(u) if u.ack_seq >= 1 => break, // the server applied it
///         _ => {}
///     }
/// }
/// assert!(session.replica().get(me).is_some(), "the own entity is always in view");
/// session.close().await;
/// # Ok(()) }
/// ```
pub struct Session {
    connector: Connector,
    opts: SessionOptions,
    player: PlayerState,
    slot: Arc<InputSlot>,
    welcome: Welcome4,
    live: Option<Live>,
    /// The view of the last connection, kept for drawing while reconnecting.
    last_view: View,
    /// Game events of the last update, handed out one by one.
    pending: VecDeque<GameEvent>,
    /// The zero of ping times.
    base: Instant,
    rtt: Option<Duration>,
    finished: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("player", &self.player)
            .field("connected", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects to `url` (`ws://` or `wss://…/ws`) and joins `room` as a new player.
    pub async fn join(url: &str, room: &str, opts: SessionOptions) -> Result<Self, SessionError> {
        Self::start(url, PlayerState::new(room), opts).await
    }

    /// Connects to `url` and resumes `player` (saved from [`Session::player`], in this process
    /// or an earlier one), or joins its room afresh if it never joined or the server refuses
    /// the resume.
    pub async fn start(
        url: &str,
        player: PlayerState,
        opts: SessionOptions,
    ) -> Result<Self, SessionError> {
        let connector = Connector::new(url, &opts.connect).map_err(SessionError::Setup)?;
        let slot = Arc::new(InputSlot::default());
        slot.lock().seq = player.last_input_seq();
        let mut session = Self {
            connector,
            opts,
            player,
            slot,
            welcome: placeholder_welcome(),
            live: None,
            last_view: View::new(tickstream_shared::EntityId(0)),
            pending: VecDeque::new(),
            base: Instant::now(),
            rtt: None,
            finished: false,
        };
        session.reconnect(true).await?;
        Ok(session)
    }

    /// The newest connection's welcome: the own entity, the game, the tick rate, the world,
    /// and how the game moves the own entity ([`Welcome4::move_rule`], for a
    /// [`crate::Predictor`]).
    #[must_use]
    pub fn welcome(&self) -> &Welcome4 {
        &self.welcome
    }

    /// The view as of the last update (empty right after a welcome, until its first update).
    #[must_use]
    pub fn replica(&self) -> &Replica {
        self.live
            .as_ref()
            .map_or(self.last_view.replica(), |l| l.view.replica())
    }

    /// The player's state for resuming elsewhere (entity, resume token, last event, last
    /// input): pass it to [`Session::start`] after [`Session::suspend`].
    #[must_use]
    pub fn player(&self) -> PlayerState {
        let mut p = self.player.clone();
        p.set_last_input_seq(self.slot.lock().seq);
        p
    }

    /// The protocol version of the current connection (5, 4, 3 or 2).
    #[must_use]
    pub fn protocol(&self) -> u16 {
        self.welcome.protocol
    }

    /// The latest round trip measured with `Ping`, once one came back.
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Sets the player's intent: a direction (each component clamped into [-1, 1], NaN as 0;
    /// the server normalises it) and game-defined buttons. It stays in force until the next
    /// call. Sent at once, but at most once per tick: until then a newer call replaces it, so
    /// nothing stale queues up. Returns the input's `seq` (for [`crate::Predictor::note_input`]),
    /// or `None` when the intent did not change (calling it every frame costs nothing).
    pub fn set_input(&self, dx: f32, dy: f32, buttons: u32) -> Option<u32> {
        self.slot.set(dx, dy, buttons, None)
    }

    /// [`Session::set_input`] made while the game displayed other entities at `render_tick`
    /// (the fractional tick of its interpolation, [`crate::ServerClock::render_tick_at`]).
    /// Over protocol v5 the input carries it (`Input5`), and a game that compensates lag
    /// judges the input against what the player saw: a shot at what was on screen hits.
    /// Older servers get the plain input.
    pub fn set_input_at(&self, dx: f32, dy: f32, buttons: u32, render_tick: f64) -> Option<u32> {
        self.slot.set(dx, dy, buttons, Some(render_tick))
    }

    /// A handle that sets inputs from another task or thread.
    #[must_use]
    pub fn input_handle(&self) -> InputHandle {
        InputHandle {
            slot: Arc::clone(&self.slot),
        }
    }

    /// The next thing that happened: an update applied, a game event, a welcome after a
    /// resume. Cancel safe only between connections; drop the future only to abandon the
    /// session.
    pub async fn next(&mut self) -> Result<SessionEvent, SessionError> {
        if let Some(e) = self.pending.pop_front() {
            self.player.event_delivered(e.seq);
            return Ok(SessionEvent::Event(e));
        }
        if self.finished {
            return Err(SessionError::Finished);
        }
        let Some(live) = self.live.as_mut() else {
            let welcome = self.reconnect(false).await?;
            return Ok(SessionEvent::Welcome(Box::new(welcome)));
        };
        loop {
            let msg = match live.reader.recv().await {
                Ok(Incoming::Msg(msg)) => msg,
                Ok(Incoming::Close { code, reason }) => {
                    if let Some(url) = live.moved.take() {
                        return self.moved(url);
                    }
                    let (code, reason) = live.server_error.take().unwrap_or((code, reason));
                    return self.dropped(Some(code), reason, None);
                }
                Err(_) if live.moved.is_some() => {
                    // The room is elsewhere already; how this connection ended does not matter.
                    let url = live.moved.take().unwrap_or_default();
                    return self.moved(url);
                }
                Err(e) => {
                    let reason = e.to_string();
                    return self.dropped(None, reason, Some(e));
                }
            };
            match live.view.apply(&msg, Verify::Always) {
                Ok(Some(applied)) => {
                    let events = match msg {
                        ServerMsg::Update(u) => u.events,
                        ServerMsg::Update3(u) => u.events,
                        _ => Vec::new(),
                    };
                    let first = self.player.last_event_seq() + 1;
                    for (expected, e) in (first..).zip(&events) {
                        if e.seq != expected {
                            let gap = SessionError::EventGap {
                                expected,
                                got: e.seq,
                            };
                            return self.desynced(gap);
                        }
                    }
                    self.pending.extend(events);
                    return Ok(SessionEvent::Update(applied));
                }
                Ok(None) => match msg {
                    ServerMsg::Pong(p) => {
                        let sent = Duration::from_micros(p.client_time);
                        self.rtt = self.base.elapsed().checked_sub(sent);
                    }
                    ServerMsg::Error(e) => live.server_error = Some((e.code, e.reason)),
                    ServerMsg::Moved(m) => live.moved = Some(m.url),
                    // A second welcome is a server bug: start over on a new connection.
                    _ => {
                        return self.desynced(SessionError::Welcome(WelcomeError::ResumedJoin));
                    }
                },
                Err(e) => return self.desynced(SessionError::Desync(e)),
            }
        }
    }

    /// Leaves the room: closes with 1000, and the server removes the player at once.
    pub async fn close(mut self) {
        self.end(close_code::NORMAL).await;
    }

    /// Closes with 4100 but keeps the player for the server's grace period: resume it with
    /// [`Session::start`] and the [`Session::player`] saved before.
    pub async fn suspend(&mut self) {
        self.end(close_code::SUSPEND).await;
    }

    /// Drops the connection without a close frame, as a lost network does; the next
    /// [`Session::next`] resumes. For tests and demos of the resume.
    pub fn drop_connection(&mut self) {
        if let Some(live) = self.live.take() {
            // Dropping `stop` ends the writer without a close frame.
            self.last_view = live.view;
        }
    }

    async fn end(&mut self, code: u16) {
        self.finished = true;
        if let Some(mut live) = self.live.take() {
            if let Some(stop) = live.stop.take() {
                let _ = stop.send(code);
            }
            // The writer sends the close; then wait briefly for the server's echo so the close
            // frame is not lost to a reset.
            let _ = tokio::time::timeout(Duration::from_secs(1), &mut live.writer).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Ok(Incoming::Msg(_)) = live.reader.recv().await {}
            })
            .await;
        }
    }

    /// The connection ended: resume if that is what the code asks for, else end the session.
    fn dropped(
        &mut self,
        code: Option<u16>,
        reason: String,
        error: Option<ConnectionError>,
    ) -> Result<SessionEvent, SessionError> {
        if let Some(live) = self.live.take() {
            self.last_view = live.view;
        }
        let resumable = match code {
            None => true,
            Some(c) => {
                matches!(
                    c,
                    close_code::INTERNAL
                        | close_code::TOO_SLOW
                        | close_code::IDLE_TIMEOUT
                        | close_code::EVENTS_OVERFLOW
                ) || (4006..5000).contains(&c) && c != close_code::SUSPEND
            }
        };
        if resumable && self.opts.auto_resume {
            return Ok(SessionEvent::Dropped { code, reason });
        }
        self.finished = true;
        Err(match (code, error) {
            (Some(code), _) => SessionError::Closed { code, reason },
            (None, Some(e)) => SessionError::Connection(e),
            (None, None) => SessionError::Finished,
        })
    }

    /// The room moved: from now on the session connects to `url`, and the next
    /// [`Session::next`] resumes the player there. A URL the options cannot use ends the session.
    fn moved(&mut self, url: String) -> Result<SessionEvent, SessionError> {
        if let Some(live) = self.live.take() {
            self.last_view = live.view;
        }
        match Connector::new(&url, &self.opts.connect) {
            Ok(connector) => {
                self.connector = connector;
                Ok(SessionEvent::Moved { url })
            }
            Err(e) => {
                self.finished = true;
                Err(SessionError::Setup(e))
            }
        }
    }

    /// An update that does not fit: suspend (4100) and resume for a fresh view, or end.
    fn desynced(&mut self, error: SessionError) -> Result<SessionEvent, SessionError> {
        if let Some(mut live) = self.live.take() {
            if let Some(stop) = live.stop.take() {
                let _ = stop.send(close_code::SUSPEND);
            }
            self.last_view = live.view;
        }
        self.pending.clear();
        if !self.opts.auto_resume {
            self.finished = true;
            return Err(error);
        }
        Ok(SessionEvent::Dropped {
            code: Some(close_code::SUSPEND),
            reason: error.to_string(),
        })
    }

    /// Opens a connection for the player (resume if it can, else join), retrying with backoff.
    async fn reconnect(&mut self, first: bool) -> Result<Welcome4, SessionError> {
        let mut delay = self.opts.reconnect_delay;
        let mut attempts = 0;
        loop {
            let resuming = self.player.resumes();
            let hello = self.player.hello();
            let failure = match open(&self.connector, &hello, self.opts.welcome_timeout).await {
                Ok((conn, welcome)) => match self.player.welcomed(&welcome, resuming) {
                    Ok(()) => {
                        if !resuming {
                            self.slot.lock().seq = 0;
                        }
                        self.install(conn, &welcome);
                        self.welcome = welcome.clone();
                        return Ok(welcome);
                    }
                    // The player is forgotten: join afresh at once.
                    Err(e) if e.is_failed_resume() => continue,
                    Err(e) => return Err(SessionError::Welcome(e)),
                },
                Err(e) if resuming && e.close_code() == Some(close_code::RESUME_REFUSED) => {
                    self.player.forget();
                    continue;
                }
                Err(e) => e,
            };
            let retry = match &failure {
                OpenError::Connect(ConnectError::BadUrl { .. } | ConnectError::BadToken) => false,
                OpenError::Server { code, .. } | OpenError::Closed { code, .. } => {
                    *code == close_code::TRY_AGAIN || *code == close_code::INTERNAL
                }
                OpenError::Welcome(_) | OpenError::Unexpected(_) => false,
                _ => true,
            };
            attempts += 1;
            if first || !retry || attempts > self.opts.max_reconnects {
                self.finished = true;
                return Err(SessionError::Open(failure));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    fn install(&mut self, conn: crate::Connection, welcome: &Welcome) {
        // After a resume the server has the input in force before the drop: the current one
        // is sent again, numbered now, so that an intent the game sets after this welcome
        // comes after it.
        {
            let mut s = self.slot.lock();
            if s.pending.is_none()
                && let Some((dx, dy, buttons)) = s.current
            {
                s.seq += 1;
                s.pending = Some(Input {
                    seq: s.seq,
                    dx,
                    dy,
                    buttons,
                });
                self.slot.filled.notify_one();
            }
        }
        let (reader, writer) = conn.split();
        let (stop, stopped) = oneshot::channel();
        let tick = Duration::from_secs(1) / u32::from(welcome.tick_rate_hz.max(1));
        let writer = tokio::spawn(write_loop(
            writer,
            Arc::clone(&self.slot),
            stopped,
            WriterTiming {
                tick,
                ping: self.opts.ping_interval,
                base: self.base,
                protocol: welcome.protocol,
            },
        ));
        self.pending.clear();
        self.live = Some(Live {
            reader,
            view: View::new(welcome.entity),
            stop: Some(stop),
            writer,
            server_error: None,
            moved: None,
        });
    }
}

/// The welcome a session holds before its first one arrives (never shown: `start` fails
/// without a welcome).
fn placeholder_welcome() -> Welcome4 {
    Welcome4::assumed(Welcome {
        protocol: 0,
        entity: tickstream_shared::EntityId(0),
        tick_rate_hz: 30,
        tick: tickstream_shared::Tick(0),
        world_width: 0.0,
        world_height: 0.0,
        view_radius: 0.0,
        game: String::new(),
        kinds: Vec::new(),
        fields: Vec::new(),
        event_kinds: Vec::new(),
        resume_token: String::new(),
        resumed: false,
    })
}

struct WriterTiming {
    /// At most one input per tick.
    tick: Duration,
    ping: Duration,
    base: Instant,
    /// The connection's protocol version: from 5 on, inputs carry the displayed time.
    protocol: u16,
}

/// A connection's writer: the latest input (at most one per tick), pings, the WebSocket's
/// replies, and the close frame when told.
async fn write_loop(
    mut writer: ConnectionWriter,
    slot: Arc<InputSlot>,
    mut stop: oneshot::Receiver<u16>,
    timing: WriterTiming,
) {
    let mut ping = tokio::time::interval(timing.ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_input_at = tokio::time::Instant::now();
    loop {
        // Every branch is cancel safe: a oneshot, a channel receive, a notify, a tick.
        tokio::select! {
            biased;
            code = &mut stop => {
                if let Ok(code) = code {
                    let _ = writer.close(code, "").await;
                }
                // Else the session dropped the connection: no close frame.
                return;
            }
            Some(control) = writer.next_control() => {
                let close = control.is_close();
                if writer.send_control(control).await.is_err() || close {
                    return;
                }
            }
            () = slot.filled.notified() => {
                tokio::time::sleep_until(next_input_at).await;
                let (input, view) = {
                    let mut s = slot.lock();
                    (s.pending.take(), s.view.take())
                };
                if let Some(input) = input {
                    let msg = match view {
                        Some(t) if timing.protocol >= 5 => ClientMsg::Input5(Input5::new(input, t)),
                        _ => ClientMsg::Input(input),
                    };
                    if writer.send(&msg).await.is_err() {
                        return;
                    }
                    next_input_at = tokio::time::Instant::now() + timing.tick;
                }
            }
            _ = ping.tick() => {
                let client_time = u64::try_from(timing.base.elapsed().as_micros()).unwrap_or(0);
                if writer.send(&ClientMsg::Ping(Ping { client_time })).await.is_err() {
                    return;
                }
            }
        }
    }
}
