//! The messages: [`ClientMsg`] from a client, [`ServerMsg`] from the server.
//!
//! Both are bincode enums, encoded by variant position: variants are append-only and never
//! reordered (the golden vectors in `tests/golden.rs` catch an accidental change).

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};

use crate::delta3::Delta3;
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
    /// Take back the entity of a dropped connection; instead of [`Join`], as the first message.
    Resume(Resume),
    /// Protocol v5's input: [`Input`] plus the time the client was displaying other entities
    /// at, so that the server judges the input against what the player saw (lag compensation).
    /// Sent instead of [`ClientMsg::Input`] on a `tickstream.v5` connection.
    Input5(Input5),
    /// Protocol v6: watch a room instead of playing in it; instead of [`Join`], as the first
    /// message. The spectator has no entity and sends no input; it is answered with
    /// [`ServerMsg::Spectating`], then updates like a player's.
    Spectate(Spectate),
    /// Protocol v6, spectators only: change what the view follows.
    Follow(Follow),
}

/// Watch the room with this name (protocol v6). The room must exist: a spectator never creates
/// one.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Spectate {
    /// The room, as in [`Join`].
    pub room: String,
    /// The entity whose view to follow (what that player sees); `None`: the whole room.
    pub follow: Option<EntityId>,
}

/// A spectator's new choice of view (protocol v6); takes effect from the next update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Follow {
    /// The entity to follow; `None`: the whole room. An entity that is not (or no longer) in
    /// the room shows the whole room until it is.
    pub entity: Option<EntityId>,
}

/// Enter the room with this name, creating it if the server has room for one more.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Join {
    /// 1 to 64 characters of `[A-Za-z0-9_.-]`.
    pub room: String,
}

/// Reconnects to the entity a previous connection held, within the room's grace period.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Resume {
    /// The room the entity lives in, as in [`Join`].
    pub room: String,
    /// [`Welcome::resume_token`] of the previous connection (single use).
    pub token: String,
    /// The `seq` of the last [`GameEvent`] the client received (0 = none): the server sends
    /// every later one again, in order, so no event is lost across the reconnect.
    pub last_event_seq: u32,
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

/// Protocol v5's input: the fields of [`Input`], then the render time of the frame the player
/// made it on: tick `view_tick + view_frac / 256`, the time the client's interpolation showed
/// the other entities at (PROTOCOL.md §17.1). The server clamps it into its history.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
pub struct Input5 {
    /// As [`Input::seq`].
    pub seq: u32,
    /// As [`Input::dx`].
    pub dx: f32,
    /// As [`Input::dy`].
    pub dy: f32,
    /// As [`Input::buttons`].
    pub buttons: u32,
    /// The whole tick of the displayed time.
    pub view_tick: Tick,
    /// The fraction of a tick past `view_tick`, in 1/256 of a tick.
    pub view_frac: u8,
}

impl Input5 {
    /// `input` made while the client displayed tick `render_tick` (fractional; negative or
    /// non-finite values give tick 0, the fraction is rounded down to 1/256).
    #[must_use]
    pub fn new(input: Input, render_tick: f64) -> Self {
        let (view_tick, view_frac) = view_time(render_tick);
        Self {
            seq: input.seq,
            dx: input.dx,
            dy: input.dy,
            buttons: input.buttons,
            view_tick,
            view_frac,
        }
    }

    /// The input without its view time.
    #[must_use]
    pub fn input(&self) -> Input {
        Input {
            seq: self.seq,
            dx: self.dx,
            dy: self.dy,
            buttons: self.buttons,
        }
    }

    /// The displayed time as a fractional tick.
    #[must_use]
    pub fn render_tick(&self) -> f64 {
        f64::from(self.view_tick.0) + f64::from(self.view_frac) / 256.0
    }
}

/// A fractional render tick as protocol v5 sends it: the whole tick and 1/256ths of a tick,
/// rounded down. Anything below 0 or not finite is tick 0; anything past `u32::MAX` that tick.
#[must_use]
pub fn view_time(render_tick: f64) -> (Tick, u8) {
    if !render_tick.is_finite() || render_tick <= 0.0 {
        return (Tick(0), 0);
    }
    if render_tick >= f64::from(u32::MAX) {
        return (Tick(u32::MAX), 0);
    }
    let whole = render_tick.floor();
    // In [0, 256): the cast cannot overflow.
    let frac = (((render_tick - whole) * 256.0).floor() as u32).min(255) as u8;
    (Tick(whole as u32), frac)
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
    /// Protocol v3's per-tick update: positions as residuals from the client's prediction.
    /// Sent instead of [`ServerMsg::Update`] on a `tickstream.v3` connection.
    Update3(Update3),
    /// Protocol v4's answer to [`Join`] and [`Resume`]: the v3 welcome and the game's movement
    /// rule. Sent instead of [`ServerMsg::Welcome`] on a `tickstream.v4` connection.
    Welcome4(Welcome4),
    /// Protocol v5: the room moved to another process (a deploy handed it over), so the server
    /// is about to close this connection with 1001. The client resumes at `url` with
    /// [`Resume`] (its current token, its `last_event_seq`, input seqs continuing), same room
    /// name. Never sent on a v2–v4 connection: those get the plain 1001.
    Moved(Moved),
    /// Protocol v6's answer to [`Spectate`]: how the room runs and what the spectator sees.
    /// Updates follow as on a player's connection ([`ServerMsg::Update3`]).
    Spectating(Spectating),
}

/// The answer to [`Spectate`] (PROTOCOL.md §18).
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Spectating {
    /// The room's description as a player's welcome gives it, except that `entity` is 0 (a
    /// spectator has none), `resume_token` is empty (a spectator re-spectates instead) and
    /// `tick` is the tick the spectator's view starts from (the room's tick minus the delay).
    pub welcome: Welcome4,
    /// The entity the view follows, as asked; `None`: the whole room.
    pub follow: Option<EntityId>,
    /// How far behind the room's live tick the spectator's view runs, in milliseconds
    /// (`rooms.spectator_delay_ms`, rounded up to whole ticks; 0 for a recording).
    pub delay_ms: u32,
    /// True when the room is a recording played back (`tickstream-server replay --serve`):
    /// the match already happened, and the view ends with the recording (close 1000).
    pub recording: bool,
}

/// Protocol v5's notice that the client's room now runs elsewhere (PROTOCOL.md §17.2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Moved {
    /// The WebSocket URL of the process that runs the room now (`wss://host:port/ws`).
    pub url: String,
}

/// Sent once, right after a successful [`Join`] or [`Resume`], before the first [`Update`]
/// (which spawns the client's whole view: a client starts a fresh replica on every welcome).
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
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
    /// The game the room runs (`arena`, `coins`, or a studio's own).
    pub game: String,
    /// `kinds[k]` names entity kind `k` (`player`, `npc`, `coin`…).
    pub kinds: Vec<String>,
    /// `fields[i]` describes game field `i` of every entity; fields past the end are unused.
    pub fields: Vec<FieldSpec>,
    /// `event_kinds[k]` names [`GameEvent::kind`] `k`.
    pub event_kinds: Vec<String>,
    /// Single-use secret for [`Resume`] after a dropped connection (32 hex digits).
    pub resume_token: String,
    /// True when this welcome answers a [`Resume`]: same entity, continued inputs and events.
    pub resumed: bool,
}

/// Protocol v4's welcome: [`Welcome`]'s fields, in the same order and encoding, followed by
/// the movement rule of the player's own entity.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Welcome4 {
    /// Everything a v3 welcome says (`protocol` is 4).
    pub welcome: Welcome,
    /// How the game moves the player's own entity, so that a client can predict it.
    pub move_rule: MoveRule,
}

impl Welcome4 {
    /// The welcome a protocol v2 or v3 server sent, with the rule those versions left unsaid
    /// ([`MoveRule::assumed_for`] its game).
    #[must_use]
    pub fn assumed(welcome: Welcome) -> Self {
        let move_rule = MoveRule::assumed_for(&welcome.game);
        Self { welcome, move_rule }
    }
}

/// A v4 welcome reads as the v3 welcome it extends: `w.entity`, `w.game`…
impl std::ops::Deref for Welcome4 {
    type Target = Welcome;

    fn deref(&self) -> &Welcome {
        &self.welcome
    }
}

/// The rule by which a game moves a player's own entity each tick, as far as the game
/// publishes it (PROTOCOL.md §16). A client predicts the own entity with it.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
pub enum MoveRule {
    /// The game publishes no rule: a client predicts with a step function of the game's own,
    /// or shows the own entity where the server puts it.
    None,
    /// Each tick: `(dx, dy)` of the input in force normalised (zero stays zero), the position
    /// moved `speed` world units along it, then clamped into `[0, world_width] ×
    /// [0, world_height]`. The built-in games move players this way.
    Walk {
        /// World units per tick; finite and not negative.
        speed: f32,
    },
}

impl MoveRule {
    /// Whether the rule is one a client can run: a `Walk` speed must be finite and not
    /// negative.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        match *self {
            Self::None => true,
            Self::Walk { speed } => speed.is_finite() && speed >= 0.0,
        }
    }

    /// The rule the built-in games followed before the welcome said so (protocols 2 and 3):
    /// `arena` players walk 5 units per tick and `coins` players 4, with their default
    /// settings; any other game is [`MoveRule::None`].
    #[must_use]
    pub fn assumed_for(game: &str) -> Self {
        match game {
            "arena" => Self::Walk { speed: 5.0 },
            "coins" => Self::Walk { speed: 4.0 },
            _ => Self::None,
        }
    }
}

/// What one game field holds: `value = raw × scale` in the game's units.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct FieldSpec {
    /// The field's name (`health`, `rotation`, `team`, `score`…).
    pub name: String,
    /// The quantization step: 1 for counts and enums, 2π/65536 for a 16-bit angle, and so on.
    pub scale: f32,
}

/// A one-shot game event (a player joined, a coin was collected, a chat line). Events reach a
/// client in `seq` order, each exactly once per connection, carried by the next updates.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GameEvent {
    /// 1, 2, 3… per player, without gaps, across resumes.
    pub seq: u32,
    /// Game-defined; [`Welcome::event_kinds`] names it.
    pub kind: u16,
    /// The entity the event is about (game-defined meaning).
    pub entity: EntityId,
    /// A game-defined number (points scored, damage…).
    pub value: i32,
    /// Game-defined text, at most [`MAX_EVENT_TEXT`] bytes.
    pub text: String,
}

/// The longest [`GameEvent::text`], in bytes.
pub const MAX_EVENT_TEXT: usize = 128;

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
    /// One-shot events since the previous update, in `seq` order.
    pub events: Vec<GameEvent>,
}

/// One tick of a client's view in protocol v3. Tick and ack are differences from the previous
/// update of the connection, so the usual header is seven bytes.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Update3 {
    /// This update's tick minus the previous update's (the tick itself in a connection's first
    /// update); at least 1.
    pub tick_gap: u32,
    /// This update's `ack_seq` minus the previous update's, wrapping (the `ack_seq` itself in a
    /// connection's first update).
    pub ack_delta: u32,
    /// The checksum of the whole view after applying `delta` (see [`crate::view_checksum`]).
    pub checksum: ViewChecksum,
    /// What changed since the previous update, positions against the client's prediction.
    pub delta: Delta3,
    /// One-shot events since the previous update, in `seq` order.
    pub events: Vec<GameEvent>,
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
