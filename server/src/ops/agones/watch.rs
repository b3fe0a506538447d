//! The watch task: the GameServer's changes steer the shutdown and open the room an
//! allocation asked for.

use std::time::Duration;

use tokio::sync::watch;

use super::client::SdkClient;
use super::failing::Failing;
use super::lifecycle::ShutdownCause;
use super::{GameServer, STATE_SHUTDOWN};
use crate::config::AgonesConfig;
use crate::server::ServerHandle;

/// The longest wait before reconnecting the watch stream after a failure.
const MAX_WATCH_BACKOFF: Duration = Duration::from_secs(5);

/// What the GameServer's changes steer: the shutdown, and the room an allocation asked for.
pub(super) struct Steer {
    server: ServerHandle,
    room_label: String,
    game_label: String,
    shutdown: watch::Sender<Option<ShutdownCause>>,
    /// The last state seen, for logging changes.
    state: String,
    /// The last (room, game) the labels asked for and the server opened.
    opened: Option<(String, Option<String>)>,
}

impl Steer {
    /// Steers with the labels `config` names; a `Shutdown` state is sent on `shutdown`.
    pub(super) fn new(
        server: ServerHandle,
        config: &AgonesConfig,
        shutdown: watch::Sender<Option<ShutdownCause>>,
    ) -> Self {
        Self {
            server,
            room_label: config.room_label.clone(),
            game_label: config.game_label.clone(),
            shutdown,
            state: String::new(),
            opened: None,
        }
    }

    fn apply(&mut self, gs: &GameServer) {
        let state = gs.status.state.as_str();
        if state != self.state {
            tracing::info!(
                state,
                gameserver = %gs.object_meta.name,
                address = %gs.status.address,
                "agones: GameServer state"
            );
            self.state = state.to_owned();
        }
        if state == STATE_SHUTDOWN {
            self.shutdown.send_if_modified(|s| {
                let first = s.is_none();
                s.get_or_insert(ShutdownCause::Agones);
                first
            });
            return;
        }
        if self.room_label.is_empty() {
            return;
        }
        let labels = &gs.object_meta.labels;
        let Some(room) = labels.get(&self.room_label) else {
            return;
        };
        let game = labels
            .get(&self.game_label)
            .filter(|_| !self.game_label.is_empty())
            .cloned();
        let wanted = (room.clone(), game);
        if self.opened.as_ref() == Some(&wanted) {
            return;
        }
        let (room, game) = &wanted;
        match self.server.open_room(room, game.as_deref()) {
            Ok(started) => tracing::info!(
                room = %room,
                game = game.as_deref().unwrap_or("(by rule)"),
                started,
                "agones: opened the room the allocation asked for"
            ),
            Err(e) => tracing::warn!(
                room = %room,
                game = game.as_deref().unwrap_or("(by rule)"),
                error = %e,
                "agones: cannot open the room the allocation asked for"
            ),
        }
        // Asked once per label change, whatever the outcome: a bad label is not retried
        // every update.
        self.opened = Some(wanted);
    }
}

/// The GameServer now, then every change, reconnecting after failures with a backoff.
pub(super) async fn watch_game_server(sdk: SdkClient, mut steer: Steer) {
    let mut failing = Failing::default();
    let mut backoff = Duration::from_millis(250);
    loop {
        match sdk.game_server().await {
            Ok(gs) => {
                failing.succeeded("gameserver");
                steer.apply(&gs);
            }
            Err(e) => failing.failed("gameserver", &e),
        }
        let mut updates = 0_u64;
        let ended = sdk
            .watch(|gs| {
                updates += 1;
                steer.apply(&gs);
            })
            .await;
        if updates > 0 {
            failing.succeeded("watch");
            backoff = Duration::from_millis(250);
        }
        failing.failed("watch", &ended);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_WATCH_BACKOFF);
    }
}
