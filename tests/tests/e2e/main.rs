//! End-to-end tests: the real server on loopback port 0, real TLS, real WebSocket clients.
//! One file per behaviour.

mod bots;
mod budget;
mod caps;
mod churn;
mod coins_bots;
mod convergence;
mod empty_rooms;
mod events;
mod flood;
mod framing;
mod games;
mod handshake;
mod inputs;
mod interest;
mod isolation;
mod join;
mod malformed;
mod misbehave;
mod ops;
mod per_ip;
mod pings;
mod resume;
mod room_names;
mod rooms;
mod rooms_spread;
mod slow_reader;
mod slowloris;
mod spectators;
mod tls_reload;
mod tokens;
mod versions;
mod welcome;
