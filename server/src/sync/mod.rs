//! Turning the world into each client's frames.
//!
//! # Layout
//!
//! - [`snapshot`]: [`Snapshot`], the immutable, shared picture of one tick.
//! - [`interest`]: which entities one client can see.
//! - [`frame`]: encoding an update frame: a per-client header before a delta body that clients
//!   with the same baseline share.
//! - [`client_sync`]: [`ClientSync`], what one client was last sent (its baseline), and the
//!   per-tick [`BodyCache`] that lets clients with the same baseline share one encoding.

pub mod client_sync;
pub mod frame;
pub mod interest;
pub mod snapshot;

pub use client_sync::{BodyCache, ClientSync};
pub use snapshot::Snapshot;
