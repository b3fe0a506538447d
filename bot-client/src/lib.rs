//! Headless Tickstream bots: real clients for load generation, verification, latency and
//! bandwidth reports.
//!
//! A bot does what a game client does: it connects over `wss://` (or `ws://`), offers the
//! `tickstream.v2` subprotocol, joins a room, sends the reference scenario's inputs at 20 Hz and
//! applies every update to its own [`tickstream_shared::Replica`], checking the server's view
//! checksum (game fields included) and that its game events arrive numbered 1, 2, 3… without
//! a gap. Bots can be spread over several rooms, and can drop their connection at random and
//! `Resume` it, checking that they get the same entity back and miss no event. Whatever game a
//! room runs (`arena`, `coins`…), the bots play it the same way. Thousands of bots share one process and a multi-threaded tokio runtime: two tasks
//! per bot, no locks and no allocation per update beyond decoding, counters in per-bot atomics
//! and histograms merged once at the end.
//!
//! Integration tests use [`connect()`] and [`Client`] to speak the protocol by hand, and
//! [`load::run`] to run bots against a real server.
//!
//! # Layout
//!
//! - [`connect`](mod@connect): [`Connector`] and [`ConnectOptions`]: URL, TCP, TLS and the HTTP/1.1 upgrade.
//! - [`client`]: [`Client`], an open connection, and its [`ClientReader`] / [`ClientWriter`]
//!   halves; one binary frame per message.
//! - [`counting`]: [`counting::CountingStream`], the socket wrapper that counts the bytes that
//!   arrived (WebSocket framing, TLS records).
//! - [`schedule`]: [`InputSchedule`], the scenario's bot input rule.
//! - [`rtt`]: [`rtt::RttRing`], lock-free send times for input round trips.
//! - [`events`]: [`events::EventCheck`], a player's event sequence numbers checked for gaps.
//! - [`churn`]: [`Churn`] and the random drop times of a bot.
//! - [`bot`]: [`bot::run_bot`], one bot from connect to close, and its [`bot::BotReport`].
//! - [`summary`]: [`Summary`] and the [`summary::Aggregator`] that merges bot reports.
//! - [`http`]: a plain HTTP GET for the server's ops endpoints and Prometheus' API.
//! - [`misbehave`]: probes that misbehave on purpose and report what the server answered.
//! - [`load`]: [`LoadConfig`] and [`load::run`], a whole run with progress reports.
//! - [`bench`](mod@bench): the benchmark behind `tickstream-bench`: server and bots on this machine, the
//!   server's CPU, ticks and memory measured from outside.
//! - `tls` (private): the rustls client configuration (`--ca`, `--insecure`).

pub mod bench;
pub mod bot;
pub mod churn;
pub mod client;
pub mod connect;
pub mod counting;
pub mod events;
pub mod http;
pub mod load;
pub mod misbehave;
pub mod rtt;
pub mod schedule;
pub mod summary;
mod tls;

pub use churn::Churn;
pub use client::{Client, ClientError, ClientReader, ClientWriter, Incoming};
pub use connect::{ConnectError, ConnectOptions, Connector, connect};
pub use load::{LoadConfig, LoadError, Phase, Progress};
pub use schedule::InputSchedule;
pub use summary::{RoomSummary, Summary};
