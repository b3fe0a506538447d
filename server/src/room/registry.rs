//! Rooms by name, created on first join up to a cap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tickstream_shared::{EntityId, Tick};
use tokio::sync::{mpsc, oneshot, watch};

use super::link::ClientLink;
use super::room::{Room, RoomCmd};
use crate::metrics as m;
use crate::sim::GameParams;
use crate::sync::Snapshot;
use crate::tasks::TaskTracker;

/// Joins waiting for one room; a burst beyond this is refused with 1013 rather than queued.
const ROOM_INBOX: usize = 1024;

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room has its maximum number of players.
    #[error("room is full")]
    RoomFull,
    /// Creating the room would exceed the room cap.
    #[error("too many rooms")]
    TooManyRooms,
    /// The room's join queue is full.
    #[error("room is busy")]
    Busy,
    /// The room handed out every entity id it has.
    #[error("room is out of entity ids")]
    OutOfIds,
    /// The server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
}

/// A successful join.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The client's own entity.
    pub entity: EntityId,
    /// The room, for its current tick.
    pub room: Arc<RoomInfo>,
}

/// What the rest of the server may read about a room while its task runs.
#[derive(Debug)]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    tick: AtomicU32,
    latest: Mutex<Option<Arc<Snapshot>>>,
}

impl RoomInfo {
    pub(crate) fn new(name: String) -> Self {
        Self {
            name,
            tick: AtomicU32::new(0),
            latest: Mutex::new(None),
        }
    }

    /// The last tick the room completed.
    #[must_use]
    pub fn tick(&self) -> Tick {
        Tick(self.tick.load(Ordering::Relaxed))
    }

    /// The snapshot of the last completed tick.
    #[must_use]
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn publish(&self, snap: &Arc<Snapshot>) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(snap));
        self.tick.store(snap.tick.0, Ordering::Relaxed);
    }
}

/// Settings every room gets.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// The game.
    pub game: GameParams,
    /// Players per room.
    pub max_players: usize,
    /// How long a client may stay behind before close code 4000.
    pub slow_client_timeout: Duration,
}

pub(crate) struct Entry {
    pub(crate) tx: mpsc::Sender<RoomCmd>,
    pub(crate) info: Arc<RoomInfo>,
}

pub(crate) struct Shared {
    pub(crate) rooms: Mutex<HashMap<String, Entry>>,
    max_rooms: usize,
    settings: RoomSettings,
    shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
}

impl Shared {
    pub(crate) fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Rooms by name. Cloning shares the same rooms.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

impl Registry {
    /// An empty registry; rooms it starts stop when `shutdown` turns true.
    #[must_use]
    pub fn new(
        settings: RoomSettings,
        max_rooms: usize,
        shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                rooms: Mutex::new(HashMap::new()),
                max_rooms,
                settings,
                shutdown,
                tasks,
            }),
        }
    }

    /// Joins the room `name`, starting it if needed.
    pub async fn join(&self, name: &str, link: Arc<ClientLink>) -> Result<Joined, JoinError> {
        if *self.shared.shutdown.borrow() {
            return Err(JoinError::ShuttingDown);
        }
        let (reply, answer) = oneshot::channel();
        {
            // Joins are sent while holding the map lock, and a room leaves the map only while
            // holding it and after draining its inbox, so no join reaches a stopped room.
            let mut rooms = self.shared.rooms();
            if !rooms.contains_key(name) {
                if rooms.len() >= self.shared.max_rooms {
                    return Err(JoinError::TooManyRooms);
                }
                let (tx, rx) = mpsc::channel(ROOM_INBOX);
                let info = Arc::new(RoomInfo::new(name.to_owned()));
                let room = Room::new(
                    Arc::clone(&info),
                    self.shared.settings.clone(),
                    rx,
                    Arc::clone(&self.shared),
                    self.shared.shutdown.clone(),
                );
                self.shared.tasks.spawn(room.run());
                rooms.insert(name.to_owned(), Entry { tx, info });
                metrics::gauge!(m::ROOMS).set(rooms.len() as f64);
            }
            let entry = rooms.get(name).ok_or(JoinError::Busy)?;
            entry
                .tx
                .try_send(RoomCmd::Join { link, reply })
                .map_err(|_| JoinError::Busy)?;
        }
        answer.await.unwrap_or(Err(JoinError::ShuttingDown))
    }

    /// The room called `name`, if it is alive.
    #[must_use]
    pub fn room(&self, name: &str) -> Option<Arc<RoomInfo>> {
        self.shared.rooms().get(name).map(|e| Arc::clone(&e.info))
    }

    /// Names of the rooms alive.
    #[must_use]
    pub fn room_names(&self) -> Vec<String> {
        self.shared.rooms().keys().cloned().collect()
    }
}
