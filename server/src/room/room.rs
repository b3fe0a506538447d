//! The room task: one fixed-tick loop per room.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotmap::SlotMap;
use tickstream_shared::codec::encode_server;
use tickstream_shared::{EntityId, PROTOCOL_VERSION, ServerMsg, Tick, Welcome, close_code};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::link::{ClientLink, Outgoing, Published};
use super::registry::{JoinError, Joined, RoomInfo, RoomSettings, Shared};
use crate::metrics as m;
use crate::sim::World;
use crate::sync::{Snapshot, TickFrame};
use tickstream_shared::Delta;

slotmap::new_key_type! {
    /// A client's slot in its room.
    struct ClientKey;
}

/// Commands a room takes between ticks.
pub(crate) enum RoomCmd {
    /// Add a player for this connection and answer with its entity.
    Join {
        link: Arc<ClientLink>,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
}

/// A client as its room sees it.
struct RoomClient {
    link: Arc<ClientLink>,
    entity: EntityId,
    /// The latest input sequence applied.
    ack_seq: u32,
    /// When the client's previous update was first found still waiting.
    stalled_since: Option<Instant>,
}

pub(crate) struct Room {
    info: Arc<RoomInfo>,
    settings: RoomSettings,
    world: World,
    tick: Tick,
    clients: SlotMap<ClientKey, RoomClient>,
    rx: mpsc::Receiver<RoomCmd>,
    registry: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    /// The previous tick's snapshot, for the shared delta body.
    prev: Option<Arc<Snapshot>>,
    /// Scratch for the shared delta.
    scratch: Delta,
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
}

impl TickMetrics {
    fn new() -> Self {
        Self {
            ticks: metrics::counter!(m::TICKS),
            overruns: metrics::counter!(m::TICK_OVERRUNS),
            duration: metrics::histogram!(m::TICK_DURATION),
            lag: metrics::histogram!(m::TICK_LAG),
            merged: metrics::counter!(m::UPDATES_MERGED),
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
        let game = settings.game.clone();
        Self {
            period: Duration::from_secs_f64(game.dt()),
            world: World::new(game),
            info,
            settings,
            tick: Tick(0),
            clients: SlotMap::with_key(),
            rx,
            registry,
            shutdown,
            prev: None,
            scratch: Delta::default(),
            metrics: TickMetrics::new(),
        }
    }

    /// Runs ticks until the room is empty or the server shuts down.
    pub(crate) async fn run(mut self) {
        tracing::info!(room = %self.info.name, "room started");
        metrics::gauge!(m::ENTITIES).increment(self.world.len() as f64);
        let mut interval = tokio::time::interval(self.period);
        // An overrun skips the missed ticks instead of bursting to catch up: clients get a
        // steady stream, and the overrun is counted.
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => {
                    for (_, c) in &self.clients {
                        c.link.close(close_code::GOING_AWAY, "server shutting down");
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
                    if self.clients.is_empty() && self.retire(false) {
                        break;
                    }
                }
            }
        }
        metrics::gauge!(m::ENTITIES).decrement(self.world.len() as f64);
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
        for (_, c) in &self.clients {
            c.link.close(close_code::INTERNAL, "the room failed");
        }
        self.retire(true);
    }

    /// Leaves the registry if no join is waiting (or unconditionally on shutdown). Returns
    /// whether the room left.
    fn retire(&mut self, force: bool) -> bool {
        let registry = Arc::clone(&self.registry);
        let mut rooms = registry.rooms();
        if !force {
            // Joins are only sent under this lock: whatever is queued now is all there is.
            self.handle_commands();
            if !self.clients.is_empty() {
                return false;
            }
        }
        self.rx.close();
        while let Ok(RoomCmd::Join { reply, .. }) = self.rx.try_recv() {
            let _ = reply.send(Err(JoinError::ShuttingDown));
        }
        rooms.remove(&self.info.name);
        metrics::gauge!(m::ROOMS).set(rooms.len() as f64);
        true
    }

    fn handle_commands(&mut self) {
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                RoomCmd::Join { link, reply } => {
                    let result = self.add_client(link);
                    let _ = reply.send(result);
                }
            }
        }
    }

    fn add_client(&mut self, link: Arc<ClientLink>) -> Result<Joined, JoinError> {
        if self.clients.len() >= self.settings.max_players {
            return Err(JoinError::RoomFull);
        }
        let entity = self.world.add_player().ok_or(JoinError::OutOfIds)?;
        let game = self.world.params();
        let welcome = ServerMsg::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            entity,
            tick_rate_hz: game.tick_rate_hz,
            tick: self.tick,
            world_width: game.world_width as f32,
            world_height: game.world_height as f32,
            view_radius: game.view_radius as f32,
        });
        let mut buf = Vec::new();
        if encode_server(&welcome, &mut buf).is_err() || !link.push_control(Outgoing::Message(buf))
        {
            self.world.remove_player(entity);
            return Err(JoinError::Busy);
        }
        metrics::gauge!(m::ENTITIES).increment(1.0);
        tracing::debug!(room = %self.info.name, conn = link.conn_id, entity = entity.0, "player joined");
        self.clients.insert(RoomClient {
            link,
            entity,
            ack_seq: 0,
            stalled_since: None,
        });
        Ok(Joined {
            entity,
            room: Arc::clone(&self.info),
        })
    }

    fn drop_gone_clients(&mut self) {
        let gone: Vec<ClientKey> = self
            .clients
            .iter()
            .filter(|(_, c)| c.link.is_gone())
            .map(|(k, _)| k)
            .collect();
        for key in gone {
            if let Some(c) = self.clients.remove(key) {
                self.world.remove_player(c.entity);
                metrics::gauge!(m::ENTITIES).decrement(1.0);
                tracing::debug!(room = %self.info.name, conn = c.link.conn_id, "player left");
            }
        }
    }

    fn run_tick(&mut self, scheduled: Instant) {
        let start = Instant::now();
        self.metrics
            .lag
            .record(start.saturating_duration_since(scheduled));
        self.handle_commands();
        self.drop_gone_clients();
        for (_, c) in &mut self.clients {
            if let Some(input) = c.link.take_input() {
                self.world.set_direction(c.entity, input.dx, input.dy);
                c.ack_seq = input.seq;
            }
        }
        if self.tick.0 == 29
            && self.world.params().fault_panic_room.as_deref() == Some(&self.info.name)
        {
            panic!(
                "injected fault: game step panics in room {}",
                self.info.name
            );
        }
        self.world.step();
        self.tick = self.tick.next();
        let snap = Arc::new(Snapshot::capture(&self.world, self.tick));
        self.publish(&snap, start);
        self.info.publish(&snap);
        self.prev = Some(snap);
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
        let radius = self.world.params().view_radius;
        let frame = match TickFrame::build(
            Arc::clone(snap),
            self.prev.as_deref(),
            radius,
            &mut self.scratch,
        ) {
            Ok(frame) => Arc::new(frame),
            Err(e) => {
                tracing::error!(room = %self.info.name, error = %e, "cannot encode the tick");
                for (_, c) in &self.clients {
                    c.link.close(close_code::INTERNAL, "internal error");
                }
                return;
            }
        };
        let slow_limit = self.settings.slow_client_timeout;
        let mut merged = 0u64;
        for (_, c) in &mut self.clients {
            let fresh = c.link.publish(Published {
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
            if now.saturating_duration_since(since) > slow_limit && c.link.closing_code().is_none()
            {
                tracing::debug!(room = %self.info.name, conn = c.link.conn_id, "client too slow");
                c.link
                    .close(close_code::TOO_SLOW, "too slow: updates not taken in time");
            }
        }
        if merged > 0 {
            self.metrics.merged.increment(merged);
        }
    }
}
