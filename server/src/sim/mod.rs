//! The game: a pure, deterministic simulation of one room.
//!
//! Nothing here touches a socket, a clock or a global RNG: the world steps with a fixed `dt`
//! and its own seeded generators, so the same joins and inputs give the same states (replays,
//! desync checks and tests rely on it).
//!
//! # Layout
//!
//! - [`params`]: [`GameParams`], the game's settings (the reference scenario by default).
//! - [`world`]: [`World`], the entities and the step function.

pub mod params;
pub mod world;

pub use params::GameParams;
pub use world::{InputError, World};
