//! Input-to-acknowledgement round trip: the send time of each recent input, shared lock-free
//! between a bot's writer (which records) and its reader (which looks up acknowledgements).
//!
//! Times are microseconds since the bot's own base instant, truncated to 32 bits: subtraction
//! wraps, so a round trip is right as long as it is under 71 minutes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How many inputs back a send time is remembered: 3.2 s at 20 Hz, far beyond any round trip
/// worth measuring.
pub const RING_LEN: usize = 64;

/// Send times of the last [`RING_LEN`] inputs, one atomic word each: `seq << 32 | sent_us`.
#[derive(Debug)]
pub struct RttRing {
    slots: [AtomicU64; RING_LEN],
}

impl Default for RttRing {
    fn default() -> Self {
        Self::new()
    }
}

impl RttRing {
    /// An empty ring.
    #[must_use]
    pub fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn slot(&self, seq: u32) -> &AtomicU64 {
        &self.slots[seq as usize % RING_LEN]
    }

    /// Remembers that input `seq` was sent at `sent_us`. Call it before sending.
    pub fn record(&self, seq: u32, sent_us: u32) {
        let word = (u64::from(seq) << 32) | u64::from(sent_us);
        self.slot(seq).store(word, Ordering::Release);
    }

    /// The round trip of input `seq` acknowledged at `now_us`, if it is still remembered.
    /// Seq 0 ("nothing acknowledged yet") never has one.
    #[must_use]
    pub fn rtt_us(&self, seq: u32, now_us: u32) -> Option<u32> {
        if seq == 0 {
            return None;
        }
        let word = self.slot(seq).load(Ordering::Acquire);
        ((word >> 32) as u32 == seq).then(|| now_us.wrapping_sub(word as u32))
    }
}

/// The largest round trip recorded, in microseconds (60 s); longer ones are recorded as this.
pub const MAX_RTT_US: u64 = 60_000_000;

/// An empty histogram of round trips in microseconds, 1% precision, that grows to the largest
/// value recorded. A bot's stays around 5 KB (2,000 bots hold one each).
#[must_use]
pub fn rtt_histogram<T: hdrhistogram::Counter>() -> hdrhistogram::Histogram<T> {
    // Invariant: 2 significant digits is within hdrhistogram's valid 0..=5.
    hdrhistogram::Histogram::new(2).expect("2 significant digits are valid")
}

/// Records one round trip, clamped to [`MAX_RTT_US`] so a wild value cannot grow the histogram.
pub fn record_rtt<T: hdrhistogram::Counter>(h: &mut hdrhistogram::Histogram<T>, us: u64) {
    let us = us.min(MAX_RTT_US);
    // `record` grows the histogram and only fails if it cannot; then clamp to its range.
    // (`saturating_record` alone would clamp to the current range and never grow it.)
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// Adds all of `from` to `into` (which may count in a wider type).
pub fn merge_rtt(into: &mut hdrhistogram::Histogram<u64>, from: &hdrhistogram::Histogram<u32>) {
    for v in from.iter_recorded() {
        let (value, count) = (v.value_iterated_to(), u64::from(v.count_at_value()));
        if into.record_n(value, count).is_err() {
            into.saturating_record_n(value, count);
        }
    }
}

/// Microseconds from `base` to `t`, truncated to 32 bits (see the module docs).
#[must_use]
pub fn micros_since(base: Instant, t: Instant) -> u32 {
    t.saturating_duration_since(base).as_micros() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_inputs_give_their_round_trip() {
        let ring = RttRing::new();
        ring.record(1, 1_000);
        ring.record(2, 51_000);
        assert_eq!(ring.rtt_us(1, 34_000), Some(33_000), "seq 1");
        assert_eq!(ring.rtt_us(2, 60_000), Some(9_000), "seq 2");
        assert_eq!(ring.rtt_us(3, 60_000), None, "never sent");
        assert_eq!(ring.rtt_us(0, 60_000), None, "seq 0 is no acknowledgement");
    }

    #[test]
    fn old_entries_are_overwritten_not_confused() {
        let ring = RttRing::new();
        ring.record(5, 100);
        ring.record(5 + RING_LEN as u32, 200);
        assert_eq!(ring.rtt_us(5, 1_000), None, "seq 5's slot now holds seq 69");
        assert_eq!(
            ring.rtt_us(5 + RING_LEN as u32, 1_000),
            Some(800),
            "seq 69 is remembered"
        );
    }

    #[test]
    fn wild_values_are_clamped() {
        let mut h = rtt_histogram::<u32>();
        record_rtt(&mut h, u64::MAX);
        record_rtt(&mut h, 1_000);
        assert_eq!(h.len(), 2, "both recorded");
        let top = h.max();
        assert!(
            (MAX_RTT_US..=MAX_RTT_US + MAX_RTT_US / 100).contains(&top),
            "the huge value is clamped to the top: {top}"
        );
    }

    #[test]
    fn the_clock_may_wrap() {
        let ring = RttRing::new();
        ring.record(7, u32::MAX - 10);
        assert_eq!(ring.rtt_us(7, 20), Some(31), "wrapping subtraction");
    }
}
