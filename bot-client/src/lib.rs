//! Headless Tickstream bots: real clients for load generation, verification, latency and
//! bandwidth reports.
//!
//! A bot does what a game client does: it connects over `wss://` (or `ws://`), offers the
//! `tickstream.v5` subprotocol (or the version it is told), joins a room, sends the reference
//! scenario's inputs at 20 Hz and applies every update to its own [`tickstream_client::View`],
//! checking the server's view
//! checksum (game fields included) and that its game events arrive numbered 1, 2, 3… without
//! a gap. Bots can be spread over several rooms, and can drop their connection at random and
//! `Resume` it, checking that they get the same entity back and miss no event. Whatever game a
//! room runs (`arena`, `coins`…), the bots play it the same way, except the `duel`: there a bot
//! walks and fires only at a target its own interpolated view shows under its aim, and counts
//! the hits the server confirms (lag compensation). With [`latency::LatencyRelay`] the bots see
//! an emulated one-way latency in both directions. Thousands of bots share one process and a multi-threaded tokio runtime: two tasks
//! per bot, no locks and no allocation per update beyond decoding, counters in per-bot atomics
//! and histograms merged once at the end.
//!
//! Everything a game client does (connect, join, resume, apply updates to a verified replica)
//! is the [`tickstream_client`] crate's: a bot drives it and measures around it. Integration
//! tests use [`load::run`] to run bots against a real server, and `tickstream_client` to speak
//! the protocol by hand.
//!
//! # Layout
//!
//! - [`schedule`]: [`InputSchedule`], the scenario's bot input rule.
//! - [`rtt`]: [`rtt::RttRing`], lock-free send times for input round trips.
//! - [`events`]: [`events::EventCheck`], a player's event sequence numbers checked for gaps.
//! - [`churn`]: [`Churn`] and the random drop times of a bot.
//! - [`moves`]: [`moves::MoveCheck`], whether a room a bot followed to another process
//!   (protocol v5's `Moved`) continues the world it left.
//! - [`bot`]: [`bot::run_bot`], one bot from connect to close, and its [`bot::BotReport`].
//! - [`spectators`]: spectator bots (`--spectators N`), watching the bots' rooms, verified.
//! - [`summary`]: [`Summary`] and the [`summary::Aggregator`] that merges bot reports.
//! - [`floor`]: the I/O floor of the benchmark, a fan-out server that computes nothing, and
//!   bots that only count its frames.
//! - [`http`]: a plain HTTP GET for the server's ops endpoints and Prometheus' API.
//! - [`misbehave`]: probes that misbehave on purpose and report what the server answered.
//! - [`latency`]: [`latency::LatencyRelay`], emulated one-way latency both ways.
//! - [`load`]: [`LoadConfig`] and [`load::run`], a whole run with progress reports.
//! - [`bench`](mod@bench): the benchmark behind `tickstream-bench`: server and bots on this machine, the
//!   server's CPU, ticks and memory measured from outside.

pub mod bench;
pub mod bot;
pub mod churn;
pub mod events;
pub mod floor;
pub mod http;
pub mod latency;
pub mod load;
pub mod misbehave;
pub mod moves;
pub mod rtt;
pub mod schedule;
pub mod spectators;
pub mod summary;

pub use churn::Churn;
pub use load::{LoadConfig, LoadError, Phase, Progress};
pub use schedule::InputSchedule;
pub use summary::{RoomSummary, Summary};
