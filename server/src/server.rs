//! The server: binds the listeners, runs them, and shuts down cleanly.
//!
//! # The drain
//!
//! When the shutdown future completes (SIGTERM or SIGINT in the binary):
//!
//! 1. `/readyz` answers 503 and new WebSocket upgrades are refused with HTTP 503;
//! 2. after `server.drain_delay_ms` (0 by default) of that, every room stops after its current
//!    tick. With a successor (`[handoff]`), each room is saved and handed over to it; once the
//!    successor runs it, the room's v5 players get `Moved` with the successor's URL, then 1001.
//!    Without one, or when a handoff fails, its players get `Error` and 1001 "server shutting
//!    down" as before;
//! 3. once the rooms have stopped (or `handoff.timeout_ms` after, at worst), the game listeners
//!    close (new connections are refused by the OS) and every other session gets 1001;
//! 4. the run ends when all of them have finished, or when `server.shutdown_grace_ms` has
//!    passed since the signal, whichever is first. The ops listener (`/metrics`, `/healthz`)
//!    answers until then.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::metrics as m;
use crate::net::NetCtx;
use crate::net::listener::accept_loop;
use crate::net::tls::{self, CertSource, CertStore, TlsError};
use crate::ops::handoff::{Handoff, Target};
use crate::ops::{self, endpoint};
use crate::replay::serve::PlaybackSource;
use crate::room::registry::{RoomPolicy, RoomSummary};
use crate::room::{OpenError, Registry, RoomCaps, RoomInfo};
use crate::sim::{Arena, Coins, Duel, GameCatalog, GameError};
use tokio_util::task::TaskTracker;

/// Peers over the connection cap that still get an HTTP 503 rather than a dropped socket.
const MAX_REFUSING: usize = 256;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The configuration names a game the server does not have.
    #[error("unknown game {0:?} in [rooms] (games: {1})")]
    UnknownGame(String, String),
    /// A game describes itself in a way the server cannot run.
    #[error(transparent)]
    BadGame(#[from] GameError),
    /// The recording directory cannot be created or read.
    #[error("recording directory {dir}: {cause}")]
    Recording {
        /// `recording.dir`.
        dir: std::path::PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
}

/// Creates the recording directory if needed and prunes its old recordings (start-up's share
/// of `[recording]`: each room's recording prunes again when it begins).
fn start_recording_dir(
    dir: &std::path::Path,
    config: &crate::config::RecordingConfig,
) -> Result<(), StartError> {
    let fail = |cause| StartError::Recording {
        dir: dir.to_owned(),
        cause,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let max_age = (config.max_age_secs > 0).then(|| Duration::from_secs(config.max_age_secs));
    let deleted = crate::record::prune(dir, config.keep_count, max_age).map_err(fail)?;
    tracing::info!(dir = %dir.display(), pruned = deleted.len(), "recording every room's match");
    Ok(())
}

/// A bound, not yet running server.
pub struct Server {
    /// What the network layer shares; the ops listener reads it too.
    net: Arc<NetCtx>,
    /// The configuration the server was bound with.
    config: Config,
    /// The served certificate, reloadable.
    certs: Arc<CertStore>,
    shutdown_tx: watch::Sender<bool>,
    /// Stops the rooms, before the sessions: a room hands over (or closes its players) first.
    rooms_tx: watch::Sender<bool>,
    /// With `[handoff]` on, both sides of a handoff.
    handoff: Option<Arc<Handoff>>,
    wss: TcpListener,
    ws: Option<TcpListener>,
    /// The ops listener and the recorder it renders, unless switched off.
    ops: Option<(TcpListener, PrometheusHandle)>,
    tls: TlsAcceptor,
    cert: CertSource,
}

/// The games every server has: the reference arena (`[game]`), the coin game (`[coins]`) and
/// the hitscan duel (fixed settings; judged with `rooms.max_rewind_ms` of lag compensation).
#[must_use]
pub fn builtin_games(config: &Config) -> GameCatalog {
    GameCatalog::new()
        .with(Arena::new(config.game.clone()))
        .with(Coins::new(config.coins.clone()))
        .with(Duel::default())
}

/// A cheap handle for looking into a running server (tests, health checks).
#[derive(Clone)]
pub struct ServerHandle {
    net: Arc<NetCtx>,
    certs: Arc<CertStore>,
    handoff: Option<Arc<Handoff>>,
}

impl ServerHandle {
    /// The room called `name`, if alive.
    #[must_use]
    pub fn room(&self, name: &str) -> Option<Arc<RoomInfo>> {
        self.net.registry.room(name)
    }

    /// The snapshot of the last tick the room `name` completed (what a test compares a
    /// client's view with); `None` when there is no such room or it has not ticked yet.
    pub async fn snapshot(&self, name: &str) -> Option<Arc<crate::sync::Snapshot>> {
        self.net.registry.snapshot(name).await
    }

    /// Names of the rooms alive.
    #[must_use]
    pub fn room_names(&self) -> Vec<String> {
        self.net.registry.room_names()
    }

    /// Every live room, as `GET /rooms` lists them.
    #[must_use]
    pub fn rooms(&self) -> Vec<RoomSummary> {
        self.net.registry.summaries()
    }

    /// Starts the room `name` running `game` (or the game its rule names) unless it is alive
    /// already; true if it was started now. See [`Registry::open`].
    pub fn open_room(&self, name: &str, game: Option<&str>) -> Result<bool, OpenError> {
        self.net.registry.open(name, game)
    }

    /// Open WebSocket sessions and connections still in their handshake.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.net.open_connections()
    }

    /// Loads the TLS certificate and key files again (what SIGHUP does). Returns whether a new
    /// certificate is now served; on error the old one stays. Connected players are not
    /// affected either way.
    pub fn reload_tls(&self) -> Result<bool, TlsError> {
        self.certs.reload(true)
    }

    /// Sets where rooms go when the server drains (what `POST /internal/successor` does); an
    /// error when handoff is off (no `handoff.secret`) or a URL is not usable.
    pub fn set_successor(&self, successor: &str, successor_url: &str) -> Result<(), String> {
        let h = self
            .handoff
            .as_ref()
            .ok_or("handoff is off: no handoff.secret")?;
        h.set_target(Target {
            successor: successor.to_owned(),
            successor_url: successor_url.to_owned(),
        })
    }

    /// True until the server starts draining (what `/readyz` reports).
    #[must_use]
    pub fn accepting(&self) -> bool {
        self.net.accepting()
    }
}

/// The Agones client reads the counts and opens the rooms allocations ask for through this
/// handle, without importing `server.rs` (which sits above `ops`).
#[cfg(feature = "agones")]
impl ops::agones::Host for ServerHandle {
    fn load(&self) -> ops::agones::Load {
        let rooms = self.rooms();
        ops::agones::Load {
            players: rooms.iter().map(|r| r.players).sum(),
            rooms: rooms.len(),
        }
    }

    fn open_room(&self, name: &str, game: Option<&str>) -> Result<bool, OpenError> {
        ServerHandle::open_room(self, name, game)
    }
}

impl Server {
    /// Binds the listeners and prepares TLS. Port 0 picks a free port (see
    /// [`Server::wss_addr`]). With an ops listener configured, this installs the process-wide
    /// Prometheus recorder ([`ops::install_recorder`]).
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let games = builtin_games(&config);
        Self::bind_with_games(config, games).await
    }

    /// [`Server::bind`] with your own games: rooms run the games of `games` by name, as
    /// `[rooms]` in the configuration assigns them (see the README's "Write your own game").
    pub async fn bind_with_games(config: Config, games: GameCatalog) -> Result<Self, StartError> {
        Self::bind_inner(config, games, None).await
    }

    /// A server that plays the recording `source` back to spectators
    /// (`tickstream-server replay FILE --serve`): its one room is the recorded room, running
    /// the recorded game and settings; joins are refused with 4007. Listeners, TLS, limits
    /// and the ops endpoints come from `config` as for [`Server::bind`]; its rooms, games and
    /// recording settings are not used.
    pub async fn bind_playback(
        mut config: Config,
        source: Arc<PlaybackSource>,
    ) -> Result<Self, StartError> {
        let game = Arc::clone(source.game());
        config.rooms.default_game = game.info().name.clone();
        config.rooms.rule.clear();
        config.recording.dir = None;
        let games = GameCatalog::new().with_shared(game);
        Self::bind_inner(config, games, Some(source)).await
    }

    async fn bind_inner(
        config: Config,
        games: GameCatalog,
        playback: Option<Arc<PlaybackSource>>,
    ) -> Result<Self, StartError> {
        for name in games.names() {
            if let Some(game) = games.get(name) {
                game.info().validate()?;
            }
        }
        let r = &config.rooms;
        for name in std::iter::once(&r.default_game).chain(r.rule.iter().map(|r| &r.game)) {
            if games.get(name).is_none() {
                let known = games.names().collect::<Vec<_>>().join(", ");
                return Err(StartError::UnknownGame(name.clone(), known));
            }
        }
        let s = &config.server;
        let (tls_config, certs, cert) =
            tls::server_config(s.tls_cert.as_deref(), s.tls_key.as_deref())?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|cause| StartError::Bind { addr, cause })
        };
        let wss = bind(s.listen).await?;
        let ws = match s.ws_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let ops = match s.metrics_listen {
            Some(addr) => Some((bind(addr).await?, ops::install_recorder())),
            None => None,
        };
        if let Some(dir) = &config.recording.dir {
            start_recording_dir(dir, &config.recording)?;
        }
        metrics::gauge!(m::TICK_BUDGET).set(config.game.dt());
        let (shutdown_tx, shutdown) = watch::channel(false);
        let (rooms_tx, rooms_stop) = watch::channel(false);
        let tasks = TaskTracker::new();
        let policy = RoomPolicy {
            games,
            default_game: r.default_game.clone(),
            rules: r.rule.clone(),
            max_players: s.max_players_per_room,
            slow_client_timeout: Duration::from_millis(s.slow_client_timeout_ms),
            resume_grace: Duration::from_millis(r.resume_grace_ms),
            empty_timeout: Duration::from_millis(r.empty_timeout_ms),
            max_pending_events: r.max_pending_events,
            event_history: r.event_history,
            max_bytes_per_client_per_sec: config.sync.max_bytes_per_client_per_sec,
            recording: config
                .recording
                .dir
                .is_some()
                .then(|| Arc::new(config.recording.clone())),
            // A playback judges inputs as the recorded room did.
            max_rewind_ms: playback
                .as_ref()
                .map_or(r.max_rewind_ms, |p| u64::from(p.start().max_rewind_ms)),
            max_spectators: r.max_spectators_per_room,
            spectator_delay: Duration::from_millis(r.spectator_delay_ms),
            playback,
        };
        let caps = RoomCaps {
            max_rooms: s.max_rooms,
            max_rooms_per_ip: s.max_rooms_per_ip,
        };
        let registry = Registry::new(policy, caps, rooms_stop, tasks.clone());
        let handoff = Handoff::new(&config.handoff);
        if let Some(h) = &handoff {
            registry.set_successor(Arc::clone(h) as Arc<dyn crate::room::Successor>);
        }
        let net = Arc::new(NetCtx::new(
            config.server.clone(),
            registry,
            shutdown,
            tasks,
            MAX_REFUSING,
        ));
        Ok(Self {
            net,
            config,
            certs,
            shutdown_tx,
            rooms_tx,
            handoff,
            wss,
            ws,
            ops,
            tls: TlsAcceptor::from(tls_config),
            cert,
        })
    }

    /// The wss listener's address.
    pub fn wss_addr(&self) -> std::io::Result<SocketAddr> {
        self.wss.local_addr()
    }

    /// The plain ws listener's address, if enabled.
    pub fn ws_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.ws.as_ref().map(TcpListener::local_addr)
    }

    /// The ops listener's address (`/metrics`, `/healthz`, `/readyz`), if enabled.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.ops.as_ref().map(|(l, _)| l.local_addr())
    }

    /// Where the served certificate came from.
    #[must_use]
    pub fn cert(&self) -> &CertSource {
        &self.cert
    }

    /// A handle for looking into the server while it runs.
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            net: Arc::clone(&self.net),
            certs: Arc::clone(&self.certs),
            handoff: self.handoff.clone(),
        }
    }

    /// Serves until `shutdown` completes, then drains (see the [module docs](self)): refuses
    /// new players, closes every session with 1001, stops the rooms, and waits up to
    /// `server.shutdown_grace_ms` for all of them to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            net,
            config,
            certs,
            shutdown_tx,
            rooms_tx,
            handoff,
            wss,
            ws,
            ops,
            tls,
            ..
        } = self;
        let ops = ops.map(|(listener, handle)| {
            tokio::spawn(endpoint::serve(
                listener,
                handle,
                Arc::clone(&net),
                handoff.clone(),
            ))
        });
        let mut listeners = vec![tokio::spawn(accept_loop(wss, Some(tls), Arc::clone(&net)))];
        if let Some(ws) = ws {
            listeners.push(tokio::spawn(accept_loop(ws, None, Arc::clone(&net))));
        }
        let reloads = certs
            .reloadable()
            .then(|| tokio::spawn(watch_certificates(Arc::clone(&certs))));
        shutdown.await;
        if let Some(r) = reloads {
            r.abort();
        }
        let s = &config.server;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(s.shutdown_grace_ms);
        net.start_draining();
        let delay = Duration::from_millis(s.drain_delay_ms);
        tracing::info!(
            connections = net.open_connections(),
            drain_delay_ms = s.drain_delay_ms,
            shutdown_grace_ms = s.shutdown_grace_ms,
            "draining: /readyz answers 503, new players are refused"
        );
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        tracing::info!(
            handoff = handoff.as_ref().is_some_and(|h| h.target().is_some()),
            "stopping rooms: each hands over to the successor or closes its players with 1001"
        );
        let _ = rooms_tx.send(true);
        // The rooms first: a room's players stay connected until it has handed over (and told
        // them where it went) or closed them. Bounded by the handoff timeout and the grace.
        let rooms_done =
            tokio::time::Instant::now() + Duration::from_millis(config.handoff.timeout_ms + 1_000);
        while !net.registry.room_names().is_empty() {
            let now = tokio::time::Instant::now();
            if now >= rooms_done.min(deadline) {
                tracing::warn!(
                    rooms = net.registry.room_names().len(),
                    "rooms still stopping; closing sessions"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tracing::info!("closing sessions with 1001");
        let _ = shutdown_tx.send(true);
        for l in listeners {
            let _ = l.await;
        }
        // Closed: `wait` returns once the tasks running now (and any they spawn) have ended.
        net.tasks.close();
        if tokio::time::timeout_at(deadline, net.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = net.tasks.len(),
                "tasks still running after the shutdown grace period"
            );
        }
        if let Some(ops) = ops {
            ops.abort();
        }
        tracing::info!("shutdown complete");
    }
}

/// How often the certificate files are checked for a change.
const CERT_CHECK: Duration = Duration::from_secs(5);

/// Reloads the certificate on SIGHUP and when its files change.
async fn watch_certificates(certs: Arc<CertStore>) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut check = tokio::time::interval(CERT_CHECK);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<Option<()>>();
        let force = tokio::select! {
            _ = signalled => true,
            _ = check.tick() => false,
        };
        match certs.reload(force) {
            Ok(true) => tracing::info!("TLS certificate reloaded"),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "TLS certificate reload failed; still serving the previous one")
            }
        }
    }
}
