//! The room task: one fixed-tick loop per room.
//!
//! The room owns its game world and its players. A player is an entity plus, while connected,
//! a [`ClientLink`] to its session. When the connection drops, the player keeps its entity for
//! the resume grace period: a `Resume` with its single-use token within it takes the entity
//! back (with a full snapshot and every event it missed); after it, the game is told the player
//! left. One-shot events are numbered per player and kept in a bounded history for that replay.
//!
//! The loop, the tick and the commands are here; the players (joins, resumes, drops, their
//! numbered events) are in `players`.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotmap::SlotMap;
use tickstream_shared::codec::encode_server;
use tickstream_shared::{
    EntityId, GameEvent, Moved, Mulberry32, ServerMsg, Spectating, Tick, Welcome, Welcome4,
    close_code,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::handoff::HandoffError;
use super::link::{ClientLink, Outgoing, Published, WHOLE_ROOM};
use super::registry::{JoinError, Joined, RoomInfo, RoomSettings, Shared};
use super::saved_room::{SavedPlayer, SavedRoom, token_hash};
use crate::metrics as m;
use crate::record::{Record, Recorder, Start};
use crate::replay::serve::{Playback, PlaybackSource, PlaybackTick};
use crate::sim::{Audience, Emitted, GameWorld, PlayerInput, Rewind, StepCtx};
use crate::sync::{Snapshot, TickFrame};

mod players;
mod spectators;

use spectators::{PublishCtx, Spectators};

slotmap::new_key_type! {
    /// A player's slot in its room.
    struct PlayerKey;
}

/// Commands a room takes between ticks.
pub(crate) enum RoomCmd {
    /// Add a player for this connection and answer with its entity.
    Join {
        link: Arc<ClientLink>,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    /// Give a dropped player's entity to this new connection.
    Resume {
        link: Arc<ClientLink>,
        token: String,
        last_event_seq: u32,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    /// Add this connection as a spectator following `follow` (protocol v6).
    Spectate {
        link: Arc<ClientLink>,
        follow: Option<EntityId>,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    /// Answer with the snapshot of the last completed tick (for tests and tools that compare a
    /// client's view with the server's world; nothing is published per tick for them).
    Snapshot {
        reply: oneshot::Sender<Option<Arc<Snapshot>>>,
    },
}

/// A player as its room sees it.
struct Player {
    /// The session, while connected.
    link: Option<Arc<ClientLink>>,
    entity: EntityId,
    /// The latest input sequence applied.
    ack_seq: u32,
    /// When the client's previous update was first found still waiting.
    stalled_since: Option<Instant>,
    /// SHA-256 of the token that resumes this player (single use; replaced on every welcome).
    /// Only the hash is kept: it is all a successor needs, and the token never leaves here.
    token_hash: [u8; 32],
    /// When the connection dropped; the entity goes at `dropped_at + resume_grace`.
    dropped_at: Option<Instant>,
    /// The seq the next event gets.
    next_event_seq: u32,
    /// The latest events, for replay on resume; at most `settings.event_history`.
    history: VecDeque<GameEvent>,
}

pub(crate) struct Room {
    info: Arc<RoomInfo>,
    settings: RoomSettings,
    world: Box<dyn GameWorld>,
    /// The room's seeded generator, passed to the game in every call.
    rng: Mulberry32,
    /// Events the game emitted during the current call, before they are numbered.
    emitted: Vec<Emitted>,
    tick: Tick,
    players: SlotMap<PlayerKey, Player>,
    /// Players by the hash of their resume token.
    tokens: HashMap<[u8; 32], PlayerKey>,
    /// Since when the room has had no player at all.
    empty_since: Option<Instant>,
    rx: mpsc::Receiver<RoomCmd>,
    registry: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    /// The previous tick's snapshot, for the shared delta bodies.
    prev: Option<Arc<Snapshot>>,
    /// The snapshot of the tick before `prev`, for v3's shared body (clients predict from it).
    pre: Option<Arc<Snapshot>>,
    /// The replicated positions of the last `max_rewind_ms`, for a game that judges inputs
    /// against what its players saw; empty for the others.
    rewind: Rewind,
    period: Duration,
    /// True unless the game asked to run without players ([`crate::sim::Game::runs_without_players`]).
    idle_when_empty: bool,
    metrics: TickMetrics,
    /// The match's recording, when `[recording]` is on and it has not stopped.
    recorder: Option<Recorder>,
    /// The connections watching the room.
    spectators: Spectators,
    /// For a room that plays a recording back instead of hosting players: the recording and
    /// the pass being played.
    playback: Option<(Arc<PlaybackSource>, Playback)>,
    /// The playback's checksums stopped matching the recording's (reported once per pass).
    diverged: bool,
}

/// Metric handles looked up once per room rather than every tick.
struct TickMetrics {
    ticks: metrics::Counter,
    overruns: metrics::Counter,
    duration: metrics::Histogram,
    lag: metrics::Histogram,
    merged: metrics::Counter,
    events: metrics::Counter,
    clamped: metrics::Counter,
}

impl TickMetrics {
    fn new() -> Self {
        Self {
            ticks: metrics::counter!(m::TICKS),
            overruns: metrics::counter!(m::TICK_OVERRUNS),
            duration: metrics::histogram!(m::TICK_DURATION),
            lag: metrics::histogram!(m::TICK_LAG),
            merged: metrics::counter!(m::UPDATES_MERGED),
            events: metrics::counter!(m::EVENTS),
            clamped: metrics::counter!(m::VIEW_TIMES_CLAMPED),
        }
    }
}

/// What a room task starts from; the game's world is created on the task itself, never under
/// the registry's lock.
pub(crate) struct RoomStart {
    pub(crate) info: Arc<RoomInfo>,
    pub(crate) settings: RoomSettings,
    pub(crate) rx: mpsc::Receiver<RoomCmd>,
    pub(crate) registry: Arc<Shared>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// A room handed over by a draining predecessor, to continue rather than create.
    pub(crate) restore: Option<Restore>,
    /// A recording to play back to spectators instead of hosting players.
    pub(crate) playback: Option<Arc<PlaybackSource>>,
}

/// A room to continue from its saved state; `reply` says whether it runs now.
pub(crate) struct Restore {
    pub(crate) saved: SavedRoom,
    pub(crate) reply: oneshot::Sender<Result<(), String>>,
}

/// Runs a room to its end. Whatever ends the task (the room emptied, shutdown, a panic in the
/// game or in the room itself), the room's registry entry goes with it, so its name is free
/// again: a dead room never answers "busy".
pub(crate) async fn run(mut start: RoomStart) {
    let _listed = Listed {
        registry: Arc::clone(&start.registry),
        info: Arc::clone(&start.info),
    };
    let game = Arc::clone(&start.settings.game);
    let seed = room_seed(&start.info.name);
    if let Some(source) = start.playback.take() {
        if let Some(room) = Room::for_playback(start, source) {
            room.run().await;
        }
        return;
    }
    if let Some(restore) = start.restore.take() {
        let name = start.info.name.clone();
        let restored = std::panic::catch_unwind(AssertUnwindSafe(|| {
            game.restore(&name, &restore.saved.world)
        }));
        let world = match restored {
            Ok(Ok(world)) => world,
            Ok(Err(e)) => {
                tracing::warn!(room = %name, error = %e, "cannot restore the room handed over");
                let _ = restore.reply.send(Err(e.to_string()));
                return;
            }
            Err(panic) => {
                let what = panic_text(panic.as_ref());
                tracing::error!(room = %name, panic = %what, "the game panicked restoring the room");
                metrics::counter!(m::ROOM_PANICS).increment(1);
                let _ = restore
                    .reply
                    .send(Err(format!("the game panicked: {what}")));
                return;
            }
        };
        let room = Room::restored(start, world, &restore.saved, Instant::now());
        tracing::info!(room = %name, tick = room.tick.0, players = room.players.len(), "room continues here (handed over)");
        let _ = restore.reply.send(Ok(()));
        room.run().await;
        return;
    }
    let created =
        std::panic::catch_unwind(AssertUnwindSafe(|| game.create(&start.info.name, seed)));
    let world = match created {
        Ok(world) => world,
        Err(panic) => {
            tracing::error!(room = %start.info.name, panic = %panic_text(panic.as_ref()), "the game panicked creating the room");
            metrics::counter!(m::ROOM_PANICS).increment(1);
            // Joins already waiting get their answer when `rx` drops with the task.
            return;
        }
    };
    Room::new(start, world, seed).run().await;
}

/// A room's registry entry, removed when the room task ends however it ends (the room
/// removes it itself first when it retires in order; this is for every other exit).
struct Listed {
    registry: Arc<Shared>,
    info: Arc<RoomInfo>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        let mut rooms = self.registry.rooms();
        // A new room of the same name may have taken the name since: only our own entry goes.
        if rooms
            .get(&self.info.name)
            .is_some_and(|e| Arc::ptr_eq(&e.info, &self.info))
        {
            rooms.remove(&self.info.name);
            metrics::gauge!(m::ROOMS).set(rooms.len() as f64);
            tracing::warn!(room = %self.info.name, "room task ended without retiring; entry removed");
        }
        self.info.set_players(0);
    }
}

/// The text of a panic's payload, for the log.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

impl Room {
    fn new(start: RoomStart, world: Box<dyn GameWorld>, seed: u32) -> Self {
        let RoomStart {
            info,
            settings,
            rx,
            registry,
            shutdown,
            restore,
            playback: _,
        } = start;
        // A recording starts with the room's creation (docs/RECORDING.md): a room handed over
        // mid-match from another process is not recorded here.
        let recorder = settings
            .recording
            .as_deref()
            .filter(|_| restore.is_none())
            .and_then(|config| start_recording(config, &info.name, &settings, seed, &registry));
        let rewind = rewind_for(&settings);
        let spectators = Spectators::new(
            settings.max_spectators,
            settings.spectator_delay,
            settings.game.info().tick_rate_hz,
        );
        Self {
            recorder,
            spectators,
            period: Duration::from_secs_f64(settings.game.info().dt()),
            idle_when_empty: !settings.game.runs_without_players(),
            world,
            rng: Mulberry32::new(seed),
            emitted: Vec::new(),
            info,
            settings,
            tick: Tick(0),
            players: SlotMap::with_key(),
            tokens: HashMap::new(),
            empty_since: None,
            rx,
            registry,
            shutdown,
            prev: None,
            pre: None,
            rewind,
            metrics: TickMetrics::new(),
            playback: None,
            diverged: false,
        }
    }

    /// The room that plays `source` back: the recorded game, seed and first tick, no players,
    /// spectators watching without a delay at the recording's pace times its speed. `None`
    /// (logged) when the recording cannot be read or the game panics creating the world.
    fn for_playback(start: RoomStart, source: Arc<PlaybackSource>) -> Option<Self> {
        let rec = source.start();
        let playback = match source.play() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(room = %rec.room, error = %e, "cannot play the recording");
                return None;
            }
        };
        let game = Arc::clone(&start.settings.game);
        let created =
            std::panic::catch_unwind(AssertUnwindSafe(|| game.create(&rec.room, rec.seed)));
        let Ok(world) = created else {
            tracing::error!(room = %rec.room, "the game panicked creating the recorded room");
            metrics::counter!(m::ROOM_PANICS).increment(1);
            return None;
        };
        // The registry gave the room the recording's settings (no empty timeout, no delay).
        let mut room = Self::new(start, world, rec.seed);
        room.tick = Tick(rec.first_tick);
        room.period = room.period.div_f64(source.speed());
        room.playback = Some((source, playback));
        Some(room)
    }

    /// True while the room has nothing to do: no players (unless its game runs without
    /// them), or, playing a recording, no spectators.
    fn idle(&self) -> bool {
        if self.playback.is_some() {
            self.spectators.len() == 0
        } else {
            self.idle_when_empty && self.players.is_empty()
        }
    }

    /// The room `saved` describes, continuing with `world` (restored from it): the same tick,
    /// generator, players, events and resume tokens. Every player starts disconnected, within
    /// its grace: the one connected at the save from `now`, one already dropped with what was
    /// left of it.
    fn restored(
        start: RoomStart,
        world: Box<dyn GameWorld>,
        saved: &SavedRoom,
        now: Instant,
    ) -> Self {
        let mut room = Self::new(start, world, saved.rng);
        room.tick = Tick(saved.tick);
        room.info.set_tick(room.tick);
        for p in &saved.players {
            let dropped_at = p
                .dropped_ago()
                .map_or(Some(now), |ago| now.checked_sub(ago).or(Some(now)));
            let key = room.players.insert(Player {
                link: None,
                entity: EntityId(p.entity),
                ack_seq: p.ack_seq,
                stalled_since: None,
                token_hash: p.token_hash,
                dropped_at,
                next_event_seq: p.next_event_seq,
                history: p.history.iter().cloned().collect(),
            });
            room.tokens.insert(p.token_hash, key);
        }
        room.info.set_players(room.players.len());
        room
    }

    /// The room as a [`SavedRoom`], or `None` when its game cannot save.
    fn save(&self, now: Instant) -> Option<SavedRoom> {
        let world = self.world.save()?;
        let players = self
            .players
            .values()
            .map(|p| SavedPlayer {
                entity: p.entity.0,
                ack_seq: p.ack_seq,
                token_hash: p.token_hash,
                dropped_ms: p.dropped_at.map(|t| {
                    u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX)
                }),
                next_event_seq: p.next_event_seq,
                history: p.history.iter().cloned().collect(),
            })
            .collect();
        Some(SavedRoom {
            name: self.info.name.clone(),
            game: self.settings.game.info().name.clone(),
            tick: self.tick.0,
            rng: self.rng.state(),
            world,
            players,
        })
    }

    /// The drain, for a room that has stopped ticking: with a successor, the room is saved and
    /// handed over, then its v5 players are told where it went (`Moved`) and every connection
    /// closes with 1001; without one, or if the handoff fails, they get 1001 as before. Every
    /// attempt is counted by outcome and timed, and logged.
    async fn leave_for_drain(&mut self) {
        let moved_to = match self.registry.successor() {
            Some(successor)
                if self.playback.is_none()
                    && (!self.players.is_empty() || !self.idle_when_empty) =>
            {
                let started = Instant::now();
                let now = Instant::now();
                // Players whose session ended since the last tick are settled first, so that
                // what travels is exactly the room as its last tick left it.
                if self.guarded(|room| room.drop_gone_players(now)).is_none() {
                    return;
                }
                let saved = self.guarded(|room| room.save(now));
                let Some(saved) = saved else { return };
                let result = match saved {
                    Some(saved) => successor.hand_over(&self.info.name, saved.encode()).await,
                    None => Err(HandoffError::Unsupported),
                };
                let took = started.elapsed();
                let outcome = result.as_ref().map_or_else(HandoffError::label, |_| "ok");
                metrics::counter!(m::HANDOFFS, "outcome" => outcome).increment(1);
                metrics::histogram!(m::HANDOFF_DURATION).record(took);
                match result {
                    Ok(url) => {
                        tracing::info!(room = %self.info.name, tick = self.tick.0, players = self.players.len(), ms = took.as_secs_f64() * 1e3, %url, "room handed over to the successor");
                        Some(url)
                    }
                    Err(e) => {
                        tracing::warn!(room = %self.info.name, error = %e, outcome, "handoff failed; draining the room's players with 1001");
                        None
                    }
                }
            }
            _ => None,
        };
        for link in self.links() {
            match &moved_to {
                Some(url) if link.protocol >= 5 => {
                    let mut buf = Vec::new();
                    let moved = ServerMsg::Moved(Moved { url: url.clone() });
                    let msg = encode_server(&moved, &mut buf).ok().map(|()| buf);
                    link.close_with(close_code::GOING_AWAY, "room moved", msg);
                }
                _ => link.close(close_code::GOING_AWAY, "server shutting down"),
            }
        }
    }

    /// Runs ticks until the room is empty or the server shuts down. While it has no players
    /// (connected or within their resume grace) and its game does not ask to run without them,
    /// the room does not simulate at all: it sleeps until a join, its empty timeout or
    /// shutdown, so rooms that were created and left cost nothing.
    async fn run(mut self) {
        tracing::info!(room = %self.info.name, game = %self.settings.game.info().name, "room started");
        let mut entities = 0;
        let mut interval = tokio::time::interval(self.period);
        // An overrun skips the missed ticks instead of bursting to catch up: clients get a
        // steady stream, and the overrun is counted.
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            // A panic in the game must not leave this room's clients waiting forever or touch
            // other rooms: every call into the game happens inside `guarded`, and a panic
            // closes the room's clients with 1011 and retires the room.
            let counted = self.guarded(|room| room.world.entity_count());
            let Some(now) = counted else { break };
            metrics::gauge!(m::ENTITIES).increment(now as f64 - entities as f64);
            entities = now;
            if self.idle() {
                let deadline = self.empty_deadline(Instant::now());
                tokio::select! {
                    biased;
                    _ = self.shutdown.changed() => {
                        self.leave_for_drain().await;
                        self.retire(true);
                        break;
                    }
                    cmd = self.rx.recv() => {
                        let Some(cmd) = cmd else { break };
                        if self.guarded(|room| room.handle_command(cmd, Instant::now())).is_none() {
                            break;
                        }
                        if let Some(r) = &mut self.recorder {
                            r.flush();
                        }
                        self.info.set_players(self.players.len());
                        // The first tick after the pause comes one period from now.
                        interval.reset();
                    }
                    () = sleep_until(deadline) => {
                        if self.retire(false) {
                            break;
                        }
                    }
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => {
                    self.leave_for_drain().await;
                    self.retire(true);
                    break;
                }
                scheduled = interval.tick() => {
                    let scheduled = scheduled.into_std();
                    if self.guarded(|room| room.run_tick(scheduled)).is_none() {
                        break;
                    }
                    if self.expired(scheduled) && self.retire(false) {
                        break;
                    }
                }
            }
        }
        metrics::gauge!(m::ENTITIES).decrement(entities as f64);
        // Spectators of a room that ended (emptied, failed or drained: those were told
        // already, and a link keeps its first close) are let go.
        self.spectators
            .close_all(close_code::NORMAL, "the room ended");
        tracing::info!(room = %self.info.name, ticks = self.tick.0, "room stopped");
    }

    /// Runs `f`, which may call the game, catching a panic: after one, the room has failed
    /// (its clients are closed with 1011 and it has left the registry) and this returns `None`.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(out) => Some(out),
            Err(panic) => {
                self.fail(panic.as_ref());
                None
            }
        }
    }

    /// When an empty room's wait ends: its empty timeout after it emptied (`None`: never, for
    /// a configured room).
    fn empty_deadline(&mut self, now: Instant) -> Option<Instant> {
        let since = *self.empty_since.get_or_insert(now);
        self.settings.empty_timeout.map(|t| since + t)
    }

    /// After a panic in a tick: counts it, closes every client with 1011, leaves the registry.
    fn fail(&mut self, panic: &(dyn std::any::Any + Send)) {
        let what = panic_text(panic);
        tracing::error!(room = %self.info.name, tick = self.tick.0, panic = %what, "room failed; closing its clients");
        metrics::counter!(m::ROOM_PANICS).increment(1);
        for link in self.links() {
            link.close(close_code::INTERNAL, "the room failed");
        }
        self.retire(true);
    }

    /// The connected players' and the spectators' links.
    fn links(&self) -> impl Iterator<Item = &Arc<ClientLink>> {
        self.players
            .values()
            .filter_map(|p| p.link.as_ref())
            .chain(self.spectators.links())
    }

    /// True when the room has been empty for its empty timeout (never for a configured room).
    fn expired(&mut self, now: Instant) -> bool {
        if !self.players.is_empty() {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert(now);
        self.settings
            .empty_timeout
            .is_some_and(|t| now.saturating_duration_since(since) >= t)
    }

    /// Leaves the registry if no join or resume is waiting (or unconditionally on shutdown).
    /// Returns whether the room left. No game code runs here: the registry's lock is held,
    /// and a command that is waiting is left for the room's next turn, outside the lock.
    fn retire(&mut self, force: bool) -> bool {
        let registry = Arc::clone(&self.registry);
        let mut rooms = registry.rooms();
        // Commands are only sent under this lock: an empty inbox now stays empty once the
        // entry is gone.
        if !force && !self.rx.is_empty() {
            return false;
        }
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                RoomCmd::Join { reply, .. }
                | RoomCmd::Resume { reply, .. }
                | RoomCmd::Spectate { reply, .. } => {
                    let _ = reply.send(Err(JoinError::ShuttingDown));
                }
                RoomCmd::Snapshot { reply } => {
                    let _ = reply.send(self.prev.clone());
                }
            }
        }
        if rooms
            .get(&self.info.name)
            .is_some_and(|e| Arc::ptr_eq(&e.info, &self.info))
        {
            rooms.remove(&self.info.name);
        }
        metrics::gauge!(m::ROOMS).set(rooms.len() as f64);
        self.info.set_players(0);
        tracing::info!(room = %self.info.name, "room disposed");
        true
    }

    fn handle_commands(&mut self, now: Instant) {
        while let Ok(cmd) = self.rx.try_recv() {
            self.handle_command(cmd, now);
        }
        self.info.set_players(self.players.len());
    }

    fn handle_command(&mut self, cmd: RoomCmd, now: Instant) {
        match cmd {
            RoomCmd::Join { link, reply } => {
                let result = self.add_player(link);
                let _ = reply.send(result);
            }
            RoomCmd::Resume {
                link,
                token,
                last_event_seq,
                reply,
            } => {
                let result = self.resume(link, &token, last_event_seq, now);
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(_) => "refused",
                };
                metrics::counter!(m::RESUMES, "outcome" => outcome).increment(1);
                let _ = reply.send(result);
            }
            RoomCmd::Spectate {
                link,
                follow,
                reply,
            } => {
                let _ = reply.send(self.add_spectator(link, follow));
            }
            RoomCmd::Snapshot { reply } => {
                let _ = reply.send(self.prev.clone());
            }
        }
    }

    /// The room as a welcome describes it to a client speaking `protocol`, without an entity
    /// or a resume token (the player's welcome adds them).
    fn describe(&self, protocol: u16) -> Welcome {
        let info = self.settings.game.info();
        Welcome {
            protocol,
            entity: EntityId(0),
            tick_rate_hz: info.tick_rate_hz,
            tick: self.tick,
            world_width: info.world_width as f32,
            world_height: info.world_height as f32,
            view_radius: info.view_radius as f32,
            game: info.name.clone(),
            kinds: info.kinds.clone(),
            fields: info.fields.clone(),
            event_kinds: info.event_kinds.clone(),
            resume_token: String::new(),
            resumed: false,
        }
    }

    /// Admits a spectator: `Spectating`, then the room's updates from its next tick on (or
    /// one delay later).
    fn add_spectator(
        &mut self,
        link: Arc<ClientLink>,
        follow: Option<EntityId>,
    ) -> Result<Joined, JoinError> {
        if self.spectators.is_full() {
            return Err(JoinError::SpectatorsFull);
        }
        let welcome = Welcome {
            tick: self.spectators.start_tick(self.tick),
            ..self.describe(link.protocol)
        };
        let msg = ServerMsg::Spectating(Spectating {
            welcome: Welcome4 {
                welcome,
                move_rule: self.settings.game.info().move_rule,
            },
            follow,
            delay_ms: self.spectators.delay_ms(),
            recording: self.playback.is_some(),
        });
        let mut buf = Vec::new();
        if encode_server(&msg, &mut buf).is_err() || !link.push_control(Outgoing::Message(buf)) {
            return Err(JoinError::Busy);
        }
        link.set_follow(follow);
        self.spectators.add(link);
        self.info.set_spectators(self.spectators.len());
        tracing::debug!(room = %self.info.name, ?follow, spectators = self.spectators.len(), "spectator joined");
        Ok(Joined {
            entity: WHOLE_ROOM,
            room: Arc::clone(&self.info),
            ack_seq: 0,
        })
    }

    /// Calls the game with a context over the room's generator, then delivers what it emitted.
    fn with_game<T>(&mut self, f: impl FnOnce(&mut dyn GameWorld, &mut StepCtx<'_>) -> T) -> T {
        let dt = self.settings.game.info().dt();
        let mut ctx =
            StepCtx::new(self.tick, dt, &mut self.rng, &mut self.emitted).with_rewind(&self.rewind);
        let out = f(&mut *self.world, &mut ctx);
        self.deliver_events();
        out
    }

    fn run_tick(&mut self, scheduled: Instant) {
        let start = Instant::now();
        self.metrics
            .lag
            .record(start.saturating_duration_since(scheduled));
        self.handle_commands(start);
        if self.playback.is_some() {
            self.play_tick(start);
            return;
        }
        self.drop_gone_players(start);
        self.spectators.drop_gone();
        self.info.set_spectators(self.spectators.len());
        self.info.set_players(self.players.len());
        let mut clamped = 0u64;
        for p in self.players.values_mut() {
            let Some((input, view)) = p.link.as_ref().and_then(|l| l.take_input()) else {
                continue;
            };
            // A claimed view time is clamped into the history: not older than the room
            // keeps, not newer than the latest state (no history: no view time).
            let view = view.and_then(|v| {
                let c = self.rewind.clamp(v);
                clamped += u64::from(c.is_some_and(|c| c != v));
                c
            });
            let checked = PlayerInput {
                dx: input.dx,
                dy: input.dy,
                buttons: input.buttons,
                view,
            };
            self.world.input(p.entity, checked);
            if let Some(r) = &mut self.recorder {
                r.input(self.tick, p.entity, &checked);
            }
            p.ack_seq = input.seq;
        }
        if clamped > 0 {
            self.metrics.clamped.increment(clamped);
        }
        self.step(start);
    }

    /// Steps the world, publishes the tick and counts it: the part of a tick after the inputs,
    /// the same for a live room and a playback. Returns the new snapshot's checksum.
    fn step(&mut self, start: Instant) -> u32 {
        self.tick = self.tick.next();
        self.with_game(|w, ctx| w.step(ctx));
        let snap = Arc::new(Snapshot::capture_after(
            &*self.world,
            self.tick,
            self.prev.as_deref(),
        ));
        let checksum = snap.checksum;
        if let Some(r) = &mut self.recorder {
            r.step(&snap);
        }
        self.rewind.record(snap.tick, &snap.entities);
        self.publish(&snap, start);
        self.info.set_tick(snap.tick);
        self.pre = self.prev.replace(snap);
        let took = start.elapsed();
        self.metrics.ticks.increment(1);
        self.metrics.duration.record(took);
        if took > self.period {
            self.metrics.overruns.increment(1);
        }
        checksum
    }

    /// A playback's tick: the recorded joins, leaves and inputs of the tick, then the step,
    /// whose checksum must be the recorded one. At the recording's end its spectators are let
    /// go (1000) and the room starts over for the next; so it does when they all left.
    fn play_tick(&mut self, start: Instant) {
        self.spectators.drop_gone();
        self.info.set_spectators(self.spectators.len());
        if self.spectators.len() == 0 {
            self.restart_playback();
            return;
        }
        let Some((_, playback)) = &mut self.playback else {
            return;
        };
        let (calls, recorded) = match playback.next_tick() {
            PlaybackTick::Step { calls, checksum } => (calls, checksum),
            PlaybackTick::End { reason } => {
                tracing::info!(room = %self.info.name, tick = self.tick.0, %reason, "the recording ended");
                self.spectators
                    .close_all(close_code::NORMAL, "the recording ended");
                self.info.set_spectators(0);
                self.restart_playback();
                return;
            }
        };
        for call in calls {
            match call {
                Record::Join { entity, .. } => {
                    let got = self.with_game(|w, ctx| w.join(ctx));
                    if got.map(|e| e.0) != entity {
                        self.diverge(format!("a join gave {got:?}, the recording {entity:?}"));
                    }
                }
                Record::Leave { entity, .. } => {
                    self.with_game(|w, ctx| w.leave(EntityId(entity), ctx));
                }
                input @ Record::Input { .. } => {
                    if let Some((entity, input)) = input.input() {
                        self.world.input(entity, input);
                    }
                }
                _ => {}
            }
        }
        let checksum = self.step(start);
        if checksum != recorded {
            self.diverge(format!(
                "checksum {checksum:08x}, the recording {recorded:08x}"
            ));
        }
    }

    /// Reports, once per pass, that the playback no longer matches the recording (another
    /// build or platform recorded it: `tickstream-server replay FILE` names the entity).
    fn diverge(&mut self, what: String) {
        if !self.diverged {
            self.diverged = true;
            tracing::warn!(room = %self.info.name, tick = self.tick.0, %what, "the playback diverges from the recording; spectators see the re-simulation");
        }
    }

    /// Starts the recording over from its first tick, for the next spectators.
    fn restart_playback(&mut self) {
        let Some((source, playback)) = &mut self.playback else {
            return;
        };
        let rec = source.start();
        match source.play() {
            Ok(p) => *playback = p,
            // The old pass stays: at its end it ends again, so spectators are let go at once.
            Err(e) => {
                tracing::error!(room = %self.info.name, error = %e, "cannot read the recording again");
                return;
            }
        }
        let (room, seed, first_tick) = (rec.room.clone(), rec.seed, rec.first_tick);
        self.world = self.settings.game.create(&room, seed);
        self.rng = Mulberry32::new(seed);
        self.emitted.clear();
        self.tick = Tick(first_tick);
        self.rewind = rewind_for(&self.settings);
        self.prev = None;
        self.pre = None;
        self.diverged = false;
        self.info.set_tick(self.tick);
    }

    /// Hands this tick to every client's writer, and drops clients that stayed behind too
    /// long.
    fn publish(&mut self, snap: &Arc<Snapshot>, now: Instant) {
        let info = self.settings.game.info();
        // The frame of a snapshot given the two before it, for the players now and for
        // delayed spectators later.
        let build = |snap, prev, pre| {
            TickFrame::build(snap, prev, pre, info.view_radius).with_budget(
                self.settings.max_bytes_per_client_per_sec,
                info.tick_rate_hz,
            )
        };
        let frame = Arc::new(build(Arc::clone(snap), self.prev.clone(), self.pre.clone()));
        let slow_limit = self.settings.slow_client_timeout;
        let mut merged = 0u64;
        for c in self.players.values_mut() {
            let Some(link) = &c.link else { continue };
            let update = Published {
                frame: Arc::clone(&frame),
                entity: c.entity,
                ack_seq: c.ack_seq,
                spectator: false,
            };
            merged += u64::from(hand_over(
                link,
                update,
                &mut c.stalled_since,
                now,
                slow_limit,
            ));
        }
        merged += self.spectators.publish(
            &frame,
            &PublishCtx {
                build: &build,
                max_pending_events: self.settings.max_pending_events,
                slow_client_timeout: slow_limit,
                now,
            },
        );
        if merged > 0 {
            self.metrics.merged.increment(merged);
        }
    }
}

/// The lag-compensation history a room of these settings keeps: `max_rewind_ms` of it for a
/// game that rewinds, none for the others.
fn rewind_for(settings: &RoomSettings) -> Rewind {
    if settings.game.rewinds() {
        Rewind::new(settings.max_rewind_ms, settings.game.info().tick_rate_hz)
    } else {
        Rewind::empty()
    }
}

/// Hands `update` to `link`'s writer. Returns true when it replaced one the writer had not
/// taken yet (the client is behind: its next delta merges the ticks); a client behind for
/// longer than `slow_limit`, counted from `stalled_since`, is closed with 4000.
fn hand_over(
    link: &ClientLink,
    update: Published,
    stalled_since: &mut Option<Instant>,
    now: Instant,
    slow_limit: Duration,
) -> bool {
    if link.publish(update) {
        *stalled_since = None;
        return false;
    }
    let since = *stalled_since.get_or_insert(now);
    if now.saturating_duration_since(since) > slow_limit && link.closing_code().is_none() {
        tracing::debug!(conn = link.conn_id, "client too slow");
        link.close(close_code::TOO_SLOW, "too slow: updates not taken in time");
    }
    true
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Starts recording the room's match: the recorder for the room, and its writer on a thread
/// of its own (not tokio's blocking pool, which a thousand long-lived writers would exhaust),
/// watched by a task the drain waits for, so that a stopping server finishes every file.
fn start_recording(
    config: &crate::config::RecordingConfig,
    room: &str,
    settings: &RoomSettings,
    seed: u32,
    registry: &Shared,
) -> Option<Recorder> {
    let game = &settings.game;
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let start = Start {
        server_version: env!("CARGO_PKG_VERSION").into(),
        game: game.info().name.clone(),
        settings: game.settings(),
        room: room.to_owned(),
        seed,
        tick_rate_hz: game.info().tick_rate_hz,
        first_tick: 0,
        entity_hashes_every: config.entity_hashes_every,
        max_rewind_ms: if game.rewinds() {
            u32::try_from(settings.max_rewind_ms).unwrap_or(u32::MAX)
        } else {
            0
        },
        started_unix_ms,
    };
    let (recorder, writer) = Recorder::start(config, start)?;
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("tickstream-rec".into())
        .spawn(move || {
            writer();
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(_) => {
            registry.tasks.spawn(async move {
                let _ = done_rx.await;
            });
            Some(recorder)
        }
        Err(e) => {
            tracing::warn!(room = %room, error = %e, "cannot start a recording writer; the room plays unrecorded");
            metrics::counter!(m::RECORDINGS_STOPPED, "reason" => "io_error").increment(1);
            None
        }
    }
}

/// A room's seed: FNV-1a of its name, so a room of the same name replays the same way.
fn room_seed(name: &str) -> u32 {
    name.bytes().fold(0x811C_9DC5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// 128 random bits from the operating system's generator, as 32 hex digits; `None` if the OS
/// cannot supply randomness (the join is then refused rather than given a guessable token).
fn new_resume_token() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests;
