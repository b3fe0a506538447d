//! [`Agones`]: the three tasks started from the `[agones]` settings, and the lifecycle task
//! (Ready, the Counters, the empty check) and the health task.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::client::SdkClient;
use super::counter::Counter;
use super::failing::Failing;
use super::host::Host;
use super::watch::{Steer, watch_game_server};
use crate::config::AgonesConfig;

/// What ended the game server from the Agones side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownCause {
    /// Agones moved the GameServer to `Shutdown` (a Fleet scaled down or updated, or someone
    /// deleted it).
    Agones,
    /// The last player left and `shutdown_when_empty` is on; the server told Agones.
    Empty,
}

/// The running Agones integration: its tasks stop when this is dropped.
pub struct Agones {
    shutdown: watch::Receiver<Option<ShutdownCause>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Agones {
    /// Starts reporting to the sidecar (see the [module docs](self)). Call it once the
    /// server's listeners are bound: the first thing it does is tell Agones the server is
    /// Ready. Needs a tokio runtime.
    #[must_use]
    pub fn start(config: &AgonesConfig, host: impl Host) -> Self {
        let host: Arc<dyn Host> = Arc::new(host);
        let sdk = SdkClient::new(
            config.sdk_address(),
            Duration::from_millis(config.request_timeout_ms),
        );
        let period = Duration::from_millis(config.health_period_ms);
        let (tx, shutdown) = watch::channel(None);
        let lifecycle = Lifecycle {
            sdk: sdk.clone(),
            host: Arc::clone(&host),
            config: config.clone(),
            shutdown: tx.clone(),
            failing: Failing::default(),
        };
        let steer = Steer::new(host, config, tx);
        let tasks = vec![
            tokio::spawn(lifecycle.run(period)),
            tokio::spawn(health(sdk.clone(), period)),
            tokio::spawn(watch_game_server(sdk, steer)),
        ];
        Self { shutdown, tasks }
    }

    /// Completes when Agones asks the game server to shut down, or when it asked Agones
    /// itself (`shutdown_when_empty`). Never completes otherwise; any number may wait.
    pub fn shutdown_requested(&self) -> impl Future<Output = ShutdownCause> + Send + 'static {
        let mut rx = self.shutdown.clone();
        async move {
            loop {
                if let Some(cause) = *rx.borrow_and_update() {
                    return cause;
                }
                if rx.changed().await.is_err() {
                    // Every task ended (they never do on their own): nothing will ask any more.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

impl Drop for Agones {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Ready, then the counts and the empty check, every health period.
struct Lifecycle {
    sdk: SdkClient,
    host: Arc<dyn Host>,
    config: AgonesConfig,
    shutdown: watch::Sender<Option<ShutdownCause>>,
    failing: Failing,
}

impl Lifecycle {
    async fn run(mut self, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ready = false;
        let mut players = Counter::new(&self.config.players_counter);
        let mut rooms = Counter::new(&self.config.rooms_counter);
        let mut had_players = false;
        let mut asked_shutdown = false;
        loop {
            tick.tick().await;
            if !ready {
                match self.sdk.ready().await {
                    Ok(()) => {
                        ready = true;
                        self.failing.succeeded("ready");
                        tracing::info!(sdk = %self.sdk.addr(), "agones: marked Ready");
                    }
                    Err(e) => self.failing.failed("ready", &e),
                }
            }
            let load = self.host.load();
            players.push(&self.sdk, load.players as u64).await;
            rooms.push(&self.sdk, load.rooms as u64).await;
            had_players |= load.players > 0;
            if self.config.shutdown_when_empty
                && had_players
                && load.players == 0
                && !asked_shutdown
            {
                asked_shutdown = true;
                tracing::info!("agones: the last player left; asking Agones to shut down");
                match self.sdk.shutdown().await {
                    Ok(()) => self.failing.succeeded("shutdown"),
                    Err(e) => self.failing.failed("shutdown", &e),
                }
                // Drain whether or not the sidecar heard it: the match is over either way.
                self.shutdown.send_if_modified(|s| {
                    let first = s.is_none();
                    s.get_or_insert(ShutdownCause::Empty);
                    first
                });
            }
        }
    }
}

/// A Health ping every period, whatever else happens.
async fn health(sdk: SdkClient, period: Duration) {
    let mut failing = Failing::default();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sdk.health().await {
            Ok(()) => failing.succeeded("health"),
            Err(e) => failing.failed("health", &e),
        }
    }
}
