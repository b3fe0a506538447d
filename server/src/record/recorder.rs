//! [`Recorder`]: the room's side of a recording, and the writer that puts it on disk.
//!
//! The room only appends small records to a vector and, once per tick, hands them with the
//! tick's shared snapshot to a bounded channel (`try_send`: the room never waits). The writer,
//! a blocking task of its own, encodes them, takes the checksums and entity hashes from the
//! snapshot, and writes. If the writer falls behind until the channel is full, the room drops
//! its end and the recording stops with a logged reason and a metric, never slowing the tick.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use tickstream_shared::{EntityId, Tick};

use super::format::{Record, RecordWriter, Start};
use super::retention::{EXTENSION, prune};
use crate::config::RecordingConfig;
use crate::metrics as m;
use crate::sim::PlayerInput;
use crate::sync::Snapshot;

/// Ticks of records the writer may be behind before the recording stops: about 8 s at 30 Hz,
/// far more than a disk write takes, and a bound on the memory a stalled disk can hold.
pub const QUEUE_TICKS: usize = 256;

/// Bytes kept free under `max_bytes` for the `End` record that says the limit was reached.
const END_RESERVE: u64 = 256;

/// One tick's records (or, while the room sleeps, a join's), with the tick's snapshot.
struct Batch {
    records: Vec<Record>,
    step: Option<Arc<Snapshot>>,
}

/// The room's end of a recording. Every method is cheap and none blocks; once the recording
/// has stopped they do nothing.
pub struct Recorder {
    tx: Option<SyncSender<Batch>>,
    pending: Vec<Record>,
    /// Set when the room gave up on a writer that fell behind, so that the writer's `End`
    /// record says why.
    abandoned: Arc<AtomicBool>,
    room: String,
}

impl Recorder {
    /// A recorder for the match `start` describes, and the writer job that must run on a
    /// blocking thread (it prunes `config.dir`, creates the file and writes until the recorder
    /// is dropped). `None` when recording is off.
    pub fn start(
        config: &RecordingConfig,
        start: Start,
    ) -> Option<(Self, impl FnOnce() + Send + 'static)> {
        let dir = config.dir.clone()?;
        let (tx, rx) = sync_channel(QUEUE_TICKS);
        let abandoned = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            rx,
            dir,
            config: config.clone(),
            start: start.clone(),
            abandoned: Arc::clone(&abandoned),
        };
        let recorder = Self {
            tx: Some(tx),
            pending: Vec::new(),
            abandoned,
            room: start.room,
        };
        Some((recorder, move || writer.run()))
    }

    /// Whether records are still being taken.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.tx.is_some()
    }

    /// `GameWorld::join` at `tick` returned `entity`.
    pub fn join(&mut self, tick: Tick, entity: Option<EntityId>) {
        self.push(Record::Join {
            tick: tick.0,
            entity: entity.map(|e| e.0),
        });
    }

    /// `GameWorld::leave` at `tick` for `entity`.
    pub fn leave(&mut self, tick: Tick, entity: EntityId) {
        self.push(Record::Leave {
            tick: tick.0,
            entity: entity.0,
        });
    }

    /// `entity` resumed at `tick`.
    pub fn resume(&mut self, tick: Tick, entity: EntityId) {
        self.push(Record::Resume {
            tick: tick.0,
            entity: entity.0,
        });
    }

    /// `GameWorld::input` for `entity` while the room is at `tick` (the next step applies it).
    pub fn input(&mut self, tick: Tick, entity: EntityId, input: &PlayerInput) {
        self.push(Record::Input {
            tick: tick.next().0,
            entity: entity.0,
            dx: input.dx,
            dy: input.dy,
            buttons: input.buttons,
            view: input.view.map(|v| (v.tick.0, v.frac)),
        });
    }

    /// The step that produced `snapshot`: hands the tick to the writer.
    pub fn step(&mut self, snapshot: &Arc<Snapshot>) {
        self.send(Some(Arc::clone(snapshot)));
    }

    /// Hands records made between ticks (a join while the room sleeps) to the writer.
    pub fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.send(None);
        }
    }

    fn push(&mut self, record: Record) {
        if self.tx.is_some() {
            self.pending.push(record);
        }
    }

    fn send(&mut self, step: Option<Arc<Snapshot>>) {
        let Some(tx) = &self.tx else { return };
        // The next tick has about as many records: one allocation a tick, not one per doubling.
        let next = Vec::with_capacity(self.pending.len());
        let batch = Batch {
            records: std::mem::replace(&mut self.pending, next),
            step,
        };
        match tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(room = %self.room, queued_ticks = QUEUE_TICKS, "recording stopped: its writer fell behind the room");
                self.abandoned.store(true, Ordering::Relaxed);
                self.tx = None;
            }
            // The writer stopped on its own (size limit, I/O error) and said why.
            Err(TrySendError::Disconnected(_)) => self.tx = None,
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Whatever the last tick left unsent (a leave during shutdown) still reaches the file.
        self.flush();
    }
}

/// Why a recording stopped: the metric label and the `End` record's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    RoomStopped,
    SizeLimit(u64),
    WriterBehind,
}

impl Stop {
    fn label(self) -> &'static str {
        match self {
            Stop::RoomStopped => "room_stopped",
            Stop::SizeLimit(_) => "size_limit",
            Stop::WriterBehind => "writer_behind",
        }
    }

    fn text(self) -> String {
        match self {
            Stop::RoomStopped => "room stopped".into(),
            Stop::SizeLimit(max) => format!("size limit of {max} bytes reached"),
            Stop::WriterBehind => "writer fell behind the room".into(),
        }
    }
}

/// The writer's half: runs on a blocking thread until the room drops its recorder.
struct Writer {
    rx: Receiver<Batch>,
    dir: PathBuf,
    config: RecordingConfig,
    start: Start,
    abandoned: Arc<AtomicBool>,
}

/// An open recording file and what has been written to it.
struct Output {
    out: RecordWriter<BufWriter<File>>,
    bytes: u64,
    max: u64,
    tick: u32,
}

impl Output {
    /// Writes `record` unless that would pass the size limit.
    fn put(&mut self, record: &Record) -> io::Result<Result<(), Stop>> {
        let n = self.out.encode(record)?;
        if self.bytes + n + END_RESERVE > self.max {
            return Ok(Err(Stop::SizeLimit(self.max)));
        }
        self.out.write_encoded()?;
        self.bytes += n;
        Ok(Ok(()))
    }
}

impl Writer {
    fn run(self) {
        let room = self.start.room.clone();
        let max_age =
            (self.config.max_age_secs > 0).then(|| Duration::from_secs(self.config.max_age_secs));
        // Room for the new one within the count.
        let keep = self.config.keep_count.saturating_sub(1);
        if let Err(e) = prune(&self.dir, keep, max_age) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot prune old recordings");
        }
        let (file, path) = match create(&self.dir, &self.start) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(room = %room, dir = %self.dir.display(), error = %e, "cannot create a recording; the room plays unrecorded");
                metrics::counter!(m::RECORDINGS_STOPPED, "reason" => "io_error").increment(1);
                return;
            }
        };
        metrics::counter!(m::RECORDINGS_STARTED).increment(1);
        tracing::info!(room = %room, path = %path.display(), "recording the room");
        match self.write_all(file) {
            Ok((stop, bytes)) => {
                metrics::counter!(m::RECORDINGS_STOPPED, "reason" => stop.label()).increment(1);
                let path = path.display();
                if stop == Stop::RoomStopped {
                    tracing::info!(room = %room, %path, bytes, "recording complete");
                } else {
                    tracing::warn!(room = %room, %path, bytes, reason = %stop.text(), "recording stopped early; the room plays on unrecorded");
                }
            }
            Err(e) => {
                metrics::counter!(m::RECORDINGS_STOPPED, "reason" => "io_error").increment(1);
                tracing::warn!(room = %room, path = %path.display(), error = %e, "recording stopped: cannot write; the room plays on unrecorded");
            }
        }
    }

    /// Writes until the room is done or a limit is met; returns why it ended and the size.
    fn write_all(&self, file: File) -> io::Result<(Stop, u64)> {
        let bytes_metric = metrics::counter!(m::RECORDING_BYTES);
        let (out, header) = RecordWriter::new(BufWriter::new(file))?;
        let mut o = Output {
            out,
            bytes: header,
            max: self.config.max_bytes,
            tick: self.start.first_tick,
        };
        let every = self.config.entity_hashes_every;
        let mut stop = o.put(&Record::Start(self.start.clone()))?.err();
        let mut reported = 0;
        while stop.is_none() {
            let Ok(batch) = self.rx.recv() else {
                stop = Some(if self.abandoned.load(Ordering::Relaxed) {
                    Stop::WriterBehind
                } else {
                    Stop::RoomStopped
                });
                break;
            };
            stop = write_batch(&mut o, batch, every)?.err();
            o.out.flush()?;
            bytes_metric.increment(o.bytes - reported);
            reported = o.bytes;
        }
        let stop = stop.unwrap_or(Stop::RoomStopped);
        o.bytes += o.out.write(&Record::End {
            tick: o.tick,
            reason: stop.text(),
        })?;
        o.out.flush()?;
        bytes_metric.increment(o.bytes - reported);
        Ok((stop, o.bytes))
    }
}

/// Writes one batch: its records, then the step's checksum and, every `every` ticks, the
/// entities' hashes.
fn write_batch(o: &mut Output, batch: Batch, every: u32) -> io::Result<Result<(), Stop>> {
    for record in &batch.records {
        o.tick = record.tick();
        if let Err(stop) = o.put(record)? {
            return Ok(Err(stop));
        }
    }
    if let Some(snap) = batch.step {
        let tick = snap.tick.0;
        o.tick = tick;
        let step = Record::Step {
            tick,
            checksum: snap.checksum,
        };
        if let Err(stop) = o.put(&step)? {
            return Ok(Err(stop));
        }
        if every > 0 && tick % every == 0 {
            let hashes = snap
                .entities
                .iter()
                .zip(&snap.hashes)
                .map(|(e, h)| (e.id.0, *h))
                .collect();
            if let Err(stop) = o.put(&Record::Entities { tick, hashes })? {
                return Ok(Err(stop));
            }
        }
    }
    Ok(Ok(()))
}

/// Creates `DIR/<start ms>-<room>.tsrec` (names sort by start time), never overwriting one.
fn create(dir: &Path, start: &Start) -> io::Result<(File, PathBuf)> {
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let path = dir.join(format!(
            "{}-{}{suffix}.{EXTENSION}",
            start.started_unix_ms, start.room
        ));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::RecordReader;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tickstream-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    fn start() -> Start {
        Start {
            server_version: "test".into(),
            game: "none".into(),
            settings: String::new(),
            room: "r".into(),
            seed: 1,
            tick_rate_hz: 30,
            first_tick: 0,
            entity_hashes_every: 1,
            max_rewind_ms: 0,
            started_unix_ms: 42,
        }
    }

    fn records_in(dir: &Path) -> Vec<Record> {
        let path = std::fs::read_dir(dir)
            .expect("lists")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|e| e == EXTENSION))
            .expect("a recording was written");
        let mut r = RecordReader::new(File::open(path).expect("opens")).expect("header");
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().expect("reads") {
            out.push(rec);
        }
        out
    }

    #[test]
    fn a_recording_at_its_size_limit_stops_and_says_so() {
        let dir = scratch("record-limit");
        let config = RecordingConfig {
            dir: Some(dir.clone()),
            max_bytes: 4096,
            ..RecordingConfig::default()
        };
        let (mut rec, job) = Recorder::start(&config, start()).expect("recording is on");
        let writer = std::thread::spawn(job);
        let input = PlayerInput {
            dx: 1.0,
            dy: 0.0,
            buttons: 0,
            view: None,
        };
        // About 12 bytes an input: well past 4 KiB.
        for t in 0..200 {
            for e in 0..10 {
                rec.input(Tick(t), EntityId(e), &input);
            }
            rec.flush();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!rec.is_recording(), "the room saw the recording stop");
        drop(rec);
        writer.join().expect("the writer ends");
        let records = records_in(&dir);
        let size: u64 = std::fs::read_dir(&dir)
            .expect("lists")
            .map(|e| e.expect("entry").metadata().expect("meta").len())
            .sum();
        assert!(
            size <= 4096,
            "the file stays within the limit: {size} bytes"
        );
        assert!(
            matches!(records.first(), Some(Record::Start(_))),
            "it starts with the start record"
        );
        match records.last() {
            Some(Record::End { reason, .. }) => assert_eq!(
                reason, "size limit of 4096 bytes reached",
                "the end record names the limit"
            ),
            other => panic!("the last record is the end, not {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_recording_prunes_the_oldest_beyond_the_count() {
        let dir = scratch("record-prune");
        for i in 0..3 {
            std::fs::write(dir.join(format!("{i}-old.tsrec")), b"x").expect("writes");
            std::thread::sleep(Duration::from_millis(20));
        }
        let config = RecordingConfig {
            dir: Some(dir.clone()),
            keep_count: 2,
            ..RecordingConfig::default()
        };
        let (rec, job) = Recorder::start(&config, start()).expect("recording is on");
        drop(rec);
        job();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("lists")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["2-old.tsrec", "42-r.tsrec"],
            "the newest old one and the new recording make the count of two"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
