//! `tickstream-bot`: run N bots against a Tickstream server and report what they saw.
//!
//! Exits non-zero if any bot failed to connect, desynced, missed a game event, failed a resume
//! or hit an error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tickstream_bot::misbehave::{self, Mode};
use tickstream_bot::{Churn, LoadConfig, Progress, load};
use tickstream_client::ConnectOptions;

/// Headless Tickstream bots: load, verification, latency and bandwidth.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The server's WebSocket URL (ws:// or wss://).
    #[arg(
        long,
        env = "TICKSTREAM_BOT_URL",
        default_value = "wss://127.0.0.1:7443/ws"
    )]
    url: String,
    /// How many bots to run.
    #[arg(long, default_value_t = 10)]
    bots: u32,
    /// Seconds to measure (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// The room every bot joins; with --rooms N > 1, the prefix of ROOM-0 … ROOM-{N-1}. The
    /// server picks the game from the name (`coins…` runs coins).
    #[arg(long, default_value = "default")]
    room: String,
    /// Spread the bots over this many rooms (bot i joins ROOM-(i % N)).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    rooms: u32,
    /// Drop connections at random (no close frame, as a lost mobile network) and reconnect
    /// with Resume, checking the same entity comes back and no event is lost.
    #[arg(long)]
    churn: bool,
    /// With --churn: the mean time between a bot's drops, in seconds (exponentially
    /// distributed).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, requires = "churn")]
    churn_interval_secs: f64,
    /// With --churn: how long a dropped bot stays offline before resuming, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, requires = "churn")]
    churn_reconnect_ms: u64,
    /// Accept any server certificate (for a self-signed test server).
    #[arg(long)]
    insecure: bool,
    /// A PEM file with the server's certificate or its CA.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Bot i verifies checksums iff i % K == 0 (1 = all bots, 0 = none).
    #[arg(long, value_name = "K", default_value_t = 1)]
    verify_every: u32,
    /// Seconds of traffic before measuring starts.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Seconds over which bot connections are spread.
    #[arg(long, default_value_t = 1.0)]
    ramp: f64,
    /// Emulated one-way network latency in milliseconds, added in both directions (a relay
    /// inside this process holds every byte that long): 100 gives a 200 ms round trip.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Spectators watching the bots' rooms besides the bots (protocol v6), every update
    /// verified; spectator i watches bot i's room.
    #[arg(long, value_name = "N", default_value_t = 0)]
    spectators: u32,
    /// Instead of a load run, probe the server with one misbehaving connection per mode and
    /// report what it answered: garbage, oversize, flood, stall, slowloris, or all.
    #[arg(long, value_name = "MODE")]
    misbehave: Option<String>,
}

fn seconds(name: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("--{name} {v} is not a duration"))
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let cfg = LoadConfig {
        url: args.url,
        bots: args.bots,
        duration: seconds("duration", args.duration)?,
        room: args.room,
        rooms: args.rooms,
        churn: if args.churn {
            Some(Churn {
                mean_interval: seconds("churn-interval-secs", args.churn_interval_secs)?,
                reconnect_delay: Duration::from_millis(args.churn_reconnect_ms),
            })
        } else {
            None
        },
        connect: ConnectOptions {
            insecure: args.insecure,
            ca: args.ca,
            ..ConnectOptions::default()
        },
        verify_every: args.verify_every,
        ramp: seconds("ramp", args.ramp)?,
        warmup: seconds("warmup", args.warmup)?,
        latency: Duration::from_millis(args.latency_ms),
        spectators: args.spectators,
        ..LoadConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    if let Some(mode) = &args.misbehave {
        let modes: Vec<Mode> = if mode == "all" {
            Mode::ALL.to_vec()
        } else {
            vec![mode.parse().map_err(anyhow::Error::msg)?]
        };
        let mut all_ok = true;
        for m in modes {
            let outcome = runtime.block_on(misbehave::probe(m, &cfg.url, &cfg.connect, &cfg.room));
            println!("{outcome}");
            all_ok &= outcome.as_expected;
        }
        return Ok(if all_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let redraw = std::io::stderr().is_terminal();
    let show = |p: &Progress| {
        let mut err = std::io::stderr().lock();
        // Progress is best effort: a closed stderr must not stop the run.
        let _ = if redraw {
            write!(err, "\r{p}\x1b[K").and_then(|()| err.flush())
        } else {
            writeln!(err, "{p}")
        };
    };
    let summary = runtime.block_on(load::try_run(cfg, show))?;
    if redraw {
        eprintln!();
    }
    println!("{summary}");
    if let Some(path) = &args.json {
        let mut json =
            serde_json::to_string_pretty(&summary).context("cannot encode the summary")?;
        json.push('\n');
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
