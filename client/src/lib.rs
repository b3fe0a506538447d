//! A Tickstream client for Rust games: connect, join or resume a room, a verified replica of
//! what the player sees, inputs, and the interpolation and prediction a game loop needs.
//!
//! The crate speaks protocols v2 to v6 (`docs/PROTOCOL.md`), offering all of them; the server
//! picks the highest it speaks. The Tickstream bots are built on it, so every load run and benchmark
//! exercises the same code a game runs.
//!
//! # Layout
//!
//! - [`connect`](mod@connect): [`Connector`] and [`ConnectOptions`]: URL, join token, TCP,
//!   TLS (a development certificate trusted, or `insecure`) and the HTTP/1.1 upgrade.
//! - [`connection`]: [`Connection`], one open WebSocket, and its [`ConnectionReader`] /
//!   [`ConnectionWriter`] halves; one binary frame per message.
//! - [`player`]: [`PlayerState`], what carries a player across connections (entity, resume
//!   token, last event, input sequence), and [`open()`], connect to `Welcome`.
//! - [`view`]: [`View`], a connection's replica fed every update, checksum verified.
//! - [`session`]: [`Session`], the API a game uses: join or resume, [`Session::next`] for
//!   updates and events, [`Session::set_input`], automatic resume after a drop.
//! - [`spectator`]: [`Spectator`], watch a room (or a recording) without playing: protocol v6.
//! - [`poll`]: [`PollClient`], a session on its own thread for engines without tokio.
//! - [`interpolation`]: [`ServerClock`] and [`Interpolator`], remote entities drawn smoothly
//!   behind a delay that adapts to the jitter.
//! - [`prediction`]: [`Predictor`], the own entity ahead of the server, reconciled.
//! - [`vec2`]: [`Vec2`], plain `f32` positions; `glam` and `mint` conversions by feature.
//! - `tls` (private): the rustls client configuration.

pub mod connect;
pub mod connection;
pub mod counting;
pub mod interpolation;
pub mod player;
pub mod poll;
pub mod prediction;
pub mod session;
pub mod spectator;
mod tls;
pub mod vec2;
pub mod view;

pub use connect::{ConnectError, ConnectOptions, Connector, connect};
pub use connection::{
    Connection, ConnectionError, ConnectionReader, ConnectionWriter, Control, Incoming, NO_STATUS,
};
pub use interpolation::{ClockOptions, Drawn, Interpolator, ServerClock};
pub use player::{OpenError, PlayerState, WelcomeError, open};
pub use poll::{PollClient, PollEvent};
pub use prediction::{Predictor, StepFn, StepInput};
pub use session::{InputHandle, Session, SessionError, SessionEvent, SessionOptions};
pub use spectator::{Spectator, SpectatorError, SpectatorEvent};
pub use vec2::Vec2;
pub use view::{Applied, Verify, View, ViewError};
