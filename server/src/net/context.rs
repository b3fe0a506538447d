//! [`NetCtx`]: what the network layer needs from the server, built by `server.rs` and passed
//! down (the network layer never reaches up for it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::ip_limit::IpLimits;
use crate::config::ServerConfig;
use crate::join_token::JoinTokens;
use crate::room::Registry;
use tokio_util::task::TaskTracker;

/// State every connection shares.
pub struct NetCtx {
    /// The `[server]` settings: listeners' limits, session limits, timeouts.
    pub server: ServerConfig,
    /// The rooms sessions join.
    pub registry: Registry,
    /// Turns true when the server drains: accept loops stop, sessions close with 1001.
    pub shutdown: watch::Receiver<bool>,
    /// One permit per open connection (`server.max_connections`).
    pub conn_limit: Arc<Semaphore>,
    /// Peers over the connection cap that still get an HTTP 503 rather than a dropped socket.
    pub refusal_limit: Arc<Semaphore>,
    /// The per-address connection cap.
    pub ip_limits: Arc<IpLimits>,
    /// With a join secret, the token verifier; `None` runs open.
    pub tokens: Option<JoinTokens>,
    /// Every connection's task, so that shutdown can wait for them.
    pub tasks: TaskTracker,
    /// The time a connection has for TLS and the HTTP upgrade.
    pub handshake_timeout: Duration,
    /// Set when the drain starts: new upgrades get 503.
    draining: AtomicBool,
    /// The next connection id, for logs.
    next_conn: AtomicU64,
}

impl NetCtx {
    /// The context for listeners and sessions under `server`'s settings.
    #[must_use]
    pub fn new(
        server: ServerConfig,
        registry: Registry,
        shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
        refusing: usize,
    ) -> Self {
        Self {
            registry,
            shutdown,
            conn_limit: Arc::new(Semaphore::new(server.max_connections)),
            refusal_limit: Arc::new(Semaphore::new(refusing)),
            ip_limits: Arc::new(IpLimits::new(
                server.max_connections_per_ip,
                server.per_ip_exempt.clone(),
            )),
            tokens: server
                .join_secret
                .as_ref()
                .map(|k| JoinTokens::new(k.as_bytes())),
            tasks,
            handshake_timeout: Duration::from_millis(server.handshake_timeout_ms),
            draining: AtomicBool::new(false),
            next_conn: AtomicU64::new(1),
            server,
        }
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// False once the server is draining: new upgrades get 503.
    #[must_use]
    pub fn accepting(&self) -> bool {
        !self.draining.load(Ordering::Acquire)
    }

    /// Starts the drain: from now on new upgrades get 503 and `/readyz` answers 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Open WebSocket sessions and connections still in their handshake.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.server.max_connections - self.conn_limit.available_permits()
    }
}
