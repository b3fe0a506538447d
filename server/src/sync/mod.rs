//! Turning the world into each client's frames.
//!
//! # Layout
//!
//! - [`snapshot`]: [`Snapshot`], the immutable, shared picture of one tick.
//! - [`interest`]: which entities one client can see.
//! - [`frame`]: encoding an update frame: a per-client header before a delta body that clients
//!   with the same baseline share.
//! - [`budget`]: [`budget::Budget`], a client's bandwidth budget: which entities an update
//!   carries when not all fit (a priority accumulator), and exactly what the client then holds.
//! - [`client_sync`]: [`TickFrame`], what the room publishes each tick (the snapshot, the grid,
//!   the shared delta body), and [`ClientSync`], one client's baseline, from which its writer
//!   builds the client's next frame.

pub mod budget;
pub mod client_sync;
pub mod frame;
pub mod interest;
pub mod snapshot;

pub use client_sync::{ClientSync, TickFrame};
pub use snapshot::Snapshot;
