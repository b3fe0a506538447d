//! The network edge: TLS, the HTTP upgrade, and one session per WebSocket.
//!
//! # Layout
//!
//! - [`NetCtx`]: what the layer needs from the server, passed down by `server.rs`.
//! - [`tls`]: the wss certificate, loaded from PEM files or generated for localhost.
//! - [`listener`]: accept loops with a connection cap and accept-error back-off.
//! - [`ip_limit`]: the per-address connection cap.
//! - [`upgrade`]: the HTTP/1.1 exchange: path, upgrade headers, subprotocol, refusals.
//! - [`session`]: a connected client: the socket-free protocol core
//!   ([`session::protocol`]) between a thin reader task and a thin writer task.
//! - [`rejection`]: [`rejection::Rejection`], why a connection was refused, one per metric
//!   label.
//! - [`rate`]: the per-connection token bucket.
//! - [`static_files`]: the browser demo page and JavaScript client, embedded, served at `/`.
//! - [`frame_guard`]: the RFC 6455 framing rules fastwebsockets leaves to us (masking,
//!   control-frame size), checked as bytes are read.

mod context;
pub mod frame_guard;
pub mod ip_limit;
pub mod listener;
pub mod rate;
pub mod rejection;
pub mod session;
pub mod static_files;
pub mod tls;
pub mod upgrade;

pub use context::NetCtx;
