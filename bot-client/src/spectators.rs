//! Spectator bots (`--spectators N`): connections that watch the bots' rooms (protocol v6)
//! without playing, every update verified against the server's checksum. They show what
//! watching costs the server and that what a spectator sees adds up.
//!
//! Spectator `i` watches the room of bot `i` (so they spread over the rooms like the bots)
//! and follows the whole room. It starts after the bots' ramp (a spectator never creates a
//! room: one that does not exist yet answers 4006, and the spectator tries again shortly).
//! With no bots at all (`--bots 0`), spectators watch rooms that exist without them: the
//! recordings a `tickstream-server replay FILE... --serve` plays back. The server's 1000 at a
//! recording's end ends a spectator's watch without an error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tickstream_client::{Connector, Spectator, SpectatorError, SpectatorEvent};
use tickstream_shared::close_code;

use crate::bot::Window;

/// How long a spectator waits before asking again for a room that does not exist yet.
const RETRY: Duration = Duration::from_millis(200);

/// What one spectator saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpectatorReport {
    /// It got its `Spectating`.
    pub connected: bool,
    /// Updates applied inside the measured window.
    pub updates_in_window: u64,
    /// The part of the window it watched, in seconds (from its first `Spectating` or the
    /// window's start, whichever is later, to the window's end): what its rate is over.
    pub seconds_in_window: f64,
    /// Updates that did not apply or whose checksum did not match.
    pub desyncs: u64,
    /// The first of those.
    pub desync_sample: Option<String>,
    /// What went wrong otherwise (a refusal, a lost connection).
    pub error: Option<String>,
    /// The reason of the server's 1000 that ended the watch before the window did ("the
    /// recording ended").
    pub ended: Option<String>,
}

/// Watches `room` from `start_at` until the window ends.
pub async fn run_spectator(
    connector: Arc<Connector>,
    room: String,
    start_at: Instant,
    window: Window,
) -> SpectatorReport {
    let mut report = SpectatorReport::default();
    tokio::time::sleep_until(start_at.into()).await;
    while Instant::now() < window.end {
        let watched = match connector.for_url(connector.url()) {
            Ok(c) => Spectator::watch(c, &room, None).await,
            Err(e) => Err(SpectatorError::Open(tickstream_client::OpenError::Connect(
                e,
            ))),
        };
        let mut s = match watched {
            Ok(s) => s,
            Err(SpectatorError::Open(e)) if e.close_code() == Some(close_code::NO_SUCH_ROOM) => {
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(e) => {
                report.error = Some(format!("spectate {room}: {e}"));
                return report;
            }
        };
        if !report.connected {
            let from = Instant::now().max(window.start);
            report.seconds_in_window = window.end.saturating_duration_since(from).as_secs_f64();
        }
        report.connected = true;
        loop {
            let left = window.end.saturating_duration_since(Instant::now());
            let next = match tokio::time::timeout(left, s.next()).await {
                Err(_) => {
                    s.close().await;
                    return report;
                }
                Ok(next) => next,
            };
            match next {
                Ok(SpectatorEvent::Update { .. }) => {
                    if window.contains(Instant::now()) {
                        report.updates_in_window += 1;
                    }
                }
                Ok(SpectatorEvent::Moved { .. }) => {}
                // A recording played to its end (or a room that ended) lets its spectators go
                // with 1000: the watch is over, not failed.
                Ok(SpectatorEvent::Closed { code, reason }) => {
                    if code == close_code::NORMAL {
                        report.ended = Some(reason);
                    } else if Instant::now() < window.end {
                        report.error = Some(format!("{room}: closed {code} {reason}"));
                    }
                    return report;
                }
                Err(SpectatorError::View(e)) => {
                    // The view is unusable: count it and watch again from a fresh one.
                    report.desyncs += 1;
                    report
                        .desync_sample
                        .get_or_insert_with(|| format!("{room}: {e}"));
                    break;
                }
                Err(e) => {
                    report.error = Some(format!("{room}: {e}"));
                    return report;
                }
            }
        }
    }
    report
}
