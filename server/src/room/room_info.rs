//! [`RoomInfo`]: what the rest of the server may read about a running room.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use tickstream_shared::Tick;

use super::registry::RoomSettings;

/// What the rest of the server may read about a room while its task runs.
#[derive(Debug)]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    /// The game it runs.
    pub game: String,
    /// Its player cap.
    pub capacity: usize,
    /// Its ticks per second.
    pub tick_rate_hz: u16,
    tick: AtomicU32,
    players: AtomicUsize,
    spectators: AtomicUsize,
}

impl RoomInfo {
    pub(crate) fn new(name: String, settings: &RoomSettings) -> Self {
        let info = settings.game.info();
        Self {
            name,
            game: info.name.clone(),
            capacity: settings.max_players,
            tick_rate_hz: info.tick_rate_hz,
            tick: AtomicU32::new(0),
            players: AtomicUsize::new(0),
            spectators: AtomicUsize::new(0),
        }
    }

    /// Spectators watching the room (protocol v6).
    #[must_use]
    pub fn spectators(&self) -> usize {
        self.spectators.load(Ordering::Relaxed)
    }

    pub(crate) fn set_spectators(&self, n: usize) {
        self.spectators.store(n, Ordering::Relaxed);
    }

    /// Players in the room, counting those within their resume grace period.
    #[must_use]
    pub fn players(&self) -> usize {
        self.players.load(Ordering::Relaxed)
    }

    pub(crate) fn set_players(&self, n: usize) {
        self.players.store(n, Ordering::Relaxed);
    }

    /// The last tick the room completed.
    #[must_use]
    pub fn tick(&self) -> Tick {
        Tick(self.tick.load(Ordering::Relaxed))
    }

    pub(crate) fn set_tick(&self, tick: Tick) {
        self.tick.store(tick.0, Ordering::Relaxed);
    }
}
