//! [`PollClient`]: a [`Session`] on a thread of its own, for engines whose main loop does not
//! run tokio. The game polls it once per frame.

use std::sync::Arc;
use std::thread::JoinHandle;

use tickstream_shared::{EntityState, GameEvent, Welcome4};
use tokio::sync::{mpsc, oneshot};

use crate::session::{InputHandle, Session, SessionError, SessionEvent, SessionOptions};
use crate::view::Applied;

/// How many happenings may wait for the game before the session thread waits for it (and the
/// server, after a while, closes with 4000 "too slow"): a few seconds of updates.
const BACKLOG: usize = 256;

/// What the session thread reports, in order.
#[derive(Debug, Clone)]
pub enum PollEvent {
    /// A welcome after a resume or a rejoin; the view starts over.
    Welcome(Box<Welcome4>),
    /// An update was applied; `entities` is the whole view after it, sorted by id.
    Update {
        /// Tick, acknowledged input, first of its connection.
        applied: Applied,
        /// The view.
        entities: Arc<[EntityState]>,
    },
    /// A game event, exactly once and in order.
    Event(GameEvent),
    /// The connection dropped and the session is resuming.
    Dropped {
        /// The server's close code, if any.
        code: Option<u16>,
    },
    /// The room moved to another process; the session resumes there (protocol v5).
    Moved {
        /// Where the room runs now.
        url: String,
    },
    /// The session ended for good.
    Ended(Arc<SessionError>),
}

/// A session driven by a thread with its own single-threaded tokio runtime.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut config = tickstream_server::Config::default();
/// # config.server.listen = "127.0.0.1:0".parse()?;
/// # config.server.ws_listen = Some("127.0.0.1:0".parse()?);
/// # config.server.metrics_listen = None;
/// # let server = tickstream_server::Server::bind(config).await?;
/// # let url = format!("ws://{}/ws", server.ws_addr().expect("ws enabled")?);
/// # tokio::spawn(server.run(std::future::pending()));
/// # std::thread::spawn(move || -> Result<(), tickstream_client::SessionError> {
/// use tickstream_client::{PollClient, SessionOptions};
///
/// // In the game's (non-async) main loop:
/// let mut client = PollClient::join(&url, "lobby", SessionOptions::default())?;
/// client.set_input(0.0, 1.0, 0);
/// while client.tick().is_none() {
///     client.poll(); // once per frame: takes everything that arrived
///     std::thread::sleep(std::time::Duration::from_millis(16));
/// }
/// let me = client.welcome().entity;
/// assert!(client.entities().iter().any(|e| e.id == me), "drawn from entities()");
/// client.close();
/// # Ok(()) }).join().expect("no panic")?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PollClient {
    rx: mpsc::Receiver<PollEvent>,
    input: InputHandle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    welcome: Welcome4,
    applied: Option<Applied>,
    entities: Arc<[EntityState]>,
    ended: Option<Arc<SessionError>>,
}

impl PollClient {
    /// Starts the session thread, connects and joins `room`; returns once welcomed.
    pub fn join(url: &str, room: &str, opts: SessionOptions) -> Result<Self, SessionError> {
        let (url, room) = (url.to_owned(), room.to_owned());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (tx, rx) = mpsc::channel(BACKLOG);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tickstream-client".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let err = crate::ConnectionError::Ws(e.into());
                        let _ = ready_tx.send(Err(SessionError::Connection(err)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut session = match Session::join(&url, &room, opts).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok((session.welcome().clone(), session.input_handle())));
                    loop {
                        let next = tokio::select! {
                            _ = &mut stopped => break,
                            next = session.next() => next,
                        };
                        let event = match next {
                            Ok(SessionEvent::Welcome(w)) => PollEvent::Welcome(w),
                            Ok(SessionEvent::Update(applied)) => PollEvent::Update {
                                applied,
                                entities: session.replica().entities().into(),
                            },
                            Ok(SessionEvent::Event(e)) => PollEvent::Event(e),
                            Ok(SessionEvent::Dropped { code, .. }) => PollEvent::Dropped { code },
                            Ok(SessionEvent::Moved { url }) => PollEvent::Moved { url },
                            Err(e) => {
                                let _ = tx.send(PollEvent::Ended(Arc::new(e))).await;
                                return;
                            }
                        };
                        if tx.send(event).await.is_err() {
                            break;
                        }
                    }
                    session.close().await;
                });
            })
            .map_err(|e| SessionError::Connection(crate::ConnectionError::Ws(e.into())))?;
        let (welcome, input) = match ready_rx.recv() {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(SessionError::Finished),
        };
        Ok(Self {
            rx,
            input,
            stop: Some(stop),
            thread: Some(thread),
            welcome,
            applied: None,
            entities: Arc::from(Vec::new()),
            ended: None,
        })
    }

    /// The next happening, if one is waiting; the client's own state ([`PollClient::entities`],
    /// [`PollClient::welcome`]) follows what it returns.
    pub fn try_recv(&mut self) -> Option<PollEvent> {
        let event = self.rx.try_recv().ok()?;
        match &event {
            PollEvent::Welcome(w) => {
                self.welcome = (**w).clone();
                self.applied = None;
                self.entities = Arc::from(Vec::new());
            }
            PollEvent::Update { applied, entities } => {
                self.applied = Some(*applied);
                self.entities = Arc::clone(entities);
            }
            PollEvent::Ended(e) => self.ended = Some(Arc::clone(e)),
            PollEvent::Event(_) | PollEvent::Dropped { .. } | PollEvent::Moved { .. } => {}
        }
        Some(event)
    }

    /// Takes everything that arrived since the last call and returns the game events among it,
    /// in order. Call it once per frame, then draw [`PollClient::entities`].
    pub fn poll(&mut self) -> Vec<GameEvent> {
        let mut events = Vec::new();
        while let Some(e) = self.try_recv() {
            if let PollEvent::Event(e) = e {
                events.push(e);
            }
        }
        events
    }

    /// The view as of the last update taken, sorted by id.
    #[must_use]
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    /// The tick of the last update taken, `None` before the first.
    #[must_use]
    pub fn tick(&self) -> Option<u32> {
        self.applied.map(|a| a.tick.0)
    }

    /// The newest welcome.
    #[must_use]
    pub fn welcome(&self) -> &Welcome4 {
        &self.welcome
    }

    /// Why the session ended, once it has.
    #[must_use]
    pub fn ended(&self) -> Option<&SessionError> {
        self.ended.as_deref()
    }

    /// See [`Session::set_input`].
    pub fn set_input(&self, dx: f32, dy: f32, buttons: u32) -> Option<u32> {
        self.input.set(dx, dy, buttons)
    }

    /// Leaves the room (close 1000) and waits for the session thread.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PollClient {
    fn drop(&mut self) {
        self.shutdown();
    }
}
