//! Operations: what an operator sees and steers while the server runs.
//!
//! # Layout
//!
//! - [`recorder`]: the process-wide Prometheus recorder behind the `metrics` facade: explicit
//!   histogram buckets, series created at zero, periodic upkeep.
//! - [`endpoint`]: the ops HTTP listener, apart from the game listeners: `/metrics`,
//!   `/healthz` (alive) and `/readyz` (accepting players; 503 while draining).
//! - [`handoff`]: handing rooms to a successor process on a drain: the signed internal
//!   endpoints (`/internal/handoff`, `/internal/successor`) and the client that offers rooms.
//! - [`logging`]: the `tracing` subscriber, readable text or JSON lines.
//! - [`signal`]: SIGINT and SIGTERM as a future, the trigger of the graceful drain.
//! - `agones` (cargo feature `agones`, on by default): the Agones game server lifecycle
//!   through the SDK sidecar's HTTP gateway: Ready, Health, labels, Counters, Shutdown.
//!
//! The drain itself is [`crate::Server::run`]'s: the metric names are in [`crate::metrics`].

#[cfg(feature = "agones")]
pub mod agones;
pub mod endpoint;
pub mod handoff;
pub mod logging;
pub mod recorder;
pub mod signal;

pub use recorder::install_recorder;
