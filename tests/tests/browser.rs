//! The demo page in a real browser: the server runs in this process on port 0; Debian's
//! Chromium, driven by `playwright-core` (`tests/browser/two_pages.mjs`), opens two pages of
//! `https://…/` in one room, presses keys on each and checks that the other page sees the
//! player move, that the player moves 5 units a tick, and that once the keys are released
//! the predicted position agrees with the server's. It writes a screenshot to
//! `target/browser-test/demo.png`.
//!
//! Needs Node.js, `/usr/bin/chromium` and `npm ci` in `tests/browser` (`.ci/run` does all of
//! it); without them the test fails under `CI=true` and is skipped, loudly, elsewhere.

mod node_tools;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use node_tools::{browser_ready, repo, run_with_deadline};
use tickstream_tests::TestServer;

/// The whole browser run; it takes a few seconds, this only bounds a hung browser.
const RUN_DEADLINE: Duration = Duration::from_secs(150);

/// `target/` of this build: the test binary lives in `target/<profile>/deps/`.
fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .nth(3)
        .map(PathBuf::from)
        .context("the test binary is in target/<profile>/deps")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_see_each_other_move_and_predict_in_step() -> anyhow::Result<()> {
    if !browser_ready()? {
        return Ok(());
    }
    // The page's event log must show the other page joining, so joins are announced.
    let server = TestServer::start_with(|c| c.game.announce_players = true).await?;
    let addr = server
        .wss_url
        .trim_start_matches("wss://")
        .trim_end_matches("/ws")
        .to_owned();
    let page = format!("https://{addr}/");
    let screenshot = target_dir()?.join("browser-test/demo.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut node = Command::new("node");
    node.arg("two_pages.mjs")
        .arg(&page)
        .arg(&screenshot)
        .arg("browser-test")
        .current_dir(repo().join("tests/browser"))
        .env("TICKSTREAM_CHROMIUM", node_tools::chromium());
    let status =
        tokio::task::spawn_blocking(move || run_with_deadline(node, RUN_DEADLINE)).await??;
    server.stop().await;
    assert!(
        status.success(),
        "the browser test failed ({status}); its output is above"
    );
    assert!(
        screenshot.exists(),
        "the screenshot was written to {}",
        screenshot.display()
    );
    Ok(())
}
