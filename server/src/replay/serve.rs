//! A recording served as a read-only room (`tickstream-server replay FILE --serve`): the room
//! re-simulates the match from its recorded joins, leaves and inputs at the recorded pace (or
//! faster), and spectators watch it as they watch a live room. Players are refused (4007).
//!
//! [`PlaybackSource`] is what the server is started with; [`Playback`] reads one pass of the
//! recording, a tick at a time, for the room that plays it.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ReplayError, builtin_game};
use crate::record::{ReadError, Record, RecordReader, Start};
use crate::sim::Game;

/// The fastest playback `--speed` allows.
pub const MAX_SPEED: f64 = 16.0;

/// A recording to serve, checked once at start-up: it begins with its start record and names
/// a built-in game with usable settings.
pub struct PlaybackSource {
    path: PathBuf,
    /// The room name spectators ask for: the recorded one unless [`PlaybackSource::served_as`]
    /// gave another.
    room: String,
    start: Start,
    game: Arc<dyn Game>,
    speed: f64,
}

impl std::fmt::Debug for PlaybackSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaybackSource")
            .field("path", &self.path)
            .field("room", &self.room)
            .field("game", &self.start.game)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

impl PlaybackSource {
    /// The recording at `path`, played `speed` times as fast as it was recorded (1 to
    /// [`MAX_SPEED`]).
    pub fn open(path: &Path, speed: f64) -> Result<Self, ReplayError> {
        if !(1.0..=MAX_SPEED).contains(&speed) {
            return Err(ReplayError::Settings {
                game: String::new(),
                reason: format!("--speed must be between 1 and {MAX_SPEED}, not {speed}"),
            });
        }
        let file = File::open(path).map_err(ReadError::Io)?;
        let mut records = RecordReader::new(BufReader::new(file))?;
        let Some(Record::Start(start)) = records.next_record()? else {
            return Err(ReplayError::NoStart);
        };
        let game = builtin_game(&start)?;
        if game.info().tick_rate_hz != start.tick_rate_hz {
            return Err(ReplayError::Settings {
                game: start.game.clone(),
                reason: "the game's tick rate differs from the recording's".into(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            room: start.room.clone(),
            start,
            game,
            speed,
        })
    }

    /// The recording's file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recording's start record: game, settings, seed, room.
    #[must_use]
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The room spectators ask for: the recorded room's name, unless it was served under
    /// another ([`PlaybackSource::served_as`]).
    #[must_use]
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The same recording served under the room name `room` (when several recordings are of
    /// one room). The match itself is unchanged: the world is still created as the recorded
    /// room's.
    #[must_use]
    pub fn served_as(mut self, room: String) -> Self {
        self.room = room;
        self
    }

    /// The game, with the recorded settings.
    #[must_use]
    pub fn game(&self) -> &Arc<dyn Game> {
        &self.game
    }

    /// How many times faster than recorded it plays.
    #[must_use]
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// One pass over the recording, from its first tick.
    pub fn play(&self) -> Result<Playback, ReplayError> {
        let file = File::open(&self.path).map_err(ReadError::Io)?;
        let mut records = RecordReader::new(BufReader::new(file))?;
        // The start record, checked in `open`.
        records.next_record()?;
        Ok(Playback { records })
    }
}

/// What the next tick of a playback is.
#[derive(Debug)]
pub enum PlaybackTick {
    /// Apply `calls` (joins, leaves and inputs, in recorded order), then step: the world's
    /// checksum must come out as `checksum`.
    Step {
        /// The game calls before the step.
        calls: Vec<Record>,
        /// The recorded checksum of the step.
        checksum: u32,
    },
    /// The recording is over (its end record, its end of file, or a record that cannot be
    /// read: `reason` says which).
    End {
        /// Why.
        reason: String,
    },
}

/// One pass over a recording, read a tick at a time.
pub struct Playback {
    records: RecordReader<BufReader<File>>,
}

impl Playback {
    /// The records up to and including the next step.
    pub fn next_tick(&mut self) -> PlaybackTick {
        let mut calls = Vec::new();
        loop {
            match self.records.next_record() {
                Ok(Some(Record::Step { checksum, .. })) => {
                    return PlaybackTick::Step { calls, checksum };
                }
                Ok(Some(
                    r @ (Record::Join { .. } | Record::Leave { .. } | Record::Input { .. }),
                )) => calls.push(r),
                // Information only: no game call.
                Ok(Some(Record::Resume { .. } | Record::Entities { .. })) => {}
                Ok(Some(Record::End { reason, .. })) => return PlaybackTick::End { reason },
                Ok(Some(Record::Start(_))) => {
                    return PlaybackTick::End {
                        reason: "a second start record".into(),
                    };
                }
                Ok(None) | Err(ReadError::Truncated { .. }) => {
                    return PlaybackTick::End {
                        reason: "cut off without an end record".into(),
                    };
                }
                Err(e) => {
                    return PlaybackTick::End {
                        reason: e.to_string(),
                    };
                }
            }
        }
    }
}
