//! The game's settings.

use serde::{Deserialize, Serialize};

use super::ParamError;

/// The settings of the reference game (`../shared/REFERENCE-SCENARIO.md` in the design notes;
/// `assets/scenarios/reference-a.toml` in this repository). The defaults are variant A.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GameParams {
    /// Simulation steps (and updates) per second. 30 Hz is the common choice for action games
    /// that interpolate; the tick budget is 1/rate.
    pub tick_rate_hz: u16,
    /// Arena width: positions live in `[0, world_width]`.
    pub world_width: f64,
    /// Arena height: positions live in `[0, world_height]`.
    pub world_height: f64,
    /// NPCs spawned when a room starts.
    pub npc_count: u32,
    /// NPC distance per tick.
    pub npc_speed: f64,
    /// Chance per tick that an NPC picks a new heading.
    pub npc_turn_chance: f64,
    /// Player distance per tick at full input.
    pub player_speed: f64,
    /// Seed of the NPC generator (spawns and steps).
    pub npc_seed: u32,
    /// Seed of the player spawn generator.
    pub player_seed: u32,
    /// A client sees entities within this distance of its own entity (`<=`); 0 = everything.
    pub view_radius: f64,
    /// Send every player a `joined` / `left` event when another player joins or leaves for
    /// good. Off by default: a new entity already shows up in every view as a spawn, and in the
    /// reference scenario's 2,000-player rooms the events would be 2,000 per join.
    pub announce_players: bool,
}

impl Default for GameParams {
    fn default() -> Self {
        Self {
            tick_rate_hz: 30,
            world_width: 1000.0,
            world_height: 1000.0,
            npc_count: 500,
            npc_speed: 5.0,
            npc_turn_chance: 0.1,
            player_speed: 5.0,
            npc_seed: 0xC0FFEE,
            player_seed: 0xBEEF,
            view_radius: 0.0,
            announce_players: false,
        }
    }
}

impl GameParams {
    /// The tick length in seconds.
    #[must_use]
    pub fn dt(&self) -> f64 {
        1.0 / f64::from(self.tick_rate_hz)
    }

    /// Refuses settings the simulation cannot run with, saying why.
    pub fn validate(&self) -> Result<(), ParamError> {
        if !(1..=240).contains(&self.tick_rate_hz) {
            return Err(ParamError::range(
                "tick_rate_hz",
                self.tick_rate_hz,
                "in 1..=240",
            ));
        }
        // Positions travel as u32 counts of 1/64 unit.
        let max = f64::from(u32::MAX) / tickstream_shared::quant::SCALE;
        for (name, v) in [
            ("world_width", self.world_width),
            ("world_height", self.world_height),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err(ParamError::range(name, v, format!("in (0, {max}]")));
            }
        }
        for (name, v) in [
            ("npc_speed", self.npc_speed),
            ("player_speed", self.player_speed),
            ("view_radius", self.view_radius),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ParamError::range(name, v, "finite and >= 0"));
            }
        }
        super::game::view_radius_fits(self.view_radius, self.world_width, self.world_height)?;
        if !(0.0..=1.0).contains(&self.npc_turn_chance) {
            return Err(ParamError::range(
                "npc_turn_chance",
                self.npc_turn_chance,
                "in [0, 1]",
            ));
        }
        if self.npc_count > 1_000_000 {
            return Err(ParamError::range(
                "npc_count",
                self.npc_count as f64,
                "at most 1,000,000",
            ));
        }
        Ok(())
    }
}
