//! The room task: one fixed-tick loop per room.
//!
//! The room owns its game world and its players. A player is an entity plus, while connected,
//! a [`ClientLink`] to its session. When the connection drops, the player keeps its entity for
//! the resume grace period: a `Resume` with its single-use token within it takes the entity
//! back (with a full snapshot and every event it missed); after it, the game is told the player
//! left. One-shot events are numbered per player and kept in a bounded history for that replay.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotmap::SlotMap;
use tickstream_shared::codec::encode_server;
use tickstream_shared::{EntityId, GameEvent, Mulberry32, ServerMsg, Tick, Welcome, close_code};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::link::{ClientLink, Outgoing, Published};
use super::registry::{JoinError, Joined, RoomInfo, RoomSettings, Shared};
use crate::metrics as m;
use crate::sim::{Audience, Emitted, GameWorld, PlayerInput, StepCtx};
use crate::sync::{Snapshot, TickFrame};

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
    /// The token that resumes this player (single use; replaced on every welcome).
    resume_token: String,
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
    tokens: HashMap<String, PlayerKey>,
    /// Since when the room has had no player at all.
    empty_since: Option<Instant>,
    rx: mpsc::Receiver<RoomCmd>,
    registry: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    /// The previous tick's snapshot, for the shared delta bodies.
    prev: Option<Arc<Snapshot>>,
    /// The snapshot of the tick before `prev`, for v3's shared body (clients predict from it).
    pre: Option<Arc<Snapshot>>,
    period: Duration,
    /// True unless the game asked to run without players ([`crate::sim::Game::runs_without_players`]).
    idle_when_empty: bool,
    metrics: TickMetrics,
}

/// Metric handles looked up once per room rather than every tick.
struct TickMetrics {
    ticks: metrics::Counter,
    overruns: metrics::Counter,
    duration: metrics::Histogram,
    lag: metrics::Histogram,
    merged: metrics::Counter,
    events: metrics::Counter,
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
}

/// Runs a room to its end. Whatever ends the task (the room emptied, shutdown, a panic in the
/// game or in the room itself), the room's registry entry goes with it, so its name is free
/// again: a dead room never answers "busy".
pub(crate) async fn run(start: RoomStart) {
    let _listed = Listed {
        registry: Arc::clone(&start.registry),
        info: Arc::clone(&start.info),
    };
    let game = Arc::clone(&start.settings.game);
    let seed = room_seed(&start.info.name);
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
        } = start;
        Self {
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
            metrics: TickMetrics::new(),
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
            if self.idle_when_empty && self.players.is_empty() {
                let deadline = self.empty_deadline(Instant::now());
                tokio::select! {
                    biased;
                    _ = self.shutdown.changed() => {
                        self.retire(true);
                        break;
                    }
                    cmd = self.rx.recv() => {
                        let Some(cmd) = cmd else { break };
                        if self.guarded(|room| room.handle_command(cmd, Instant::now())).is_none() {
                            break;
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
                    for link in self.links() {
                        link.close(close_code::GOING_AWAY, "server shutting down");
                    }
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

    /// The connected players' links.
    fn links(&self) -> impl Iterator<Item = &Arc<ClientLink>> {
        self.players.values().filter_map(|p| p.link.as_ref())
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
            let (RoomCmd::Join { reply, .. } | RoomCmd::Resume { reply, .. }) = cmd;
            let _ = reply.send(Err(JoinError::ShuttingDown));
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
        }
    }

    /// Calls the game with a context over the room's generator, then delivers what it emitted.
    fn with_game<T>(&mut self, f: impl FnOnce(&mut dyn GameWorld, &mut StepCtx<'_>) -> T) -> T {
        let dt = self.settings.game.info().dt();
        let mut ctx = StepCtx::new(self.tick, dt, &mut self.rng, &mut self.emitted);
        let out = f(&mut *self.world, &mut ctx);
        self.deliver_events();
        out
    }

    /// Numbers the emitted events per player, keeps them for replay and hands them to the
    /// connected players' writers. A writer that has let its queue fill is disconnected (4004).
    fn deliver_events(&mut self) {
        if self.emitted.is_empty() {
            return;
        }
        let history = self.settings.event_history;
        let pending = self.settings.max_pending_events;
        let mut delivered = 0u64;
        let mut batch = Vec::new();
        for (_, p) in &mut self.players {
            batch.clear();
            for e in &self.emitted {
                if let Audience::Player(id) = e.to
                    && id != p.entity
                {
                    continue;
                }
                let event = GameEvent {
                    seq: p.next_event_seq,
                    kind: e.kind,
                    entity: e.entity,
                    value: e.value,
                    text: e.text.clone(),
                };
                p.next_event_seq = p.next_event_seq.wrapping_add(1);
                if p.history.len() >= history {
                    p.history.pop_front();
                }
                p.history.push_back(event.clone());
                batch.push(event);
            }
            delivered += batch.len() as u64;
            if let Some(link) = &p.link
                && !link.push_events(&batch, pending)
                && link.closing_code().is_none()
            {
                tracing::debug!(room = %self.info.name, conn = link.conn_id, "event queue overflow");
                link.close(
                    close_code::EVENTS_OVERFLOW,
                    "event queue overflow: events not taken in time",
                );
            }
        }
        self.emitted.clear();
        self.metrics.events.increment(delivered);
    }

    fn add_player(&mut self, link: Arc<ClientLink>) -> Result<Joined, JoinError> {
        if self.players.len() >= self.settings.max_players {
            return Err(JoinError::RoomFull);
        }
        let entity = self
            .with_game(|w, ctx| w.join(ctx))
            .ok_or(JoinError::OutOfIds)?;
        let key = self.players.insert(Player {
            link: None,
            entity,
            ack_seq: 0,
            stalled_since: None,
            resume_token: String::new(),
            dropped_at: None,
            next_event_seq: 1,
            history: VecDeque::new(),
        });
        // The game's own join event was numbered before this player existed; the player's
        // events start with the welcome.
        if !self.welcome(key, link, false) {
            self.players.remove(key);
            self.with_game(|w, ctx| w.leave(entity, ctx));
            return Err(JoinError::Busy);
        }
        tracing::debug!(room = %self.info.name, entity = entity.0, "player joined");
        Ok(Joined {
            entity,
            room: Arc::clone(&self.info),
            ack_seq: 0,
        })
    }

    fn resume(
        &mut self,
        link: Arc<ClientLink>,
        token: &str,
        last_event_seq: u32,
        now: Instant,
    ) -> Result<Joined, JoinError> {
        const UNKNOWN: JoinError =
            JoinError::ResumeRefused("unknown, used or expired resume token");
        let key = *self.tokens.get(token).ok_or(UNKNOWN)?;
        // `tokens` only names live players (an entry goes with its player), but a stale one
        // is refused like an unknown token rather than trusted.
        let Some(p) = self.players.get(key) else {
            self.tokens.remove(token);
            return Err(UNKNOWN);
        };
        if p.dropped_at
            .is_some_and(|t| now.saturating_duration_since(t) > self.settings.resume_grace)
        {
            return Err(JoinError::ResumeRefused("the resume grace period is over"));
        }
        if last_event_seq >= p.next_event_seq {
            return Err(JoinError::ResumeRefused(
                "last_event_seq is ahead of the server",
            ));
        }
        let first_kept = p.history.front().map_or(p.next_event_seq, |e| e.seq);
        if last_event_seq.wrapping_add(1) < first_kept {
            return Err(JoinError::ResumeRefused(
                "the events since last_event_seq are no longer kept",
            ));
        }
        let replay: Vec<GameEvent> = p
            .history
            .iter()
            .filter(|e| e.seq > last_event_seq)
            .cloned()
            .collect();
        let (entity, ack_seq) = (p.entity, p.ack_seq);
        if let Some(old) = &p.link {
            // The old connection may not have noticed it is dead yet: this one replaces it.
            old.close(close_code::NORMAL, "resumed on another connection");
        }
        if !link.push_events(&replay, self.settings.max_pending_events.max(replay.len())) {
            return Err(JoinError::Busy);
        }
        if !self.welcome(key, Arc::clone(&link), true) {
            return Err(JoinError::Busy);
        }
        tracing::debug!(room = %self.info.name, conn = link.conn_id, entity = entity.0, replayed = replay.len(), "player resumed");
        Ok(Joined {
            entity,
            room: Arc::clone(&self.info),
            ack_seq,
        })
    }

    /// Sends the welcome with a fresh resume token and attaches `link` to the player; false
    /// (nothing changed) when the link cannot take it.
    fn welcome(&mut self, key: PlayerKey, link: Arc<ClientLink>, resumed: bool) -> bool {
        let Some(token) = new_resume_token() else {
            tracing::error!("the operating system supplies no randomness for resume tokens");
            return false;
        };
        let info = self.settings.game.info();
        let Some(p) = self.players.get(key) else {
            return false;
        };
        let welcome = ServerMsg::Welcome(Welcome {
            protocol: link.protocol,
            entity: p.entity,
            tick_rate_hz: info.tick_rate_hz,
            tick: self.tick,
            world_width: info.world_width as f32,
            world_height: info.world_height as f32,
            view_radius: info.view_radius as f32,
            game: info.name.clone(),
            kinds: info.kinds.clone(),
            fields: info.fields.clone(),
            event_kinds: info.event_kinds.clone(),
            resume_token: token.clone(),
            resumed,
        });
        let mut buf = Vec::new();
        if encode_server(&welcome, &mut buf).is_err() || !link.push_control(Outgoing::Message(buf))
        {
            return false;
        }
        let Some(p) = self.players.get_mut(key) else {
            return false;
        };
        self.tokens.remove(&p.resume_token);
        self.tokens.insert(token.clone(), key);
        p.resume_token = token;
        p.link = Some(link);
        p.dropped_at = None;
        p.stalled_since = None;
        true
    }

    /// Detaches players whose session ended (keeping their entity for the grace period) and
    /// removes those whose grace period is over.
    fn drop_gone_players(&mut self, now: Instant) {
        let grace = self.settings.resume_grace;
        let mut leaving = Vec::new();
        for (key, p) in &mut self.players {
            if let Some(link) = p.link.take_if(|l| l.is_gone()) {
                if link.has_left() {
                    leaving.push(key);
                    continue;
                }
                p.dropped_at = Some(now);
                p.stalled_since = None;
                tracing::debug!(room = %self.info.name, entity = p.entity.0, "player dropped");
            }
            if p.dropped_at
                .is_some_and(|t| now.saturating_duration_since(t) >= grace)
            {
                leaving.push(key);
            }
        }
        for key in leaving {
            if let Some(p) = self.players.remove(key) {
                self.tokens.remove(&p.resume_token);
                self.with_game(|w, ctx| w.leave(p.entity, ctx));
                tracing::debug!(room = %self.info.name, entity = p.entity.0, "player left");
            }
        }
    }

    fn run_tick(&mut self, scheduled: Instant) {
        let start = Instant::now();
        self.metrics
            .lag
            .record(start.saturating_duration_since(scheduled));
        self.handle_commands(start);
        self.drop_gone_players(start);
        self.info.set_players(self.players.len());
        for p in self.players.values_mut() {
            let Some(input) = p.link.as_ref().and_then(|l| l.take_input()) else {
                continue;
            };
            let checked = PlayerInput {
                dx: input.dx,
                dy: input.dy,
                buttons: input.buttons,
            };
            self.world.input(p.entity, checked);
            p.ack_seq = input.seq;
        }
        self.tick = self.tick.next();
        self.with_game(|w, ctx| w.step(ctx));
        let snap = Arc::new(Snapshot::capture(&*self.world, self.tick));
        self.publish(&snap, start);
        self.info.publish(&snap);
        self.pre = self.prev.replace(snap);
        let took = start.elapsed();
        self.metrics.ticks.increment(1);
        self.metrics.duration.record(took);
        if took > self.period {
            self.metrics.overruns.increment(1);
        }
    }

    /// Hands this tick to every client's writer, and drops clients that stayed behind too
    /// long.
    fn publish(&mut self, snap: &Arc<Snapshot>, now: Instant) {
        let info = self.settings.game.info();
        let frame = Arc::new(
            TickFrame::build(
                Arc::clone(snap),
                self.prev.clone(),
                self.pre.clone(),
                info.view_radius,
            )
            .with_budget(
                self.settings.max_bytes_per_client_per_sec,
                info.tick_rate_hz,
            ),
        );
        let slow_limit = self.settings.slow_client_timeout;
        let mut merged = 0u64;
        for c in self.players.values_mut() {
            let Some(link) = &c.link else { continue };
            let fresh = link.publish(Published {
                frame: Arc::clone(&frame),
                entity: c.entity,
                ack_seq: c.ack_seq,
            });
            if fresh {
                c.stalled_since = None;
                continue;
            }
            merged += 1;
            let since = *c.stalled_since.get_or_insert(now);
            if now.saturating_duration_since(since) > slow_limit && link.closing_code().is_none() {
                tracing::debug!(room = %self.info.name, conn = link.conn_id, "client too slow");
                link.close(close_code::TOO_SLOW, "too slow: updates not taken in time");
            }
        }
        if merged > 0 {
            self.metrics.merged.increment(merged);
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
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
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tickstream_shared::EntityState;

    use super::*;
    use crate::room::registry::{Registry, RoomCaps, RoomPolicy};
    use crate::sim::{Game, GameCatalog, GameInfo};
    use crate::tasks::TaskTracker;

    /// A game whose `join` panics while `panicking` is set, counting the calls it gets.
    struct Fragile {
        info: GameInfo,
        panicking: Arc<AtomicBool>,
        joins: Arc<AtomicUsize>,
    }

    struct FragileWorld {
        panicking: Arc<AtomicBool>,
        joins: Arc<AtomicUsize>,
        next: u32,
    }

    impl Game for Fragile {
        fn info(&self) -> &GameInfo {
            &self.info
        }

        fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
            Box::new(FragileWorld {
                panicking: Arc::clone(&self.panicking),
                joins: Arc::clone(&self.joins),
                next: 0,
            })
        }
    }

    impl GameWorld for FragileWorld {
        fn join(&mut self, _ctx: &mut StepCtx<'_>) -> Option<EntityId> {
            self.joins.fetch_add(1, Ordering::SeqCst);
            assert!(
                !self.panicking.load(Ordering::SeqCst),
                "the game's join panics"
            );
            self.next += 1;
            Some(EntityId(self.next))
        }
        fn leave(&mut self, _player: EntityId, _ctx: &mut StepCtx<'_>) {}
        fn input(&mut self, _player: EntityId, _input: crate::sim::PlayerInput) {}
        fn step(&mut self, _ctx: &mut StepCtx<'_>) {}
        fn replicate(&self, _out: &mut Vec<EntityState>) {}
        fn entity_count(&self) -> usize {
            0
        }
    }

    fn registry(game: Fragile) -> (Registry, watch::Sender<bool>) {
        let policy = RoomPolicy {
            games: GameCatalog::new().with(game),
            default_game: "fragile".into(),
            rules: Vec::new(),
            max_players: 10,
            slow_client_timeout: Duration::from_secs(5),
            resume_grace: Duration::from_secs(5),
            empty_timeout: Duration::from_secs(30),
            max_pending_events: 16,
            event_history: 16,
            max_bytes_per_client_per_sec: 0,
        };
        let caps = RoomCaps {
            max_rooms: 10,
            max_rooms_per_ip: 10,
        };
        let (stop, shutdown) = watch::channel(false);
        let registry = Registry::new(policy, caps, shutdown, TaskTracker::default());
        (registry, stop)
    }

    /// A game's `join` that panics while the room retires: the join waits for the room's own
    /// turn (never run under the registry's lock), the panic there is caught, the room leaves
    /// the registry and the name can be used again.
    #[tokio::test]
    async fn a_join_that_panics_while_the_room_retires_frees_the_name() {
        let panicking = Arc::new(AtomicBool::new(true));
        let joins = Arc::new(AtomicUsize::new(0));
        let game = Fragile {
            info: GameInfo {
                name: "fragile".into(),
                tick_rate_hz: 30,
                world_width: 100.0,
                world_height: 100.0,
                view_radius: 0.0,
                kinds: vec!["player".into()],
                fields: Vec::new(),
                event_kinds: Vec::new(),
            },
            panicking: Arc::clone(&panicking),
            joins: Arc::clone(&joins),
        };
        let (registry, _stop) = registry(game);
        let shared = Arc::clone(registry.shared());
        let settings = shared
            .policy()
            .settings_for("wedge")
            .expect("the game is in the catalog");
        let (tx, rx) = mpsc::channel(4);
        let info = Arc::new(RoomInfo::new("wedge".into(), &settings));
        let world = settings.game.create("wedge", 1);
        let mut room = Room::new(
            RoomStart {
                info: Arc::clone(&info),
                settings,
                rx,
                registry: Arc::clone(&shared),
                shutdown: watch::channel(false).1,
            },
            world,
            1,
        );
        shared.insert_for_test("wedge", tx.clone(), Arc::clone(&info));
        // A join arrives just as the empty room's timeout ends.
        let (reply, answer) = oneshot::channel();
        tx.try_send(RoomCmd::Join {
            link: Arc::new(ClientLink::new(1)),
            reply,
        })
        .map_err(|_| "queued")
        .expect("the inbox has room");
        assert!(
            !room.retire(false),
            "a room with a join waiting does not retire"
        );
        assert_eq!(
            joins.load(Ordering::SeqCst),
            0,
            "retire ran no game code (it holds the registry's lock)"
        );
        assert!(registry.room("wedge").is_some(), "still listed");
        // The room's next turn handles the join; the game panics.
        assert!(
            room.guarded(|r| r.handle_commands(Instant::now()))
                .is_none(),
            "the panic is caught and fails the room"
        );
        assert!(
            answer.await.is_err(),
            "the joiner's answer is dropped (it gets 1011)"
        );
        assert!(
            registry.room("wedge").is_none(),
            "the failed room left the registry"
        );
        panicking.store(false, Ordering::SeqCst);
        let joined = registry
            .join("wedge", Arc::new(ClientLink::new(2)), None)
            .await;
        assert!(joined.is_ok(), "the name is usable again: {joined:?}");
    }
}
