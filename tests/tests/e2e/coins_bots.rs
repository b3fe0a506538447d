//! The bots play a `coins` room unchanged: the server picks the game from the room's name,
//! the replicas follow the game fields without a desync, and the summary names the game.

use std::time::Duration;

use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_play_coins_without_desync_and_the_summary_names_the_game() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let cfg = LoadConfig {
        url: server.wss_url.clone(),
        bots: 12,
        duration: Duration::from_secs(5),
        room: "coins-bots".into(),
        connect: TestServer::options(),
        ramp: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let s = tokio::time::timeout(Duration::from_secs(120), run(cfg, |_| {})).await?;
    eprintln!("{s}");
    assert!(s.passed(), "a clean run: {s}");
    assert_eq!(
        s.games.get("coins"),
        Some(&12),
        "the summary names the game: {s}"
    );
    assert_eq!(
        s.rooms.get("coins-bots").map(|r| r.game.as_str()),
        Some("coins"),
        "and the room's game: {s}"
    );
    assert!(
        s.events_by_kind.contains_key("joined"),
        "bots saw each other join: {s}"
    );
    assert!(
        s.to_string().contains("game          coins (12 bots)"),
        "the text summary shows the game: {s}"
    );
    server.stop().await;
    Ok(())
}
