//! [`ParamError`]: why a game's settings or description cannot run, one typed reason each.

use tickstream_shared::MAX_FIELDS;

use super::game::MIN_RADIUS_DIVISOR;

/// Why a game's settings ([`super::GameParams`], [`super::CoinsParams`]) or its description
/// ([`super::GameInfo`]) cannot run. Each names the setting at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// A number outside what the game can run with.
    #[error("{key} = {value} must be {rule}")]
    OutOfRange {
        /// The setting, as written in its section.
        key: &'static str,
        /// The value given.
        value: f64,
        /// The values allowed.
        rule: String,
    },
    /// A view radius finer than the interest grid can resolve.
    #[error(
        "view_radius = {radius} must be 0 (everything) or at least {min} (the larger world side / {MIN_RADIUS_DIVISOR})"
    )]
    ViewRadius {
        /// The radius given.
        radius: f64,
        /// The smallest radius this world allows.
        min: f64,
    },
    /// More game fields than the wire format carries.
    #[error("fields: {count} of them, at most {MAX_FIELDS}")]
    TooManyFields {
        /// The fields described.
        count: usize,
    },
    /// More entity kinds than a kind byte names.
    #[error("kinds: {count} of them, at most 256")]
    TooManyKinds {
        /// The kinds described.
        count: usize,
    },
}

impl ParamError {
    /// `key = value` outside `rule`.
    pub(crate) fn range(key: &'static str, value: impl Into<f64>, rule: impl Into<String>) -> Self {
        Self::OutOfRange {
            key,
            value: value.into(),
            rule: rule.into(),
        }
    }
}

/// A game's description ([`super::GameInfo`]) that the server cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("game {game:?} cannot run: {reason}")]
pub struct GameError {
    /// The game's name.
    pub game: String,
    /// What is wrong with its description.
    pub reason: ParamError,
}
