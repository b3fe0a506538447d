//! `tickstream-bench`: the reference scenario at several client counts, server and bots on
//! this machine; prints a Markdown table (see BENCHMARKS.md).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tickstream_bot::bench::{
    BOTS_CPU, BenchConfig, BenchResult, FloorResult, TABLE_HEADER, median, pin_self, run_floor,
    run_one, scenario_file,
};

/// Runs the reference scenario's variants at each client count: 10 s warm-up, then a 20 s
/// measured window, one fresh server process per run.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The server binary [default: `tickstream-server` beside this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where `reference-a.toml` and `reference-b.toml` are.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/scenarios"))]
    scenarios: PathBuf,
    /// Variants to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "A,B")]
    variants: Vec<String>,
    /// Client counts to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "50,200,500,1000,2000")]
    clients: Vec<u32>,
    /// Seconds of warm-up before the window.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// Bot i verifies every checksum iff i % K == 0 (the rest apply updates unverified).
    #[arg(long, default_value_t = 10)]
    verify_every: u32,
    /// Protocol versions the bots speak, each run in turn for every variant and client count
    /// (`4,2` interleaves v4 and v2 runs in one sitting, for ratios on a drifting machine).
    #[arg(long, value_delimiter = ',', default_value = "4")]
    protocols: Vec<u16>,
    /// Verifying bots count v3 position residuals and report their empirical entropy per
    /// entity-update: the information limit of the stream under the protocol's prediction.
    #[arg(long)]
    residuals: bool,
    /// The bots connect over wss to the server's TLS listener (self-signed certificate), so
    /// the socket bytes column includes TLS records.
    #[arg(long)]
    tls: bool,
    /// Also measure recording: every configuration runs twice in a row, without and then with
    /// the server recording into this directory (variant `A rec`), for the cost of recording
    /// on a drifting machine.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Where the bots and servers run: `pinned` puts the server (and the floor) on CPU 0 with
    /// `taskset` and the bots on CPU 1; `unpinned` lets the kernel place them. Each placement
    /// is run in turn for every variant and client count.
    #[arg(long, value_delimiter = ',', default_value = "pinned")]
    placement: Vec<Placement>,
    /// Repetitions of each Tickstream, floor pair, interleaved (Tickstream, floor, Tickstream,
    /// floor, …); the tables report medians.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Skip the floor runs (no ratios).
    #[arg(long)]
    no_floor: bool,
    /// Count the server's (and the floor's) system calls and context switches over the
    /// window with `perf stat` (software events: works in a VM); adds columns per update.
    #[arg(long)]
    perf: bool,
    /// The floor binary [default: `tickstream-floor` beside this binary].
    #[arg(long)]
    floor_bin: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Where the processes of a run are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Placement {
    /// Server on CPU 0, bots on CPU 1.
    Pinned,
    /// Wherever the kernel puts them.
    Unpinned,
}

/// One Tickstream, floor pair's configuration and every repetition of it.
#[derive(Debug, serde::Serialize)]
struct Cell {
    variant: String,
    clients: u32,
    protocol: u16,
    tls: bool,
    placement: Placement,
    tickstream: Vec<BenchResult>,
    floor: Vec<FloorResult>,
}

impl Cell {
    fn transport(&self) -> String {
        format!(
            "v{}{}",
            self.protocol,
            if self.tls { " wss" } else { " ws" }
        )
    }

    fn placement(&self) -> &'static str {
        match self.placement {
            Placement::Pinned => "pinned",
            Placement::Unpinned => "unpinned",
        }
    }

    /// `perf` event `name` per update, Tickstream / floor (medians), or `–` without `--perf`.
    fn perf_cell(&self, name: &str) -> String {
        let t: Vec<f64> = self
            .tickstream
            .iter()
            .filter_map(|r| r.perf_per_update.get(name).copied())
            .collect();
        let f: Vec<f64> = self
            .floor
            .iter()
            .filter_map(|r| r.perf_per_update.get(name).copied())
            .collect();
        if t.is_empty() {
            return "–".into();
        }
        format!("{:.2} / {:.2}", median(&t), median(&f))
    }

    /// Tickstream's median over the floor's, flagged when a bot of either side fell under
    /// 29.5 updates per second: then the bots, not the server, set the rate, and the CPU per
    /// update is not the server's alone.
    fn ratio(&self, ts: f64, fs: f64) -> String {
        if fs <= 0.0 || self.floor.is_empty() {
            return "–".into();
        }
        let slow = self.tickstream.iter().any(|r| r.bots.update_hz_min < 29.5)
            || self.floor.iter().any(|r| r.update_hz_min < 29.5);
        let ratio = format!("{:.2}", ts / fs);
        if slow {
            format!("{ratio} (a bot < 29.5 Hz)")
        } else {
            ratio
        }
    }

    /// The row of the ratio table: medians over the repetitions.
    fn ratio_row(&self) -> String {
        let t =
            |f: fn(&BenchResult) -> f64| median(&self.tickstream.iter().map(f).collect::<Vec<_>>());
        let fl = |f: fn(&FloorResult) -> f64| median(&self.floor.iter().map(f).collect::<Vec<_>>());
        let (ts, fs) = (t(|r| r.cpu_us_per_update), fl(|r| r.cpu_us_per_update));
        let pairs: Vec<String> = self
            .tickstream
            .iter()
            .zip(&self.floor)
            .map(|(a, b)| format!("{:.2}", a.cpu_us_per_update / b.cpu_us_per_update))
            .collect();
        let min = |v: Vec<f64>| v.into_iter().fold(f64::INFINITY, f64::min);
        let desyncs: u64 = self
            .tickstream
            .iter()
            .map(|r| u64::from(r.bots.desyncs) + r.bots.errors)
            .sum();
        let loads: Vec<&str> = self
            .tickstream
            .iter()
            .map(|r| r.loadavg.as_str())
            .chain(self.floor.iter().map(|r| r.loadavg.as_str()))
            .map(|l| l.split(' ').next().unwrap_or("?"))
            .collect();
        format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | **{}** | {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.0} | {:.2} | {:.1} | {:.1} / {:.1} | {} | {} | {} | {} |",
            self.variant,
            self.clients,
            self.transport(),
            self.placement(),
            ts,
            fs,
            self.ratio(ts, fs),
            pairs.join(", "),
            t(|r| r.bot_cpu_us_per_update),
            fl(|r| r.bot_cpu_us_per_update),
            min(self
                .tickstream
                .iter()
                .map(|r| r.bots.update_hz_min)
                .collect()),
            min(self.floor.iter().map(|r| r.update_hz_min).collect()),
            t(|r| r.bots.bytes_per_update),
            t(|r| r.tick_p99_ms),
            t(|r| r.server_rss_mib),
            t(|r| r.bots.rtt_ms.p50),
            t(|r| r.bots.rtt_ms.p99),
            desyncs,
            loads.join(" "),
            self.perf_cell("raw_syscalls:sys_enter"),
            self.perf_cell("context-switches"),
        )
    }
}

/// The header of the ratio table.
const RATIO_HEADER: &str = "| variant | M | transport | placement | Tickstream server CPU µs / update | floor CPU µs / update | ratio | ratio per pair | bot CPU µs / update, Tickstream / floor | min update Hz, Tickstream / floor | bytes / update | tick p99 ms | server RSS MiB | input RTT p50 / p99 ms | desyncs + errors | load avg (1 min) at each run | syscalls / update, Tickstream / floor | context switches / update, Tickstream / floor |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

/// The header of the table of single runs, printed as they end.
const RUN_HEADER: &str = "| variant | M | transport | placement | run | server | server CPU µs / update | bot CPU µs / update | update Hz mean (min) | bytes / update | socket bytes / client / s | cores server / bots | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let beside = |name: &str| -> anyhow::Result<PathBuf> {
        Ok(std::env::current_exe()?
            .parent()
            .context("this binary has a directory")?
            .join(name))
    };
    let server_bin = match args.server_bin {
        Some(p) => p,
        None => beside("tickstream-server")?,
    };
    let floor_bin = match args.floor_bin {
        Some(p) => p,
        None => beside("tickstream-floor")?,
    };
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let all_cpus = format!("0-{}", cores.saturating_sub(1));
    // Pinning needs a CPU for each side; on one CPU every run is unpinned, and says so.
    let placements: Vec<Placement> = if cores >= 2 {
        args.placement.clone()
    } else {
        eprintln!("one CPU: pinned runs are run unpinned");
        vec![Placement::Unpinned]
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    println!("{RUN_HEADER}");
    for variant in &args.variants {
        let recordings = match &args.record {
            Some(dir) => vec![None, Some(dir.clone())],
            None => vec![None],
        };
        let mut combos = Vec::new();
        for &c in &args.clients {
            for &p in &args.protocols {
                for &pl in &placements {
                    for r in &recordings {
                        combos.push((c, p, pl, r.clone()));
                    }
                }
            }
        }
        for (clients, protocol, placement, record) in combos {
            let pin = placement == Placement::Pinned;
            pin_self(if pin { BOTS_CPU } else { &all_cpus })?;
            let label = variant.to_ascii_uppercase();
            let mut cell = Cell {
                variant: if record.is_some() {
                    format!("{label} rec")
                } else {
                    label
                },
                clients,
                protocol,
                tls: args.tls,
                placement,
                tickstream: Vec::new(),
                floor: Vec::new(),
            };
            let cfg = BenchConfig {
                server_bin: server_bin.clone(),
                scenario: scenario_file(&args.scenarios, variant),
                variant: cell.variant.clone(),
                record,
                clients,
                warmup: Duration::from_secs(args.warmup),
                window: Duration::from_secs(args.window),
                verify_every: args.verify_every,
                protocol,
                residuals: args.residuals,
                tls: args.tls,
                pin,
                perf: args.perf,
            };
            for rep in 1..=args.repeat {
                eprintln!(
                    "variant {} with {clients} clients, protocol v{protocol}, {}, run {rep}: Tickstream…",
                    cfg.variant,
                    cell.placement()
                );
                let result = runtime
                    .block_on(run_one(&cfg))
                    .with_context(|| format!("variant {variant}, {clients} clients"))?;
                println!(
                    "| {} | {} | {} | {} | {rep} | Tickstream | {:.2} | {:.2} | {:.2} ({:.2}) | {:.0} | {:.0} | {:.2} / {:.2} | {} |",
                    cell.variant,
                    clients,
                    cell.transport(),
                    cell.placement(),
                    result.cpu_us_per_update,
                    result.bot_cpu_us_per_update,
                    result.bots.update_hz,
                    result.bots.update_hz_min,
                    result.bots.bytes_per_update,
                    result.bots.socket_bytes_per_bot_per_sec,
                    result.server_cores,
                    result.bot_cores,
                    result.loadavg,
                );
                let frame_bytes = result.bots.bytes_per_update.round().max(1.0) as usize;
                cell.tickstream.push(result.clone());
                results.push(result);
                // Let the previous server's sockets leave TIME_WAIT pressure behind.
                std::thread::sleep(Duration::from_secs(2));
                if args.no_floor {
                    continue;
                }
                eprintln!("  … floor with {frame_bytes}-byte frames");
                let floor = runtime
                    .block_on(run_floor(&cfg, &floor_bin, frame_bytes))
                    .with_context(|| format!("the floor, {clients} clients"))?;
                println!(
                    "| {} | {} | {} | {} | {rep} | floor | {:.2} | {:.2} | {:.2} ({:.2}) | {} | {:.0} | {:.2} / {:.2} | {} |",
                    cell.variant,
                    clients,
                    cell.transport(),
                    cell.placement(),
                    floor.cpu_us_per_update,
                    floor.bot_cpu_us_per_update,
                    floor.update_hz,
                    floor.update_hz_min,
                    floor.frame_bytes,
                    floor.socket_bytes_per_bot_per_sec,
                    floor.server_cores,
                    floor.bot_cores,
                    floor.loadavg,
                );
                cell.floor.push(floor);
                std::thread::sleep(Duration::from_secs(2));
            }
            cells.push(cell);
        }
    }
    pin_self(&all_cpus)?;
    println!();
    println!("Medians of {} interleaved repetitions:", args.repeat);
    println!();
    println!("{RATIO_HEADER}");
    for cell in &cells {
        println!("{}", cell.ratio_row());
    }
    println!();
    println!("Every Tickstream run, every column:");
    println!();
    println!("{TABLE_HEADER}");
    for r in &results {
        println!("{}", r.row());
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&cells)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
