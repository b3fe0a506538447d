//! `tickstream-bot` with churn against the real server: bots drop their sockets at random
//! (no close frame) and resume; every resume gets the same entity back, the snapshot passes
//! the checksum and no event is lost or repeated.

use std::time::Duration;

use tickstream_bot::Churn;
use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::TestServer;

/// A churning run of `bots` bots in `room` for `secs` seconds, a drop every `mean` per bot.
fn churning(server: &TestServer, room: &str, bots: u32, secs: u64, mean: Duration) -> LoadConfig {
    LoadConfig {
        url: server.wss_url.clone(),
        bots,
        duration: Duration::from_secs(secs),
        room: room.into(),
        connect: TestServer::options(),
        verify_every: 1,
        ramp: Duration::from_secs(1),
        churn: Some(Churn {
            mean_interval: mean,
            reconnect_delay: Duration::from_millis(100),
        }),
        ..LoadConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_bots_resume_with_no_desync_and_no_lost_event() -> anyhow::Result<()> {
    // Joins and leaves are announced, so that every bot has events to lose across a resume.
    let server = TestServer::start_with(|c| c.game.announce_players = true).await?;
    let cfg = churning(&server, "churn", 20, 10, Duration::from_millis(1500));
    let s = tokio::time::timeout(Duration::from_secs(180), run(cfg, |_| {})).await?;
    eprintln!("{s}");
    assert_eq!(s.bots_connected, 20, "every bot connected: {s}");
    assert_eq!(
        s.desyncs, 0,
        "no desync, snapshots after resumes included: {s}"
    );
    assert_eq!(s.event_errors, 0, "no event gap or duplicate: {s}");
    assert_eq!(
        s.resume_failures, 0,
        "every resume got its entity back: {s}"
    );
    assert_eq!(s.errors, 0, "no error: {s}");
    assert!(
        s.resumes >= 20 / 3,
        "at least one resume per few bots ({} resumes, {} drops): {s}",
        s.resumes,
        s.drops
    );
    assert!(s.drops >= s.resumes, "a resume follows a drop: {s}");
    assert!(s.events_received > 0, "events were delivered: {s}");
    assert!(s.passed(), "the run passes: {s}");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_in_a_coins_room_keeps_fields_and_events_in_step() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let cfg = churning(&server, "coins-churn", 8, 6, Duration::from_millis(1000));
    let s = tokio::time::timeout(Duration::from_secs(180), run(cfg, |_| {})).await?;
    eprintln!("{s}");
    assert_eq!(s.games.get("coins"), Some(&8), "the room plays coins: {s}");
    assert_eq!(
        (s.desyncs, s.event_errors, s.resume_failures, s.errors),
        (0, 0, 0, 0),
        "nothing went wrong: {s}"
    );
    assert!(s.resumes >= 8 / 3, "bots resumed: {s}");
    assert!(s.passed(), "the run passes: {s}");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_the_grace_period_is_a_4005_failure_and_the_bot_joins_again()
-> anyhow::Result<()> {
    // The grace period is over long before a dropped bot comes back.
    let server = TestServer::start_with(|c| c.rooms.resume_grace_ms = 50).await?;
    let mut cfg = churning(&server, "late", 4, 5, Duration::from_millis(800));
    cfg.churn = Some(Churn {
        mean_interval: Duration::from_millis(800),
        reconnect_delay: Duration::from_millis(600),
    });
    let s = tokio::time::timeout(Duration::from_secs(180), run(cfg, |_| {})).await?;
    eprintln!("{s}");
    assert!(s.resume_failures >= 1, "late resumes failed: {s}");
    assert_eq!(s.resumes, 0, "none succeeded: {s}");
    assert_eq!(
        s.resume_failures_by_kind.get("close_4005"),
        Some(&s.resume_failures),
        "every failure is a 4005 refusal: {s}"
    );
    assert_eq!(
        (s.desyncs, s.event_errors, s.errors),
        (0, 0, 0),
        "the bots joined again as new players, their events starting over at 1: {s}"
    );
    assert!(!s.passed(), "failed resumes fail the run: {s}");
    server.stop().await;
    Ok(())
}
