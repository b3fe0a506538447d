//! [`SavedRoom`]: a room's whole state as bytes, so that a draining process hands the room to
//! its successor and the players resume there (`docs/DEPLOY.md`, "Rolling updates").
//!
//! The game's world travels as the game's own bytes ([`crate::sim::GameWorld::save`]); beside
//! it, the room's own state: the tick, its generator, and every player (entity, last applied
//! input, event numbering and history, and what verifies its resume token: the token's SHA-256,
//! never the token itself, with the time left of its grace).
//!
//! # Format
//!
//! `"TSRM"`, the format version as a little-endian `u16` ([`SAVE_VERSION`]), then the body in
//! bincode's standard configuration. A deploy moves rooms from the old build to the new one, so
//! a build reads its own version and the one before it (`tests/fixtures/saved-room-v1.bin`
//! pins version 1), and refuses any other with [`SaveError::UnknownVersion`].

use std::time::Duration;

use bincode::{Decode, Encode};
use tickstream_shared::GameEvent;

/// The version [`SavedRoom::encode`] writes.
pub const SAVE_VERSION: u16 = 1;

/// The versions [`SavedRoom::decode`] reads: this build's and the previous one (none before 1).
pub const READS_VERSIONS: [u16; 1] = [1];

/// The first bytes of every saved room.
const MAGIC: &[u8; 4] = b"TSRM";

/// The largest saved room decoded: a room of hundreds of players and a few thousand entities
/// is far below; anything bigger is refused before it is decoded.
pub const MAX_SAVED_ROOM: usize = 8 << 20;

/// Why bytes are not a room this build can restore.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// The bytes do not start with the saved-room magic.
    #[error("not a saved room")]
    BadMagic,
    /// A format version this build does not read (a newer build saved it, or a much older one).
    #[error("saved room format version {0} is not one this build reads")]
    UnknownVersion(u16),
    /// The body does not decode, or is larger than [`MAX_SAVED_ROOM`].
    #[error("malformed saved room: {0}")]
    Malformed(String),
}

/// One room, as it leaves its process (format version 1).
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct SavedRoom {
    /// The room's name: the successor runs it under the same one.
    pub name: String,
    /// The game it runs; the successor must have a game of that name.
    pub game: String,
    /// The last tick completed: the successor's first tick is the next one.
    pub tick: u32,
    /// The room's generator's state.
    pub rng: u32,
    /// The game's world, in the game's own format.
    pub world: Vec<u8>,
    /// Every player, connected or within its resume grace.
    pub players: Vec<SavedPlayer>,
}

/// One player of a [`SavedRoom`].
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct SavedPlayer {
    /// Its entity, the same on the successor.
    pub entity: u32,
    /// The latest input `seq` applied: the successor accepts only later ones.
    pub ack_seq: u32,
    /// SHA-256 of its current resume token: the successor verifies a presented token by
    /// hashing it, and the token itself never leaves the client.
    pub token_hash: [u8; 32],
    /// How long ago it dropped, in milliseconds; `None` for a player connected at the save
    /// (its grace starts when the room is restored, as it is disconnected by the move).
    pub dropped_ms: Option<u64>,
    /// The seq its next event gets.
    pub next_event_seq: u32,
    /// Its latest events, for replay on resume.
    pub history: Vec<GameEvent>,
}

impl SavedPlayer {
    /// How long ago the player dropped, if it had.
    #[must_use]
    pub fn dropped_ago(&self) -> Option<Duration> {
        self.dropped_ms.map(Duration::from_millis)
    }
}

impl SavedRoom {
    /// The bytes: magic, [`SAVE_VERSION`], body.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&SAVE_VERSION.to_le_bytes());
        // Encoding plain data into a Vec cannot fail.
        let body = bincode::encode_to_vec(self, bincode::config::standard()).unwrap_or_default();
        out.extend_from_slice(&body);
        out
    }

    /// The version the bytes say they are in, without decoding the body.
    pub fn version(bytes: &[u8]) -> Result<u16, SaveError> {
        let head = bytes.get(..6).ok_or(SaveError::BadMagic)?;
        if &head[..4] != MAGIC {
            return Err(SaveError::BadMagic);
        }
        Ok(u16::from_le_bytes([head[4], head[5]]))
    }

    /// A room from bytes of a version this build reads ([`READS_VERSIONS`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SaveError> {
        if bytes.len() > MAX_SAVED_ROOM {
            return Err(SaveError::Malformed(format!(
                "{} bytes, more than {MAX_SAVED_ROOM}",
                bytes.len()
            )));
        }
        match Self::version(bytes)? {
            1 => {
                let config = bincode::config::standard().with_limit::<MAX_SAVED_ROOM>();
                let (room, used): (Self, usize) =
                    bincode::decode_from_slice(&bytes[6..], config)
                        .map_err(|e| SaveError::Malformed(e.to_string()))?;
                if used != bytes.len() - 6 {
                    return Err(SaveError::Malformed("trailing bytes".into()));
                }
                Ok(room)
            }
            v => Err(SaveError::UnknownVersion(v)),
        }
    }
}

/// SHA-256 of a resume token: what a room keeps (and hands over) to verify one.
#[must_use]
pub fn token_hash(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Coins, CoinsParams, Game, StepCtx};
    use tickstream_shared::{EntityId, Mulberry32, Tick};

    /// A generator and an event outbox to call a game with.
    struct Ctx {
        rng: Mulberry32,
        events: Vec<crate::sim::Emitted>,
    }

    impl Ctx {
        fn new(seed: u32) -> Self {
            Self {
                rng: Mulberry32::new(seed),
                events: Vec::new(),
            }
        }

        fn ctx(&mut self) -> StepCtx<'_> {
            StepCtx::new(Tick(1), 1.0 / 30.0, &mut self.rng, &mut self.events)
        }
    }

    /// The checked-in version-1 room: a coin room at tick 300 with two players, one connected
    /// and one dropped 1.5 s before, both with events. Regenerate (only when adding a version,
    /// as the previous version's fixture) with `TICKSTREAM_BLESS=1`.
    const FIXTURE_V1: &str = "tests/fixtures/saved-room-v1.bin";

    fn sample() -> SavedRoom {
        let coins = Coins::new(CoinsParams::default());
        let mut world = coins.create("deploy", 1);
        let mut ctx = Ctx::new(5);
        let a = world.join(&mut ctx.ctx()).expect("joins");
        let b = world.join(&mut ctx.ctx()).expect("joins");
        for _ in 0..30 {
            world.step(&mut ctx.ctx());
        }
        let event = |seq, entity: EntityId| GameEvent {
            seq,
            kind: 0,
            entity,
            value: 0,
            text: String::new(),
        };
        SavedRoom {
            name: "deploy".into(),
            game: "coins".into(),
            tick: 300,
            rng: ctx.rng.state(),
            world: world.save().expect("coins saves"),
            players: vec![
                SavedPlayer {
                    entity: a.0,
                    ack_seq: 41,
                    token_hash: token_hash("00112233445566778899aabbccddeeff"),
                    dropped_ms: None,
                    next_event_seq: 3,
                    history: vec![event(1, a), event(2, b)],
                },
                SavedPlayer {
                    entity: b.0,
                    ack_seq: 7,
                    token_hash: token_hash("ffeeddccbbaa99887766554433221100"),
                    dropped_ms: Some(1_500),
                    next_event_seq: 2,
                    history: vec![event(1, b)],
                },
            ],
        }
    }

    #[test]
    fn a_room_round_trips() {
        let room = sample();
        assert_eq!(
            SavedRoom::decode(&room.encode()),
            Ok(room),
            "the same room back"
        );
    }

    #[test]
    fn the_version_1_fixture_still_reads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_V1);
        if std::env::var_os("TICKSTREAM_BLESS").is_some() && !path.exists() {
            std::fs::write(&path, sample().encode()).expect("the fixture is writable");
        }
        let bytes = std::fs::read(&path).expect("the v1 fixture is checked in");
        assert_eq!(
            SavedRoom::version(&bytes),
            Ok(1),
            "the fixture is version 1"
        );
        let room = SavedRoom::decode(&bytes).expect("this build reads version 1");
        assert_eq!(room, sample(), "every field as saved");
        let coins = Coins::new(CoinsParams::default());
        let world = coins
            .restore("deploy", &room.world)
            .expect("the coin world restores");
        assert_eq!(world.entity_count(), 42, "40 coins and two players");
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused() {
        let mut bytes = sample().encode();
        bytes[4..6].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(
            SavedRoom::decode(&bytes),
            Err(SaveError::UnknownVersion(2)),
            "a newer version is refused"
        );
        assert_eq!(
            SavedRoom::decode(b"nope"),
            Err(SaveError::BadMagic),
            "no magic"
        );
        let whole = sample().encode();
        assert!(
            matches!(
                SavedRoom::decode(&whole[..whole.len() - 3]),
                Err(SaveError::Malformed(_))
            ),
            "cut short"
        );
    }
}
