//! `tickstream-server`: runs the server until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tickstream_server::net::tls::CertSource;
use tickstream_server::{Config, Overrides, Server};
use tracing_subscriber::EnvFilter;

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
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `tickstream_server=debug`.
    #[arg(long, env = "TICKSTREAM_LOG", default_value = "info")]
    log: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log).context("invalid --log filter")?)
        .init();
    let overrides = Overrides {
        listen: args.listen,
        ws_listen: args.ws_listen,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        tick_rate_hz: args.tick_rate,
        max_connections: args.max_connections,
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tickstream_server::metrics::describe();
    let server = Server::bind(config.clone()).await?;
    if let CertSource::SelfSigned { path, .. } = server.cert() {
        tracing::info!(
            cert = %path.display(),
            "no --tls-cert given: serving a self-signed certificate for localhost (development only)"
        );
    }
    tracing::info!(addr = %server.wss_addr()?, "listening for wss://…/ws");
    if let Some(addr) = server.ws_addr() {
        tracing::info!(addr = %addr?, "listening for plain ws://…/ws");
    }
    tracing::info!(
        tick_rate_hz = config.game.tick_rate_hz,
        npcs = config.game.npc_count,
        view_radius = config.game.view_radius,
        "game"
    );
    server.run(shutdown_signal()).await;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
