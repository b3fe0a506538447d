//! Replay that proves itself, end to end: the real binary records a `coins` room while 50 bots
//! play it for 20 s, and `tickstream-server replay` re-simulates the file with every checksum
//! matching; a copy with one input turned around is caught at the tick that input applies to,
//! naming the player it moved.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{STEP_TIMEOUT, ServerProcess};
use tickstream_bot::load::{LoadConfig, run};
use tickstream_server::record::{Record, RecordReader, RecordWriter};
use tickstream_server::replay::{self, Divergence, Outcome};

/// Bots in the recorded room (the coin game takes up to 64).
const BOTS: u32 = 50;
/// How long they play.
const PLAY: Duration = Duration::from_secs(20);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Runs `tickstream-server replay FILE`; returns its exit code and what it printed.
fn replay_cli(file: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tickstream-server"))
        .arg("replay")
        .arg(file)
        .output()
        .expect("the server binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn read_all(file: &Path) -> Vec<Record> {
    let f = std::fs::File::open(file).expect("the recording opens");
    let mut reader = RecordReader::new(std::io::BufReader::new(f)).expect("a recording");
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().expect("every record reads") {
        out.push(r);
    }
    out
}

fn write_all(file: &Path, records: &[Record]) {
    let f = std::fs::File::create(file).expect("the copy is created");
    let (mut w, _) = RecordWriter::new(std::io::BufWriter::new(f)).expect("header");
    for r in records {
        w.write(r).expect("writes");
    }
    w.flush().expect("flushes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_match_replays_and_an_altered_one_is_caught_at_its_tick() -> anyhow::Result<()> {
    let dir = scratch("replay-e2e");
    let dir_arg = dir.to_str().expect("a UTF-8 temp path");
    let mut server = ServerProcess::start(&["--record", dir_arg, "--log", "info"])?;
    let cfg = LoadConfig {
        url: server.ws_url(),
        bots: BOTS,
        duration: PLAY,
        room: "coins-replay".into(),
        ramp: Duration::from_secs(2),
        ..LoadConfig::default()
    };
    let summary = tokio::time::timeout(PLAY + Duration::from_secs(120), run(cfg, |_| {})).await?;
    assert!(summary.passed(), "the bots played cleanly: {summary}");
    server.signal("TERM")?;
    let status = server.exited(STEP_TIMEOUT).await?;
    assert!(
        status.success(),
        "the server drained and exited 0: {status}"
    );

    let files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    assert_eq!(files.len(), 1, "one room, one recording: {files:?}");
    let file = &files[0];

    // The whole match replays: every checksum matches, from the binary and the library.
    let (code, text) = replay_cli(file);
    eprintln!("tickstream-server replay {}:\n{text}", file.display());
    assert_eq!(code, Some(0), "the replay passes: {text}");
    let Outcome::Match(s) = replay::replay_file(file)? else {
        panic!("the library replay matches too");
    };
    assert_eq!(
        s.joins,
        u64::from(BOTS),
        "every bot's join was recorded: {s}"
    );
    assert!(
        s.ticks >= 500,
        "about 20 s of ticks at 30 Hz were replayed: {s}"
    );
    assert_eq!(s.matched, s.ticks, "every tick's checksum matched: {s}");
    assert!(
        s.inputs > u64::from(BOTS),
        "the bots' inputs were replayed: {s}"
    );
    assert!(
        text.contains(&format!("all {} checksums match", s.matched)),
        "the summary says so: {text}"
    );
    assert_eq!(
        s.end.as_deref(),
        Some("room stopped"),
        "the recording is complete"
    );

    // Turn one input around, mid-match: the replay diverges at the step that applies it.
    let mut records = read_all(file);
    let mid = records.len() / 2;
    let (at, entity, tick) = records
        .iter()
        .enumerate()
        .skip(mid)
        .find_map(|(i, r)| match r {
            Record::Input {
                tick,
                entity,
                dx,
                dy,
                ..
            } if *dx != 0.0 || *dy != 0.0 => Some((i, *entity, *tick)),
            _ => None,
        })
        .expect("a moving input in the second half of the match");
    if let Record::Input { dx, dy, .. } = &mut records[at] {
        // The opposite direction always moves the player elsewhere: it moved or was pressed
        // against a wall, and now goes the other way.
        *dx = -*dx;
        *dy = -*dy;
    }
    let altered = dir.join("altered.tsrec");
    write_all(&altered, &records);
    let (code, text) = replay_cli(&altered);
    eprintln!(
        "tickstream-server replay (altered input of entity {entity} for tick {tick}):\n{text}"
    );
    assert_eq!(code, Some(1), "the altered recording fails: {text}");
    assert!(
        text.contains(&format!("first divergent tick {tick}:")),
        "the output names tick {tick}: {text}"
    );
    match replay::replay_file(&altered)? {
        Outcome::Diverged(
            _,
            Divergence::Checksum {
                tick: t, entities, ..
            },
        ) => {
            assert_eq!(
                t, tick,
                "the divergence is at the step that applied the input"
            );
            assert!(
                entities.iter().any(|e| e.id == entity && e.at_tick == tick),
                "the player whose input changed is named at that tick: {entities:?}"
            );
        }
        other => panic!("a checksum divergence, not {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
