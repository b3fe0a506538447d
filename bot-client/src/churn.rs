//! Connection churn: when a bot drops its connection, as a mobile network would, to resume.
//!
//! With churn on, a bot's time between drops is exponentially distributed around a mean (drops
//! are a Poisson process per bot, so they do not line up across bots), drawn from the bot's own
//! PRNG so a run is repeatable. After a drop the bot waits `reconnect_delay`, then opens a new
//! connection with `Resume`.

use std::time::Duration;

use tickstream_shared::Mulberry32;

/// How a run churns its bots' connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// The mean time between a bot's drops, counted from when its connection is up and synced.
    pub mean_interval: Duration,
    /// How long a dropped bot stays offline before it reconnects.
    pub reconnect_delay: Duration,
}

impl Default for Churn {
    fn default() -> Self {
        Self {
            // A few drops per bot in a 30-second run.
            mean_interval: Duration::from_secs(5),
            // A mobile reconnect takes at least a new TCP and TLS handshake.
            reconnect_delay: Duration::from_millis(100),
        }
    }
}

/// The seed of bot 0's churn PRNG; bot `i` uses `SEED_BASE + i` (apart from the input seeds).
pub const SEED_BASE: u32 = 0x00C4_0000;

/// No interval is longer than this many means (the exponential's tail is unbounded).
pub const MAX_MEANS: f64 = 10.0;

/// A bot's drop times: an endless sequence of intervals.
#[derive(Debug, Clone)]
pub struct ChurnSchedule {
    rng: Mulberry32,
    mean: Duration,
}

impl ChurnSchedule {
    /// The schedule of bot number `index` (0-based) for a mean interval `mean`.
    #[must_use]
    pub fn for_bot(index: u32, mean: Duration) -> Self {
        Self {
            rng: Mulberry32::new(SEED_BASE.wrapping_add(index)),
            mean,
        }
    }

    /// How long the next connection lives before the bot drops it.
    pub fn next_interval(&mut self) -> Duration {
        exponential(self.rng.next_f64(), self.mean)
    }
}

/// The exponential distribution's inverse CDF at `u` in `[0, 1)`, with mean `mean`, capped at
/// [`MAX_MEANS`] means.
#[must_use]
pub fn exponential(u: f64, mean: Duration) -> Duration {
    // 1 - u is in (0, 1], so the logarithm is finite and at most 0.
    let means = (-(1.0 - u.clamp(0.0, 1.0 - f64::EPSILON)).ln()).min(MAX_MEANS);
    mean.mul_f64(means)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_cdf_is_zero_at_zero_and_the_median_at_a_half() {
        let mean = Duration::from_secs(10);
        assert_eq!(exponential(0.0, mean), Duration::ZERO, "u = 0");
        let median = exponential(0.5, mean).as_secs_f64();
        assert!(
            (median - 10.0 * std::f64::consts::LN_2).abs() < 1e-6,
            "median = mean × ln 2: {median}"
        );
        assert_eq!(
            exponential(0.999_999_999, mean),
            mean.mul_f64(MAX_MEANS),
            "the tail is capped"
        );
        assert_eq!(
            exponential(2.0, mean),
            mean.mul_f64(MAX_MEANS),
            "out of range is clamped, not NaN"
        );
    }

    #[test]
    fn intervals_average_the_mean_and_differ_between_bots() {
        let mean = Duration::from_secs(2);
        let mut s = ChurnSchedule::for_bot(0, mean);
        let n = 20_000;
        let total: f64 = (0..n).map(|_| s.next_interval().as_secs_f64()).sum();
        let avg = total / f64::from(n);
        assert!((avg - 2.0).abs() < 0.1, "mean ≈ 2 s: {avg}");
        let a: Vec<Duration> = ChurnSchedule::for_bot(1, mean).take_n(5);
        let b: Vec<Duration> = ChurnSchedule::for_bot(2, mean).take_n(5);
        assert_ne!(a, b, "bots drop at different times");
        assert_eq!(
            a,
            ChurnSchedule::for_bot(1, mean).take_n(5),
            "repeatable per bot"
        );
    }

    impl ChurnSchedule {
        fn take_n(mut self, n: usize) -> Vec<Duration> {
            (0..n).map(|_| self.next_interval()).collect()
        }
    }
}
