//! A client that stops reading costs the server bounded memory, does not slow anyone else,
//! converges once it reads again, and is dropped with 4000 if it stays behind too long.

use std::time::{Duration, Instant};

use tickstream_tests::{TestServer, rss_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_bounded_and_converges_when_it_reads_again() -> anyhow::Result<()> {
    // A big world (about 80 KB per update, 2.4 MB/s) so that the socket buffers fill quickly
    // and the server, not the kernel, must hold back.
    let server = TestServer::start_with(|c| {
        c.game.npc_count = 20_000;
        c.server.slow_client_timeout_ms = 60_000;
    })
    .await?;
    let mut stalled = server.join("stall").await?;
    let mut reader = server.join("stall").await?;
    stalled.next_update().await?;
    for _ in 0..10 {
        reader.next_update().await?;
    }
    let rss_start = rss_bytes()?;
    // `stalled` reads nothing for 6 s while `reader` keeps up.
    let start = Instant::now();
    let first_tick = reader.replica.tick().expect("ticked");
    while start.elapsed() < Duration::from_secs(6) {
        reader.next_update().await?;
    }
    let ticks = reader.replica.tick().expect("ticked").0 - first_tick.0;
    let hz = f64::from(ticks) / start.elapsed().as_secs_f64();
    assert!(
        hz > 27.0,
        "the reading client's tick rate stayed near 30 Hz: {hz:.1}"
    );
    let growth = rss_bytes()?.saturating_sub(rss_start);
    assert!(
        growth < 48 << 20,
        "memory grew by {} MiB while a client stalled on 2.4 MB/s of updates",
        growth >> 20
    );
    // Reading again: buffered frames, then a merged delta that skips ticks, then live ones.
    let room = server.handle.room("stall").expect("room alive");
    let target = room.latest().expect("ticked").tick;
    while stalled.replica.tick() < Some(target) {
        stalled.next_update().await?;
    }
    assert!(
        stalled.max_tick_gap > 1,
        "the stalled client received merged deltas (largest tick gap {})",
        stalled.max_tick_gap
    );
    // Caught up: from here on the client is never ahead of the room's latest tick.
    stalled.keep_history(64);
    stalled.next_update().await?;
    let snap = room.latest().expect("ticked");
    while stalled.replica.tick() < Some(snap.tick) {
        stalled.next_update().await?;
    }
    assert_eq!(
        stalled.history.get(&snap.tick),
        Some(&snap.entities),
        "the stalled client's replica converged to the server's world"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_behind_for_too_long_is_disconnected() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| {
        c.game.npc_count = 20_000;
        c.server.slow_client_timeout_ms = 1_000;
    })
    .await?;
    let stalled = server.join("kick").await?;
    let mut other = server.join("kick").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    // The stalled client never reads; within seconds the server must give up on it.
    while server.handle.open_connections() > 1 {
        assert!(
            Instant::now() < deadline,
            "the stalled client was never disconnected"
        );
        other.next_update().await?;
    }
    let got = other.updates_during(Duration::from_secs(1)).await?;
    assert!(got >= 25, "the other client kept its update rate");
    drop(stalled);
    server.stop().await;
    Ok(())
}
