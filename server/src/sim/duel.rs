//! `duel`: a small hitscan arena whose shots are judged with lag compensation.
//!
//! Players walk like the arena's (5 units per tick along the input's direction) and fire with
//! button bit 0 ([`BUTTON_FIRE`]). A shot is judged in the world the shooter was looking at:
//! the input's view time (protocol v5, clamped into the room's history, [`super::Rewind`])
//! gives where the shooter and everyone else were displayed, and the shot is a ray from the
//! shooter's displayed position along its aim. It hits the nearest other player whose
//! displayed position lies within [`DuelParams::hit_radius`] of the ray, up to
//! [`DuelParams::range`]. The shooter gets a [`EVENT_HIT`] or [`EVENT_MISS`] event for every
//! shot. Nobody is hurt: the game exists to show that what a player saw is what it hit.
//!
//! An input without a view time (v2–v4, or a v5 client's plain `Input`), and every input when
//! `rooms.max_rewind_ms = 0`, is judged against the newest state instead: with 100 ms of
//! latency each way a moving target is then long gone from where the shooter saw it.

use glam::DVec2;
use tickstream_shared::{EntityId, EntityState, FieldSpec, MoveRule, Mulberry32, quant};

use super::game::{Audience, Game, GameInfo, GameWorld, PlayerInput, StepCtx};
use super::rewind::ViewTime;

/// Button bit 0: fire, once per input that has it (holding it does not fire again until a
/// new input arrives with it).
pub const BUTTON_FIRE: u32 = 1;
/// Event kind: the shooter's shot hit; sent to the shooter only. `entity` is the player hit,
/// `value` the shooter's shot number (1 for its first shot since joining).
pub const EVENT_HIT: u16 = 0;
/// Event kind: the shot hit nobody; sent to the shooter only. `entity` is the shooter, `value`
/// the shot number.
pub const EVENT_MISS: u16 = 1;
/// Entity kind of a player (the only kind).
pub const KIND_PLAYER: u8 = 0;

/// The duel's settings. Fixed: the game is a demonstration of lag compensation, and its bots
/// and tests rely on these numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct DuelParams {
    /// 30 Hz, like the arena.
    pub tick_rate_hz: u16,
    /// A 400-unit square: twenty players meet often.
    pub world_size: f64,
    /// 5 units per tick, like the arena: two and a half hit radii, so a shot judged a tick late
    /// at a crossing target misses.
    pub player_speed: f64,
    /// A player is a disc of radius 2: the stated hit radius (at most 2 units).
    pub hit_radius: f64,
    /// How far a shot reaches.
    pub range: f64,
    /// Seeds where players appear.
    pub spawn_seed: u32,
}

impl Default for DuelParams {
    fn default() -> Self {
        Self {
            tick_rate_hz: 30,
            world_size: 400.0,
            player_speed: 5.0,
            hit_radius: 2.0,
            range: 600.0,
            spawn_seed: 0xD0E1,
        }
    }
}

/// The duel, as a [`Game`].
#[derive(Debug, Clone)]
pub struct Duel {
    info: GameInfo,
    params: DuelParams,
}

impl Duel {
    /// The duel with these settings.
    #[must_use]
    pub fn new(params: DuelParams) -> Self {
        let info = GameInfo {
            name: "duel".into(),
            tick_rate_hz: params.tick_rate_hz,
            world_width: params.world_size,
            world_height: params.world_size,
            view_radius: 0.0,
            kinds: vec!["player".into()],
            fields: Vec::<FieldSpec>::new(),
            event_kinds: vec!["hit".into(), "miss".into()],
            move_rule: MoveRule::Walk {
                speed: params.player_speed as f32,
            },
        };
        Self { info, params }
    }
}

impl Default for Duel {
    fn default() -> Self {
        Self::new(DuelParams::default())
    }
}

impl Game for Duel {
    fn info(&self) -> &GameInfo {
        &self.info
    }

    fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
        Box::new(DuelWorld::new(self.params.clone()))
    }

    fn rewinds(&self) -> bool {
        true
    }
}

/// A shot waiting for the next step.
#[derive(Debug, Clone, Copy)]
struct Shot {
    /// Normalised.
    aim: DVec2,
    view: Option<ViewTime>,
}

#[derive(Debug, Clone)]
struct Player {
    id: EntityId,
    pos: DVec2,
    /// Normalised direction of the input in force; zero stands still.
    dir: DVec2,
    /// The last non-zero direction: where a shot without a direction goes.
    facing: DVec2,
    shot: Option<Shot>,
    shots: i32,
}

/// One duel room: players in join order (ascending ids).
#[derive(Debug, Clone)]
pub struct DuelWorld {
    params: DuelParams,
    players: Vec<Player>,
    rng: Mulberry32,
    next_id: u32,
}

impl DuelWorld {
    /// An empty duel.
    #[must_use]
    pub fn new(params: DuelParams) -> Self {
        Self {
            rng: Mulberry32::new(params.spawn_seed),
            players: Vec::new(),
            next_id: 0,
            params,
        }
    }

    fn index(&self, id: EntityId) -> Option<usize> {
        self.players.binary_search_by_key(&id, |p| p.id).ok()
    }

    /// Judges `shot` by the player at `shooter`: the nearest other player within the hit radius
    /// of the ray, where the shot's view time displayed them.
    fn judge(&self, shooter: usize, shot: Shot, ctx: &StepCtx<'_>) -> Option<EntityId> {
        let rewind = ctx.rewind();
        // Before the first recorded tick (or in a room without history) the live positions are
        // what everyone was shown.
        let live = rewind.latest().is_none();
        let at = |p: &Player| {
            if live {
                Some(p.pos)
            } else {
                rewind.position(p.id, shot.view)
            }
        };
        let origin = at(&self.players[shooter])?;
        let r = self.params.hit_radius;
        let mut best: Option<(f64, EntityId)> = None;
        for (i, p) in self.players.iter().enumerate() {
            if i == shooter {
                continue;
            }
            let Some(pos) = at(p) else { continue };
            let rel = pos - origin;
            let along = rel.dot(shot.aim);
            if !(0.0..=self.params.range).contains(&along) {
                continue;
            }
            if (rel - shot.aim * along).length() <= r && best.is_none_or(|(d, _)| along < d) {
                best = Some((along, p.id));
            }
        }
        best.map(|(_, id)| id)
    }
}

impl GameWorld for DuelWorld {
    fn join(&mut self, _ctx: &mut StepCtx<'_>) -> Option<EntityId> {
        let id = EntityId(self.next_id);
        self.next_id = self.next_id.checked_add(1)?;
        let s = self.params.world_size;
        let pos = DVec2::new(self.rng.next_f64() * s, self.rng.next_f64() * s);
        self.players.push(Player {
            id,
            pos,
            dir: DVec2::ZERO,
            facing: DVec2::X,
            shot: None,
            shots: 0,
        });
        Some(id)
    }

    fn leave(&mut self, player: EntityId, _ctx: &mut StepCtx<'_>) {
        if let Some(i) = self.index(player) {
            self.players.remove(i);
        }
    }

    fn input(&mut self, player: EntityId, input: PlayerInput) {
        let Some(i) = self.index(player) else { return };
        let p = &mut self.players[i];
        p.dir = DVec2::new(f64::from(input.dx), f64::from(input.dy)).normalize_or_zero();
        if p.dir != DVec2::ZERO {
            p.facing = p.dir;
        }
        if input.buttons & BUTTON_FIRE != 0 {
            p.shot = Some(Shot {
                aim: p.facing,
                view: input.view,
            });
        }
    }

    fn step(&mut self, ctx: &mut StepCtx<'_>) {
        // Shots first, against what was displayed (the newest recorded state is the one
        // before this step); then everyone moves.
        for i in 0..self.players.len() {
            let Some(shot) = self.players[i].shot.take() else {
                continue;
            };
            let hit = self.judge(i, shot, ctx);
            let p = &mut self.players[i];
            p.shots = p.shots.wrapping_add(1);
            let to = Audience::Player(p.id);
            match hit {
                Some(target) => ctx.emit(to, EVENT_HIT, target, p.shots, ""),
                None => ctx.emit(to, EVENT_MISS, p.id, p.shots, ""),
            }
        }
        let max = DVec2::splat(self.params.world_size);
        for p in &mut self.players {
            p.pos = (p.pos + p.dir * self.params.player_speed).clamp(DVec2::ZERO, max);
        }
    }

    fn replicate(&self, out: &mut Vec<EntityState>) {
        out.extend(self.players.iter().map(|p| {
            EntityState::new(
                p.id,
                KIND_PLAYER,
                quant::quantize(p.pos.x),
                quant::quantize(p.pos.y),
            )
        }));
    }

    fn entity_count(&self) -> usize {
        self.players.len()
    }
}

#[cfg(test)]
mod tests {
    use tickstream_shared::Tick;

    use super::*;
    use crate::sim::Rewind;

    fn input(dx: f32, dy: f32, buttons: u32, view: Option<ViewTime>) -> PlayerInput {
        PlayerInput {
            dx,
            dy,
            buttons,
            view,
        }
    }

    #[test]
    fn rewound_hits_and_misses_at_the_newest_state() {
        let mut rewind = Rewind::new(500, 30);
        // The target walks up from y = 200; record, then put it back on the ray and walk it
        // away, so that the past (tick 1 of this history) shows it on the ray.
        let mut w = DuelWorld::new(DuelParams::default());
        let (mut rng, mut out) = (Mulberry32::new(1), Vec::new());
        for _ in 0..2 {
            w.join(&mut StepCtx::new(Tick(0), 0.0, &mut rng, &mut out));
        }
        w.players[0].pos = DVec2::new(100.0, 200.0);
        w.players[1].pos = DVec2::new(200.0, 200.0);
        let mut states = Vec::new();
        w.replicate(&mut states);
        rewind.record(Tick(1), &states);
        w.input(EntityId(1), input(0.0, 1.0, 0, None));
        for t in 2..=8 {
            w.step(&mut StepCtx::new(Tick(t), 0.0, &mut rng, &mut out).with_rewind(&rewind));
            states.clear();
            w.replicate(&mut states);
            rewind.record(Tick(t), &states);
        }
        out.clear();
        w.input(
            EntityId(0),
            input(1.0, 0.0, BUTTON_FIRE, Some(ViewTime::new(Tick(1), 100))),
        );
        w.step(&mut StepCtx::new(Tick(9), 0.0, &mut rng, &mut out).with_rewind(&rewind));
        assert_eq!(out[0].kind, EVENT_HIT, "seen 1.95 units up at 1.39: a hit");
        assert_eq!(out[0].entity, EntityId(1), "the target");
        assert_eq!(out[0].value, 1, "the first shot");
        assert_eq!(out[0].to, Audience::Player(EntityId(0)), "to the shooter");
        out.clear();
        w.input(EntityId(0), input(1.0, 0.0, BUTTON_FIRE, None));
        w.step(&mut StepCtx::new(Tick(10), 0.0, &mut rng, &mut out).with_rewind(&rewind));
        assert_eq!(out[0].kind, EVENT_MISS, "judged at the newest state: gone");
        assert_eq!(out[0].value, 2, "the second shot");
        out.clear();
        w.step(&mut StepCtx::new(Tick(11), 0.0, &mut rng, &mut out).with_rewind(&rewind));
        assert!(out.is_empty(), "holding fire does not fire again");
    }
}
