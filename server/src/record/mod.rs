//! Recording a room's match, so that `tickstream-server replay` can re-simulate it and prove
//! every tick (see `docs/RECORDING.md` for the file format).
//!
//! A recording holds the game, its settings and the room's seed, then every call the room made
//! into the game in order (joins, leaves, validated inputs with their ticks; resumes for
//! information) and after each step the world's §9 checksum, plus every entity's hash at a
//! configurable interval. It is written off the room's task: the room never waits for a disk.
//!
//! # Layout
//!
//! - [`format`](mod@format): the versioned file format: [`Record`], [`RecordWriter`], [`RecordReader`].
//! - [`recorder`]: [`Recorder`], the room's cheap, non-blocking end, and the writer behind it
//!   (size limit, end reasons, metrics).
//! - [`retention`]: pruning old recordings by count and age.

pub mod format;
pub mod recorder;
pub mod retention;

pub use format::{ReadError, Record, RecordReader, RecordWriter, Start};
pub use recorder::Recorder;
pub use retention::prune;
