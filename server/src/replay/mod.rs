//! Replay that proves itself: re-simulate a recording ([`crate::record`]) through the game seam
//! and check every tick's world checksum against the recorded one.
//!
//! The simulation is pure: the same game and settings, the same seed, and the same joins,
//! leaves and inputs at the same ticks give the same states, so every recorded checksum must
//! come out again. The first that does not is the divergence; the per-entity hashes the
//! recording lists (`recording.entity_hashes_every`) name the entity. Only the same build on
//! the same platform is promised to replay: the arena's NPCs turn with `sin`/`cos`, whose last
//! bits differ between platforms' math libraries.
//!
//! # Layout
//!
//! - this file: [`replay`], [`replay_file`], [`builtin_game`], the outcome types, and [`run`],
//!   what `tickstream-server replay FILE` prints and exits with.

pub mod serve;

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use tickstream_shared::{EntityId, EntityState, Mulberry32, Tick};

use crate::record::{ReadError, Record, RecordReader, Start};
use crate::sim::{Arena, Coins, CoinsParams, Duel, DuelParams, Game, GameParams, Rewind, StepCtx};
use crate::sync::Snapshot;

/// Why a recording could not be replayed at all (as opposed to replaying and diverging).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file is not a readable recording.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The file has no `Start` record first.
    #[error("the recording does not begin with its start record")]
    NoStart,
    /// The recording's game is not one this tool can build.
    #[error("the recording's game {0:?} is not a built-in game")]
    UnknownGame(String),
    /// The recorded game settings cannot be read or run.
    #[error("the recorded settings of {game:?} cannot be used: {reason}")]
    Settings {
        /// The game.
        game: String,
        /// What is wrong.
        reason: String,
    },
    /// The game panicked re-simulating the match (a live room whose game panicked ends its
    /// recording there: the replay stops at the same tick).
    #[error("the game panicked at tick {tick}: {what}")]
    GamePanicked {
        /// The replay's tick when it panicked.
        tick: u32,
        /// The panic's message.
        what: String,
    },
    /// The records are out of order (a record's tick is not the replay's).
    #[error("record {index} is out of order: {reason}")]
    OutOfOrder {
        /// The record's index (0 is the start).
        index: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What a replay went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The recorded room.
    pub room: String,
    /// Its game.
    pub game: String,
    /// The server version that recorded it.
    pub recorded_by: String,
    /// Steps re-simulated.
    pub ticks: u64,
    /// The last tick re-simulated.
    pub last_tick: u32,
    /// Joins, leaves, resumes and inputs replayed.
    pub joins: u64,
    /// See `joins`.
    pub leaves: u64,
    /// See `joins`.
    pub resumes: u64,
    /// See `joins`.
    pub inputs: u64,
    /// Ticks whose checksum matched the recorded one.
    pub matched: u64,
    /// Per-entity hash lists compared.
    pub entity_lists: u64,
    /// The recording's `End` reason; `None` when it has none (cut off).
    pub end: Option<String>,
}

/// The first entity whose state differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDiff {
    /// The tick of the hash list that named it (the divergent tick itself when the recording
    /// lists hashes every tick).
    pub at_tick: u32,
    /// The entity.
    pub id: u32,
    /// Its recorded hash; `None`: the recording does not have it (the replay made an extra).
    pub recorded: Option<u32>,
    /// Its replayed state; `None`: the replay does not have it.
    pub replayed: Option<EntityState>,
    /// Its kind's name, when the replay has it.
    pub kind: Option<String>,
}

/// Where the replay first differed from the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divergence {
    /// Step `tick`'s world checksum differs.
    Checksum {
        /// The tick.
        tick: u32,
        /// The recorded checksum.
        recorded: u32,
        /// The replayed checksum.
        replayed: u32,
        /// The first entities that differ, in id order, at most [`NAMED`]: empty when the
        /// recording lists no hashes at or after `tick`.
        entities: Vec<EntityDiff>,
        /// How many entities differ in all.
        differing: usize,
    },
    /// The checksums agree but an entity's hash does not (a checksum collision).
    Entity(EntityDiff),
    /// A join at `tick` gave another entity than the recorded one.
    Join {
        /// The tick.
        tick: u32,
        /// The recorded entity.
        recorded: Option<u32>,
        /// The replayed entity.
        replayed: Option<u32>,
    },
}

impl Divergence {
    /// The first divergent tick.
    #[must_use]
    pub fn tick(&self) -> u32 {
        match self {
            Divergence::Checksum { tick, .. } | Divergence::Join { tick, .. } => *tick,
            Divergence::Entity(e) => e.at_tick,
        }
    }

    /// The entity named, if any.
    #[must_use]
    pub fn entity(&self) -> Option<u32> {
        match self {
            Divergence::Checksum { entities, .. } => entities.first().map(|e| e.id),
            Divergence::Entity(e) => Some(e.id),
            Divergence::Join { recorded, .. } => *recorded,
        }
    }
}

/// The most differing entities a divergence names.
pub const NAMED: usize = 8;

/// How a replay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every checksum matched.
    Match(Summary),
    /// The replay diverged; the summary counts up to the point it stopped.
    Diverged(Summary, Divergence),
}

/// Exit status of [`run`]: every checksum matched.
pub const EXIT_MATCH: i32 = 0;
/// Exit status of [`run`]: the replay diverged.
pub const EXIT_DIVERGED: i32 = 1;
/// Exit status of [`run`]: the recording could not be replayed.
pub const EXIT_UNREADABLE: i32 = 2;

/// `tickstream-server replay FILE...`: replays each file with the built-in games, prints each
/// outcome to `out`, and returns the worst exit status ([`EXIT_MATCH`], [`EXIT_DIVERGED`],
/// [`EXIT_UNREADABLE`]).
pub fn run(paths: &[impl AsRef<Path>], out: &mut impl std::io::Write) -> i32 {
    let mut worst = EXIT_MATCH;
    for path in paths {
        let path = path.as_ref();
        if paths.len() > 1 {
            let _ = writeln!(out, "== {}", path.display());
        }
        worst = worst.max(run_one(path, out));
    }
    worst
}

fn run_one(path: &Path, out: &mut impl std::io::Write) -> i32 {
    let outcome = replay_file(path);
    let (text, code) = match &outcome {
        Ok(Outcome::Match(s)) => {
            let end = s.end.as_deref().map_or_else(
                || "cut off without an end record".to_owned(),
                |r| format!("ended: {r}"),
            );
            (
                format!(
                    "replayed {s}\nall {} checksums match; the recording {end}",
                    s.matched
                ),
                EXIT_MATCH,
            )
        }
        Ok(Outcome::Diverged(s, d)) => (format!("replayed {s}\nDIVERGED: {d}"), EXIT_DIVERGED),
        Err(e) => (
            format!("cannot replay {}: {e}", path.display()),
            EXIT_UNREADABLE,
        ),
    };
    let mut text = text;
    if let Ok(Outcome::Match(s) | Outcome::Diverged(s, _)) = &outcome
        && s.recorded_by != env!("CARGO_PKG_VERSION")
    {
        text.push_str(&format!(
            "\nnote: recorded by version {}, replayed by {}: only the same build is promised to \
             replay",
            s.recorded_by,
            env!("CARGO_PKG_VERSION")
        ));
    }
    let _ = writeln!(out, "{text}");
    code
}

/// The built-in game a recording names, with its recorded settings.
pub fn builtin_game(start: &Start) -> Result<Arc<dyn Game>, ReplayError> {
    let bad = |reason: String| ReplayError::Settings {
        game: start.game.clone(),
        reason,
    };
    match start.game.as_str() {
        "arena" => {
            let p: GameParams =
                serde_json::from_str(&start.settings).map_err(|e| bad(e.to_string()))?;
            p.validate().map_err(|e| bad(e.to_string()))?;
            Ok(Arc::new(Arena::new(p)))
        }
        "coins" => {
            let p: CoinsParams =
                serde_json::from_str(&start.settings).map_err(|e| bad(e.to_string()))?;
            p.validate().map_err(|e| bad(e.to_string()))?;
            Ok(Arc::new(Coins::new(p)))
        }
        // Fixed settings: nothing to read back.
        "duel" => Ok(Arc::new(Duel::new(DuelParams::default()))),
        other => Err(ReplayError::UnknownGame(other.to_owned())),
    }
}

/// Runs one call into the game, turning a panic into [`ReplayError::GamePanicked`] at `tick`.
fn guarded<T>(tick: u32, f: impl FnOnce() -> T) -> Result<T, ReplayError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        ReplayError::GamePanicked { tick, what }
    })
}

/// Replays the recording at `path` with the built-in games.
pub fn replay_file(path: &Path) -> Result<Outcome, ReplayError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    replay(RecordReader::new(BufReader::new(file))?, builtin_game)
}

/// Replays `records` with the game `game` builds from the start record (your own games: pass a
/// function that builds them from their recorded settings).
pub fn replay<R: Read>(
    mut records: RecordReader<R>,
    game: impl FnOnce(&Start) -> Result<Arc<dyn Game>, ReplayError>,
) -> Result<Outcome, ReplayError> {
    let Some(Record::Start(start)) = records.next_record()? else {
        return Err(ReplayError::NoStart);
    };
    let game = game(&start)?;
    let info = game.info().clone();
    if info.tick_rate_hz != start.tick_rate_hz {
        return Err(ReplayError::Settings {
            game: start.game.clone(),
            reason: format!(
                "the game built runs at {} Hz, the recording at {} Hz",
                info.tick_rate_hz, start.tick_rate_hz
            ),
        });
    }
    let dt = info.dt();
    let mut world = guarded(start.first_tick, || game.create(&start.room, start.seed))?;
    // The history lag compensation judged against, kept as the room kept it.
    let mut rewind = if start.max_rewind_ms > 0 {
        Rewind::new(u64::from(start.max_rewind_ms), start.tick_rate_hz)
    } else {
        Rewind::empty()
    };
    let mut rng = Mulberry32::new(start.seed);
    let mut events = Vec::new();
    let mut tick = Tick(start.first_tick);
    let mut last: Option<Snapshot> = None;
    let mut pending: Option<Divergence> = None;
    let mut s = Summary {
        room: start.room.clone(),
        game: start.game.clone(),
        recorded_by: start.server_version.clone(),
        last_tick: tick.0,
        ..Summary::default()
    };
    let mut index = 0u64;
    loop {
        index += 1;
        let record = match records.next_record() {
            Ok(Some(r)) => r,
            // A file cut off by a crash still proves every tick before the cut.
            Ok(None) | Err(ReadError::Truncated { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        let at = |want: u32, what: &str| {
            if record.tick() == want {
                Ok(())
            } else {
                Err(ReplayError::OutOfOrder {
                    index,
                    reason: format!("{what} at tick {}, the replay is at {want}", record.tick()),
                })
            }
        };
        match &record {
            Record::Start(_) => {
                return Err(ReplayError::OutOfOrder {
                    index,
                    reason: "a second start record".into(),
                });
            }
            Record::Join { entity, .. } => {
                at(tick.0, "a join")?;
                let mut ctx = StepCtx::new(tick, dt, &mut rng, &mut events);
                let got = guarded(tick.0, || world.join(&mut ctx))?.map(|e| e.0);
                events.clear();
                s.joins += 1;
                if got != *entity && pending.is_none() {
                    let d = Divergence::Join {
                        tick: tick.0,
                        recorded: *entity,
                        replayed: got,
                    };
                    return Ok(Outcome::Diverged(s, d));
                }
            }
            Record::Leave { entity, .. } => {
                at(tick.0, "a leave")?;
                let mut ctx = StepCtx::new(tick, dt, &mut rng, &mut events);
                guarded(tick.0, || world.leave(EntityId(*entity), &mut ctx))?;
                events.clear();
                s.leaves += 1;
            }
            Record::Resume { .. } => {
                at(tick.0, "a resume")?;
                s.resumes += 1;
            }
            Record::Input { .. } => {
                at(tick.next().0, "an input")?;
                if let Some((entity, input)) = record.input() {
                    guarded(tick.0, || world.input(entity, input))?;
                }
                s.inputs += 1;
            }
            Record::Step { checksum, .. } => {
                at(tick.next().0, "a step")?;
                tick = tick.next();
                let mut ctx = StepCtx::new(tick, dt, &mut rng, &mut events).with_rewind(&rewind);
                guarded(tick.0, || world.step(&mut ctx))?;
                events.clear();
                let snap = Snapshot::capture(&*world, tick);
                rewind.record(tick, &snap.entities);
                s.ticks += 1;
                s.last_tick = tick.0;
                if snap.checksum == *checksum {
                    s.matched += 1;
                } else if pending.is_none() {
                    pending = Some(Divergence::Checksum {
                        tick: tick.0,
                        recorded: *checksum,
                        replayed: snap.checksum,
                        entities: Vec::new(),
                        differing: 0,
                    });
                    if start.entity_hashes_every == 0 {
                        break;
                    }
                }
                last = Some(snap);
            }
            Record::Entities { hashes, .. } => {
                at(tick.0, "an entity list")?;
                let Some(snap) = &last else {
                    return Err(ReplayError::OutOfOrder {
                        index,
                        reason: "an entity list before any step".into(),
                    });
                };
                s.entity_lists += 1;
                let (mut entities, differing) = differences(hashes, snap, &info.kinds);
                match pending.take() {
                    Some(Divergence::Checksum {
                        tick,
                        recorded,
                        replayed,
                        ..
                    }) => {
                        let d = Divergence::Checksum {
                            tick,
                            recorded,
                            replayed,
                            entities,
                            differing,
                        };
                        return Ok(Outcome::Diverged(s, d));
                    }
                    Some(other) => return Ok(Outcome::Diverged(s, other)),
                    None if differing > 0 => {
                        let d = Divergence::Entity(entities.swap_remove(0));
                        return Ok(Outcome::Diverged(s, d));
                    }
                    None => {}
                }
            }
            Record::End { reason, .. } => {
                s.end = Some(reason.clone());
                break;
            }
        }
    }
    Ok(match pending {
        Some(d) => Outcome::Diverged(s, d),
        None => Outcome::Match(s),
    })
}

/// The first [`NAMED`] entities, in id order, whose recorded hash and replayed state disagree,
/// and how many disagree in all.
fn differences(
    recorded: &[(u32, u32)],
    snap: &Snapshot,
    kinds: &[String],
) -> (Vec<EntityDiff>, usize) {
    let (mut i, mut j) = (0, 0);
    let mut named = Vec::new();
    let mut count = 0;
    let diff = |id: u32, rec: Option<u32>, rep: Option<&EntityState>| EntityDiff {
        at_tick: snap.tick.0,
        id,
        recorded: rec,
        replayed: rep.copied(),
        kind: rep.and_then(|e| kinds.get(usize::from(e.kind)).cloned()),
    };
    loop {
        let found = match (recorded.get(i), snap.entities.get(j)) {
            (None, None) => return (named, count),
            (Some(&(id, h)), None) => {
                i += 1;
                diff(id, Some(h), None)
            }
            (None, Some(e)) => {
                j += 1;
                diff(e.id.0, None, Some(e))
            }
            (Some(&(id, h)), Some(e)) if id < e.id.0 => {
                i += 1;
                diff(id, Some(h), None)
            }
            (Some(_), Some(e)) if e.id.0 < recorded[i].0 => {
                j += 1;
                diff(e.id.0, None, Some(e))
            }
            (Some(&(id, h)), Some(e)) => {
                let same = snap.hashes[j] == h;
                i += 1;
                j += 1;
                if same {
                    continue;
                }
                diff(id, Some(h), Some(e))
            }
        };
        count += 1;
        if named.len() < NAMED {
            named.push(found);
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "room {:?} (game {}, recorded by {}): {} ticks to tick {}, {} joins, {} leaves, \
             {} resumes, {} inputs, {} entity lists",
            self.room,
            self.game,
            self.recorded_by,
            self.ticks,
            self.last_tick,
            self.joins,
            self.leaves,
            self.resumes,
            self.inputs,
            self.entity_lists
        )
    }
}

impl fmt::Display for EntityDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_deref().unwrap_or("entity");
        write!(f, "{kind} {} at tick {}: ", self.id, self.at_tick)?;
        match (self.recorded, &self.replayed) {
            (Some(h), Some(e)) => write!(
                f,
                "recorded hash {h:#010x}, replayed hash {:#010x} (replayed x={} y={} fields={:?})",
                e.hash(),
                e.x,
                e.y,
                e.fields
            ),
            (Some(h), None) => write!(f, "recorded (hash {h:#010x}) but missing in the replay"),
            (None, Some(e)) => write!(
                f,
                "in the replay (x={} y={}) but not in the recording",
                e.x, e.y
            ),
            (None, None) => write!(f, "no data"),
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::Checksum {
                tick,
                recorded,
                replayed,
                entities,
                differing,
            } => {
                write!(
                    f,
                    "first divergent tick {tick}: recorded checksum {recorded:#010x}, replayed \
                     {replayed:#010x}"
                )?;
                let Some((first, rest)) = entities.split_first() else {
                    return write!(f, "; no entity list recorded to name the entity");
                };
                write!(f, "\nfirst differing entity: {first}")?;
                if *differing > 1 {
                    write!(f, "\n{differing} entities differ")?;
                    for e in rest {
                        write!(f, "\n  also {e}")?;
                    }
                }
                Ok(())
            }
            Divergence::Entity(e) => write!(
                f,
                "first divergent tick {}: checksums agree but {e}",
                e.at_tick
            ),
            Divergence::Join {
                tick,
                recorded,
                replayed,
            } => write!(
                f,
                "first divergent tick {tick}: a join gave entity {replayed:?}, the recording \
                 says {recorded:?}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordWriter;
    use crate::sim::{GameWorld, PlayerInput};

    /// A coin match played in memory the way a room plays it, recorded as a room records it.
    fn recorded_match(every: u32) -> Vec<Record> {
        let game = Coins::new(CoinsParams::default());
        let start = Start {
            server_version: env!("CARGO_PKG_VERSION").into(),
            game: "coins".into(),
            settings: game.settings(),
            room: "coins-unit".into(),
            seed: 99,
            tick_rate_hz: game.info().tick_rate_hz,
            first_tick: 0,
            entity_hashes_every: every,
            max_rewind_ms: 0,
            started_unix_ms: 0,
        };
        let mut world: Box<dyn GameWorld> = game.create(&start.room, start.seed);
        let mut rng = Mulberry32::new(start.seed);
        let mut events = Vec::new();
        let dt = game.info().dt();
        let mut out = vec![Record::Start(start)];
        let mut players = Vec::new();
        let mut tick = Tick(0);
        for t in 0..120u32 {
            if t % 20 == 0 && players.len() < 4 {
                let mut ctx = StepCtx::new(tick, dt, &mut rng, &mut events);
                let e = world.join(&mut ctx);
                out.push(Record::Join {
                    tick: tick.0,
                    entity: e.map(|e| e.0),
                });
                players.extend(e);
            }
            for (i, p) in players.iter().enumerate() {
                let angle = f64::from(t) * 0.1 + i as f64;
                let (dx, dy) = (angle.cos() as f32, angle.sin() as f32);
                world.input(
                    *p,
                    PlayerInput {
                        dx,
                        dy,
                        buttons: 0,
                        view: None,
                    },
                );
                out.push(Record::Input {
                    tick: tick.next().0,
                    entity: p.0,
                    dx,
                    dy,
                    buttons: 0,
                    view: None,
                });
            }
            tick = tick.next();
            world.step(&mut StepCtx::new(tick, dt, &mut rng, &mut events));
            let snap = Snapshot::capture(&*world, tick);
            out.push(Record::Step {
                tick: tick.0,
                checksum: snap.checksum,
            });
            if every > 0 && tick.0 % every == 0 {
                let hashes = snap
                    .entities
                    .iter()
                    .zip(&snap.hashes)
                    .map(|(e, h)| (e.id.0, *h))
                    .collect();
                out.push(Record::Entities {
                    tick: tick.0,
                    hashes,
                });
            }
        }
        out.push(Record::End {
            tick: tick.0,
            reason: "room stopped".into(),
        });
        out
    }

    /// `records` as a recording file's bytes.
    fn file_bytes(records: &[Record]) -> Vec<u8> {
        let (mut w, _) = RecordWriter::new(Vec::new()).expect("a Vec takes writes");
        for r in records {
            w.write(r).expect("encodes");
        }
        w.into_inner()
    }

    fn replay_records(records: &[Record]) -> Outcome {
        let bytes = file_bytes(records);
        replay(RecordReader::new(&bytes[..]).expect("header"), builtin_game).expect("replays")
    }

    /// Turns the first moving input for step `tick` around; returns its entity.
    fn turn_input_around(records: &mut [Record], at: u32) -> u32 {
        for r in records.iter_mut() {
            if let Record::Input {
                tick,
                entity,
                dx,
                dy,
                ..
            } = r
                && *tick == at
            {
                *dx = -*dx;
                *dy = -*dy;
                return *entity;
            }
        }
        panic!("no input for tick {at}");
    }

    #[test]
    fn a_faithful_recording_matches_at_every_tick() {
        match replay_records(&recorded_match(1)) {
            Outcome::Match(s) => {
                assert_eq!(s.ticks, 120, "every step replayed: {s}");
                assert_eq!(s.matched, 120, "every checksum matched: {s}");
                assert_eq!(s.joins, 4, "every join: {s}");
                assert_eq!(s.end.as_deref(), Some("room stopped"), "complete: {s}");
            }
            other => panic!("a match, not {other:?}"),
        }
    }

    #[test]
    fn an_altered_input_is_caught_at_its_tick_and_its_player_named() {
        let mut records = recorded_match(1);
        let player = turn_input_around(&mut records, 70);
        match replay_records(&records) {
            Outcome::Diverged(_, d @ Divergence::Checksum { .. }) => {
                assert_eq!(d.tick(), 70, "the step that applied it: {d}");
                let Divergence::Checksum { entities, .. } = &d else {
                    unreachable!("matched above")
                };
                assert!(
                    entities.iter().any(|e| e.id == player && e.at_tick == 70),
                    "the player is named at that tick: {d}"
                );
            }
            other => panic!("a checksum divergence, not {other:?}"),
        }
    }

    #[test]
    fn sparse_hash_lists_find_the_tick_and_name_the_entity_later() {
        let mut records = recorded_match(25);
        let player = turn_input_around(&mut records, 70);
        match replay_records(&records) {
            Outcome::Diverged(_, d @ Divergence::Checksum { .. }) => {
                assert_eq!(d.tick(), 70, "the tick is still exact: {d}");
                let Divergence::Checksum { entities, .. } = &d else {
                    unreachable!("matched above")
                };
                assert!(
                    entities.iter().any(|e| e.id == player && e.at_tick == 75),
                    "named at the next list, tick 75: {d}"
                );
            }
            other => panic!("a checksum divergence, not {other:?}"),
        }
        let mut records = recorded_match(0);
        turn_input_around(&mut records, 70);
        match replay_records(&records) {
            Outcome::Diverged(_, d) => {
                assert_eq!(d.tick(), 70, "without lists the tick is found: {d}");
                assert_eq!(d.entity(), None, "and no entity is named: {d}");
            }
            other => panic!("a divergence, not {other:?}"),
        }
    }

    #[test]
    fn a_join_that_gives_another_entity_diverges_there() {
        let mut records = recorded_match(1);
        for r in &mut records {
            if let Record::Join { entity, tick } = r
                && *tick == 40
            {
                *entity = entity.map(|e| e + 100);
            }
        }
        match replay_records(&records) {
            Outcome::Diverged(_, d @ Divergence::Join { .. }) => {
                assert_eq!(d.tick(), 40, "the join's tick: {d}");
            }
            other => panic!("a join divergence, not {other:?}"),
        }
    }

    /// Coins whose world panics at step 50: what a game with a latent bug does in a replay.
    struct Fragile(Coins);

    struct FragileWorld(Box<dyn GameWorld>);

    impl Game for Fragile {
        fn info(&self) -> &crate::sim::GameInfo {
            self.0.info()
        }

        fn create(&self, room: &str, seed: u32) -> Box<dyn GameWorld> {
            Box::new(FragileWorld(self.0.create(room, seed)))
        }
    }

    impl GameWorld for FragileWorld {
        fn join(&mut self, ctx: &mut StepCtx<'_>) -> Option<EntityId> {
            self.0.join(ctx)
        }

        fn leave(&mut self, player: EntityId, ctx: &mut StepCtx<'_>) {
            self.0.leave(player, ctx);
        }

        fn input(&mut self, player: EntityId, input: PlayerInput) {
            self.0.input(player, input);
        }

        fn step(&mut self, ctx: &mut StepCtx<'_>) {
            assert!(ctx.tick.0 != 50, "a latent bug");
            self.0.step(ctx);
        }

        fn replicate(&self, out: &mut Vec<EntityState>) {
            self.0.replicate(out);
        }

        fn entity_count(&self) -> usize {
            self.0.entity_count()
        }
    }

    #[test]
    fn a_game_that_panics_is_reported_at_its_tick() {
        let bytes = file_bytes(&recorded_match(1));
        let fragile = |_: &Start| -> Result<Arc<dyn Game>, ReplayError> {
            Ok(Arc::new(Fragile(Coins::new(CoinsParams::default()))))
        };
        // The panic message is printed by the default hook; the replay goes on to report it.
        let err = replay(RecordReader::new(&bytes[..]).expect("header"), fragile)
            .expect_err("the replay stops at the panic");
        match err {
            ReplayError::GamePanicked { tick, what } => {
                assert_eq!(tick, 50, "the tick of the panic");
                assert!(what.contains("a latent bug"), "{what}");
            }
            other => panic!("expected a panic report, got {other}"),
        }
    }
}
