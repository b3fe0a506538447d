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

/// The bots of one room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    /// The game the server runs in the room (empty if no bot got a welcome).
    pub game: String,
    /// Bots sent to the room.
    pub bots: u32,
    /// Those that got their `Welcome`.
    pub connected: u32,
}

/// What a load run measured. Traffic figures cover the measured window only (after the
/// warm-up); errors, desyncs, events and resumes count over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The server's URL.
    pub url: String,
    /// The room the bots joined, or the prefix of the rooms (`ROOM-0` …) with several.
    pub room: String,
    /// Every room, with its game and its bots.
    pub rooms: BTreeMap<String, RoomSummary>,
    /// Connected bots by the game they played.
    pub games: BTreeMap<String, u32>,
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
    /// Bytes on the wire (payload plus WebSocket frame headers) per bot per second.
    pub wire_bytes_per_bot_per_sec: f64,
    /// v3 position residuals counted (one per held entity per update), when asked for.
    pub entity_updates: u64,
    /// Their empirical entropy, bits per entity-update: the information limit of the
    /// positions under the protocol's prediction (0 when none were counted).
    pub residual_entropy_bits: f64,
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
    /// Game events received in sequence, all bots together.
    pub events_received: u64,
    /// The same, by kind name.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Events out of sequence (a gap or a duplicate) or of a kind the welcome does not name.
    pub event_errors: u64,
    /// The first few of those, with the bot number.
    pub event_error_samples: Vec<String>,
    /// With churn, the mean time between a bot's drops, in seconds; `None` without churn.
    pub churn_interval_s: Option<f64>,
    /// Connections dropped on purpose (churn).
    pub drops: u64,
    /// Resumes that got the same entity back with a snapshot that passed the checksum.
    pub resumes: u64,
    /// Resumes that did not.
    pub resume_failures: u64,
    /// Those by kind (`close_4005`, `not_resumed`, `other_entity`, …; see
    /// [`crate::bot::ResumeFailure::kind`]).
    pub resume_failures_by_kind: BTreeMap<String, u64>,
    /// The first few of those, with the bot number.
    pub resume_failure_samples: Vec<String>,
}

impl Summary {
    /// True if every bot connected and nothing went wrong (no desync, error, event out of
    /// sequence or failed resume): the exit status of the bot CLI.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.desyncs == 0
            && self.errors == 0
            && self.event_errors == 0
            && self.resume_failures == 0
            && self.bots_connected == self.bots_requested
    }
}

/// How many rooms the text summary lists one by one (the JSON has all of them).
pub const MAX_ROOMS_SHOWN: usize = 20;

/// `a 3, b 1` for a map of counts.
fn counts<V: fmt::Display>(m: &BTreeMap<String, V>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
    parts.join(", ")
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rooms.len() > 1 {
            let n = self.rooms.len();
            writeln!(
                f,
                "Tickstream load run: {} {n} rooms \"{}-0\" … \"{}-{}\"",
                self.url,
                self.room,
                self.room,
                n - 1
            )?;
        } else {
            writeln!(f, "Tickstream load run: {} room {:?}", self.url, self.room)?;
        }
        writeln!(
            f,
            "  bots          {} connected of {} ({} verifying checksums)",
            self.bots_connected, self.bots_requested, self.verified_bots
        )?;
        if self.games.is_empty() {
            writeln!(f, "  game          (no welcome)")?;
        } else if let [(game, n)] = self.games.iter().collect::<Vec<_>>()[..] {
            writeln!(f, "  game          {game} ({n} bots)")?;
        } else {
            writeln!(f, "  games         {} (bots by game)", counts(&self.games))?;
        }
        if self.rooms.len() > 1 {
            let mut line = String::from("  rooms        ");
            for (name, r) in self.rooms.iter().take(MAX_ROOMS_SHOWN) {
                let game = if r.game.is_empty() { "?" } else { &r.game };
                line.push_str(&format!(" {name} {}/{} {game},", r.connected, r.bots));
            }
            line.pop();
            if self.rooms.len() > MAX_ROOMS_SHOWN {
                line.push_str(&format!(
                    " … and {} more",
                    self.rooms.len() - MAX_ROOMS_SHOWN
                ));
            }
            writeln!(f, "{line}")?;
        }
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
            "  bandwidth     {:.0} B/bot/s, {:.1} B/update ({} B total); on the wire with WebSocket frame headers {:.0} B/bot/s",
            self.bytes_per_bot_per_sec,
            self.bytes_per_update,
            self.bytes_received,
            self.wire_bytes_per_bot_per_sec
        )?;
        if self.entity_updates > 0 {
            writeln!(
                f,
                "  residuals     {} entity-updates, empirical entropy {:.3} bits ({:.3} B) each",
                self.entity_updates,
                self.residual_entropy_bits,
                self.residual_entropy_bits / 8.0
            )?;
        }
        writeln!(
            f,
            "  input rtt     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            self.rtt_ms.p50, self.rtt_ms.p90, self.rtt_ms.p99, self.rtt_ms.max, self.rtt_ms.samples
        )?;
        if self.events_by_kind.is_empty() {
            writeln!(f, "  events        {}", self.events_received)?;
        } else {
            writeln!(
                f,
                "  events        {} ({})",
                self.events_received,
                counts(&self.events_by_kind)
            )?;
        }
        writeln!(f, "  event errors  {}", self.event_errors)?;
        for s in &self.event_error_samples {
            writeln!(f, "    {s}")?;
        }
        if let Some(mean) = self.churn_interval_s {
            writeln!(
                f,
                "  churn         {} drops (mean {mean:.1} s per bot), {} resumed, {} failed",
                self.drops, self.resumes, self.resume_failures
            )?;
            for (kind, n) in &self.resume_failures_by_kind {
                writeln!(f, "    {kind}: {n}")?;
            }
            for s in &self.resume_failure_samples {
                writeln!(f, "    {s}")?;
            }
        }
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
    wire_bytes: u64,
    residuals: BTreeMap<(i64, i64), u64>,
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
            wire_bytes: 0,
            residuals: BTreeMap::new(),
            rtt_us: rtt_histogram(),
        }
    }

    /// Adds one bot's report.
    pub fn add(&mut self, r: &BotReport) {
        let s = &mut self.summary;
        let room = s.rooms.entry(r.room.clone()).or_default();
        room.bots += 1;
        if r.joined {
            room.connected += 1;
            if let Some(game) = &r.game {
                if room.game.is_empty() {
                    room.game.clone_from(game);
                }
                *s.games.entry(game.clone()).or_insert(0) += 1;
            }
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
        self.wire_bytes += r.wire_bytes;
        for (k, n) in &r.residuals {
            *self.residuals.entry(*k).or_insert(0) += n;
        }
        merge_rtt(&mut self.rtt_us, &r.rtt_us);
        if let Some(d) = &r.desync {
            s.desyncs += 1;
            if s.desync_samples.len() < MAX_SAMPLES {
                s.desync_samples.push(format!("bot {}: {d}", r.index));
            }
        }
        s.events_received += r.events;
        for (kind, n) in &r.events_by_kind {
            *s.events_by_kind.entry(kind.clone()).or_insert(0) += n;
        }
        s.event_errors += r.event_errors;
        for e in &r.event_error_samples {
            if s.event_error_samples.len() < MAX_SAMPLES {
                s.event_error_samples.push(format!("bot {}: {e}", r.index));
            }
        }
        s.drops += u64::from(r.drops);
        s.resumes += u64::from(r.resumes);
        for failure in &r.resume_failures {
            s.resume_failures += 1;
            *s.resume_failures_by_kind.entry(failure.kind()).or_insert(0) += 1;
            if s.resume_failure_samples.len() < MAX_SAMPLES {
                s.resume_failure_samples
                    .push(format!("bot {}: {failure}", r.index));
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
            s.wire_bytes_per_bot_per_sec = self.wire_bytes as f64 / self.presence_s;
        }
        s.entity_updates = self.residuals.values().sum();
        if s.entity_updates > 0 {
            let total = s.entity_updates as f64;
            s.residual_entropy_bits = self
                .residuals
                .values()
                .map(|&n| {
                    let p = n as f64 / total;
                    -p * p.log2()
                })
                .sum();
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
    fn rooms_games_events_and_resumes_are_merged() {
        use crate::bot::ResumeFailure;
        use crate::events::EventError;
        let mut a = Aggregator::new(3, Duration::ZERO, Duration::from_secs(1));
        for (i, room, game) in [
            (0, "r-0", "arena"),
            (1, "r-1", "coins"),
            (2, "r-1", "coins"),
        ] {
            let mut r = report(i, 1, 1);
            r.room = room.into();
            r.game = Some(game.into());
            r.events = 3;
            r.events_by_kind.insert("joined".into(), 2);
            r.events_by_kind.insert("left".into(), 1);
            r.drops = 2;
            r.resumes = 2;
            a.add(&r);
        }
        let mut r = BotReport::new(3, false);
        r.room = "r-2".into();
        r.drops = 1;
        r.resume_failures
            .push(ResumeFailure::Refused(BotError::Server {
                code: 4005,
                reason: "unknown token".into(),
            }));
        r.resume_failures.push(ResumeFailure::NotResumed);
        r.event_errors = 1;
        r.event_error_samples.push(EventError::Gap {
            expected: 2,
            got: 3,
        });
        a.add(&r);
        let mut s = a.finish();
        s.room = "r".into();
        s.churn_interval_s = Some(2.0);
        let room = |n: &str| s.rooms.get(n).cloned().unwrap_or_default();
        assert_eq!(
            room("r-1"),
            RoomSummary {
                game: "coins".into(),
                bots: 2,
                connected: 2
            },
            "two bots in r-1"
        );
        assert_eq!(room("r-2").connected, 0, "the bot in r-2 never joined");
        assert_eq!(s.games.get("coins"), Some(&2), "bots by game");
        assert_eq!(s.games.get("arena"), Some(&1), "bots by game");
        assert_eq!(s.events_received, 9, "events of all bots");
        assert_eq!(s.events_by_kind.get("joined"), Some(&6), "by kind");
        assert_eq!((s.drops, s.resumes), (7, 6), "drops and resumes");
        assert_eq!(s.resume_failures, 2, "two failures");
        assert_eq!(
            s.resume_failures_by_kind.get("close_4005"),
            Some(&1),
            "a refusal by its close code"
        );
        assert_eq!(
            s.resume_failures_by_kind.get("not_resumed"),
            Some(&1),
            "a welcome that did not resume"
        );
        assert_eq!(s.event_errors, 1, "one event error");
        assert!(!s.passed(), "failed resumes and event errors fail the run");
        let text = s.to_string();
        for want in [
            "3 rooms \"r-0\" … \"r-2\"",
            "r-1 2/2 coins",
            "arena 1, coins 2",
            "events        9 (joined 6, left 3)",
            "7 drops (mean 2.0 s per bot), 6 resumed, 2 failed",
            "close_4005: 1",
            "bot 3: event gap: expected seq 2, got 3",
        ] {
            assert!(text.contains(want), "the text has {want:?}:\n{text}");
        }
        let json = serde_json::to_value(&s).expect("serializes");
        assert_eq!(json["rooms"]["r-1"]["connected"], 2, "rooms in the JSON");
        assert_eq!(json["resume_failures_by_kind"]["close_4005"], 1, "by kind");
    }

    #[test]
    fn without_events_or_resumes_a_clean_run_passes() {
        let mut a = Aggregator::new(1, Duration::ZERO, Duration::from_secs(1));
        a.add(&report(0, 1, 1));
        let s = a.finish();
        assert!(s.passed(), "no events, no churn: {s}");
        assert!(
            !s.to_string().contains("churn"),
            "no churn line without churn"
        );
    }

    #[test]
    fn an_empty_run_has_zero_rates() {
        let s = Aggregator::new(0, Duration::ZERO, Duration::from_secs(1)).finish();
        assert_eq!(s.update_hz_min, 0.0, "no infinity leaks out");
        assert_eq!(s.bytes_per_update, 0.0, "no NaN");
        assert!(serde_json::to_string(&s).is_ok(), "serializes");
    }
}
