//! End-to-end tests: the real server on loopback port 0, real TLS, real WebSocket clients.
//! One file per behaviour.

mod bots;
mod caps;
mod convergence;
mod flood;
mod framing;
mod handshake;
mod inputs;
mod interest;
mod isolation;
mod join;
mod malformed;
mod misbehave;
mod ops;
mod per_ip;
mod slow_reader;
mod slowloris;
mod soak;
mod tls_reload;
mod tokens;
