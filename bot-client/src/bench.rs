//! The benchmark: the reference scenario at several client counts, server and bots on this
//! machine, with the server's cost measured from outside.
//!
//! For each variant and client count M the benchmark starts the server binary (plain ws, or
//! wss with [`BenchConfig::tls`]; its scenario file, metrics on a private port), runs M bots
//! in this process, and over the
//! measured window (after the warm-up) reads:
//! - the server's CPU time (user + system, all threads) from `/proc/PID/stat`, divided by
//!   M × ticks run in the window (from `tickstream_ticks_total`);
//! - the server's tick duration p50/p99, estimated from the `tickstream_tick_duration_seconds`
//!   histogram's bucket counts over the window (linear within a bucket), and its overruns;
//! - the server's RSS at the end of the window (`/proc/PID/status`);
//! - what the bots saw: update rate, bytes per client per second and per update (WebSocket
//!   payload; with the frame headers; and as read from the socket, TLS records included over
//!   wss), input round trip, desyncs and errors;
//! - this process's own CPU time, to tell when the bots rather than the server were the limit.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use tickstream_client::ConnectOptions;

use crate::{LoadConfig, Summary, load};

/// Clock ticks per second of `/proc/PID/stat` times (`CLK_TCK`; 100 on Linux).
const CLK_TCK: f64 = 100.0;

/// Why a benchmark run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The server could not be started or did not come up.
    #[error("server: {0}")]
    Server(String),
    /// Reading `/proc` or the metrics endpoint failed.
    #[error("measurement: {0}")]
    Measure(String),
}

/// One benchmark configuration.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The `tickstream-server` binary.
    pub server_bin: PathBuf,
    /// The scenario file for this variant.
    pub scenario: PathBuf,
    /// Variant name for the report ("A" or "B").
    pub variant: String,
    /// Bots (= clients).
    pub clients: u32,
    /// Time before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// Bot `i` verifies every checksum iff `i % verify_every == 0`.
    pub verify_every: u32,
    /// The protocol version the bots speak (they offer only its subprotocol).
    pub protocol: u16,
    /// Verifying bots count the v3 residuals for their empirical entropy.
    pub residuals: bool,
    /// The bots connect over `wss://` to the server's TLS listener (self-signed, not
    /// checked) instead of plain `ws://`.
    pub tls: bool,
    /// The server records its rooms into this directory (`--record`): what recording costs.
    pub record: Option<PathBuf>,
    /// The server on CPU 0 (`taskset -c 0`); the caller pins this process, the bots, to CPU 1
    /// (see [`pin_self`]).
    pub pin: bool,
    /// Count the server's system calls and context switches over the window with `perf stat`.
    pub perf: bool,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// "A" or "B".
    pub variant: String,
    /// Clients.
    pub clients: u32,
    /// Server CPU per client-tick, microseconds.
    pub cpu_us_per_client_tick: f64,
    /// Server CPU per update the bots received in the window, microseconds: the figure the
    /// floor is measured by too.
    pub cpu_us_per_update: f64,
    /// Whether the server ran on CPU 0 and the bots on CPU 1.
    pub pinned: bool,
    /// `/proc/loadavg` when the run started.
    pub loadavg: String,
    /// `perf stat` counts per update delivered (empty without `--perf`).
    pub perf_per_update: BTreeMap<String, f64>,
    /// Server CPU over the window, in cores (1.0 = one core busy).
    pub server_cores: f64,
    /// Bot process CPU over the window, in cores.
    pub bot_cores: f64,
    /// The protocol version the bots spoke.
    pub protocol: u16,
    /// Whether the bots connected over `wss://`.
    pub tls: bool,
    /// Bot process CPU per update received, microseconds.
    pub bot_cpu_us_per_update: f64,
    /// Ticks the server ran per second in the window.
    pub server_tick_hz: f64,
    /// Tick duration p50, milliseconds (from histogram buckets).
    pub tick_p50_ms: f64,
    /// Tick duration p99, milliseconds (from histogram buckets).
    pub tick_p99_ms: f64,
    /// Ticks over budget in the window.
    pub overruns: u64,
    /// Server resident memory at the end of the window, MiB.
    pub server_rss_mib: f64,
    /// Bots that verified every checksum.
    pub verified_bots: u32,
    /// Whether the bot process, not the server, was the limit (see [`BenchResult::limit`]).
    pub limit: String,
    /// What the bots saw.
    pub bots: Summary,
}

impl BenchResult {
    /// One Markdown table row (see [`TABLE_HEADER`]).
    #[must_use]
    pub fn row(&self) -> String {
        let b = &self.bots;
        format!(
            "| {} | {} | v{}{} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {:.2} | {:.2} ({:.2}) | {:.2} / {:.2} | {} | {:.1} | {:.1} / {:.1} | {} | {:.2} / {:.2} | {} |",
            self.variant,
            self.clients,
            self.protocol,
            if self.tls { " wss" } else { "" },
            self.cpu_us_per_client_tick,
            b.bytes_per_bot_per_sec,
            b.wire_bytes_per_bot_per_sec,
            b.socket_bytes_per_bot_per_sec,
            b.bytes_per_update,
            if b.entity_updates > 0 {
                format!("{:.3}", b.residual_entropy_bits)
            } else {
                "–".into()
            },
            self.bot_cpu_us_per_update,
            b.update_hz,
            b.update_hz_min,
            self.tick_p50_ms,
            self.tick_p99_ms,
            self.overruns,
            self.server_rss_mib,
            b.rtt_ms.p50,
            b.rtt_ms.p99,
            u64::from(b.desyncs) + b.errors,
            self.server_cores,
            self.bot_cores,
            self.limit,
        )
    }
}

/// The header of the Markdown table [`BenchResult::row`] writes.
pub const TABLE_HEADER: &str = "| variant | M | protocol | server CPU µs / client-tick | bytes / client / s | wire bytes / client / s | socket bytes / client / s | bytes / update | residual entropy bits / entity-update | bot CPU µs / update | update Hz mean (min) | tick p50 / p99 ms | overruns | server RSS MiB | input RTT p50 / p99 ms | desyncs + errors | cores server / bots | limit |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

/// A started server process, killed on drop.
struct ServerProcess {
    child: Child,
    metrics: SocketAddr,
    ws: SocketAddr,
    wss: SocketAddr,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bin`, or `taskset -c 0 bin` when pinned (taskset execs it: the child's id is the
/// server's).
fn command(bin: &Path, pin: bool) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", SERVER_CPU]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

/// The kernel events `--perf` counts in the server during the window (`perf stat`,
/// software events and tracepoints, which work in a VM without hardware counters): every
/// system call, context switches, and the calls that make the floor's pattern.
pub const PERF_EVENTS: &[&str] = &[
    "raw_syscalls:sys_enter",
    "context-switches",
    "syscalls:sys_enter_writev",
    "syscalls:sys_enter_write",
    "syscalls:sys_enter_sendto",
    "syscalls:sys_enter_recvfrom",
    "syscalls:sys_enter_read",
    "syscalls:sys_enter_epoll_wait",
    "syscalls:sys_enter_futex",
];

/// `perf stat` attached to a process for the window; counts come back from [`Perf::stop`].
pub struct Perf(Child);

impl Perf {
    /// Attaches to `pid`; `None` when perf cannot run (then the columns stay empty).
    #[must_use]
    pub fn start(pid: u32) -> Option<Self> {
        Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                &PERF_EVENTS.join(","),
                "-p",
                &pid.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok()
            .map(Self)
    }

    /// Stops counting (SIGINT, as perf expects) and returns event → count.
    #[must_use]
    pub fn stop(self) -> BTreeMap<String, f64> {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let Ok(out) = self.0.wait_with_output() else {
            return BTreeMap::new();
        };
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                let value = f.next()?.trim().parse::<f64>().ok()?;
                let event = f.nth(1)?.trim().to_owned();
                Some((event, value))
            })
            .collect()
    }
}

/// Per-update figures from `perf` counts: system calls and context switches per update
/// delivered, and each event's count per update.
fn per_update(counts: &BTreeMap<String, f64>, updates: u64) -> BTreeMap<String, f64> {
    let n = updates.max(1) as f64;
    counts.iter().map(|(k, v)| (k.clone(), v / n)).collect()
}

/// The CPU a pinned server runs on.
pub const SERVER_CPU: &str = "0";
/// The CPU pinned bots run on.
pub const BOTS_CPU: &str = "1";

/// Pins every thread of this process to `cpus` (a `taskset` list such as `1` or `0-1`), so
/// that the bots run where the benchmark says. Threads started later inherit it.
pub fn pin_self(cpus: &str) -> Result<(), BenchError> {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| BenchError::Server(format!("cannot run taskset (util-linux): {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Server(format!(
            "taskset -c {cpus} failed: {status}"
        )))
    }
}

/// The machine's load average as `/proc/loadavg` shows it (its first three fields).
#[must_use]
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn free_port() -> Result<SocketAddr, BenchError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::Server(e.to_string()))?;
    l.local_addr()
        .map_err(|e| BenchError::Server(e.to_string()))
}

/// A GET to the server's ops listener.
async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), BenchError> {
    crate::http::get(addr, path, Duration::from_secs(5))
        .await
        .map_err(|e| BenchError::Measure(e.to_string()))
}

async fn start_server(cfg: &BenchConfig) -> Result<ServerProcess, BenchError> {
    let (ws, metrics) = (free_port()?, free_port()?);
    // The TLS listener (a self-signed certificate) on a port of its own only when measured.
    let wss = if cfg.tls {
        free_port()?
    } else {
        SocketAddr::from(([127, 0, 0, 1], 0))
    };
    let child = command(&cfg.server_bin, cfg.pin)
        .arg("--config")
        .arg(&cfg.scenario)
        .args(["--listen", &wss.to_string()])
        .args(["--ws-listen", &ws.to_string()])
        .args(["--metrics-listen", &metrics.to_string()])
        .args(["--log", "warn"])
        .args(
            cfg.record
                .iter()
                .flat_map(|d| [std::ffi::OsStr::new("--record"), d.as_os_str()]),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            BenchError::Server(format!("cannot start {}: {e}", cfg.server_bin.display()))
        })?;
    let server = ServerProcess {
        child,
        metrics,
        ws,
        wss,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(http_get(server.metrics, "/readyz").await, Ok((200, _))) {
        if Instant::now() > deadline {
            return Err(BenchError::Server("the server did not become ready".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(server)
}

/// Prometheus text → series (name with labels) → value.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_owned(), v)))
        .collect()
}

/// The `q` quantile (0..1) of a histogram, from the difference of two scrapes' cumulative
/// bucket counts, interpolating linearly within the bucket; in the metric's unit.
fn quantile(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    name: &str,
    q: f64,
) -> f64 {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = after
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, v - before.get(k).copied().unwrap_or(0.0)))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total <= 0.0 {
        return f64::NAN;
    }
    let target = q * total;
    let (mut lo, mut below) = (0.0, 0.0);
    for (bound, count) in buckets {
        if count >= target {
            if bound.is_infinite() {
                return lo;
            }
            let inside = count - below;
            let frac = if inside > 0.0 {
                (target - below) / inside
            } else {
                1.0
            };
            return lo + (bound - lo) * frac;
        }
        (lo, below) = (bound, count);
    }
    lo
}

/// User + system CPU seconds of a process (all threads).
fn cpu_seconds(pid: &str) -> Result<f64, BenchError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| BenchError::Measure(format!("/proc/{pid}/stat: {e}")))?;
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    Ok((num(11) + num(12)) / CLK_TCK)
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Sample {
    at: Instant,
    server_cpu: f64,
    bot_cpu: f64,
    metrics: HashMap<String, f64>,
}

async fn sample(server: &ServerProcess) -> Result<Sample, BenchError> {
    let pid = server.child.id().to_string();
    let (status, body) = http_get(server.metrics, "/metrics").await?;
    if status != 200 {
        return Err(BenchError::Measure(format!("/metrics answered {status}")));
    }
    Ok(Sample {
        at: Instant::now(),
        server_cpu: cpu_seconds(&pid)?,
        bot_cpu: cpu_seconds("self")?,
        metrics: parse_exposition(&body),
    })
}

/// Runs one configuration: starts the server, runs the bots, measures, stops the server.
pub async fn run_one(cfg: &BenchConfig) -> Result<BenchResult, BenchError> {
    let load_at_start = loadavg();
    let server = start_server(cfg).await?;
    let load_cfg = LoadConfig {
        url: if cfg.tls {
            format!("wss://{}/ws", server.wss)
        } else {
            format!("ws://{}/ws", server.ws)
        },
        bots: cfg.clients,
        duration: cfg.window,
        room: "bench".into(),
        connect: ConnectOptions {
            insecure: cfg.tls,
            ..ConnectOptions::default().protocol(cfg.protocol)
        },
        verify_every: cfg.verify_every,
        residuals: cfg.residuals,
        ramp: Duration::from_secs(2),
        warmup: cfg.warmup,
        ..LoadConfig::default()
    };
    let (warmup, window) = (cfg.warmup, cfg.window);
    let load = tokio::spawn(load::run(load_cfg, |_| {}));
    tokio::time::sleep(warmup).await;
    let start = sample(&server).await?;
    let perf = cfg.perf.then(|| Perf::start(server.child.id())).flatten();
    tokio::time::sleep(window).await;
    let end = sample(&server).await?;
    let perf = perf.map(Perf::stop).unwrap_or_default();
    let rss = rss_mib(server.child.id());
    let bots = load
        .await
        .map_err(|e| BenchError::Measure(format!("the bot run failed: {e}")))?;
    drop(server);

    let secs = end.at.duration_since(start.at).as_secs_f64();
    let get = |s: &Sample, k: &str| s.metrics.get(k).copied().unwrap_or(0.0);
    let ticks = get(&end, "tickstream_ticks_total") - get(&start, "tickstream_ticks_total");
    let server_cpu = end.server_cpu - start.server_cpu;
    let bot_cpu = end.bot_cpu - start.bot_cpu;
    let overruns =
        get(&end, "tickstream_tick_overruns_total") - get(&start, "tickstream_tick_overruns_total");
    let ms = |q| {
        1e3 * quantile(
            &start.metrics,
            &end.metrics,
            "tickstream_tick_duration_seconds",
            q,
        )
    };
    let (server_cores, bot_cores) = (server_cpu / secs, bot_cpu / secs);
    let cores = std::thread::available_parallelism().map_or(2.0, |n| n.get() as f64);
    // On a saturated machine the limit is whichever process used more of it; otherwise the
    // bots were the limit if they fell behind while the server kept its ticks on time.
    let saturated = server_cores + bot_cores > 0.95 * cores;
    let server_on_time = overruns == 0.0 && ticks / secs > 29.5;
    let limit = match (saturated, server_on_time) {
        (true, _) if bot_cores > server_cores => "bots (machine saturated)",
        (true, _) => "server (machine saturated)",
        (false, true) if bots.update_hz_min < 29.5 => "bots",
        (false, false) => "server",
        (false, true) => "none",
    };
    Ok(BenchResult {
        variant: cfg.variant.clone(),
        clients: cfg.clients,
        cpu_us_per_client_tick: server_cpu * 1e6 / (f64::from(cfg.clients) * ticks.max(1.0)),
        cpu_us_per_update: server_cpu * 1e6 / (bots.updates_received.max(1) as f64),
        pinned: cfg.pin,
        loadavg: load_at_start,
        perf_per_update: per_update(&perf, bots.updates_received),
        server_cores,
        bot_cores,
        protocol: cfg.protocol,
        tls: cfg.tls,
        bot_cpu_us_per_update: bot_cpu * 1e6 / (bots.updates_received.max(1) as f64),
        server_tick_hz: ticks / secs,
        tick_p50_ms: ms(0.5),
        tick_p99_ms: ms(0.99),
        overruns: overruns as u64,
        server_rss_mib: rss,
        verified_bots: bots.verified_bots,
        limit: limit.into(),
        bots,
    })
}

/// What one run of the I/O floor measured (see [`crate::floor`]).
#[derive(Debug, Clone, Serialize)]
pub struct FloorResult {
    /// Clients (counting bots).
    pub clients: u32,
    /// The payload of every frame: the mean update size of the Tickstream run it is paired
    /// with.
    pub frame_bytes: usize,
    /// Whether the bots connected over `wss://`.
    pub tls: bool,
    /// Whether the floor ran on CPU 0 and the bots on CPU 1.
    pub pinned: bool,
    /// Floor CPU per frame the bots received in the window, microseconds.
    pub cpu_us_per_update: f64,
    /// Floor CPU over the window, in cores.
    pub server_cores: f64,
    /// Bot process CPU per frame received, microseconds.
    pub bot_cpu_us_per_update: f64,
    /// Bot process CPU over the window, in cores.
    pub bot_cores: f64,
    /// Frames per second per bot, mean over bots.
    pub update_hz: f64,
    /// The slowest bot's frames per second (0 for a bot that never connected).
    pub update_hz_min: f64,
    /// Socket bytes per bot per second (TLS records included over wss).
    pub socket_bytes_per_bot_per_sec: f64,
    /// Floor resident memory at the end of the window, MiB.
    pub server_rss_mib: f64,
    /// `/proc/loadavg` when the run started.
    pub loadavg: String,
    /// `perf stat` counts per frame delivered (empty without `--perf`).
    pub perf_per_update: BTreeMap<String, f64>,
}

/// Runs the I/O floor (`floor_bin`, the `tickstream-floor` binary) with `cfg.clients`
/// counting bots on the same timeline as [`run_one`]: frames of `frame_bytes` at 30 Hz.
pub async fn run_floor(
    cfg: &BenchConfig,
    floor_bin: &Path,
    frame_bytes: usize,
) -> Result<FloorResult, BenchError> {
    let load_at_start = loadavg();
    let addr = free_port()?;
    let mut cmd = command(floor_bin, cfg.pin);
    cmd.args(["--listen", &addr.to_string()])
        .args(["--frame-bytes", &frame_bytes.to_string()])
        .args(["--hz", "30"]);
    if cfg.tls {
        cmd.arg("--tls");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BenchError::Server(format!("cannot start {}: {e}", floor_bin.display())))?;
    let floor = ServerProcess {
        child,
        metrics: addr,
        ws: addr,
        wss: addr,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(BenchError::Server(
                "the floor did not start listening".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connector = if cfg.tls {
        Some(
            crate::floor::tls_connector()
                .map_err(|e| BenchError::Server(format!("TLS client: {e}")))?,
        )
    } else {
        None
    };
    let connector = std::sync::Arc::new(connector);
    let t0 = Instant::now();
    let window = crate::bot::Window {
        start: t0 + cfg.warmup,
        end: t0 + cfg.warmup + cfg.window,
    };
    let ramp = Duration::from_secs(2);
    let mut bots = tokio::task::JoinSet::new();
    for i in 0..cfg.clients {
        let start_at = t0 + ramp.mul_f64(f64::from(i) / f64::from(cfg.clients.max(1)));
        let connector = std::sync::Arc::clone(&connector);
        bots.spawn(async move {
            crate::floor::count_bot(addr, connector.as_ref().as_ref(), i, start_at, window).await
        });
    }
    let pid = floor.child.id().to_string();
    tokio::time::sleep_until(window.start.into()).await;
    let (start_at, start_floor, start_bots) =
        (Instant::now(), cpu_seconds(&pid)?, cpu_seconds("self")?);
    let perf = cfg.perf.then(|| Perf::start(floor.child.id())).flatten();
    tokio::time::sleep_until(window.end.into()).await;
    let (end_at, end_floor, end_bots) = (Instant::now(), cpu_seconds(&pid)?, cpu_seconds("self")?);
    let perf = perf.map(Perf::stop).unwrap_or_default();
    let rss = rss_mib(floor.child.id());
    let mut counted = Vec::new();
    while let Some(c) = bots.join_next().await {
        counted.push(c.map_err(|e| BenchError::Measure(format!("a counting bot failed: {e}")))?);
    }
    drop(floor);
    let secs = end_at.duration_since(start_at).as_secs_f64();
    let frames: u64 = counted.iter().map(|c| c.frames).sum();
    let socket: u64 = counted.iter().map(|c| c.socket_bytes).sum();
    let hz: Vec<f64> = counted
        .iter()
        .map(|c| {
            if c.connected && !c.measured.is_zero() {
                c.frames as f64 / c.measured.as_secs_f64()
            } else {
                0.0
            }
        })
        .collect();
    let n = f64::from(cfg.clients.max(1));
    let (floor_cpu, bot_cpu) = (end_floor - start_floor, end_bots - start_bots);
    Ok(FloorResult {
        clients: cfg.clients,
        frame_bytes,
        tls: cfg.tls,
        pinned: cfg.pin,
        cpu_us_per_update: floor_cpu * 1e6 / (frames.max(1) as f64),
        server_cores: floor_cpu / secs,
        bot_cpu_us_per_update: bot_cpu * 1e6 / (frames.max(1) as f64),
        bot_cores: bot_cpu / secs,
        update_hz: hz.iter().sum::<f64>() / n,
        update_hz_min: hz.iter().copied().fold(f64::INFINITY, f64::min).min(1e9),
        socket_bytes_per_bot_per_sec: socket as f64 / n / secs,
        server_rss_mib: rss,
        loadavg: load_at_start,
        perf_per_update: per_update(&perf, frames),
    })
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => f64::midpoint(v[n / 2 - 1], v[n / 2]),
    }
}

/// The scenario file of a variant under `dir`.
#[must_use]
pub fn scenario_file(dir: &Path, variant: &str) -> PathBuf {
    dir.join(format!("reference-{}.toml", variant.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let before = parse_exposition(
            "h_bucket{le=\"0.01\"} 0\nh_bucket{le=\"0.02\"} 0\nh_bucket{le=\"+Inf\"} 0\n",
        );
        let after = parse_exposition(
            "h_bucket{le=\"0.01\"} 50\nh_bucket{le=\"0.02\"} 100\nh_bucket{le=\"+Inf\"} 100\n",
        );
        let p50 = quantile(&before, &after, "h", 0.5);
        assert!(
            (p50 - 0.01).abs() < 1e-9,
            "half the samples are at or below 10 ms: {p50}"
        );
        let p99 = quantile(&before, &after, "h", 0.99);
        assert!(
            (p99 - 0.0198).abs() < 1e-9,
            "p99 interpolates in the second bucket: {p99}"
        );
    }

    #[test]
    fn own_cpu_time_is_readable() {
        assert!(
            cpu_seconds("self").expect("readable") >= 0.0,
            "CPU seconds of this process"
        );
    }
}
