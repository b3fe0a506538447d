//! [`View`]: one connection's [`Replica`], fed every update the server sends, with the checksum
//! verified.

use tickstream_shared::{EntityId, Replica, ReplicaError, ServerMsg, Tick};

/// One connection's view of its room: a fresh [`Replica`] per welcome (the first update spawns
/// the whole view), the own entity, and whether the first update has arrived.
///
/// ```
/// use tickstream_client::{Verify, View};
/// use tickstream_shared::{EntityId, ServerMsg};
///
/// let mut view = View::new(EntityId(1));
/// // Messages other than updates leave the view alone.
/// let pong = ServerMsg::Pong(tickstream_shared::Pong { client_time: 0, server_tick: tickstream_shared::Tick(0) });
/// assert!(view.apply(&pong, Verify::Always).expect("no update").is_none());
/// assert!(!view.synced(), "no update yet");
/// ```
#[derive(Debug, Clone)]
pub struct View {
    replica: Replica,
    own: EntityId,
    synced: bool,
    /// A spectator's view: no own entity to find in the first update.
    spectator: bool,
}

/// Which updates a [`View`] checks against the server's view checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Every update: a desync shows at the update that caused it. What a game wants.
    #[default]
    Always,
    /// Only a connection's first update (the full snapshot, where a resume shows whether the
    /// server rebuilt the view right); later ones are applied unverified, which is cheaper.
    /// For load generators.
    FirstOnly,
}

/// An update that could not be applied: the view is unusable, and a client should resume on a
/// new connection (PROTOCOL.md §8).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The update does not apply, or the checksum does not match.
    #[error("desync: {0}")]
    Desync(#[from] ReplicaError),
    /// The connection's first update lacks the client's own entity.
    #[error("own entity {0:?} is not in the snapshot")]
    OwnEntityMissing(EntityId),
}

/// What an applied update brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The tick the view is at now.
    pub tick: Tick,
    /// The latest input the server has applied (PROTOCOL.md §13.4).
    pub ack_seq: u32,
    /// True for the connection's first update, the full snapshot.
    pub first: bool,
}

impl View {
    /// An empty view for a connection whose welcome named `own` as the client's entity.
    #[must_use]
    pub fn new(own: EntityId) -> Self {
        Self {
            replica: Replica::new(),
            own,
            synced: false,
            spectator: false,
        }
    }

    /// An empty view for a spectator's connection (protocol v6): it has no entity of its own.
    #[must_use]
    pub fn spectator() -> Self {
        Self {
            spectator: true,
            ..Self::new(EntityId(0))
        }
    }

    /// Applies `msg` if it is an update (v2 `Update` or v3 `Update3`): `Ok(None)` for any
    /// other message. Its events are the caller's to process, after this.
    pub fn apply(&mut self, msg: &ServerMsg, verify: Verify) -> Result<Option<Applied>, ViewError> {
        let check = verify == Verify::Always || !self.synced;
        let (tick, ack_seq) = match msg {
            ServerMsg::Update(update) => {
                if check {
                    self.replica.apply(update)?;
                } else {
                    self.replica.apply_unverified(update)?;
                }
                (update.tick, update.ack_seq)
            }
            ServerMsg::Update3(update) => {
                let tick = if check {
                    self.replica.apply3(update)?;
                    self.replica.tick().unwrap_or_default()
                } else {
                    self.replica.apply3_unverified(update)?
                };
                (tick, self.replica.ack_seq())
            }
            _ => return Ok(None),
        };
        let first = !self.synced;
        if first {
            if !self.spectator && self.replica.get(self.own).is_none() {
                return Err(ViewError::OwnEntityMissing(self.own));
            }
            self.synced = true;
        }
        Ok(Some(Applied {
            tick,
            ack_seq,
            first,
        }))
    }

    /// The replica: every entity in view as the server last sent it.
    #[must_use]
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The client's own entity.
    #[must_use]
    pub fn own(&self) -> EntityId {
        self.own
    }

    /// True once the first update (the snapshot) has been applied.
    #[must_use]
    pub fn synced(&self) -> bool {
        self.synced
    }
}
