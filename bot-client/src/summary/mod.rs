//! The run-level result: per-bot reports merged once, at the end, into a [`Summary`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bot::BotReport;
use crate::rtt::{merge_rtt, rtt_histogram};

mod aggregator;
#[cfg(test)]
mod tests;

pub use self::aggregator::Aggregator;

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
    /// Bytes read from the socket per bot per second, measured: WebSocket framing and, over
    /// `wss://`, TLS records (TCP/IP headers not included).
    pub socket_bytes_per_bot_per_sec: f64,
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
    /// The emulated one-way latency each way (`--latency-ms`), in milliseconds; 0 for none.
    pub latency_ms: u64,
    /// Duel bots: shots fired at a target their own interpolated view showed under their aim
    /// (in the window, not in its last second).
    pub shots: u64,
    /// Those the server confirmed with a `hit` event.
    pub hits_confirmed: u64,
    /// `hits_confirmed / shots` (0 without shots).
    pub hit_ratio: f64,
    /// Bots whose room moved to another process and that followed it (protocol v5's `Moved`).
    pub moved: u32,
    /// The longest time from a `Moved` to the successor's first update, over all bots, in
    /// milliseconds (`None` if no room moved).
    pub move_gap_ms_max: Option<f64>,
    /// Ways a successor's first view did not continue the view before the move (a restarted
    /// world, a player that jumped, a score that went down…; see [`crate::moves::MoveCheck`]).
    pub move_state_errors: u64,
    /// The first few of those, with the bot number.
    pub move_state_error_samples: Vec<String>,
    /// Spectators the run started (`--spectators`).
    pub spectators_requested: u32,
    /// Spectators that got their `Spectating`.
    pub spectators_connected: u32,
    /// Updates per second per spectator over the part of the window it watched, averaged over
    /// the spectators.
    pub spectator_updates_per_sec: f64,
    /// The lowest spectator's rate.
    pub spectator_updates_per_sec_min: f64,
    /// Spectator updates that did not apply or whose checksum did not match.
    pub spectator_desyncs: u64,
    /// Spectators that failed otherwise.
    pub spectator_errors: u64,
    /// The first few spectator desyncs and errors.
    pub spectator_samples: Vec<String>,
    /// Spectators whose watch the server ended with 1000 (a recording's end) before the
    /// window did.
    pub spectators_ended: u32,
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
            && self.move_state_errors == 0
            && self.bots_connected == self.bots_requested
            && self.spectator_desyncs == 0
            && self.spectator_errors == 0
            && self.spectators_connected == self.spectators_requested
    }

    /// Adds what `requested` spectators reported over a window of `window`.
    pub fn add_spectators(
        &mut self,
        requested: u32,
        reports: &[crate::spectators::SpectatorReport],
        window: std::time::Duration,
    ) {
        self.spectators_requested = requested;
        if reports.is_empty() {
            return;
        }
        let whole = window.as_secs_f64();
        let rates: Vec<f64> = reports
            .iter()
            .map(|r| {
                let secs = if r.connected {
                    r.seconds_in_window
                } else {
                    whole
                };
                r.updates_in_window as f64 / secs.max(1e-3)
            })
            .collect();
        self.spectators_connected = reports.iter().filter(|r| r.connected).count() as u32;
        self.spectator_updates_per_sec = rates.iter().sum::<f64>() / rates.len() as f64;
        self.spectator_updates_per_sec_min = rates.iter().copied().fold(f64::INFINITY, f64::min);
        self.spectator_desyncs = reports.iter().map(|r| r.desyncs).sum();
        self.spectator_errors = reports.iter().filter(|r| r.error.is_some()).count() as u64;
        self.spectators_ended = reports.iter().filter(|r| r.ended.is_some()).count() as u32;
        self.spectator_samples = reports
            .iter()
            .flat_map(|r| r.desync_sample.iter().chain(r.error.iter()))
            .take(5)
            .cloned()
            .collect();
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
            "  bandwidth     {:.0} B/bot/s, {:.1} B/update ({} B total); on the wire with WebSocket frame headers {:.0} B/bot/s; read from the socket (framing, TLS records) {:.0} B/bot/s",
            self.bytes_per_bot_per_sec,
            self.bytes_per_update,
            self.bytes_received,
            self.wire_bytes_per_bot_per_sec,
            self.socket_bytes_per_bot_per_sec
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
        if self.shots > 0 {
            writeln!(
                f,
                "  shots         {} at targets on screen, {} hits confirmed ({:.1} %), {} ms one-way latency",
                self.shots,
                self.hits_confirmed,
                self.hit_ratio * 100.0,
                self.latency_ms
            )?;
        }
        if self.moved > 0 || self.move_state_errors > 0 {
            let gap = self.move_gap_ms_max.unwrap_or(0.0);
            writeln!(
                f,
                "  moved         {} bots followed their room (longest gap {gap:.0} ms), {} move state errors",
                self.moved, self.move_state_errors
            )?;
            for s in &self.move_state_error_samples {
                writeln!(f, "    {s}")?;
            }
        }
        if self.spectators_requested > 0 {
            writeln!(
                f,
                "  spectators    {} watching of {}, {:.2} updates/s each (lowest {:.2}), {} desyncs, {} errors",
                self.spectators_connected,
                self.spectators_requested,
                self.spectator_updates_per_sec,
                self.spectator_updates_per_sec_min,
                self.spectator_desyncs,
                self.spectator_errors
            )?;
            if self.spectators_ended > 0 {
                writeln!(
                    f,
                    "    {} watched until the server ended the room or recording (1000)",
                    self.spectators_ended
                )?;
            }
            for s in &self.spectator_samples {
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
