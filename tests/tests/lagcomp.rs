//! Lag compensation, proved by bots: twenty duel bots behind 100 ms of emulated latency each
//! way fire only at targets their own interpolated view shows under their aim. With the
//! server's history on (`rooms.max_rewind_ms` 500, the default) the server judges each shot
//! against what its bot displayed, and at least 99 % are confirmed hits; with it off (0) the
//! targets have moved on by the time the shot arrives, and at most 80 % are. Both runs take
//! 20 s, side by side on two servers.

use std::time::Duration;

use tickstream_bot::Summary;
use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::TestServer;

/// One run: 20 bots in a duel room for 20 s at 100 ms one-way latency.
async fn duel(server: &TestServer) -> Summary {
    let cfg = LoadConfig {
        url: server.ws_url.clone(),
        bots: 20,
        duration: Duration::from_secs(20),
        room: "duel-lagcomp".into(),
        connect: TestServer::options(),
        verify_every: 1,
        ramp: Duration::from_millis(500),
        latency: Duration::from_millis(100),
        ..LoadConfig::default()
    };
    // Bounds the test; the run itself takes 20 s.
    tokio::time::timeout(Duration::from_secs(120), run(cfg, |_| {}))
        .await
        .expect("the bots finish")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shots_at_what_a_bot_saw_hit_with_lag_compensation_and_miss_without() -> anyhow::Result<()>
{
    let on = TestServer::start().await?;
    let off = TestServer::start_with(|c| c.rooms.max_rewind_ms = 0).await?;
    let (with, without) = tokio::join!(duel(&on), duel(&off));
    for (name, s) in [("on", &with), ("off", &without)] {
        println!(
            "lag compensation {name}: {} shots, {} hits confirmed ({:.1} %)",
            s.shots,
            s.hits_confirmed,
            s.hit_ratio * 100.0
        );
        assert!(s.passed(), "lag compensation {name}: a clean run:\n{s}");
        assert_eq!(
            s.games.get("duel"),
            Some(&20),
            "{name}: every bot played the duel:\n{s}"
        );
        assert!(
            s.shots >= 100,
            "{name}: twenty bots fire at least 100 shots in 20 s:\n{s}"
        );
    }
    assert!(
        with.hit_ratio >= 0.99,
        "with lag compensation at least 99 % of shots at what the bot saw hit:\n{with}"
    );
    assert!(
        without.hit_ratio <= 0.80,
        "without it at most 80 % do (the targets moved on):\n{without}"
    );
    on.stop().await;
    off.stop().await;
    Ok(())
}
