//! [`SyncConfig`]: the `[sync]` section.

use serde::Deserialize;

/// How updates are sent to each client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// The most update bytes (WebSocket payload) one client is sent per second; 0, the
    /// default, sets no limit. Off by default because a budget trades freshness for bytes: with
    /// one, an update that would exceed it carries the entities of highest accumulated priority
    /// (nearer and longer unsent first) and the rest follow on later ticks. Each client then
    /// builds its own update (no shared body), which costs server CPU in broadcast rooms.
    pub max_bytes_per_client_per_sec: u32,
}
