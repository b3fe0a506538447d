//! `tickstream-bench`: the reference scenario at several client counts, server and bots on
//! this machine; prints a Markdown table (see BENCHMARKS.md).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tickstream_bot::bench::{BenchConfig, TABLE_HEADER, run_one, scenario_file};

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
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server_bin = match args.server_bin {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("this binary has a directory")?
            .join("tickstream-server"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    println!("{TABLE_HEADER}");
    for variant in &args.variants {
        let recordings = match &args.record {
            Some(dir) => vec![None, Some(dir.clone())],
            None => vec![None],
        };
        for ((&clients, &protocol), record) in args
            .clients
            .iter()
            .flat_map(|c| args.protocols.iter().map(move |p| (c, p)))
            .flat_map(|cp| recordings.iter().map(move |r| (cp, r.clone())))
        {
            let label = variant.to_ascii_uppercase();
            let cfg = BenchConfig {
                server_bin: server_bin.clone(),
                scenario: scenario_file(&args.scenarios, variant),
                variant: if record.is_some() {
                    format!("{label} rec")
                } else {
                    label
                },
                record,
                clients,
                warmup: Duration::from_secs(args.warmup),
                window: Duration::from_secs(args.window),
                verify_every: args.verify_every,
                protocol,
                residuals: args.residuals,
                tls: args.tls,
            };
            eprintln!(
                "running variant {} with {clients} clients, protocol v{protocol}…",
                cfg.variant
            );
            let result = runtime
                .block_on(run_one(&cfg))
                .with_context(|| format!("variant {variant}, {clients} clients"))?;
            println!("{}", result.row());
            results.push(result);
            // Let the previous server's sockets leave TIME_WAIT pressure behind.
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
