//! Configuration: built-in defaults, overridden by a TOML file, then by environment variables
//! and command-line flags (see `docs/CONFIG.md` for every setting).
//!
//! # Layout
//!
//! One file per section, each with its defaults (a comment per field saying why) and its own
//! `validate`: [`server_config`], [`rooms_config`], [`log_config`], [`agones_config`],
//! [`sync_config`], [`recording_config`], [`handoff_config`]; the
//! games' sections are their parameter types in [`crate::sim`]. [`overrides`] holds the flags
//! and environment variables, derived with `clap`.

pub mod agones_config;
pub mod handoff_config;
pub mod log_config;
pub mod overrides;
pub mod recording_config;
pub mod rooms_config;
pub mod server_config;
pub mod sync_config;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use agones_config::AgonesConfig;
pub use handoff_config::HandoffConfig;
pub use log_config::{LogConfig, LogFormat};
pub use overrides::Overrides;
pub use recording_config::RecordingConfig;
pub use rooms_config::{RoomRule, RoomsConfig};
pub use server_config::{OptionalAddr, ServerConfig};
pub use sync_config::SyncConfig;

use crate::sim::{CoinsParams, GameParams, ParamError};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {cause}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        cause: Box<toml::de::Error>,
    },
    /// A game's setting is out of its allowed range.
    #[error("invalid setting {section}.{reason}")]
    Game {
        /// The section: `game` (the arena) or `coins`.
        section: &'static str,
        /// Which setting, and what is wrong with it.
        reason: ParamError,
    },
    /// A value is out of its allowed range.
    #[error("invalid setting {key}: {reason}")]
    Invalid {
        /// The setting's name.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Everything the server needs to run.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Network listeners, TLS and per-connection limits.
    pub server: ServerConfig,
    /// The reference arena's settings (the `arena` game).
    pub game: GameParams,
    /// The coin game's settings (the `coins` game).
    pub coins: CoinsParams,
    /// Which game each room runs, and the room lifecycle: resume, events, disposal.
    pub rooms: RoomsConfig,
    /// What the server logs and how.
    pub log: LogConfig,
    /// Running as an Agones game server: off by default.
    pub agones: AgonesConfig,
    /// How updates are sent: the per-client bandwidth budget.
    pub sync: SyncConfig,
    /// Recording matches for replay: off by default.
    pub recording: RecordingConfig,
    /// Handing rooms to a successor process on a drain: off unless a secret is set.
    pub handoff: HandoffConfig,
}

impl Config {
    /// Defaults, then `file` if given, then `overrides`; validated.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file; missing keys keep their defaults, unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Self::from_toml(&text).map_err(|cause| ConfigError::Parse {
            path: path.to_owned(),
            cause: Box::new(cause),
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Applies command-line and environment overrides.
    pub fn apply(&mut self, o: &Overrides) {
        o.apply_to(self);
    }

    /// Refuses settings the server cannot run with; each section checks its own, and the error
    /// names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.agones.validate()?;
        self.handoff.validate()?;
        self.log.validate()?;
        self.rooms.validate()?;
        self.recording.validate()?;
        self.coins.validate().map_err(|reason| ConfigError::Game {
            section: "coins",
            reason,
        })?;
        self.game.validate().map_err(|reason| ConfigError::Game {
            section: "game",
            reason,
        })
    }
}

/// The error for `key`, whose value breaks the rule `reason`.
fn invalid(key: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key,
        reason: reason.into(),
    })
}
