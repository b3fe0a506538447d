//! The games: pure, deterministic simulations of one room, behind one seam.
//!
//! Nothing here touches a socket, a clock or a global RNG: a world steps with a fixed `dt`, the
//! room's seeded generator and its own seeded state, so the same joins and inputs give the same
//! states (replays, desync checks and tests rely on it).
//!
//! # Layout
//!
//! - [`game`]: the seam: [`Game`] (describes a game, creates worlds), [`GameWorld`] (one
//!   room's state: join, leave, input, step, replicate), [`StepCtx`] and [`GameCatalog`].
//! - [`input`]: checks every input before a game sees it.
//! - [`params`]: [`GameParams`], the reference arena's settings.
//! - [`param_error`]: [`ParamError`] and [`GameError`]: which setting or description cannot run.
//! - [`arena`]: [`Arena`], the reference game (`../shared/REFERENCE-SCENARIO.md`).
//! - [`coins`]: [`Coins`], a small coin-collecting game with fields and events.
//! - [`rewind`]: [`Rewind`], the history of replicated positions lag compensation judges
//!   against, and [`ViewTime`], the time a client was displaying.
//! - [`duel`]: [`Duel`], a hitscan arena whose shots are judged with lag compensation.

pub mod arena;
pub mod coins;
pub mod duel;
pub mod game;
pub mod input;
pub mod param_error;
pub mod params;
pub mod rewind;

pub use arena::{Arena, ArenaWorld};
pub use coins::{Coins, CoinsParams};
pub use duel::{Duel, DuelParams};
pub use game::{
    Audience, Emitted, Game, GameCatalog, GameInfo, GameWorld, PlayerInput, RestoreError, StepCtx,
};
pub use input::{InputError, validate_direction};
pub use param_error::{GameError, ParamError};
pub use params::GameParams;
pub use rewind::{MAX_REWIND_MS, Rewind, ViewTime};
