//! The client's copy of its view.

use crate::{Delta, EntityId, EntityState, Tick, Update, view_checksum};

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
    scratch: Vec<EntityState>,
    tick: Option<Tick>,
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
        self.tick = Some(update.tick);
        self.ack_seq = update.ack_seq;
        Ok(())
    }

    /// Applies the four lists of a delta: despawns, spawns, position changes, field changes.
    pub fn apply_delta(&mut self, delta: &Delta) -> Result<(), ReplicaError> {
        if !delta.despawns.is_empty() {
            let mut gone = delta.despawns.iter().peekable();
            let mut missing = None;
            self.entities.retain(|e| {
                while let Some(id) = gone.peek() {
                    if **id < e.id {
                        missing.get_or_insert(**id);
                        gone.next();
                    } else {
                        break;
                    }
                }
                if gone.peek() == Some(&&e.id) {
                    gone.next();
                    false
                } else {
                    true
                }
            });
            if let Some(id) = missing.or_else(|| gone.next().copied()) {
                return Err(ReplicaError::UnknownDespawn(id));
            }
        }
        if !delta.spawns.is_empty() {
            self.scratch.clear();
            self.scratch
                .reserve(self.entities.len() + delta.spawns.len());
            let (mut i, mut j) = (0, 0);
            while i < self.entities.len() || j < delta.spawns.len() {
                match (self.entities.get(i), delta.spawns.get(j)) {
                    (Some(a), Some(b)) if a.id == b.id => {
                        return Err(ReplicaError::DuplicateSpawn(b.id));
                    }
                    (Some(a), Some(b)) if a.id < b.id => {
                        self.scratch.push(*a);
                        i += 1;
                    }
                    (Some(a), None) => {
                        self.scratch.push(*a);
                        i += 1;
                    }
                    (_, Some(b)) => {
                        self.scratch.push(*b);
                        j += 1;
                    }
                    (None, None) => break,
                }
            }
            std::mem::swap(&mut self.entities, &mut self.scratch);
        }
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
