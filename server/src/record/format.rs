//! The recording file format, version 1 (`docs/RECORDING.md` describes it byte by byte).
//!
//! A file is an 8-byte magic, a little-endian `u16` version, then records until the end of the
//! file: each a little-endian `u32` length followed by that many bytes of one [`Record`] in
//! bincode 2's standard configuration (little endian, varint integers). [`Record`] is
//! append-only, like the wire enums: bincode encodes a variant by its position.

use std::io::{self, Read, Write};

use bincode::{Decode, Encode};

/// The first eight bytes of every recording.
pub const MAGIC: [u8; 8] = *b"TSREC\r\n\x1a";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// The longest record a reader accepts: a per-entity hash list of a million entities fits.
pub const MAX_RECORD: usize = 64 << 20;

/// What a recording says about its match, first in every file.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Start {
    /// The server's version (`CARGO_PKG_VERSION`): a replay needs the same build.
    pub server_version: String,
    /// The game's name (`arena`, `coins`…).
    pub game: String,
    /// The game's settings as it reports them ([`crate::sim::Game::settings`]; JSON for the
    /// built-in games): a replay builds the same game from them.
    pub settings: String,
    /// The room's name.
    pub room: String,
    /// The room's seed: the game's `create` argument and the room generator's seed.
    pub seed: u32,
    /// Ticks per second.
    pub tick_rate_hz: u16,
    /// The room's tick when the recording began (0: the room's creation).
    pub first_tick: u32,
    /// An [`Record::Entities`] list follows every this many steps; 0: never.
    pub entity_hashes_every: u32,
    /// How much replicated history the room kept for lag compensation
    /// ([`crate::sim::Game::rewinds`], `rooms.max_rewind_ms`); 0 for a game that does not
    /// rewind. A replay keeps the same, so that rewound judgements replay exactly.
    pub max_rewind_ms: u32,
    /// When the recording began, milliseconds since the Unix epoch (information only).
    pub started_unix_ms: u64,
}

/// One record. Every game call the room made is one record, in the order it made them; `tick`
/// is the room's tick (the last completed step) when it was made, except for inputs, stamped
/// with the step that applies them.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum Record {
    /// The header of the match; the first record of a file and only there.
    Start(Start),
    /// `GameWorld::join` was called; `entity` is what it returned (`None`: refused).
    Join {
        /// The room's tick.
        tick: u32,
        /// The new player's entity id.
        entity: Option<u32>,
    },
    /// `GameWorld::leave` was called for `entity`.
    Leave {
        /// The room's tick.
        tick: u32,
        /// The player's entity id.
        entity: u32,
    },
    /// A dropped player resumed on a new connection (no game call: information only).
    Resume {
        /// The room's tick.
        tick: u32,
        /// The player's entity id.
        entity: u32,
    },
    /// `GameWorld::input` was called with a validated input, applied by step `tick`.
    Input {
        /// The step that applies it (the room's tick + 1).
        tick: u32,
        /// The player's entity id.
        entity: u32,
        /// Direction x, in `[-1, 1]`.
        dx: f32,
        /// Direction y, in `[-1, 1]`.
        dy: f32,
        /// Button bits.
        buttons: u32,
        /// The input's view time (tick, 1/256ths) as the room clamped it, for a game that
        /// rewinds; `None` otherwise.
        view: Option<(u32, u8)>,
    },
    /// `GameWorld::step` computed `tick`; `checksum` is the §9 view checksum over every entity
    /// the world replicated after it.
    Step {
        /// The tick computed.
        tick: u32,
        /// The world checksum.
        checksum: u32,
    },
    /// Every entity's §9 hash after step `tick`, ascending by id: what names the entity of a
    /// divergence.
    Entities {
        /// The step they follow.
        tick: u32,
        /// `(entity id, EntityState::hash)`, ascending by id.
        hashes: Vec<(u32, u32)>,
    },
    /// The recording ended; the last record of a complete file.
    End {
        /// The room's tick.
        tick: u32,
        /// Why: `room stopped`, `size limit…`, `writer fell behind`.
        reason: String,
    },
}

impl Record {
    /// For an [`Record::Input`]: the player's entity and the input as the game was given it
    /// (what a replay or a playback gives the game again).
    #[must_use]
    pub fn input(&self) -> Option<(tickstream_shared::EntityId, crate::sim::PlayerInput)> {
        let Record::Input {
            entity,
            dx,
            dy,
            buttons,
            view,
            ..
        } = *self
        else {
            return None;
        };
        let view = view.map(|(tick, frac)| crate::sim::ViewTime {
            tick: tickstream_shared::Tick(tick),
            frac,
        });
        let input = crate::sim::PlayerInput {
            dx,
            dy,
            buttons,
            view,
        };
        Some((tickstream_shared::EntityId(entity), input))
    }

    /// The tick the record carries.
    #[must_use]
    pub fn tick(&self) -> u32 {
        match self {
            Record::Start(s) => s.first_tick,
            Record::Join { tick, .. }
            | Record::Leave { tick, .. }
            | Record::Resume { tick, .. }
            | Record::Input { tick, .. }
            | Record::Step { tick, .. }
            | Record::Entities { tick, .. }
            | Record::End { tick, .. } => *tick,
        }
    }
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with [`MAGIC`].
    #[error("not a Tickstream recording (wrong magic)")]
    BadMagic,
    /// The file is of another format version.
    #[error("recording format version {0}; this build reads version {VERSION}")]
    Version(u16),
    /// A record is not valid.
    #[error("record {index} is malformed: {reason}")]
    Malformed {
        /// The record's index (0 is the start).
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file ends inside a record (the writer was stopped mid-write).
    #[error("the recording is cut off inside record {index}")]
    Truncated {
        /// The record's index.
        index: u64,
    },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RECORD>()
}

/// Writes a recording: the header, then records.
pub struct RecordWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> RecordWriter<W> {
    /// Writes the magic and version to `out`; returns the writer and the bytes written.
    pub fn new(mut out: W) -> io::Result<(Self, u64)> {
        out.write_all(&MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        Ok((
            Self {
                out,
                buf: Vec::new(),
            },
            MAGIC.len() as u64 + 2,
        ))
    }

    /// Encodes `record` into the writer's buffer (not yet written) and returns its size on
    /// disk, length prefix included, so that a caller can check a limit first.
    pub fn encode(&mut self, record: &Record) -> io::Result<u64> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        bincode::encode_into_std_write(record, &mut self.buf, config())
            .map_err(|e| io::Error::other(e.to_string()))?;
        let len = u32::try_from(self.buf.len() - 4)
            .ok()
            .filter(|&l| l as usize <= MAX_RECORD)
            .ok_or_else(|| io::Error::other("record too long"))?;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        Ok(self.buf.len() as u64)
    }

    /// Writes the record [`Self::encode`] encoded last.
    pub fn write_encoded(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)
    }

    /// Encodes and writes `record`; returns its size on disk.
    pub fn write(&mut self, record: &Record) -> io::Result<u64> {
        let n = self.encode(record)?;
        self.write_encoded()?;
        Ok(n)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads a recording record by record.
pub struct RecordReader<R: Read> {
    input: R,
    index: u64,
    buf: Vec<u8>,
}

impl<R: Read> RecordReader<R> {
    /// Checks the magic and version.
    pub fn new(mut input: R) -> Result<Self, ReadError> {
        let mut head = [0u8; 10];
        input.read_exact(&mut head).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => ReadError::BadMagic,
            _ => ReadError::Io(e),
        })?;
        if head[..8] != MAGIC {
            return Err(ReadError::BadMagic);
        }
        let version = u16::from_le_bytes([head[8], head[9]]);
        if version != VERSION {
            return Err(ReadError::Version(version));
        }
        Ok(Self {
            input,
            index: 0,
            buf: Vec::new(),
        })
    }

    /// The next record; `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        let index = self.index;
        let mut len = [0u8; 4];
        match read_full(&mut self.input, &mut len)? {
            0 => return Ok(None),
            4 => {}
            _ => return Err(ReadError::Truncated { index }),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_RECORD {
            return Err(ReadError::Malformed {
                index,
                reason: format!("length {len} exceeds {MAX_RECORD}"),
            });
        }
        self.buf.resize(len, 0);
        if read_full(&mut self.input, &mut self.buf)? != len {
            return Err(ReadError::Truncated { index });
        }
        let (record, used) =
            bincode::decode_from_slice::<Record, _>(&self.buf, config()).map_err(|e| {
                ReadError::Malformed {
                    index,
                    reason: e.to_string(),
                }
            })?;
        if used != len {
            return Err(ReadError::Malformed {
                index,
                reason: format!("{} bytes left over", len - used),
            });
        }
        self.index += 1;
        Ok(Some(record))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Start {
        Start {
            server_version: "0.1.0".into(),
            game: "coins".into(),
            settings: "{}".into(),
            room: "r".into(),
            seed: 7,
            tick_rate_hz: 30,
            first_tick: 0,
            entity_hashes_every: 1,
            max_rewind_ms: 500,
            started_unix_ms: 1,
        }
    }

    #[test]
    fn records_round_trip() {
        let records = vec![
            Record::Start(start()),
            Record::Join {
                tick: 0,
                entity: Some(40),
            },
            Record::Input {
                tick: 1,
                entity: 40,
                dx: -1.0,
                dy: 0.5,
                buttons: 3,
                view: Some((0, 128)),
            },
            Record::Step {
                tick: 1,
                checksum: 0xDEAD_BEEF,
            },
            Record::Entities {
                tick: 1,
                hashes: vec![(0, 1), (40, u32::MAX)],
            },
            Record::End {
                tick: 1,
                reason: "room stopped".into(),
            },
        ];
        let (mut w, _) = RecordWriter::new(Vec::new()).expect("a Vec takes writes");
        for r in &records {
            w.write(r).expect("encodes");
        }
        let bytes = w.into_inner();
        let mut r = RecordReader::new(&bytes[..]).expect("header");
        let mut back = Vec::new();
        while let Some(rec) = r.next_record().expect("reads") {
            back.push(rec);
        }
        assert_eq!(back, records, "every record reads back as written");
    }

    #[test]
    fn a_cut_file_and_a_foreign_file_are_named() {
        let (mut w, _) = RecordWriter::new(Vec::new()).expect("a Vec takes writes");
        w.write(&Record::Start(start())).expect("encodes");
        let bytes = w.into_inner();
        let mut r = RecordReader::new(&bytes[..bytes.len() - 1]).expect("header");
        assert!(
            matches!(r.next_record(), Err(ReadError::Truncated { index: 0 })),
            "a record cut short is reported as truncated"
        );
        assert!(
            matches!(
                RecordReader::new(&b"GIF89a...."[..]),
                Err(ReadError::BadMagic)
            ),
            "another format is refused"
        );
        let mut other = bytes.clone();
        other[8] = 9;
        assert!(
            matches!(RecordReader::new(&other[..]), Err(ReadError::Version(9))),
            "another version is refused by number"
        );
    }
}
