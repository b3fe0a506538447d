//! `tickstream-server`: runs the server until SIGINT or SIGTERM (or, as an Agones game server,
//! until Agones shuts it down), then drains and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tickstream_server::net::tls::CertSource;
use tickstream_server::ops::{logging, signal::shutdown_signal};
use tickstream_server::{Config, LogFormat, OptionalAddr, Overrides, Server};
use tokio::sync::oneshot;

/// Authoritative multiplayer game state sync server.
///
/// Every setting has a default (see docs/CONFIG.md); a TOML file, environment variables and
/// these flags override it, in that order.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML configuration file.
    #[arg(long, env = "TICKSTREAM_CONFIG")]
    config: Option<PathBuf>,
    /// wss listener address [default: 127.0.0.1:7443].
    #[arg(long, env = "TICKSTREAM_LISTEN")]
    listen: Option<SocketAddr>,
    /// Plain ws listener address (off unless set).
    #[arg(long, env = "TICKSTREAM_WS_LISTEN")]
    ws_listen: Option<SocketAddr>,
    /// PEM certificate chain (with --tls-key); without both, a self-signed certificate for
    /// localhost is generated.
    #[arg(long, env = "TICKSTREAM_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "TICKSTREAM_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Simulation ticks per second [default: 30].
    #[arg(long, env = "TICKSTREAM_TICK_RATE")]
    tick_rate: Option<u16>,
    /// Open connections allowed [default: 10000].
    #[arg(long, env = "TICKSTREAM_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Ops listener for /metrics, /healthz and /readyz, or `off` [default: 127.0.0.1:7444].
    #[arg(long, env = "TICKSTREAM_METRICS_LISTEN", value_name = "ADDR|off")]
    metrics_listen: Option<OptionalAddr>,
    /// Longest time from SIGTERM/SIGINT to exit, in milliseconds [default: 10000].
    #[arg(long, env = "TICKSTREAM_SHUTDOWN_GRACE_MS")]
    shutdown_grace_ms: Option<u64>,
    /// After SIGTERM/SIGINT, keep sessions playing this long (with /readyz at 503) before
    /// closing them with 1001, in milliseconds [default: 0].
    #[arg(long, env = "TICKSTREAM_DRAIN_DELAY_MS")]
    drain_delay_ms: Option<u64>,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `tickstream_server=debug`
    /// [default: info].
    #[arg(long, env = "TICKSTREAM_LOG")]
    log: Option<String>,
    /// Log format [default: text].
    #[arg(long, env = "TICKSTREAM_LOG_FORMAT", value_name = "text|json")]
    log_format: Option<LogFormat>,
    /// Secret that join tokens are signed with (prefer the environment variable: a flag is
    /// visible in the process list). Unset, anyone may join any room.
    #[arg(long, env = "TICKSTREAM_JOIN_SECRET", hide_env_values = true)]
    join_secret: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do instead of serving.
#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print a join token signed with the configured secret (for development and tests; a game
    /// backend mints its own, see docs/SECURITY.md).
    Token {
        /// The room it admits to.
        #[arg(long)]
        room: String,
        /// The player id.
        #[arg(long)]
        player: String,
        /// Seconds until it expires.
        #[arg(long, default_value_t = 300)]
        ttl: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let overrides = Overrides {
        listen: args.listen,
        ws_listen: args.ws_listen,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        tick_rate_hz: args.tick_rate,
        max_connections: args.max_connections,
        metrics_listen: args.metrics_listen,
        shutdown_grace_ms: args.shutdown_grace_ms,
        drain_delay_ms: args.drain_delay_ms,
        log_filter: args.log.clone(),
        log_format: args.log_format,
        join_secret: args.join_secret.clone(),
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    if let Some(Command::Token { room, player, ttl }) = &args.command {
        let secret = config.server.join_secret.as_ref().context(
            "no join secret: set TICKSTREAM_JOIN_SECRET, --join-secret or server.join_secret",
        )?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_secs();
        let nonce = tickstream_server::join_token::random_nonce();
        println!(
            "{}",
            tickstream_server::join_token::mint(secret.as_bytes(), room, player, now + ttl, &nonce)
        );
        return Ok(());
    }
    logging::init(&config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config));
    // Whatever the grace period left running is abandoned here, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = Server::bind(config.clone()).await?;
    if let CertSource::SelfSigned { path, .. } = server.cert() {
        tracing::info!(
            cert = %path.display(),
            "no --tls-cert given: serving a self-signed certificate for localhost (development only)"
        );
    }
    tracing::info!(listener = "wss", addr = %server.wss_addr()?, "listening for wss://…/ws");
    if let Some(addr) = server.ws_addr() {
        tracing::info!(listener = "ws", addr = %addr?, "listening for plain ws://…/ws");
    }
    match server.metrics_addr() {
        Some(addr) => tracing::info!(
            listener = "metrics",
            addr = %addr?,
            "serving /metrics, /healthz and /readyz"
        ),
        None => tracing::info!("ops listener off: no /metrics, /healthz or /readyz"),
    }
    if config.server.allowed_origins.is_empty() {
        tracing::warn!(
            "no allowed_origins configured: pages from any origin may connect (set server.allowed_origins)"
        );
    }
    if config.server.join_secret.is_none() {
        tracing::warn!(
            "no join secret configured: anyone may join any room (set TICKSTREAM_JOIN_SECRET to require join tokens)"
        );
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        tick_rate_hz = config.game.tick_rate_hz,
        npcs = config.game.npc_count,
        view_radius = config.game.view_radius,
        "game"
    );
    // The first signal starts the drain; a second one ends the process at once.
    let (first_tx, first) = oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = first_tx.send(());
        shutdown_signal().await;
        tracing::warn!("second shutdown signal: exiting without waiting for the drain");
        std::process::exit(1);
    });
    // As an Agones game server: Ready now that the listeners are bound, then Health, counts
    // and labels; Agones' Shutdown drains like a signal.
    #[cfg(feature = "agones")]
    let agones = config.agones.enabled.then(|| {
        tracing::info!(
            sdk = %config.agones.sdk_address(),
            health_period_ms = config.agones.health_period_ms,
            "agones: reporting to the SDK sidecar"
        );
        tickstream_server::ops::agones::Agones::start(&config.agones, server.handle())
    });
    #[cfg(feature = "agones")]
    let agones_shutdown = agones.as_ref().map(|a| a.shutdown_requested());
    #[cfg(not(feature = "agones"))]
    let agones_shutdown: Option<std::future::Pending<()>> = None;
    server
        .run(async move {
            let agones = async move {
                match agones_shutdown {
                    Some(requested) => {
                        let cause = requested.await;
                        tracing::info!(?cause, "shutdown requested by Agones");
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = first => {}
                () = agones => {}
            }
        })
        .await;
    #[cfg(feature = "agones")]
    drop(agones);
    Ok(())
}
