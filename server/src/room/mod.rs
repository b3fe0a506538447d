//! Rooms: one task per room runs the fixed tick; the registry finds or creates rooms by name.
//!
//! # Layout
//!
//! - [`link`]: [`ClientLink`], the only state a session and its room share: the latest input
//!   (session → room) and the outbox (room → session writer), both latest-wins and bounded.
//! - [`room`]: the room task: inputs → step → snapshot, published to every client's link;
//!   each session's writer builds and encodes its own client's frame from it.
//! - [`room_info`]: [`RoomInfo`], what the rest of the server reads about a running room.
//! - [`saved_room`]: [`SavedRoom`], a room's whole state as versioned bytes, for a handoff.
//! - [`handoff`]: [`Successor`], where a draining room goes, and how each attempt is counted.
//! - [`registry`]: [`Registry`], rooms by name, created on first join up to a cap.

pub mod handoff;
pub mod link;
pub mod registry;
#[allow(clippy::module_inception)]
pub mod room;
pub mod room_info;
pub mod saved_room;

pub use handoff::{HandoffError, Successor};
pub use link::{ClientLink, Outgoing};
pub use registry::{AdoptError, JoinError, Joined, OpenError, Registry, RoomCaps, RoomInfo};
pub use saved_room::{SAVE_VERSION, SaveError, SavedRoom};
