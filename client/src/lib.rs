//! A Tickstream client for Rust games: connect, join or resume a room, a verified replica of
//! what the player sees, inputs, and the interpolation and prediction a game loop needs.
//!
//! The crate speaks protocol v3 and v2 (`docs/PROTOCOL.md`), offering both; the server picks
//! the highest it speaks. The Tickstream bots are built on it, so every load run and benchmark
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
//! - `tls` (private): the rustls client configuration.

pub mod connect;
pub mod connection;
pub mod player;
mod tls;
pub mod view;

pub use connect::{ConnectError, ConnectOptions, Connector, connect};
pub use connection::{
    Connection, ConnectionError, ConnectionReader, ConnectionWriter, Control, Incoming, NO_STATUS,
};
pub use player::{OpenError, PlayerState, WelcomeError, open};
pub use view::{Applied, Verify, View, ViewError};
