//! [`Host`]: what the Agones client reads and steers in the server it runs beside.

use crate::room::OpenError;

/// The server as the Agones client needs it, and no more. It is owned here, in `ops`, so that
/// the client never reaches up to `crate::server`; `server.rs` implements it for its
/// `ServerHandle`, and a unit test can implement it with a few fields.
pub trait Host: Send + Sync + 'static {
    /// Players and rooms now: what the Counters report and the empty check reads.
    fn load(&self) -> Load;

    /// Starts the room `name` running `game` (or the game its rule names) unless it is alive
    /// already, as an allocation's labels ask; true if it was started now.
    fn open_room(&self, name: &str, game: Option<&str>) -> Result<bool, OpenError>;
}

/// How busy the server is, as Agones' Counters see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Players in every room: the `players` Counter, and zero after some is the empty check.
    pub players: usize,
    /// Rooms alive: the `rooms` Counter, which high-density allocation filters on.
    pub rooms: usize,
}
