//! [`RoomName`]: a room name that has passed the protocol's rule.

use std::fmt;

/// The longest room name, in bytes.
pub const MAX_ROOM_NAME: usize = 64;

/// A room name: 1 to 64 characters of `[A-Za-z0-9_.-]`.
///
/// The wire keeps the name a `String` ([`crate::Join::room`]): a name that breaks the rule
/// still decodes, and the server closes with [`crate::close_code::BAD_ROOM_NAME`] instead of
/// a decode error. Everything past the decoder holds a `RoomName`, so the rule is checked
/// once, here.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomName(String);

/// Why a string is not a [`RoomName`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    /// The name is empty.
    #[error("a room name cannot be empty")]
    Empty,
    /// The name is longer than [`MAX_ROOM_NAME`] bytes.
    #[error("a room name has at most {MAX_ROOM_NAME} characters")]
    TooLong,
    /// The name has a character outside `[A-Za-z0-9_.-]`.
    #[error("a room name has only the characters [A-Za-z0-9_.-]")]
    BadCharacter,
}

impl RoomName {
    /// The rule, as one line for error messages and close reasons.
    pub const RULE: &'static str = "room name must be 1-64 of [A-Za-z0-9_.-]";

    /// Checks `name` against the rule.
    pub fn parse(name: &str) -> Result<Self, RoomNameError> {
        Self::check(name)?;
        Ok(Self(name.to_owned()))
    }

    fn check(name: &str) -> Result<(), RoomNameError> {
        if name.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if name.len() > MAX_ROOM_NAME {
            return Err(RoomNameError::TooLong);
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(RoomNameError::BadCharacter);
        }
        Ok(())
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = RoomNameError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::check(&name)?;
        Ok(Self(name))
    }
}

impl AsRef<str> for RoomName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for RoomName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(
            RoomName::parse("lobby-1.eu_west").is_ok(),
            "the allowed characters"
        );
        assert_eq!(RoomName::parse(""), Err(RoomNameError::Empty), "empty");
        assert!(
            RoomName::parse(&"a".repeat(64)).is_ok(),
            "64 bytes is allowed"
        );
        assert_eq!(
            RoomName::parse(&"a".repeat(65)),
            Err(RoomNameError::TooLong),
            "too long"
        );
        assert_eq!(
            RoomName::parse("a b"),
            Err(RoomNameError::BadCharacter),
            "a space"
        );
        assert_eq!(
            RoomName::parse("é"),
            Err(RoomNameError::BadCharacter),
            "non-ASCII"
        );
        assert_eq!(
            RoomName::try_from("lobby".to_owned()).map(|n| n.to_string()),
            Ok("lobby".to_owned()),
            "an owned string is kept as it is"
        );
    }
}
