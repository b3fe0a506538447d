//! The reference scenario's PRNG.

/// mulberry32: a tiny 32-bit PRNG, exactly as the reference scenario defines it, so that the
/// simulation and the bots produce the same numbers as the peer implementations.
#[derive(Debug, Clone)]
pub struct Mulberry32 {
    state: u32,
}

impl Mulberry32 {
    /// A generator seeded with `seed`.
    #[must_use]
    pub fn new(seed: u32) -> Self {
        Self { state: seed }
    }

    /// The generator's whole state: [`Mulberry32::new`] with it continues the same sequence
    /// (how a room's generator travels when the room moves to another process).
    #[must_use]
    pub fn state(&self) -> u32 {
        self.state
    }

    /// The next raw 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0x6D2B_79F5);
        let a = self.state;
        let mut t = (a ^ (a >> 15)).wrapping_mul(a | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        t ^ (t >> 14)
    }

    /// The next float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        f64::from(self.next_u32()) / 4_294_967_296.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_javascript_reference() {
        // Values from the reference definition run in JavaScript with seed 0xC0FFEE.
        let mut r = Mulberry32::new(0xC0FFEE);
        let got: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(
            got,
            vec![90_802_087, 2_860_920_651, 3_349_951_739],
            "first outputs"
        );
    }

    #[test]
    fn floats_are_in_unit_interval() {
        let mut r = Mulberry32::new(1);
        for _ in 0..10_000 {
            let v = r.next_f64();
            assert!((0.0..1.0).contains(&v), "{v} outside [0,1)");
        }
    }
}
