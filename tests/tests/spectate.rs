//! The demo page's watch mode in a real browser (protocol v6 spectators): the server runs in
//! this process on port 0 with a view radius, so that a player's view and the whole room
//! differ, and a spectator delay of a second; Debian's Chromium, driven by `playwright-core`
//! (`tests/browser/watch.mjs`), opens a player's page and a watcher's page (`?watch=ROOM`) in
//! one room. The watcher sees the whole room and the player move, gets the room's events,
//! follows the player by clicking it (its checksum then equals the player's at every tick both
//! hold), and goes back to the whole room; no page desyncs. It writes a screenshot to
//! `target/browser-test/watch.png`.
//!
//! And a recording: a short `coins` match recorded by a server in this process is served back
//! as `tickstream-server replay FILE --serve` does; the demo page opened to play in its room is
//! refused (4007), watches it instead, shows that it is a recording, verifies every update and
//! says so when the recording ends (1000). Screenshot: `target/browser-test/watch-recording.png`.
//!
//! Needs what `tests/browser.rs` needs (Node.js, `/usr/bin/chromium`, `npm ci` in
//! `tests/browser`); without them the test fails under `CI=true` and is skipped, loudly,
//! elsewhere.

mod node_tools;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use node_tools::{browser_ready, repo, run_with_deadline};
use tickstream_server::replay::serve::PlaybackSource;
use tickstream_tests::TestServer;

/// The whole browser run; it takes some seconds plus the spectator delay, this only bounds a
/// hung browser.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// `target/` of this build: the test binary lives in `target/<profile>/deps/`.
fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .nth(3)
        .map(PathBuf::from)
        .context("the test binary is in target/<profile>/deps")
}

/// The room of the recorded match.
const RECORDED_ROOM: &str = "coins-recorded";
/// Updates each player of the recorded match waits for: about four seconds at 30 Hz, long
/// enough for the page to check the playback before it ends.
const RECORDED_UPDATES: usize = 120;

/// `https://HOST:PORT/` of a test server.
fn page_url(server: &TestServer) -> String {
    let addr = server
        .wss_url
        .trim_start_matches("wss://")
        .trim_end_matches("/ws");
    format!("https://{addr}/")
}

/// Runs `tests/browser/watch.mjs` against `page` in `mode`, bounded by [`RUN_DEADLINE`], and
/// checks that it passed and wrote `screenshot` (a file name in `target/browser-test`).
async fn watch(page: String, room: &str, mode: &str, screenshot: &str) -> anyhow::Result<()> {
    let screenshot = target_dir()?.join("browser-test").join(screenshot);
    let _ = std::fs::remove_file(&screenshot);
    let mut node = Command::new("node");
    node.arg("watch.mjs")
        .arg(&page)
        .arg(&screenshot)
        .arg(room)
        .arg(mode)
        .current_dir(repo().join("tests/browser"))
        .env("TICKSTREAM_CHROMIUM", node_tools::chromium());
    let status =
        tokio::task::spawn_blocking(move || run_with_deadline(node, RUN_DEADLINE)).await??;
    anyhow::ensure!(
        status.success(),
        "the {mode} watch test failed ({status}); its output is above"
    );
    anyhow::ensure!(
        screenshot.exists(),
        "the screenshot was written to {}",
        screenshot.display()
    );
    Ok(())
}

/// Records a short `coins` match in [`RECORDED_ROOM`] into `dir` (three players walking) and
/// returns the recording's path.
async fn record_a_match(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let live = TestServer::start_with(|c| c.recording.dir = Some(dir.to_owned())).await?;
    let mut players = Vec::new();
    for (dx, dy) in [(1.0, 0.0), (0.0, 1.0), (-1.0, -0.5)] {
        let mut p = live.join(RECORDED_ROOM).await?;
        p.input(dx, dy).await?;
        players.push(p);
    }
    for _ in 0..RECORDED_UPDATES {
        for p in &mut players {
            p.next_update().await?;
        }
    }
    drop(players);
    live.stop().await;
    std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tsrec"))
        .with_context(|| format!("the match was recorded into {}", dir.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_watches_a_recording_to_its_end() -> anyhow::Result<()> {
    if !browser_ready()? {
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("tickstream-watch-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let file = record_a_match(&dir).await?;
    // At the recorded pace: the page has the match's length to check the playback.
    let served = TestServer::start_playback(PlaybackSource::open(&file, 1.0)?).await?;
    let result = watch(
        page_url(&served),
        RECORDED_ROOM,
        "recording",
        "watch-recording.png",
    )
    .await;
    served.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_watches_a_live_room_and_follows_a_player() -> anyhow::Result<()> {
    if !browser_ready()? {
        return Ok(());
    }
    // A view radius makes following a player narrow the view; announced joins are the room's
    // events the watcher must get; a delay makes the watcher's view run behind the player's.
    let server = TestServer::start_with(|c| {
        c.game.view_radius = 150.0;
        c.game.announce_players = true;
        c.rooms.spectator_delay_ms = 1000;
    })
    .await?;
    let result = watch(page_url(&server), "watch-test", "live", "watch.png").await;
    server.stop().await;
    result
}
