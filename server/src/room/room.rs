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

impl Room {
    pub(crate) fn new(
        info: Arc<RoomInfo>,
        settings: RoomSettings,
        rx: mpsc::Receiver<RoomCmd>,
        registry: Arc<Shared>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let game = Arc::clone(&settings.game);
        let seed = room_seed(&info.name);
        Self {
            period: Duration::from_secs_f64(game.info().dt()),
            world: game.create(&info.name, seed),
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

    /// Runs ticks until the room is empty or the server shuts down.
    pub(crate) async fn run(mut self) {
        tracing::info!(room = %self.info.name, game = %self.settings.game.info().name, "room started");
        let mut entities = self.world.entity_count();
        metrics::gauge!(m::ENTITIES).increment(entities as f64);
        let mut interval = tokio::time::interval(self.period);
        // An overrun skips the missed ticks instead of bursting to catch up: clients get a
        // steady stream, and the overrun is counted.
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
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
                    // A panic in the game must not leave this room's clients waiting forever
                    // or touch other rooms: close its clients with 1011 and retire the room.
                    let ticked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        self.run_tick(scheduled.into_std());
                    }));
                    if let Err(panic) = ticked {
                        self.fail(panic.as_ref());
                        break;
                    }
                    let now = self.world.entity_count();
                    metrics::gauge!(m::ENTITIES).increment(now as f64 - entities as f64);
                    entities = now;
                    if self.expired(scheduled.into_std()) && self.retire(false) {
                        break;
                    }
                }
            }
        }
        metrics::gauge!(m::ENTITIES).decrement(entities as f64);
        tracing::info!(room = %self.info.name, ticks = self.tick.0, "room stopped");
    }

    /// After a panic in a tick: counts it, closes every client with 1011, leaves the registry.
    fn fail(&mut self, panic: &(dyn std::any::Any + Send)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
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

    /// Leaves the registry if no join is waiting (or unconditionally on shutdown). Returns
    /// whether the room left.
    fn retire(&mut self, force: bool) -> bool {
        let registry = Arc::clone(&self.registry);
        let mut rooms = registry.rooms();
        if !force {
            // Joins are only sent under this lock: whatever is queued now is all there is.
            self.handle_commands(Instant::now());
            if !self.players.is_empty() {
                return false;
            }
        }
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            let (RoomCmd::Join { reply, .. } | RoomCmd::Resume { reply, .. }) = cmd;
            let _ = reply.send(Err(JoinError::ShuttingDown));
        }
        rooms.remove(&self.info.name);
        metrics::gauge!(m::ROOMS).set(rooms.len() as f64);
        self.info.set_players(0);
        tracing::info!(room = %self.info.name, "room disposed");
        true
    }

    fn handle_commands(&mut self, now: Instant) {
        while let Ok(cmd) = self.rx.try_recv() {
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
        self.info.set_players(self.players.len());
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
        let key = *self.tokens.get(token).ok_or(JoinError::ResumeRefused(
            "unknown, used or expired resume token",
        ))?;
        let p = &self.players[key];
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
        let p = &self.players[key];
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
        let p = &mut self.players[key];
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
        let radius = self.settings.game.info().view_radius;
        let frame = Arc::new(TickFrame::build(
            Arc::clone(snap),
            self.prev.clone(),
            self.pre.clone(),
            radius,
        ));
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
