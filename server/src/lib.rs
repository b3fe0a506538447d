//! Tickstream: an authoritative multiplayer game state sync server.
//!
//! Clients connect over WebSocket (wss, or ws behind a TLS-terminating proxy), join a room by
//! name and send inputs; each room simulates at a fixed tick and sends every client one binary
//! delta of its view per tick. The wire format lives in `tickstream_shared`.
//!
//! # Layout
//!
//! Folders follow the data: `net` → `room` → `sim` → `sync` → `net`.
//!
//! - [`config`]: [`Config`], defaults overridden by a TOML file, the environment and flags.
//! - [`join_token`]: HMAC-signed join tokens: who may enter which room.
//! - [`server`]: [`Server`], which binds the listeners, runs them and shuts down cleanly.
//! - [`net`]: TLS, the HTTP upgrade, sessions (reader and writer tasks), rate limits.
//! - [`room`]: the room registry (games by rule, caps, disposal, `/rooms`), the fixed-tick room
//!   task (players, resume, numbered events), and the client link between a session and its
//!   room.
//! - [`sim`]: the game seam ([`sim::Game`], [`sim::GameWorld`]) and the games built on it: the
//!   reference arena and the coin game. Plug in your own with [`Server::bind_with_games`]
//!   (`examples/tag.rs`).
//! - [`sync`]: snapshots, interest, baselines and delta frames.
//! - [`record`]: recording a room's match (`[recording]`), off the room's task.
//! - [`replay`]: re-simulating a recording and checking every tick's checksum.
//! - [`metrics`]: metric names, descriptions and histogram buckets.
//! - [`ops`]: what operators use: the Prometheus recorder, the ops HTTP listener (`/metrics`,
//!   `/healthz`, `/readyz`), logging, and the shutdown signal.

pub mod config;
pub mod join_token;
pub mod metrics;
pub mod net;
pub mod ops;
pub mod record;
pub mod replay;
pub mod room;
pub mod server;
pub mod sim;
pub mod sync;

pub use config::{Config, LogConfig, LogFormat, OptionalAddr, Overrides};
pub use server::{Server, ServerHandle, StartError, builtin_games};
