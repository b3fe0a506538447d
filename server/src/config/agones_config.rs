//! [`AgonesConfig`]: the `[agones]` section.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{ConfigError, invalid};

/// The Agones lifecycle through the SDK sidecar's HTTP gateway (`docs/DEPLOY.md`). Off by
/// default: with `enabled = false` nothing tries to reach a sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgonesConfig {
    /// Report to the Agones SDK sidecar: Ready once the listeners are bound, Health pings,
    /// counts, labels, Shutdown. Needs the `agones` cargo feature (on by default).
    pub enabled: bool,
    /// The sidecar's HTTP gateway. Unset: `127.0.0.1` on the port in `AGONES_SDK_HTTP_PORT`
    /// (which Agones sets in the game server's container), else on 9358, the SDK's default.
    pub sdk_address: Option<SocketAddr>,
    /// How often the server sends a Health ping, in milliseconds. Agones marks a game server
    /// Unhealthy after `failureThreshold` (3) missed periods of `periodSeconds` (5 s) by
    /// default; a ping every 2 s leaves two chances within each of its periods. Counts are
    /// checked and pushed on the same period.
    pub health_period_ms: u64,
    /// The longest one call to the sidecar may take, in milliseconds, before it counts as an
    /// error. Shorter than the health period so that a hung sidecar never delays a ping.
    pub request_timeout_ms: u64,
    /// Shut down (tell Agones, then drain and exit 0) once every room is empty after at least
    /// one player had joined: one match per game server. Off: the server serves until Agones
    /// or a signal stops it.
    pub shutdown_when_empty: bool,
    /// The GameServer label naming the room an allocation asked for; the server opens that
    /// room when the label appears. Empty ignores labels.
    pub room_label: String,
    /// The GameServer label naming the game that room runs (a game the server has); without
    /// it, the room's `[[rooms.rule]]` or `rooms.default_game` decides.
    pub game_label: String,
    /// The Agones Counter (`spec.counters`) kept at the number of players; empty does not
    /// report players.
    pub players_counter: String,
    /// The Agones Counter kept at the number of rooms alive; empty does not report rooms.
    pub rooms_counter: String,
}

impl Default for AgonesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            sdk_address: None,
            health_period_ms: 2_000,
            request_timeout_ms: 1_000,
            shutdown_when_empty: false,
            room_label: "tickstream.dev/room".into(),
            game_label: "tickstream.dev/game".into(),
            players_counter: "players".into(),
            rooms_counter: "rooms".into(),
        }
    }
}

impl AgonesConfig {
    /// The port the sidecar's HTTP gateway listens on by default.
    pub const DEFAULT_SDK_HTTP_PORT: u16 = 9358;

    /// The sidecar's address: `sdk_address`, else `127.0.0.1:$AGONES_SDK_HTTP_PORT`, else
    /// `127.0.0.1:9358` (also when `AGONES_SDK_HTTP_PORT` is not a port number).
    #[must_use]
    pub fn sdk_address(&self) -> SocketAddr {
        if let Some(addr) = self.sdk_address {
            return addr;
        }
        let port = std::env::var("AGONES_SDK_HTTP_PORT")
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(Self::DEFAULT_SDK_HTTP_PORT);
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

impl AgonesConfig {
    /// Refuses settings the Agones client cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && !cfg!(feature = "agones") {
            return invalid(
                "agones.enabled",
                "this server was built without the `agones` cargo feature",
            );
        }
        if !(100..=60_000).contains(&self.health_period_ms) {
            return invalid("agones.health_period_ms", "must be 100 to 60000");
        }
        if self.request_timeout_ms == 0 || self.request_timeout_ms >= self.health_period_ms {
            return invalid(
                "agones.request_timeout_ms",
                "must be at least 1 and shorter than agones.health_period_ms",
            );
        }
        Ok(())
    }
}
