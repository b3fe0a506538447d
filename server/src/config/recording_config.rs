//! [`RecordingConfig`]: the `[recording]` section.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, invalid};

/// Recording matches for replay (`docs/RECORDING.md`): off unless `dir` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// Where every room writes its recording (`--record DIR`); unset, the default, records
    /// nothing. Created at start-up if missing.
    pub dir: Option<PathBuf>,
    /// The largest one recording may grow, in bytes; at the limit it ends with an `End`
    /// record saying so (the room plays on unrecorded). 256 MiB holds about 11 minutes of the
    /// reference arena with 500 players (1,000 entities, hashes every tick: about 380 KB/s), or
    /// hours of a small room.
    pub max_bytes: u64,
    /// Recordings kept in `dir`: at start-up and whenever a room starts one, the oldest beyond
    /// this many are deleted. Keep it above the number of rooms recording at once.
    pub keep_count: usize,
    /// Recordings older than this many seconds are deleted at the same moments; 0 keeps them
    /// whatever their age. A week by default.
    pub max_age_secs: u64,
    /// Every this many ticks, a recording lists every entity's hash, so that a replay can name
    /// the entity that diverged (not only the tick). 1, the default, names it at the very tick
    /// the world first differs; larger values save space (a list costs about 10 bytes per
    /// entity) but name the entities that differ at the next list instead; 0 never lists them.
    pub entity_hashes_every: u32,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 256 << 20,
            keep_count: 100,
            max_age_secs: 7 * 24 * 3600,
            entity_hashes_every: 1,
        }
    }
}

impl RecordingConfig {
    /// Refuses limits that would stop every recording at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_bytes < 4096 {
            return invalid("recording.max_bytes", "must be at least 4096");
        }
        if self.keep_count == 0 {
            return invalid("recording.keep_count", "must be at least 1");
        }
        Ok(())
    }
}
