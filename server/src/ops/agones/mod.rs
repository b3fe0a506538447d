//! The Agones game server lifecycle, through the SDK sidecar's HTTP gateway.
//!
//! Agones runs an SDK server beside every game server container (the "sidecar"), reachable on
//! `127.0.0.1:$AGONES_SDK_HTTP_PORT` (9358 by default) with the same calls as its gRPC API,
//! as JSON over HTTP/1.1 (see Agones' "REST Game Server Client API"). This module speaks it
//! with the hyper client the server already has: no gRPC stack, no code generation.
//!
//! With `[agones] enabled = true`, [`Agones::start`] runs three tasks:
//!
//! - **lifecycle**: `POST /ready` once the listeners are bound (the caller starts it after
//!   [`crate::Server::bind`]), retried every health period until the sidecar answers; then, on
//!   the same period, the player and room counts as Agones Counters
//!   (`PATCH /v1beta1/counters/{name}`, only when they changed), and with
//!   `shutdown_when_empty`, `POST /shutdown` once every room is empty after players had joined;
//! - **health**: `POST /health` every `health_period_ms`;
//! - **watch**: `GET /gameserver`, then `GET /watch/gameserver` (newline-delimited JSON, one
//!   GameServer per change), reconnected after any failure: the state (`Shutdown` ends the
//!   server) and the labels (`tickstream.dev/room` and `tickstream.dev/game` open the room an
//!   allocation asked for).
//!
//! [`Agones::shutdown_requested`] completes when Agones moved the GameServer to `Shutdown`, or
//! when the server asked for it after its last player left; the binary then drains exactly as
//! on SIGTERM. Every call is bounded by `request_timeout_ms`; a sidecar that is missing, hung or
//! answering errors is logged (once when it starts failing, once when it recovers) and counted
//! in `tickstream_agones_errors_total{call}`, and never stops or slows the game.
//!
//! A Counter the GameServer does not declare, or a count beyond the Counter's capacity, is not
//! the sidecar failing but the Fleet and the server disagreeing, and no retry mends it: the
//! sidecar answers both with HTTP 500 (see [`SdkError::counter_refusal`]); the server logs it
//! once at warn, counts it in `tickstream_agones_refusals_total{reason}`, and pushes
//! that Counter no more (undeclared) or that count no more (over capacity).
//!
//! Counters rather than the alpha player tracking: Counters and Lists are Beta and on by
//! default since Agones 1.41, player tracking is still Alpha behind a feature gate, and a
//! Counter can count rooms as well as players, which is what high-density allocation
//! (allocating an already Allocated server that still has room capacity) filters on.
//!
//! # Layout
//!
//! - [`client`]: [`SdkClient`], the sidecar's HTTP gateway: one short connection per call,
//!   every call bounded, the watch stream read line by line.
//! - [`error`]: [`SdkError`], why a call failed, and [`CounterRefusal`], which answers are the
//!   Fleet and the server disagreeing rather than the sidecar failing.
//! - [`game_server`]: [`GameServer`], what the SDK reports, and the watch stream's lines.
//! - [`lifecycle`]: [`Agones`], the tasks started from the `[agones]` settings; Ready, the
//!   Counters and the empty check on the health period; the Health pings.
//! - [`host`]: [`Host`], the narrow view of the server the client reads (players, rooms)
//!   and steers (the room an allocation asks for); `server.rs` implements it.
//! - `counter`: one Counter kept at a count, and its refusals.
//! - `watch`: the GameServer's changes: `Shutdown`, and the labels of an allocation.
//! - `failing`: a call's failures, logged when they start and when they stop.

pub mod client;
mod counter;
pub mod error;
mod failing;
pub mod game_server;
pub mod host;
pub mod lifecycle;
mod watch;

pub use client::{MAX_BODY, SdkClient};
pub use error::{CounterRefusal, SdkError};
pub use game_server::{
    GameServer, GameServerStatus, ObjectMeta, Port, STATE_SHUTDOWN, parse_watch_line,
};
pub use host::{Host, Load};
pub use lifecycle::{Agones, ShutdownCause};
