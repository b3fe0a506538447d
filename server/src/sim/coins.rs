//! A second, small game on the seam: players run around a small arena collecting coins.
//!
//! It shows what the reference arena does not: game fields (each player's `score`, and its
//! `rotation` quantized to 16 bits), events beyond joins (`collected`, with the new score), and
//! randomness from the room's generator (where a collected coin reappears).

use std::f64::consts::TAU;

use glam::DVec2;
use serde::{Deserialize, Serialize};
use tickstream_shared::{EntityId, EntityState, FieldSpec, MoveRule, Mulberry32, quant};

use super::ParamError;
use super::game::{Audience, Game, GameInfo, GameWorld, PlayerInput, RestoreError, StepCtx};

/// Entity kind of a player.
pub const KIND_PLAYER: u8 = 0;
/// Entity kind of a coin.
pub const KIND_COIN: u8 = 1;
/// Field 0: a player's score (coins collected).
pub const FIELD_SCORE: usize = 0;
/// Field 1: a player's heading, in 1/65536 turns (0 = +x, counter-clockwise).
pub const FIELD_ROTATION: usize = 1;
/// Event kind: a player joined (to everyone).
pub const EVENT_JOINED: u16 = 0;
/// Event kind: a player left for good (to everyone).
pub const EVENT_LEFT: u16 = 1;
/// Event kind: a player collected a coin (to everyone; `value` is its new score).
pub const EVENT_COLLECTED: u16 = 2;

/// The coin game's settings (`[coins]` in the configuration).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoinsParams {
    /// Steps per second.
    pub tick_rate_hz: u16,
    /// Arena width (the coin game is played close up).
    pub world_width: f64,
    /// Arena height.
    pub world_height: f64,
    /// Coins on the field at any time; a collected coin reappears elsewhere at once.
    pub coin_count: u32,
    /// Player distance per tick at full input.
    pub player_speed: f64,
    /// A player collects a coin within this distance.
    pub pickup_radius: f64,
    /// Seed of the initial coin layout (respawns use the room's generator).
    pub layout_seed: u32,
}

impl Default for CoinsParams {
    fn default() -> Self {
        Self {
            tick_rate_hz: 30,
            world_width: 300.0,
            world_height: 300.0,
            coin_count: 40,
            player_speed: 4.0,
            pickup_radius: 6.0,
            layout_seed: 7,
        }
    }
}

impl CoinsParams {
    /// Refuses settings the game cannot run with, saying why.
    pub fn validate(&self) -> Result<(), ParamError> {
        let max = f64::from(u32::MAX) / quant::SCALE;
        for (name, v) in [
            ("world_width", self.world_width),
            ("world_height", self.world_height),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err(ParamError::range(name, v, format!("in (0, {max}]")));
            }
        }
        for (name, v) in [
            ("player_speed", self.player_speed),
            ("pickup_radius", self.pickup_radius),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ParamError::range(name, v, "finite and >= 0"));
            }
        }
        if self.coin_count > 10_000 {
            return Err(ParamError::range(
                "coin_count",
                self.coin_count as f64,
                "at most 10,000",
            ));
        }
        Ok(())
    }
}

/// The coin game, as a [`Game`].
#[derive(Debug, Clone)]
pub struct Coins {
    info: GameInfo,
    params: CoinsParams,
}

impl Coins {
    /// The coin game with these settings.
    #[must_use]
    pub fn new(params: CoinsParams) -> Self {
        let info = GameInfo {
            name: "coins".into(),
            tick_rate_hz: params.tick_rate_hz,
            world_width: params.world_width,
            world_height: params.world_height,
            view_radius: 0.0,
            kinds: vec!["player".into(), "coin".into()],
            fields: vec![
                FieldSpec {
                    name: "score".into(),
                    scale: 1.0,
                },
                FieldSpec {
                    name: "rotation".into(),
                    scale: std::f32::consts::TAU / 65536.0,
                },
            ],
            event_kinds: vec!["joined".into(), "left".into(), "collected".into()],
            move_rule: MoveRule::Walk {
                speed: params.player_speed as f32,
            },
        };
        Self { info, params }
    }
}

impl Game for Coins {
    fn info(&self) -> &GameInfo {
        &self.info
    }

    fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
        Box::new(CoinsWorld::new(self.params.clone()))
    }

    fn settings(&self) -> String {
        // Plain numbers only: serializing them cannot fail.
        serde_json::to_string(&self.params).unwrap_or_default()
    }

    fn restore(&self, _room: &str, saved: &[u8]) -> Result<Box<dyn GameWorld>, RestoreError> {
        CoinsWorld::restore(self.params.clone(), saved).map(|w| Box::new(w) as Box<dyn GameWorld>)
    }
}

/// The saved form of a coin world (format 1): positions as the exact `f64` bits, so the
/// restored world steps exactly as the saved one would have. The settings are the restoring
/// server's own.
#[derive(bincode::Encode, bincode::Decode)]
struct SavedCoins {
    /// Always [`SAVED_COINS_FORMAT`] for this layout.
    format: u16,
    coins: Vec<[f64; 2]>,
    /// In id order.
    players: Vec<SavedCoinsPlayer>,
    next_id: u32,
}

/// One player of [`SavedCoins`].
#[derive(bincode::Encode, bincode::Decode)]
struct SavedCoinsPlayer {
    id: u32,
    pos: [f64; 2],
    dir: [f64; 2],
    score: i32,
    rotation: u16,
}

/// The layout [`SavedCoins`] is in.
const SAVED_COINS_FORMAT: u16 = 1;

#[derive(Debug, Clone)]
struct Player {
    id: EntityId,
    pos: DVec2,
    dir: DVec2,
    score: i32,
    /// Heading in 1/65536 turns; kept when the player stops.
    rotation: u16,
}

/// One room of the coin game. Coins have ids `0..coin_count` for the room's lifetime; players
/// get ids after them, in join order.
#[derive(Debug, Clone)]
pub struct CoinsWorld {
    params: CoinsParams,
    coins: Vec<DVec2>,
    players: Vec<Player>,
    next_id: u32,
}

impl CoinsWorld {
    /// A field with its coins laid out from `params.layout_seed`.
    #[must_use]
    pub fn new(params: CoinsParams) -> Self {
        let mut layout = Mulberry32::new(params.layout_seed);
        let coins = (0..params.coin_count)
            .map(|_| random_point(&mut layout, &params))
            .collect();
        Self {
            next_id: params.coin_count,
            coins,
            players: Vec::new(),
            params,
        }
    }

    /// The world [`GameWorld::save`] saved, under this server's `params`.
    pub fn restore(params: CoinsParams, saved: &[u8]) -> Result<Self, RestoreError> {
        let malformed = |e: String| RestoreError::Malformed(e);
        let (s, _): (SavedCoins, usize) =
            bincode::decode_from_slice(saved, bincode::config::standard())
                .map_err(|e| malformed(e.to_string()))?;
        if s.format != SAVED_COINS_FORMAT {
            return Err(malformed(format!("unknown coins format {}", s.format)));
        }
        let v = |[x, y]: [f64; 2]| DVec2::new(x, y);
        let players: Vec<Player> = s
            .players
            .into_iter()
            .map(|p| Player {
                id: EntityId(p.id),
                pos: v(p.pos),
                dir: v(p.dir),
                score: p.score,
                rotation: p.rotation,
            })
            .collect();
        if !players.windows(2).all(|w| w[0].id < w[1].id) {
            return Err(malformed("players out of id order".into()));
        }
        Ok(Self {
            params,
            coins: s.coins.into_iter().map(v).collect(),
            players,
            next_id: s.next_id,
        })
    }

    /// A player's score.
    #[must_use]
    pub fn score(&self, id: EntityId) -> Option<i32> {
        self.player(id).map(|p| p.score)
    }

    fn player(&self, id: EntityId) -> Option<&Player> {
        self.players
            .binary_search_by_key(&id, |p| p.id)
            .ok()
            .map(|i| &self.players[i])
    }
}

fn random_point(rng: &mut Mulberry32, params: &CoinsParams) -> DVec2 {
    DVec2::new(
        rng.next_f64() * params.world_width,
        rng.next_f64() * params.world_height,
    )
}

/// A direction as 1/65536 turns.
fn turns16(dir: DVec2) -> u16 {
    let a = dir.y.atan2(dir.x).rem_euclid(TAU);
    ((a / TAU * 65536.0).round() as u32 & 0xFFFF) as u16
}

impl GameWorld for CoinsWorld {
    fn join(&mut self, ctx: &mut StepCtx<'_>) -> Option<EntityId> {
        let id = EntityId(self.next_id);
        self.next_id = self.next_id.checked_add(1)?;
        let pos = random_point(ctx.rng, &self.params);
        self.players.push(Player {
            id,
            pos,
            dir: DVec2::ZERO,
            score: 0,
            rotation: 0,
        });
        ctx.emit(Audience::Everyone, EVENT_JOINED, id, 0, "");
        Some(id)
    }

    fn leave(&mut self, player: EntityId, ctx: &mut StepCtx<'_>) {
        if let Ok(i) = self.players.binary_search_by_key(&player, |p| p.id) {
            let gone = self.players.remove(i);
            ctx.emit(Audience::Everyone, EVENT_LEFT, player, gone.score, "");
        }
    }

    fn input(&mut self, player: EntityId, input: PlayerInput) {
        if let Ok(i) = self.players.binary_search_by_key(&player, |p| p.id) {
            let dir = DVec2::new(f64::from(input.dx), f64::from(input.dy)).normalize_or_zero();
            let p = &mut self.players[i];
            p.dir = dir;
            if dir != DVec2::ZERO {
                p.rotation = turns16(dir);
            }
        }
    }

    fn step(&mut self, ctx: &mut StepCtx<'_>) {
        let max = DVec2::new(self.params.world_width, self.params.world_height);
        let r2 = self.params.pickup_radius * self.params.pickup_radius;
        for p in &mut self.players {
            p.pos = (p.pos + p.dir * self.params.player_speed).clamp(DVec2::ZERO, max);
            // Players in id order, coins in id order: the same inputs collect the same coins.
            for (i, coin) in self.coins.iter_mut().enumerate() {
                if p.pos.distance_squared(*coin) <= r2 {
                    p.score = p.score.saturating_add(1);
                    *coin = random_point(ctx.rng, &self.params);
                    let what = format!("coin {i}");
                    ctx.emit(Audience::Everyone, EVENT_COLLECTED, p.id, p.score, &what);
                }
            }
        }
    }

    fn replicate(&self, out: &mut Vec<EntityState>) {
        for (i, c) in self.coins.iter().enumerate() {
            out.push(EntityState::new(
                EntityId(i as u32),
                KIND_COIN,
                quant::quantize(c.x),
                quant::quantize(c.y),
            ));
        }
        for p in &self.players {
            out.push(
                EntityState::new(
                    p.id,
                    KIND_PLAYER,
                    quant::quantize(p.pos.x),
                    quant::quantize(p.pos.y),
                )
                .with_field(FIELD_SCORE, p.score)
                .with_field(FIELD_ROTATION, i32::from(p.rotation)),
            );
        }
    }

    fn entity_count(&self) -> usize {
        self.coins.len() + self.players.len()
    }

    fn save(&self) -> Option<Vec<u8>> {
        let saved = SavedCoins {
            format: SAVED_COINS_FORMAT,
            coins: self.coins.iter().map(|c| [c.x, c.y]).collect(),
            players: self
                .players
                .iter()
                .map(|p| SavedCoinsPlayer {
                    id: p.id.0,
                    pos: [p.pos.x, p.pos.y],
                    dir: [p.dir.x, p.dir.y],
                    score: p.score,
                    rotation: p.rotation,
                })
                .collect(),
            next_id: self.next_id,
        };
        bincode::encode_to_vec(saved, bincode::config::standard()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::game::Emitted;
    use tickstream_shared::Tick;

    fn world_with_one_player() -> (CoinsWorld, EntityId, Mulberry32, Vec<Emitted>) {
        let mut w = CoinsWorld::new(CoinsParams::default());
        let mut rng = Mulberry32::new(1);
        let mut events = Vec::new();
        let id = w
            .join(&mut StepCtx::new(
                Tick(0),
                1.0 / 30.0,
                &mut rng,
                &mut events,
            ))
            .expect("an id is free");
        (w, id, rng, events)
    }

    #[test]
    fn walking_onto_a_coin_scores_and_moves_the_coin() {
        let (mut w, id, mut rng, mut events) = world_with_one_player();
        // Put the player right next to coin 0, walking onto it.
        let coin = w.coins[0];
        w.players[0].pos = coin - DVec2::new(3.0, 0.0);
        w.input(
            id,
            PlayerInput {
                dx: 1.0,
                dy: 0.0,
                ..PlayerInput::default()
            },
        );
        events.clear();
        w.step(&mut StepCtx::new(
            Tick(1),
            1.0 / 30.0,
            &mut rng,
            &mut events,
        ));
        assert_eq!(w.score(id), Some(1), "one coin collected");
        assert_ne!(w.coins[0], coin, "the coin reappeared elsewhere");
        assert_eq!(events.len(), 1, "one event: {events:?}");
        assert_eq!(events[0].kind, EVENT_COLLECTED, "a collected event");
        assert_eq!(events[0].value, 1, "carrying the new score");
        let mut out = Vec::new();
        w.replicate(&mut out);
        let me = out
            .iter()
            .find(|e| e.id == id)
            .expect("the player replicates");
        assert_eq!(me.fields[FIELD_SCORE], 1, "the score is a field");
        assert_eq!(me.fields[FIELD_ROTATION], 0, "heading +x is rotation 0");
    }

    #[test]
    fn rotation_follows_the_input_and_stays_when_stopping() {
        let (mut w, id, _, _) = world_with_one_player();
        let go = |dx, dy| PlayerInput {
            dx,
            dy,
            ..PlayerInput::default()
        };
        w.input(id, go(0.0, 1.0));
        assert_eq!(w.players[0].rotation, 16384, "+y is a quarter turn");
        w.input(id, go(0.0, 0.0));
        assert_eq!(w.players[0].rotation, 16384, "stopping keeps the heading");
        w.input(id, go(0.0, -1.0));
        assert_eq!(w.players[0].rotation, 49152, "-y is three quarters");
    }

    #[test]
    fn a_restored_world_steps_exactly_as_the_saved_one() {
        let (mut w, id, mut rng, mut events) = world_with_one_player();
        let go = PlayerInput {
            dx: 0.3,
            dy: -0.7,
            buttons: 0,
            view: None,
        };
        w.input(id, go);
        let saved = w.save().expect("the coin game saves");
        let mut back = CoinsWorld::restore(CoinsParams::default(), &saved).expect("restores");
        let mut rng2 = rng.clone();
        let mut events2 = events.clone();
        for t in 1..200u32 {
            w.step(&mut StepCtx::new(
                Tick(t),
                1.0 / 30.0,
                &mut rng,
                &mut events,
            ));
            back.step(&mut StepCtx::new(
                Tick(t),
                1.0 / 30.0,
                &mut rng2,
                &mut events2,
            ));
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        w.replicate(&mut a);
        back.replicate(&mut b);
        assert_eq!(a, b, "same states");
        assert_eq!(events, events2, "same events");
        assert!(
            CoinsWorld::restore(CoinsParams::default(), &saved[..saved.len() / 2]).is_err(),
            "cut bytes are refused"
        );
    }

    #[test]
    fn same_joins_and_inputs_same_world() {
        let run = || {
            let (mut w, id, mut rng, mut events) = world_with_one_player();
            for t in 1..300u32 {
                let a = f64::from(t) * 0.05;
                w.input(
                    id,
                    PlayerInput {
                        dx: a.cos() as f32,
                        dy: a.sin() as f32,
                        ..PlayerInput::default()
                    },
                );
                w.step(&mut StepCtx::new(
                    Tick(t),
                    1.0 / 30.0,
                    &mut rng,
                    &mut events,
                ));
            }
            let mut out = Vec::new();
            w.replicate(&mut out);
            (out, events)
        };
        assert_eq!(run(), run(), "deterministic");
    }
}
