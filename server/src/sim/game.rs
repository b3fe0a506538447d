//! The game seam: how a game plugs into Tickstream without touching networking or sync.
//!
//! A game is two types. A [`Game`] is the factory the server holds once per game name: it
//! describes the game to clients ([`GameInfo`], sent in every welcome) and creates one
//! [`GameWorld`] per room. A [`GameWorld`] is one room's state; the room task calls it, and
//! only it, on the room's own task:
//!
//! 1. [`GameWorld::join`] when a player joins, [`GameWorld::leave`] when it leaves for good
//!    (a dropped player keeps its entity for the resume grace period first);
//! 2. [`GameWorld::input`] with the player's newest validated input, at most once per tick;
//! 3. [`GameWorld::step`] once per tick, with the tick number, `dt` and the room's seeded
//!    generator passed in ([`StepCtx`]): no clock, no global RNG, so the same joins and inputs
//!    give the same states;
//! 4. [`GameWorld::replicate`] after each step, listing every entity as clients see it:
//!    position on the fixed grid plus up to [`MAX_FIELDS`] game fields the game quantizes
//!    itself. The sync engine diffs these per client: unchanged fields cost nothing.
//!
//! One-shot events (a player joined, a coin was collected) go through [`StepCtx::emit`]; the
//! room numbers them per player and delivers them in order with the next updates.
//!
//! A world that can be saved ([`GameWorld::save`]) and restored ([`Game::restore`]) can move
//! to another process when this one drains (a deploy's handoff); a game that implements neither
//! is drained as before (its players get 1001). The bytes are the game's own format: the room
//! carries them, versioned, beside its own state.
//!
//! The reference arena ([`super::arena`]) and the coin game ([`super::coins`]) are built on this
//! seam; the README's "Write your own game" section walks through a new one.

use std::sync::Arc;

use tickstream_shared::messages::MAX_EVENT_TEXT;
use tickstream_shared::{EntityId, EntityState, FieldSpec, MAX_FIELDS, MoveRule, Mulberry32, Tick};

use super::rewind::{Rewind, ViewTime};
use super::{GameError, ParamError};

/// What clients learn about a game in the welcome, and what the room needs to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct GameInfo {
    /// The game's name (`arena`, `coins`…): rooms are configured by it and `/rooms` shows it.
    pub name: String,
    /// Simulation steps (and updates) per second.
    pub tick_rate_hz: u16,
    /// Positions live in `[0, world_width] × [0, world_height]` (world units).
    pub world_width: f64,
    /// See `world_width`.
    pub world_height: f64,
    /// A client sees entities within this distance of its own entity; 0 = everything.
    pub view_radius: f64,
    /// `kinds[k]` names entity kind `k`.
    pub kinds: Vec<String>,
    /// `fields[i]` describes game field `i`; at most [`MAX_FIELDS`].
    pub fields: Vec<FieldSpec>,
    /// `event_kinds[k]` names event kind `k`.
    pub event_kinds: Vec<String>,
    /// How a player's own entity moves, told to clients so that they can predict it (protocol
    /// v4 and later): [`MoveRule::Walk`] when `step` moves players that way, else
    /// [`MoveRule::None`] and the game's clients bring their own step function.
    pub move_rule: MoveRule,
}

impl GameInfo {
    /// The tick length in seconds.
    #[must_use]
    pub fn dt(&self) -> f64 {
        1.0 / f64::from(self.tick_rate_hz)
    }

    /// Refuses a description the server cannot run, saying why.
    pub fn validate(&self) -> Result<(), GameError> {
        self.check().map_err(|reason| GameError {
            game: self.name.clone(),
            reason,
        })
    }

    fn check(&self) -> Result<(), ParamError> {
        if !(1..=240).contains(&self.tick_rate_hz) {
            return Err(ParamError::range(
                "tick_rate_hz",
                self.tick_rate_hz,
                "in 1..=240",
            ));
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(ParamError::TooManyFields {
                count: self.fields.len(),
            });
        }
        view_radius_fits(self.view_radius, self.world_width, self.world_height)?;
        if self.kinds.len() > 256 {
            return Err(ParamError::TooManyKinds {
                count: self.kinds.len(),
            });
        }
        Ok(())
    }
}

/// The smallest view radius is the larger world side divided by this: a finer radius buys no
/// precision a client could see, and the interest grid (cells as wide as the radius) would
/// need more than this many cells along a side.
pub const MIN_RADIUS_DIVISOR: f64 = 1024.0;

/// Checks a view radius against the world: 0 (everything is in view), or finite and at least
/// the larger side / [`MIN_RADIUS_DIVISOR`].
pub fn view_radius_fits(radius: f64, width: f64, height: f64) -> Result<(), ParamError> {
    let min = width.max(height) / MIN_RADIUS_DIVISOR;
    if radius == 0.0 || (radius.is_finite() && radius >= min) {
        Ok(())
    } else {
        Err(ParamError::ViewRadius { radius, min })
    }
}

/// A player's validated input, as the game sees it: a direction with `|dx|, |dy| <= 1` (both
/// finite) and the game-defined button bits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlayerInput {
    /// Direction x in `[-1, 1]`.
    pub dx: f32,
    /// Direction y in `[-1, 1]`.
    pub dy: f32,
    /// Button bits, game-defined.
    pub buttons: u32,
    /// The time the player was displaying other entities at when it made this input (protocol
    /// v5), already clamped into the room's history; `None` for an input without one (judge
    /// it at the newest state). Only games that rewind ([`Game::rewinds`]) get it.
    pub view: Option<ViewTime>,
}

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every player of the room (connected, or within its resume grace period).
    Everyone,
    /// Only the player owning this entity.
    Player(EntityId),
}

/// An event a game emitted, before the room numbers it for each player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// Who receives it.
    pub to: Audience,
    /// Game-defined kind (an index into [`GameInfo::event_kinds`]).
    pub kind: u16,
    /// The entity the event is about.
    pub entity: EntityId,
    /// A game-defined number.
    pub value: i32,
    /// Game-defined text, cut to [`MAX_EVENT_TEXT`] bytes.
    pub text: String,
}

/// What a game may use during a call: the tick, `dt`, the room's generator, and the event
/// outbox. Everything the game needs comes in through here, which keeps it deterministic.
pub struct StepCtx<'a> {
    /// The tick being computed (for [`GameWorld::step`]) or the current one (join and leave).
    pub tick: Tick,
    /// The fixed tick length in seconds.
    pub dt: f64,
    /// The room's generator, seeded when the room was created.
    pub rng: &'a mut Mulberry32,
    events: &'a mut Vec<Emitted>,
    rewind: &'a Rewind,
}

/// The history of a context built without one.
static NO_HISTORY: Rewind = Rewind::empty();

impl<'a> StepCtx<'a> {
    /// A context over the room's generator and event outbox.
    pub fn new(tick: Tick, dt: f64, rng: &'a mut Mulberry32, events: &'a mut Vec<Emitted>) -> Self {
        Self {
            tick,
            dt,
            rng,
            events,
            rewind: &NO_HISTORY,
        }
    }

    /// The same context with the room's history of replicated positions.
    #[must_use]
    pub fn with_rewind(mut self, rewind: &'a Rewind) -> Self {
        self.rewind = rewind;
        self
    }

    /// A read-only view of where every entity was over the last ticks, as clients were shown
    /// it ([`Rewind`]): "where was everything at tick T, as this player saw it". Empty unless
    /// the game rewinds ([`Game::rewinds`]); its newest tick is the state before this step.
    #[must_use]
    pub fn rewind(&self) -> &Rewind {
        self.rewind
    }

    /// Sends a one-shot event to `to`, delivered in order with the next updates.
    pub fn emit(&mut self, to: Audience, kind: u16, entity: EntityId, value: i32, text: &str) {
        let mut end = text.len().min(MAX_EVENT_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.events.push(Emitted {
            to,
            kind,
            entity,
            value,
            text: text[..end].to_owned(),
        });
    }
}

/// Why a saved world could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The game does not implement [`Game::restore`].
    #[error("the game cannot restore a saved world")]
    Unsupported,
    /// The bytes are not a world this game saved.
    #[error("the saved world does not decode: {0}")]
    Malformed(String),
}

/// A game: describes itself and creates one world per room. Held once per game name, shared by
/// every room running it.
pub trait Game: Send + Sync + 'static {
    /// The description sent to clients and used to run rooms.
    fn info(&self) -> &GameInfo;

    /// A new world for the room `room`. `seed` seeds the room's generator (passed back in every
    /// [`StepCtx`]); a game may also derive its own generators from it or from its settings.
    fn create(&self, room: &str, seed: u32) -> Box<dyn GameWorld>;

    /// Whether a room of this game keeps simulating while it has no players (connected or
    /// within their resume grace period). No by default: an empty room sleeps until a join or
    /// its empty timeout, so rooms that were created and left cost nothing. A persistent world
    /// whose NPCs must live on while nobody watches says yes.
    fn runs_without_players(&self) -> bool {
        false
    }

    /// The game's settings as text, written into every recording so that a replay can build
    /// the same game (`crate::replay`); the built-in games give their parameters as JSON.
    /// Empty by default: a game without settings, or one whose replay tool knows them.
    fn settings(&self) -> String {
        String::new()
    }

    /// Whether the game judges inputs against the past (lag compensation): its rooms then keep
    /// `rooms.max_rewind_ms` of replicated positions for [`StepCtx::rewind`] and pass each
    /// input's clamped view time in [`PlayerInput::view`]. No by default: nothing is kept.
    fn rewinds(&self) -> bool {
        false
    }

    /// A world for the room `room` from the bytes [`GameWorld::save`] produced (possibly in
    /// another process running a newer build of the game: read your previous format too). A
    /// game that cannot restore says [`RestoreError::Unsupported`], the default; its rooms are
    /// drained rather than handed over.
    fn restore(&self, room: &str, saved: &[u8]) -> Result<Box<dyn GameWorld>, RestoreError> {
        let _ = (room, saved);
        Err(RestoreError::Unsupported)
    }
}

/// One room's game state. Called only from the room's task, between ticks or during one.
pub trait GameWorld: Send + 'static {
    /// Adds a player and returns its entity, or `None` when the game cannot take one more (the
    /// join is refused with 1013).
    fn join(&mut self, ctx: &mut StepCtx<'_>) -> Option<EntityId>;

    /// Removes a player for good (it left, or its resume grace period ended).
    fn leave(&mut self, player: EntityId, ctx: &mut StepCtx<'_>);

    /// Applies a player's newest validated input; it stays in force until the next one. Nothing
    /// a client sends may set a position directly: the game decides what an input means.
    fn input(&mut self, player: EntityId, input: PlayerInput);

    /// Advances the world by one tick.
    fn step(&mut self, ctx: &mut StepCtx<'_>);

    /// Appends every entity as clients see it. Ascending id order is cheapest (the room sorts
    /// otherwise); ids must be unique.
    fn replicate(&self, out: &mut Vec<EntityState>);

    /// Number of entities, for the entity gauge.
    fn entity_count(&self) -> usize;

    /// The whole world as bytes that [`Game::restore`] turns back into the same world (the
    /// same states after the same calls), or `None` when the game cannot save (the default):
    /// the room then drains as before instead of moving to a successor.
    fn save(&self) -> Option<Vec<u8>> {
        None
    }
}

/// The games a server can run, by name.
#[derive(Clone, Default)]
pub struct GameCatalog {
    games: Vec<Arc<dyn Game>>,
}

impl std::fmt::Debug for GameCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.games.iter().map(|g| &g.info().name))
            .finish()
    }
}

impl GameCatalog {
    /// An empty catalog.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a game, replacing one of the same name.
    #[must_use]
    pub fn with(self, game: impl Game) -> Self {
        self.with_shared(Arc::new(game))
    }

    /// Adds a game already shared, replacing one of the same name.
    #[must_use]
    pub fn with_shared(mut self, game: Arc<dyn Game>) -> Self {
        let name = game.info().name.clone();
        self.games.retain(|g| g.info().name != name);
        self.games.push(game);
        self
    }

    /// The game called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Game>> {
        self.games.iter().find(|g| g.info().name == name)
    }

    /// Every game's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.games.iter().map(|g| g.info().name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_text_is_cut_on_a_character_boundary() {
        let mut rng = Mulberry32::new(1);
        let mut out = Vec::new();
        let mut ctx = StepCtx::new(Tick(1), 0.1, &mut rng, &mut out);
        ctx.emit(Audience::Everyone, 0, EntityId(1), 0, &"é".repeat(100));
        assert_eq!(out[0].text.len(), MAX_EVENT_TEXT, "cut to the limit");
        assert!(out[0].text.chars().all(|c| c == 'é'), "no split character");
    }
}
