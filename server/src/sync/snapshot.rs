//! The immutable picture of one tick.

use std::sync::atomic::{AtomicU64, Ordering};

use tickstream_shared::{EntityId, EntityState, Tick};

use crate::sim::GameWorld;

/// Hands out layout numbers: unique in the process, so two snapshots share one only when
/// one was captured after the other in the same room with the same entities.
static NEXT_LAYOUT: AtomicU64 = AtomicU64::new(1);

/// Every entity of a room at one tick, quantized as clients see it and sorted by id. Built once
/// per tick and shared (behind an `Arc`) by every client's frame builder.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The tick this picture shows.
    pub tick: Tick,
    /// All entities, ascending by id.
    pub entities: Vec<EntityState>,
    /// `hashes[i]` is `entities[i].hash()`: computed once here instead of once per client that
    /// sees the entity.
    pub hashes: Vec<u32>,
    /// The view checksum of all entities: what a client that sees everything must hold.
    pub checksum: u32,
    /// Equal for two snapshots only when they list the same ids with the same kinds, in the
    /// same order, and one was captured after the other in the same room: an index then
    /// names the same entity in both, and a view diff can merge indices alone.
    pub layout: u64,
    /// `pos[i]` is `entities[i]`'s position: 8 bytes per entity, which a client's view diff
    /// reads instead of a whole entity.
    pub pos: Vec<[u32; 2]>,
    /// With the same layout as the snapshot captured just before (`Some(its tick, bits)`): bit
    /// `i` is set when entity `i`'s game fields differ from it.
    pub fields_changed: Option<(Tick, Vec<u64>)>,
}

/// Two snapshots are the same picture when they show the same tick and entities; layout
/// numbers and the rest follow from how they were captured.
impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.tick == other.tick && self.entities == other.entities
    }
}

impl Eq for Snapshot {}

impl Snapshot {
    /// The picture of `world` at `tick`: what the game replicates, sorted by id (games that
    /// list in id order, as the built-in ones do, skip the sort).
    #[must_use]
    pub fn capture(world: &dyn GameWorld, tick: Tick) -> Self {
        Self::capture_after(world, tick, None)
    }

    /// [`Snapshot::capture`] for the tick after `prev` in the same room: when the entities
    /// are the same ones (ids and kinds), the new snapshot keeps `prev`'s layout and notes
    /// whose game fields changed.
    #[must_use]
    pub fn capture_after(world: &dyn GameWorld, tick: Tick, prev: Option<&Snapshot>) -> Self {
        let mut entities = Vec::with_capacity(world.entity_count());
        world.replicate(&mut entities);
        if !entities.is_sorted_by_key(|e| e.id) {
            entities.sort_unstable_by_key(|e| e.id);
        }
        Self::of_entities(tick, entities, prev)
    }

    /// The snapshot of `entities` (ascending by id) at `tick`, after `prev` as in
    /// [`Snapshot::capture_after`].
    #[must_use]
    pub fn of_entities(tick: Tick, entities: Vec<EntityState>, prev: Option<&Snapshot>) -> Self {
        let hashes: Vec<u32> = entities.iter().map(EntityState::hash).collect();
        let checksum = hashes.iter().fold(0u32, |a, h| a.wrapping_add(*h));
        let pos = entities.iter().map(|e| [e.x, e.y]).collect();
        let same = prev.filter(|p| {
            p.entities.len() == entities.len()
                && p.entities
                    .iter()
                    .zip(&entities)
                    .all(|(a, b)| a.id == b.id && a.kind == b.kind)
        });
        let (layout, fields_changed) = match same {
            Some(p) => {
                let mut bits = vec![0u64; entities.len().div_ceil(64)];
                for (i, (a, b)) in p.entities.iter().zip(&entities).enumerate() {
                    bits[i / 64] |= u64::from(a.fields != b.fields) << (i % 64);
                }
                (p.layout, Some((p.tick, bits)))
            }
            None => (NEXT_LAYOUT.fetch_add(1, Ordering::Relaxed), None),
        };
        Self {
            tick,
            entities,
            hashes,
            checksum,
            layout,
            pos,
            fields_changed,
        }
    }

    /// The index of an entity, if present.
    #[must_use]
    pub fn index_of(&self, id: EntityId) -> Option<usize> {
        self.entities.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// One entity, if present.
    #[must_use]
    pub fn get(&self, id: EntityId) -> Option<&EntityState> {
        self.index_of(id).map(|i| &self.entities[i])
    }

    /// The bits of [`Snapshot::fields_changed`] when they compare with the snapshot of tick
    /// `base`.
    #[must_use]
    pub fn fields_changed_since(&self, base: Tick) -> Option<&[u64]> {
        match &self.fields_changed {
            Some((t, bits)) if *t == base => Some(bits),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: u32, kind: u8, x: u32, f0: i32) -> EntityState {
        let mut s = EntityState::new(EntityId(id), kind, x, 7);
        s.fields[0] = f0;
        s
    }

    #[test]
    fn layouts_follow_the_ids_and_kinds() {
        let a = Snapshot::of_entities(Tick(1), vec![e(1, 0, 5, 0), e(3, 1, 6, 0)], None);
        let b = Snapshot::of_entities(Tick(2), vec![e(1, 0, 9, 0), e(3, 1, 2, 4)], Some(&a));
        assert_eq!(a.layout, b.layout, "same ids and kinds: same layout");
        assert_eq!(
            b.fields_changed_since(Tick(1)),
            Some(&[0b10][..]),
            "entity 3's field changed"
        );
        assert_eq!(
            b.fields_changed_since(Tick(0)),
            None,
            "bits compare with tick 1 only"
        );
        assert_eq!(b.pos, vec![[9, 7], [2, 7]], "dense positions");
        let kind = Snapshot::of_entities(Tick(3), vec![e(1, 0, 9, 0), e(3, 2, 2, 4)], Some(&b));
        assert_ne!(kind.layout, b.layout, "a kind changed: a new layout");
        let ids = Snapshot::of_entities(Tick(4), vec![e(1, 0, 9, 0)], Some(&kind));
        assert_ne!(ids.layout, kind.layout, "an entity left: a new layout");
        let fresh = Snapshot::of_entities(Tick(2), vec![e(1, 0, 9, 0), e(3, 1, 2, 4)], None);
        assert_ne!(
            fresh.layout, b.layout,
            "without a predecessor: a layout of its own"
        );
        assert_eq!(
            fresh, b,
            "the same picture compares equal whatever its layout"
        );
    }
}
