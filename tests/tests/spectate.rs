//! The demo page's watch mode in a real browser (protocol v6 spectators): the server runs in
//! this process on port 0 with a view radius, so that a player's view and the whole room
//! differ, and a spectator delay of a second; Debian's Chromium, driven by `playwright-core`
//! (`tests/browser/watch.mjs`), opens a player's page and a watcher's page (`?watch=ROOM`) in
//! one room. The watcher sees the whole room and the player move, gets the room's events,
//! follows the player by clicking it (its checksum then equals the player's at every tick both
//! hold), and goes back to the whole room; no page desyncs. It writes a screenshot to
//! `target/browser-test/watch.png`.
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
    let addr = server
        .wss_url
        .trim_start_matches("wss://")
        .trim_end_matches("/ws")
        .to_owned();
    let page = format!("https://{addr}/");
    let screenshot = target_dir()?.join("browser-test/watch.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut node = Command::new("node");
    node.arg("watch.mjs")
        .arg(&page)
        .arg(&screenshot)
        .arg("watch-test")
        .current_dir(repo().join("tests/browser"))
        .env("TICKSTREAM_CHROMIUM", node_tools::chromium());
    let status =
        tokio::task::spawn_blocking(move || run_with_deadline(node, RUN_DEADLINE)).await??;
    server.stop().await;
    assert!(
        status.success(),
        "the watch test failed ({status}); its output is above"
    );
    assert!(
        screenshot.exists(),
        "the screenshot was written to {}",
        screenshot.display()
    );
    Ok(())
}
