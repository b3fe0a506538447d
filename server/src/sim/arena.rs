//! The reference arena (`../shared/REFERENCE-SCENARIO.md` in the design notes): NPCs wander,
//! players move at a fixed speed. Built on the game seam like any studio's game.

use std::f64::consts::TAU;

use glam::DVec2;
use tickstream_shared::{EntityId, EntityState, FieldSpec, MoveRule, Mulberry32, quant};

use super::GameParams;
use super::game::{Audience, Game, GameInfo, GameWorld, PlayerInput, RestoreError, StepCtx};

/// Event kind: a player joined (sent to everyone with `game.announce_players`; `entity` is the
/// player).
pub const EVENT_JOINED: u16 = 0;
/// Event kind: a player left for good (as [`EVENT_JOINED`]).
pub const EVENT_LEFT: u16 = 1;

/// The reference arena, as a [`Game`].
#[derive(Debug, Clone)]
pub struct Arena {
    info: GameInfo,
    params: GameParams,
}

impl Arena {
    /// The arena with these settings.
    #[must_use]
    pub fn new(params: GameParams) -> Self {
        let info = GameInfo {
            name: "arena".into(),
            tick_rate_hz: params.tick_rate_hz,
            world_width: params.world_width,
            world_height: params.world_height,
            view_radius: params.view_radius,
            kinds: vec!["player".into(), "npc".into()],
            fields: Vec::<FieldSpec>::new(),
            event_kinds: vec!["joined".into(), "left".into()],
            move_rule: MoveRule::Walk {
                speed: params.player_speed as f32,
            },
        };
        Self { info, params }
    }
}

impl Game for Arena {
    fn info(&self) -> &GameInfo {
        &self.info
    }

    fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
        // The reference scenario pins its own seeds (NPCs and player spawns), so that every
        // room and every run of the benchmark starts from the same world.
        Box::new(ArenaWorld::new(self.params.clone()))
    }

    fn settings(&self) -> String {
        // Plain numbers only: serializing them cannot fail.
        serde_json::to_string(&self.params).unwrap_or_default()
    }

    fn restore(&self, _room: &str, saved: &[u8]) -> Result<Box<dyn GameWorld>, RestoreError> {
        ArenaWorld::restore(self.params.clone(), saved).map(|w| Box::new(w) as Box<dyn GameWorld>)
    }
}

/// The saved form of an arena world (format 1): exact `f64` bits and both generators' states.
#[derive(bincode::Encode, bincode::Decode)]
struct SavedArena {
    /// Always [`SAVED_ARENA_FORMAT`] for this layout.
    format: u16,
    /// `(id, pos, heading)` in id order.
    npcs: Vec<(u32, [f64; 2], f64)>,
    /// `(id, pos, dir)` in id order.
    players: Vec<(u32, [f64; 2], [f64; 2])>,
    npc_rng: u32,
    player_rng: u32,
    next_id: u32,
}

/// The layout [`SavedArena`] is in.
const SAVED_ARENA_FORMAT: u16 = 1;

/// Entity kind of a player.
pub const KIND_PLAYER: u8 = 0;
/// Entity kind of an NPC.
pub const KIND_NPC: u8 = 1;

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
pub struct ArenaWorld {
    params: GameParams,
    npcs: Vec<Npc>,
    players: Vec<Player>,
    npc_rng: Mulberry32,
    player_rng: Mulberry32,
    next_id: u32,
}

impl ArenaWorld {
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

    /// The world [`GameWorld::save`] saved, under this server's `params`.
    pub fn restore(params: GameParams, saved: &[u8]) -> Result<Self, RestoreError> {
        let malformed = |e: String| RestoreError::Malformed(e);
        let (s, _): (SavedArena, usize) =
            bincode::decode_from_slice(saved, bincode::config::standard())
                .map_err(|e| malformed(e.to_string()))?;
        if s.format != SAVED_ARENA_FORMAT {
            return Err(malformed(format!("unknown arena format {}", s.format)));
        }
        let v = |[x, y]: [f64; 2]| DVec2::new(x, y);
        let ordered = s.npcs.windows(2).all(|w| w[0].0 < w[1].0)
            && s.players.windows(2).all(|w| w[0].0 < w[1].0);
        if !ordered {
            return Err(malformed("entities out of id order".into()));
        }
        Ok(Self {
            params,
            npcs: s
                .npcs
                .into_iter()
                .map(|(id, pos, heading)| Npc {
                    id: EntityId(id),
                    pos: v(pos),
                    heading,
                })
                .collect(),
            players: s
                .players
                .into_iter()
                .map(|(id, pos, dir)| Player {
                    id: EntityId(id),
                    pos: v(pos),
                    dir: v(dir),
                })
                .collect(),
            npc_rng: Mulberry32::new(s.npc_rng),
            player_rng: Mulberry32::new(s.player_rng),
            next_id: s.next_id,
        })
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
    EntityState::new(id, kind, quant::quantize(pos.x), quant::quantize(pos.y))
}

impl GameWorld for ArenaWorld {
    fn join(&mut self, ctx: &mut StepCtx<'_>) -> Option<EntityId> {
        let id = self.add_player()?;
        if self.params.announce_players {
            ctx.emit(Audience::Everyone, EVENT_JOINED, id, 0, "");
        }
        Some(id)
    }

    fn leave(&mut self, player: EntityId, ctx: &mut StepCtx<'_>) {
        self.remove_player(player);
        if self.params.announce_players {
            ctx.emit(Audience::Everyone, EVENT_LEFT, player, 0, "");
        }
    }

    fn input(&mut self, player: EntityId, input: PlayerInput) {
        self.set_direction(player, input.dx, input.dy);
    }

    fn step(&mut self, _ctx: &mut StepCtx<'_>) {
        ArenaWorld::step(self);
    }

    fn replicate(&self, out: &mut Vec<EntityState>) {
        out.extend(self.entity_states());
    }

    fn entity_count(&self) -> usize {
        self.len()
    }

    fn save(&self) -> Option<Vec<u8>> {
        let saved = SavedArena {
            format: SAVED_ARENA_FORMAT,
            npcs: self
                .npcs
                .iter()
                .map(|n| (n.id.0, [n.pos.x, n.pos.y], n.heading))
                .collect(),
            players: self
                .players
                .iter()
                .map(|p| (p.id.0, [p.pos.x, p.pos.y], [p.dir.x, p.dir.y]))
                .collect(),
            npc_rng: self.npc_rng.state(),
            player_rng: self.player_rng.state(),
            next_id: self.next_id,
        };
        bincode::encode_to_vec(saved, bincode::config::standard()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_world() {
        let mut a = ArenaWorld::new(GameParams::default());
        let mut b = ArenaWorld::new(GameParams::default());
        for _ in 0..100 {
            a.step();
            b.step();
        }
        assert!(a.entity_states().eq(b.entity_states()), "deterministic");
    }

    #[test]
    fn first_npc_matches_the_reference_generator() {
        let w = ArenaWorld::new(GameParams::default());
        let mut r = Mulberry32::new(0xC0FFEE);
        let (x, y) = (r.next_f64() * 1000.0, r.next_f64() * 1000.0);
        let first = w.entity_states().next().expect("there are NPCs");
        assert_eq!(first.x, quant::quantize(x), "x from the first draw");
        assert_eq!(first.y, quant::quantize(y), "y from the second draw");
    }

    #[test]
    fn a_restored_world_steps_exactly_as_the_saved_one() {
        let mut w = ArenaWorld::new(GameParams::default());
        let id = w.add_player().expect("an id is free");
        w.set_direction(id, 1.0, 0.5);
        for _ in 0..10 {
            w.step();
        }
        let saved = GameWorld::save(&w).expect("the arena saves");
        let mut back = ArenaWorld::restore(GameParams::default(), &saved).expect("restores");
        for _ in 0..100 {
            w.step();
            back.step();
        }
        assert!(w.entity_states().eq(back.entity_states()), "same states");
        assert!(back.add_player() == w.add_player(), "the same next player");
    }

    #[test]
    fn npcs_stay_in_the_arena() {
        let mut w = ArenaWorld::new(GameParams::default());
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
        let mut w = ArenaWorld::new(GameParams {
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
}
