//! The immutable picture of one tick.

use tickstream_shared::{EntityId, EntityState, Tick};

use crate::sim::GameWorld;

/// Every entity of a room at one tick, quantized as clients see it and sorted by id. Built once
/// per tick and shared (behind an `Arc`) by every client's frame builder.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Snapshot {
    /// The picture of `world` at `tick`: what the game replicates, sorted by id (games that
    /// list in id order, as the built-in ones do, skip the sort).
    #[must_use]
    pub fn capture(world: &dyn GameWorld, tick: Tick) -> Self {
        let mut entities = Vec::with_capacity(world.entity_count());
        world.replicate(&mut entities);
        if !entities.is_sorted_by_key(|e| e.id) {
            entities.sort_unstable_by_key(|e| e.id);
        }
        let hashes: Vec<u32> = entities.iter().map(EntityState::hash).collect();
        let checksum = hashes.iter().fold(0u32, |a, h| a.wrapping_add(*h));
        Self {
            tick,
            entities,
            hashes,
            checksum,
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
}
