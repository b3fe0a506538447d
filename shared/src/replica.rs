//! The client's copy of its view.
//!
//! Besides each entity's state the replica keeps its position one update earlier, and the
//! ticks between those two updates: what protocol v3's prediction extrapolates from
//! ([`crate::delta3::predict`]).

use crate::delta3::{Delta3, predict};
use crate::{Delta, EntityId, EntityState, Tick, Update, Update3, view_checksum};

/// Why an update could not be applied: the client and server disagree (a desync) or the
/// server sent something inconsistent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplicaError {
    /// A despawn for an entity the replica does not hold.
    #[error("despawn of unknown entity {0:?}")]
    UnknownDespawn(EntityId),
    /// A spawn for an entity the replica already holds.
    #[error("spawn of entity {0:?} that is already present")]
    DuplicateSpawn(EntityId),
    /// A change for an entity the replica does not hold.
    #[error("change of unknown entity {0:?}")]
    UnknownChange(EntityId),
    /// A field change for an entity the replica does not hold.
    #[error("field change of unknown entity {0:?}")]
    UnknownFieldChange(EntityId),
    /// A change that moves a coordinate below 0 or past `u32::MAX` grid points.
    #[error("change moves entity {0:?} out of the grid")]
    OutOfGrid(EntityId),
    /// A v3 update that counts a different number of held entities than the replica holds.
    #[error("update moves {got} held entities, the replica holds {have}")]
    HeldMismatch {
        /// Held entities in the replica after the despawns.
        have: u32,
        /// Held entities the update codes.
        got: u32,
    },
    /// A v3 update whose tick gap is 0.
    #[error("update with a tick gap of 0")]
    ZeroTickGap,
    /// An update whose tick is not after the replica's tick.
    #[error("update for tick {got:?} after tick {have:?}")]
    TickNotAfter {
        /// The replica's tick.
        have: Tick,
        /// The update's tick.
        got: Tick,
    },
    /// After applying the delta, the view does not hash to the server's checksum.
    #[error("checksum mismatch at tick {tick:?}: server {server:#010x}, replica {replica:#010x}")]
    ChecksumMismatch {
        /// The update's tick.
        tick: Tick,
        /// The checksum the server sent.
        server: u32,
        /// The checksum of the replica.
        replica: u32,
    },
}

/// A client's view of its room, kept up to date by applying [`Update`]s in order.
///
/// Entities are kept sorted by id, the order deltas use, so applying a delta is a linear merge.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    entities: Vec<EntityState>,
    /// `prev[i]` is the position of `entities[i]` one update earlier; its position now if it
    /// was spawned by the last update (one state held: it predicts as standing still).
    prev: Vec<[u32; 2]>,
    scratch: Vec<EntityState>,
    scratch_prev: Vec<[u32; 2]>,
    /// Scratch for v3: the residual of every held entity, (0, 0) where the update has no move.
    residuals: Vec<[i64; 2]>,
    tick: Option<Tick>,
    /// Ticks between the last two updates (0 after the first).
    last_gap: u32,
    ack_seq: u32,
}

impl Replica {
    /// An empty replica, as a client holds before its first update.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The entities in view, sorted by id.
    #[must_use]
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    /// One entity, if in view.
    #[must_use]
    pub fn get(&self, id: EntityId) -> Option<&EntityState> {
        self.entities
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entities[i])
    }

    /// The tick of the last update applied.
    #[must_use]
    pub fn tick(&self) -> Option<Tick> {
        self.tick
    }

    /// The latest input sequence number the server has acknowledged.
    #[must_use]
    pub fn ack_seq(&self) -> u32 {
        self.ack_seq
    }

    /// The view checksum of what the replica holds.
    #[must_use]
    pub fn checksum(&self) -> u32 {
        view_checksum(&self.entities)
    }

    /// Applies an update and verifies the server's checksum. On error the replica is left in an
    /// unspecified state: a client should reconnect.
    pub fn apply(&mut self, update: &Update) -> Result<(), ReplicaError> {
        self.apply_unverified(update)?;
        let replica = self.checksum();
        if replica != update.checksum.0 {
            return Err(ReplicaError::ChecksumMismatch {
                tick: update.tick,
                server: update.checksum.0,
                replica,
            });
        }
        Ok(())
    }

    /// Applies an update without computing the checksum: what a load generator does for most
    /// of its bots while a sample verifies everything.
    pub fn apply_unverified(&mut self, update: &Update) -> Result<(), ReplicaError> {
        if let Some(have) = self.tick
            && !update.tick.is_after(have)
        {
            return Err(ReplicaError::TickNotAfter {
                have,
                got: update.tick,
            });
        }
        self.apply_delta(&update.delta)?;
        self.last_gap = self.tick.map_or(0, |t| update.tick.since(t));
        self.tick = Some(update.tick);
        self.ack_seq = update.ack_seq;
        Ok(())
    }

    /// Applies a protocol v3 update and verifies the server's checksum. On error the replica
    /// is left in an unspecified state: a client should reconnect.
    pub fn apply3(&mut self, update: &Update3) -> Result<(), ReplicaError> {
        let tick = self.apply3_unverified(update)?;
        let replica = self.checksum();
        if replica != update.checksum.0 {
            return Err(ReplicaError::ChecksumMismatch {
                tick,
                server: update.checksum.0,
                replica,
            });
        }
        Ok(())
    }

    /// [`Replica::apply3`] without computing the checksum; returns the update's tick.
    pub fn apply3_unverified(&mut self, update: &Update3) -> Result<Tick, ReplicaError> {
        if update.tick_gap == 0 {
            return Err(ReplicaError::ZeroTickGap);
        }
        let base = self.tick.map_or(0, |t| t.0);
        let tick =
            base.checked_add(update.tick_gap)
                .map(Tick)
                .ok_or(ReplicaError::TickNotAfter {
                    have: Tick(base),
                    got: Tick(u32::MAX),
                })?;
        self.apply_delta3(&update.delta, update.tick_gap)?;
        self.last_gap = if self.tick.is_some() {
            update.tick_gap
        } else {
            0
        };
        self.tick = Some(tick);
        self.ack_seq = self.ack_seq.wrapping_add(update.ack_delta);
        Ok(tick)
    }

    /// Applies a v3 delta `ticks_since` ticks after the replica's tick: despawns, the motion of
    /// every held entity (its prediction plus its residual), spawns, field changes.
    pub fn apply_delta3(&mut self, delta: &Delta3, ticks_since: u32) -> Result<(), ReplicaError> {
        self.despawn(&delta.despawns)?;
        let m = &delta.motion;
        let held = self.entities.len() as u32;
        if m.held != held {
            return Err(ReplicaError::HeldMismatch {
                have: held,
                got: m.held,
            });
        }
        let g = self.last_gap;
        // The moves scattered over a residual per held entity, so that the loop below has no
        // branch on whether an entity moved: in a busy view about half of them do, at random,
        // and a branch on it mispredicted about once per entity.
        self.residuals.clear();
        self.residuals.resize(self.entities.len(), [0; 2]);
        for mv in &m.moves {
            // The decoder checked every index against `held`.
            debug_assert!((mv.index as usize) < self.residuals.len(), "move past held");
            if let Some(r) = self.residuals.get_mut(mv.index as usize) {
                *r = [mv.rx, mv.ry];
            }
        }
        for ((e, prev), r) in self
            .entities
            .iter_mut()
            .zip(self.prev.iter_mut())
            .zip(&self.residuals)
        {
            let x = i64::from(predict(e.x, prev[0], ticks_since, g)) + r[0];
            let y = i64::from(predict(e.y, prev[1], ticks_since, g)) + r[1];
            // Below 0 or past u32::MAX sets a bit above the low 32 (never taken: predicted).
            if (x as u64 | y as u64) >> 32 != 0 {
                return Err(ReplicaError::OutOfGrid(e.id));
            }
            *prev = [e.x, e.y];
            e.x = x as u32;
            e.y = y as u32;
        }
        self.spawn(&delta.spawns)?;
        let mut i = 0;
        for f in &delta.field_changes {
            while i < self.entities.len() && self.entities[i].id < f.id {
                i += 1;
            }
            match self.entities.get_mut(i) {
                Some(e) if e.id == f.id => {
                    for (b, v) in e.fields.iter_mut().enumerate() {
                        if f.mask & (1 << b) != 0 {
                            *v = v.wrapping_add(f.values[b]);
                        }
                    }
                }
                _ => return Err(ReplicaError::UnknownFieldChange(f.id)),
            }
        }
        Ok(())
    }

    /// Applies the four lists of a delta: despawns, spawns, position changes, field changes.
    pub fn apply_delta(&mut self, delta: &Delta) -> Result<(), ReplicaError> {
        self.despawn(&delta.despawns)?;
        // Every entity held on: its state now becomes the previous one.
        for (e, prev) in self.entities.iter().zip(self.prev.iter_mut()) {
            *prev = [e.x, e.y];
        }
        self.spawn(&delta.spawns)?;
        let mut i = 0;
        for c in &delta.changes {
            while i < self.entities.len() && self.entities[i].id < c.id {
                i += 1;
            }
            let e = match self.entities.get_mut(i) {
                Some(e) if e.id == c.id => e,
                _ => return Err(ReplicaError::UnknownChange(c.id)),
            };
            e.x =
                e.x.checked_add_signed(c.dx)
                    .ok_or(ReplicaError::OutOfGrid(c.id))?;
            e.y =
                e.y.checked_add_signed(c.dy)
                    .ok_or(ReplicaError::OutOfGrid(c.id))?;
        }
        let mut i = 0;
        for f in &delta.field_changes {
            while i < self.entities.len() && self.entities[i].id < f.id {
                i += 1;
            }
            match self.entities.get_mut(i) {
                Some(e) if e.id == f.id => f.apply_to(&mut e.fields),
                _ => return Err(ReplicaError::UnknownFieldChange(f.id)),
            }
        }
        Ok(())
    }

    /// Removes the listed entities (ascending), which must all be held.
    fn despawn(&mut self, despawns: &[EntityId]) -> Result<(), ReplicaError> {
        if despawns.is_empty() {
            return Ok(());
        }
        let mut gone = despawns.iter().peekable();
        let mut missing = None;
        let mut keep = 0;
        for i in 0..self.entities.len() {
            let id = self.entities[i].id;
            while let Some(g) = gone.peek() {
                if **g < id {
                    missing.get_or_insert(**g);
                    gone.next();
                } else {
                    break;
                }
            }
            if gone.peek() == Some(&&id) {
                gone.next();
            } else {
                self.entities[keep] = self.entities[i];
                self.prev[keep] = self.prev[i];
                keep += 1;
            }
        }
        self.entities.truncate(keep);
        self.prev.truncate(keep);
        match missing.or_else(|| gone.next().copied()) {
            Some(id) => Err(ReplicaError::UnknownDespawn(id)),
            None => Ok(()),
        }
    }

    /// Inserts the listed entities (ascending), none of which may be held; each is held in one
    /// state.
    fn spawn(&mut self, spawns: &[EntityState]) -> Result<(), ReplicaError> {
        if spawns.is_empty() {
            return Ok(());
        }
        self.scratch.clear();
        self.scratch_prev.clear();
        self.scratch.reserve(self.entities.len() + spawns.len());
        self.scratch_prev
            .reserve(self.entities.len() + spawns.len());
        let (mut i, mut j) = (0, 0);
        loop {
            match (self.entities.get(i), spawns.get(j)) {
                (Some(a), Some(b)) if a.id == b.id => {
                    return Err(ReplicaError::DuplicateSpawn(b.id));
                }
                (Some(a), Some(b)) if a.id < b.id => {
                    self.scratch.push(*a);
                    self.scratch_prev.push(self.prev[i]);
                    i += 1;
                }
                (Some(a), None) => {
                    self.scratch.push(*a);
                    self.scratch_prev.push(self.prev[i]);
                    i += 1;
                }
                (_, Some(b)) => {
                    self.scratch.push(*b);
                    self.scratch_prev.push([b.x, b.y]);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        std::mem::swap(&mut self.entities, &mut self.scratch);
        std::mem::swap(&mut self.prev, &mut self.scratch_prev);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::diff;
    use crate::messages::ViewChecksum;

    fn e(id: u32, x: u32, y: u32) -> EntityState {
        EntityState::new(EntityId(id), 1, x, y)
    }

    fn update(tick: u32, base: &[EntityState], cur: &[EntityState]) -> Update {
        Update {
            tick: Tick(tick),
            ack_seq: 0,
            checksum: ViewChecksum(view_checksum(cur)),
            delta: diff(base, cur),
            events: vec![],
        }
    }

    #[test]
    fn applies_a_sequence_of_updates() {
        let v1 = [e(1, 1, 1), e(3, 3, 3)];
        let v2 = [e(2, 2, 2), e(3, 4, 3).with_field(1, -300)];
        let mut r = Replica::new();
        r.apply(&update(1, &[], &v1)).expect("first update applies");
        r.apply(&update(2, &v1, &v2))
            .expect("second update applies");
        assert_eq!(r.entities(), &v2, "replica holds the second view");
        assert_eq!(r.tick(), Some(Tick(2)), "tick advanced");
    }

    #[test]
    fn inconsistent_updates_are_errors() {
        let mut r = Replica::new();
        let mut u = update(1, &[], &[e(1, 1, 1)]);
        u.checksum = ViewChecksum(0);
        assert!(
            matches!(r.apply(&u), Err(ReplicaError::ChecksumMismatch { .. })),
            "a wrong checksum is a desync"
        );
        let mut r = Replica::new();
        let u = update(1, &[e(9, 1, 1)], &[]);
        assert_eq!(
            r.apply(&u),
            Err(ReplicaError::UnknownDespawn(EntityId(9))),
            "despawn of an entity never seen"
        );
        let mut r = Replica::new();
        r.apply(&update(5, &[], &[])).expect("empty update applies");
        assert!(
            matches!(
                r.apply(&update(5, &[], &[])),
                Err(ReplicaError::TickNotAfter { .. })
            ),
            "ticks must advance"
        );
    }
}
