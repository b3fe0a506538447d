//! A load run: many bots against one server, a progress report every second, and a
//! [`Summary`] at the end.
//!
//! The run's timeline, from its start `t0`: bots start connecting at `t0`, spread evenly over
//! `ramp` so thousands of TLS handshakes do not land in the same millisecond; traffic is
//! measured from `t0 + warmup` for `duration`; then every bot closes its connection.
//!
//! With `rooms` > 1, bot `i` joins `ROOM-(i % rooms)`, so the rooms get equal shares; with
//! [`Churn`], bots drop their connection at random and resume (see [`crate::bot`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::bot::{BotConfig, BotCounters, Window, run_bot};
use crate::churn::Churn;
use crate::summary::{Aggregator, Summary};
use tickstream_client::{ConnectError, ConnectOptions, Connector};

/// What a load run does. [`LoadConfig::default`] is a short smoke run against a local server.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// The server's WebSocket URL.
    pub url: String,
    /// How many bots; bot `i` (0-based) seeds its inputs with `1000 + i`.
    pub bots: u32,
    /// The measured window, after the warm-up.
    pub duration: Duration,
    /// The room every bot joins, or with `rooms` > 1 the prefix of the rooms' names.
    pub room: String,
    /// How many rooms the bots are spread over: 1 keeps `room` as it is; N > 1 uses
    /// `ROOM-0` … `ROOM-{N-1}`, bot `i` in `ROOM-(i % N)`. 0 is an error.
    pub rooms: u32,
    /// Drop connections at random and resume them; `None` (the default) keeps one connection
    /// per bot.
    pub churn: Option<Churn>,
    /// TLS trust, subprotocol, connect timeout.
    pub connect: ConnectOptions,
    /// Bot `i` verifies checksums iff `i % verify_every == 0`; 1 = all, 0 = none.
    pub verify_every: u32,
    /// Bot starts are spread evenly over this time. Keep it well under `warmup + duration`: a
    /// bot that starts after the window has ended only reports a `late` error.
    pub ramp: Duration,
    /// Traffic before this much time from the start is not measured.
    pub warmup: Duration,
    /// How long a bot waits for `Welcome` after `Join`.
    pub join_timeout: Duration,
    /// How long a bot waits for the server's close frame after sending its own.
    pub close_grace: Duration,
    /// Verifying bots count the v3 position residuals they decode, for the summary's
    /// empirical entropy (the information limit of the stream).
    pub residuals: bool,
    /// Emulated one-way network latency, added in both directions by a relay inside the
    /// process ([`crate::latency::LatencyRelay`]); zero connects directly.
    pub latency: Duration,
    /// Spectators watching the bots' rooms (protocol v6) besides the bots; spectator `i`
    /// watches bot `i`'s room.
    pub spectators: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            // The server's default TLS listener.
            url: "wss://127.0.0.1:7443/ws".into(),
            // Enough to see a room with several players, light enough for any machine.
            bots: 10,
            // Long enough for a stable rate at 30 Hz (300 updates per bot).
            duration: Duration::from_secs(10),
            // The room a server creates on demand under the scenario's name.
            room: "default".into(),
            // One room, as before rooms could be spread.
            rooms: 1,
            // A steady connection per bot, as a load run always had.
            churn: None,
            connect: ConnectOptions::default(),
            // Verifying everything is the point of a smoke run; benchmarks sample.
            verify_every: 1,
            // 2,000 handshakes in a second is what the server is sized for.
            ramp: Duration::from_secs(1),
            // Smoke runs measure everything; benchmarks set 10 s.
            warmup: Duration::ZERO,
            // Far beyond a healthy server's answer, short enough to fail a run visibly.
            join_timeout: Duration::from_secs(10),
            // A local server echoes a close within milliseconds.
            close_grace: Duration::from_secs(2),
            // Counting costs a map insert per moved entity: only when asked.
            residuals: false,
            // A direct connection: the link is whatever the network is.
            latency: Duration::ZERO,
            // Players only, as a load run always was.
            spectators: 0,
        }
    }
}

impl LoadConfig {
    /// Whether bot `index` verifies checksums.
    #[must_use]
    pub fn verifies(&self, index: u32) -> bool {
        self.verify_every != 0 && index % self.verify_every == 0
    }

    /// The room bot `index` joins.
    #[must_use]
    pub fn room_for(&self, index: u32) -> String {
        if self.rooms <= 1 {
            self.room.clone()
        } else {
            format!("{}-{}", self.room, index % self.rooms)
        }
    }

    /// Checks what the URL check cannot: the room count and the churn interval.
    pub fn validate(&self) -> Result<(), LoadError> {
        if self.rooms == 0 {
            return Err(LoadError::Config("rooms must be at least 1"));
        }
        if let Some(c) = &self.churn
            && c.mean_interval.is_zero()
        {
            return Err(LoadError::Config(
                "the churn interval must be longer than zero",
            ));
        }
        Ok(())
    }

    /// When bot `index` starts, relative to the run's start.
    #[must_use]
    pub fn start_offset(&self, index: u32) -> Duration {
        if self.bots == 0 {
            return Duration::ZERO;
        }
        self.ramp.mul_f64(f64::from(index) / f64::from(self.bots))
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The URL or the TLS settings are unusable.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A setting that cannot work.
    #[error("invalid load configuration: {0}")]
    Config(&'static str),
}

/// Where a run is on its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the measured window: connecting and warming up.
    WarmUp,
    /// Inside the measured window.
    Measuring,
    /// After the window: bots are closing their connections.
    Closing,
}

impl Phase {
    /// The phase at `t` of a run measuring over `window`.
    #[must_use]
    pub fn at(window: &Window, t: Instant) -> Self {
        if t < window.start {
            Self::WarmUp
        } else if t < window.end {
            Self::Measuring
        } else {
            Self::Closing
        }
    }
}

/// The run's state once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Bots in the run.
    pub bots: u32,
    /// Bots that have joined (including those that have since stopped).
    pub connected: u32,
    /// Bots that have finished.
    pub finished: u32,
    /// Updates per second received since the last report, all bots together.
    pub updates_per_sec: f64,
    /// Payload bytes per second received since the last report, all bots together.
    pub bytes_per_sec: f64,
    /// Bots that desynced so far.
    pub desyncs: u32,
    /// Errors so far.
    pub errors: u64,
    /// Events out of sequence so far.
    pub event_errors: u64,
    /// Successful resumes so far (churn).
    pub resumes: u64,
    /// Failed resumes so far (churn).
    pub resume_failures: u64,
    /// Where the run is.
    pub phase: Phase,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>5.1}s{}] connected {}/{}  updates/s {:.0}  bytes/s {:.0}  desyncs {}  errors {}",
            self.elapsed.as_secs_f64(),
            match self.phase {
                Phase::WarmUp => " warm-up",
                Phase::Measuring => "",
                Phase::Closing => " closing",
            },
            self.connected,
            self.bots,
            self.updates_per_sec,
            self.bytes_per_sec,
            self.desyncs,
            self.errors
        )?;
        if self.event_errors > 0 {
            write!(f, "  event errors {}", self.event_errors)?;
        }
        if self.resumes + self.resume_failures > 0 {
            write!(
                f,
                "  resumes {} (failed {})",
                self.resumes, self.resume_failures
            )?;
        }
        Ok(())
    }
}

/// Runs `cfg.bots` bots to the end of the window, calling `progress` once a second, and
/// returns what they measured. Everything that goes wrong is counted in the [`Summary`]; an
/// unusable URL or TLS setting is one error of kind `setup` (see [`try_run`] to get it typed).
pub async fn run(cfg: LoadConfig, progress: impl Fn(&Progress)) -> Summary {
    let (bots, warmup, duration) = (cfg.bots, cfg.warmup, cfg.duration);
    let (url, room, churn) = (cfg.url.clone(), cfg.room.clone(), cfg.churn);
    match try_run(cfg, progress).await {
        Ok(summary) => summary,
        Err(e) => {
            let mut agg = Aggregator::new(bots, warmup, duration);
            agg.add_error("setup".into(), || e.to_string());
            let mut summary = agg.finish();
            summary.url = url;
            summary.room = room;
            summary.churn_interval_s = churn.map(|c| c.mean_interval.as_secs_f64());
            summary
        }
    }
}

/// [`run`], but an unusable URL, TLS setting or configuration is an error before any bot
/// starts.
pub async fn try_run(cfg: LoadConfig, progress: impl Fn(&Progress)) -> Result<Summary, LoadError> {
    cfg.validate()?;
    // With emulated latency the bots connect to a relay on loopback that holds every byte
    // for `latency` each way; it lives as long as the run.
    let (connector, _relay) = if cfg.latency.is_zero() {
        (Arc::new(Connector::new(&cfg.url, &cfg.connect)?), None)
    } else {
        let bad = || LoadError::Config("--latency-ms needs a URL with a host");
        let (_, target) = crate::latency::via_port(&cfg.url, 0).ok_or_else(bad)?;
        let upstream = tokio::net::lookup_host(target.as_str())
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(bad)?;
        let listen = std::net::SocketAddr::new(upstream.ip(), 0);
        let relay = crate::latency::LatencyRelay::start(listen, upstream, cfg.latency)
            .await
            .map_err(|_| LoadError::Config("cannot start the latency relay"))?;
        let (url, _) = crate::latency::via_port(&cfg.url, relay.addr().port()).ok_or_else(bad)?;
        (Arc::new(Connector::new(&url, &cfg.connect)?), Some(relay))
    };
    let t0 = Instant::now();
    let window = Window {
        start: t0 + cfg.warmup,
        end: t0 + cfg.warmup + cfg.duration,
    };
    let counters: Vec<Arc<BotCounters>> = (0..cfg.bots).map(|_| Arc::default()).collect();
    let mut bots = JoinSet::new();
    for (index, c) in (0..cfg.bots).zip(&counters) {
        let bot = BotConfig {
            index,
            room: cfg.room_for(index),
            verify: cfg.verifies(index),
            start_at: t0 + cfg.start_offset(index),
            window,
            join_timeout: cfg.join_timeout,
            close_grace: cfg.close_grace,
            churn: cfg.churn,
            residuals: cfg.residuals && cfg.verifies(index),
        };
        bots.spawn(run_bot(bot, Arc::clone(&connector), Arc::clone(c)));
    }

    // Spectators start once the bots' rooms exist (a spectator never creates one).
    let mut spectators = JoinSet::new();
    for index in 0..cfg.spectators {
        spectators.spawn(crate::spectators::run_spectator(
            Arc::clone(&connector),
            cfg.room_for(index),
            t0 + cfg.ramp + Duration::from_millis(300),
            window,
        ));
    }
    let mut agg = Aggregator::new(cfg.bots, cfg.warmup, cfg.duration);
    let second = Duration::from_secs(1);
    let mut ticker = tokio::time::interval_at((t0 + second).into(), second);
    let mut last = Totals::default();
    let mut last_at = t0;
    loop {
        tokio::select! {
            joined = bots.join_next() => match joined {
                None => break,
                Some(Ok(report)) => agg.add(&report),
                Some(Err(e)) => agg.add_error("task".into(), || format!("a bot task failed: {e}")),
            },
            _ = ticker.tick() => {
                let now = Instant::now();
                let totals = Totals::of(&counters);
                let dt = now.duration_since(last_at).as_secs_f64().max(1e-3);
                progress(&Progress {
                    elapsed: now.duration_since(t0),
                    bots: cfg.bots,
                    connected: totals.connected,
                    finished: totals.finished,
                    updates_per_sec: totals.updates.saturating_sub(last.updates) as f64 / dt,
                    bytes_per_sec: totals.bytes.saturating_sub(last.bytes) as f64 / dt,
                    desyncs: totals.desyncs,
                    errors: totals.errors,
                    event_errors: totals.event_errors,
                    resumes: totals.resumes,
                    resume_failures: totals.resume_failures,
                    phase: Phase::at(&window, now),
                });
                last = totals;
                last_at = now;
            }
        }
    }
    let mut summary = agg.finish();
    let mut watched = Vec::new();
    while let Some(report) = spectators.join_next().await {
        watched.push(
            report.unwrap_or_else(|e| crate::spectators::SpectatorReport {
                error: Some(format!("a spectator task failed: {e}")),
                ..Default::default()
            }),
        );
    }
    summary.add_spectators(cfg.spectators, &watched, cfg.duration);
    summary.url = cfg.url;
    summary.room = cfg.room;
    summary.churn_interval_s = cfg.churn.map(|c| c.mean_interval.as_secs_f64());
    summary.latency_ms = u64::try_from(cfg.latency.as_millis()).unwrap_or(u64::MAX);
    Ok(summary)
}

/// The live counters of all bots, summed.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    connected: u32,
    finished: u32,
    updates: u64,
    bytes: u64,
    desyncs: u32,
    errors: u64,
    event_errors: u64,
    resumes: u64,
    resume_failures: u64,
}

impl Totals {
    fn of(counters: &[Arc<BotCounters>]) -> Self {
        let mut t = Self::default();
        for c in counters {
            t.connected += u32::from(c.joined());
            t.finished += u32::from(c.done());
            t.updates += c.updates();
            t.bytes += c.bytes();
            t.desyncs += u32::from(c.desynced());
            t.errors += c.errors();
            t.event_errors += c.event_errors();
            t.resumes += c.resumes();
            t.resume_failures += c.resume_failures();
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_sample() {
        let mut cfg = LoadConfig::default();
        assert!(
            (0..5).all(|i| cfg.verifies(i)),
            "default: every bot verifies"
        );
        cfg.verify_every = 4;
        let v: Vec<u32> = (0..10).filter(|&i| cfg.verifies(i)).collect();
        assert_eq!(v, vec![0, 4, 8], "every fourth bot");
        cfg.verify_every = 0;
        assert!((0..5).all(|i| !cfg.verifies(i)), "0: none verifies");
    }

    #[test]
    fn starts_are_spread_over_the_ramp() {
        let cfg = LoadConfig {
            bots: 4,
            ramp: Duration::from_secs(1),
            ..LoadConfig::default()
        };
        let offsets: Vec<Duration> = (0..4).map(|i| cfg.start_offset(i)).collect();
        assert_eq!(
            offsets,
            vec![
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_millis(750)
            ],
            "even spacing, first bot at once"
        );
    }

    #[test]
    fn rooms_are_shared_round_robin_and_one_room_keeps_its_name() {
        let mut cfg = LoadConfig {
            room: "arena".into(),
            ..LoadConfig::default()
        };
        assert_eq!(cfg.room_for(7), "arena", "one room: the plain name");
        cfg.rooms = 3;
        let rooms: Vec<String> = (0..7).map(|i| cfg.room_for(i)).collect();
        assert_eq!(
            rooms,
            [
                "arena-0", "arena-1", "arena-2", "arena-0", "arena-1", "arena-2", "arena-0"
            ],
            "bot i in room i % 3"
        );
    }

    #[tokio::test]
    async fn impossible_settings_fail_before_any_bot_starts() {
        let cfg = LoadConfig {
            rooms: 0,
            ..LoadConfig::default()
        };
        assert!(
            matches!(try_run(cfg, |_| {}).await, Err(LoadError::Config(_))),
            "zero rooms"
        );
        let cfg = LoadConfig {
            churn: Some(Churn {
                mean_interval: Duration::ZERO,
                ..Churn::default()
            }),
            ..LoadConfig::default()
        };
        assert!(
            matches!(try_run(cfg, |_| {}).await, Err(LoadError::Config(_))),
            "a zero churn interval"
        );
    }

    #[tokio::test]
    async fn a_bad_url_fails_before_any_bot_starts() {
        let cfg = LoadConfig {
            url: "http://127.0.0.1:1/ws".into(),
            ..LoadConfig::default()
        };
        assert!(
            matches!(
                try_run(cfg.clone(), |_| {}).await,
                Err(LoadError::Connect(_))
            ),
            "http is not a WebSocket scheme"
        );
        let s = run(cfg, |_| {}).await;
        assert_eq!(
            s.errors_by_kind.get("setup"),
            Some(&1),
            "one setup error: {s}"
        );
        assert!(!s.passed(), "a run that could not start failed");
    }

    #[tokio::test]
    async fn a_refused_connection_is_counted_not_fatal() {
        // Port 1 on loopback is closed on any sane machine: the connect fails at once.
        let cfg = LoadConfig {
            url: "ws://127.0.0.1:1/ws".into(),
            bots: 2,
            duration: Duration::from_millis(300),
            ramp: Duration::ZERO,
            ..LoadConfig::default()
        };
        let s = run(cfg, |_| {}).await;
        assert_eq!(s.bots_connected, 0, "nobody connected");
        assert_eq!(s.errors, 2, "one error per bot");
        assert_eq!(
            s.errors_by_kind.get("tcp"),
            Some(&2),
            "both are TCP failures"
        );
        assert!(!s.passed(), "a failed run");
    }
}
