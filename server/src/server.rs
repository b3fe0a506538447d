//! The server: binds the listeners, runs them, and shuts down cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::net::listener::accept_loop;
use crate::net::tls::{self, CertSource, TlsError};
use crate::room::registry::RoomSettings;
use crate::room::{Registry, RoomInfo};
use crate::tasks::TaskTracker;

/// Peers over the connection cap that still get an HTTP 503 rather than a dropped socket.
const MAX_REFUSING: usize = 256;

/// How long shutdown waits for sessions and rooms to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// State every connection and room shares.
pub(crate) struct ServerCtx {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) conn_limit: Arc<Semaphore>,
    pub(crate) refusal_limit: Arc<Semaphore>,
    pub(crate) tasks: TaskTracker,
    pub(crate) handshake_timeout: Duration,
    pub(crate) join_timeout: Duration,
    draining: AtomicBool,
    next_conn: AtomicU64,
}

impl ServerCtx {
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// False once the server is draining: new upgrades get 503.
    pub(crate) fn accepting(&self) -> bool {
        !self.draining.load(Ordering::Acquire)
    }
}

/// A bound, not yet running server.
pub struct Server {
    ctx: Arc<ServerCtx>,
    shutdown_tx: watch::Sender<bool>,
    wss: TcpListener,
    ws: Option<TcpListener>,
    tls: TlsAcceptor,
    cert: CertSource,
}

/// A cheap handle for looking into a running server (tests, health checks).
#[derive(Clone)]
pub struct ServerHandle {
    ctx: Arc<ServerCtx>,
}

impl ServerHandle {
    /// The room called `name`, if alive.
    #[must_use]
    pub fn room(&self, name: &str) -> Option<Arc<RoomInfo>> {
        self.ctx.registry.room(name)
    }

    /// Names of the rooms alive.
    #[must_use]
    pub fn room_names(&self) -> Vec<String> {
        self.ctx.registry.room_names()
    }

    /// Open WebSocket sessions and connections still in their handshake.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.ctx.config.server.max_connections - self.ctx.conn_limit.available_permits()
    }

    /// True until the server starts draining.
    #[must_use]
    pub fn accepting(&self) -> bool {
        self.ctx.accepting()
    }
}

impl Server {
    /// Binds the listeners and prepares TLS. Port 0 picks a free port (see
    /// [`Server::wss_addr`]).
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let s = &config.server;
        let (tls_config, cert) = tls::server_config(s.tls_cert.as_deref(), s.tls_key.as_deref())?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })
        };
        let wss = bind(s.listen).await?;
        let ws = match s.ws_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let (shutdown_tx, shutdown) = watch::channel(false);
        let tasks = TaskTracker::default();
        let settings = RoomSettings {
            game: config.game.clone(),
            max_players: s.max_players_per_room,
            slow_client_timeout: Duration::from_millis(s.slow_client_timeout_ms),
        };
        let registry = Registry::new(settings, s.max_rooms, shutdown.clone(), tasks.clone());
        let ctx = Arc::new(ServerCtx {
            registry,
            shutdown,
            conn_limit: Arc::new(Semaphore::new(s.max_connections)),
            refusal_limit: Arc::new(Semaphore::new(MAX_REFUSING)),
            tasks,
            handshake_timeout: Duration::from_millis(s.handshake_timeout_ms),
            join_timeout: Duration::from_millis(s.join_timeout_ms),
            draining: AtomicBool::new(false),
            next_conn: AtomicU64::new(1),
            config,
        });
        Ok(Self {
            ctx,
            shutdown_tx,
            wss,
            ws,
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

    /// Where the served certificate came from.
    #[must_use]
    pub fn cert(&self) -> &CertSource {
        &self.cert
    }

    /// A handle for looking into the server while it runs.
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            ctx: Arc::clone(&self.ctx),
        }
    }

    /// Serves until `shutdown` completes, then closes every session with 1001, stops the
    /// rooms, and waits (up to a grace period) for all of them to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            ctx,
            shutdown_tx,
            wss,
            ws,
            tls,
            ..
        } = self;
        let mut listeners = vec![tokio::spawn(accept_loop(wss, Some(tls), Arc::clone(&ctx)))];
        if let Some(ws) = ws {
            listeners.push(tokio::spawn(accept_loop(ws, None, Arc::clone(&ctx))));
        }
        shutdown.await;
        tracing::info!("shutting down: closing sessions and rooms");
        ctx.draining.store(true, Ordering::Release);
        let _ = shutdown_tx.send(true);
        for l in listeners {
            let _ = l.await;
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, ctx.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = ctx.tasks.running(),
                "tasks still running after the shutdown grace period"
            );
        }
        tracing::info!("shutdown complete");
    }
}
