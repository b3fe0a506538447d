//! The immutable picture of one tick.

use tickstream_shared::{EntityState, Tick, view_checksum};

use crate::sim::World;

/// Every entity of a room at one tick, quantized as clients see it and sorted by id. Built once
/// per tick and shared (behind an `Arc`) by every client's delta builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The tick this picture shows.
    pub tick: Tick,
    /// All entities, ascending by id.
    pub entities: Vec<EntityState>,
    /// The view checksum of all entities: what a client that sees everything must hold.
    pub checksum: u32,
}

impl Snapshot {
    /// The picture of `world` at `tick`.
    #[must_use]
    pub fn capture(world: &World, tick: Tick) -> Self {
        let entities: Vec<EntityState> = world.entity_states().collect();
        let checksum = view_checksum(&entities);
        Self {
            tick,
            entities,
            checksum,
        }
    }

    /// One entity, if present.
    #[must_use]
    pub fn get(&self, id: tickstream_shared::EntityId) -> Option<&EntityState> {
        self.entities
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entities[i])
    }
}
