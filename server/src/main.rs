//! `tickstream-server`: runs the server until SIGINT or SIGTERM (or, as an Agones game server,
//! until Agones shuts it down), then drains and exits 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tickstream_server::net::tls::CertSource;
use tickstream_server::ops::{logging, signal::shutdown_signal};
use tickstream_server::replay::serve::PlaybackSource;
use tickstream_server::{Config, Overrides, Server};
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
    #[command(flatten)]
    overrides: Overrides,
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
    /// Re-simulate recordings (see --record and docs/RECORDING.md) and check every tick's
    /// checksum: exit 0 when all match, 1 naming the first divergent tick and entity, 2 when
    /// a file cannot be replayed. With --serve, serve one recording to spectators instead.
    Replay {
        /// The recordings (`.tsrec`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Serve the recordings as read-only rooms under their recorded names (protocol v6
        /// spectators watch them; joins are refused with 4007), on the listeners the
        /// configuration gives, until SIGTERM.
        #[arg(long)]
        serve: bool,
        /// With --serve: play this many times faster than recorded (1 to 16).
        #[arg(long, default_value_t = 1.0, requires = "serve")]
        speed: f64,
    },
    /// Tell a running server where its rooms go when it drains (`POST /internal/successor`,
    /// signed with the handoff secret: TICKSTREAM_HANDOFF_SECRET). For rolling updates under
    /// Agones, where the successor is allocated while the rollout runs (docs/DEPLOY.md).
    SetSuccessor {
        /// The running server's ops listener, `http://HOST:PORT`.
        #[arg(long)]
        at: String,
        /// The successor's ops listener, `http://HOST:PORT`.
        #[arg(long)]
        successor: String,
        /// The WebSocket URL the successor's players connect to.
        #[arg(long)]
        successor_url: String,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut playback = Vec::new();
    if let Some(Command::Replay {
        files,
        serve,
        speed,
    }) = &args.command
    {
        if !serve {
            let code = tickstream_server::replay::run(files, &mut std::io::stdout().lock());
            std::process::exit(code);
        }
        for file in files {
            let mut source = PlaybackSource::open(file, *speed)
                .with_context(|| format!("cannot serve {}", file.display()))?;
            // Several matches of one room (a directory of recordings): the second is served as
            // ROOM.2, the third as ROOM.3, … (the log names each).
            let taken = |name: &str| {
                playback
                    .iter()
                    .any(|p: &Arc<PlaybackSource>| p.room() == name)
            };
            if taken(source.room()) {
                let base = source.room().to_owned();
                let name = (2..)
                    .map(|n| {
                        let suffix = format!(".{n}");
                        let keep = base.len().min(64 - suffix.len());
                        format!("{}{suffix}", &base[..keep])
                    })
                    .find(|name| !taken(name))
                    .expect("some suffix is free");
                source = source.served_as(name);
            }
            playback.push(Arc::new(source));
        }
    }
    let config = Config::load(args.config.as_deref(), &args.overrides)?;
    if let Some(Command::SetSuccessor {
        at,
        successor,
        successor_url,
    }) = &args.command
    {
        return set_successor(&config, at, successor, successor_url);
    }
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
    let result = runtime.block_on(serve(config, playback));
    // Whatever the grace period left running is abandoned here, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// `tickstream-server set-successor`: one signed POST to the running server's ops listener.
fn set_successor(config: &Config, at: &str, successor: &str, url: &str) -> anyhow::Result<()> {
    use tickstream_server::ops::handoff::{Handoff, SUCCESSOR_PATH, Target};
    let handoff = Handoff::new(&config.handoff)
        .context("no handoff secret: set TICKSTREAM_HANDOFF_SECRET or handoff.secret")?;
    let body = serde_json::to_vec(&Target {
        successor: successor.to_owned(),
        successor_url: url.to_owned(),
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (status, text) = runtime
        .block_on(handoff.post(at, SUCCESSOR_PATH, body))
        .map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
    anyhow::ensure!(
        status.is_success(),
        "{at} answered {status}: {}",
        text.trim()
    );
    println!("{at}: rooms go to {successor} ({url}) when it drains");
    Ok(())
}

async fn serve(config: Config, playback: Vec<Arc<PlaybackSource>>) -> anyhow::Result<()> {
    let server = if playback.is_empty() {
        Server::bind(config.clone()).await?
    } else {
        for source in &playback {
            let s = source.start();
            tracing::info!(
                file = %source.path().display(),
                room = %source.room(),
                recorded_room = %s.room,
                game = %s.game,
                recorded_by = %s.server_version,
                speed = source.speed(),
                "serving a recording to spectators (joins are refused with 4007)"
            );
        }
        Server::bind_playback(config.clone(), playback).await?
    };
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
