//! Small wire newtypes.

use bincode::{Decode, Encode};

/// An entity's id on the wire. Ids are assigned by the room, never reused while the room lives,
/// and ordered: every list in a [`crate::Delta`] is sorted by id, which lets it gap-encode them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Default)]
pub struct EntityId(pub u32);

/// A simulation tick number. Tick 0 is the room's first step; at 30 Hz a `u32` lasts 4.5 years,
/// and it wraps rather than ends: ticks compare with serial-number arithmetic (RFC 1982), so
/// `Tick` has no `Ord`. Of two ticks less than 2^31 apart, the one reached by counting forward
/// is the later one, across the wrap too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, Default)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick after this one.
    #[must_use]
    pub fn next(self) -> Tick {
        Tick(self.0.wrapping_add(1))
    }

    /// Ticks from `earlier` to this one, counting forward (wrapping): `Tick(2).since(Tick(u32::MAX))`
    /// is 3.
    #[must_use]
    pub fn since(self, earlier: Tick) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// True when this tick comes after `other` (less than 2^31 ticks ahead of it).
    #[must_use]
    pub fn is_after(self, other: Tick) -> bool {
        let d = self.since(other);
        d != 0 && d < 1 << 31
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

    #[test]
    fn ticks_compare_across_the_wrap() {
        assert!(Tick(6).is_after(Tick(5)), "plainly later");
        assert!(!Tick(5).is_after(Tick(6)), "plainly earlier");
        assert!(!Tick(5).is_after(Tick(5)), "not after itself");
        assert!(Tick(2).is_after(Tick(u32::MAX)), "later across the wrap");
        assert!(!Tick(u32::MAX).is_after(Tick(2)), "earlier across the wrap");
        assert_eq!(Tick(2).since(Tick(u32::MAX)), 3, "distance across the wrap");
        assert_eq!(Tick(10).since(Tick(4)), 6, "plain distance");
    }
}
