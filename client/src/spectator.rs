//! [`Spectator`]: watch a room without playing in it (protocol v6, PROTOCOL.md §18).
//!
//! A spectator sends `Spectate` instead of `Join`, is answered with `Spectating`, and then
//! receives the updates a player receives: the whole room, or what the entity it follows sees.
//! It has no entity and sends no input; [`Spectator::follow`] changes the view. It never
//! resumes: after a drop, or when the room moves to another process (`Moved`), it spectates
//! again with the same room and choice of view, and its view starts over.

use std::time::Duration;

use tickstream_shared::{
    ClientMsg, EntityId, Follow, GameEvent, Replica, ServerMsg, Spectate, Spectating, close_code,
};

use crate::connect::Connector;
use crate::connection::{Connection, Incoming};
use crate::player::OpenError;
use crate::view::{Applied, Verify, View, ViewError};

/// How long [`Spectator::watch`] waits for `Spectating` by default.
pub const SPECTATING_TIMEOUT: Duration = Duration::from_secs(10);

/// Why watching stopped.
#[derive(Debug, thiserror::Error)]
pub enum SpectatorError {
    /// Connecting or spectating failed (a refusal carries its close code: 4006 no such room,
    /// 1013 spectator seats full, 1008 join token, 1002 a server older than v6).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// An update did not apply or its checksum did not match.
    #[error(transparent)]
    View(#[from] ViewError),
    /// The connection failed.
    #[error("connection: {0}")]
    Connection(#[from] crate::connection::ConnectionError),
}

/// What [`Spectator::next`] hands the viewer.
#[derive(Debug, Clone, PartialEq)]
pub enum SpectatorEvent {
    /// An update was applied to [`Spectator::replica`]; its events come with it, in order.
    Update {
        /// The tick, and whether this was the connection's first (full) update.
        applied: Applied,
        /// The room's events that rode with it (numbered per connection from 1).
        events: Vec<GameEvent>,
    },
    /// The room moved to another process: the spectator now watches it at `url`, its view
    /// starting over with the new `Spectating` ([`Spectator::spectating`]).
    Moved {
        /// Where the room runs now.
        url: String,
    },
    /// The server closed the connection: 1000 "the recording ended" at the end of a recording,
    /// 1000 "the room ended", 1001 a shutdown without a successor, …
    Closed {
        /// The close code.
        code: u16,
        /// The reason.
        reason: String,
    },
}

/// A connection watching a room.
#[derive(Debug)]
pub struct Spectator {
    connector: Connector,
    room: String,
    follow: Option<EntityId>,
    conn: Connection,
    spectating: Spectating,
    view: View,
    verify: Verify,
}

impl Spectator {
    /// Connects with `connector` (which must offer protocol v6) and spectates `room`,
    /// following `follow` (`None`: the whole room).
    pub async fn watch(
        connector: Connector,
        room: &str,
        follow: Option<EntityId>,
    ) -> Result<Self, SpectatorError> {
        let (conn, spectating) = spectate(&connector, room, follow, SPECTATING_TIMEOUT).await?;
        Ok(Self {
            connector,
            room: room.to_owned(),
            follow,
            conn,
            spectating,
            view: View::spectator(),
            verify: Verify::Always,
        })
    }

    /// Checks only each connection's first update against the server's checksum (cheaper;
    /// for load generators). Every update is checked by default.
    #[must_use]
    pub fn verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }

    /// The server's answer to the latest `Spectate`: the room's description, the delay, and
    /// whether it is a recording.
    #[must_use]
    pub fn spectating(&self) -> &Spectating {
        &self.spectating
    }

    /// What the spectator sees, as of the last update.
    #[must_use]
    pub fn replica(&self) -> &Replica {
        self.view.replica()
    }

    /// The entity the view follows (`None`: the whole room).
    #[must_use]
    pub fn following(&self) -> Option<EntityId> {
        self.follow
    }

    /// Follows `entity` (`None`: the whole room) from the next update on. An entity that is
    /// not in the room shows the whole room until it is.
    pub async fn follow(&mut self, entity: Option<EntityId>) -> Result<(), SpectatorError> {
        self.conn
            .send(&ClientMsg::Follow(Follow { entity }))
            .await?;
        self.follow = entity;
        Ok(())
    }

    /// The next thing that happened: an update applied, the room moved (and the spectator
    /// followed it), or the connection closed.
    pub async fn next(&mut self) -> Result<SpectatorEvent, SpectatorError> {
        loop {
            let msg = match self.conn.recv().await? {
                Incoming::Msg(msg) => msg,
                Incoming::Close { code, reason } => {
                    return Ok(SpectatorEvent::Closed { code, reason });
                }
            };
            match msg {
                ServerMsg::Moved(moved) => {
                    let connector = self
                        .connector
                        .for_url(&moved.url)
                        .map_err(OpenError::Connect)?;
                    let (conn, spectating) =
                        spectate(&connector, &self.room, self.follow, SPECTATING_TIMEOUT).await?;
                    self.connector = connector;
                    self.conn = conn;
                    self.spectating = spectating;
                    self.view = View::spectator();
                    return Ok(SpectatorEvent::Moved { url: moved.url });
                }
                ServerMsg::Update3(ref u) => {
                    let events = u.events.clone();
                    if let Some(applied) = self.view.apply(&msg, self.verify)? {
                        return Ok(SpectatorEvent::Update { applied, events });
                    }
                }
                ServerMsg::Update(ref u) => {
                    let events = u.events.clone();
                    if let Some(applied) = self.view.apply(&msg, self.verify)? {
                        return Ok(SpectatorEvent::Update { applied, events });
                    }
                }
                // Pongs, and the Error that precedes a close frame (the close carries it).
                _ => {}
            }
        }
    }

    /// Stops watching (close 1000).
    pub async fn close(mut self) {
        let _ = self.conn.close(close_code::NORMAL, "").await;
    }
}

/// Connects, sends `Spectate` and waits up to `timeout` for `Spectating`.
pub async fn spectate(
    connector: &Connector,
    room: &str,
    follow: Option<EntityId>,
    timeout: Duration,
) -> Result<(Connection, Spectating), OpenError> {
    let mut conn = connector.connect().await.map_err(OpenError::Connect)?;
    let hello = ClientMsg::Spectate(Spectate {
        room: room.to_owned(),
        follow,
    });
    conn.send(&hello).await.map_err(OpenError::Send)?;
    let answer = tokio::time::timeout(timeout, async {
        loop {
            match conn.recv().await {
                Ok(Incoming::Msg(ServerMsg::Spectating(s))) => return Ok(s),
                Ok(Incoming::Msg(ServerMsg::Error(e))) => {
                    return Err(OpenError::Server {
                        code: e.code,
                        reason: e.reason,
                    });
                }
                Ok(Incoming::Msg(ServerMsg::Pong(_))) => {}
                Ok(Incoming::Msg(_)) => {
                    return Err(OpenError::Unexpected("a message before Spectating"));
                }
                Ok(Incoming::Close { code, reason }) => {
                    return Err(OpenError::Closed { code, reason });
                }
                Err(e) => return Err(OpenError::Recv(e)),
            }
        }
    })
    .await
    .unwrap_or(Err(OpenError::NoWelcome(timeout)));
    match answer {
        Ok(s) => Ok((conn, s)),
        Err(e) => {
            let _ = conn.close(close_code::NORMAL, "").await;
            Err(e)
        }
    }
}
