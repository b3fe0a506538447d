//! The watch task: the GameServer's changes steer the shutdown and open the room an
//! allocation asked for.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::client::SdkClient;
use super::failing::Failing;
use super::host::Host;
use super::lifecycle::ShutdownCause;
use super::{GameServer, STATE_SHUTDOWN};
use crate::config::AgonesConfig;

/// The longest wait before reconnecting the watch stream after a failure.
const MAX_WATCH_BACKOFF: Duration = Duration::from_secs(5);

/// What the GameServer's changes steer: the shutdown, and the room an allocation asked for.
pub(super) struct Steer {
    host: Arc<dyn Host>,
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
        host: Arc<dyn Host>,
        config: &AgonesConfig,
        shutdown: watch::Sender<Option<ShutdownCause>>,
    ) -> Self {
        Self {
            host,
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
        match self.host.open_room(room, game.as_deref()) {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::ops::agones::Load;
    use crate::room::OpenError;

    /// A host that records the rooms it was asked to open, with no server behind it.
    #[derive(Default)]
    struct Rooms(Mutex<Vec<(String, Option<String>)>>);

    impl Host for Rooms {
        fn load(&self) -> Load {
            Load::default()
        }

        fn open_room(&self, name: &str, game: Option<&str>) -> Result<bool, OpenError> {
            let mut asked = self.0.lock().expect("not poisoned");
            asked.push((name.to_owned(), game.map(str::to_owned)));
            Ok(true)
        }
    }

    fn game_server(state: &str, labels: &[(&str, &str)]) -> GameServer {
        let mut gs = GameServer::default();
        gs.status.state = state.to_owned();
        gs.object_meta.labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        gs
    }

    #[test]
    fn labels_open_their_room_once_and_shutdown_is_sent_once() {
        let rooms = Arc::new(Rooms::default());
        let (tx, mut rx) = watch::channel(None);
        let config = AgonesConfig::default();
        let mut steer = Steer::new(rooms.clone(), &config, tx);
        let allocated = [
            (config.room_label.as_str(), "match-42"),
            (config.game_label.as_str(), "coins"),
        ];
        steer.apply(&game_server("Ready", &[]));
        steer.apply(&game_server("Allocated", &allocated));
        steer.apply(&game_server("Allocated", &allocated));
        assert_eq!(
            *rooms.0.lock().expect("not poisoned"),
            [("match-42".to_owned(), Some("coins".to_owned()))],
            "the allocated room is opened once, with its game, however often it is reported"
        );
        assert!(
            rx.borrow_and_update().is_none(),
            "no shutdown before Shutdown"
        );
        steer.apply(&game_server(STATE_SHUTDOWN, &allocated));
        steer.apply(&game_server(STATE_SHUTDOWN, &allocated));
        assert!(
            rx.has_changed().expect("the sender lives"),
            "Shutdown is sent"
        );
        assert_eq!(
            *rx.borrow_and_update(),
            Some(ShutdownCause::Agones),
            "the cause is Agones"
        );
        assert!(
            !rx.has_changed().expect("the sender lives"),
            "a second Shutdown is not sent again"
        );
    }
}
