//! What one client was last sent, and the per-tick cache of shared delta bodies.

use std::ops::Range;
use std::sync::Arc;

use tickstream_shared::codec::CodecError;
use tickstream_shared::delta::diff_into;
use tickstream_shared::{Delta, EntityId, EntityState, Tick, view_checksum};

use super::frame::{encode_body, encode_header};
use super::interest::Grid;
use super::snapshot::Snapshot;

/// The delta bodies encoded during one tick, keyed by the baseline tick they start from.
///
/// When every client sees everything, all clients that were sent the previous tick need the
/// same delta: it is computed and encoded once, and each client's frame copies it. A client
/// that fell behind has an older baseline and gets (and shares) a body of its own.
#[derive(Debug, Default)]
pub struct BodyCache {
    tick: Option<Tick>,
    bodies: Vec<(Option<Tick>, Range<usize>)>,
    buf: Vec<u8>,
    delta: Delta,
}

impl BodyCache {
    /// Forgets the bodies of an earlier tick; buffers are kept for reuse.
    pub fn start_tick(&mut self, tick: Tick) {
        if self.tick != Some(tick) {
            self.tick = Some(tick);
            self.bodies.clear();
            self.buf.clear();
        }
    }

    /// Bodies encoded this tick (for tests and metrics).
    #[must_use]
    pub fn bodies_encoded(&self) -> usize {
        self.bodies.len()
    }

    fn body_for(
        &mut self,
        base: Option<&Snapshot>,
        cur: &Snapshot,
    ) -> Result<Range<usize>, CodecError> {
        let key = base.map(|b| b.tick);
        if let Some((_, range)) = self.bodies.iter().find(|(k, _)| *k == key) {
            return Ok(range.clone());
        }
        let base_entities = base.map_or(&[][..], |b| &b.entities[..]);
        diff_into(base_entities, &cur.entities, &mut self.delta);
        let start = self.buf.len();
        encode_body(&self.delta, &mut self.buf)?;
        let range = start..self.buf.len();
        self.bodies.push((key, range.clone()));
        Ok(range)
    }
}

/// One client's baseline: exactly what it holds, because WebSocket runs over TCP and every
/// frame handed to the writer reaches the client in order (or the connection dies).
#[derive(Debug, Default, Clone)]
pub struct ClientSync {
    /// With no view radius: the snapshot this client was last sent (`None` before the first).
    base: Option<Arc<Snapshot>>,
    /// With a view radius: the view this client was last sent, sorted by id.
    last_view: Vec<EntityState>,
    /// Scratch for the next view, swapped with `last_view` after each frame.
    next_view: Vec<EntityState>,
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

    /// Appends this client's update frame for `snap` to `out` and makes `snap` its baseline.
    ///
    /// `grid` indexes `snap` for a view radius, or is `None` when every client sees everything.
    pub fn build_frame(
        &mut self,
        snap: &Arc<Snapshot>,
        own: EntityId,
        grid: Option<&mut Grid>,
        ack_seq: u32,
        cache: &mut BodyCache,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        cache.start_tick(snap.tick);
        match grid {
            None => {
                let range = cache.body_for(self.base.as_deref(), snap)?;
                encode_header(snap.tick, ack_seq, snap.checksum, out)?;
                out.extend_from_slice(&cache.buf[range]);
            }
            Some(grid) => {
                self.next_view.clear();
                if let Some(center) = snap.get(own) {
                    grid.query(&snap.entities, center, &mut self.next_view);
                }
                diff_into(&self.last_view, &self.next_view, &mut cache.delta);
                encode_header(snap.tick, ack_seq, view_checksum(&self.next_view), out)?;
                encode_body(&cache.delta, out)?;
                std::mem::swap(&mut self.last_view, &mut self.next_view);
            }
        }
        self.base = Some(Arc::clone(snap));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::codec::decode_server;
    use tickstream_shared::{Replica, ServerMsg};

    use crate::sim::{GameParams, World};

    fn decode_apply(replica: &mut Replica, frame: &[u8]) {
        match decode_server(frame).expect("frame decodes") {
            ServerMsg::Update(u) => replica.apply(&u).expect("update applies"),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn clients_with_the_same_baseline_share_one_body() {
        let mut world = World::new(GameParams::default());
        let mut cache = BodyCache::default();
        let mut clients: Vec<(ClientSync, Replica)> = (0..3)
            .map(|_| (ClientSync::new(), Replica::new()))
            .collect();
        for t in 1..=5u32 {
            world.step();
            let snap = Arc::new(Snapshot::capture(&world, Tick(t)));
            for (i, (sync, replica)) in clients.iter_mut().enumerate() {
                // Client 2 skips tick 3, as a slow client would: its next delta merges two.
                if i == 2 && t == 3 {
                    continue;
                }
                let mut out = Vec::new();
                sync.build_frame(&snap, EntityId(0), None, 0, &mut cache, &mut out)
                    .expect("frame builds");
                decode_apply(replica, &out);
                assert_eq!(
                    replica.entities(),
                    &snap.entities[..],
                    "replica equals the world"
                );
            }
            let expected = if t == 4 { 2 } else { 1 };
            assert_eq!(
                cache.bodies_encoded(),
                expected,
                "bodies encoded at tick {t}"
            );
        }
    }

    #[test]
    fn radius_views_hold_exactly_what_is_near() {
        let params = GameParams {
            view_radius: 150.0,
            ..GameParams::default()
        };
        let mut grid = Grid::new(params.view_radius);
        let r2 = grid.radius_sq();
        let mut world = World::new(params);
        let own = world.add_player().expect("an id is free");
        world.set_direction(own, 1.0, 0.3);
        let mut cache = BodyCache::default();
        let mut sync = ClientSync::new();
        let mut replica = Replica::new();
        for t in 1..=60u32 {
            world.step();
            let snap = Arc::new(Snapshot::capture(&world, Tick(t)));
            grid.rebuild(&snap.entities);
            let mut out = Vec::new();
            sync.build_frame(&snap, own, Some(&mut grid), 0, &mut cache, &mut out)
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
