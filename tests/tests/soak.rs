//! A short soak: waves of bots join, play and leave for half a minute; memory ends where it
//! started (within a margin) and nothing fails. It measures the whole process's resident
//! memory, so it is a test binary of its own: no other test runs in its process.

use std::time::{Duration, Instant};

use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::{TestServer, rss_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_joining_and_leaving_leave_memory_flat() -> anyhow::Result<()> {
    // Rooms and dropped players are kept only briefly, so that the end of the soak can check
    // that everything was released.
    let server = TestServer::start_with(|c| {
        c.rooms.empty_timeout_ms = 200;
        c.rooms.resume_grace_ms = 500;
    })
    .await?;
    let wave = |i: u32| LoadConfig {
        url: server.wss_url.clone(),
        bots: 40,
        duration: Duration::from_secs(2),
        // Half the waves share a room that lives on between them; half make a new room.
        room: if i % 2 == 0 {
            "soak".into()
        } else {
            format!("soak-{i}")
        },
        connect: TestServer::options(),
        verify_every: 4,
        ramp: Duration::from_millis(500),
        ..LoadConfig::default()
    };
    // Two waves to reach a steady state (allocator pools, TLS session caches), then measure.
    for i in 0..2 {
        let s = run(wave(i), |_| {}).await;
        assert_eq!((s.desyncs, s.errors), (0, 0), "warm-up wave {i}: {s:?}");
    }
    let start_rss = rss_bytes()?;
    let started = Instant::now();
    let mut waves = 0;
    while started.elapsed() < Duration::from_secs(30) {
        let s = run(wave(waves + 2), |_| {}).await;
        assert_eq!(
            s.bots_connected, 40,
            "wave {waves}: every bot connected: {s:?}"
        );
        assert_eq!(
            (s.desyncs, s.errors),
            (0, 0),
            "wave {waves}: no desync or error: {s:?}"
        );
        waves += 1;
    }
    let end_rss = rss_bytes()?;
    let growth = end_rss.saturating_sub(start_rss);
    assert!(
        growth < 24 << 20,
        "RSS grew {} MiB over {waves} waves ({} → {} MiB)",
        growth >> 20,
        start_rss >> 20,
        end_rss >> 20
    );
    assert!(waves >= 5, "the soak ran several waves ({waves})");
    // Rooms that emptied are gone; the server holds no leftover sessions.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.handle.open_connections() > 0 || !server.handle.room_names().is_empty() {
        assert!(
            Instant::now() < deadline,
            "sessions and rooms were released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "soak: {waves} waves of 40 bots, RSS {} → {} MiB",
        start_rss >> 20,
        end_rss >> 20
    );
    server.stop().await;
    Ok(())
}
