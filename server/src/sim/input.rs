//! Checking a client's input before the game sees it.

use tickstream_shared::Input;

/// Why an input was refused. The connection stays open; the input is ignored and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A direction component is NaN or infinite.
    #[error("direction is not finite")]
    NotFinite,
    /// A direction component is outside `[-1, 1]`.
    #[error("direction component outside [-1, 1]")]
    OutOfRange,
    /// The sequence number is not greater than the previous input's.
    #[error("sequence number did not increase")]
    StaleSeq,
}

impl InputError {
    /// Every variant, for creating the metric series at zero.
    pub const ALL: [Self; 3] = [Self::NotFinite, Self::OutOfRange, Self::StaleSeq];

    /// A short label for metrics.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NotFinite => "not_finite",
            Self::OutOfRange => "out_of_range",
            Self::StaleSeq => "stale_seq",
        }
    }
}

/// Checks an input's direction; the sequence check needs the client's history and lives with
/// the caller.
pub fn validate_direction(input: &Input) -> Result<(), InputError> {
    if !(input.dx.is_finite() && input.dy.is_finite()) {
        return Err(InputError::NotFinite);
    }
    if input.dx.abs() > 1.0 || input.dy.abs() > 1.0 {
        return Err(InputError::OutOfRange);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dx: f32, dy: f32) -> Input {
        Input {
            seq: 1,
            dx,
            dy,
            buttons: 0,
        }
    }

    #[test]
    fn invalid_directions_are_refused() {
        assert_eq!(
            validate_direction(&input(f32::NAN, 0.0)),
            Err(InputError::NotFinite),
            "NaN"
        );
        assert_eq!(
            validate_direction(&input(0.0, f32::INFINITY)),
            Err(InputError::NotFinite),
            "infinity"
        );
        assert_eq!(
            validate_direction(&input(1.5, 0.0)),
            Err(InputError::OutOfRange),
            "1.5"
        );
        assert_eq!(
            validate_direction(&input(-1.0, 1.0)),
            Ok(()),
            "the corners are fine"
        );
    }
}
