//! Metric names, in one place so that the code, the dashboard and the docs agree.
//!
//! Recorded through the `metrics` facade; without an installed recorder they cost almost
//! nothing. Prometheus conventions: base units, `_total` counters, no per-room or per-client
//! labels (their number is unbounded).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Open WebSocket sessions (gauge).
pub const CONNECTIONS: &str = "tickstream_connections";
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
/// Client messages that did not decode (counter).
pub const DECODE_ERRORS: &str = "tickstream_decode_errors_total";

/// Registers help text and units for every metric; call once after installing a recorder.
pub fn describe() {
    describe_gauge!(CONNECTIONS, "Open WebSocket sessions.");
    describe_gauge!(ROOMS, "Rooms alive.");
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
    describe_histogram!(UPDATE_SIZE, Unit::Bytes, "Size of one update frame.");
    describe_counter!(
        UPDATES_MERGED,
        "Client-ticks skipped because the client's previous update was still waiting; the next delta covers them."
    );
    describe_counter!(DISCONNECTS, "Sessions ended, by WebSocket close code.");
    describe_counter!(
        REJECTED_CONNECTIONS,
        "Connections refused before the WebSocket upgrade, by reason."
    );
    describe_counter!(REJECTED_INPUTS, "Inputs ignored, by reason.");
    describe_counter!(DECODE_ERRORS, "Client messages that did not decode.");
}
