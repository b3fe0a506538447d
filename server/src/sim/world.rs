//! The world of one room and its step function.

use std::f64::consts::TAU;

use glam::DVec2;
use tickstream_shared::{EntityId, EntityState, Input, Mulberry32, quant};

use super::GameParams;

/// Entity kind of a player.
pub const KIND_PLAYER: u8 = 0;
/// Entity kind of an NPC.
pub const KIND_NPC: u8 = 1;

/// Why an input was refused. The connection stays open; the input is ignored and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A direction component is NaN or infinite.
    #[error("direction is not finite")]
    NotFinite,
    /// A direction component is outside `[-1, 1]`.
    #[error("direction component outside [-1, 1]")]
    OutOfRange,
    /// The sequence number is not greater than the previous input's.
    #[error("sequence number did not increase")]
    StaleSeq,
}

impl InputError {
    /// Every variant, for creating the metric series at zero.
    pub const ALL: [Self; 3] = [Self::NotFinite, Self::OutOfRange, Self::StaleSeq];

    /// A short label for metrics.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NotFinite => "not_finite",
            Self::OutOfRange => "out_of_range",
            Self::StaleSeq => "stale_seq",
        }
    }
}

/// Checks an input's direction; the sequence check needs the client's history and lives with
/// the caller.
pub fn validate_direction(input: &Input) -> Result<(), InputError> {
    if !(input.dx.is_finite() && input.dy.is_finite()) {
        return Err(InputError::NotFinite);
    }
    if input.dx.abs() > 1.0 || input.dy.abs() > 1.0 {
        return Err(InputError::OutOfRange);
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Npc {
    id: EntityId,
    pos: DVec2,
    heading: f64,
}

#[derive(Debug, Clone)]
struct Player {
    id: EntityId,
    pos: DVec2,
    /// The normalised direction of the latest accepted input; zero stands still.
    dir: DVec2,
}

/// The entities of one room: NPCs with ids `0..npc_count`, then players in join order with ids
/// that keep increasing, so iterating NPCs then players yields ascending ids.
#[derive(Debug, Clone)]
pub struct World {
    params: GameParams,
    npcs: Vec<Npc>,
    players: Vec<Player>,
    npc_rng: Mulberry32,
    player_rng: Mulberry32,
    next_id: u32,
}

impl World {
    /// A new world with its NPCs spawned from the NPC seed.
    #[must_use]
    pub fn new(params: GameParams) -> Self {
        let mut rng = Mulberry32::new(params.npc_seed);
        let npcs = (0..params.npc_count)
            .map(|i| {
                let x = rng.next_f64() * params.world_width;
                let y = rng.next_f64() * params.world_height;
                let heading = rng.next_f64() * TAU;
                Npc {
                    id: EntityId(i),
                    pos: DVec2::new(x, y),
                    heading,
                }
            })
            .collect();
        Self {
            player_rng: Mulberry32::new(params.player_seed),
            next_id: params.npc_count,
            npc_rng: rng,
            npcs,
            players: Vec::new(),
            params,
        }
    }

    /// The game's settings.
    #[must_use]
    pub fn params(&self) -> &GameParams {
        &self.params
    }

    /// Adds a player at the next position of the player generator; `None` once the room has
    /// handed out every id (after four billion joins).
    pub fn add_player(&mut self) -> Option<EntityId> {
        let id = EntityId(self.next_id);
        self.next_id = self.next_id.checked_add(1)?;
        let x = self.player_rng.next_f64() * self.params.world_width;
        let y = self.player_rng.next_f64() * self.params.world_height;
        self.players.push(Player {
            id,
            pos: DVec2::new(x, y),
            dir: DVec2::ZERO,
        });
        Some(id)
    }

    /// Removes a player; unknown ids are ignored.
    pub fn remove_player(&mut self, id: EntityId) {
        if let Ok(i) = self.players.binary_search_by_key(&id, |p| p.id) {
            self.players.remove(i);
        }
    }

    /// Sets a player's movement direction from a validated input; `(0, 0)` stands still.
    pub fn set_direction(&mut self, id: EntityId, dx: f32, dy: f32) {
        if let Ok(i) = self.players.binary_search_by_key(&id, |p| p.id) {
            self.players[i].dir = DVec2::new(f64::from(dx), f64::from(dy)).normalize_or_zero();
        }
    }

    /// Number of entities.
    #[must_use]
    pub fn len(&self) -> usize {
        self.npcs.len() + self.players.len()
    }

    /// True when the world has no entities.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of players.
    #[must_use]
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// One fixed step: NPCs in index order, then players in join order.
    pub fn step(&mut self) {
        let (w, h) = (self.params.world_width, self.params.world_height);
        let inside = |v: f64, max: f64| (0.0..=max).contains(&v);
        for npc in &mut self.npcs {
            if self.npc_rng.next_f64() < self.params.npc_turn_chance {
                npc.heading = self.npc_rng.next_f64() * TAU;
            }
            let nx = npc.pos.x + npc.heading.cos() * self.params.npc_speed;
            let ny = npc.pos.y + npc.heading.sin() * self.params.npc_speed;
            if inside(nx, w) && inside(ny, h) {
                npc.pos = DVec2::new(nx, ny);
            } else {
                npc.pos = DVec2::new(nx.clamp(0.0, w), ny.clamp(0.0, h));
                npc.heading = self.npc_rng.next_f64() * TAU;
            }
        }
        let max = DVec2::new(w, h);
        for p in &mut self.players {
            p.pos = (p.pos + p.dir * self.params.player_speed).clamp(DVec2::ZERO, max);
        }
    }

    /// A player's exact position.
    #[must_use]
    pub fn player_position(&self, id: EntityId) -> Option<DVec2> {
        self.players
            .binary_search_by_key(&id, |p| p.id)
            .ok()
            .map(|i| self.players[i].pos)
    }

    /// Every entity as clients see it (quantized), in ascending id order.
    pub fn entity_states(&self) -> impl Iterator<Item = EntityState> + '_ {
        let npcs = self.npcs.iter().map(|n| state(n.id, KIND_NPC, n.pos));
        let players = self.players.iter().map(|p| state(p.id, KIND_PLAYER, p.pos));
        npcs.chain(players)
    }
}

fn state(id: EntityId, kind: u8, pos: DVec2) -> EntityState {
    EntityState {
        id,
        kind,
        x: quant::quantize(pos.x),
        y: quant::quantize(pos.y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dx: f32, dy: f32) -> Input {
        Input {
            seq: 1,
            dx,
            dy,
            buttons: 0,
        }
    }

    #[test]
    fn same_seed_same_world() {
        let mut a = World::new(GameParams::default());
        let mut b = World::new(GameParams::default());
        for _ in 0..100 {
            a.step();
            b.step();
        }
        assert!(a.entity_states().eq(b.entity_states()), "deterministic");
    }

    #[test]
    fn first_npc_matches_the_reference_generator() {
        let w = World::new(GameParams::default());
        let mut r = Mulberry32::new(0xC0FFEE);
        let (x, y) = (r.next_f64() * 1000.0, r.next_f64() * 1000.0);
        let first = w.entity_states().next().expect("there are NPCs");
        assert_eq!(first.x, quant::quantize(x), "x from the first draw");
        assert_eq!(first.y, quant::quantize(y), "y from the second draw");
    }

    #[test]
    fn npcs_stay_in_the_arena() {
        let mut w = World::new(GameParams::default());
        for _ in 0..2_000 {
            w.step();
        }
        assert!(
            w.entity_states().all(|e| e.x <= 64_000 && e.y <= 64_000),
            "every NPC inside [0,1000]²"
        );
    }

    #[test]
    fn players_move_at_speed_diagonally_too() {
        let mut w = World::new(GameParams {
            npc_count: 0,
            ..GameParams::default()
        });
        let id = w.add_player().expect("an id is free");
        let start = w.player_position(id).expect("player exists");
        w.set_direction(id, 1.0, 1.0);
        w.step();
        let moved = w.player_position(id).expect("player exists") - start;
        assert!(
            (moved.length() - 5.0).abs() < 1e-9,
            "moved {moved}, not 5 units"
        );
    }

    #[test]
    fn invalid_directions_are_refused() {
        assert_eq!(
            validate_direction(&input(f32::NAN, 0.0)),
            Err(InputError::NotFinite),
            "NaN"
        );
        assert_eq!(
            validate_direction(&input(0.0, f32::INFINITY)),
            Err(InputError::NotFinite),
            "infinity"
        );
        assert_eq!(
            validate_direction(&input(1.5, 0.0)),
            Err(InputError::OutOfRange),
            "1.5"
        );
        assert_eq!(
            validate_direction(&input(-1.0, 1.0)),
            Ok(()),
            "the corners are fine"
        );
    }
}
