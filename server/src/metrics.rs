//! Metric names, in one place so that the code, the dashboard and the docs agree.
//!
//! Recorded through the `metrics` facade; without an installed recorder they cost almost
//! nothing. Prometheus conventions: base units, `_total` counters, no per-room or per-client
//! labels (their number is unbounded). [`crate::ops::recorder`] installs the Prometheus
//! recorder with the buckets below and serves the result at `/metrics`;
//! `assets/grafana-dashboard.json` and `docs/OPS.md` read these names.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use tickstream_shared::close_code;

use crate::sim::InputError;

/// Open WebSocket sessions (gauge).
pub const CONNECTIONS: &str = "tickstream_connections";
/// Open WebSocket sessions by the protocol version the upgrade agreed on (gauge, label
/// `protocol`): how many deployed clients still speak an older version.
pub const SESSIONS_BY_PROTOCOL: &str = "tickstream_sessions_by_protocol";
/// Rooms alive (gauge).
pub const ROOMS: &str = "tickstream_rooms";
/// Entities across all rooms (gauge).
pub const ENTITIES: &str = "tickstream_entities";
/// Simulation ticks run (counter).
pub const TICKS: &str = "tickstream_ticks_total";
/// Ticks whose work took longer than the tick budget (counter).
pub const TICK_OVERRUNS: &str = "tickstream_tick_overruns_total";
/// Time to run one tick, seconds (histogram).
pub const TICK_DURATION: &str = "tickstream_tick_duration_seconds";
/// How late a tick started after its scheduled time, seconds (histogram).
pub const TICK_LAG: &str = "tickstream_tick_start_lag_seconds";
/// WebSocket payload bytes sent (counter).
pub const BYTES_SENT: &str = "tickstream_sent_bytes_total";
/// WebSocket payload bytes received (counter).
pub const BYTES_RECEIVED: &str = "tickstream_received_bytes_total";
/// Messages sent (counter).
pub const MESSAGES_SENT: &str = "tickstream_sent_messages_total";
/// Messages received (counter).
pub const MESSAGES_RECEIVED: &str = "tickstream_received_messages_total";
/// Size of one update frame, bytes (histogram).
pub const UPDATE_SIZE: &str = "tickstream_update_size_bytes";
/// Ticks a client skipped because its previous update was still waiting (counter).
pub const UPDATES_MERGED: &str = "tickstream_updates_merged_total";
/// Sessions ended, by close code (counter, label `code`).
pub const DISCONNECTS: &str = "tickstream_disconnects_total";
/// Connections refused before the upgrade, by reason (counter, label `reason`).
pub const REJECTED_CONNECTIONS: &str = "tickstream_rejected_connections_total";
/// Inputs ignored, by reason (counter, label `reason`).
pub const REJECTED_INPUTS: &str = "tickstream_rejected_inputs_total";
/// Joins and resumes refused, by reason (counter, label `reason`): the join token's verdict or
/// the room's (full, the room cap, the per-address room limit, busy).
pub const REJECTED_JOINS: &str = "tickstream_rejected_joins_total";
/// Rooms whose game panicked; their clients were closed with 1011 (counter).
pub const ROOM_PANICS: &str = "tickstream_room_panics_total";
/// One-shot game events handed to players' queues (counter).
pub const EVENTS: &str = "tickstream_events_total";
/// Resume attempts, by `outcome` (`ok`, `refused`) (counter).
pub const RESUMES: &str = "tickstream_resumes_total";
/// Client messages or frames that broke the protocol (close 1002) or were too big (1009)
/// (counter).
pub const DECODE_ERRORS: &str = "tickstream_decode_errors_total";
/// Calls to the Agones SDK sidecar that failed, by `call` (counter, label `call`): a sidecar
/// that is missing, slow or answering errors.
pub const AGONES_ERRORS: &str = "tickstream_agones_errors_total";
/// Counter updates the Agones sidecar refused for good, by `reason` (counter, label `reason`:
/// [`AGONES_COUNTER_REFUSAL_REASONS`]): the Fleet's `spec.counters` and the server's caps
/// disagree. Each is also one of [`AGONES_ERRORS`]`{call="counter"}`.
pub const AGONES_COUNTER_REFUSALS: &str = "tickstream_agones_refusals_total";
/// The tick budget, 1 / tick rate, seconds (gauge): the line the tick duration is drawn
/// against, whatever the configured rate.
pub const TICK_BUDGET: &str = "tickstream_tick_budget_seconds";
/// Match recordings begun (counter; `[recording]`).
pub const RECORDINGS_STARTED: &str = "tickstream_recordings_started_total";
/// Match recordings ended, by `reason` (counter, label `reason`: [`RECORDING_STOP_REASONS`]).
pub const RECORDINGS_STOPPED: &str = "tickstream_recordings_stopped_total";
/// Bytes written to match recordings (counter).
pub const RECORDING_BYTES: &str = "tickstream_recording_bytes_total";
/// Rooms a draining server tried to hand over to its successor, by `outcome` (counter, label
/// `outcome`: [`HANDOFF_OUTCOMES`]): `ok` moved; every other outcome drained the room's
/// players with 1001 as without a successor.
pub const HANDOFFS: &str = "tickstream_handoffs_total";
/// Time from a room's last tick to the successor's acceptance, seconds (histogram).
pub const HANDOFF_DURATION: &str = "tickstream_handoff_duration_seconds";
/// Rooms offered to this server by a draining predecessor, by `outcome` (counter, label
/// `outcome`: [`HANDOFF_RECEIVED_OUTCOMES`]).
pub const HANDOFFS_RECEIVED: &str = "tickstream_handoffs_received_total";
/// Spectators watching rooms (gauge; protocol v6).
pub const SPECTATORS: &str = "tickstream_spectators";
/// Lag-compensated inputs whose claimed view time was outside the room's history and was
/// clamped into it (counter): a client far behind, or one claiming an impossible past.
pub const VIEW_TIMES_CLAMPED: &str = "tickstream_view_times_clamped_total";
/// Always 1, labelled with the server's version (gauge, label `version`).
pub const BUILD_INFO: &str = "tickstream_build_info";

/// Every metric name, for tests and tools that check the exposition against this list.
pub const ALL: &[&str] = &[
    CONNECTIONS,
    ROOMS,
    ENTITIES,
    TICKS,
    TICK_OVERRUNS,
    TICK_DURATION,
    TICK_LAG,
    BYTES_SENT,
    BYTES_RECEIVED,
    MESSAGES_SENT,
    MESSAGES_RECEIVED,
    UPDATE_SIZE,
    UPDATES_MERGED,
    EVENTS,
    RESUMES,
    DISCONNECTS,
    REJECTED_CONNECTIONS,
    REJECTED_INPUTS,
    DECODE_ERRORS,
    ROOM_PANICS,
    REJECTED_JOINS,
    AGONES_ERRORS,
    AGONES_COUNTER_REFUSALS,
    TICK_BUDGET,
    HANDOFFS,
    HANDOFF_DURATION,
    HANDOFFS_RECEIVED,
    BUILD_INFO,
    SPECTATORS,
    VIEW_TIMES_CLAMPED,
    RECORDINGS_STARTED,
    RECORDINGS_STOPPED,
    RECORDING_BYTES,
];

/// The `reason` labels of [`RECORDINGS_STOPPED`]: the room stopped (the normal end), the
/// recording reached `recording.max_bytes`, its writer fell behind the room, or the file could
/// not be written.
pub const RECORDING_STOP_REASONS: &[&str] =
    &["room_stopped", "size_limit", "writer_behind", "io_error"];
/// The `outcome` labels of [`HANDOFFS`], created at zero.
pub const HANDOFF_OUTCOMES: &[&str] = &[
    "ok",
    "unsupported",
    "no_successor",
    "unreachable",
    "timeout",
    "refused",
    "too_big",
];

/// The `outcome` labels of [`HANDOFFS_RECEIVED`], created at zero: `ok`; `unauthorized` (a
/// missing or wrong signature: the secrets differ, or it is not a predecessor); `replayed` (a
/// nonce seen before, or a timestamp outside the window); `too_big`; `unknown_version` (a
/// saved-room format this build does not read); `malformed`; `exists` (a room of that name
/// runs here already); `refused` (unknown game, the room cap, the game cannot restore it).
pub const HANDOFF_RECEIVED_OUTCOMES: &[&str] = &[
    "ok",
    "unauthorized",
    "replayed",
    "too_big",
    "unknown_version",
    "malformed",
    "exists",
    "refused",
];

/// Bucket bounds for [`HANDOFF_DURATION`], seconds: a loopback handoff takes milliseconds;
/// the players notice anything beyond a few hundred.
pub const HANDOFF_SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.010, 0.025, 0.050, 0.100, 0.250, 0.500, 1.0, 2.5, 5.0,
];

/// Bucket bounds for [`TICK_DURATION`] and [`TICK_LAG`], seconds: fine below the budget (a
/// healthy tick takes well under a millisecond), with the budgets of 60 Hz (16.7 ms) and
/// 30 Hz (33.3 ms) as exact bounds so that "ticks within budget" is a bucket, not an
/// interpolation; 50–250 ms catch the bad overruns.
pub const TICK_SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.000_25, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.012, 0.016_667, 0.020, 0.025,
    0.033_333, 0.050, 0.100, 0.250,
];

/// Bucket bounds for [`UPDATE_SIZE`], bytes: powers of two from a quiet view (tens of bytes)
/// to a full snapshot of a crowded one (tens of kilobytes).
pub const UPDATE_SIZE_BUCKETS: [u64; 11] = [
    64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
];

/// The close codes the server uses or records (1006: the peer vanished), created at zero.
const KNOWN_CLOSE_CODES: &[u16] = &[
    close_code::NORMAL,
    close_code::GOING_AWAY,
    close_code::PROTOCOL_ERROR,
    close_code::UNSUPPORTED_DATA,
    1006,
    close_code::POLICY,
    close_code::TOO_BIG,
    close_code::INTERNAL,
    close_code::TRY_AGAIN,
    close_code::TOO_SLOW,
    close_code::JOIN_TIMEOUT,
    close_code::BAD_ROOM_NAME,
    close_code::IDLE_TIMEOUT,
    close_code::EVENTS_OVERFLOW,
    close_code::RESUME_REFUSED,
    close_code::SUSPEND,
];

/// The `call` labels of [`AGONES_ERRORS`]: one per kind of call the server makes to the
/// sidecar, created at zero.
pub const AGONES_CALLS: &[&str] = &[
    "ready",
    "health",
    "gameserver",
    "watch",
    "counter",
    "shutdown",
];

/// The `reason` labels of [`AGONES_COUNTER_REFUSALS`], created at zero: a Counter the
/// GameServer does not declare, and a count beyond the Counter's capacity.
pub const AGONES_COUNTER_REFUSAL_REASONS: &[&str] = &["undeclared", "over_capacity"];

/// The `code` label of [`DISCONNECTS`] for a close code: the code itself when it is one the
/// server knows, `other` for anything else (a client's own close frame may carry any of
/// 65,536 codes, and each would otherwise become a series that never goes away).
#[must_use]
pub fn close_code_label(code: u16) -> String {
    if KNOWN_CLOSE_CODES.contains(&code) {
        code.to_string()
    } else {
        "other".to_owned()
    }
}

/// Registers help text and units for every metric; call once after installing a recorder.
pub fn describe() {
    describe_gauge!(CONNECTIONS, "Open WebSocket sessions.");
    describe_gauge!(
        SESSIONS_BY_PROTOCOL,
        "Open WebSocket sessions by negotiated protocol version."
    );
    describe_gauge!(ROOMS, "Rooms alive.");
    describe_gauge!(SPECTATORS, "Spectators watching rooms (protocol v6).");
    describe_counter!(
        VIEW_TIMES_CLAMPED,
        "Lag-compensated inputs whose view time was outside the room's history and was clamped."
    );
    describe_gauge!(ENTITIES, "Entities across all rooms.");
    describe_counter!(TICKS, "Simulation ticks run, all rooms.");
    describe_counter!(
        TICK_OVERRUNS,
        "Ticks whose work took longer than the tick budget."
    );
    describe_histogram!(TICK_DURATION, Unit::Seconds, "Time to run one room tick.");
    describe_histogram!(
        TICK_LAG,
        Unit::Seconds,
        "Delay between a tick's schedule and its start."
    );
    describe_counter!(
        BYTES_SENT,
        Unit::Bytes,
        "WebSocket payload bytes sent to clients."
    );
    describe_counter!(
        BYTES_RECEIVED,
        Unit::Bytes,
        "WebSocket payload bytes received from clients."
    );
    describe_counter!(MESSAGES_SENT, "Messages sent to clients.");
    describe_counter!(MESSAGES_RECEIVED, "Messages received from clients.");
    describe_counter!(
        UPDATES_MERGED,
        "Client-ticks skipped because the client's previous update was still waiting; the next delta covers them."
    );
    describe_counter!(
        EVENTS,
        "One-shot game events queued for players (one per recipient)."
    );
    describe_counter!(
        RESUMES,
        "Resume attempts after a dropped connection, by outcome."
    );
    describe_counter!(DISCONNECTS, "Sessions ended, by WebSocket close code.");
    describe_counter!(
        REJECTED_CONNECTIONS,
        "Connections refused before the WebSocket upgrade, by reason."
    );
    describe_counter!(REJECTED_INPUTS, "Inputs ignored, by reason.");
    describe_counter!(
        DECODE_ERRORS,
        "Client messages or frames that broke the protocol (close 1002) or were too big (1009)."
    );
    describe_counter!(
        REJECTED_JOINS,
        "Joins refused, by reason: the join token's verdict, or the room's."
    );
    describe_counter!(
        ROOM_PANICS,
        "Rooms whose game panicked; their clients were closed with 1011 and other rooms kept ticking."
    );
    describe_counter!(
        AGONES_ERRORS,
        "Calls to the Agones SDK sidecar that failed (unreachable, timed out, or an error answer), by call."
    );
    describe_counter!(
        AGONES_COUNTER_REFUSALS,
        "Counter updates the Agones sidecar refused for good (an undeclared Counter, a count beyond its capacity), by reason."
    );
    describe_gauge!(
        TICK_BUDGET,
        Unit::Seconds,
        "The tick budget: one over the configured tick rate."
    );
    describe_counter!(RECORDINGS_STARTED, "Match recordings begun.");
    describe_counter!(RECORDINGS_STOPPED, "Match recordings ended, by reason.");
    describe_counter!(
        RECORDING_BYTES,
        Unit::Bytes,
        "Bytes written to match recordings."
    );
    describe_counter!(
        HANDOFFS,
        "Rooms a draining server tried to hand to its successor, by outcome (all but ok drained with 1001)."
    );
    describe_histogram!(
        HANDOFF_DURATION,
        Unit::Seconds,
        "Time from a room's last tick here to the successor's acceptance."
    );
    describe_counter!(
        HANDOFFS_RECEIVED,
        "Rooms offered by a draining predecessor, by outcome."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the label carries the server's version."
    );
}

/// Creates every series the server knows in advance at zero (and the build info at one), so
/// that each exists from the first scrape: `rate()` then sees the first increment, and an
/// alert on a series does not wait for its first event. Labelled series are created for the
/// label values the code can produce; a client's own close code appears when it is first used.
pub fn register() {
    for name in [CONNECTIONS, ROOMS, ENTITIES, SPECTATORS] {
        metrics::gauge!(name).increment(0.0);
    }
    for v in tickstream_shared::SUPPORTED_VERSIONS {
        metrics::gauge!(SESSIONS_BY_PROTOCOL, "protocol" => v.to_string()).increment(0.0);
    }
    for name in [
        TICKS,
        TICK_OVERRUNS,
        BYTES_SENT,
        BYTES_RECEIVED,
        MESSAGES_SENT,
        MESSAGES_RECEIVED,
        UPDATES_MERGED,
        EVENTS,
        DECODE_ERRORS,
        ROOM_PANICS,
        RECORDINGS_STARTED,
        RECORDING_BYTES,
        VIEW_TIMES_CLAMPED,
    ] {
        metrics::counter!(name).increment(0);
    }
    for outcome in HANDOFF_OUTCOMES {
        metrics::counter!(HANDOFFS, "outcome" => *outcome).increment(0);
    }
    for outcome in HANDOFF_RECEIVED_OUTCOMES {
        metrics::counter!(HANDOFFS_RECEIVED, "outcome" => *outcome).increment(0);
    }
    for name in [TICK_DURATION, TICK_LAG, HANDOFF_DURATION] {
        let _ = metrics::histogram!(name);
    }
    for code in KNOWN_CLOSE_CODES {
        metrics::counter!(DISCONNECTS, "code" => code.to_string()).increment(0);
    }
    metrics::counter!(DISCONNECTS, "code" => "other").increment(0);
    for outcome in ["ok", "refused"] {
        metrics::counter!(RESUMES, "outcome" => outcome).increment(0);
    }
    // Labels of the layers above (connection rejections, join refusals) are created by the
    // layer that owns their reasons (`net::rejection`, `room::registry`).
    for e in crate::join_token::TokenError::ALL {
        metrics::counter!(REJECTED_JOINS, "reason" => e.label()).increment(0);
    }
    for e in InputError::ALL {
        metrics::counter!(REJECTED_INPUTS, "reason" => e.label()).increment(0);
    }
    for call in AGONES_CALLS {
        metrics::counter!(AGONES_ERRORS, "call" => *call).increment(0);
    }
    for reason in AGONES_COUNTER_REFUSAL_REASONS {
        metrics::counter!(AGONES_COUNTER_REFUSALS, "reason" => *reason).increment(0);
    }
    for reason in RECORDING_STOP_REASONS {
        metrics::counter!(RECORDINGS_STOPPED, "reason" => *reason).increment(0);
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// The sizes of the update frames every writer of the process sent ([`UPDATE_SIZE`]): kept
/// here rather than in the exporter, whose histograms take a shared push per sample, and
/// rendered by [`UpdateSizes::render`] after the exporter's text.
pub static UPDATE_SIZES: UpdateSizes = UpdateSizes::new();

/// A Prometheus histogram of sizes in bytes with the bounds [`UPDATE_SIZE_BUCKETS`], filled
/// in batches by [`SizeTally`]. The sum is exact (sizes are whole bytes).
#[derive(Debug)]
pub struct UpdateSizes {
    /// Frames per bucket (not cumulative); the last one is above every bound.
    buckets: [AtomicU64; UPDATE_SIZE_BUCKETS.len() + 1],
    sum: AtomicU64,
}

impl UpdateSizes {
    /// An empty histogram.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; UPDATE_SIZE_BUCKETS.len() + 1],
            sum: AtomicU64::new(0),
        }
    }

    /// Appends the histogram in the Prometheus text format, as the exporter writes its own.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let name = UPDATE_SIZE;
        let _ = writeln!(out, "# HELP {name} Size of one update frame.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut below = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            below += bucket.load(Ordering::Relaxed);
            match UPDATE_SIZE_BUCKETS.get(i) {
                Some(bound) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {below}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {below}");
                }
            }
        }
        let sum = self.sum.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {below}\n");
    }
}

impl Default for UpdateSizes {
    fn default() -> Self {
        Self::new()
    }
}

/// A writer's own counts of the update sizes it sent, handed to an [`UpdateSizes`] once per
/// [`Tally::BATCH`] frames and when dropped, like [`Tally`].
#[derive(Debug)]
pub struct SizeTally {
    to: &'static UpdateSizes,
    buckets: [u32; UPDATE_SIZE_BUCKETS.len() + 1],
    sum: u64,
    pending: u64,
}

impl SizeTally {
    /// A tally handed to `to`.
    #[must_use]
    pub fn new(to: &'static UpdateSizes) -> Self {
        Self {
            to,
            buckets: [0; UPDATE_SIZE_BUCKETS.len() + 1],
            sum: 0,
            pending: 0,
        }
    }

    /// Counts one frame of `len` bytes.
    pub fn add(&mut self, len: usize) {
        let len = len as u64;
        self.buckets[UPDATE_SIZE_BUCKETS.partition_point(|&b| b < len)] += 1;
        self.sum += len;
        self.pending += 1;
        if self.pending >= Tally::BATCH {
            self.flush();
        }
    }

    /// Hands the pending counts over.
    pub fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        for (shared, mine) in self.to.buckets.iter().zip(&mut self.buckets) {
            if *mine > 0 {
                shared.fetch_add(u64::from(std::mem::take(mine)), Ordering::Relaxed);
            }
        }
        self.to
            .sum
            .fetch_add(std::mem::take(&mut self.sum), Ordering::Relaxed);
        self.pending = 0;
    }
}

impl Drop for SizeTally {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Messages and their payload bytes, counted in a session's own fields and handed to the
/// shared counters once per [`Tally::BATCH`] messages and when dropped (a session's end,
/// however it ends), instead of two atomic adds on shared cache lines per frame. The
/// exposition lags by at most a batch per session (about a second at 30 Hz), far below a
/// scrape interval.
#[derive(Debug)]
pub struct Tally {
    bytes: metrics::Counter,
    messages: metrics::Counter,
    pending_bytes: u64,
    pending_messages: u64,
}

impl Tally {
    /// Messages per hand-over: one a second for a client at 30 Hz.
    pub const BATCH: u64 = 32;

    /// A tally for the counters `bytes` and `messages` (names from this module).
    #[must_use]
    pub fn new(bytes: &'static str, messages: &'static str) -> Self {
        Self {
            bytes: metrics::counter!(bytes),
            messages: metrics::counter!(messages),
            pending_bytes: 0,
            pending_messages: 0,
        }
    }

    /// Counts one message of `len` payload bytes.
    pub fn add(&mut self, len: usize) {
        self.pending_bytes += len as u64;
        self.pending_messages += 1;
        if self.pending_messages >= Self::BATCH {
            self.flush();
        }
    }

    /// Hands the pending counts to the counters.
    pub fn flush(&mut self) {
        if self.pending_messages > 0 {
            self.bytes.increment(self.pending_bytes);
            self.messages.increment(self.pending_messages);
            self.pending_bytes = 0;
            self.pending_messages = 0;
        }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_sizes_render_as_a_prometheus_histogram_after_each_batch() {
        static SIZES: UpdateSizes = UpdateSizes::new();
        let mut tally = SizeTally::new(&SIZES);
        for len in [10, 64, 65, 5_000, 100_000] {
            tally.add(len);
        }
        let mut text = String::new();
        SIZES.render(&mut text);
        assert!(
            text.contains("_count 0\n"),
            "nothing before a batch:\n{text}"
        );
        drop(tally);
        let mut text = String::new();
        SIZES.render(&mut text);
        for line in [
            "# TYPE tickstream_update_size_bytes histogram",
            "tickstream_update_size_bytes_bucket{le=\"64\"} 2",
            "tickstream_update_size_bytes_bucket{le=\"128\"} 3",
            "tickstream_update_size_bytes_bucket{le=\"4096\"} 3",
            "tickstream_update_size_bytes_bucket{le=\"8192\"} 4",
            "tickstream_update_size_bytes_bucket{le=\"65536\"} 4",
            "tickstream_update_size_bytes_bucket{le=\"+Inf\"} 5",
            "tickstream_update_size_bytes_sum 105139",
            "tickstream_update_size_bytes_count 5",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
        }
        let mut tally = SizeTally::new(&SIZES);
        for _ in 0..Tally::BATCH {
            tally.add(100);
        }
        let mut text = String::new();
        SIZES.render(&mut text);
        assert!(
            text.contains("_count 37\n"),
            "a full batch is handed over without waiting for the drop:\n{text}"
        );
    }
}
