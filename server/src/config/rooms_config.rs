//! [`RoomsConfig`] (the `[rooms]` section) and its [`RoomRule`]s.

use serde::Deserialize;
use tickstream_shared::RoomName;

use super::{ConfigError, invalid};

/// Which game each room runs, and how long rooms and dropped players are kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomsConfig {
    /// The game of a room no rule matches: the reference arena.
    pub default_game: String,
    /// How long a dropped player's entity waits for its `Resume`, in milliseconds (then the
    /// game is told the player left and the token is refused with 4005). Twenty seconds covers
    /// a phone switching between Wi-Fi and mobile data, or a tunnel.
    pub resume_grace_ms: u64,
    /// How long a room with no players at all (not even dropped ones) lives on, in
    /// milliseconds, before it is disposed. Thirty seconds lets a group that all dropped at
    /// once come back to the same room, and frees memory soon after a match ends.
    pub empty_timeout_ms: u64,
    /// One-shot events waiting for one client's writer; one more closes the connection with
    /// 4004. A writer takes all of them with every update, so 256 means several seconds of a
    /// busy game without the client reading.
    pub max_pending_events: usize,
    /// Events kept per player to re-send after a resume. 256 covers a grace period of a
    /// busy game; a resume that needs older ones is refused (4005) rather than served with a
    /// gap.
    pub event_history: usize,
    /// Lag compensation: how far in the past, in milliseconds, a game that judges inputs
    /// against what its players saw (the `duel`) may look. 500 covers 100 ms of latency each
    /// way plus about 100 ms of interpolation delay, twice over; a client claiming an older
    /// view is judged at the oldest kept state. 0 turns lag compensation off (inputs are judged
    /// against the newest state); at most 1000.
    pub max_rewind_ms: u64,
    /// Spectators one room admits at once (protocol v6 `Spectate`), besides its players; one
    /// more is refused with 1013. 0 turns spectating off.
    pub max_spectators_per_room: usize,
    /// How far behind the live game spectators watch, in milliseconds (against ghosting: a
    /// spectator telling a player what it sees). 0: live. At most 30000; the room keeps this
    /// long a history of snapshots while it has spectators.
    pub spectator_delay_ms: u64,
    /// Rules giving rooms their game and player cap, by exact name (such a room is started with
    /// the server and never disposed) or by name prefix (rooms created on join); the first
    /// matching rule wins. By default rooms named `coins…` run the coin game and rooms named
    /// `duel…` the duel.
    pub rule: Vec<RoomRule>,
}

/// The longest `rooms.spectator_delay_ms`: the room holds that much history of snapshots.
pub const MAX_SPECTATOR_DELAY_MS: u64 = 30_000;

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            default_game: "arena".into(),
            resume_grace_ms: 20_000,
            empty_timeout_ms: 30_000,
            max_pending_events: 256,
            event_history: 256,
            max_rewind_ms: 500,
            max_spectators_per_room: 32,
            spectator_delay_ms: 0,
            rule: vec![
                RoomRule {
                    name: None,
                    prefix: Some("coins".into()),
                    game: "coins".into(),
                    // A 300-unit field with 40 coins is a game for a few dozen; every pickup
                    // is an event to every player.
                    max_players: Some(64),
                },
                RoomRule {
                    name: None,
                    prefix: Some("duel".into()),
                    game: "duel".into(),
                    // A 400-unit square where everyone sees everyone: a few dozen at most.
                    max_players: Some(32),
                },
            ],
        }
    }
}

/// One `[[rooms.rule]]`: exactly one of `name` and `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomRule {
    /// This exact room: started with the server and kept while it runs.
    pub name: Option<String>,
    /// Rooms whose name starts with this, created on join.
    pub prefix: Option<String>,
    /// The game they run.
    pub game: String,
    /// Their player cap (default `server.max_players_per_room`).
    pub max_players: Option<usize>,
}

impl RoomRule {
    /// True when this rule applies to the room `room`.
    #[must_use]
    pub fn matches(&self, room: &str) -> bool {
        match (&self.name, &self.prefix) {
            (Some(name), _) => name == room,
            (None, Some(prefix)) => room.starts_with(prefix.as_str()),
            (None, None) => false,
        }
    }
}

impl RoomsConfig {
    /// Refuses room settings and rules the registry cannot follow.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_pending_events == 0 {
            return invalid("rooms.max_pending_events", "must be at least 1");
        }
        if self.event_history == 0 {
            return invalid("rooms.event_history", "must be at least 1");
        }
        if self.max_rewind_ms > crate::sim::MAX_REWIND_MS {
            return invalid("rooms.max_rewind_ms", "at most 1000 (one second)");
        }
        if self.spectator_delay_ms > MAX_SPECTATOR_DELAY_MS {
            return invalid("rooms.spectator_delay_ms", "at most 30000 (30 seconds)");
        }
        for rule in &self.rule {
            match (&rule.name, &rule.prefix) {
                (Some(name), None) if RoomName::parse(name).is_ok() => {}
                (Some(_), None) => return invalid("rooms.rule.name", RoomName::RULE),
                (None, Some(_)) => {}
                _ => return invalid("rooms.rule", "needs exactly one of name and prefix"),
            }
            if rule.max_players == Some(0) {
                return invalid("rooms.rule.max_players", "must be at least 1");
            }
        }
        Ok(())
    }
}
