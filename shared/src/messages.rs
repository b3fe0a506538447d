//! The messages: [`ClientMsg`] from a client, [`ServerMsg`] from the server.
//!
//! Both are bincode enums, encoded by variant position: variants are append-only and never
//! reordered (the golden vectors in `tests/golden.rs` catch an accidental change).

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};

use crate::{Delta, EntityId, Tick};

/// Everything a client may send, one per binary WebSocket frame.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum ClientMsg {
    /// Enter a room; must be the first message, and is accepted once per connection.
    Join(Join),
    /// The player's intent for the coming ticks.
    Input(Input),
    /// Asks for a [`Pong`] carrying the same `client_time` back.
    Ping(Ping),
}

/// Enter the room with this name, creating it if the server has room for one more.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Join {
    /// 1 to 64 characters of `[A-Za-z0-9_.-]`.
    pub room: String,
}

/// A player's input. The latest input stays in force until the next one.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
pub struct Input {
    /// Strictly increasing per connection, starting at 1; echoed back in [`Update::ack_seq`]
    /// once applied, so a client can reconcile its prediction.
    pub seq: u32,
    /// Movement direction x, in `[-1, 1]`; the server normalises `(dx, dy)`.
    pub dx: f32,
    /// Movement direction y, in `[-1, 1]`.
    pub dy: f32,
    /// Button bits, game-defined; the reference game ignores them.
    pub buttons: u32,
}

/// A latency probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Ping {
    /// Any value the client likes (usually its clock); returned unchanged.
    pub client_time: u64,
}

/// Everything the server sends, one per binary WebSocket frame.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum ServerMsg {
    /// The answer to [`Join`]: who you are and how the room runs.
    Welcome(Welcome),
    /// The per-tick delta of the client's view.
    Update(Update),
    /// The answer to [`Ping`].
    Pong(Pong),
    /// Why the server is about to close the connection.
    Error(ErrorMsg),
}

/// Sent once, right after a successful [`Join`], before the first [`Update`].
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
pub struct Welcome {
    /// [`crate::PROTOCOL_VERSION`] of the server.
    pub protocol: u16,
    /// The client's own entity; it is always in the client's view.
    pub entity: EntityId,
    /// Ticks (and so updates) per second.
    pub tick_rate_hz: u16,
    /// The room's current tick.
    pub tick: Tick,
    /// The arena is `[0, world_width] × [0, world_height]`, in world units.
    pub world_width: f32,
    /// See `world_width`.
    pub world_height: f32,
    /// Entities within this distance of the client's own entity are in view; 0 means all.
    pub view_radius: f32,
}

/// One tick of a client's view.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Update {
    /// The tick this update brings the client's view to.
    pub tick: Tick,
    /// The `seq` of the latest input applied for this client at or before `tick`; 0 = none.
    pub ack_seq: u32,
    /// The checksum of the whole view after applying `delta` (see [`crate::view_checksum`]).
    pub checksum: ViewChecksum,
    /// What changed since the previous update this client received (or since nothing, for the
    /// first one).
    pub delta: Delta,
}

/// A view checksum, sent as four little-endian bytes (a varint would average five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ViewChecksum(pub u32);

impl Encode for ViewChecksum {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        self.0.to_le_bytes().encode(e)
    }
}

impl<Context> Decode<Context> for ViewChecksum {
    fn decode<D: Decoder<Context = Context>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(Self(u32::from_le_bytes(<[u8; 4]>::decode(d)?)))
    }
}
bincode::impl_borrow_decode!(ViewChecksum);

/// The answer to [`Ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Pong {
    /// The ping's `client_time`, unchanged.
    pub client_time: u64,
    /// The room's tick when the ping was read (0 before joining).
    pub server_tick: Tick,
}

/// Sent just before the server closes a connection, with the same code as the close frame.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ErrorMsg {
    /// A close code from [`crate::close_code`].
    pub code: u16,
    /// A short human-readable reason.
    pub reason: String,
}
