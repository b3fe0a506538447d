//! Remote entities under network jitter, in a real browser (issue 17): the server runs in this
//! process on port 0; `tests/browser/jitter.mjs` puts a delaying TCP proxy on loopback in front
//! of it (50 ms plus 0–80 ms or 0–120 ms of jitter per chunk, or one 250 ms stall), opens the
//! demo page through it in Debian's Chromium, records where the client draws `arena` NPCs in
//! every animation frame, and checks that few frames repeat and no frame jumps far
//! (`docs/WEB_CLIENT.md` has the figures, before and after).
//!
//! `TICKSTREAM_JITTER_LIBRARY=PATH` measures another `tickstream.js` (served in place of the
//! repository's) and only reports: that is how the "before" figures were taken.
//!
//! Needs Node.js, `/usr/bin/chromium` and `npm ci` in `tests/browser` (`.ci/run` does all of
//! it); without them the test fails under `CI=true` and is skipped, loudly, elsewhere.

mod node_tools;

use std::process::Command;
use std::time::Duration;

use node_tools::{browser_ready, repo, run_with_deadline};
use tickstream_tests::TestServer;

/// The whole run: three scenarios of about 20 s each; this only bounds a hung browser.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// NPCs in the arena: enough to measure eight, few enough that drawing them costs nothing.
const NPCS: u32 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_entities_move_smoothly_under_jitter_and_a_stall() -> anyhow::Result<()> {
    if !browser_ready()? {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.game.npc_count = NPCS).await?;
    let addr = server
        .wss_url
        .trim_start_matches("wss://")
        .trim_end_matches("/ws")
        .to_owned();
    let mut node = Command::new("node");
    node.arg("jitter.mjs")
        .arg(format!("https://{addr}/"))
        .current_dir(repo().join("tests/browser"))
        .env("TICKSTREAM_CHROMIUM", node_tools::chromium());
    if let Some(library) = std::env::var_os("TICKSTREAM_JITTER_LIBRARY") {
        node.arg("--library").arg(library);
    }
    let status =
        tokio::task::spawn_blocking(move || run_with_deadline(node, RUN_DEADLINE)).await??;
    server.stop().await;
    assert!(
        status.success(),
        "the jitter test failed ({status}); its output is above"
    );
    Ok(())
}
