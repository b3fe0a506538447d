//! Rooms by name: created on first join (or at start-up, for configured rooms) up to a cap,
//! each running the game its name's rule names, disposed after staying empty for a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tickstream_shared::{EntityId, RoomName};
use tokio::sync::{mpsc, oneshot, watch};

use super::handoff::Successor;
use super::link::ClientLink;
use super::room::{self, Restore, RoomCmd, RoomStart};
pub use super::room_info::RoomInfo;
use super::saved_room::SavedRoom;
use crate::config::{RecordingConfig, RoomRule};
use crate::metrics as m;
use crate::replay::serve::PlaybackSource;
use crate::sim::{Game, GameCatalog};
use crate::sync::Snapshot;
use tokio_util::task::TaskTracker;

/// Joins waiting for one room; a burst beyond this is refused with 1013 rather than queued.
const ROOM_INBOX: usize = 1024;

/// Why a join or resume was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room has its maximum number of players.
    #[error("room is full")]
    RoomFull,
    /// Creating the room would exceed the server's room cap.
    #[error("too many rooms")]
    TooManyRooms,
    /// The address already has its limit of live rooms it created (`server.max_rooms_per_ip`).
    #[error("this address has created too many rooms; join an existing one")]
    CreationLimit,
    /// The room's join queue is full.
    #[error("room is busy")]
    Busy,
    /// The room handed out every entity id it has.
    #[error("room is out of entity ids")]
    OutOfIds,
    /// The room's rule names a game the server does not have (configuration validation
    /// prevents it for the built-in games).
    #[error("the room's game is not available")]
    UnknownGame,
    /// The server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
    /// The room failed (its game panicked) before it answered.
    #[error("the room failed")]
    RoomFailed,
    /// A resume was refused; the reason says why.
    #[error("resume refused: {0}")]
    ResumeRefused(&'static str),
    /// The room has its maximum number of spectators (`rooms.max_spectators_per_room`).
    #[error("spectator seats full")]
    SpectatorsFull,
    /// A spectator named a room that does not exist (spectators never create rooms).
    #[error("no such room")]
    NoSuchRoom,
    /// A player tried to join a room that takes spectators only (a recording played back).
    #[error("this room is a recording: it takes spectators only")]
    SpectatorsOnly,
}

impl JoinError {
    /// Every reason with a metric label (a refused resume is counted as a resume outcome).
    pub const ALL: [JoinError; 11] = [
        JoinError::RoomFull,
        JoinError::TooManyRooms,
        JoinError::CreationLimit,
        JoinError::Busy,
        JoinError::OutOfIds,
        JoinError::UnknownGame,
        JoinError::ShuttingDown,
        JoinError::RoomFailed,
        JoinError::SpectatorsFull,
        JoinError::NoSuchRoom,
        JoinError::SpectatorsOnly,
    ];

    /// The `reason` label of `tickstream_rejected_joins_total`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            JoinError::RoomFull => "room_full",
            JoinError::TooManyRooms => "room_cap",
            JoinError::CreationLimit => "room_creation_limit",
            JoinError::Busy => "room_busy",
            JoinError::OutOfIds => "out_of_ids",
            JoinError::UnknownGame => "unknown_game",
            JoinError::ShuttingDown => "shutting_down",
            JoinError::RoomFailed => "room_failed",
            JoinError::ResumeRefused(_) => "resume_refused",
            JoinError::SpectatorsFull => "spectators_full",
            JoinError::NoSuchRoom => "no_such_room",
            JoinError::SpectatorsOnly => "spectators_only",
        }
    }
}

/// Why a room could not be opened by name and game ([`Registry::open`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The name is not 1-64 of `[A-Za-z0-9_.-]`.
    #[error("invalid room name {0:?}")]
    BadName(String),
    /// The server has no game by that name.
    #[error("unknown game {0:?}")]
    UnknownGame(String),
    /// The room could not be started (the room cap, or the server is shutting down).
    #[error(transparent)]
    Refused(#[from] JoinError),
}

/// Why a room handed over by a predecessor was not taken ([`Registry::adopt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdoptError {
    /// A room of that name runs here already: a room runs in one process at a time.
    #[error("room {0:?} runs here already")]
    Exists(String),
    /// This server has no game of that name, or the name is not a room name.
    #[error("cannot run room {0:?}: {1}")]
    Unrunnable(String, String),
    /// The room cap, or this server is draining itself.
    #[error(transparent)]
    Refused(#[from] JoinError),
    /// The game could not restore the world.
    #[error("the game could not restore the room: {0}")]
    RestoreFailed(String),
}

impl AdoptError {
    /// The `outcome` label of [`crate::metrics::HANDOFFS_RECEIVED`].
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Exists(_) => "exists",
            _ => "refused",
        }
    }
}

/// A successful join.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The client's own entity.
    pub entity: EntityId,
    /// The room, for its current tick.
    pub room: Arc<RoomInfo>,
    /// The player's latest applied input `seq` (0 for a new player): a resumed session
    /// accepts only later ones.
    pub ack_seq: u32,
}

/// Settings of one room.
#[derive(Clone)]
pub struct RoomSettings {
    /// The game it runs.
    pub game: Arc<dyn Game>,
    /// Players in the room (connected or within their grace period); one more gets 1013.
    pub max_players: usize,
    /// How long a client may stay behind before close code 4000.
    pub slow_client_timeout: Duration,
    /// How long a dropped player's entity waits for a resume.
    pub resume_grace: Duration,
    /// How long the room lives without players; `None` keeps it (configured rooms).
    pub empty_timeout: Option<Duration>,
    /// Events waiting for one writer before the connection is closed with 4004.
    pub max_pending_events: usize,
    /// Events kept per player for replay on resume.
    pub event_history: usize,
    /// Update bytes per client per second (`sync.max_bytes_per_client_per_sec`); 0: no limit.
    pub max_bytes_per_client_per_sec: u32,
    /// Where and how the room records its match (`[recording]`); `None`: not recorded.
    pub recording: Option<Arc<RecordingConfig>>,
    /// How far back a game that rewinds judges inputs (`rooms.max_rewind_ms`); 0: off.
    pub max_rewind_ms: u64,
    /// Spectators at once (`rooms.max_spectators_per_room`); 0: none.
    pub max_spectators: usize,
    /// How far behind live spectators watch (`rooms.spectator_delay_ms`).
    pub spectator_delay: Duration,
}

/// The caps on rooms a registry enforces.
#[derive(Debug, Clone, Copy)]
pub struct RoomCaps {
    /// Rooms alive at once.
    pub max_rooms: usize,
    /// Live rooms one address may have created by joining new names.
    pub max_rooms_per_ip: usize,
}

/// What every room shares, and how a room's name picks its game.
#[derive(Clone)]
pub struct RoomPolicy {
    /// The games rooms can run.
    pub games: GameCatalog,
    /// The game of a room no rule matches.
    pub default_game: String,
    /// Rules by name or prefix, first match wins.
    pub rules: Vec<RoomRule>,
    /// Players per room unless a rule says otherwise.
    pub max_players: usize,
    /// See [`RoomSettings`].
    pub slow_client_timeout: Duration,
    /// See [`RoomSettings`].
    pub resume_grace: Duration,
    /// See [`RoomSettings`].
    pub empty_timeout: Duration,
    /// See [`RoomSettings`].
    pub max_pending_events: usize,
    /// See [`RoomSettings`].
    pub event_history: usize,
    /// See [`RoomSettings`].
    pub max_bytes_per_client_per_sec: u32,
    /// See [`RoomSettings`].
    pub recording: Option<Arc<RecordingConfig>>,
    /// See [`RoomSettings`].
    pub max_rewind_ms: u64,
    /// See [`RoomSettings`].
    pub max_spectators: usize,
    /// See [`RoomSettings`].
    pub spectator_delay: Duration,
    /// Recordings this server plays back (`replay FILE... --serve`): their rooms, one per
    /// recording under the recorded name, are the only rooms, started with the server, and
    /// take spectators only. Empty for a server that hosts games.
    pub playback: Vec<Arc<PlaybackSource>>,
}

impl RoomPolicy {
    /// The settings of the room called `name`; `None` if its game is not in the catalog
    /// (configuration validation prevents that for the built-in games).
    #[must_use]
    pub fn settings_for(&self, name: &str) -> Option<RoomSettings> {
        let rule = self.rules.iter().find(|r| r.matches(name));
        let game = rule.map_or(self.default_game.as_str(), |r| r.game.as_str());
        let fixed = rule.is_some_and(|r| r.name.is_some());
        Some(RoomSettings {
            game: Arc::clone(self.games.get(game)?),
            max_players: rule.and_then(|r| r.max_players).unwrap_or(self.max_players),
            slow_client_timeout: self.slow_client_timeout,
            resume_grace: self.resume_grace,
            empty_timeout: (!fixed).then_some(self.empty_timeout),
            max_pending_events: self.max_pending_events,
            event_history: self.event_history,
            max_bytes_per_client_per_sec: self.max_bytes_per_client_per_sec,
            recording: self.recording.clone(),
            max_rewind_ms: self.max_rewind_ms,
            max_spectators: self.max_spectators,
            spectator_delay: self.spectator_delay,
        })
    }
}

impl RoomPolicy {
    /// The settings of the room `name` running `game` whatever the rules say (its player cap
    /// and lifetime still come from the name's rule); `None` if the game is not in the catalog.
    #[must_use]
    pub fn settings_with_game(&self, name: &str, game: &str) -> Option<RoomSettings> {
        let mut settings = self.settings_for(name)?;
        settings.game = Arc::clone(self.games.get(game)?);
        Some(settings)
    }
}

/// One room as `/rooms` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomSummary {
    /// The room's name.
    pub name: String,
    /// The game it runs.
    pub game: String,
    /// Players, counting those within their resume grace period.
    pub players: usize,
    /// Its player cap.
    pub capacity: usize,
    /// Its ticks per second.
    pub tick_rate_hz: u16,
    /// Spectators watching it (protocol v6); they do not count against `capacity`.
    pub spectators: usize,
}

pub(crate) struct Entry {
    pub(crate) tx: mpsc::Sender<RoomCmd>,
    pub(crate) info: Arc<RoomInfo>,
    /// The address whose join created the room, counted against its `max_rooms_per_ip`; `None`
    /// for rooms started by configuration, the operator, or an exempt address.
    creator: Option<IpAddr>,
}

pub(crate) struct Shared {
    pub(crate) rooms: Mutex<HashMap<String, Entry>>,
    max_rooms: usize,
    max_rooms_per_ip: usize,
    policy: RoomPolicy,
    shutdown: watch::Receiver<bool>,
    /// Every room task and recording writer; the drain waits for them.
    pub(crate) tasks: TaskTracker,
    /// Where rooms go when the server drains; unset, they drain with 1001.
    successor: OnceLock<Arc<dyn Successor>>,
}

impl Shared {
    /// Where rooms go when the server drains, if anywhere.
    pub(crate) fn successor(&self) -> Option<Arc<dyn Successor>> {
        self.successor.get().cloned()
    }

    pub(crate) fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn policy(&self) -> &RoomPolicy {
        &self.policy
    }

    /// Lists a room built by a test rather than by [`Registry::join`].
    #[cfg(test)]
    pub(crate) fn insert_for_test(
        &self,
        name: &str,
        tx: mpsc::Sender<RoomCmd>,
        info: Arc<RoomInfo>,
    ) {
        self.rooms().insert(
            name.to_owned(),
            Entry {
                tx,
                info,
                creator: None,
            },
        );
    }
}

/// Rooms by name. Cloning shares the same rooms.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

impl Registry {
    /// An empty registry, plus the rooms the policy names (started at once and kept while
    /// the server runs); rooms stop when `shutdown` turns true.
    #[must_use]
    pub fn new(
        policy: RoomPolicy,
        caps: RoomCaps,
        shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) -> Self {
        for e in JoinError::ALL {
            metrics::counter!(m::REJECTED_JOINS, "reason" => e.label()).increment(0);
        }
        let fixed: Vec<String> = if policy.playback.is_empty() {
            policy.rules.iter().filter_map(|r| r.name.clone()).collect()
        } else {
            policy
                .playback
                .iter()
                .map(|p| p.room().to_owned())
                .collect()
        };
        let registry = Self {
            shared: Arc::new(Shared {
                rooms: Mutex::new(HashMap::new()),
                max_rooms: caps.max_rooms,
                max_rooms_per_ip: caps.max_rooms_per_ip,
                policy,
                shutdown,
                tasks,
                successor: OnceLock::new(),
            }),
        };
        let mut rooms = registry.shared.rooms();
        for name in fixed {
            if let Err(e) = registry.start_room(&mut rooms, &name, None) {
                tracing::error!(room = %name, error = %e, "cannot start a configured room");
            }
        }
        drop(rooms);
        registry
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Starts the room `name` under the map lock, with the game its rule gives it, on behalf
    /// of `creator`.
    fn start_room(
        &self,
        rooms: &mut HashMap<String, Entry>,
        name: &str,
        creator: Option<IpAddr>,
    ) -> Result<(), JoinError> {
        let settings = self
            .shared
            .policy
            .settings_for(name)
            .ok_or(JoinError::UnknownGame)?;
        self.spawn_room(rooms, name, settings, creator, None)
    }

    /// Starts the room `name` with `settings` under the map lock, within the room cap and
    /// `creator`'s room limit. Only the task is spawned here: the game's world is created on
    /// the room's own task, so no game code runs under the lock.
    fn spawn_room(
        &self,
        rooms: &mut HashMap<String, Entry>,
        name: &str,
        mut settings: RoomSettings,
        creator: Option<IpAddr>,
        restore: Option<Restore>,
    ) -> Result<(), JoinError> {
        let playback = self
            .shared
            .policy
            .playback
            .iter()
            .find(|p| p.room() == name)
            .cloned();
        if let Some(p) = &playback {
            // The recorded game and settings, judged as the recorded room judged them; kept
            // while the server runs, watched without a delay (the match is over), and never
            // recorded again.
            settings.game = Arc::clone(p.game());
            settings.max_rewind_ms = u64::from(p.start().max_rewind_ms);
            settings.empty_timeout = None;
            settings.spectator_delay = Duration::ZERO;
            settings.recording = None;
        }
        if rooms.len() >= self.shared.max_rooms {
            return Err(JoinError::TooManyRooms);
        }
        // At most `max_rooms` entries: counting them is cheaper than keeping a second map in
        // step with this one.
        if let Some(ip) = creator
            && rooms.values().filter(|e| e.creator == Some(ip)).count()
                >= self.shared.max_rooms_per_ip
        {
            return Err(JoinError::CreationLimit);
        }
        let (tx, rx) = mpsc::channel(ROOM_INBOX);
        let info = Arc::new(RoomInfo::new(name.to_owned(), &settings));
        self.shared.tasks.spawn(room::run(RoomStart {
            info: Arc::clone(&info),
            settings,
            rx,
            registry: Arc::clone(&self.shared),
            shutdown: self.shared.shutdown.clone(),
            restore,
            playback,
        }));
        rooms.insert(name.to_owned(), Entry { tx, info, creator });
        metrics::gauge!(m::ROOMS).set(rooms.len() as f64);
        Ok(())
    }

    /// Joins the room `name`, starting it if needed on behalf of `creator` (the client's
    /// address, `None` when it is exempt from per-address limits).
    pub async fn join(
        &self,
        name: &RoomName,
        link: Arc<ClientLink>,
        creator: Option<IpAddr>,
    ) -> Result<Joined, JoinError> {
        if !self.shared.policy.playback.is_empty() {
            return Err(JoinError::SpectatorsOnly);
        }
        self.send(name.as_str(), Ok(creator), |reply| RoomCmd::Join {
            link,
            reply,
        })
        .await
    }

    /// Resumes the player holding `token` in the room `name` (which must exist: a room that
    /// was disposed has no players to resume).
    pub async fn resume(
        &self,
        name: &RoomName,
        token: String,
        last_event_seq: u32,
        link: Arc<ClientLink>,
    ) -> Result<Joined, JoinError> {
        if !self.shared.policy.playback.is_empty() {
            return Err(JoinError::SpectatorsOnly);
        }
        let missing = JoinError::ResumeRefused("no such room");
        self.send(name.as_str(), Err(missing), |reply| RoomCmd::Resume {
            link,
            token,
            last_event_seq,
            reply,
        })
        .await
    }

    /// Admits `link` as a spectator of the room `name` (which must exist: a spectator never
    /// creates a room), following `follow` (`None`: the whole room).
    pub async fn spectate(
        &self,
        name: &RoomName,
        follow: Option<EntityId>,
        link: Arc<ClientLink>,
    ) -> Result<Joined, JoinError> {
        self.send(name.as_str(), Err(JoinError::NoSuchRoom), |reply| {
            RoomCmd::Spectate {
                link,
                follow,
                reply,
            }
        })
        .await
    }

    /// Hands `cmd` to the room `name`; a missing room is started on behalf of `create`'s
    /// address when `create` is `Ok`, and refused with its error otherwise.
    async fn send(
        &self,
        name: &str,
        create: Result<Option<IpAddr>, JoinError>,
        cmd: impl FnOnce(oneshot::Sender<Result<Joined, JoinError>>) -> RoomCmd,
    ) -> Result<Joined, JoinError> {
        if *self.shared.shutdown.borrow() {
            return Err(JoinError::ShuttingDown);
        }
        let (reply, answer) = oneshot::channel();
        {
            // Joins are sent while holding the map lock, and a room leaves the map only while
            // holding it and after draining its inbox, so no join reaches a stopped room.
            let mut rooms = self.shared.rooms();
            if !rooms.contains_key(name) {
                self.start_room(&mut rooms, name, create?)?;
            }
            let entry = rooms.get(name).ok_or(JoinError::Busy)?;
            entry.tx.try_send(cmd(reply)).map_err(|_| JoinError::Busy)?;
        }
        // A room that drops the reply ended without answering: it retired for shutdown (and
        // answered the rest), or its game panicked.
        answer.await.unwrap_or_else(|_| {
            Err(if *self.shared.shutdown.borrow() {
                JoinError::ShuttingDown
            } else {
                JoinError::RoomFailed
            })
        })
    }

    /// Starts the room `name` unless it is alive, running `game` (or, with `None`, the game its
    /// rule names), as an orchestrator asks for a room before its players arrive. Returns true
    /// if the room was started now; a live room is left as it is, whatever it runs. The room
    /// lives like one created by a join: disposed after `rooms.empty_timeout_ms` without
    /// players (unless a `name` rule keeps it).
    pub fn open(&self, name: &str, game: Option<&str>) -> Result<bool, OpenError> {
        if RoomName::parse(name).is_err() {
            return Err(OpenError::BadName(name.to_owned()));
        }
        if *self.shared.shutdown.borrow() {
            return Err(JoinError::ShuttingDown.into());
        }
        let policy = &self.shared.policy;
        let settings = match game {
            Some(game) => policy.settings_with_game(name, game),
            None => policy.settings_for(name),
        }
        .ok_or_else(|| OpenError::UnknownGame(game.unwrap_or(&policy.default_game).to_owned()))?;
        let mut rooms = self.shared.rooms();
        if rooms.contains_key(name) {
            return Ok(false);
        }
        self.spawn_room(&mut rooms, name, settings, None, None)?;
        Ok(true)
    }

    /// Sets where rooms go when the server drains (once; the server does it at start with the
    /// handoff client, whose target may change later).
    pub fn set_successor(&self, successor: Arc<dyn Successor>) {
        let _ = self.shared.successor.set(successor);
    }

    /// Continues a room a draining predecessor handed over: restored on its own task, it runs
    /// here from its next tick once this returns `Ok`. A room of the same name that runs here
    /// already is refused (a room runs in one process at a time); the room cap holds, but not
    /// the per-address room limit (no player created it here).
    pub async fn adopt(&self, saved: SavedRoom) -> Result<(), AdoptError> {
        let name = saved.name.clone();
        if RoomName::parse(&name).is_err() {
            return Err(AdoptError::Unrunnable(name, "not a room name".into()));
        }
        if *self.shared.shutdown.borrow() {
            return Err(JoinError::ShuttingDown.into());
        }
        // A server that plays recordings back hosts no players: its rooms are the recordings.
        if !self.shared.policy.playback.is_empty() {
            return Err(JoinError::SpectatorsOnly.into());
        }
        let settings = self
            .shared
            .policy
            .settings_with_game(&name, &saved.game)
            .ok_or_else(|| {
                AdoptError::Unrunnable(name.clone(), format!("no game {:?}", saved.game))
            })?;
        let (reply, answer) = oneshot::channel();
        {
            let mut rooms = self.shared.rooms();
            if rooms.contains_key(&name) {
                return Err(AdoptError::Exists(name));
            }
            let restore = Restore { saved, reply };
            self.spawn_room(&mut rooms, &name, settings, None, Some(restore))?;
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the room ended before it started".into()))
            .map_err(AdoptError::RestoreFailed)
    }

    /// Every live room, sorted by name, as `/rooms` lists them.
    #[must_use]
    pub fn summaries(&self) -> Vec<RoomSummary> {
        let mut out: Vec<RoomSummary> = self
            .shared
            .rooms()
            .values()
            .map(|e| RoomSummary {
                name: e.info.name.clone(),
                game: e.info.game.clone(),
                players: e.info.players(),
                capacity: e.info.capacity,
                tick_rate_hz: e.info.tick_rate_hz,
                spectators: e.info.spectators(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The snapshot of the last tick the room `name` completed, as its task answers at its
    /// next turn: `None` when there is no such room or it has not ticked yet.
    pub async fn snapshot(&self, name: &str) -> Option<Arc<Snapshot>> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .rooms()
            .get(name)?
            .tx
            .try_send(RoomCmd::Snapshot { reply })
            .ok()?;
        answer.await.ok().flatten()
    }

    /// The room called `name`, if it is alive.
    #[must_use]
    pub fn room(&self, name: &str) -> Option<Arc<RoomInfo>> {
        self.shared.rooms().get(name).map(|e| Arc::clone(&e.info))
    }

    /// Names of the rooms alive.
    #[must_use]
    pub fn room_names(&self) -> Vec<String> {
        self.shared.rooms().keys().cloned().collect()
    }
}
