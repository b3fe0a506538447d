//! The Tickstream wire protocol, shared by the server, the bots and the tests.
//!
//! Everything that crosses the wire is defined here once: the message types, the one bincode
//! configuration, the quantization of positions, the delta format and the client-side
//! [`Replica`] that applies deltas and checks the server's view checksum. The browser client
//! mirrors this crate; `docs/PROTOCOL.md` describes the same bytes for other languages.
//!
//! # Layout
//!
//! - [`ids`]: small wire newtypes ([`EntityId`], [`Tick`]).
//! - [`quant`]: positions in world units ⇄ the fixed grid sent on the wire.
//! - [`entity`]: [`EntityState`], one entity as a client sees it, and its hash.
//! - [`delta`]: [`Delta`] (spawns, per-field changes, despawns), its compact encoding, and
//!   [`delta::diff`], the pure function that computes it between two views.
//! - [`messages`]: [`ClientMsg`] and [`ServerMsg`], the only things sent over a socket.
//! - [`codec`]: encode and decode with the one bincode config and hard size limits.
//! - [`replica`]: [`Replica`], the client's copy of its view.
//! - [`rng`]: [`Mulberry32`], the reference scenario's PRNG (server simulation and bots).
//! - [`room_name`]: [`RoomName`], a room name checked against the protocol's rule.

pub mod codec;
pub mod delta;
pub mod delta3;
pub mod entity;
pub mod ids;
pub mod messages;
pub mod quant;
pub mod replica;
pub mod rng;
pub mod room_name;

pub use codec::CodecError;
pub use delta::{Change, Delta, FieldChange};
pub use delta3::{Delta3, Motion, Move};
pub use entity::{EntityState, Fields, MAX_FIELDS, view_checksum};
pub use ids::{EntityId, Tick};
pub use messages::{
    ClientMsg, ErrorMsg, FieldSpec, Follow, GameEvent, Input, Input5, Join, MoveRule, Moved, Ping,
    Pong, Resume, ServerMsg, Spectate, Spectating, Update, Update3, Welcome, Welcome4,
};
pub use replica::{Replica, ReplicaError};
pub use rng::Mulberry32;
pub use room_name::{RoomName, RoomNameError};

/// The WebSocket subprotocol of the newest protocol version: what clients in this tree offer.
pub const SUBPROTOCOL: &str = "tickstream.v6";

/// The newest protocol version, carried in [`Welcome`]; it changes whenever the bytes change.
pub const PROTOCOL_VERSION: u16 = 6;

/// Every protocol version the server still speaks, newest first: deployed clients keep working.
pub const SUPPORTED_VERSIONS: [u16; 5] = [6, 5, 4, 3, 2];

/// The WebSocket subprotocol that names protocol `version` (`tickstream.v3`, …); `None` for a
/// version this crate does not speak.
#[must_use]
pub fn subprotocol(version: u16) -> Option<&'static str> {
    match version {
        2 => Some("tickstream.v2"),
        3 => Some("tickstream.v3"),
        4 => Some("tickstream.v4"),
        5 => Some("tickstream.v5"),
        6 => Some("tickstream.v6"),
        _ => None,
    }
}

/// The HTTP path of the WebSocket endpoint.
pub const WS_PATH: &str = "/ws";

/// WebSocket close codes used by Tickstream. The standard ones follow RFC 6455; the 4000 range
/// is Tickstream's own. The same code is carried in [`ErrorMsg`] before the close frame.
pub mod close_code {
    /// Normal closure (the client or server ended the session cleanly).
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutdown or drain).
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error: a frame or message that does not decode, an unmasked or malformed
    /// frame, wrong message order.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Text frames: the protocol is binary only.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Policy violation: message rate over the limit.
    pub const POLICY: u16 = 1008;
    /// A message larger than the limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server hit an internal error with this session.
    pub const INTERNAL: u16 = 1011;
    /// Try again later: the room or the server is full (the reason says which).
    pub const TRY_AGAIN: u16 = 1013;
    /// The client could not keep up with its updates for longer than the configured limit.
    pub const TOO_SLOW: u16 = 4000;
    /// The client did not send `Join` within the configured time after the upgrade.
    pub const JOIN_TIMEOUT: u16 = 4001;
    /// The room name in `Join` is empty, too long or has characters outside `[A-Za-z0-9_.-]`.
    pub const BAD_ROOM_NAME: u16 = 4002;
    /// The client sent nothing (not even a pong) for longer than the idle limit.
    pub const IDLE_TIMEOUT: u16 = 4003;
    /// The client did not take its one-shot events fast enough and its bounded event queue
    /// overflowed: rather than lose an event silently, the server disconnects it. A `Resume`
    /// may still recover the events if they are within the room's history.
    pub const EVENTS_OVERFLOW: u16 = 4004;
    /// A `Resume` was refused: the token is unknown, already used, for another room, or its
    /// grace period is over (the entity is gone), or the events since `last_event_seq` are no
    /// longer kept. The reason says which; the client should `Join` afresh.
    pub const RESUME_REFUSED: u16 = 4005;
    /// Sent by a client, not the server: "I am closing but coming back" (a page reload, a
    /// recovery). The server keeps the player for its resume grace period, as after a drop;
    /// a client closing with 1000 or 1001 leaves at once.
    pub const SUSPEND: u16 = 4100;
    /// A `Spectate` named a room that does not exist (a spectator never creates one).
    pub const NO_SUCH_ROOM: u16 = 4006;
    /// A `Join` or `Resume` reached a room that only takes spectators: a recording played back
    /// by `tickstream-server replay --serve`.
    pub const SPECTATORS_ONLY: u16 = 4007;
}
