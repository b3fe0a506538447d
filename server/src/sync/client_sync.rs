//! What one client was last sent (its baseline), and building its next frame.
//!
//! Frames are built by each client's writer task when it is ready to write, from the newest
//! [`TickFrame`] the room published: a slow client naturally skips ticks (its delta covers
//! them), and the per-client work runs on every core instead of inside the room's tick.

use std::sync::Arc;

use tickstream_shared::codec::CodecError;
use tickstream_shared::delta::{diff_into, diff_into_indexed};
use tickstream_shared::{Delta, EntityId, GameEvent, Tick};

use super::frame::{encode_body, encode_events, encode_header};
use super::interest::Grid;
use super::snapshot::Snapshot;

/// Scratch entries a broadcast client keeps between frames; more is released after use.
const SCRATCH_KEEP: usize = 256;

/// What the room publishes once per tick for all its clients.
#[derive(Debug)]
pub struct TickFrame {
    /// The world at this tick.
    pub snap: Arc<Snapshot>,
    /// With a view radius: the grid over `snap`.
    pub grid: Option<Grid>,
    /// Without a view radius: the delta body from the previous tick's snapshot, encoded once;
    /// every client that was sent the previous tick gets exactly these bytes.
    pub shared_body: Option<(Tick, Vec<u8>)>,
}

impl TickFrame {
    /// The frame for `snap`. `prev` is the previous tick's snapshot (for the shared body);
    /// `radius` is the view radius in world units (0 = everything).
    pub fn build(
        snap: Arc<Snapshot>,
        prev: Option<&Snapshot>,
        radius: f64,
        scratch: &mut Delta,
    ) -> Result<Self, CodecError> {
        if radius > 0.0 {
            let mut grid = Grid::new(radius);
            grid.rebuild(&snap.entities);
            return Ok(Self {
                snap,
                grid: Some(grid),
                shared_body: None,
            });
        }
        let shared_body = match prev {
            Some(prev) => {
                diff_into(&prev.entities, &snap.entities, scratch);
                let mut body = Vec::new();
                encode_body(scratch, &mut body)?;
                Some((prev.tick, body))
            }
            None => None,
        };
        Ok(Self {
            snap,
            grid: None,
            shared_body,
        })
    }
}

/// One client's baseline: exactly what it holds, because WebSocket runs over TCP and every
/// frame the writer writes reaches the client in order (or the connection dies).
#[derive(Debug, Default, Clone)]
pub struct ClientSync {
    /// The snapshot this client was last sent (`None` before the first frame).
    base: Option<Arc<Snapshot>>,
    /// With a view radius: the view this client was last sent, as ascending indices into
    /// `base` (four bytes per entity; `base` keeps the entities themselves alive).
    last_view: Vec<u32>,
    /// Scratch: the next view, as ascending indices into the new snapshot; swapped with
    /// `last_view` after each frame.
    found: Vec<u32>,
    /// Scratch: the delta for clients that cannot use a shared body.
    delta: Delta,
}

impl ClientSync {
    /// A client that holds nothing yet: its first frame spawns its whole view.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The tick of the last frame built for this client.
    #[must_use]
    pub fn base_tick(&self) -> Option<Tick> {
        self.base.as_ref().map(|b| b.tick)
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
        let snap = &frame.snap;
        match &frame.grid {
            None => {
                encode_header(snap.tick, ack_seq, snap.checksum, out)?;
                match (&frame.shared_body, self.base_tick()) {
                    (Some((base, body)), Some(mine)) if *base == mine => {
                        out.extend_from_slice(body);
                    }
                    _ => {
                        let base = self.base.as_deref().map_or(&[][..], |b| &b.entities[..]);
                        diff_into(base, &snap.entities, &mut self.delta);
                        encode_body(&self.delta, out)?;
                        // A broadcast client builds its own delta only for its first frame
                        // (every entity spawned) or after falling behind; from then on it
                        // copies the shared body. Keeping a whole world's worth of scratch
                        // per client would cost more memory than everything else it holds.
                        if self.delta.spawns.capacity() > SCRATCH_KEEP {
                            self.delta = Delta::default();
                        }
                    }
                }
            }
            Some(grid) => {
                self.found.clear();
                if let Some(center) = snap.get(own) {
                    grid.query(&snap.entities, center, &mut self.found);
                }
                let checksum = self
                    .found
                    .iter()
                    .fold(0u32, |a, &i| a.wrapping_add(snap.hashes[i as usize]));
                let base = self.base.as_deref().map_or(&[][..], |b| &b.entities[..]);
                diff_into_indexed(
                    base,
                    &self.last_view,
                    &snap.entities,
                    &self.found,
                    &mut self.delta,
                );
                encode_header(snap.tick, ack_seq, checksum, out)?;
                encode_body(&self.delta, out)?;
                std::mem::swap(&mut self.last_view, &mut self.found);
            }
        }
        encode_events(events, out)?;
        self.base = Some(Arc::clone(snap));
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
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn broadcast_clients_share_the_body_and_slow_ones_catch_up() {
        let mut world = World::new(GameParams::default());
        let mut clients: Vec<(ClientSync, Replica)> = (0..3)
            .map(|_| (ClientSync::new(), Replica::new()))
            .collect();
        let mut prev: Option<Arc<Snapshot>> = None;
        let mut scratch = Delta::default();
        for t in 1..=5u32 {
            world.step();
            let snap = Arc::new(Snapshot::capture(&world, Tick(t)));
            let frame = TickFrame::build(Arc::clone(&snap), prev.as_deref(), 0.0, &mut scratch)
                .expect("frame builds");
            let mut bodies = Vec::new();
            for (i, (sync, replica)) in clients.iter_mut().enumerate() {
                // Client 2 skips tick 3, as a slow client would: its next delta merges two.
                if i == 2 && t == 3 {
                    continue;
                }
                let mut out = Vec::new();
                sync.build_frame(&frame, EntityId(0), 0, &[], &mut out)
                    .expect("frame builds");
                decode_apply(replica, &out);
                assert_eq!(
                    replica.entities(),
                    &snap.entities[..],
                    "replica equals the world"
                );
                bodies.push(out);
            }
            if t > 1 && t != 4 {
                assert!(
                    bodies.windows(2).all(|w| w[0] == w[1]),
                    "same bytes at tick {t}"
                );
            }
            prev = Some(snap);
        }
    }

    #[test]
    fn radius_views_hold_exactly_what_is_near() {
        let params = GameParams {
            view_radius: 150.0,
            ..GameParams::default()
        };
        let r2 = super::super::interest::radius_sq_grid(params.view_radius);
        let mut world = World::new(params);
        let own = world.add_player().expect("an id is free");
        world.set_direction(own, 1.0, 0.3);
        let mut sync = ClientSync::new();
        let mut replica = Replica::new();
        let mut scratch = Delta::default();
        for t in 1..=60u32 {
            world.step();
            let snap = Arc::new(Snapshot::capture(&world, Tick(t)));
            let frame = TickFrame::build(Arc::clone(&snap), None, 150.0, &mut scratch)
                .expect("frame builds");
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
            assert_eq!(replica.entities(), &expected[..], "view at tick {t}");
        }
    }
}
