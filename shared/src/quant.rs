//! Quantization of positions: world units ⇄ the fixed grid sent on the wire.
//!
//! A position is sent as an unsigned integer count of 1/64 units. Rounding to the nearest grid
//! point leaves an error of at most 1/128 ≈ 0.0078 units, inside the 0.01 the protocol promises,
//! and the power of two keeps the conversion exact in binary floating point. A 1,000-unit arena
//! fits in 16 bits; one 5-unit step is 320 grid points.

/// Grid points per world unit.
pub const SCALE: f64 = 64.0;

/// The largest position error a client sees after [`dequantize`], in world units.
pub const MAX_ERROR: f64 = 0.5 / SCALE;

// The protocol promises every position within 0.01 units.
const _: () = assert!(MAX_ERROR < 0.01);

/// World units → grid points. Negative or NaN input gives 0 and huge input saturates at
/// `u32::MAX`; the simulation clamps positions to the arena before they get here.
#[must_use]
pub fn quantize(v: f64) -> u32 {
    // `as` saturates and maps NaN to 0, which is the documented behaviour.
    (v * SCALE).round() as u32
}

/// Grid points → world units.
#[must_use]
pub fn dequantize(q: u32) -> f64 {
    f64::from(q) / SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_is_within_the_promise() {
        let mut v = 0.0;
        while v <= 1000.0 {
            let back = dequantize(quantize(v));
            assert!(
                (back - v).abs() <= MAX_ERROR + 1e-12,
                "{v} came back as {back}"
            );
            v += 0.00731;
        }
    }

    #[test]
    fn out_of_range_saturates() {
        assert_eq!(quantize(-3.0), 0, "negative saturates to 0");
        assert_eq!(quantize(f64::NAN), 0, "NaN maps to 0");
        assert_eq!(quantize(1e300), u32::MAX, "huge saturates");
        assert_eq!(quantize(1000.0), 64_000, "the arena edge");
    }
}
