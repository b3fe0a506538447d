//! Small wire newtypes.

use bincode::{Decode, Encode};

/// An entity's id on the wire. Ids are assigned by the room, never reused while the room lives,
/// and ordered: every list in a [`crate::Delta`] is sorted by id, which lets it gap-encode them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Default)]
pub struct EntityId(pub u32);

/// A simulation tick number. Tick 0 is the room's first step; at 30 Hz a `u32` lasts 4.5 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Default)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick after this one.
    #[must_use]
    pub fn next(self) -> Tick {
        Tick(self.0.wrapping_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_next_wraps_instead_of_panicking() {
        assert_eq!(Tick(5).next(), Tick(6), "next is +1");
        assert_eq!(Tick(u32::MAX).next(), Tick(0), "next wraps at the end");
    }
}
