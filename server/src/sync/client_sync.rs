//! What one client was last sent (its baseline), and building its next frame.
//!
//! Frames are built by each client's writer task when it is ready to write, from the newest
//! [`TickFrame`] the room published: a slow client naturally skips ticks (its delta covers
//! them), and the per-client work runs on every core instead of inside the room's tick.

use std::sync::{Arc, OnceLock};

use tickstream_shared::codec::CodecError;
use tickstream_shared::delta::{diff_into, diff_into_indexed};
use tickstream_shared::delta3::{
    Aligned, Held, diff3_into, diff3_into_aligned, diff3_into_indexed,
};
use tickstream_shared::{Delta, Delta3, EntityId, EntityState, GameEvent, Tick};

use super::budget::{Budget, BudgetDelta, BudgetInput};
use super::frame::{encode_body, encode_body3, encode_events, encode_header, encode_header3};
use super::interest::Grid;
use super::snapshot::Snapshot;

/// What the room publishes once per tick for all its clients.
#[derive(Debug)]
pub struct TickFrame {
    /// The world at this tick.
    pub snap: Arc<Snapshot>,
    /// With a view radius: the grid over `snap`.
    pub grid: Option<Grid>,
    /// Without a view radius: the previous tick's snapshot, from which the shared bodies are
    /// built.
    prev: Option<Arc<Snapshot>>,
    /// Without a view radius: the snapshot of the tick before `prev` (v3 predicts from it).
    pre: Option<Arc<Snapshot>>,
    /// Without a view radius: the v2 delta body from `prev`, encoded once by the first writer
    /// that needs it; every v2 client that was sent `prev` gets exactly these bytes.
    body_v2: OnceLock<Option<Vec<u8>>>,
    /// The same for v3 clients that were sent `pre` and then `prev`.
    body_v3: OnceLock<Option<Vec<u8>>>,
    /// Each client's bandwidth budget in bits per tick (`sync.max_bytes_per_client_per_sec`);
    /// 0: none.
    budget_bits_per_tick: u64,
}

impl TickFrame {
    /// The frame for `snap`. `prev` and `pre` are the previous two ticks' snapshots (for the
    /// shared bodies); `radius` is the view radius in world units (0 = everything). The shared
    /// bodies are built when a client first needs one, so only the versions in use cost
    /// anything.
    #[must_use]
    pub fn build(
        snap: Arc<Snapshot>,
        prev: Option<Arc<Snapshot>>,
        pre: Option<Arc<Snapshot>>,
        radius: f64,
    ) -> Self {
        if radius > 0.0 {
            let mut grid = Grid::new(radius);
            grid.rebuild(&snap.entities);
            return Self {
                snap,
                grid: Some(grid),
                prev: None,
                pre: None,
                body_v2: OnceLock::new(),
                body_v3: OnceLock::new(),
                budget_bits_per_tick: 0,
            };
        }
        Self {
            snap,
            grid: None,
            prev,
            pre,
            body_v2: OnceLock::new(),
            body_v3: OnceLock::new(),
            budget_bits_per_tick: 0,
        }
    }

    /// The frame with a bandwidth budget of `bytes_per_sec` per client (0: none) at
    /// `tick_rate_hz` ticks per second: clients then build their own updates, within it
    /// ([`crate::sync::budget`]).
    #[must_use]
    pub fn with_budget(mut self, bytes_per_sec: u32, tick_rate_hz: u16) -> Self {
        self.budget_bits_per_tick = 8 * u64::from(bytes_per_sec) / u64::from(tick_rate_hz.max(1));
        self
    }

    /// The shared body of `protocol` for clients that got the previous ticks, built now if no
    /// client has asked for it yet (`None` without a view radius or without previous ticks).
    #[must_use]
    pub fn shared_body(&self, protocol: u16) -> Option<&[u8]> {
        let tick = |s: &Option<Arc<Snapshot>>| s.as_ref().map(|s| s.tick);
        if protocol >= 3 {
            self.body_v3(tick(&self.pre), tick(&self.prev))
        } else {
            self.body_v2(tick(&self.prev))
        }
    }

    /// The shared v2 body for a client whose baseline is `base`, if it can use it.
    fn body_v2(&self, base: Option<Tick>) -> Option<&[u8]> {
        let prev = self.prev.as_ref()?;
        if Some(prev.tick) != base {
            return None;
        }
        self.body_v2
            .get_or_init(|| {
                let mut delta = Delta::default();
                diff_into(&prev.entities, &self.snap.entities, &mut delta);
                let mut body = Vec::new();
                encode_body(&delta, &mut body).ok().map(|()| body)
            })
            .as_deref()
    }

    /// The shared v3 body for a client that was sent `pre` and then `base`, if it can use it.
    fn body_v3(&self, pre: Option<Tick>, base: Option<Tick>) -> Option<&[u8]> {
        let (prev, before) = (self.prev.as_ref()?, self.pre.as_ref()?);
        if Some(prev.tick) != base || Some(before.tick) != pre {
            return None;
        }
        self.body_v3
            .get_or_init(|| {
                let mut delta = Delta3::default();
                diff3_into(
                    &before.entities,
                    &prev.entities,
                    &self.snap.entities,
                    self.snap.tick.since(prev.tick),
                    prev.tick.since(before.tick),
                    &mut delta,
                );
                let mut body = Vec::new();
                encode_body3(&delta, &mut body).ok().map(|()| body)
            })
            .as_deref()
    }
}

/// The entities of a snapshot a client may not have yet.
fn entities(s: &Option<Arc<Snapshot>>) -> &[EntityState] {
    s.as_deref().map_or(&[][..], |s| &s.entities[..])
}

/// Sets `out` to the indices (into `snap`, ascending) of the entities `delta` spawns, which
/// are among `view` (the new view, ascending).
fn spawned_indices(delta: &Delta3, snap: &Snapshot, view: &[u32], out: &mut Vec<u32>) {
    out.clear();
    let mut spawns = delta.spawns.iter().map(|e| e.id).peekable();
    for &i in view {
        let Some(&next) = spawns.peek() else { break };
        if snap.entities[i as usize].id == next {
            out.push(i);
            spawns.next();
        }
    }
}

/// What building a frame needs only while it builds: one per thread (the writers of a
/// worker thread build one frame at a time), so that it stays in the cache from one client
/// to the next instead of being each client's own cold memory.
#[derive(Debug, Default)]
struct Scratch {
    /// The grid query's bitmap of hits (all zero between queries).
    marks: Vec<u64>,
    /// The delta for clients that cannot use a shared body.
    delta: Delta,
    /// The same for v3.
    delta3: Delta3,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// One client's baseline: exactly what it holds, because WebSocket runs over TCP and every
/// frame the writer writes reaches the client in order (or the connection dies).
#[derive(Debug, Default, Clone)]
pub struct ClientSync {
    /// The protocol version of the connection (2 or 3).
    protocol: u16,
    /// The snapshot this client was last sent (`None` before the first frame).
    base: Option<Arc<Snapshot>>,
    /// v3: the snapshot this client was sent before `base`: with `base`, what the client's
    /// prediction extrapolates from (and which shared body fits).
    pre: Option<Arc<Snapshot>>,
    /// v3: the tick of the frame before `base`.
    pre_tick: Option<Tick>,
    /// With a view radius: the view this client was last sent, as ascending indices into
    /// `base` (four bytes per entity; `base` keeps the entities themselves alive).
    last_view: Vec<u32>,
    /// v3 with a view radius: the view this client was sent in the update before `base`
    /// (into `pre`): the client's previous position of an entity is its position in `pre`
    /// when it was in this view, its `base` one otherwise.
    pre_view: Vec<u32>,
    /// v3 with a view radius: the entities of `last_view` that the update of `base` spawned
    /// (ascending indices), so that an update whose snapshots share one layout needs no
    /// other per-entity state of this client's than `last_view`.
    spawned: Vec<u32>,
    /// Scratch: the same for the update being built; rotated with `spawned`.
    next_spawned: Vec<u32>,
    /// Scratch: the next view, as ascending indices into the new snapshot; rotated with
    /// `last_view` and `pre_view` after each frame.
    found: Vec<u32>,
    /// With a view radius: where the client's own entity was in the last snapshot.
    own_at: u32,
    /// v3: the `ack_seq` of the last frame, which the next one counts from.
    last_ack: u32,
    /// With a bandwidth budget: what the client holds, the priorities and the tokens.
    budget: Option<Box<Budget>>,
    /// A spectator's view: when the entity it follows is not in the snapshot (or it follows
    /// none), the view is the whole room instead of nothing.
    spectator: bool,
}

impl ClientSync {
    /// A v2 client that holds nothing yet: its first frame spawns its whole view.
    #[must_use]
    pub fn new() -> Self {
        Self::for_protocol(2)
    }

    /// A client of protocol `protocol` that holds nothing yet.
    #[must_use]
    pub fn for_protocol(protocol: u16) -> Self {
        Self {
            protocol,
            ..Self::default()
        }
    }

    /// Makes this a spectator's view (or a player's again): the followed entity's view while
    /// it exists, the whole room otherwise.
    pub fn set_spectator(&mut self, spectator: bool) {
        self.spectator = spectator;
    }

    /// The tick of the last frame built for this client.
    #[must_use]
    pub fn base_tick(&self) -> Option<Tick> {
        self.base.as_ref().map(|b| b.tick)
    }

    /// Ticks between the last two frames this client was sent (0 with fewer than two): the
    /// `g` of the v3 prediction.
    fn last_gap(&self) -> u32 {
        match (self.base_tick(), self.pre_tick) {
            (Some(b), Some(p)) => b.since(p),
            _ => 0,
        }
    }

    /// Appends this client's update frame for `frame` to `out` and makes its snapshot the
    /// client's baseline. `own` is the client's entity; `ack_seq` its latest applied input;
    /// `events` the one-shot events that ride with this frame.
    pub fn build_frame(
        &mut self,
        frame: &TickFrame,
        own: EntityId,
        ack_seq: u32,
        events: &[GameEvent],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        SCRATCH.with_borrow_mut(|s| self.build_frame_in(s, frame, own, ack_seq, events, out))
    }

    /// [`ClientSync::build_frame`] with this thread's scratch.
    fn build_frame_in(
        &mut self,
        s: &mut Scratch,
        frame: &TickFrame,
        own: EntityId,
        ack_seq: u32,
        events: &[GameEvent],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        if frame.budget_bits_per_tick > 0 {
            return self.build_frame_budgeted(s, frame, own, ack_seq, events, out);
        }
        if self.protocol >= 3 {
            return self.build_frame3(s, frame, own, ack_seq, events, out);
        }
        let snap = &frame.snap;
        match &frame.grid {
            None => {
                encode_header(snap.tick, ack_seq, snap.checksum, out)?;
                if let Some(body) = frame.body_v2(self.base_tick()) {
                    out.extend_from_slice(body);
                } else {
                    let base = self.base.as_deref().map_or(&[][..], |b| &b.entities[..]);
                    diff_into(base, &snap.entities, &mut s.delta);
                    // A broadcast client builds its own delta only for its first frame
                    // (every entity spawned) or after falling behind; from then on it
                    // copies the shared body. The scratch is the thread's, not the client's.
                    encode_body(&s.delta, out)?;
                }
            }
            Some(grid) => {
                let checksum = self.query(&mut s.marks, frame, grid, own);
                let base = self.base.as_deref().map_or(&[][..], |b| &b.entities[..]);
                diff_into_indexed(
                    base,
                    &self.last_view,
                    &snap.entities,
                    &self.found,
                    &mut s.delta,
                );
                encode_header(snap.tick, ack_seq, checksum, out)?;
                encode_body(&s.delta, out)?;
                std::mem::swap(&mut self.last_view, &mut self.found);
            }
        }
        encode_events(events, out)?;
        self.base = Some(Arc::clone(snap));
        Ok(())
    }

    /// [`ClientSync::build_frame`] under a bandwidth budget: the update carries what fits, by
    /// priority ([`Budget`]), and its checksum covers exactly what the client then holds.
    fn build_frame_budgeted(
        &mut self,
        s: &mut Scratch,
        frame: &TickFrame,
        own: EntityId,
        ack_seq: u32,
        events: &[GameEvent],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let snap = &frame.snap;
        let base_tick = self.base_tick();
        let ticks_since = base_tick.map_or(0, |t| snap.tick.since(t));
        let last_gap = self.last_gap();
        let input = BudgetInput {
            own,
            center: snap.get(own).map(|e| (e.x, e.y)),
            ticks_since,
            last_gap,
            protocol: self.protocol,
            bits_per_tick: frame.budget_bits_per_tick,
        };
        if let Some(grid) = &frame.grid {
            self.query(&mut s.marks, frame, grid, own);
        }
        let budget = self.budget.get_or_insert_with(Box::default);
        let (checksum, delta) = match &frame.grid {
            Some(_) => budget.choose(
                self.found.iter().map(|&i| &snap.entities[i as usize]),
                input,
            ),
            None => budget.choose(snap.entities.iter(), input),
        };
        let start = out.len();
        match delta {
            BudgetDelta::V2(d) => {
                encode_header(snap.tick, ack_seq, checksum, out)?;
                encode_body(d, out)?;
            }
            BudgetDelta::V3(d) => {
                let tick_gap = snap.tick.since(base_tick.unwrap_or_default());
                let ack_delta = ack_seq.wrapping_sub(self.last_ack);
                encode_header3(tick_gap, ack_delta, checksum, out)?;
                encode_body3(d, out)?;
            }
        }
        encode_events(events, out)?;
        budget.spent(out.len() - start);
        self.last_ack = ack_seq;
        self.pre_tick = base_tick;
        self.base = Some(Arc::clone(snap));
        Ok(())
    }

    /// Sets `found` to this client's view in `frame` and returns its checksum.
    fn query(
        &mut self,
        marks: &mut Vec<u64>,
        frame: &TickFrame,
        grid: &Grid,
        own: EntityId,
    ) -> u32 {
        let snap = &frame.snap;
        self.found.clear();
        // The client's own entity sits where it sat last tick unless someone joined or left
        // before it: one comparison instead of a binary search over the whole room.
        let at = self.own_at as usize;
        let center = match snap.entities.get(at) {
            Some(e) if e.id == own => Some(e),
            _ => snap.index_of(own).map(|i| {
                self.own_at = i as u32;
                &snap.entities[i]
            }),
        };
        if let Some(center) = center {
            grid.query(&snap.entities, center, &mut self.found, marks);
        } else if self.spectator {
            // Views are u32 indices throughout, as the grid gives them.
            let n = u32::try_from(snap.entities.len()).unwrap_or(u32::MAX);
            self.found.extend(0..n);
        }
        self.found
            .iter()
            .fold(0u32, |a, &i| a.wrapping_add(snap.hashes[i as usize]))
    }

    /// [`ClientSync::build_frame`] for protocol v3: positions as residuals from what this
    /// client predicts from the last two frames it was sent.
    fn build_frame3(
        &mut self,
        s: &mut Scratch,
        frame: &TickFrame,
        own: EntityId,
        ack_seq: u32,
        events: &[GameEvent],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let snap = &frame.snap;
        let base_tick = self.base_tick();
        let pre_tick = self.pre_tick;
        // Ticks strictly increase per client: the room publishes each tick once.
        let tick_gap = snap.tick.since(base_tick.unwrap_or_default());
        let last_gap = self.last_gap();
        let ack_delta = ack_seq.wrapping_sub(self.last_ack);
        match &frame.grid {
            None => {
                encode_header3(tick_gap, ack_delta, snap.checksum, out)?;
                if let Some(body) = frame.body_v3(pre_tick, base_tick) {
                    out.extend_from_slice(body);
                } else {
                    diff3_into(
                        entities(&self.pre),
                        entities(&self.base),
                        &snap.entities,
                        tick_gap,
                        last_gap,
                        &mut s.delta3,
                    );
                    encode_body3(&s.delta3, out)?;
                }
                self.pre = self.base.replace(Arc::clone(snap));
            }
            Some(grid) => {
                let checksum = self.query(&mut s.marks, frame, grid, own);
                let (base, pre) = (self.base.as_deref(), self.pre.as_deref());
                let aligned = base.filter(|b| {
                    b.layout == snap.layout && pre.is_none_or(|p| p.layout == b.layout)
                });
                match aligned {
                    // The same entities at the same indices in every snapshot the prediction
                    // spans (no one joined or left): merge indices over packed positions.
                    Some(base) => diff3_into_aligned(
                        Aligned {
                            base: &base.entities,
                            base_pos: &base.pos,
                            pre_pos: pre.map(|p| &p.pos[..]),
                            cur: &snap.entities,
                            cur_pos: &snap.pos,
                            fields_changed: snap.fields_changed_since(base.tick),
                        },
                        Held {
                            view: &self.last_view,
                            spawned: &self.spawned,
                        },
                        &self.found,
                        tick_gap,
                        last_gap,
                        &mut s.delta3,
                        &mut self.next_spawned,
                    ),
                    None => {
                        diff3_into_indexed(
                            (entities(&self.pre), &self.pre_view),
                            (entities(&self.base), &self.last_view),
                            (&snap.entities, &self.found),
                            tick_gap,
                            last_gap,
                            &mut s.delta3,
                        );
                        spawned_indices(&s.delta3, snap, &self.found, &mut self.next_spawned);
                    }
                }
                encode_header3(tick_gap, ack_delta, checksum, out)?;
                encode_body3(&s.delta3, out)?;
                // pre_view <- last_view <- found; the oldest view is the next scratch.
                std::mem::swap(&mut self.pre_view, &mut self.last_view);
                std::mem::swap(&mut self.last_view, &mut self.found);
                std::mem::swap(&mut self.spawned, &mut self.next_spawned);
                self.pre = self.base.replace(Arc::clone(snap));
            }
        }
        encode_events(events, out)?;
        self.last_ack = ack_seq;
        self.pre_tick = base_tick;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::codec::decode_server;
    use tickstream_shared::{EntityState, Replica, ServerMsg};

    use crate::sim::{ArenaWorld as World, GameParams};

    fn decode_apply(replica: &mut Replica, frame: &[u8]) {
        match decode_server(frame).expect("frame decodes") {
            ServerMsg::Update(u) => replica.apply(&u).expect("update applies"),
            ServerMsg::Update3(u) => replica.apply3(&u).expect("v3 update applies"),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    /// Three broadcast clients of `protocol`; client 2 is slow and skips ticks 3, 6 and 7.
    fn broadcast(protocol: u16) {
        let mut world = World::new(GameParams::default());
        let players: Vec<EntityId> = (0..3)
            .map(|i| {
                let p = world.add_player().expect("an id is free");
                world.set_direction(p, 1.0, i as f32 * 0.5 - 0.5);
                p
            })
            .collect();
        let mut clients: Vec<(ClientSync, Replica)> = (0..3)
            .map(|_| (ClientSync::for_protocol(protocol), Replica::new()))
            .collect();
        let (mut prev, mut pre): (Option<Arc<Snapshot>>, Option<Arc<Snapshot>>) = (None, None);
        for t in 1..=12u32 {
            if t == 5 {
                world.set_direction(players[1], -1.0, 0.0);
            }
            world.step();
            let snap = Arc::new(Snapshot::capture(&world, Tick(t)));
            let frame = TickFrame::build(Arc::clone(&snap), prev.clone(), pre.clone(), 0.0);
            let mut bodies = Vec::new();
            for (i, (sync, replica)) in clients.iter_mut().enumerate() {
                // A slow client: its next delta merges the ticks it skipped.
                if i == 2 && [3, 6, 7].contains(&t) {
                    continue;
                }
                let mut out = Vec::new();
                sync.build_frame(&frame, players[i], 7, &[], &mut out)
                    .expect("frame builds");
                decode_apply(replica, &out);
                assert_eq!(
                    replica.entities(),
                    &snap.entities[..],
                    "v{protocol}: client {i}'s replica equals the world at tick {t}"
                );
                assert_eq!(replica.ack_seq(), 7, "v{protocol}: ack");
                bodies.push(out);
            }
            assert_eq!(
                bodies[0], bodies[1],
                "v{protocol}: clients in step get the same bytes at tick {t}"
            );
            pre = prev.replace(snap);
        }
    }

    #[test]
    fn broadcast_clients_share_the_body_and_slow_ones_catch_up() {
        broadcast(2);
        broadcast(3);
    }

    #[test]
    fn v3_shared_bodies_are_smaller_than_v2() {
        let mut world = World::new(GameParams::default());
        let (mut prev, mut pre): (Option<Arc<Snapshot>>, Option<Arc<Snapshot>>) = (None, None);
        let mut sizes = [0usize; 2];
        let mut syncs = [ClientSync::for_protocol(2), ClientSync::for_protocol(3)];
        for t in 1..=40u32 {
            world.step();
            let snap = Arc::new(Snapshot::capture(&world, Tick(t)));
            let frame = TickFrame::build(Arc::clone(&snap), prev.clone(), pre.clone(), 0.0);
            for (size, sync) in sizes.iter_mut().zip(syncs.iter_mut()) {
                let mut out = Vec::new();
                sync.build_frame(&frame, EntityId(0), 0, &[], &mut out)
                    .expect("frame builds");
                if t > 10 {
                    *size += out.len();
                }
            }
            pre = prev.replace(snap);
        }
        assert!(
            sizes[1] * 3 < sizes[0],
            "v3 at least three times smaller than v2 for 500 NPCs: {sizes:?}"
        );
    }

    fn radius(protocol: u16) {
        let params = GameParams {
            view_radius: 150.0,
            ..GameParams::default()
        };
        let r2 = super::super::interest::radius_sq_grid(params.view_radius);
        let mut world = World::new(params);
        let own = world.add_player().expect("an id is free");
        world.set_direction(own, 1.0, 0.3);
        let mut sync = ClientSync::for_protocol(protocol);
        let mut replica = Replica::new();
        let mut prev: Option<Arc<Snapshot>> = None;
        for t in 1..=60u32 {
            if t == 30 {
                // Someone joins: a new layout, after which the frames merge indices again.
                world.add_player().expect("an id is free");
            }
            world.step();
            let snap = Arc::new(Snapshot::capture_after(&world, Tick(t), prev.as_deref()));
            prev = Some(Arc::clone(&snap));
            if t % 7 == 3 {
                // A slow client skips a tick now and then.
                continue;
            }
            let frame = TickFrame::build(Arc::clone(&snap), None, None, 150.0);
            let mut out = Vec::new();
            sync.build_frame(&frame, own, 0, &[], &mut out)
                .expect("frame builds");
            decode_apply(&mut replica, &out);
            let center = snap.get(own).expect("own entity exists");
            let expected: Vec<EntityState> = snap
                .entities
                .iter()
                .filter(|e| super::super::interest::in_view(center, e, r2))
                .copied()
                .collect();
            assert_eq!(
                replica.entities(),
                &expected[..],
                "v{protocol}: view at tick {t}"
            );
        }
    }

    #[test]
    fn radius_views_hold_exactly_what_is_near() {
        radius(2);
        radius(3);
    }
}
