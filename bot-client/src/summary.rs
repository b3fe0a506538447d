//! The run-level result: per-bot reports merged once, at the end, into a [`Summary`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bot::BotReport;
use crate::rtt::{merge_rtt, rtt_histogram};

/// How many error and desync messages a summary keeps verbatim.
pub const MAX_SAMPLES: usize = 5;

/// Input-to-acknowledgement round trips over all bots, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RttMs {
    /// How many round trips were measured.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// What a load run measured. Traffic figures cover the measured window only (after the
/// warm-up); errors and desyncs count over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The server's URL.
    pub url: String,
    /// The room the bots joined.
    pub room: String,
    /// Bots the run started.
    pub bots_requested: u32,
    /// Bots that got their `Welcome`.
    pub bots_connected: u32,
    /// Connected bots that verified every update's checksum.
    pub verified_bots: u32,
    /// The warm-up before measuring, in seconds.
    pub warmup_s: f64,
    /// The measured window, in seconds.
    pub duration_s: f64,
    /// Updates received in the window, all bots together.
    pub updates_received: u64,
    /// Mean over connected bots of each bot's update rate in the window.
    pub update_hz: f64,
    /// The lowest bot's update rate in the window.
    pub update_hz_min: f64,
    /// Payload bytes received in the window (server to client), all bots together.
    pub bytes_received: u64,
    /// Payload bytes received per bot per second of its presence in the window.
    pub bytes_per_bot_per_sec: f64,
    /// Mean payload bytes of one update.
    pub bytes_per_update: f64,
    /// Bots whose replica disagreed with the server (each stops at its first).
    pub desyncs: u32,
    /// Errors of all kinds, all bots together.
    pub errors: u64,
    /// Errors by kind (see [`crate::bot::BotError::kind`]).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first few error messages, with the bot number.
    pub error_samples: Vec<String>,
    /// The first few desync messages, with the bot number.
    pub desync_samples: Vec<String>,
    /// Input-to-acknowledgement round trips.
    pub rtt_ms: RttMs,
}

impl Summary {
    /// True if every bot connected and nothing went wrong: the exit status of the bot CLI.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.desyncs == 0 && self.errors == 0 && self.bots_connected == self.bots_requested
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Tickstream load run: {} room {:?}", self.url, self.room)?;
        writeln!(
            f,
            "  bots          {} connected of {} ({} verifying checksums)",
            self.bots_connected, self.bots_requested, self.verified_bots
        )?;
        writeln!(
            f,
            "  window        {:.1} s after {:.1} s warm-up",
            self.duration_s, self.warmup_s
        )?;
        writeln!(
            f,
            "  updates       {} ({:.2} Hz per bot, lowest {:.2} Hz)",
            self.updates_received, self.update_hz, self.update_hz_min
        )?;
        writeln!(
            f,
            "  bandwidth     {:.0} B/bot/s, {:.1} B/update ({} B total)",
            self.bytes_per_bot_per_sec, self.bytes_per_update, self.bytes_received
        )?;
        writeln!(
            f,
            "  input rtt     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            self.rtt_ms.p50, self.rtt_ms.p90, self.rtt_ms.p99, self.rtt_ms.max, self.rtt_ms.samples
        )?;
        writeln!(f, "  desyncs       {}", self.desyncs)?;
        for s in &self.desync_samples {
            writeln!(f, "    {s}")?;
        }
        write!(f, "  errors        {}", self.errors)?;
        for (kind, n) in &self.errors_by_kind {
            write!(f, "\n    {kind}: {n}")?;
        }
        for s in &self.error_samples {
            write!(f, "\n    {s}")?;
        }
        writeln!(f)?;
        write!(
            f,
            "  result        {}",
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

/// Merges [`BotReport`]s into a [`Summary`]; each report is added once, at the end of its bot.
#[derive(Debug)]
pub struct Aggregator {
    summary: Summary,
    hz_sum: f64,
    hz_bots: u32,
    presence_s: f64,
    update_bytes: u64,
    rtt_us: Histogram<u64>,
}

impl Aggregator {
    /// An empty aggregate for a run of `bots_requested` bots.
    #[must_use]
    pub fn new(bots_requested: u32, warmup: Duration, window: Duration) -> Self {
        Self {
            summary: Summary {
                bots_requested,
                warmup_s: warmup.as_secs_f64(),
                duration_s: window.as_secs_f64(),
                update_hz_min: f64::INFINITY,
                ..Summary::default()
            },
            hz_sum: 0.0,
            hz_bots: 0,
            presence_s: 0.0,
            update_bytes: 0,
            rtt_us: rtt_histogram(),
        }
    }

    /// Adds one bot's report.
    pub fn add(&mut self, r: &BotReport) {
        let s = &mut self.summary;
        if r.joined {
            s.bots_connected += 1;
            if r.verified {
                s.verified_bots += 1;
            }
            let secs = r.measured.as_secs_f64();
            if secs > 0.0 {
                let hz = r.updates as f64 / secs;
                self.hz_sum += hz;
                self.hz_bots += 1;
                s.update_hz_min = s.update_hz_min.min(hz);
                self.presence_s += secs;
            }
        }
        s.updates_received += r.updates;
        s.bytes_received += r.bytes;
        self.update_bytes += r.update_bytes;
        merge_rtt(&mut self.rtt_us, &r.rtt_us);
        if let Some(d) = &r.desync {
            s.desyncs += 1;
            if s.desync_samples.len() < MAX_SAMPLES {
                s.desync_samples.push(format!("bot {}: {d}", r.index));
            }
        }
        for e in &r.errors {
            self.add_error(e.kind(), || format!("bot {}: {e}", r.index));
        }
    }

    /// Counts an error that no report carries (a bot task that panicked).
    pub fn add_error(&mut self, kind: String, message: impl FnOnce() -> String) {
        let s = &mut self.summary;
        s.errors += 1;
        *s.errors_by_kind.entry(kind).or_insert(0) += 1;
        if s.error_samples.len() < MAX_SAMPLES {
            s.error_samples.push(message());
        }
    }

    /// The summary of everything added.
    #[must_use]
    pub fn finish(self) -> Summary {
        let mut s = self.summary;
        if self.hz_bots > 0 {
            s.update_hz = self.hz_sum / f64::from(self.hz_bots);
        } else {
            s.update_hz_min = 0.0;
        }
        if self.presence_s > 0.0 {
            s.bytes_per_bot_per_sec = s.bytes_received as f64 / self.presence_s;
        }
        if s.updates_received > 0 {
            s.bytes_per_update = self.update_bytes as f64 / s.updates_received as f64;
        }
        let h = &self.rtt_us;
        if !h.is_empty() {
            let ms = |us: u64| us as f64 / 1000.0;
            s.rtt_ms = RttMs {
                samples: h.len(),
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
                mean: h.mean() / 1000.0,
            };
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::BotError;
    use crate::rtt::record_rtt;
    use tickstream_shared::{EntityId, ReplicaError};

    fn report(index: u32, updates: u64, measured_s: u64) -> BotReport {
        let mut r = BotReport::new(index, index % 2 == 0);
        r.joined = true;
        r.measured = Duration::from_secs(measured_s);
        r.updates = updates;
        r.update_bytes = updates * 100;
        r.bytes = updates * 100 + 20;
        r
    }

    #[test]
    fn rates_are_per_bot_means() {
        let mut a = Aggregator::new(3, Duration::ZERO, Duration::from_secs(10));
        a.add(&report(0, 300, 10)); // 30 Hz
        a.add(&report(1, 100, 5)); // 20 Hz, joined halfway
        a.add(&BotReport::new(2, true)); // never joined
        let s = a.finish();
        assert_eq!(s.bots_connected, 2, "two joined");
        assert_eq!(s.verified_bots, 1, "bot 0 verifies, bot 2 never joined");
        assert_eq!(s.updates_received, 400, "all updates");
        assert!((s.update_hz - 25.0).abs() < 1e-9, "mean of 30 and 20 Hz");
        assert!((s.update_hz_min - 20.0).abs() < 1e-9, "lowest bot");
        assert!(
            (s.bytes_per_update - 100.0).abs() < 1e-9,
            "update bytes / updates"
        );
        let per_bot_s = (300.0 * 100.0 + 20.0 + 100.0 * 100.0 + 20.0) / 15.0;
        assert!(
            (s.bytes_per_bot_per_sec - per_bot_s).abs() < 1e-9,
            "all bytes over the bots' presence"
        );
        assert!(!s.passed(), "a bot did not connect");
    }

    #[test]
    fn errors_and_desyncs_are_counted_by_kind() {
        let mut a = Aggregator::new(2, Duration::ZERO, Duration::from_secs(1));
        let mut r = report(0, 1, 1);
        r.errors.push(BotError::Closed {
            code: 1008,
            reason: "rate".into(),
        });
        r.errors.push(BotError::Late);
        a.add(&r);
        let mut r = report(1, 1, 1);
        r.desync = Some(ReplicaError::UnknownChange(EntityId(3)));
        a.add(&r);
        a.add_error("task".into(), || "bot 9 panicked".into());
        let s = a.finish();
        assert_eq!(s.errors, 3, "two from the report, one added");
        assert_eq!(s.errors_by_kind.get("close_1008"), Some(&1), "by kind");
        assert_eq!(s.errors_by_kind.get("late"), Some(&1), "by kind");
        assert_eq!(s.desyncs, 1, "one bot desynced");
        assert_eq!(s.desync_samples.len(), 1, "with its message");
        assert!(!s.passed(), "errors fail the run");
    }

    #[test]
    fn rtt_percentiles_merge_across_bots() {
        let mut a = Aggregator::new(2, Duration::ZERO, Duration::from_secs(1));
        let mut r = report(0, 1, 1);
        for _ in 0..99 {
            record_rtt(&mut r.rtt_us, 10_000);
        }
        a.add(&r);
        let mut r = report(1, 1, 1);
        record_rtt(&mut r.rtt_us, 500_000);
        a.add(&r);
        let s = a.finish();
        assert_eq!(s.rtt_ms.samples, 100, "all samples");
        assert!(
            (s.rtt_ms.p50 - 10.0).abs() < 0.1,
            "p50 ≈ 10 ms: {}",
            s.rtt_ms.p50
        );
        assert!(
            (s.rtt_ms.max - 500.0).abs() < 5.0,
            "max ≈ 500 ms: {}",
            s.rtt_ms.max
        );
        assert!(s.passed(), "clean run");
    }

    #[test]
    fn an_empty_run_has_zero_rates() {
        let s = Aggregator::new(0, Duration::ZERO, Duration::from_secs(1)).finish();
        assert_eq!(s.update_hz_min, 0.0, "no infinity leaks out");
        assert_eq!(s.bytes_per_update, 0.0, "no NaN");
        assert!(serde_json::to_string(&s).is_ok(), "serializes");
    }
}
